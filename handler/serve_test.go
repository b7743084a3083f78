package handler

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/signalr-entra/handler/bindings"
)

// serveInBackground serves h on a loopback port until the returned cancel
// is called; done yields Serve's result.
func serveInBackground(t *testing.T, h *Handler) (addr string, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- h.Serve(ctx, ln) }()
	t.Cleanup(cancel)
	return ln.Addr().String(), cancel, errc
}

// httpResult is the outcome of a request made in the background.
type httpResult struct {
	status int
	body   string
	err    error
}

// requestInBackground sends req and yields its outcome.
func requestInBackground(req *http.Request) <-chan httpResult {
	resc := make(chan httpResult, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			resc <- httpResult{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resc <- httpResult{status: resp.StatusCode, body: string(b)}
	}()
	return resc
}

func newRequest(t *testing.T, method, url, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

func TestServeDrainsInFlight(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	svc := &fakeService{onCall: func() { close(entered); <-release }}
	h := newTestHandler(t, svc, &Options{DrainTimeout: 5 * time.Second})
	addr, cancel, done := serveInBackground(t, h)

	resc := requestInBackground(newRequest(t, "POST", "http://"+addr+"/api/messages", `{"target":"a"}`))
	<-entered
	cancel() // as SIGTERM does
	// New connections are refused once shutdown begins.
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			break
		}
		c.Close()
		if i > 1000 {
			t.Fatal("the listener still accepts connections after shutdown began")
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	r := <-resc
	if r.err != nil || r.status != http.StatusAccepted {
		t.Errorf("in-flight request: status %d body %s err %v; want 202", r.status, r.body, r.err)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve returned %v, want nil after a clean drain", err)
	}
}

func TestServeDrainTimeout(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	svc := &fakeService{onCall: func() { close(entered); <-release }}
	h := newTestHandler(t, svc, &Options{DrainTimeout: 50 * time.Millisecond})
	addr, cancel, done := serveInBackground(t, h)
	go func() {
		resp, err := http.Get("http://" + addr + "/api/negotiate")
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	cancel()
	if err := <-done; err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Serve returned %v, want the drain deadline", err)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"deadline", context.DeadlineExceeded, 504},
		{"canceled", context.Canceled, 503},
		{"other", errors.New("x"), 502},
		{"bad request", &bindings.Error{Status: 400}, 400},
		{"not found", &bindings.Error{Status: 404, Code: "Warning.Group.NotExisted"}, 404},
		{"no service at the endpoint", &bindings.Error{Status: 404}, 502},
		{"unauthorized", &bindings.Error{Status: 401}, 502},
		{"forbidden", &bindings.Error{Status: 403}, 502},
		{"throttled", &bindings.Error{Status: 429}, 503},
		{"unavailable", &bindings.Error{Status: 503}, 503},
		{"gateway timeout", &bindings.Error{Status: 504}, 504},
		{"no reply", &bindings.Error{}, 502},
		{"server error", &bindings.Error{Status: 500}, 502},
		{"through several endpoints", &bindings.EndpointsError{Results: []bindings.EndpointResult{{Err: &bindings.Error{Status: 403}}}}, 502},
		{"no endpoint online", errors.Join(errors.New("send"), bindings.ErrNoOnlineEndpoint), 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, msg := classify(tt.err)
			if got != tt.want || msg == "" {
				t.Errorf("classify = %d %q, want %d", got, msg, tt.want)
			}
		})
	}
}

// TestServeWhenReadyHoldsEarlyRequests: a request that comes while the
// handler is being built waits for it and gets the handler's answer.
func TestServeWhenReadyHoldsEarlyRequests(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	building, release := make(chan struct{}), make(chan struct{})
	svc := &fakeService{}
	done := make(chan error, 1)
	go func() {
		done <- ServeWhenReady(ctx, ln, slog.New(slog.DiscardHandler), func() (*Handler, error) {
			close(building)
			<-release
			return newTestHandler(t, svc, nil), nil
		})
	}()
	<-building
	resc := requestInBackground(newRequest(t, "POST", "http://"+ln.Addr().String()+"/api/messages", `{"target":"a"}`))
	select {
	case r := <-resc:
		t.Fatalf("answered before the handler was built: %+v", r)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if r := <-resc; r.err != nil || r.status != http.StatusAccepted {
		t.Errorf("early request: status %d, err %v; want 202 from the built handler", r.status, r.err)
	}
	svc.mu.Lock()
	sent := len(svc.sent)
	svc.mu.Unlock()
	if sent != 1 {
		t.Errorf("the service got %d sends, want 1", sent)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ServeWhenReady returned %v, want nil after a clean drain", err)
	}
}

// TestServeWhenReadyBuildFails: the requests that waited get a 503 saying
// the handler is stopping, and the build's error is returned.
func TestServeWhenReadyBuildFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	building, release := make(chan struct{}), make(chan struct{})
	broken := errors.New("the app settings are not usable")
	done := make(chan error, 1)
	go func() {
		done <- ServeWhenReady(context.Background(), ln, slog.New(slog.DiscardHandler), func() (*Handler, error) {
			close(building)
			<-release
			return nil, broken
		})
	}()
	<-building
	resc := requestInBackground(newRequest(t, "GET", "http://"+ln.Addr().String()+"/", ""))
	time.Sleep(100 * time.Millisecond) // let the request reach the gate
	close(release)
	if err := <-done; !errors.Is(err, broken) {
		t.Errorf("ServeWhenReady returned %v, want the build's error", err)
	}
	r := <-resc
	if r.err != nil || r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "the handler failed to start") {
		t.Errorf("waiting request: status %d body %s err %v; want 503 saying the handler failed to start", r.status, r.body, r.err)
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Error("the listener still accepts connections after the build failed")
	}
}
