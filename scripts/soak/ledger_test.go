package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCount(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	newClient := func(user, group string, epochs ...epoch) *client {
		return &client{user: user, group: group, epochs: epochs, got: map[int]int{}}
	}
	msg := func(seq int, kind, to string, from, till int) message {
		return message{seq: seq, kind: kind, to: to, start: at(from), end: at(till), ok: true}
	}
	tests := []struct {
		name    string
		msgs    []message
		clients func() []*client
		want    tally
	}{{
		name: "delivered to the addressed connected clients",
		msgs: []message{msg(1, "broadcast", "", 10, 11), msg(2, "user", "u1", 12, 13), msg(3, "group", "g2", 14, 15)},
		clients: func() []*client {
			a, b := newClient("u1", "g1", epoch{start: at(0)}), newClient("u2", "g2", epoch{start: at(0)})
			a.got[1], a.got[2], b.got[1], b.got[3] = 1, 1, 1, 1
			return []*client{a, b}
		},
		want: tally{Sent: 3, Expected: 4, Received: 4},
	}, {
		name: "missing delivery to a connected client is lost",
		msgs: []message{msg(1, "broadcast", "", 10, 11)},
		clients: func() []*client {
			return []*client{newClient("u1", "g1", epoch{start: at(0), end: at(20)})}
		},
		want: tally{Sent: 1, Expected: 1, Lost: 1},
	}, {
		name: "client reconnecting during the send is not counted",
		msgs: []message{msg(1, "broadcast", "", 10, 12), msg(2, "broadcast", "", 20, 21)},
		clients: func() []*client {
			return []*client{newClient("u1", "g1", epoch{start: at(0), end: at(11)}, epoch{start: at(11)})}
		},
		want: tally{Sent: 2, Expected: 1, Lost: 1, Uncounted: 1},
	}, {
		name: "duplicates, strays and failed sends",
		msgs: []message{msg(1, "user", "u2", 10, 11), {seq: 2, kind: "broadcast", start: at(12), end: at(13)}},
		clients: func() []*client {
			c := newClient("u1", "g1", epoch{start: at(0)})
			c.got[1], c.got[2], c.got[9] = 2, 1, 1
			return []*client{c}
		},
		want: tally{Sent: 2, SendErrors: 1, Duplicates: 1, Unexpected: 3},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, count(tt.msgs, tt.clients())); diff != "" {
				t.Errorf("count (-want +got):\n%s", diff)
			}
		})
	}
}
