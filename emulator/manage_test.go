package emulator

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"
	"github.com/vmihailenco/msgpack/v5"
)

// restAsync calls a REST operation in the background; the reply comes on
// the channel with its body read.
func restAsync(t *testing.T, s *Server, method, path, body string) <-chan restReply {
	t.Helper()
	u := s.URL + "/api/hubs/chat" + path
	tok := restToken(t, s, u)
	ch := make(chan restReply, 1)
	go func() {
		req, _ := http.NewRequest(method, u+"?api-version=2024-12-01", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			ch <- restReply{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		ch <- restReply{status: resp.StatusCode, code: resp.Header.Get("x-ms-error-code"), body: string(b)}
	}()
	return ch
}

type restReply struct {
	status int
	code   string
	body   string
	err    error
}

func await(t *testing.T, ch <-chan restReply) restReply {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no reply to the REST call")
	}
	return restReply{}
}

func TestInvokeJSON(t *testing.T) {
	s := newTestServer(t, nil)
	alice := connect(t, s, clientToken(t, s, s.opts.AccessKey, "", "chat", "alice"), "chat", false)

	reply := restAsync(t, s, http.MethodPost, "/connections/"+alice.id+"/:invoke", `{"target":"ask","arguments":[1,"two"]}`)
	m, err := alice.next()
	if err != nil || m.Type != msgInvocation || m.Target != "ask" || m.InvocationID == "" || len(m.Arguments) != 2 {
		t.Fatalf("client got %+v, %v; want an invocation with an id", m, err)
	}
	write(t, alice.ws, websocket.MessageText, `{"type":3,"invocationId":"`+m.InvocationID+`","result":{"answer":42}}`+"\x1e")
	if r := await(t, reply); r.status != 200 || strings.TrimSpace(r.body) != `{"result":{"answer":42}}` {
		t.Errorf("invoke = %d %s", r.status, r.body)
	}

	// A client's error is the caller's error; no result is null.
	reply = restAsync(t, s, http.MethodPost, "/connections/"+alice.id+"/:invoke", `{"target":"ask"}`)
	m, _ = alice.next()
	write(t, alice.ws, websocket.MessageText, `{"type":3,"invocationId":"`+m.InvocationID+`","error":"no such method"}`+"\x1e")
	if r := await(t, reply); r.status != 400 || r.code != codeInvocationFailed || !strings.Contains(r.body, "no such method") {
		t.Errorf("failed invoke = %d %s %s", r.status, r.code, r.body)
	}
	reply = restAsync(t, s, http.MethodPost, "/connections/"+alice.id+"/:invoke", `{"target":"ask"}`)
	m, _ = alice.next()
	write(t, alice.ws, websocket.MessageText, `{"type":3,"invocationId":"`+m.InvocationID+`"}`+"\x1e")
	if r := await(t, reply); r.status != 200 || strings.TrimSpace(r.body) != `{"result":null}` {
		t.Errorf("void invoke = %d %s", r.status, r.body)
	}

	// A completion for no invocation is dropped; the connection lives on.
	write(t, alice.ws, websocket.MessageText, `{"type":3,"invocationId":"nobody"}`+"\x1e")

	// The client leaves while the caller waits.
	reply = restAsync(t, s, http.MethodPost, "/connections/"+alice.id+"/:invoke", `{"target":"ask"}`)
	alice.next()
	alice.ws.Close(websocket.StatusNormalClosure, "")
	if r := await(t, reply); r.status != 404 || r.code != codeConnectionNotExisted {
		t.Errorf("invoke of a leaving client = %d %s %s", r.status, r.code, r.body)
	}
	if r := await(t, restAsync(t, s, http.MethodPost, "/connections/nobody/:invoke", `{"target":"ask"}`)); r.status != 404 || r.code != codeConnectionNotExisted {
		t.Errorf("invoke of no client = %d %s", r.status, r.code)
	}
	if r := await(t, restAsync(t, s, http.MethodPost, "/connections/nobody/:invoke", `{}`)); r.status != 400 {
		t.Errorf("invoke with no target = %d", r.status)
	}
}

func TestInvokeMessagePack(t *testing.T) {
	s := newTestServer(t, nil)
	ws := dialProtocol(t, s, clientToken(t, s, s.opts.AccessKey, "", "chat", "bob"), "messagepack", "")
	id := s.Connections("chat")[0].ID

	reply := restAsync(t, s, http.MethodPost, "/connections/"+id+"/:invoke", `{"target":"ask","arguments":[{"b":1.5,"a":[300]}]}`)
	_, frame := readFrame(t, ws)
	msgs, _, err := splitPrefixed(frame)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("frame %q: %v", frame, err)
	}
	var inv []any
	if err := msgpack.Unmarshal(msgs[0], &inv); err != nil {
		t.Fatal(err)
	}
	want := []any{int8(1), map[string]any{}, inv[2], "ask", []any{map[string]any{"a": []any{uint16(300)}, "b": 1.5}}}
	if d := cmp.Diff(want, inv); d != "" || inv[2] == nil {
		t.Fatalf("invocation (-want +got):\n%s", d)
	}
	// [3, {}, id, 3, {"x": [1, bin "hi"], 7: nil}]
	done, err := msgpack.Marshal([]any{3, map[string]any{}, inv[2], 3, map[any]any{"x": []any{1, []byte("hi")}, 7: nil}})
	if err != nil {
		t.Fatal(err)
	}
	write(t, ws, websocket.MessageBinary, string(prefixed(done)))
	var got struct{ Result map[string]any }
	r := await(t, reply)
	if err := json.Unmarshal([]byte(r.body), &got); err != nil || r.status != 200 {
		t.Fatalf("invoke = %d %s", r.status, r.body)
	}
	if d := cmp.Diff(map[string]any{"x": []any{1.0, "aGk="}, "7": nil}, got.Result); d != "" {
		t.Errorf("result (-want +got):\n%s", d)
	}

	reply = restAsync(t, s, http.MethodPost, "/connections/"+id+"/:invoke", `{"target":"ask"}`)
	_, frame = readFrame(t, ws)
	msgs, _, _ = splitPrefixed(frame)
	var inv2 []any
	if err := msgpack.Unmarshal(msgs[0], &inv2); err != nil {
		t.Fatal(err)
	}
	failed, _ := msgpack.Marshal([]any{3, map[string]any{}, inv2[2], 1, "nope"})
	write(t, ws, websocket.MessageBinary, string(prefixed(failed)))
	if r := await(t, reply); r.status != 400 || !strings.Contains(r.body, `"nope"`) {
		t.Errorf("failed invoke = %d %s", r.status, r.body)
	}
}

