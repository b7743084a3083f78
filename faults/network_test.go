package faults

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/signalr-entra/handler/emulator"
	"github.com/signalr-entra/handler/settings"
)

// What a faultProxy does to the next send.
const (
	passThrough   int32 = iota
	resetRequest        // resets the connection before the service sees the send
	resetResponse       // resets it after the service has answered
	loseAnswer          // answers its own status after the service has answered
)

// faultProxy stands between the handler and the service's REST API, as the
// network and gateways do, and breaks the next send on demand.
type faultProxy struct {
	target *url.URL
	mode   atomic.Int32
	// answer is the status a gateway answers in loseAnswer mode, with a
	// body of its own, not the service's.
	answer atomic.Int32
	// groups breaks group actions too, not only sends.
	groups bool
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	mode := passThrough
	if strings.HasSuffix(r.URL.Path, "/:send") || p.groups && strings.Contains(r.URL.Path, "/groups/") {
		mode = p.mode.Swap(passThrough)
	}
	if mode == resetRequest {
		reset(w)
		return
	}
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host, out.Host = p.target.Scheme, p.target.Host, p.target.Host
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	switch mode {
	case resetResponse:
		reset(w)
		return
	case loseAnswer:
		http.Error(w, http.StatusText(int(p.answer.Load())), int(p.answer.Load()))
		return
	}
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

// reset closes the connection with a TCP reset, as a failing network or
// load balancer does.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}

// TestConnectionReset resets the connection of a send after it was
// written: the send is reported unknown to the caller (it may have gone
// out), never retried, the rest of the batch goes through, and the
// handler keeps working.
func TestConnectionReset(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		mode          int32
		wantCalls     int      // sends the service saw
		wantDelivered []string // before the closing message
	}{
		// The handler cannot tell this case from the next one.
		{"before the service saw the send", resetRequest, 1, []string{"b"}},
		// Delivered, but the caller cannot know: reported, not repeated.
		{"after the service answered", resetResponse, 2, []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			proxy := &faultProxy{}
			s := newStack(t, config{endpoints: proxied(t, proxy)})
			c := s.connect(t)
			proxy.mode.Store(tt.mode)
			r := s.send(t, broadcasts("a", "b"))
			if r.status != http.StatusBadGateway || len(r.Failed) != 1 || r.Failed[0].Index != 0 || r.Failed[0].State != "unknown" || !cmp.Equal(r.Accepted, []int{1}) {
				t.Errorf("status %d body %s; want 502 with item 0 unknown and 1 accepted", r.status, r.body)
			}
			s.wantLog(t, "messages item failed", r.CorrelationID, `"index":0`, "no reply came from the service; it may have acted on the request")
			if got := s.restCalls("SignalR_Broadcast"); got != tt.wantCalls {
				t.Errorf("the service saw %d sends, want %d", got, tt.wantCalls)
			}
			s.wantDelivered(t, c, tt.wantDelivered...)
		})
	}
}

// proxied builds one Entra endpoint whose REST calls go through proxy.
func proxied(t *testing.T, proxy *faultProxy) func(s *stack) []settings.Endpoint {
	return func(s *stack) []settings.Endpoint {
		proxy.target = mustURL(t, s.emu.URL)
		srv := httptest.NewServer(proxy)
		t.Cleanup(srv.Close)
		ep := s.entraEndpoint(t, emulator.ServiceOwner)
		ep.ServerEndpoint = mustURL(t, srv.URL)
		return []settings.Endpoint{ep}
	}
}

// TestAmbiguousAnswerDeliveredOnce: a gateway answers 502, 503, 504 or a
// 429 of its own after the service took the send. The message must reach
// the client once, and the caller learns that it may have been delivered
// (state unknown), not that it failed.
func TestAmbiguousAnswerDeliveredOnce(t *testing.T) {
	t.Parallel()
	for _, status := range []int{502, 503, 504, 429} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			t.Parallel()
			proxy := &faultProxy{}
			s := newStack(t, config{endpoints: proxied(t, proxy)})
			c := s.connect(t)
			proxy.answer.Store(int32(status))
			proxy.mode.Store(loseAnswer)
			r := s.send(t, broadcasts("a", "b"))
			if len(r.Failed) != 1 || r.Failed[0].Index != 0 || r.Failed[0].State != "unknown" || !cmp.Equal(r.Accepted, []int{1}) {
				t.Errorf("status %d body %s; want item 0 unknown and 1 accepted", r.status, r.body)
			}
			if r.status == http.StatusAccepted {
				t.Errorf("status 202 for a send whose answer was lost")
			}
			if got := s.restCalls("SignalR_Broadcast"); got != 2 {
				t.Errorf("the service saw %d sends, want 2: the lost answer was retried", got)
			}
			s.wantDelivered(t, c, "a", "b")
		})
	}
}

