package handler

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"github.com/signalr-entra/handler/internal/hostproto"
	"github.com/signalr-entra/handler/upstream"
)

const (
	fnUpstream = "upstream"
	// upstreamDirect is the folder of the upstream function with no
	// binding beside req and res, which the host proxies (or forwards), so
	// that MessagePack bodies reach it as sent; it runs fnUpstream.
	upstreamDirect = "upstream-direct"
	// eventsOutputName is the output the upstream function writes each
	// accepted event to in payload mode. The host keeps only the outputs
	// function.json declares, so the name is harmless where it is not.
	eventsOutputName = "events"
)

// HandleEvent registers fn for event of hub: upstream.EventConnected,
// upstream.EventDisconnected, or the target of a hub method clients invoke. Names
// match without regard to case. Events with no function registered are
// accepted and complete with no result. HandleEvent panics, as
// http.HandleFunc does, when the hub is not served, the event is empty, fn
// is nil, or the event already has a function.
func (h *Handler) HandleEvent(hub, event string, fn upstream.EventFunc) {
	served, ok := h.servedHub(hub)
	switch {
	case !ok:
		panic(fmt.Sprintf("handler: HandleEvent: hub %q is not served; the hubs are %s", hub, strings.Join(h.hubs, ", ")))
	case event == "":
		panic("handler: HandleEvent: empty event")
	case fn == nil:
		panic("handler: HandleEvent: nil EventFunc")
	}
	if !h.up.Handle(served, event, fn) {
		panic(fmt.Sprintf("handler: HandleEvent: event %q of hub %q already has a function", event, hub))
	}
}

// servedHub returns the served hub name matches: the service lowercases
// hub names, so case does not tell hubs apart.
func (h *Handler) servedHub(name string) (string, bool) {
	for _, hub := range h.hubs {
		if strings.EqualFold(hub, name) {
			return hub, true
		}
	}
	return "", false
}

// upstreamRefusal runs the checks of an upstream request, which read its
// method and headers only, and says what to answer when it may not pass.
// They run before anything else, so that a caller that is not the service
// learns nothing, not even which hubs are served, and, where the body is
// still unread, costs no more than its headers.
func (h *Handler) upstreamRefusal(ctx context.Context, c *call) *reply {
	if c.method != http.MethodPost {
		return methodNotAllowed(c, "POST")
	}
	if r := h.up.Check(ctx, c.header); r != nil {
		h.up.LogRefusal(r, c.id)
		c.outcome = append(c.outcome, slog.String("refused", r.Kind))
		return &reply{status: http.StatusUnauthorized, body: rawBody(nil)}
	}
	c.upstreamChecked = true
	return nil
}

