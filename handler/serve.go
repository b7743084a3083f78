package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Serve answers requests on ln until ctx ends, then stops taking new ones
// and drains those in flight within Options.DrainTimeout: no new item of
// a batch starts, the calls to the service in flight run until shortly
// before the drain ends, and every caller is answered with what went
// through, what was not sent and what may have arrived. It returns nil
// after a clean drain.
func (h *Handler) Serve(ctx context.Context, ln net.Listener) error {
	return ServeWhenReady(ctx, ln, h.log, func() (*Handler, error) { return h, nil })
}

// ServeWhenReady answers requests on ln at once and meanwhile builds the
// handler with build, so that a process can listen first and read its
// settings, build its credentials and so on while the first connections are
// accepted: start-up takes the longer of the two rather than their sum.
// Requests that come before the handler wait for it. If build fails, they
// get 503 and ServeWhenReady returns build's error; otherwise it serves as
// Serve does. log receives the HTTP server's own errors, such as a
// connection it could not read a request from.
func ServeWhenReady(ctx context.Context, ln net.Listener, log *slog.Logger, build func() (*Handler, error)) error {
	gate := &startGate{built: make(chan struct{})}
	srv := &http.Server{
		Handler:           gate,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		// Long enough for a negotiate that waits for the first access key
		// and a batch of sends with the service's own timeouts.
		WriteTimeout: 3 * time.Minute,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	conns := newConnTracker()
	srv.ConnState = conns.track
	drain := newDrainState()
	srv.BaseContext = func(net.Listener) context.Context { return withDrain(context.Background(), drain) }
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(jsonErrorListener{ln}) }()
	h, err := build()
	gate.h, gate.err = h, err
	close(gate.built)
	if err != nil {
		// Long enough to answer the requests that waited.
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return err
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	h.log.Info("shutting down: draining requests in flight", "timeout", h.drain.String())
	drain.begin(h.drain)
	sctx, cancel := context.WithTimeout(context.Background(), h.drain)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(sctx) }()
	select {
	case err = <-shut:
	case <-conns.quiet():
		// Every request has been answered: close the connections now
		// rather than at Shutdown's next look, which comes up to half a
		// second later and could fall after the drain.
		_ = srv.Close()
		cancel()
		<-shut
		err = nil
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("serving on %s: %w", ln.Addr(), serr)
	}
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("requests still in flight after %s were cut off: %w", h.drain, err)
	}
	h.log.Info("shut down")
	return nil
}

// connTracker knows which connections are reading or serving a request,
// so that a shutdown can end as soon as every one has been answered.
type connTracker struct {
	mu       sync.Mutex
	busy     map[net.Conn]bool
	draining bool
	done     chan struct{} // closed when draining and none is busy
}

func newConnTracker() *connTracker {
	return &connTracker{busy: map[net.Conn]bool{}, done: make(chan struct{})}
}

// track is the server's ConnState hook. A new connection counts as busy:
// its request may be on the way.
func (t *connTracker) track(c net.Conn, s http.ConnState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s == http.StateNew || s == http.StateActive {
		t.busy[c] = true
	} else {
		delete(t.busy, c)
	}
	t.check()
}

// quiet starts the drain and returns a channel closed once no connection
// is busy.
func (t *connTracker) quiet() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.draining = true
	t.check()
	return t.done
}

func (t *connTracker) check() {
	if t.draining && len(t.busy) == 0 {
		select {
		case <-t.done:
		default:
			close(t.done)
		}
	}
}

// startGate holds requests until the handler is built.
type startGate struct {
	built chan struct{}
	h     *Handler // set before built closes
	err   error
}

func (g *startGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case <-g.built:
	case <-r.Context().Done():
		return
	}
	if g.err != nil {
		writeJSON(w, &reply{status: http.StatusServiceUnavailable, body: errorBody{
			Error:         "the handler failed to start and is stopping; its log says why",
			CorrelationID: correlationID(r),
		}})
		return
	}
	g.h.ServeHTTP(w, r)
}

// plain431 is the reply net/http writes straight to the connection, past
// any handler, when a request's headers are over Server.MaxHeaderBytes.
var plain431 = []byte("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n431 Request Header Fields Too Large")

// jsonErrorListener gives its connections jsonErrorConn.
type jsonErrorListener struct{ net.Listener }

func (l jsonErrorListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return jsonErrorConn{c}, nil
}

// jsonErrorConn turns net/http's plain-text 431 into the JSON of every
// other error; net/http offers no hook for it.
type jsonErrorConn struct{ net.Conn }

// CloseWrite lets net/http half-close the connection after the 431, so
// that the reply is read rather than lost to a reset, as without the wrapper.
func (c jsonErrorConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c jsonErrorConn) Write(p []byte) (int, error) {
	if !bytes.Equal(p, plain431) {
		return c.Conn.Write(p)
	}
	body, _ := json.Marshal(errorBody{
		Error:         fmt.Sprintf("the request headers are larger than %d bytes: send fewer or shorter headers", http.DefaultMaxHeaderBytes),
		CorrelationID: newCorrelationID(),
	})
	reply := fmt.Sprintf("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", jsonContentType, len(body), body)
	if _, err := io.WriteString(c.Conn, reply); err != nil {
		return 0, err
	}
	return len(p), nil
}
