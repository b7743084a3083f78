package emulator

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

func TestRuleMatching(t *testing.T) {
	rules, err := compileRules([]UpstreamRule{
		{URLTemplate: "http://127.0.0.1/first", HubPattern: "chat", CategoryPattern: "messages", EventPattern: " send , echo "},
		{URLTemplate: "http://127.0.0.1/any-event", HubPattern: "chat, other", EventPattern: "x,*"},
		{URLTemplate: "http://127.0.0.1/rest"},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{rules: rules}
	tests := []struct {
		name, hub, category, event string
		want                       string
	}{
		{"listed event, trimmed", "chat", "messages", "echo", "http://127.0.0.1/first"},
		{"event names are case-sensitive", "chat", "messages", "Send", "http://127.0.0.1/any-event"},
		{"a star anywhere matches all", "other", "connections", "connected", "http://127.0.0.1/any-event"},
		{"empty patterns match all", "third", "messages", "send", "http://127.0.0.1/rest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.match(tt.hub, tt.category, tt.event)
			if r == nil || r.URLTemplate != tt.want {
				t.Errorf("match(%q, %q, %q) = %+v, want %s", tt.hub, tt.category, tt.event, r, tt.want)
			}
		})
	}
	only, _ := compileRules([]UpstreamRule{{URLTemplate: "http://127.0.0.1/", HubPattern: "chat"}})
	if r := (&Server{rules: only}).match("Chat", "messages", "send"); r != nil {
		t.Errorf("hub Chat matched pattern chat: %+v", r)
	}
}

func TestUpstreamURL(t *testing.T) {
	got := upstreamURL("http://127.0.0.1:7071/api/upstream/{hub}/{category}/{event}?code=k&h={hub}", "chat", "messages", "a b/c+d~é")
	want := "http://127.0.0.1:7071/api/upstream/chat/messages/a%20b%2Fc%2Bd~%C3%A9?code=k&h=chat"
	if got != want {
		t.Errorf("upstreamURL = %s, want %s", got, want)
	}
}

func TestCompileRulesRefuses(t *testing.T) {
	tests := []struct {
		name string
		rule UpstreamRule
		want string
	}{
		{"beyond loopback", UpstreamRule{URLTemplate: "https://example.com/api/upstream"}, "only to loopback"},
		{"not http", UpstreamRule{URLTemplate: "ftp://127.0.0.1/x"}, "absolute http or https URL"},
		{"relative", UpstreamRule{URLTemplate: "/api/upstream"}, "absolute http or https URL"},
		{"identity without resource", UpstreamRule{URLTemplate: "http://127.0.0.1/", Auth: &UpstreamAuth{Type: "ManagedIdentity"}}, "no ManagedIdentity.Resource"},
		{"unknown auth", UpstreamRule{URLTemplate: "http://127.0.0.1/", Auth: &UpstreamAuth{Type: "Key"}}, `Auth.Type "Key"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewServer(&Options{Upstream: []UpstreamRule{tt.rule}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewServer: %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// TestSignatures checks the header against HMAC-SHA256's published test
// vector: key "key", message "The quick brown fox jumps over the lazy dog".
func TestSignatures(t *testing.T) {
	got := signatures("The quick brown fox jumps over the lazy dog", []string{"key", "key"})
	const one = "sha256=F7BC83F430538424B13298E6AA6FB143EF4D59A14946175997479DBC2D1A3CD8"
	if want := one + ", " + one; got != want {
		t.Errorf("signatures = %s, want %s", got, want)
	}
}

// upstreamRequest is a request the app got.
type upstreamRequest struct {
	path   string
	header http.Header
	body   []byte
}

// upstreamApp records upstream requests and answers each with reply.
type upstreamApp struct {
	*httptest.Server
	mu    sync.Mutex
	got   []upstreamRequest
	reply func(r upstreamRequest, w http.ResponseWriter)
}

func newUpstreamApp(t *testing.T) *upstreamApp {
	a := &upstreamApp{reply: func(upstreamRequest, http.ResponseWriter) {}}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := upstreamRequest{path: r.URL.Path, header: r.Header.Clone(), body: body}
		a.mu.Lock()
		a.got = append(a.got, req)
		reply := a.reply
		a.mu.Unlock()
		reply(req, w)
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *upstreamApp) answer(f func(r upstreamRequest, w http.ResponseWriter)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reply = f
}

// waitFor waits for the nth request (from 1) and returns it.
func (a *upstreamApp) waitFor(t *testing.T, n int) upstreamRequest {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		a.mu.Lock()
		if len(a.got) >= n {
			r := a.got[n-1]
			a.mu.Unlock()
			return r
		}
		a.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("upstream request %d never came", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// dialProtocol connects a client speaking the protocol, with the token in
// the query as browsers send it, and extra query parameters.
func dialProtocol(t testing.TB, s *Server, token, protocol, extraQuery string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(s.URL, "http") + "/client/?hub=chat" + extraQuery + "&access_token=" + url.QueryEscape(token)
	ws, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"protocol":"`+protocol+`","version":1}`+"\x1e")); err != nil {
		t.Fatal(err)
	}
	typ, data, err := ws.Read(ctx)
	want := websocket.MessageText
	if protocol == "messagepack" {
		want = websocket.MessageBinary
	}
	if err != nil || string(data) != "{}\x1e" || typ != want {
		t.Fatalf("handshake reply %v %q, %v", typ, data, err)
	}
	return ws
}

// readFrame returns the next frame that is not a ping.
func readFrame(t *testing.T, ws *websocket.Conn) (websocket.MessageType, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		typ, data, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("reading a frame: %v", err)
		}
		if string(data) != `{"type":6}`+"\x1e" && !bytes.Equal(data, []byte{2, 0x91, 6}) {
			return typ, data
		}
	}
}