func TestListConnectionsInGroup(t *testing.T) {
	s := newTestServer(t, nil)
	var ids []string
	for _, u := range []string{"a", "b", "c", "d", "e"} {
		c := connect(t, s, clientToken(t, s, s.opts.AccessKey, "", "chat", u), "chat", false)
		ids = append(ids, c.id)
	}
	for _, id := range ids[:3] {
		rest(t, s, http.MethodPut, "/groups/g/connections/"+id, "", "")
	}
	rest(t, s, http.MethodPut, "/users/e/groups/g", "&ttl=30", "")
	inGroup := map[string]string{ids[0]: "a", ids[1]: "b", ids[2]: "c", ids[4]: "e"}

	list := func(url string) groupMemberPage {
		t.Helper()
		path, _, _ := strings.Cut(url, "?")
		resp := call(t, http.MethodGet, url, restToken(t, s, path), "")
		var p groupMemberPage
		if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
		}
		return p
	}
	base := s.URL + "/api/hubs/chat/groups/g/connections?api-version=2024-12-01"
	got := map[string]string{}
	pages := 0
	for u := base + "&maxpagesize=3"; u != ""; pages++ {
		p := list(u)
		for _, m := range p.Value {
			got[m.ConnectionID] = m.UserID
		}
		u = p.NextLink
	}
	if d := cmp.Diff(inGroup, got); d != "" || pages != 2 {
		t.Errorf("%d pages, members (-want +got):\n%s", pages, d)
	}

	// top counts across pages.
	p := list(base + "&maxpagesize=2&top=3")
	if len(p.Value) != 2 || !strings.Contains(p.NextLink, "top=1") {
		t.Fatalf("first page %+v", p)
	}
	if p = list(p.NextLink); len(p.Value) != 1 || p.NextLink != "" {
		t.Errorf("last page %+v", p)
	}

	// The user's membership ends with its ttl.
	s.Advance(31 * time.Second)
	if p := list(base); len(p.Value) != 3 {
		t.Errorf("after the ttl: %+v", p)
	}
	for _, q := range []string{"&maxpagesize=0", "&maxpagesize=201", "&top=0", "&continuationToken=!"} {
		if resp := call(t, http.MethodGet, base+q, restToken(t, s, s.URL+"/api/hubs/chat/groups/g/connections"), ""); resp.StatusCode != 400 {
			t.Errorf("%s: %d, want 400", q, resp.StatusCode)
		}
	}
	if p := list(strings.Replace(base, "/g/", "/none/", 1)); p.Value == nil || len(p.Value) != 0 {
		t.Errorf("empty group: %+v", p)
	}
}

