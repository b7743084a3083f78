package handler

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/signalr-entra/handler/bindings"
)

// TestSendAllKeepsEachClientsOrder checks which items go out at once: a
// run of user (or connection) sends, by name, while an item that may reach
// the same client as another (a group, everyone, another kind) waits for
// those before it.
func TestSendAllKeepsEachClientsOrder(t *testing.T) {
	items := []bindings.Message{
		{UserID: "a", Target: "1"}, {UserID: "b", Target: "2"}, {UserID: "a", Target: "3"},
		{GroupName: "g", Target: "4"}, {GroupName: "h", Target: "5"},
		{ConnectionID: "c", Target: "6"}, {UserID: "a", Target: "7"},
		{Target: "8"},
	}
	var mu sync.Mutex
	var events []string
	active, most := 0, 0
	do := func(_ context.Context, m bindings.Message) error {
		mu.Lock()
		active++
		most = max(most, active)
		events = append(events, "start "+m.Target)
		mu.Unlock()
		time.Sleep(10 * time.Millisecond)
		mu.Lock()
		active--
		events = append(events, "end "+m.Target)
		mu.Unlock()
		return nil
	}
	for i, err := range sendAll(context.Background(), items, messageAddress, do) {
		if err != nil {
			t.Errorf("item %d: %v", i, err)
		}
	}
	at := func(e string) int { return slices.Index(events, e) }
	for _, before := range [][2]string{
		{"1", "3"}, {"1", "4"}, {"2", "4"}, {"3", "4"}, {"4", "5"}, {"5", "6"}, {"6", "7"}, {"7", "8"},
	} {
		if at("end "+before[0]) > at("start "+before[1]) {
			t.Errorf("item %s started before item %s ended: %q", before[1], before[0], events)
		}
	}
	if most != 2 {
		t.Errorf("at most %d items in flight, want 2 (users a and b)", most)
	}
}

// TestSendAllNotSentAfterDeadline checks that items whose turn comes after
// the deadline are not sent, and say so.
func TestSendAllNotSentAfterDeadline(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	sent := 0
	do := func(context.Context, bindings.Message) error {
		sent++
		cancel()
		return nil
	}
	errs := sendAll(ctx, []bindings.Message{{Target: "a"}, {Target: "b"}}, messageAddress, do)
	if sent != 1 || errs[0] != nil || !errors.Is(errs[1], errNotSent) || !errors.Is(errs[1], context.Canceled) {
		t.Errorf("sent %d, errors %v; want the first sent and the second not", sent, errs)
	}
}