// TestShutdownWithSendInFlight ends Serve's context, as SIGTERM does, while
// a send waits on a slow service: the send completes and is answered 202,
// the message arrives, and Serve returns after the drain.
func TestShutdownWithSendInFlight(t *testing.T) {
	t.Parallel()
	s := newStack(t, config{})
	c := s.connect(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- s.handler.Serve(ctx, ln) }()

	s.emu.Delay(emulator.RESTSend, 500*time.Millisecond)
	type reply struct {
		status int
		err    error
	}
	replied := make(chan reply, 1)
	go func() {
		resp, err := s.caller.Post("http://"+ln.Addr().String()+"/api/messages?hub="+hub, "application/json", strings.NewReader(broadcasts("inflight")))
		if err != nil {
			replied <- reply{err: err}
			return
		}
		resp.Body.Close()
		replied <- reply{status: resp.StatusCode}
	}()
	// The send has reached the service, which holds it.
	deadline := time.Now().Add(5 * time.Second)
	for s.restCalls("SignalR_Broadcast") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the send never reached the service")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if r := <-replied; r.err != nil || r.status != http.StatusAccepted {
		t.Errorf("in-flight send: status %d, %v; want 202", r.status, r.err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve returned %v, want nil after a clean drain", err)
	}
	s.emu.Delay(emulator.RESTSend, 0)
	s.wantDelivered(t, c, "inflight")
}

// TestTwoEndpointsOneAnswerLost: with two endpoints, a gateway in front of
// the second loses its answer (502) after the service took the item. A
// message one endpoint took is accepted, its route naming the other as
// unknown; a group action, which must reach every endpoint, fails with
// state unknown and the same route. Each service saw each item once.
func TestTwoEndpointsOneAnswerLost(t *testing.T) {
	t.Parallel()
	proxy := &faultProxy{groups: true}
	var second *emulator.Server
	s := newStack(t, config{endpoints: func(s *stack) []settings.Endpoint {
		var err error
		second, err = emulator.NewServer(nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(second.Close)
		p, err := second.AddUserIdentity(emulator.UserIdentity{Roles: []emulator.Role{emulator.ServiceOwner}})
		if err != nil {
			t.Fatal(err)
		}
		proxy.target = mustURL(t, second.URL)
		srv := httptest.NewServer(proxy)
		t.Cleanup(srv.Close)
		first := s.entraEndpoint(t, emulator.ServiceOwner)
		first.Name, first.Setting = "east", "Azure__SignalR__Endpoints__east"
		return []settings.Endpoint{first, {
			Name:       "west",
			Setting:    "Azure__SignalR__Endpoints__west",
			ServiceURI: mustURL(t, srv.URL),
			Type:       settings.Primary,
			Credential: managedIdentity(t, second, p.ClientID),
			Auth:       settings.Auth{Kind: "ManagedIdentityCredential", UserAssigned: true, ClientID: p.ClientID},
		}}
	}})
	east, west := strings.TrimSuffix(s.emu.URL, "/"), ""
	for _, e := range s.client.Endpoints() {
		if e.Name() == "west" {
			west = e.URI()
		}
	}
	type route struct {
		Took, Failed, Unknown, Skipped []string
	}
	routes := func(body string) []route {
		var reply struct{ Routes []route }
		if err := json.Unmarshal([]byte(body), &reply); err != nil {
			t.Fatalf("reply %s: %v", body, err)
		}
		return reply.Routes
	}
	want := []route{{Took: []string{east}, Failed: []string{west}, Unknown: []string{west}, Skipped: []string{}}}

	proxy.answer.Store(http.StatusBadGateway)
	proxy.mode.Store(loseAnswer)
	r := s.send(t, broadcasts("a"))
	if r.status != http.StatusAccepted || len(r.Failed) != 0 {
		t.Errorf("message: %d %s, want 202: the east endpoint took it", r.status, r.body)
	}
	if d := cmp.Diff(want, routes(r.body)); d != "" {
		t.Errorf("message route (-want +got):\n%s", d)
	}

	proxy.mode.Store(loseAnswer)
	r = s.call(t, context.Background(), http.MethodPost, "/api/groups?hub="+hub, `{"action":"add","userId":"ada","groupName":"g"}`)
	if len(r.Failed) != 1 || r.Failed[0].State != "unknown" {
		t.Errorf("group action: %d %s, want it failed with state unknown", r.status, r.body)
	}
	if d := cmp.Diff(want, routes(r.body)); d != "" {
		t.Errorf("group action route (-want +got):\n%s", d)
	}
	for _, srv := range []*emulator.Server{s.emu, second} {
		if n := srv.Counts().REST["SignalR_Broadcast"]; n != 1 {
			t.Errorf("%s saw %d broadcasts, want 1", srv.URL, n)
		}
	}
}
