package emulator

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"
)

func TestFaults(t *testing.T) {
	s := newTestServer(t, &Options{SystemIdentityRoles: []Role{ServiceOwner}})
	tok := entraToken(t, s, s.SystemIdentity().ObjectID)
	key := s.URL + "/api/v1/auth/accessKey"
	s.Fail(AccessKey, 2, http.StatusServiceUnavailable, 3_500_000_000)
	var got []any
	for range 3 {
		resp := call(t, http.MethodGet, key, tok, "")
		got = append(got, resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if d := cmp.Diff([]any{503, "4", 503, "4", 200, ""}, got); d != "" {
		t.Errorf("statuses (-want +got):\n%s", d)
	}
	s.Inject(AccessKey, Fault{Times: 1, Status: 200, Body: `{"AccessKey":"k"}`})
	var reply map[string]string
	if err := json.NewDecoder(call(t, http.MethodGet, key, tok, "").Body).Decode(&reply); err != nil || reply["KeyId"] != "" {
		t.Errorf("malformed reply = %v, %v; want one without KeyId", reply, err)
	}
	s.Fail(Health, 1, http.StatusInternalServerError, 0)
	health := []int{call(t, http.MethodHead, s.URL+"/api/health", "", "").StatusCode, call(t, http.MethodHead, s.URL+"/api/health", "", "").StatusCode}
	if d := cmp.Diff([]int{500, 200}, health); d != "" {
		t.Errorf("health (-want +got):\n%s", d)
	}
	s.Fail(RESTSend, 1, http.StatusInternalServerError, 0)
	send := s.URL + "/api/hubs/chat/:send?api-version=2022-06-01"
	sends := []int{call(t, http.MethodPost, send, tok, `{"target":"t"}`).StatusCode, call(t, http.MethodPost, send, tok, `{"target":"t"}`).StatusCode}
	if d := cmp.Diff([]int{500, 202}, sends); d != "" {
		t.Errorf("sends (-want +got):\n%s", d)
	}
	c := s.Counts()
	if c.AccessKeys != 4 || c.REST["HealthApi_GetServiceStatus"] != 2 || c.REST["SignalR_Broadcast"] != 2 || c.CredentialTokens != 1 {
		t.Errorf("Counts = %+v", c)
	}
}

// TestDropConnections: clients lose their WebSocket with no close message
// and no close frame, as in a network failure, and the service forgets them.
func TestDropConnections(t *testing.T) {
	s := newTestServer(t, nil)
	alice := connect(t, s, clientToken(t, s, s.opts.AccessKey, "", "chat", "alice"), "chat", false)
	bob := connect(t, s, clientToken(t, s, s.opts.AccessKey, "", "other", "bob"), "other", true)
	s.DropConnections()
	for _, c := range []*testClient{alice, bob} {
		m, err := c.next()
		if err == nil || websocket.CloseStatus(err) != -1 {
			t.Errorf("after DropConnections: message %+v, error %v; want the connection cut with no close frame", m, err)
		}
	}
	for deadline := time.Now().Add(5 * time.Second); len(s.Connections("chat"))+len(s.Connections("other")) > 0; {
		if time.Now().After(deadline) {
			t.Fatalf("connections still listed: %v %v", s.Connections("chat"), s.Connections("other"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := rest(t, s, http.MethodHead, "/users/alice", "", "").Header.Get("x-ms-error-code"); got != codeUserNotExisted {
		t.Errorf("alice exists after the drop: x-ms-error-code %q", got)
	}
}

// TestClientCloseForgotten: a client that sends a Close message is gone
// from the bookkeeping at once, not at the next ping.
func TestClientCloseForgotten(t *testing.T) {
	s := newTestServer(t, nil)
	carol := connect(t, s, clientToken(t, s, s.opts.AccessKey, "", "chat", "carol"), "chat", false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := carol.ws.Write(ctx, websocket.MessageText, []byte("{\"type\":7}\x1e")); err != nil {
		t.Fatal(err)
	}
	for len(s.Connections("chat")) > 0 {
		if ctx.Err() != nil {
			t.Fatalf("carol still listed after her Close message: %v", s.Connections("chat"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSetDown: a service that is down answers 503 to everything, its
// health check among them, and works again once it is back.
func TestSetDown(t *testing.T) {
	s := newTestServer(t, &Options{SystemIdentityRoles: []Role{ServiceOwner}})
	tok := entraToken(t, s, s.SystemIdentity().ObjectID)
	send := s.URL + "/api/hubs/chat/:send?api-version=2022-06-01"
	status := func() []int {
		return []int{call(t, http.MethodHead, s.URL+"/api/health", "", "").StatusCode,
			call(t, http.MethodPost, send, tok, `{"target":"t"}`).StatusCode,
			call(t, http.MethodGet, s.URL+"/api/v1/auth/accessKey", tok, "").StatusCode}
	}
	s.SetDown(true)
	if d := cmp.Diff([]int{503, 503, 503}, status()); d != "" {
		t.Errorf("while down (-want +got):\n%s", d)
	}
	s.SetDown(false)
	if d := cmp.Diff([]int{200, 202, 200}, status()); d != "" {
		t.Errorf("once back (-want +got):\n%s", d)
	}
}
