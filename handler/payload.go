package handler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/signalr-entra/handler/internal/funclog"
	"github.com/signalr-entra/handler/internal/hostproto"
	"github.com/signalr-entra/handler/upstream"
)

// payloadReply is what the host expects back in payload mode.
type payloadReply struct {
	Outputs     map[string]any `json:"Outputs"`
	Logs        []string       `json:"Logs"`
	ReturnValue any            `json:"ReturnValue"`
}

// httpOutput is an http output binding value. Some host versions require
// status beside statusCode; both carry the same number.
type httpOutput struct {
	StatusCode int               `json:"statusCode"`
	Status     int               `json:"status"`
	Body       any               `json:"body"`
	Headers    map[string]string `json:"headers"`
}

// httpOutputName is the http output binding name the function folders use.
const httpOutputName = "res"

// payloadOverhead is room in an invocation payload beyond the caller's body,
// for headers, identities and metadata.
const payloadOverhead = 1 << 20

// payloadNeeds says what each function reads of a payload's HTTP trigger:
// negotiate the hub, the origin and, when they can name the user, the
// identities and the headers that do; messages and groups the body;
// upstream the body and the service's headers.
func (h *Handler) payloadNeeds() map[string]*hostproto.Needs {
	negotiate := &hostproto.Needs{Query: []string{"hub"}, Headers: []string{"Origin"}}
	if h.appService {
		negotiate.Identities = true
		negotiate.Headers = append(negotiate.Headers, principalIDHeader, principalHeader)
	}
	if h.userIDHeader != "" {
		negotiate.Headers = append(negotiate.Headers, http.CanonicalHeaderKey(h.userIDHeader))
	}
	if h.signIn != nil {
		negotiate.Headers = append(negotiate.Headers, "Authorization")
	}
	send := &hostproto.Needs{Query: []string{"hub"}, Headers: []string{"Origin", "Content-Type"}, Body: true}
	upstreamNeeds := &hostproto.Needs{Body: true, Headers: []string{"Content-Type"}}
	for _, name := range upstream.RequestHeaders() {
		upstreamNeeds.Headers = append(upstreamNeeds.Headers, http.CanonicalHeaderKey(name))
	}
	return map[string]*hostproto.Needs{fnNegotiate: negotiate, fnMessages: send, fnGroups: send, fnManage: send, fnUpstream: upstreamNeeds}
}

// payloadBuffers hold payloads while they are served: nothing read from
// one outlives its request, and a browser's negotiate payload is 5–10 KB,
// which reading into a fresh slice each time would copy and grow again.
var payloadBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledPayload bounds the buffers kept for reuse.
const maxPooledPayload = 256 << 10

