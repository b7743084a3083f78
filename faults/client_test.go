package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"

	"github.com/signalr-entra/handler/internal/signalrtest"
)

// wsClient is a SignalR client connected to the stand-in through the
// handler's negotiate, as @microsoft/signalr connects.
type wsClient struct {
	ws *websocket.Conn
	// targets receives the target of every invocation, in order; it is
	// closed when the connection ends, and err says why.
	targets chan string
	err     error
}

// connect negotiates through the handler, follows the redirect to the
// service and opens a WebSocket speaking the JSON hub protocol.
func (s *stack) connect(t *testing.T) *wsClient {
	t.Helper()
	r, info := s.negotiate(t)
	if r.status != http.StatusOK {
		t.Fatalf("negotiate: %d %s", r.status, r.body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, err := signalrtest.Dial(ctx, info.URL, info.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	c := &wsClient{ws: ws, targets: make(chan string, 1000)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.read()
	}()
	t.Cleanup(func() {
		ws.CloseNow()
		<-done
	})
	return c
}

// read passes the targets of invocations on until the connection ends.
func (c *wsClient) read() {
	defer close(c.targets)
	for {
		_, data, err := c.ws.Read(context.Background())
		if err != nil {
			c.err = err
			return
		}
		for _, rec := range bytes.Split(data, []byte{0x1e}) {
			var m struct {
				Type   int    `json:"type"`
				Target string `json:"target"`
			}
			if len(rec) == 0 || json.Unmarshal(rec, &m) != nil || m.Type != 1 {
				continue
			}
			c.targets <- m.Target
		}
	}
}

// received returns the targets that arrived up to and including until, which
// the test sends last so that nothing sent before it can still be on its way.
func (c *wsClient) received(t *testing.T, until string) []string {
	t.Helper()
	var got []string
	timeout := time.After(10 * time.Second)
	for {
		select {
		case target, ok := <-c.targets:
			if !ok {
				t.Fatalf("the connection ended (%v) after %q, before %q", c.err, got, until)
			}
			got = append(got, target)
			if target == until {
				return got
			}
		case <-timeout:
			t.Fatalf("%q did not arrive; got %q", until, got)
		}
	}
}

// wantDelivered sends a last message and checks that exactly want arrived
// before it, once each and in order.
func (s *stack) wantDelivered(t *testing.T, c *wsClient, want ...string) {
	t.Helper()
	if r := s.send(t, broadcasts("end")); r.status != http.StatusAccepted {
		t.Fatalf("the closing send: %d %s", r.status, r.body)
	}
	got := c.received(t, "end")
	if d := cmp.Diff(slices.Concat(want, []string{"end"}), got); d != "" {
		t.Errorf("delivered (-want +got):\n%s", d)
	}
}
