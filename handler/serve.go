package handler

import (
	"context"
	"errors"
	"fmt"
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
	go func() { errc <- srv.Serve(ln) }()
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