// upstreamEvent serves one upstream request.
func (h *Handler) upstreamEvent(ctx context.Context, c *call) *reply {
	if !c.upstreamChecked {
		if rep := h.upstreamRefusal(ctx, c); rep != nil {
			return rep
		}
	}
	mediaType, _, _ := mime.ParseMediaType(c.header.Get("Content-Type"))
	if mediaType != upstream.ContentTypeJSON && mediaType != upstream.ContentTypeMsgpack {
		return errorReply(http.StatusUnsupportedMediaType, c,
			"the content type is "+hostproto.Quote(c.header.Get("Content-Type"))+"; upstream bodies are application/json or application/x-msgpack")
	}
	e, missing := upstream.ReadEvent(c.header, h.svc)
	if len(missing) > 0 {
		return errorReply(http.StatusBadRequest, c, "the request lacks the headers "+strings.Join(missing, ", ")+", which SignalR Service sends upstream")
	}
	hub, ok := h.servedHub(e.Hub)
	if !ok {
		return errorReply(http.StatusNotFound, c, "hub "+hostproto.Quote(e.Hub)+" is not served here; the hubs are "+strings.Join(h.hubs, ", ")+" (SIGNALR_HUBS)")
	}
	e.Hub = hub
	if c.tooLarge {
		return errorReply(http.StatusRequestEntityTooLarge, c, fmt.Sprintf("the body is larger than %d bytes (SIGNALR_MAX_BODY_BYTES)", h.maxBody))
	}
	msgpack := mediaType == upstream.ContentTypeMsgpack
	if msgpack && c.payload {
		h.up.LogOnce(c.log, "msgpack payload", "a MessagePack upstream request reached the host's payload mode, which hands bodies on as text and garbles binary data; "+
			"point the upstream rule at /api/upstream-direct/{hub}/{category}/{event}, which the host proxies with enableProxyingHttpRequest in host.json (or forwards with enableForwardingHttpRequest), or have clients use the JSON protocol")
		return errorReply(http.StatusUnsupportedMediaType, c, "MessagePack upstream bodies cannot pass the Functions host's payload mode; the function log says what to change")
	}
	if err := e.ReadBody(c.body, msgpack); err != nil {
		c.log.Warn("invalid upstream body", "hub", e.Hub, "category", e.Category, "event", hostproto.Truncate(e.Event, 200), "error", err)
		return errorReply(http.StatusBadRequest, c, err.Error())
	}

	rep := h.runEvent(ctx, c, e, msgpack)
	c.outcome = append(c.outcome, slog.String("hub", e.Hub), slog.String("category", e.Category), slog.String("event", hostproto.Truncate(e.Event, 200)), slog.String("connectionId", hostproto.Truncate(e.ConnectionID, 100)))
	if c.payload && rep.status < 300 {
		b, err := json.Marshal(e)
		if err != nil {
			panic(err) // strings, maps of strings and valid JSON only
		}
		rep.outputs = map[string]any{eventsOutputName: string(b)}
	}
	return rep
}

// runEvent runs the event's function, if any, and frames the answer.
func (h *Handler) runEvent(ctx context.Context, c *call, e *upstream.Event, msgpack bool) *reply {
	fn := h.up.Func(e)
	var result any
	var err error
	if fn != nil {
		result, err = fn(ctx, e)
	}
	ok := &reply{status: http.StatusOK, body: rawBody(nil)}
	switch {
	case e.Category == upstream.CategoryConnections && err != nil && e.Event == upstream.EventConnected:
		c.log.Warn("the connected function refused the connection (403)", "hub", e.Hub, "error", err)
		return &reply{status: http.StatusForbidden, body: rawBody(nil)}
	case err != nil && e.InvocationID == "":
		c.log.Warn("the event's function failed", "hub", e.Hub, "event", hostproto.Truncate(e.Event, 200), "error", err)
		return ok
	case e.InvocationID == "":
		// Nobody awaits a result: the service ignores the body.
		return ok
	case err != nil:
		c.log.Warn("the invocation's function failed; the client gets its error", "hub", e.Hub, "event", hostproto.Truncate(e.Event, 200), "error", err)
		return completionReply(e.InvocationID, nil, err.Error(), msgpack)
	case result == nil:
		// An empty 200 completes the invocation with no result.
		return ok
	}
	raw, merr := json.Marshal(result)
	if merr != nil {
		c.log.Error("the invocation's result cannot be encoded as JSON", "hub", e.Hub, "event", hostproto.Truncate(e.Event, 200), "error", merr)
		return completionReply(e.InvocationID, nil, "the result could not be serialized", msgpack)
	}
	return completionReply(e.InvocationID, raw, "", msgpack)
}

// completionReply frames a hub protocol completion in the client's
// protocol: the service passes a 200's body to the client as it is.
func completionReply(invocationID string, result json.RawMessage, errMsg string, msgpack bool) *reply {
	b, contentType := upstream.Completion(invocationID, result, errMsg, msgpack)
	rep := &reply{status: http.StatusOK, body: rawBody(b)}
	rep.setHeader("Content-Type", contentType)
	return rep
}
