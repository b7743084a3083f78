package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"

	"github.com/signalr-entra/handler/emulator"
	"github.com/signalr-entra/handler/internal/signalrtest"
)

const accessKey = "Y2hhdC1leGFtcGxlLWFjY2Vzcy1rZXktZm9yLXRlc3Rz"

// chat is the example app serving on loopback against the stand-in.
type chat struct {
	t   *testing.T
	emu *emulator.Server
	url string
}

func startChat(t *testing.T) *chat {
	t.Helper()
	emu, err := emulator.NewServer(&emulator.Options{AccessKey: accessKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	t.Setenv("AzureSignalRConnectionString", emu.ConnectionString())
	t.Setenv("SIGNALR_HUBS", "chat")
	t.Setenv("SIGNALR_USERID_HEADER", "x-ms-signalr-userid")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return &chat{t: t, emu: emu, url: "http://" + ln.Addr().String()}
}

// client is a SignalR client of the chat hub, connected as user.
type client struct {
	id       string
	messages chan string // "target(arguments…)" of each invocation received
}

// connect negotiates through the app, connects to the stand-in as
// @microsoft/signalr does, and returns the client with its connection id.
func (c *chat) connect(user string) *client {
	t := c.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	before := c.emu.Connections("chat")
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/api/negotiate?hub=chat", nil)
	req.Header.Set("x-ms-signalr-userid", user)
	var info struct{ URL, AccessToken string }
	postJSON(t, req, &info)
	ws, err := signalrtest.Dial(ctx, info.URL, info.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	cl := &client{messages: make(chan string, 100)}
	go cl.read(ws)
	for _, ci := range c.emu.Connections("chat") {
		if !slices.Contains(before, ci) {
			cl.id = ci.ID
		}
	}
	if cl.id == "" {
		t.Fatal("the stand-in lists no new connection")
	}
	return cl
}

func postJSON(t *testing.T, req *http.Request, v any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d %v", req.URL, resp.StatusCode, err)
	}
}

func (cl *client) read(ws *websocket.Conn) {
	for {
		_, data, err := ws.Read(context.Background())
		if err != nil {
			return
		}
		for _, rec := range bytes.Split(data, []byte{0x1e}) {
			var m struct {
				Type      int
				Target    string
				Arguments []json.RawMessage
			}
			if json.Unmarshal(rec, &m) == nil && m.Type == 1 {
				var args []string
				for _, a := range m.Arguments {
					args = append(args, string(a))
				}
				cl.messages <- m.Target + "(" + strings.Join(args, ",") + ")"
			}
		}
	}
}

// received returns what cl got up to and including until.
func (cl *client) received(t *testing.T, until string) []string {
	t.Helper()
	var got []string
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-cl.messages:
			got = append(got, m)
			if m == until {
				return got
			}
		case <-timeout:
			t.Fatalf("%q never arrived; got %q", until, got)
		}
	}
}

// invoke posts what the service posts upstream when cl invokes target, and
// returns the status and the body passed back to the client.
func (c *chat) invoke(cl *client, user, target, invocationID string, arguments ...any) (int, string) {
	c.t.Helper()
	body, _ := json.Marshal(map[string]any{"type": 1, "invocationId": invocationID, "target": target, "arguments": arguments})
	return c.post(cl, user, "messages", target, body)
}

