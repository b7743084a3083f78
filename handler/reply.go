package handler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/signalr-entra/handler/bindings"
	"github.com/signalr-entra/handler/internal/hostproto"
)

const (
	fnNegotiate = "negotiate"
	fnMessages  = "messages"
	fnGroups    = "groups"

	invocationIDHeader = hostproto.InvocationIDHeader
	jsonContentType    = "application/json; charset=utf-8"
)

// reply is a function's answer, written as a raw HTTP reply (forwarded
// mode) or as the http output of a payload reply.
type reply struct {
	status int
	header http.Header
	body   any
	// outputs are payload outputs beside the http one, by binding name.
	outputs map[string]any
}

// rawBody is a body sent as it is, such as a hub protocol completion, or
// nothing at all; its content type, if any, is in the reply's header.
type rawBody []byte

// MarshalJSON makes the body a string in a payload reply's http output,
// which the host writes out unchanged.
func (b rawBody) MarshalJSON() ([]byte, error) { return json.Marshal(string(b)) }

// errorBody is what callers see of a failure: short, safe, and a correlation
// id to find the details in the log.
type errorBody struct {
	Error         string `json:"error"`
	CorrelationID string `json:"correlationId"`
}

// partialBody answers messages and groups requests of which some items did
// not go through: accepted and failed list them by index.
type partialBody struct {
	Error         string    `json:"error"`
	CorrelationID string    `json:"correlationId"`
	Accepted      []int     `json:"accepted"`
	Failed        []failure `json:"failed"`
	Routes        []route   `json:"routes"`
}

// failure is one message or group action the service did not accept.
// State says what became of it: "notSent" (safe to send again),
// "refused" (the service or the handler refused it), "unknown" (the
// answer was lost after it was sent: it may have been delivered), or,
// with several endpoints, "partial" (some took it: routes says which).
type failure struct {
	Index int    `json:"index"`
	Error string `json:"error"`
	State string `json:"state"`
}

// itemFailure is the failure of item i with err, whose short message is
// msg. Where msg speaks of an answer that did not come in time, true only
// of an item that went out, the text is made to agree with the item's
// state.
func itemFailure(i int, err error, msg string) failure {
	const (
		see     = "; the function log has the details under this correlation id"
		unknown = ": the item may have been delivered, and sending it again may deliver it twice" + see
	)
	state := bindings.OutcomeOf(err)
	timedOut := errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
	switch {
	case state == bindings.Unknown && timedOut:
		msg = "SignalR Service did not answer in time" + unknown
	case state == bindings.Unknown:
		msg = "the answer of SignalR Service was lost on the way back" + unknown
	case state == bindings.NotSent && timedOut && !strings.HasPrefix(msg, notSentPrefix):
		// Such as a token or key that did not come in time.
		msg = notSentPrefix + "the time ran out before the request went out to SignalR Service; it is safe to send again" + see
	case state == bindings.Partial:
		msg = "some endpoints took it and others did not (routes says which): send it again only to the others, naming them in endpoints, or it is delivered twice through those that took it; " + msg
	case state == bindings.Refused && timedOut:
		// With several endpoints: one refused it, and the time ran out
		// before it went to another.
		msg = "SignalR Service refused it, and the time ran out before it went to every endpoint; routes says which endpoints took it" + see
	}
	return failure{Index: i, Error: msg, State: string(state)}
}

// notSentPrefix begins the message of an item that never went out.
const notSentPrefix = "not sent: "

// acceptedBody answers messages and groups requests that all went through.
type acceptedBody struct {
	Accepted []int   `json:"accepted"`
	Routes   []route `json:"routes"`
}

// route says, for the item at Index, which endpoints took it, failed it,
// or were skipped as offline, by service URI (never a key). The lists are
// always present, empty when none, so that one endpoint and several give
// the same shape; an item refused or not sent has them all empty. Unknown,
// present when not empty, lists those of failed that may have taken it
// all the same: the answer was lost.
type route struct {
	Index   int      `json:"index"`
	Took    []string `json:"took"`
	Failed  []string `json:"failed"`
	Unknown []string `json:"unknown,omitempty"`
	Skipped []string `json:"skipped"`
}

func routeOf(i int, r bindings.Route) route {
	orEmpty := func(l []string) []string {
		if l == nil {
			return []string{}
		}
		return l
	}
	return route{Index: i, Took: orEmpty(r.Took), Failed: orEmpty(r.Failed), Unknown: r.Unknown, Skipped: orEmpty(r.Skipped)}
}

func (r *reply) setHeader(key, value string) {
	if r.header == nil {
		r.header = http.Header{}
	}
	r.header.Set(key, value)
}

func errorReply(status int, c *call, msg string) *reply {
	return &reply{status: status, body: errorBody{Error: msg, CorrelationID: c.id}}
}

// writeJSON writes rep as a raw HTTP reply.
func writeJSON(w http.ResponseWriter, rep *reply) {
	for k, vs := range rep.header {
		w.Header()[k] = vs
	}
	if raw, ok := rep.body.(rawBody); ok {
		w.WriteHeader(rep.status)
		_, _ = w.Write(raw)
		return
	}
	b, err := marshalReply(rep.body)
	if err != nil {
		// Every body is built from plain types; this cannot fail.
		panic(err)
	}
	w.Header().Set("Content-Type", jsonContentType)
	// A reply flushed before the handler returns keeps its length rather
	// than going chunked.
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(rep.status)
	_, _ = w.Write(b)
}

// correlationID is the host's invocation id, or a new random id when there
// is none (standalone).
func correlationID(r *http.Request) string {
	if id := r.Header.Get(invocationIDHeader); plainID(id) {
		return id
	}
	return newCorrelationID()
}

// newCorrelationID is a random id for a request that brings none.
func newCorrelationID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// plainID keeps ids that callers may set (standalone) to what a GUID uses,
// so that a log line or reply never carries arbitrary text from them.
func plainID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}
