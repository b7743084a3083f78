package handler

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/signalr-entra/handler/bindings"
	"github.com/signalr-entra/handler/internal/hostproto"
)

// call is one invocation of a function, however it arrived.
type call struct {
	id       string
	function string
	// http is false for a non-HTTP trigger (a queue, a timer); body then
	// holds the trigger's data.
	http       bool
	method     string
	query      url.Values
	header     http.Header
	body       []byte
	tooLarge   bool
	identities []hostproto.Identity
	log        *slog.Logger
	// outcome holds what the function adds to the invocation's one log
	// record, such as the hub: one record per request keeps logging cheap.
	outcome []slog.Attr
	// queryErr is set when the query string could not be read whole.
	queryErr error
	// payload is true when the host posted an invocation payload.
	payload bool
	// arrival says how a caller's request on an /api route came: proxied
	// or forwarded by the host, or direct.
	arrival hostproto.Arrival
	// upstreamChecked is set once an upstream request passed its checks.
	upstreamChecked bool
}

// logDone writes the invocation's record: its status, duration and outcome.
// It hands the record to the logger's handler itself: Logger.Info would
// also look up its caller's program counter, which no handler here prints,
// and read the clock a second time.
func (c *call) logDone(status int, start time.Time) {
	ctx := context.Background()
	lh := c.log.Handler()
	if !lh.Enabled(ctx, slog.LevelInfo) {
		return
	}
	now := time.Now()
	r := slog.NewRecord(now, slog.LevelInfo, "invocation done", 0)
	r.AddAttrs(slog.Int("status", status), slog.Int64("durationMs", now.Sub(start).Milliseconds()))
	r.AddAttrs(c.outcome...)
	_ = lh.Handle(ctx, r)
}

// invoke runs the function and says what to answer, within the request's
// one deadline, and before a shutdown's drain ends.
func (h *Handler) invoke(ctx context.Context, c *call) *reply {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	ctx, uncut := drainOf(ctx).withCutoff(ctx)
	defer uncut()
	// A payload's body arrives whole; only its size tells it is too large.
	if int64(len(c.body)) > h.maxBody {
		c.tooLarge, c.body = true, nil
	}
	if c.query == nil {
		c.query = url.Values{}
	}
	if c.header == nil {
		c.header = http.Header{}
	}
	switch c.function {
	case fnNegotiate:
		return h.negotiate(ctx, c)
	case fnMessages:
		return deliver(ctx, h, c, "SignalRMessage", bindings.DecodeMessages, messageAddress, h.svc.SendRouted)
	case fnUpstream:
		return h.upstreamEvent(ctx, c)
	case fnManage:
		return h.manage(ctx, c)
	default:
		return deliver(ctx, h, c, "SignalRGroupAction", bindings.DecodeGroupActions, memberAddress, h.svc.ApplyRouted)
	}
}

func (h *Handler) negotiate(ctx context.Context, c *call) *reply {
	if !c.http {
		return errorReply(http.StatusBadRequest, c, "negotiate needs an HTTP trigger named req")
	}
	if c.method != http.MethodGet && c.method != http.MethodPost {
		return methodNotAllowed(c, "GET, POST")
	}
	// The caller is authenticated first: a refused one learns nothing,
	// not even which hubs are served.
	var userID string
	var claims []bindings.Claim
	if h.signIn != nil {
		var rep *reply
		if userID, claims, rep = h.signIn.user(ctx, c, h.claimTypes); rep != nil {
			return rep
		}
	} else {
		userID, claims = h.userID(c), h.claims(c)
	}
	hub, rep := h.hub(c)
	if rep != nil {
		return rep
	}
	info, err := h.svc.ConnectionInfo(ctx, hub, userID, claims)
	if err != nil {
		status, msg := classify(err)
		c.log.Error("negotiate failed", "hub", hub, "status", status, "error", err)
		return errorReply(status, c, msg)
	}
	c.outcome = append(c.outcome, slog.String("hub", hub), slog.Bool("authenticated", userID != ""))
	rep = &reply{status: http.StatusOK, body: info}
	// The reply carries a bearer token: no cache may keep it.
	rep.setHeader("Cache-Control", "no-store")
	return rep
}

