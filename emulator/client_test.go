package emulator

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"
)

type testClient struct {
	ws *websocket.Conn
	id string
}

// connect negotiates and opens a WebSocket as @microsoft/signalr does,
// with the token in the header or (browser style) in the query.
func connect(t *testing.T, s *Server, token, hub string, inQuery bool) *testClient {
	t.Helper()
	resp := call(t, http.MethodPost, s.URL+"/client/negotiate?hub="+hub+"&negotiateVersion=1", token, "")
	var n negotiateReply
	if err := json.NewDecoder(resp.Body).Decode(&n); err != nil || resp.StatusCode != 200 {
		t.Fatalf("negotiate: %d %v", resp.StatusCode, err)
	}
	if d := cmp.Diff([]transport{{"WebSockets", []string{"Text", "Binary"}}}, n.AvailableTransports); d != "" || n.NegotiateVersion != 1 || n.ConnectionToken == "" {
		t.Fatalf("negotiate reply %+v", n)
	}
	u := "ws" + strings.TrimPrefix(s.URL, "http") + "/client/?hub=" + hub + "&id=" + url.QueryEscape(n.ConnectionToken)
	opts := &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}}
	if inQuery {
		u += "&access_token=" + url.QueryEscape(token)
		opts = nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, u, opts)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	if err := ws.Write(ctx, websocket.MessageText, []byte("{\"protocol\":\"json\",\"version\":1}\x1e")); err != nil {
		t.Fatal(err)
	}
	_, data, err := ws.Read(ctx)
	if err != nil || string(data) != "{}\x1e" {
		t.Fatalf("handshake reply %q, %v", data, err)
	}
	return &testClient{ws: ws, id: n.ConnectionID}
}

// next returns the next message that is not a ping, or an error.
func (c *testClient) next() (jsonMessage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		_, data, err := c.ws.Read(ctx)
		if err != nil {
			return jsonMessage{}, err
		}
		recs, _ := splitRecords(data)
		for _, r := range recs {
			var m jsonMessage
			if err := json.Unmarshal(r, &m); err != nil {
				return m, err
			}
			if m.Type != msgPing {
				return m, nil
			}
		}
	}
}

// rest calls a REST operation with an access-key token for its URL.
func rest(t *testing.T, s *Server, method, path, query, body string) *http.Response {
	t.Helper()
	u := s.URL + "/api/hubs/chat" + path
	return call(t, method, u+"?api-version=2022-06-01"+query, restToken(t, s, u), body)
}

func TestDelivery(t *testing.T) {
	s := newTestServer(t, nil)
	tok := func(user string) string { return clientToken(t, s, s.opts.AccessKey, "", "chat", user) }
	alice := connect(t, s, tok("alice"), "chat", false)
	bob := connect(t, s, tok("bob"), "Chat", true)
	carol := connect(t, s, tok("carol"), "chat", false)
	if d := cmp.Diff([]string{"alice", "bob", "carol"}, users(s.Connections("CHAT"))); d != "" {
		t.Fatalf("Connections (-want +got):\n%s", d)
	}
	want := func(c *testClient, target string) {
		t.Helper()
		m, err := c.next()
		if err != nil || m.Type != msgInvocation || m.Target != target || string(m.Arguments[0]) != `"x"` {
			t.Fatalf("client got %+v, %v; want invocation of %s", m, err, target)
		}
	}
	body := func(target string) string { return `{"target":"` + target + `","arguments":["x"]}` }
	steps := []struct {
		method, path, query, body string
		want                      int
	}{
		{http.MethodPost, "/:send", "&excluded=" + alice.id + "&excluded=" + carol.id, body("all"), 202},
		{http.MethodPost, "/users/alice/:send", "", body("user"), 202},
		{http.MethodPut, "/groups/g/connections/" + carol.id, "", "", 200},
		{http.MethodPut, "/users/bob/groups/g", "&ttl=60", "", 200},
		{http.MethodPost, "/groups/g/:send", "", body("group"), 202},
		{http.MethodPost, "/connections/" + alice.id + "/:send", "", body("conn"), 202},
	}
	for _, st := range steps {
		if got := rest(t, s, st.method, st.path, st.query, st.body).StatusCode; got != st.want {
			t.Fatalf("%s %s: %d, want %d", st.method, st.path, got, st.want)
		}
	}
	want(bob, "all")
	want(alice, "user")
	want(carol, "group")
	want(bob, "group")
	want(alice, "conn")

	// Bob's membership ends with its ttl; Carol's connection stays.
	s.Advance(61 * time.Second)
	if got := rest(t, s, http.MethodHead, "/users/bob/groups/g", "", "").Header.Get("x-ms-error-code"); got != codeUserNotInGroup {
		t.Errorf("bob in g after ttl: x-ms-error-code %q", got)
	}
	rest(t, s, http.MethodPost, "/groups/g/:send", "", body("group2"))
	want(carol, "group2")
	rest(t, s, http.MethodPost, "/users/bob/:send", "", body("after"))
	want(bob, "after") // nothing from group2 came before it

	rest(t, s, http.MethodDelete, "/connections/"+carol.id, "&reason=bye", "")
	if m, err := carol.next(); err != nil || m.Type != msgClose || m.Error != "bye" {
		t.Errorf("carol got %+v, %v; want close with reason", m, err)
	}
	if _, err := carol.next(); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Errorf("after the close message: %v, want a normal closure", err)
	}
	s.DropConnections()
	if _, err := alice.next(); err == nil {
		t.Error("alice still connected after DropConnections")
	}
	if c := s.Counts(); c.Negotiations != 3 || c.Connections != 3 || c.REST["SignalR_GroupBroadcast"] != 2 {
		t.Errorf("Counts = %+v", c)
	}
}