func (c *chat) post(cl *client, user, category, event string, body []byte) (int, string) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.url+"/api/upstream/chat/"+category+"/"+event, bytes.NewReader(body))
	mac := hmac.New(sha256.New, []byte(accessKey))
	mac.Write([]byte(cl.id))
	req.Header = http.Header{
		"Content-Type":         {"application/json"},
		"X-ASRS-Connection-Id": {cl.id},
		"X-ASRS-Hub":           {"chat"},
		"X-ASRS-Category":      {category},
		"X-ASRS-Event":         {event},
		"X-ASRS-User-Id":       {user},
		"X-ASRS-Signature":     {"sha256=" + strings.ToUpper(hex.EncodeToString(mac.Sum(nil)))},
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestChat(t *testing.T) {
	c := startChat(t)
	alice, bob := c.connect("alice"), c.connect("bob")
	ok := func(status int, body string) {
		t.Helper()
		if status != http.StatusOK || body != "" {
			t.Fatalf("status %d body %q, want 200 and no body", status, body)
		}
	}
	ok(c.post(bob, "bob", "connections", "connected", []byte(`{"type":10}`)))
	ok(c.invoke(alice, "alice", "joinGroup", "1", "room"))
	ok(c.invoke(bob, "bob", "sendToGroup", "", "room", "to the room"))
	ok(c.invoke(alice, "alice", "sendToUser", "2", "bob", "psst"))
	ok(c.invoke(alice, "alice", "leaveGroup", "3", "room"))
	ok(c.invoke(bob, "bob", "sendToGroup", "", "room", "nobody hears"))
	ok(c.invoke(bob, "bob", "broadcast", "", "bye"))

	if diff := cmp.Diff([]string{`userJoined("bob")`, `newMessage("bob","to the room")`, `newMessage("bob","bye")`}, alice.received(t, `newMessage("bob","bye")`)); diff != "" {
		t.Errorf("alice received (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{`newMessage("alice","psst")`, `newMessage("bob","bye")`}, bob.received(t, `newMessage("bob","bye")`)); diff != "" {
		t.Errorf("bob received (-want +got):\n%s", diff)
	}

	status, body := c.invoke(alice, "alice", "whoAmI", "4")
	if want := `{"type":3,"invocationId":"4","result":{"connectionId":"` + alice.id + `","userId":"alice"}}` + "\x1e"; status != http.StatusOK || body != want {
		t.Errorf("whoAmI: %d %q, want %q", status, body, want)
	}
	status, body = c.invoke(alice, "alice", "sendToUser", "5", "", "to nobody")
	if want := `{"type":3,"invocationId":"5","error":"sendToUser needs a user id"}` + "\x1e"; status != http.StatusOK || body != want {
		t.Errorf("sendToUser without a user: %d %q, want %q", status, body, want)
	}
}

// TestChatStartsAndAllowsPages: it says where clients go when it starts,
// and, run without the Functions host, answers a page from a loopback
// origin (the repository's demo page), while a page from elsewhere needs
// SIGNALR_CORS_ORIGINS.
func TestChatStartsAndAllowsPages(t *testing.T) {
	emu, err := emulator.NewServer(&emulator.Options{AccessKey: accessKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	t.Setenv("AzureSignalRConnectionString", emu.ConnectionString())
	t.Setenv("SIGNALR_HUBS", "chat")
	t.Setenv("SIGNALR_USERID_HEADER", "")
	t.Setenv("FUNCTIONS_WORKER_RUNTIME", "")
	t.Setenv("SIGNALR_CORS_ORIGINS", "https://chat.example.com")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln, &logs) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	base := "http://" + ln.Addr().String()
	preflight := func(origin string) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodOptions, base+"/api/negotiate?hub=chat", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("Access-Control-Allow-Origin")
	}
	for origin, allowed := range map[string]bool{"http://127.0.0.1:8080": false, "https://chat.example.com": true, "https://evil.example.com": false} {
		if got := preflight(origin); (got == origin) != allowed {
			t.Errorf("preflight from %s: Access-Control-Allow-Origin %q, want allowed %v", origin, got, allowed)
		}
	}

	var first struct{ Msg, Hub, UserID string }
	if err := json.Unmarshal([]byte(strings.SplitN(logs.String(), "\n", 2)[0]), &first); err != nil {
		t.Fatalf("first log line: %v\n%s", err, logs.String())
	}
	if want := "chat: serving hub chat; point a SignalR client at " + base + "/api"; first.Msg != want || first.Hub != "chat" || !strings.HasPrefix(first.UserID, "none") {
		t.Errorf("start record %+v, want msg %q", first, want)
	}
}

// TestChatAllowsLoopbackPagesStandalone: with no origins named, a page from
// loopback may call it when no host stands in front, and none under one.
func TestChatAllowsLoopbackPagesStandalone(t *testing.T) {
	for runtime, underHost := range map[string]bool{"": false, "custom": true} {
		t.Setenv("FUNCTIONS_WORKER_RUNTIME", runtime)
		c := startChat(t)
		req, _ := http.NewRequest(http.MethodOptions, c.url+"/api/negotiate?hub=chat", nil)
		req.Header.Set("Origin", "http://127.0.0.1:8080")
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin") == "http://127.0.0.1:8080"; got == underHost {
			t.Errorf("under the host %v: loopback page allowed %v", underHost, got)
		}
	}
}

// syncBuffer is a bytes.Buffer safe to write from the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
