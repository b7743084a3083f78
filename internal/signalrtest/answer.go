package signalrtest

import (
	"context"
	"encoding/json"
	"strings"
	"sync"

	"github.com/coder/websocket"
)

// Handler answers an invocation the service awaits, as a
// @microsoft/signalr client's handler returns a value or throws.
type Handler func(args []json.RawMessage) (any, error)

// Answering is a client connection that answers the service's invocations
// with its handlers and notes how the service closed it.
type Answering struct {
	ws       *websocket.Conn
	handlers map[string]Handler
	done     chan struct{}

	mu          sync.Mutex
	closed      bool
	closeReason string
}

// Answer connects like Dial and serves the connection until Close: an
// invocation with an id gets its handler's completion, "Client didn't
// provide a result." (the words of @microsoft/signalr) for a method with
// no handler.
func Answer(ctx context.Context, clientURL, accessToken string, handlers map[string]Handler) (*Answering, error) {
	ws, err := Dial(ctx, clientURL, accessToken)
	if err != nil {
		return nil, err
	}
	a := &Answering{ws: ws, handlers: handlers, done: make(chan struct{})}
	go a.serve()
	return a, nil
}

func (a *Answering) serve() {
	defer close(a.done)
	for {
		_, data, err := a.ws.Read(context.Background())
		if err != nil {
			return
		}
		for rec := range strings.SplitSeq(strings.TrimSuffix(string(data), "\x1e"), "\x1e") {
			var m struct {
				Type         int               `json:"type"`
				InvocationID string            `json:"invocationId"`
				Target       string            `json:"target"`
				Arguments    []json.RawMessage `json:"arguments"`
				Error        string            `json:"error"`
			}
			if json.Unmarshal([]byte(rec), &m) != nil {
				continue
			}
			switch {
			case m.Type == 7:
				a.mu.Lock()
				a.closed, a.closeReason = true, m.Error
				a.mu.Unlock()
			case m.Type == 1 && m.InvocationID != "":
				reply := map[string]any{"type": 3, "invocationId": m.InvocationID}
				h := a.handlers[m.Target]
				if h == nil {
					reply["error"] = "Client didn't provide a result."
				} else if v, err := h(m.Arguments); err != nil {
					reply["error"] = err.Error()
				} else {
					reply["result"] = v
				}
				b, _ := json.Marshal(reply)
				_ = a.ws.Write(context.Background(), websocket.MessageText, append(b, 0x1e))
			}
		}
	}
}

// Closed reports whether the service sent a close message, and its error.
func (a *Answering) Closed() (reason string, closed bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.closeReason, a.closed
}

// Close ends the connection and waits for its reader.
func (a *Answering) Close() {
	_ = a.ws.CloseNow()
	<-a.done
}
