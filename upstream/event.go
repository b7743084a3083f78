package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/signalr-entra/handler/bindings"
	"github.com/signalr-entra/handler/internal/hostproto"
)

// The categories and connection events of upstream requests, as the service
// names them in X-ASRS-Category and X-ASRS-Event. Any other event of the
// messages category is the target of a client's invocation.
const (
	CategoryConnections = "connections"
	CategoryMessages    = "messages"
	EventConnected      = "connected"
	EventDisconnected   = "disconnected"
)

// Event is one upstream event: a client connected, disconnected, or invoked
// a hub method. In payload mode the handler also writes it, as JSON, to the
// function's events output.
type Event struct {
	// Hub is the hub, as SIGNALR_HUBS spells it.
	Hub string `json:"hub"`
	// Category is CategoryConnections or CategoryMessages.
	Category string `json:"category"`
	// Event is EventConnected, EventDisconnected or the invocation's target,
	// in the client's spelling.
	Event        string `json:"event"`
	ConnectionID string `json:"connectionId"`
	// UserID is the user the client's access token names, or "".
	UserID string `json:"userId"`
	// Claims are the client's claims; of several with one type, the first.
	Claims map[string]string `json:"claims"`
	// Query is the query of the client's connection request; a repeated
	// key's values are joined with commas.
	Query map[string]string `json:"query"`
	// Arguments is the JSON array of the invocation's arguments, whatever
	// protocol the client speaks (MessagePack binary data becomes base64
	// strings), kept as one slice of bytes: a value apiece would cost tens
	// of bytes per byte of the body. Argument decodes one of them.
	Arguments json.RawMessage `json:"arguments"`
	// InvocationID is set when the client awaits the invocation's result.
	InvocationID string `json:"invocationId"`
	// Error is why a connection closed; "" when it closed cleanly.
	Error string `json:"error"`

	svc Service
	// args reads Arguments for Argument: in turn, each is read once.
	argsMu sync.Mutex
	args   hostproto.ArrayCursor
}

// EventFunc handles an upstream event. For an invocation the client awaits,
// the result (encoded as JSON, or as MessagePack for MessagePack clients)
// completes the call, or err's text fails it; a nil result completes it
// with no result. An error from a connected event refuses the connection
// with 403, as the C# extension does; otherwise results are ignored.
type EventFunc func(ctx context.Context, e *Event) (result any, err error)

// Service is what an Event needs of SignalR Service to send and change
// groups; *bindings.Client implements it.
type Service interface {
	SendRouted(ctx context.Context, hub string, m bindings.Message) (bindings.Route, error)
	ApplyRouted(ctx context.Context, hub string, a bindings.GroupAction) (bindings.Route, error)
}

// ReadEvent reads the event an upstream request's headers name, sending
// and changing groups with svc, and lists the headers the service always
// sends that header lacks.
func ReadEvent(header http.Header, svc Service) (e *Event, missing []string) {
	e = &Event{
		Hub:          header.Get(headerHub),
		Category:     header.Get(headerCategory),
		Event:        header.Get(headerEvent),
		ConnectionID: header.Get(headerConnectionID),
		UserID:       header.Get(headerUserID),
		Claims:       parseClaims(header.Get(headerUserClaims)),
		Query:        parseClientQuery(header.Get(headerClientQuery)),
		svc:          svc,
	}
	for _, h := range [][2]string{{headerHub, e.Hub}, {headerCategory, e.Category}, {headerEvent, e.Event}, {headerConnectionID, e.ConnectionID}} {
		if h[1] == "" {
			missing = append(missing, h[0])
		}
	}
	return e, missing
}

// eventKey matches events as the C# extension does: without regard to case.
type eventKey struct{ hub, category, event string }

func newEventKey(hub, category, event string) eventKey {
	return eventKey{strings.ToLower(hub), category, strings.ToLower(event)}
}

// Argument decodes the i-th argument into v, as json.Unmarshal does.
// Reading the arguments in turn reads the array once: a client can send
// as many as the body holds.
func (e *Event) Argument(i int, v any) error {
	e.argsMu.Lock()
	arg, n := e.args.Element(e.Arguments, i)
	e.argsMu.Unlock()
	if arg == nil {
		return fmt.Errorf("%s has %d arguments; there is no argument %d", e.Event, n, i)
	}
	if err := json.Unmarshal(arg, v); err != nil {
		return fmt.Errorf("argument %d of %s: %w", i, e.Event, err)
	}
	return nil
}

// Send sends m to clients of the event's hub.
func (e *Event) Send(ctx context.Context, m bindings.Message) error {
	_, err := e.svc.SendRouted(ctx, e.Hub, m)
	return err
}

// Apply changes group membership in the event's hub, of any connection or
// user.
func (e *Event) Apply(ctx context.Context, a bindings.GroupAction) error {
	_, err := e.svc.ApplyRouted(ctx, e.Hub, a)
	return err
}

// AddToGroup adds the calling connection to group.
func (e *Event) AddToGroup(ctx context.Context, group string) error {
	return e.Apply(ctx, bindings.GroupAction{Action: bindings.ActionAdd, ConnectionID: e.ConnectionID, GroupName: group})
}

// RemoveFromGroup removes the calling connection from group.
func (e *Event) RemoveFromGroup(ctx context.Context, group string) error {
	return e.Apply(ctx, bindings.GroupAction{Action: bindings.ActionRemove, ConnectionID: e.ConnectionID, GroupName: group})
}
