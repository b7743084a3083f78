package handler

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/signalr-entra/handler/bindings"
)

// sendConcurrency bounds the items of one request in flight at once.
const sendConcurrency = 8

// errNotSent marks an item whose turn came after the request's deadline.
var errNotSent = errors.New("not sent")

// address is who an item reaches. Two items of one narrow kind (a user, a
// connection) reach nobody in common unless their names are equal: a
// connection has one user. Any other two items may reach a client in
// common, such as a group and a user, or two groups.
type address struct {
	kind string // "user" or "connection"; "" for a group or everyone
	name string
}

// messageAddress is who a message reaches, as SignalRMessage's rules pick.
func messageAddress(m bindings.Message) address {
	switch {
	case m.ConnectionID != "":
		return address{"connection", m.ConnectionID}
	case m.UserID != "":
		return address{"user", m.UserID}
	}
	return address{}
}

// memberAddress is whose membership a group action changes.
func memberAddress(a bindings.GroupAction) address {
	if a.ConnectionID != "" {
		return address{"connection", a.ConnectionID}
	}
	return address{"user", a.UserID}
}

// sendAll hands each item to do and returns each item's error. The C#
// extension sends one item after another, so every client gets its
// messages in order; so here too. Only a run of items of one narrow kind
// goes out at once, up to sendConcurrency, those with the same name one
// after another; every other item waits for those before it. Items whose
// turn comes after ctx ends fail with errNotSent.
func sendAll[T any](ctx context.Context, items []T, addressOf func(T) address, do func(context.Context, T) error) []error {
	errs := make([]error, len(items))
	addrs := make([]address, len(items))
	for i, it := range items {
		addrs[i] = addressOf(it)
	}
	send := func(i int) {
		if ctx.Err() != nil {
			errs[i] = fmt.Errorf("%w: %w", errNotSent, context.Cause(ctx))
			return
		}
		errs[i] = do(ctx, items[i])
	}
	for start := 0; start < len(items); {
		end := start + 1
		for addrs[start].kind != "" && end < len(items) && addrs[end].kind == addrs[start].kind {
			end++
		}
		if end-start == 1 {
			send(start)
		} else {
			sendRun(addrs, start, end, send)
		}
		start = end
	}
	return errs
}

// sendRun sends items start to end, of one narrow kind, up to
// sendConcurrency at once: one lane per name, each lane in order.
func sendRun(addrs []address, start, end int, send func(int)) {
	lanes := map[string][]int{}
	var names []string
	for i := start; i < end; i++ {
		n := addrs[i].name
		if _, ok := lanes[n]; !ok {
			names = append(names, n)
		}
		lanes[n] = append(lanes[n], i)
	}
	next := make(chan []int)
	var wg sync.WaitGroup
	for range min(sendConcurrency, len(names)) {
		wg.Go(func() {
			for lane := range next {
				for _, i := range lane {
					send(i)
				}
			}
		})
	}
	for _, n := range names {
		next <- lanes[n]
	}
	close(next)
	wg.Wait()
}