func users(cs []ConnectionInfo) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.UserID)
	}
	slices.Sort(out)
	return out
}

func TestExistence(t *testing.T) {
	s := newTestServer(t, nil)
	c := connect(t, s, clientToken(t, s, s.opts.AccessKey, "", "chat", "alice"), "chat", false)
	rest(t, s, http.MethodPut, "/groups/g/connections/"+c.id, "", "")
	rest(t, s, http.MethodPut, "/users/alice/groups/h", "", "")
	tests := []struct {
		method, path  string
		want          int
		wantErrorCode string
	}{
		{http.MethodHead, "/connections/" + c.id, 200, ""},
		{http.MethodHead, "/connections/nope", 404, codeConnectionNotExisted},
		{http.MethodDelete, "/connections/nope", 404, codeConnectionNotExisted},
		{http.MethodHead, "/users/alice", 200, ""},
		{http.MethodHead, "/users/bob", 404, codeUserNotExisted},
		{http.MethodHead, "/groups/g", 200, ""},
		{http.MethodHead, "/groups/h", 200, ""},
		{http.MethodHead, "/groups/none", 404, codeGroupNotExisted},
		{http.MethodHead, "/users/alice/groups/g", 200, ""},
		{http.MethodHead, "/users/alice/groups/none", 404, codeUserNotInGroup},
		{http.MethodPut, "/groups/g/connections/nope", 404, codeAddUnknownConnection},
		{http.MethodDelete, "/users/alice/groups/h", 204, ""},
		{http.MethodHead, "/users/alice/groups/h", 404, codeUserNotInGroup},
		{http.MethodDelete, "/connections/" + c.id + "/groups", 200, ""},
		{http.MethodHead, "/groups/g", 404, codeGroupNotExisted},
		{http.MethodDelete, "/users/alice/groups", 204, ""},
		{http.MethodPost, "/:closeConnections", 204, ""},
		{http.MethodPost, "/users/alice/:closeConnections", 204, ""},
		{http.MethodPost, "/groups/g/:closeConnections", 204, ""},
		{http.MethodGet, "/users/alice", 405, ""},
		{http.MethodPost, "/nothing/here", 404, ""},
	}
	for _, tt := range tests {
		resp := rest(t, s, tt.method, tt.path, "", "")
		if got := []any{resp.StatusCode, resp.Header.Get("x-ms-error-code")}; !cmp.Equal(got, []any{tt.want, tt.wantErrorCode}) {
			t.Errorf("%s %s = %v, want %d %q", tt.method, tt.path, got, tt.want, tt.wantErrorCode)
		}
	}
}

