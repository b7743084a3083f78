package main

import (
	"sync"
	"time"
)

// epoch is a span in which a client was connected: from its handshake
// reply (the service registers the connection before answering) to when it
// stopped counting on messages. end is zero while it lasts.
type epoch struct{ start, end time.Time }

// client is one WebSocket client's bookkeeping.
type client struct {
	id    int
	user  string
	group string

	mu     sync.Mutex
	epochs []epoch
	got    map[int]int // sequence number → deliveries
}

func (c *client) open(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epochs = append(c.epochs, epoch{start: t})
}

// closeEpoch ends the current epoch, if one is open.
func (c *client) closeEpoch(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.epochs); n > 0 && c.epochs[n-1].end.IsZero() {
		c.epochs[n-1].end = t
	}
}

func (c *client) receive(seq int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got[seq]++
}

// connectedThroughout says whether one epoch covers [from, to].
func (c *client) connectedThroughout(from, to time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.epochs {
		if !e.start.After(from) && (e.end.IsZero() || !e.end.Before(to)) {
			return true
		}
	}
	return false
}

// message is one send through the handler.
type message struct {
	seq        int
	kind       string // broadcast, user or group
	to         string // the user or group
	start, end time.Time
	ok         bool
}

// recipient says whether c is addressed by m.
func (m message) recipient(c *client) bool {
	switch m.kind {
	case "user":
		return c.user == m.to
	case "group":
		return c.group == m.to
	}
	return true
}

// tally is the soak's outcome.
type tally struct {
	Sent, SendErrors                  int
	Expected, Received, Lost          int
	Duplicates, Unexpected, Uncounted int
}

// count compares what was sent with what each client received. A delivery
// is expected when its client was connected from before the send began
// until after it was accepted; other deliveries (to a client reconnecting
// at the time) may or may not arrive, and are only counted as uncounted.
func count(msgs []message, clients []*client) tally {
	var t tally
	for _, m := range msgs {
		t.Sent++
		if !m.ok {
			t.SendErrors++
		}
	}
	for _, c := range clients {
		c.mu.Lock()
		got := make(map[int]int, len(c.got))
		for k, v := range c.got {
			got[k] = v
		}
		c.mu.Unlock()
		for _, m := range msgs {
			n := got[m.seq]
			delete(got, m.seq)
			if n > 1 {
				t.Duplicates += n - 1
			}
			switch {
			case !m.ok: // a failed send is counted in SendErrors
			case !m.recipient(c):
				t.Unexpected += n
			case c.connectedThroughout(m.start, m.end):
				t.Expected++
				if n > 0 {
					t.Received++
				} else {
					t.Lost++
				}
			default:
				t.Uncounted++
			}
		}
		for _, n := range got { // sequence numbers never sent
			t.Unexpected += n
		}
	}
	return t
}
