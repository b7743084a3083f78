package bindings

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"
)

const (
	// fetchTimeout bounds one fetch of a key or token with its retries;
	// each call inside has its own shorter bound (Options.FetchTimeout).
	fetchTimeout   = requestTimeout
	backoffStart   = 3 * time.Second
	backoffCeiling = 5 * time.Minute
)

// resource holds one value that expires, such as a temporary access key or
// an Entra token. One fetch runs at a time however many callers ask, and
// callers never wait while a valid value exists (azcore's temporal.Resource
// follows the same idea).
type resource[T any] struct {
	now func() time.Time
	// fetch gets a new value, when to refresh it, and when to stop using
	// it; refused, when not nil, is the value the service refused, which a
	// cache may hand back.
	fetch func(ctx context.Context, refused *T) (v T, refreshAt, expiresAt time.Time, err error)
	// base ends in-flight fetches when the client closes.
	base context.Context

	mu        sync.Mutex
	v         T
	has       bool
	refreshAt time.Time
	expiresAt time.Time
	inflight  *flight[T]
	err       error // of the last fetch
	failures  int
	retryAt   time.Time // no fetch before this after a failure
	// gen counts the values fetched, so that a refusal of one value
	// renews it once however many requests saw the refusal.
	gen       uint64
	renewals  int       // renewals in a row, for their back-off
	renewAt   time.Time // no renewal before this
	lastRenew time.Time
	refused   *T // the value the next fetch replaces, after a refusal
}

type flight[T any] struct {
	done chan struct{}
	v    T
	gen  uint64
	err  error
}

// errWait reports that a value did not arrive within the caller's bound.
var errWait = errors.New("timed out waiting")

// get returns a valid value at once when there is one, starting a refresh in
// the background when it is due. Otherwise it starts a fetch (or joins the
// one running) and waits for it up to wait. While a failed fetch's back-off
// lasts and no valid value exists, it returns that failure without waiting.
// gen identifies the value for renew.
func (r *resource[T]) get(ctx context.Context, wait time.Duration) (v T, gen uint64, err error) {
	var zero T
	r.mu.Lock()
	now := r.now()
	if r.has && now.Before(r.expiresAt) {
		v, gen := r.v, r.gen
		if !now.Before(r.refreshAt) {
			r.startLocked(now)
		}
		r.mu.Unlock()
		return v, gen, nil
	}
	f := r.startLocked(now)
	if f == nil {
		err := r.err
		r.mu.Unlock()
		return zero, 0, err
	}
	r.mu.Unlock()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-f.done:
		return f.v, f.gen, f.err
	case <-ctx.Done():
		return zero, 0, ctx.Err()
	case <-timer.C:
		return zero, 0, errWait
	}
}

// renew drops value gen, which the service refused, and starts fetching a
// new one. Of many requests refused with the same value, one renews; the
// others find it renewed. Renewals back off as fetches do (3s, doubling
// up to 5min), so that a credential the service keeps refusing is not
// fetched for every request. fresh reports whether a value newer than gen
// is there or coming; dropped, whether this call dropped gen.
func (r *resource[T]) renew(gen uint64) (fresh, dropped bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if gen != r.gen {
		return true, false
	}
	now := r.now()
	if now.Before(r.renewAt) {
		return r.inflight != nil, false
	}
	if now.Sub(r.lastRenew) > 2*backoffCeiling {
		r.renewals = 0
	}
	r.renewals++
	r.lastRenew, r.renewAt = now, now.Add(backoff(r.renewals, 0))
	refused := r.v
	r.has, r.refused = false, &refused
	r.err, r.retryAt = nil, time.Time{}
	r.startLocked(now)
	return true, true
}

// renewLatest renews the current value, whichever it is.
func (r *resource[T]) renewLatest() {
	r.mu.Lock()
	gen, has := r.gen, r.has
	r.mu.Unlock()
	if has {
		r.renew(gen)
	}
}

// refreshIfDue starts a fetch when the value is missing, expired or due for
// refresh, unless one runs or a back-off lasts. It returns a channel closed
// when the fetch ends, or nil when none was started or joined.
func (r *resource[T]) refreshIfDue() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if r.has && now.Before(r.refreshAt) && r.inflight == nil {
		return nil
	}
	if f := r.startLocked(now); f != nil {
		return f.done
	}
	return nil
}

// startLocked returns the running fetch, or starts one unless a back-off
// lasts (then it returns nil).
func (r *resource[T]) startLocked(now time.Time) *flight[T] {
	if r.inflight != nil {
		return r.inflight
	}
	if r.err != nil && now.Before(r.retryAt) {
		return nil
	}
	f := &flight[T]{done: make(chan struct{})}
	r.inflight = f
	refused := r.refused
	r.refused = nil
	go r.run(f, refused)
	return f
}

func (r *resource[T]) run(f *flight[T], refused *T) {
	ctx, cancel := context.WithTimeout(r.base, fetchTimeout)
	v, refreshAt, expiresAt, err := r.fetch(ctx, refused)
	cancel()
	r.mu.Lock()
	if err == nil {
		r.gen++
		r.v, r.has, r.refreshAt, r.expiresAt = v, true, refreshAt, expiresAt
		r.err, r.failures, r.retryAt = nil, 0, time.Time{}
	} else {
		r.err = err
		r.failures++
		r.retryAt = r.now().Add(backoff(r.failures, retryAfterOf(err)))
	}
	r.inflight = nil
	f.v, f.gen, f.err = v, r.gen, err
	r.mu.Unlock()
	close(f.done)
}

// backoff is the delay before retry n (from 1): doubling from 3s up to 5min,
// with ±20% jitter so that many instances do not retry in step, and never
// shorter than the service's Retry-After up to the ceiling: a reply asking
// for a day would leave every negotiate failing for a day.
func backoff(n int, retryAfter time.Duration) time.Duration {
	d := backoffStart
	for i := 1; i < n && d < backoffCeiling; i++ {
		d *= 2
	}
	d = min(d, backoffCeiling)
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	return max(d, min(retryAfter, backoffCeiling))
}

// retryAfterOf returns the Retry-After carried by an *Error in err.
func retryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}