func TestValidation(t *testing.T) {
	s := newTestServer(t, nil)
	tests := []struct {
		name, path, query, body string
		want                    int
	}{
		{"hub starting with a digit", "/api/hubs/1chat/:send", "?api-version=2022-06-01", `{"target":"t"}`, 400},
		{"group too long", "/api/hubs/chat/groups/" + strings.Repeat("g", 1025) + "/:send", "?api-version=2022-06-01", `{"target":"t"}`, 400},
		{"group of spaces", "/api/hubs/chat/groups/%20%20/:send", "?api-version=2022-06-01", `{"target":"t"}`, 400},
		{"no api-version", "/api/hubs/chat/:send", "", `{"target":"t"}`, 400},
		{"no target", "/api/hubs/chat/:send", "?api-version=2022-06-01", `{"arguments":[]}`, 400},
		{"not JSON", "/api/hubs/chat/:send", "?api-version=2022-06-01", `{`, 400},
		{"negative ttl", "/api/hubs/chat/users/u/groups/g", "?api-version=2022-06-01&ttl=-1", ``, 400},
		// The REST API's ttl is an int32; a larger one wrapped into the past.
		{"ttl past int32", "/api/hubs/chat/users/u/groups/g", "?api-version=2022-06-01&ttl=10000000000000", ``, 400},
		{"bad application", "/api/hubs/chat/:send", "?api-version=2022-06-01&application=-x", `{"target":"t"}`, 400},
		{"ok", "/api/hubs/chat/:send", "?api-version=2022-06-01&application=app", `{"target":"t"}`, 202},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := http.MethodPost
			if strings.Contains(tt.path, "/users/") {
				method = http.MethodPut
			}
			if got := call(t, method, s.URL+tt.path+tt.query, restToken(t, s, s.URL+tt.path), tt.body).StatusCode; got != tt.want {
				t.Errorf("status = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestGenerateToken(t *testing.T) {
	s := newTestServer(t, &Options{SystemIdentityRoles: []Role{RESTAPIOwner}, LocalAuthDisabled: true})
	resp := call(t, http.MethodPost, s.URL+"/api/hubs/Chat/:generateToken?api-version=2023-07-01&userId=zoe&minutesToExpire=5", entraToken(t, s, s.SystemIdentity().ObjectID), "")
	var body struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
		t.Fatalf("generateToken: %d %v", resp.StatusCode, err)
	}
	connect(t, s, body.Token, "chat", false)
	if d := cmp.Diff([]string{"zoe"}, users(s.Connections("chat"))); d != "" {
		t.Errorf("users (-want +got):\n%s", d)
	}
	s.Advance(6 * time.Minute)
	if got := call(t, http.MethodPost, s.URL+"/client/negotiate?hub=chat", body.Token, "").StatusCode; got != 401 {
		t.Errorf("negotiate with an expired token: %d, want 401", got)
	}
	// With local auth disabled, access-key REST tokens are refused.
	if got := rest(t, s, http.MethodPost, "/:send", "", `{"target":"t"}`).StatusCode; got != 401 {
		t.Errorf("access-key REST call with local auth disabled: %d, want 401", got)
	}
	if got := s.Counts().GenerateTokens; got != 1 {
		t.Errorf("GenerateTokens = %d, want 1", got)
	}
}

func TestHandshakeRefusesOtherProtocols(t *testing.T) {
	s := newTestServer(t, nil)
	tok := clientToken(t, s, s.opts.AccessKey, "", "chat", "u")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+"/client/?hub=chat&access_token="+tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	_ = ws.Write(ctx, websocket.MessageText, []byte("{\"protocol\":\"blazorpack\",\"version\":1}\x1e"))
	_, data, err := ws.Read(ctx)
	if err != nil || !strings.Contains(string(data), `"error"`) {
		t.Errorf("reply %q, %v; want a handshake error", data, err)
	}
}

// TestDelayedSendDroppedWhenCallerLeaves: a caller that gives up during a
// delay must not have its send carried out later, or a test of timeouts
// would see a message the handler reported as failed.
func TestDelayedSendDroppedWhenCallerLeaves(t *testing.T) {
	s := newTestServer(t, nil)
	alice := connect(t, s, clientToken(t, s, s.opts.AccessKey, "", "chat", "alice"), "chat", false)
	s.Delay(RESTSend, 300*time.Millisecond)
	u := s.URL + "/api/hubs/chat/:send"
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u+"?api-version=2022-06-01", strings.NewReader(`{"target":"late","arguments":["x"]}`))
	req.Header.Set("Authorization", "Bearer "+restToken(t, s, u))
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("send answered %d within its deadline, want the caller to give up", resp.StatusCode)
	}
	s.Delay(RESTSend, 0)
	time.Sleep(400 * time.Millisecond) // past the abandoned request's delay
	if resp := rest(t, s, http.MethodPost, "/:send", "", `{"target":"next","arguments":["x"]}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("second send: %d", resp.StatusCode)
	}
	if m, err := alice.next(); err != nil || m.Target != "next" {
		t.Fatalf("alice got %+v, %v; want only the second send", m, err)
	}
}