// deliver decodes the body as one item or an array of items and hands them
// to do (see sendAll), so that callers learn which went through, and where.
func deliver[T any](ctx context.Context, h *Handler, c *call, kind string,
	decode func([]byte, int) ([]T, error), addressOf func(T) address, do func(context.Context, string, T) (bindings.Route, error)) *reply {
	if c.http && c.method != http.MethodPost {
		return methodNotAllowed(c, "POST")
	}
	hub, rep := h.hub(c)
	if rep != nil {
		return rep
	}
	if c.tooLarge {
		return errorReply(http.StatusRequestEntityTooLarge, c,
			fmt.Sprintf("the body is larger than %d bytes (SIGNALR_MAX_BODY_BYTES); send fewer items per request", h.maxBody))
	}
	if len(bytes.TrimSpace(c.body)) == 0 {
		if c.arrival == hostproto.Proxied {
			// The host's proxy streams every body on, chunked or not.
			return errorReply(http.StatusBadRequest, c, fmt.Sprintf("the body is empty: send one %s as a JSON object, or a JSON array of them", kind))
		}
		// The host passes a body on only with a Content-Length: one sent
		// chunked arrives empty, in payload and forwarded mode alike.
		return errorReply(http.StatusBadRequest, c, fmt.Sprintf("the body is empty: send one %s as a JSON object, or a JSON array of them, "+
			"with a Content-Length header (the Functions host drops a body sent chunked, without one, unless it proxies the function)", kind))
	}
	items, err := decode(c.body, h.maxItems)
	var tooMany *bindings.ItemLimitError
	switch {
	case errors.As(err, &tooMany):
		return errorReply(http.StatusRequestEntityTooLarge, c,
			fmt.Sprintf("the body holds more than %d items (SIGNALR_MAX_ITEMS); send fewer items per request", h.maxItems))
	case err != nil:
		c.log.Warn("invalid "+c.function+" body", "error", err)
		return errorReply(http.StatusBadRequest, c, err.Error())
	}
	// Sent by index, so that each item's route lands in its place.
	indexes := make([]int, len(items))
	for i := range indexes {
		indexes[i] = i
	}
	routes := make([]route, len(items))
	for i := range routes {
		// An item not sent keeps this empty route.
		routes[i] = routeOf(i, bindings.Route{})
	}
	// No item starts once a shutdown begins; those started go on to the
	// drain's cutoff.
	admit, stopAdmitting := drainOf(ctx).admitting(ctx)
	defer stopAdmitting()
	errs := sendAll(admit, indexes, func(i int) address { return addressOf(items[i]) }, func(_ context.Context, i int) error {
		r, err := do(ctx, hub, items[i])
		routes[i] = routeOf(i, r)
		return err
	})
	accepted := make([]int, 0, len(items))
	var failed []failure
	status, invalid, stopped := 0, 0, 0
	for i, err := range errs {
		if err != nil {
			if errors.As(err, new(*bindings.InputError)) {
				invalid++
			}
			st, msg := classify(err)
			switch {
			case errors.Is(err, errShuttingDown):
				st, msg = http.StatusServiceUnavailable, notSentPrefix+"the handler is shutting down; it is safe to send again"
				stopped++
			case errors.Is(err, errNotSent):
				msg = notSentPrefix + "the request's time ran out before its turn; it is safe to send again"
			case errors.Is(err, context.Canceled) && errors.Is(context.Cause(ctx), errDrainEnded):
				// Cut off at the drain's end: unknown when it was written
				// (itemFailure says so), else never sent.
				st, msg = http.StatusServiceUnavailable, notSentPrefix+"the handler shut down before the request went out; it is safe to send again"
				stopped++
			}
			c.log.Error(c.function+" item failed", "hub", hub, "index", i, "status", st, "error", err)
			failed = append(failed, itemFailure(i, err, msg))
			if status == 0 {
				status = st
			}
			continue
		}
		accepted = append(accepted, i)
	}
	if len(failed) == 0 {
		c.outcome = append(c.outcome, slog.String("hub", hub), slog.Int("count", len(items)))
		return &reply{status: http.StatusAccepted, body: acceptedBody{Accepted: accepted, Routes: routes}}
	}
	summary := fmt.Sprintf("SignalR Service did not accept %d of %d items", len(failed), len(items))
	switch len(failed) {
	case invalid:
		// Refused here, before any request: the service never saw them.
		summary = fmt.Sprintf("%d of %d items are invalid; failed says why", len(failed), len(items))
	case stopped:
		summary = fmt.Sprintf("the handler is shutting down: %d of %d items did not go through; failed says which are safe to send again", len(failed), len(items))
	}
	return &reply{status: status, body: partialBody{
		Error:         summary,
		CorrelationID: c.id,
		Accepted:      accepted,
		Failed:        failed,
		Routes:        routes,
	}}
}

// hub is the hub the call names in its hub query parameter (in any case, as
// ASP.NET reads a query), or the default. A query that cannot be read, or
// names the hub twice, is refused rather than read as naming none.
func (h *Handler) hub(c *call) (string, *reply) {
	if c.queryErr != nil {
		return "", errorReply(http.StatusBadRequest, c, "the query string cannot be read ("+c.queryErr.Error()+"): percent-encode it correctly")
	}
	var name string
	n := 0
	for k, v := range c.query {
		if strings.EqualFold(k, "hub") && len(v) > 0 {
			name, n = v[0], n+len(v)
		}
	}
	if n > 1 {
		return "", errorReply(http.StatusBadRequest, c, fmt.Sprintf("the query names hub %d times: name it once", n))
	}
	if name == "" {
		return h.hubs[0], nil
	}
	if hub, ok := h.servedHub(name); ok {
		return hub, nil
	}
	return "", errorReply(http.StatusNotFound, c,
		"hub "+hostproto.Quote(name)+" is not served here; the hubs are "+strings.Join(h.hubs, ", ")+" (SIGNALR_HUBS)")
}

func methodNotAllowed(c *call, allow string) *reply {
	rep := errorReply(http.StatusMethodNotAllowed, c, fmt.Sprintf("method %q is not allowed; use %s", c.method, allow))
	rep.setHeader("Allow", allow)
	return rep
}
