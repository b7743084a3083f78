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
	"time"
)

// Serve answers requests on ln until ctx ends, then stops taking new ones
// and waits for those in flight, up to Options.DrainTimeout. It returns nil
// after a clean drain.
func (h *Handler) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		// Long enough for a negotiate that waits for the first access key
		// and a batch of sends with the service's own timeouts.
		WriteTimeout: 3 * time.Minute,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(h.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(jsonErrorListener{ln}) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	h.log.Info("shutting down: draining requests in flight", "timeout", h.drain.String())
	sctx, cancel := context.WithTimeout(context.Background(), h.drain)
	defer cancel()
	err := srv.Shutdown(sctx)
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