func TestAddUserToGroupTTLZero(t *testing.T) {
	s := newTestServer(t, nil)
	tok := clientToken(t, s, s.opts.AccessKey, "", "chat", "zoe")
	first := connect(t, s, tok, "chat", false)
	rest(t, s, http.MethodPut, "/users/zoe/groups/g", "&ttl=0", "")
	second := connect(t, s, tok, "chat", false)
	rest(t, s, http.MethodPost, "/groups/g/:send", "", `{"target":"g","arguments":["x"]}`)
	rest(t, s, http.MethodPost, "/users/zoe/:send", "", `{"target":"u","arguments":["x"]}`)
	if m, _ := first.next(); m.Target != "g" {
		t.Errorf("the connection of the moment got %q first, want the group message", m.Target)
	}
	if m, _ := second.next(); m.Target != "u" {
		t.Errorf("a later connection got %q first, want only the user message", m.Target)
	}
}

func TestCloseReasons(t *testing.T) {
	s := newTestServer(t, nil)
	tok := func(u string) string { return clientToken(t, s, s.opts.AccessKey, "", "chat", u) }
	a1, a2, b, c := connect(t, s, tok("a"), "chat", false), connect(t, s, tok("a"), "chat", false), connect(t, s, tok("b"), "chat", false), connect(t, s, tok("c"), "chat", false)
	rest(t, s, http.MethodPut, "/groups/g/connections/"+b.id, "", "")
	closed := func(cl *testClient, reason string) {
		t.Helper()
		m, err := cl.next()
		if err != nil || m.Type != msgClose || m.Error != reason {
			t.Fatalf("client got %+v, %v; want close with %q", m, err, reason)
		}
	}
	if resp := rest(t, s, http.MethodPost, "/users/a/:closeConnections", "&excluded="+a2.id+"&reason=user+reason", ""); resp.StatusCode != 204 {
		t.Fatalf("close user: %d", resp.StatusCode)
	}
	closed(a1, "user reason")
	rest(t, s, http.MethodPost, "/groups/g/:closeConnections", "&reason=group", "")
	closed(b, "group")
	rest(t, s, http.MethodPost, "/:closeConnections", "&excluded="+c.id, "")
	closed(a2, "")
	rest(t, s, http.MethodPost, "/connections/"+c.id+"/:send", "", `{"target":"still","arguments":[]}`)
	if m, _ := c.next(); m.Target != "still" {
		t.Errorf("the excluded connection got %+v", m)
	}
}

// TestMessagePackNestingBounded: a client's invocation nested deeper than
// maxDepth is refused with a close message, not read by recursion without
// end.
func TestMessagePackNestingBounded(t *testing.T) {
	s := newTestServer(t, nil)
	ws := dialProtocol(t, s, clientToken(t, s, s.opts.AccessKey, "", "chat", "bob"), "messagepack", "")
	deep := strings.Repeat("\x91", maxDepth+5) + "\xc0"
	write(t, ws, websocket.MessageBinary, string(prefixed([]byte("\x95\x01\x80\xc0\xa1t\x91"+deep))))
	_, frame := readFrame(t, ws)
	msgs, _, err := splitPrefixed(frame)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("frame %q: %v", frame, err)
	}
	var m []any
	if err := msgpack.Unmarshal(msgs[0], &m); err != nil || len(m) != 3 || m[0] != int8(msgClose) || !strings.Contains(m[1].(string), "deeper than") {
		t.Errorf("close message %v, %v", m, err)
	}
}
