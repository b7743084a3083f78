package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/signalr-entra/handler/scripts/bench/stack"
)

// recordSeparator ends every message of the JSON hub protocol.
const recordSeparator = 0x1E

// counters are the clients' events, shared by all of them.
type counters struct {
	connects, recycles, drops, connectErrors atomic.Int64
	lastErr                                  atomic.Value // string
}

func (n *counters) fail(err error) {
	n.lastErr.Store(err.Error())
}

// runClient keeps c connected as a real client would (negotiate with the
// handler, negotiate with the service, WebSocket, handshake) until ctx ends.
// Every recycle (jittered around it) it leaves and negotiates again, so new
// connections keep being signed with the latest temporary key; when dropped,
// it reconnects the same way.
func runClient(ctx context.Context, c *client, handlerURL string, recycle time.Duration, n *counters) {
	httpc := &http.Client{Timeout: 10 * time.Second}
	for ctx.Err() == nil {
		ws, err := connect(ctx, httpc, handlerURL, c.user)
		if err != nil {
			if ctx.Err() == nil {
				n.connectErrors.Add(1)
				n.fail(fmt.Errorf("client %d: %w", c.id, err))
				sleep(ctx, time.Second)
			}
			continue
		}
		n.connects.Add(1)
		c.open(time.Now())
		life := recycle/2 + rand.N(recycle)
		planned := readUntil(ctx, ws, c, life)
		if planned {
			n.recycles.Add(1)
		} else if ctx.Err() == nil {
			n.drops.Add(1)
			n.fail(fmt.Errorf("client %d: connection dropped", c.id))
			sleep(ctx, 500*time.Millisecond)
		}
	}
}

// readUntil reads invocations until life passes (a planned recycle: it
// stops counting on messages, reads 2s more for those already on their
// way, and closes), ctx ends (the epoch stays open) or the connection
// fails. It reports whether the end was planned.
func readUntil(ctx context.Context, ws *websocket.Conn, c *client, life time.Duration) bool {
	defer ws.CloseNow()
	leave := time.Now().Add(life)
	rctx, cancel := context.WithDeadline(ctx, leave.Add(2*time.Second))
	defer cancel()
	timer := time.AfterFunc(life, func() { c.closeEpoch(time.Now()) })
	defer timer.Stop()
	for {
		_, data, err := ws.Read(rctx)
		if err != nil {
			if ctx.Err() != nil {
				return false
			}
			if !time.Now().Before(leave) {
				_ = ws.Close(websocket.StatusNormalClosure, "")
				return true
			}
			c.closeEpoch(time.Now())
			return false
		}
		for _, rec := range bytes.Split(data, []byte{recordSeparator}) {
			if len(rec) == 0 {
				continue
			}
			var m struct {
				Type      int `json:"type"`
				Target    string
				Arguments []struct {
					Seq int `json:"seq"`
				} `json:"arguments"`
			}
			if json.Unmarshal(rec, &m) != nil {
				continue
			}
			switch {
			case m.Type == 1 && m.Target == "soak" && len(m.Arguments) == 1:
				c.receive(m.Arguments[0].Seq)
			case m.Type == 7: // the service closes the connection
				c.closeEpoch(time.Now())
				return false
			}
		}
	}
}

// connect negotiates with the handler, then with the service, opens the
// WebSocket and completes the JSON hub protocol handshake.
func connect(ctx context.Context, httpc *http.Client, handlerURL, user string) (*websocket.Conn, error) {
	var info struct {
		URL         string `json:"url"`
		AccessToken string `json:"accessToken"`
	}
	if err := postJSON(ctx, httpc, handlerURL+"/api/negotiate?hub="+stack.Hub+"&negotiateVersion=1", map[string]string{stack.UserIDHeader: user}, &info); err != nil {
		return nil, fmt.Errorf("negotiate with the handler: %w", err)
	}
	u, err := url.Parse(info.URL)
	if err != nil || u.Hostname() != "127.0.0.1" {
		return nil, fmt.Errorf("negotiate with the handler: url %q is not on 127.0.0.1", info.URL)
	}
	// Follow the redirect as @microsoft/signalr does: {url}/negotiate.
	nu := *u
	nu.Path = strings.TrimSuffix(u.Path, "/") + "/negotiate"
	q := nu.Query()
	q.Set("negotiateVersion", "1")
	nu.RawQuery = q.Encode()
	var neg struct {
		ConnectionToken string `json:"connectionToken"`
	}
	auth := map[string]string{"Authorization": "Bearer " + info.AccessToken}
	if err := postJSON(ctx, httpc, nu.String(), auth, &neg); err != nil {
		return nil, fmt.Errorf("negotiate with the service: %w", err)
	}
	wu := *u
	wu.Scheme = "ws"
	q = wu.Query()
	q.Set("id", neg.ConnectionToken)
	wu.RawQuery = q.Encode()
	h := http.Header{}
	h.Set("Authorization", "Bearer "+info.AccessToken)
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(dctx, wu.String(), &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		return nil, fmt.Errorf("WebSocket: %w", err)
	}
	ws.SetReadLimit(1 << 20)
	if err := ws.Write(dctx, websocket.MessageText, append([]byte(`{"protocol":"json","version":1}`), recordSeparator)); err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	_, data, err := ws.Read(dctx)
	if err != nil || string(data) != "{}\x1e" {
		ws.CloseNow()
		return nil, fmt.Errorf("handshake reply %q: %v", data, err)
	}
	return ws, nil
}

// postJSON posts an empty body with the headers and decodes a 200 reply.
func postJSON(ctx context.Context, httpc *http.Client, u string, headers map[string]string, out any) error {
	req, err := http.NewRequestWithContext(ctx, "POST", u, nil)
	if err != nil {
		return err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := httpc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %.200s", resp.StatusCode, body)
	}
	return json.Unmarshal(body, out)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