func write(t *testing.T, ws *websocket.Conn, typ websocket.MessageType, data string) {
	t.Helper()
	if err := ws.Write(context.Background(), typ, []byte(data)); err != nil {
		t.Fatal(err)
	}
}

func TestUpstreamJSON(t *testing.T) {
	app := newUpstreamApp(t)
	s := newTestServer(t, &Options{Upstream: []UpstreamRule{{URLTemplate: app.URL + "/api/upstream/{category}/{event}?code=secret"}}})
	tok := sign(t, s.opts.AccessKey, "", jwt.MapClaims{
		"aud": "http://127.0.0.1/client/?hub=chat", "asrs.s.uid": "alice", "role": []string{"admin", "reader"},
		"exp": s.Now().Add(time.Hour).Unix(),
	})
	ws := dialProtocol(t, s, tok, "json", "&room=a%20b")

	connected := app.waitFor(t, 1)
	wantHeaders := map[string]string{
		"Content-Type":         "application/json",
		"X-Asrs-Connection-Id": "",
		"X-Asrs-Hub":           "chat",
		"X-Asrs-Category":      "connections",
		"X-Asrs-Event":         "connected",
		"X-Asrs-User-Id":       "alice",
		"X-Asrs-User-Claims":   "asrs.s.uid: alice, aud: http://127.0.0.1/client/?hub=chat, exp: " + jwtNumber(s.Now().Add(time.Hour)) + ", role: admin, role: reader",
		"X-Asrs-Client-Query":  "?hub=chat&room=a%20b",
		"Authorization":        "",
	}
	id := connected.header.Get("X-Asrs-Connection-Id")
	wantHeaders["X-Asrs-Connection-Id"] = id
	got := map[string]string{}
	for k := range wantHeaders {
		got[k] = connected.header.Get(k)
	}
	if d := cmp.Diff(wantHeaders, got); d != "" || id == "" {
		t.Errorf("connected headers (-want +got):\n%s", d)
	}
	if want := signatures(id, []string{s.opts.AccessKey, s.opts.SecondaryAccessKey}); connected.header.Get("X-Asrs-Signature") != want {
		t.Errorf("signature %q, want %q", connected.header.Get("X-Asrs-Signature"), want)
	}
	if connected.path != "/api/upstream/connections/connected" || string(connected.body) != `{"type":10}` {
		t.Errorf("connected: %s %s", connected.path, connected.body)
	}

	tests := []struct {
		name     string
		reply    func(w http.ResponseWriter)
		wantBody string // the upstream body, from the client's message
		wantSeen string // what the client gets
	}{
		{"200 body passed raw",
			func(w http.ResponseWriter) {
				w.Write([]byte(`{"type":3,"invocationId":"1","result":{"n":2}}` + "\x1e"))
			},
			`{"type":1,"invocationId":"1","target":"Echo","arguments":["hi",{"n":2}]}`,
			`{"type":3,"invocationId":"1","result":{"n":2}}` + "\x1e"},
		{"empty 200 completes with no result",
			func(w http.ResponseWriter) {},
			`{"type":1,"invocationId":"1","target":"Echo","arguments":["hi",{"n":2}]}`,
			`{"type":3,"invocationId":"1"}` + "\x1e"},
		{"204 completes with no result",
			func(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) },
			`{"type":1,"invocationId":"1","target":"Echo","arguments":["hi",{"n":2}]}`,
			`{"type":3,"invocationId":"1"}` + "\x1e"},
		{"another status fails the invocation",
			func(w http.ResponseWriter) { w.WriteHeader(http.StatusUnauthorized) },
			`{"type":1,"invocationId":"1","target":"Echo","arguments":["hi",{"n":2}]}`,
			`{"type":3,"invocationId":"1","error":"Invocation failed, status code 401"}` + "\x1e"},
	}
	n := 1
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app.answer(func(_ upstreamRequest, w http.ResponseWriter) { tt.reply(w) })
			write(t, ws, websocket.MessageText, `{"arguments":["hi", {"n": 2}],"invocationId":"1","target":"Echo","type":1}`+"\x1e")
			n++
			r := app.waitFor(t, n)
			if string(r.body) != tt.wantBody || r.header.Get("X-Asrs-Event") != "Echo" || r.header.Get("X-Asrs-Category") != "messages" || r.path != "/api/upstream/messages/Echo" {
				t.Errorf("upstream got %s %s %s, want body %s", r.path, r.header.Get("X-Asrs-Event"), r.body, tt.wantBody)
			}
			if _, data := readFrame(t, ws); string(data) != tt.wantSeen {
				t.Errorf("client got %q, want %q", data, tt.wantSeen)
			}
		})
	}

	// A send without an invocation id: the reply is not passed on. A
	// second invocation proves nothing came before its completion.
	app.answer(func(_ upstreamRequest, w http.ResponseWriter) {
		w.Write([]byte(`{"type":3,"invocationId":"x"}` + "\x1e"))
	})
	write(t, ws, websocket.MessageText, `{"arguments":[],"target":"Note","type":1}`+"\x1e"+`{"arguments":[],"invocationId":"2","target":"Echo","type":1}`+"\x1e")
	if r := app.waitFor(t, n+1); string(r.body) != `{"type":1,"target":"Note","arguments":[]}` {
		t.Errorf("send body %s", r.body)
	}
	if _, data := readFrame(t, ws); string(data) != `{"type":3,"invocationId":"x"}`+"\x1e" {
		t.Errorf("after the send, the client got %q; want only the invocation's reply", data)
	}

	ws.Close(websocket.StatusNormalClosure, "")
	if r := app.waitFor(t, n+3); r.header.Get("X-Asrs-Event") != "disconnected" || string(r.body) != `{"Type":11}` {
		t.Errorf("disconnected: %s %s", r.header.Get("X-Asrs-Event"), r.body)
	}
	if c := s.Counts(); c.Upstream != n+3 {
		t.Errorf("Counts().Upstream = %d, want %d", c.Upstream, n+3)
	}
}

