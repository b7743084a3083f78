package faults

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/signalr-entra/handler/emulator"
	"github.com/signalr-entra/handler/settings"
)

// When a resetProxy cuts the connection of the next send.
const (
	passThrough   int32 = iota
	resetRequest        // before the service sees the send
	resetResponse       // after the service has answered it
)

// resetProxy stands between the handler and the service's REST API, as the
// network does, and resets the TCP connection of the next send on demand.
type resetProxy struct {
	target *url.URL
	mode   atomic.Int32
}

func (p *resetProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	mode := passThrough
	if strings.HasSuffix(r.URL.Path, "/:send") {
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
	if mode == resetResponse {
		reset(w)
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

// TestConnectionReset resets the connection of a send: the send is reported
// failed to the caller, never retried (it may have gone out), the rest of
// the batch goes through, and the handler keeps working.
func TestConnectionReset(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		mode          int32
		wantCalls     int      // sends the service saw
		wantDelivered []string // before the closing message
	}{
		{"before the service saw the send", resetRequest, 1, []string{"b"}},
		// Delivered, but the caller cannot know: reported, not repeated.
		{"after the service answered", resetResponse, 2, []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			proxy := &resetProxy{}
			s := newStack(t, config{endpoints: func(s *stack) []settings.Endpoint {
				proxy.target = mustURL(t, s.emu.URL)
				srv := httptest.NewServer(proxy)
				t.Cleanup(srv.Close)
				ep := s.entraEndpoint(t, emulator.ServiceOwner)
				ep.ServerEndpoint = mustURL(t, srv.URL)
				return []settings.Endpoint{ep}
			}})
			c := s.connect(t)
			proxy.mode.Store(tt.mode)
			r := s.send(t, broadcasts("a", "b"))
			if r.status != http.StatusBadGateway || len(r.Failed) != 1 || r.Failed[0].Index != 0 || !cmp.Equal(r.Accepted, []int{1}) {
				t.Errorf("status %d body %s; want 502 with item 0 failed and 1 accepted", r.status, r.body)
			}
			s.wantLog(t, "messages item failed", r.CorrelationID, `"index":0`, "the service could not be reached")
			if got := s.restCalls("SignalR_Broadcast"); got != tt.wantCalls {
				t.Errorf("the service saw %d sends, want %d", got, tt.wantCalls)
			}
			s.wantDelivered(t, c, tt.wantDelivered...)
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
