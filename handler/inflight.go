package handler

import (
	"fmt"
	"net/http"
	"sync"
)

// DefaultMaxInflightBytes bounds the request bytes held across all
// requests when Options.MaxInflightBytes is zero. A request costs a few
// times its bytes while it is served (its body, the items read from it,
// what goes out), so this keeps the handler within a few hundred MB
// however many large requests arrive at once: well inside the 1.5 GB of a
// Consumption plan instance.
const DefaultMaxInflightBytes = 64 << 20

// inflightRetryAfter is the Retry-After, in seconds, of a request refused
// because too many bytes are in flight: requests end within seconds.
const inflightRetryAfter = "1"

// byteBudget counts the request bytes held across requests, so that many
// large requests at once cannot take the process's memory.
type byteBudget struct {
	mu    sync.Mutex
	used  int64
	limit int64
}

// acquire takes n bytes of the budget and reports whether it could. A
// request alone is always taken, however large: its own size is bounded by
// SIGNALR_MAX_BODY_BYTES, and refusing it would refuse it forever.
func (b *byteBudget) acquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used > 0 && b.used+n > b.limit {
		return false
	}
	b.used += n
	return true
}

// take adds n bytes the request holds already, such as an answer that
// arrived, and reports whether the budget still has room.
func (b *byteBudget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used += n
	return b.used <= b.limit
}

func (b *byteBudget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

// requestBytes is what a request's body takes of the budget: its declared
// length, or the most it may be when it declares none.
func requestBytes(r *http.Request, limit int64) int64 {
	if r.ContentLength >= 0 {
		return min(r.ContentLength, limit)
	}
	return limit
}

// busyReply answers a request refused because the budget is spent.
func (h *Handler) busyReply(c *call) *reply {
	rep := errorReply(http.StatusServiceUnavailable, c, fmt.Sprintf(
		"the handler is busy: requests of more than %d bytes in all are in flight (SIGNALR_MAX_INFLIGHT_BYTES); retry after %s s, or raise the setting",
		h.inflight.limit, inflightRetryAfter))
	rep.setHeader("Retry-After", inflightRetryAfter)
	return rep
}
