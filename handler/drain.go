package handler

import (
	"context"
	"errors"
	"time"
)

// At shutdown (SIGTERM, or Serve's context ending) the handler answers
// every caller before the drain ends, rather than being cut off with
// its callers' messages half sent: it starts no new item, lets the REST
// calls in flight run until shortly before the drain ends, and then
// answers each item as accepted, not sent (safe to send again) or unknown
// (cut off while the service had it: it may have been delivered).

var (
	// errShuttingDown is why an item was not started: the drain began.
	errShuttingDown = errors.New("the handler is shutting down")
	// errDrainEnded is why a call in flight was cut off: the drain was
	// about to end.
	errDrainEnded = errors.New("the handler's shutdown drain ended")
)

// drainState holds the two moments of a shutdown of one server as
// contexts, so that a request can wait on them as on its own. The server's
// requests carry it in their context (drainOf), so that ending one Serve
// leaves requests served elsewhere by the same Handler alone.
type drainState struct {
	// started ends (with errShuttingDown) when the drain begins.
	started context.Context
	start   context.CancelCauseFunc
	// cutoff ends (with errDrainEnded) when calls in flight must stop, to
	// leave time to answer before the drain ends.
	cutoff context.Context
	cut    context.CancelCauseFunc
}

func newDrainState() *drainState {
	d := &drainState{}
	d.started, d.start = context.WithCancelCause(context.Background())
	d.cutoff, d.cut = context.WithCancelCause(context.Background())
	return d
}

// begin starts a drain of length drain: new items stop at once, calls in
// flight at the cutoff, a tenth of the drain (at most a second) before its
// end.
func (d *drainState) begin(drain time.Duration) {
	d.start(errShuttingDown)
	margin := min(drain/10, time.Second)
	time.AfterFunc(drain-margin, func() { d.cut(errDrainEnded) })
}

type drainKey struct{}

// withDrain returns ctx carrying d, for the requests of d's server.
func withDrain(ctx context.Context, d *drainState) context.Context {
	return context.WithValue(ctx, drainKey{}, d)
}

// drainOf returns the drain of the server ctx's request came through, or
// nil when none drains it (a server of the caller's own).
func drainOf(ctx context.Context) *drainState {
	d, _ := ctx.Value(drainKey{}).(*drainState)
	return d
}

// withCutoff returns ctx, ended with errDrainEnded at the drain's cutoff;
// ctx itself when d is nil.
func (d *drainState) withCutoff(ctx context.Context) (context.Context, context.CancelFunc) {
	if d == nil {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(d.cutoff, func() { cancel(context.Cause(d.cutoff)) })
	return ctx, func() { stop(); cancel(nil) }
}

// admitting returns ctx, ended with errShuttingDown when the drain begins:
// items whose turn comes after that are not started. It is ctx itself when
// d is nil.
func (d *drainState) admitting(ctx context.Context) (context.Context, context.CancelFunc) {
	if d == nil {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	if d.started.Err() != nil {
		cancel(context.Cause(d.started))
		return ctx, func() {}
	}
	stop := context.AfterFunc(d.started, func() { cancel(context.Cause(d.started)) })
	return ctx, func() { stop(); cancel(nil) }
}