// servePayload serves an invocation payload posted by the host.
func (h *Handler) servePayload(w http.ResponseWriter, r *http.Request, fn string) {
	start := time.Now()
	id := correlationID(r)
	logs := &funclog.Collector{}
	c := &call{id: id, function: fn, http: true, payload: true, log: funclog.InvocationLogger(h.log, id, fn, logs)}
	if r.Method != http.MethodPost {
		writeJSON(w, errorReply(http.StatusMethodNotAllowed, c, "the host posts invocations to /"+fn+"; callers use /api/"+fn))
		return
	}
	// The body arrives JSON-escaped inside the payload, and a queue item
	// twice, so up to seven times its size (a control character becomes
	// \\u0001): the payload limit is wider than the body limit.
	limit := 7*h.maxBody + payloadOverhead
	held := requestBytes(r, limit)
	if !h.inflight.acquire(held) {
		// Unread, the payload cannot run the function: answer in res.
		c.log.Warn("too many request bytes in flight: the invocation is refused with 503", "limitBytes", h.inflight.limit)
		h.writePayloadReply(w, r, c, h.busyReply(c), true, logs, start)
		return
	}
	defer h.inflight.release(held)
	buf := payloadBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= maxPooledPayload {
			payloadBuffers.Put(buf)
		}
	}()
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	raw := buf.Bytes()
	var tooLarge *http.MaxBytesError
	var rep *reply
	switch {
	case errors.As(err, &tooLarge):
		// Unread, the payload names neither the method nor the hub, so the
		// function cannot run: answer 413 without it.
		c.log.Warn("the invocation payload is over the limit", "limitBytes", tooLarge.Limit)
		rep = errorReply(http.StatusRequestEntityTooLarge, c,
			fmt.Sprintf("the request is larger than %d bytes (SIGNALR_MAX_BODY_BYTES); send fewer items per request", h.maxBody))
	case err != nil:
		c.log.Warn("reading the invocation payload failed", "error", err)
		writeJSON(w, errorReply(http.StatusBadRequest, c, "could not read the invocation payload"))
		return
	default:
		var rejected *reply
		rep, rejected = h.invokePayload(r, c, raw)
		if rejected != nil {
			// The host itself sent what cannot be read, or a non-HTTP
			// trigger failed: a non-2xx answer fails the invocation, so
			// that the host logs it and the trigger retries.
			writeJSON(w, rejected)
			c.logDone(rejected.status, start)
			return
		}
	}
	h.writePayloadReply(w, r, c, rep, tooLarge != nil, logs, start)
}

// writePayloadReply answers the host with rep as the function's http
// output and its other outputs. The reply to a payload left unread (too
// large, or over the bytes in flight) goes in res on the function's own
// route; a trigger folder of the user's own has no res to answer in, so
// there it fails the invocation instead, and the trigger retries.
func (h *Handler) writePayloadReply(w http.ResponseWriter, r *http.Request, c *call, rep *reply, unread bool, logs *funclog.Collector, start time.Time) {
	if unread && triggerFunction(r.URL.Path) != "" {
		writeJSON(w, rep)
		c.logDone(rep.status, start)
		return
	}
	out := payloadReply{Outputs: make(map[string]any, 1+len(rep.outputs))}
	if c.http {
		h.cors.decorate(rep, c.header.Get("Origin"))
		headers := map[string]string{"Content-Type": jsonContentType}
		for k, vs := range rep.header {
			headers[k] = vs[0]
		}
		out.Outputs[httpOutputName] = &httpOutput{StatusCode: rep.status, Status: rep.status, Body: rep.body, Headers: headers}
	}
	for name, v := range rep.outputs {
		out.Outputs[name] = v
	}
	c.logDone(rep.status, start)
	out.Logs = logs.Lines()
	b, err := json.Marshal(out)
	if err != nil {
		panic(err) // plain types only
	}
	w.Header().Set("Content-Type", jsonContentType)
	_, _ = w.Write(b)
}

// invokePayload decodes the payload into c and runs the function. The
// second reply, when set, is to go back to the host as a failure.
func (h *Handler) invokePayload(r *http.Request, c *call, raw []byte) (*reply, *reply) {
	inv, err := hostproto.DecodeInvocation(raw, h.needs[c.function])
	if err != nil {
		c.log.Error("invalid invocation payload", "error", err)
		msg := "the HTTP trigger in the invocation payload cannot be read"
		if errors.Is(err, hostproto.ErrNotJSON) {
			msg = "the invocation payload is not valid JSON"
		}
		return nil, errorReply(http.StatusBadRequest, c, msg)
	}
	if req := inv.Request; req != nil {
		c.method, c.query, c.header, c.identities, c.body = req.Method, req.Query, req.Headers, req.Identities, req.Body
		return h.invoke(r.Context(), c), nil
	}
	c.http = false
	if c.body, err = inv.TriggerData(); err != nil {
		c.log.Error("no trigger data", "error", err)
		return nil, errorReply(http.StatusBadRequest, c, err.Error())
	}
	rep := h.invoke(r.Context(), c)
	if rep.status >= 300 {
		return nil, rep
	}
	return rep, nil
}
