package upstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/signalr-entra/handler/internal/hostproto"
	"github.com/signalr-entra/handler/internal/msgpack"
)

// The serverless protocol's message types: an invocation is the hub
// protocol's; 10 and 11 are the service's own connection events
// (Microsoft.Azure.SignalR.Serverless.Protocols).
const (
	typeInvocation = 1
	typeConnected  = 10
	typeDisconnect = 11
)

// upstreamMessage is what an upstream body says beyond the headers.
type upstreamMessage struct {
	// invocationID is set when the client awaits a result.
	invocationID string
	target       string
	// arguments is the JSON array of the arguments, nil when none.
	arguments json.RawMessage
	// error is why a connection closed, "" when it closed cleanly.
	error string
}

// jsonUpstream is an upstream JSON body: a hub protocol invocation without
// the record separator, {"type":10}, or {"Type":11,"Error":"…"}.
// encoding/json matches the names without regard to case, as the C#
// extension's reader does.
type jsonUpstream struct {
	Type         *int            `json:"type"`
	InvocationID *string         `json:"invocationId"`
	Target       string          `json:"target"`
	Arguments    json.RawMessage `json:"arguments"`
	Error        *string         `json:"error"`
}

// decodeJSONUpstream reads a JSON body and checks it is the message type
// wants.
func decodeJSONUpstream(body []byte, want int) (*upstreamMessage, error) {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[len(body)-1] == recordSeparator {
		return nil, errors.New("the JSON body ends with the record separator 0x1E, which upstream bodies do not carry")
	}
	var j jsonUpstream
	d := json.NewDecoder(bytes.NewReader(body))
	if err := d.Decode(&j); err != nil {
		return nil, fmt.Errorf("the body is not a JSON object of the serverless protocol: %w", err)
	}
	if d.More() {
		return nil, errors.New("the body holds more than one JSON value")
	}
	if j.Type == nil {
		return nil, errors.New("the JSON body has no type")
	}
	if *j.Type != want {
		return nil, fmt.Errorf("the JSON body has type %d where the event needs type %d", *j.Type, want)
	}
	m := &upstreamMessage{target: j.Target, arguments: j.Arguments}
	if j.InvocationID != nil {
		m.invocationID = *j.InvocationID
	}
	if j.Error != nil {
		m.error = *j.Error
	}
	if want == typeInvocation && m.target == "" {
		return nil, errors.New("the invocation has no target")
	}
	switch args := bytes.TrimSpace(m.arguments); {
	case len(args) == 0 || bytes.Equal(args, []byte("null")):
		m.arguments = nil
	case args[0] != '[':
		return nil, fmt.Errorf("the JSON body's arguments are %s, not an array", hostproto.Quote(string(args)))
	}
	return m, nil
}

// decodeMsgpackInvocation reads a MessagePack invocation without its length
// prefix: [1, headers, invocationId or nil, target, arguments, streamIds?].
// Arguments become JSON.
func decodeMsgpackInvocation(body []byte) (*upstreamMessage, error) {
	r := msgpack.NewReader(body)
	wrap := func(field string, err error) error {
		return fmt.Errorf("the MessagePack invocation's %s cannot be read: %w", field, err)
	}
	n, err := r.ArrayLen()
	if err != nil {
		return nil, wrap("message array", err)
	}
	if n < 5 {
		return nil, fmt.Errorf("the MessagePack invocation has %d fields; an invocation has at least 5", n)
	}
	typ, err := r.Int()
	if err != nil {
		return nil, wrap("type", err)
	}
	if typ != typeInvocation {
		return nil, fmt.Errorf("the MessagePack message has type %d; upstream messages are invocations (type 1)", typ)
	}
	headers, err := r.MapLen()
	if err != nil {
		return nil, wrap("headers", err)
	}
	for range 2 * headers {
		if _, _, err := r.Str(); err != nil {
			return nil, wrap("headers", err)
		}
	}
	m := &upstreamMessage{}
	if m.invocationID, _, err = r.Str(); err != nil {
		return nil, wrap("invocation id", err)
	}
	var ok bool
	if m.target, ok, err = r.Str(); err != nil || !ok || m.target == "" {
		return nil, wrap("target", errors.Join(err, errors.New("want a non-empty string")))
	}
	count, err := r.ArrayLen()
	if err != nil {
		return nil, wrap("arguments", err)
	}
	// One JSON array for all the arguments: about the size of the
	// MessagePack they came in (room for twice that, what small integers
	// take, saves growing it), where a slice apiece would cost tens of
	// bytes per argument.
	m.arguments = append(make([]byte, 0, 2*r.Len()+2), '[')
	for i := range count {
		if i > 0 {
			m.arguments = append(m.arguments, ',')
		}
		if m.arguments, err = r.AppendJSON(m.arguments, 0); err != nil {
			return nil, wrap(fmt.Sprintf("argument %d", i), err)
		}
	}
	m.arguments = append(m.arguments, ']')
	// Stream ids and any later fields are not used upstream; skip them
	// only far enough to know the body is one value.
	for i := 5; i < n; i++ {
		if _, err := r.AppendJSON(nil, 0); err != nil {
			return nil, wrap(fmt.Sprintf("field %d", i), err)
		}
	}
	if r.Len() > 0 {
		return nil, fmt.Errorf("%d bytes follow the MessagePack invocation; an upstream body holds one message without a length prefix", r.Len())
	}
	return m, nil
}

// recordSeparator ends every JSON hub protocol message on a connection.
const recordSeparator = 0x1e

// Upstream content types, as the service sends them.
const (
	ContentTypeJSON    = "application/json"
	ContentTypeMsgpack = "application/x-msgpack"
)
