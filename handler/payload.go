package handler

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
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

// servePayload serves an invocation payload posted by the host.
func (h *Handler) servePayload(w http.ResponseWriter, r *http.Request, fn string) {
	start := time.Now()
	id := correlationID(r)
	logs := &logCollector{}
	c := &call{id: id, function: fn, http: true, payload: true, log: h.invocationLogger(id, fn, logs)}
	if r.Method != http.MethodPost {
		writeJSON(w, errorReply(http.StatusMethodNotAllowed, c, "the host posts invocations to /"+fn+"; callers use /api/"+fn))
		return
	}
	// The body arrives JSON-escaped inside the payload, up to six times its
	// size (\u00XX), so the payload limit is wider than the body limit.
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 6*h.maxBody+payloadOverhead))
	var tooLarge *http.MaxBytesError
	var rep *reply
	switch {
	case errors.As(err, &tooLarge):
		// Unread, the payload names neither the method nor the hub, so the
		// function cannot run: answer 413 without it.
		c.log.Warn("the invocation payload is over the limit", "limitBytes", tooLarge.Limit)
		rep = errorReply(http.StatusRequestEntityTooLarge, c,
			fmt.Sprintf("the request is larger than %d bytes (SIGNALR_MAX_BODY_BYTES); send fewer items per request", h.maxBody))
		if r.URL.Path != "/"+fn {
			// A trigger folder of the user's own has no res to answer in:
			// fail the invocation instead.
			writeJSON(w, rep)
			c.logDone(rep.status, start)
			return
		}
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
	out := payloadReply{Outputs: map[string]any{}}
	if c.http {
		h.cors.decorate(rep, c.header.Get("Origin"))
		headers := map[string]string{"Content-Type": jsonContentType}
		for k, vs := range rep.header {
			headers[k] = vs[0]
		}
		out.Outputs[httpOutputName] = httpOutput{StatusCode: rep.status, Status: rep.status, Body: rep.body, Headers: headers}
	}
	for name, v := range rep.outputs {
		out.Outputs[name] = v
	}
	c.logDone(rep.status, start)
	out.Logs = logs.lines()
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
	inv, err := decodeInvocation(raw)
	if err != nil {
		c.log.Error("invalid invocation payload", "error", err)
		return nil, errorReply(http.StatusBadRequest, c, "the invocation payload is not valid JSON")
	}
	req, err := inv.httpRequest()
	if err != nil {
		c.log.Error("invalid HTTP trigger in the invocation payload", "error", err)
		return nil, errorReply(http.StatusBadRequest, c, "the HTTP trigger in the invocation payload cannot be read")
	}
	if req != nil {
		c.method, c.query, c.header, c.identities = req.Method, req.Query, req.Headers, req.Identities
		c.body = req.Body
		return h.invoke(r.Context(), c), nil
	}
	c.http = false
	if c.body, err = inv.triggerData(); err != nil {
		c.log.Error("no trigger data", "error", err)
		return nil, errorReply(http.StatusBadRequest, c, err.Error())
	}
	rep := h.invoke(r.Context(), c)
	if rep.status >= 300 {
		return nil, rep
	}
	return rep, nil
}
