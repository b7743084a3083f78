package handler

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/signalr-entra/handler/internal/funclog"
	"github.com/signalr-entra/handler/internal/hostproto"
)

// serveForwarded serves a caller's own HTTP request: proxied by the host
// (enableProxyingHttpRequest), forwarded by it (enableForwardingHttpRequest)
// or, standalone, straight from the caller. Neither way has a Logs array, so
// the invocation's record goes to the handler's log with the host's
// invocation id.
func (h *Handler) serveForwarded(w http.ResponseWriter, r *http.Request, fn string) {
	start := time.Now()
	id := correlationID(r)
	query, queryErr := url.ParseQuery(r.URL.RawQuery)
	c := &call{
		id:       id,
		function: fn,
		http:     true,
		method:   r.Method,
		query:    query,
		queryErr: queryErr,
		header:   r.Header,
		arrival:  hostproto.ArrivalOf(r),
		log:      funclog.InvocationLogger(h.log, id, fn, nil),
	}
	c.outcome = append(c.outcome, slog.String("arrival", string(c.arrival)))
	origin := r.Header.Get("Origin")
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.cors.preflight(w, r, id)
		return
	}
	if h.standalone && origin != "" && !h.cors.allowed(origin) && fn != fnNegotiate {
		// Without a host there is no function key: refuse what a page from
		// another site could make a browser send.
		writeJSON(w, errorReply(http.StatusForbidden, c, "requests from browser origin "+hostproto.Quote(origin)+" are not allowed; add the origin to SIGNALR_CORS_ORIGINS"))
		return
	}
	finish := func(rep *reply) {
		h.cors.decorate(rep, origin)
		writeJSON(w, rep)
		// Send the reply before writing the log record, which would
		// otherwise hold it back until the handler returns.
		_ = http.NewResponseController(w).Flush()
		c.logDone(rep.status, start)
	}
	if fn == fnUpstream {
		// The upstream routes are anonymous at the host: a request that
		// is not the service's is refused on its headers, its body unread.
		ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
		rep := h.upstreamRefusal(ctx, c)
		cancel()
		if rep != nil {
			finish(rep)
			return
		}
	}
	if fn != fnNegotiate {
		held := requestBytes(r, h.maxBody)
		if !h.inflight.acquire(held) {
			c.log.Warn("too many request bytes in flight: the request is refused with 503", "limitBytes", h.inflight.limit)
			writeJSON(w, h.busyReply(c))
			c.logDone(http.StatusServiceUnavailable, start)
			return
		}
		defer h.inflight.release(held)
		// Read into a buffer of the declared size: io.ReadAll would grow
		// one by doubling, and leave up to the body's size again as garbage.
		var buf bytes.Buffer
		if r.ContentLength >= 0 {
			buf.Grow(int(held) + bytes.MinRead)
		}
		_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, h.maxBody))
		b := buf.Bytes()
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			c.tooLarge = true
		case err != nil:
			c.log.Warn("reading the request body failed", "error", err)
			writeJSON(w, errorReply(http.StatusBadRequest, c, "could not read the request body"))
			return
		}
		c.body = b
	}
	finish(h.invoke(r.Context(), c))
}