// jwtNumber is how a numeric claim reads in X-ASRS-User-Claims.
func jwtNumber(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

func TestUpstreamEdges(t *testing.T) {
	app := newUpstreamApp(t)
	s := newTestServer(t, &Options{LocalAuthDisabled: false, Upstream: []UpstreamRule{{URLTemplate: app.URL, CategoryPattern: "messages"}}})
	ws := dialProtocol(t, s, clientToken(t, s, s.opts.AccessKey, "", "chat", ""), "json", "")

	// No rule takes connections: an invocation is the first request.
	app.answer(func(_ upstreamRequest, w http.ResponseWriter) { w.Write(bytes.Repeat([]byte{'x'}, maxUpstreamReply+1)) })
	write(t, ws, websocket.MessageText, `{"type":1,"invocationId":"7","target":"big","arguments":[]}`+"\x1e")
	if _, data := readFrame(t, ws); string(data) != `{"type":3,"invocationId":"7","error":"Invocation failed, response too large."}`+"\x1e" {
		t.Errorf("too large: client got %q", data)
	}
	if r := app.waitFor(t, 1); r.header.Get("X-Asrs-User-Id") != "" || r.header.Get("X-Asrs-Client-Query") != "?hub=chat" {
		t.Errorf("anonymous client: user %q, query %q", r.header.Get("X-Asrs-User-Id"), r.header.Get("X-Asrs-Client-Query"))
	}

	// The app is gone: the service counts that a 500.
	app.Close()
	write(t, ws, websocket.MessageText, `{"type":1,"invocationId":"8","target":"gone","arguments":[]}`+"\x1e")
	if _, data := readFrame(t, ws); string(data) != `{"type":3,"invocationId":"8","error":"Invocation failed, status code 500"}`+"\x1e" {
		t.Errorf("app gone: client got %q", data)
	}

	// The secondary key regenerated: the signature follows.
	before := s.accessKeys()
	k := s.RegenerateAccessKey(true)
	if got := s.accessKeys(); got[0] != before[0] || got[1] != k || k == before[1] {
		t.Errorf("keys after regenerating the secondary: %v (before %v)", got, before)
	}
}

func TestUpstreamNoRule(t *testing.T) {
	s := newTestServer(t, nil)
	ws := dialProtocol(t, s, clientToken(t, s, s.opts.AccessKey, "", "chat", "u"), "json", "")
	write(t, ws, websocket.MessageText, `{"type":1,"invocationId":"1","target":"x","arguments":[]}`+"\x1e")
	if _, data := readFrame(t, ws); string(data) != `{"type":3,"invocationId":"1","error":"`+noUpstream+`"}`+"\x1e" {
		t.Errorf("client got %q", data)
	}
}

func TestUpstreamAbruptDisconnect(t *testing.T) {
	app := newUpstreamApp(t)
	s := newTestServer(t, &Options{LocalAuthDisabled: true, Upstream: []UpstreamRule{{URLTemplate: app.URL, EventPattern: "connected,disconnected"}}})
	k := s.keys.serviceKey()
	ws := dialProtocol(t, s, clientToken(t, s, k, serviceKeyID, "chat", "u"), "json", "")
	if r := app.waitFor(t, 1); r.header.Get("X-Asrs-Signature") != "" {
		t.Errorf("with local auth disabled there are no keys, so no signature; got %q", r.header.Get("X-Asrs-Signature"))
	}
	ws.CloseNow()
	r := app.waitFor(t, 2)
	if want := `{"Type":11,"Error":"` + abruptClose + `"}`; string(r.body) != want {
		t.Errorf("disconnected body %s, want %s", r.body, want)
	}
}

func TestUpstreamMessagePack(t *testing.T) {
	app := newUpstreamApp(t)
	s := newTestServer(t, &Options{Upstream: []UpstreamRule{{URLTemplate: app.URL, CategoryPattern: "messages"}}})
	ws := dialProtocol(t, s, clientToken(t, s, s.opts.AccessKey, "", "chat", "bob"), "messagepack", "")

	// [1, {}, "0", "echo", ["hi", 2]] as @microsoft/signalr-protocol-msgpack
	// writes it, then with stream ids, which the upstream body drops.
	invocation := "\x95\x01\x80\xa10\xa4echo\x92\xa2hi\x02"
	withStreams := "\x96\x01\x80\xa11\xa4echo\x92\xa2hi\x02\x90"
	completion := "\x95\x03\x80\xa10\x03\xa3yes"
	app.answer(func(_ upstreamRequest, w http.ResponseWriter) { w.Write(prefixed([]byte(completion))) })
	write(t, ws, websocket.MessageBinary, string(prefixed([]byte(invocation))))
	r := app.waitFor(t, 1)
	if r.header.Get("Content-Type") != "application/x-msgpack" || string(r.body) != invocation {
		t.Errorf("upstream got %s %q, want %q", r.header.Get("Content-Type"), r.body, invocation)
	}
	if typ, data := readFrame(t, ws); typ != websocket.MessageBinary || string(data) != string(prefixed([]byte(completion))) {
		t.Errorf("client got %v %q", typ, data)
	}

	app.answer(func(_ upstreamRequest, w http.ResponseWriter) { w.WriteHeader(http.StatusForbidden) })
	write(t, ws, websocket.MessageBinary, string(prefixed([]byte(withStreams))))
	if r := app.waitFor(t, 2); string(r.body) != "\x95\x01\x80\xa11\xa4echo\x92\xa2hi\x02" {
		t.Errorf("upstream got %q", r.body)
	}
	// [3, {}, "1", 1, "Invocation failed, status code 403"]
	want := "\x95\x03\x80\xa11\x01\xd9\x22Invocation failed, status code 403"
	if _, data := readFrame(t, ws); string(data) != string(prefixed([]byte(want))) {
		t.Errorf("client got %q, want %q", data, prefixed([]byte(want)))
	}

	// A REST send reaches the client as [1, {}, nil, target, args].
	if resp := rest(t, s, http.MethodPost, "/:send", "", `{"target":"t","arguments":["x",-1,1.5,{"b":null,"a":true},[300]]}`); resp.StatusCode != 202 {
		t.Fatalf("send: %d", resp.StatusCode)
	}
	want = "\x95\x01\x80\xc0\xa1t\x95\xa1x\xff\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00\x82\xa1a\xc3\xa1b\xc0\x91\xcd\x01\x2c"
	if _, data := readFrame(t, ws); string(data) != string(prefixed([]byte(want))) {
		t.Errorf("send: client got %q, want %q", data, prefixed([]byte(want)))
	}
}

// TestUpstreamToken checks the managed identity token against what the
// authority publishes, as an app checks it: the v1 document's issuer and
// the keys at its jwks_uri.
func TestUpstreamToken(t *testing.T) {
	const audience = "api://upstream-app"
	app := newUpstreamApp(t)
	s := newTestServer(t, &Options{Upstream: []UpstreamRule{{URLTemplate: app.URL,
		Auth: &UpstreamAuth{Type: "ManagedIdentity", ManagedIdentity: &UpstreamManagedIdentity{Resource: audience}}}}})
	tok := clientToken(t, s, s.opts.AccessKey, "", "chat", "u")
	for range 2 {
		dialProtocol(t, s, tok, "json", "").Close(websocket.StatusNormalClosure, "")
	}
	first := bearerOf(t, app.waitFor(t, 1))
	claims := verifyAtAuthority(t, s, first)
	id := s.ServiceIdentity()
	want := map[string]any{"aud": audience, "iss": s.AuthorityURL + s.TenantID + "/", "tid": s.TenantID,
		"oid": id.ObjectID, "appid": id.ClientID, "ver": "1.0", "idtyp": "app"}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}
	app.waitFor(t, 4)
	if got := s.Counts().UpstreamTokens; got != 1 {
		t.Errorf("UpstreamTokens = %d after 4 requests, want 1 (cached)", got)
	}

	// A rotation: the next token has the new kid, and the old key stays
	// published.
	kid, err := s.RotateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	dialProtocol(t, s, tok, "json", "")
	next := bearerOf(t, app.waitFor(t, 5))
	verifyAtAuthority(t, s, next)
	verifyAtAuthority(t, s, first)
	if h := header(t, next); h["kid"] != kid || h["kid"] == header(t, first)["kid"] {
		t.Errorf("after rotation the token's kid is %v, want %s", h["kid"], kid)
	}
}

