package handler

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signalr-entra/handler/bindings"
)

// slowService takes perSend for each send, or until its context ends, as a
// slow SignalR Service does.
type slowService struct {
	fakeService
	perSend time.Duration
	started atomic.Int32
}

func (s *slowService) SendRouted(ctx context.Context, hub string, m bindings.Message) (bindings.Route, error) {
	s.started.Add(1)
	select {
	case <-time.After(s.perSend):
		return bindings.Route{Took: []string{fakeEndpoint}}, nil
	case <-ctx.Done():
		// As bindings reports a request cut off after it was written.
		err := &bindings.Error{Op: "send to all", Endpoint: fakeEndpoint, Outcome: bindings.Unknown, Err: ctx.Err()}
		return bindings.Route{Failed: []string{fakeEndpoint}, Unknown: []string{fakeEndpoint}}, err
	}
}

// TestShutdownAnswersEveryCaller sends SIGTERM (ends Serve's context)
// while callers' batches are half sent to a slow service: every caller
// must get an answer before the drain ends, saying which items went
// through, which were not sent, and which may have arrived; Serve must
// return cleanly. Before, the drain ran out and every connection was cut.
func TestShutdownAnswersEveryCaller(t *testing.T) {
	for _, tt := range []struct {
		name    string
		perSend time.Duration
		// wantFirst is what the item in flight at SIGTERM becomes.
		wantFirst string
	}{
		{"calls in flight finish within the drain", 300 * time.Millisecond, "accepted"},
		{"calls in flight outlast the drain", time.Hour, "unknown"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			const callers, items = 8, 10
			svc := &slowService{perSend: tt.perSend}
			h := newTestHandler(t, svc, &Options{DrainTimeout: time.Second})
			addr, cancel, done := serveInBackground(t, h)
			// Broadcasts go one after another: ten take ten times perSend.
			batch := "[" + strings.TrimSuffix(strings.Repeat(`{"target":"news","arguments":[1]},`, items), ",") + "]"
			var results []<-chan httpResult
			for range callers {
				results = append(results, requestInBackground(newRequest(t, "POST", "http://"+addr+"/api/messages", batch)))
			}
			for svc.started.Load() < callers {
				time.Sleep(time.Millisecond)
			}
			cancel() // as SIGTERM does
			answered := 0
			for _, resc := range results {
				res := <-resc
				if res.err != nil {
					t.Errorf("a caller got no answer: %v", res.err)
					continue
				}
				answered++
				var body partialBody
				if err := json.Unmarshal([]byte(res.body), &body); err != nil || res.status != 503 {
					t.Errorf("answer %d %s, want 503 with accepted and failed", res.status, res.body)
					continue
				}
				first := "accepted"
				if len(body.Accepted) == 0 {
					first = body.Failed[0].State
				}
				if first != tt.wantFirst {
					t.Errorf("the item in flight: %q (%+v), want %q", first, body.Failed[0], tt.wantFirst)
				}
				if n := len(body.Accepted) + len(body.Failed); n != items {
					t.Errorf("%d items answered, want %d", n, items)
				}
				if last := body.Failed[len(body.Failed)-1]; last.State != "notSent" || !strings.HasPrefix(last.Error, "not sent: the handler is shutting down; it is safe to send again") {
					t.Errorf("the last item: %+v, want not sent", last)
				}
			}
			t.Logf("callers answered at shutdown: %d of %d", answered, callers)
			if err := <-done; err != nil {
				t.Errorf("Serve: %v, want a clean drain", err)
			}
		})
	}
}

// TestCallerLeavingStopsTheWork checks that a batch stops where it is when
// its caller goes away: no item starts after that.
func TestCallerLeavingStopsTheWork(t *testing.T) {
	svc := &slowService{perSend: 200 * time.Millisecond}
	h := newTestHandler(t, svc, nil)
	addr, _, _ := serveInBackground(t, h)
	batch := "[" + strings.TrimSuffix(strings.Repeat(`{"target":"news","arguments":[1]},`, 10), ",") + "]"
	ctx, leave := context.WithCancel(context.Background())
	resc := requestInBackground(newRequest(t, "POST", "http://"+addr+"/api/messages", batch).WithContext(ctx))
	for svc.started.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	leave()
	if res := <-resc; res.err == nil {
		t.Fatalf("the request was answered (%d) though its caller left", res.status)
	}
	time.Sleep(time.Second) // five items' time, were they still sent
	if n := svc.started.Load(); n != 1 {
		t.Errorf("%d sends started; want 1: none after the caller left", n)
	}
}

// slowInvoker is a service whose clients take perCall to answer an
// invocation, or never answer before the context ends.
type slowInvoker struct {
	fakeService
	perCall time.Duration
	started atomic.Int32
}

func (s *slowInvoker) Invoke(ctx context.Context, hub, connection string, p bindings.Payload) (json.RawMessage, error) {
	s.started.Add(1)
	select {
	case <-time.After(s.perCall):
		return json.RawMessage(`"here"`), nil
	case <-ctx.Done():
		return nil, &bindings.Error{Op: "invoke a client method", Endpoint: fakeEndpoint, Outcome: bindings.Unknown, Err: ctx.Err()}
	}
}

// TestShutdownManage sends SIGTERM while a manage request's invocations
// run one after another: the one in flight finishes (or is cut off at the
// drain's end, saying the client may have run it), no other starts, and
// the caller is answered with every action's outcome.
func TestShutdownManage(t *testing.T) {
	for _, tt := range []struct {
		name      string
		perCall   time.Duration
		wantFirst string
	}{
		{"the invocation in flight finishes", 300 * time.Millisecond, ""},
		{"the invocation in flight outlasts the drain", time.Hour, "the client may have run the method"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			svc := &slowInvoker{perCall: tt.perCall}
			h := newTestHandler(t, svc, &Options{DrainTimeout: time.Second})
			addr, cancel, done := serveInBackground(t, h)
			body := "[" + strings.TrimSuffix(strings.Repeat(`{"action":"invoke","connectionId":"c","target":"t","arguments":[]},`, 5), ",") + "]"
			resc := requestInBackground(newRequest(t, "POST", "http://"+addr+"/api/manage", body))
			for svc.started.Load() < 1 {
				time.Sleep(time.Millisecond)
			}
			cancel() // as SIGTERM does
			res := <-resc
			if res.err != nil {
				t.Fatalf("no answer: %v", res.err)
			}
			var rep manageBody
			if err := json.Unmarshal([]byte(res.body), &rep); err != nil || res.status != 503 || len(rep.Results) != 5 {
				t.Fatalf("answer %d %s, want 503 with five results", res.status, res.body)
			}
			if first := rep.Results[0].Error; !strings.Contains(first, tt.wantFirst) || (tt.wantFirst == "") != (first == "") {
				t.Errorf("the invocation in flight: %q, want %q", first, tt.wantFirst)
			}
			for _, r := range rep.Results[1:] {
				if !strings.HasPrefix(r.Error, "not run: the handler is shutting down") {
					t.Errorf("action %d: %q, want not run", r.Index, r.Error)
				}
			}
			if n := svc.started.Load(); n != 1 {
				t.Errorf("%d invocations started, want only the one in flight at SIGTERM", n)
			}
			if err := <-done; err != nil {
				t.Errorf("Serve: %v, want a clean drain", err)
			}
		})
	}
}
