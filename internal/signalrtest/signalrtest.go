// Package signalrtest connects to SignalR Service as @microsoft/signalr
// does with a negotiate reply, for tests that need a real client
// connection through the handler or an app built on it.
package signalrtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/coder/websocket"
)

// Redirect negotiates with the service at clientURL, the url of a
// negotiate reply, showing accessToken, and returns the connection token.
// The service checks the access token here, so an error means it refused
// the token the negotiate reply carried.
func Redirect(ctx context.Context, clientURL, accessToken string) (string, error) {
	u, err := url.Parse(clientURL)
	if err != nil {
		return "", err
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/negotiate"
	q := u.Query()
	q.Set("negotiateVersion", "1")
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var n struct {
		ConnectionToken string `json:"connectionToken"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&n); err != nil || resp.StatusCode != http.StatusOK || n.ConnectionToken == "" {
		return "", fmt.Errorf("the service refused the negotiated token: %d %v", resp.StatusCode, err)
	}
	return n.ConnectionToken, nil
}

// Dial connects with a negotiate reply's url and accessToken: Redirect,
// then a WebSocket with the connection token, then the JSON hub protocol's
// handshake. The caller reads the connection and closes it.
func Dial(ctx context.Context, clientURL, accessToken string) (*websocket.Conn, error) {
	token, err := Redirect(ctx, clientURL, accessToken)
	if err != nil {
		return nil, err
	}
	wsURL := "ws" + strings.TrimPrefix(clientURL, "http") + "&id=" + url.QueryEscape(token)
	ws, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + accessToken}}})
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte("{\"protocol\":\"json\",\"version\":1}\x1e")); err != nil {
		ws.CloseNow()
		return nil, err
	}
	if _, data, err := ws.Read(ctx); err != nil || string(data) != "{}\x1e" {
		ws.CloseNow()
		return nil, fmt.Errorf("handshake reply %q, %v", data, err)
	}
	return ws, nil
}