func TestUpstreamTokenFlaws(t *testing.T) {
	tests := []struct {
		flaw TokenFlaw
		want string
	}{
		{TokenExpired, "token is expired"},
		{TokenUnknownKey, "not published"},
		{TokenOtherTenant, "issuer"},
	}
	for _, tt := range tests {
		t.Run(string(tt.flaw), func(t *testing.T) {
			app := newUpstreamApp(t)
			s := newTestServer(t, &Options{UpstreamTokenFlaw: tt.flaw, Upstream: []UpstreamRule{{URLTemplate: app.URL,
				Auth: &UpstreamAuth{Type: "ManagedIdentity", ManagedIdentity: &UpstreamManagedIdentity{Resource: "api://a"}}}}})
			dialProtocol(t, s, clientToken(t, s, s.opts.AccessKey, "", "chat", "u"), "json", "")
			_, err := checkAtAuthority(t, s, bearerOf(t, app.waitFor(t, 1)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("checking a %s token: %v, want an error with %q", tt.flaw, err, tt.want)
			}
		})
	}
	if _, err := NewServer(&Options{UpstreamTokenFlaw: "stale"}); err == nil || !strings.Contains(err.Error(), `UpstreamTokenFlaw "stale"`) {
		t.Errorf("NewServer with an unknown flaw: %v", err)
	}
}

func bearerOf(t *testing.T, r upstreamRequest) string {
	t.Helper()
	tok, ok := strings.CutPrefix(r.header.Get("Authorization"), "Bearer ")
	if !ok {
		t.Fatalf("no bearer token in %q", r.header.Get("Authorization"))
	}
	return tok
}

func header(t *testing.T, tok string) map[string]any {
	t.Helper()
	p, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	return p.Header
}

func getJSON(t *testing.T, s *Server, u string, v any) {
	t.Helper()
	resp, err := s.Client().Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func verifyAtAuthority(t *testing.T, s *Server, tok string) jwt.MapClaims {
	t.Helper()
	claims, err := checkAtAuthority(t, s, tok)
	if err != nil {
		t.Fatalf("the token does not verify at the authority: %v", err)
	}
	return claims
}

// checkAtAuthority verifies a token with the tenant's v1 OpenID
// configuration and its key set, fetched over https.
func checkAtAuthority(t *testing.T, s *Server, tok string) (jwt.MapClaims, error) {
	t.Helper()
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	getJSON(t, s, s.AuthorityURL+s.TenantID+"/.well-known/openid-configuration", &doc)
	var set struct{ Keys []jwk }
	getJSON(t, s, doc.JWKSURI, &set)
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, func(tk *jwt.Token) (any, error) {
		for _, k := range set.Keys {
			if k.Kid == tk.Header["kid"] {
				return jwkPublicKey(t, k), nil
			}
		}
		return nil, jwt.ErrTokenUnverifiable
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(doc.Issuer), jwt.WithTimeFunc(s.Now), jwt.WithExpirationRequired())
	if err != nil && strings.Contains(err.Error(), jwt.ErrTokenUnverifiable.Error()) {
		return nil, errKeyNotPublished
	}
	return claims, err
}

var errKeyNotPublished = errors.New("the token's key is not published")

func jwkPublicKey(t *testing.T, k jwk) *rsa.PublicKey {
	t.Helper()
	n, err1 := base64.RawURLEncoding.DecodeString(k.N)
	e, err2 := base64.RawURLEncoding.DecodeString(k.E)
	if err1 != nil || err2 != nil {
		t.Fatalf("key %s: bad n or e", k.Kid)
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
}

func TestOpenIDConfigurationVersions(t *testing.T) {
	s := newTestServer(t, nil)
	var v1, v2 struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	getJSON(t, s, s.AuthorityURL+s.TenantID+"/.well-known/openid-configuration", &v1)
	getJSON(t, s, s.AuthorityURL+s.TenantID+"/v2.0/.well-known/openid-configuration", &v2)
	want := [4]string{s.AuthorityURL + s.TenantID + "/", s.AuthorityURL + "common/discovery/keys",
		s.AuthorityURL + s.TenantID + "/v2.0", s.AuthorityURL + s.TenantID + "/discovery/v2.0/keys"}
	if got := [4]string{v1.Issuer, v1.JWKSURI, v2.Issuer, v2.JWKSURI}; got != want {
		t.Errorf("documents: %v, want %v", got, want)
	}
	var a, b struct{ Keys []jwk }
	getJSON(t, s, v1.JWKSURI, &a)
	getJSON(t, s, v2.JWKSURI, &b)
	if len(a.Keys) != 1 || !cmp.Equal(a, b) {
		t.Errorf("key sets differ or are not one key: %+v %+v", a, b)
	}
}

// BenchmarkUpstreamInvoke is a client invocation through the stand-in to an
// app answering a completion, and back: the stand-in's share of an upstream
// round trip, with a managed identity token (cached) and two signatures.
func BenchmarkUpstreamInvoke(b *testing.B) {
	completion := []byte(`{"type":3,"invocationId":"1","result":1}` + "\x1e")
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = w.Write(completion)
	}))
	defer app.Close()
	s, err := NewServer(&Options{Upstream: []UpstreamRule{{URLTemplate: app.URL, CategoryPattern: "messages",
		Auth: &UpstreamAuth{Type: "ManagedIdentity", ManagedIdentity: &UpstreamManagedIdentity{Resource: "api://bench"}}}}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ws := dialProtocol(b, s, clientToken(b, s, s.opts.AccessKey, "", "chat", "u"), "json", "")
	ctx := context.Background()
	invocation := []byte(`{"type":1,"invocationId":"1","target":"add","arguments":[1]}` + "\x1e")
	b.ReportAllocs()
	for b.Loop() {
		if err := ws.Write(ctx, websocket.MessageText, invocation); err != nil {
			b.Fatal(err)
		}
		if _, data, err := ws.Read(ctx); err != nil || !bytes.Equal(data, completion) {
			b.Fatalf("read %q, %v", data, err)
		}
	}
}
