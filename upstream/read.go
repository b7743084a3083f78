package upstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/signalr-entra/handler/internal/hostproto"
	"github.com/signalr-entra/handler/internal/jsontext"
	"github.com/signalr-entra/handler/internal/msgpack"
)

// ReadBody reads the body the event's category and name call for into e:
// the invocation's id and arguments, or why the connection closed.
func (e *Event) ReadBody(body []byte, msgpack bool) error {
	m, err := decodeUpstream(e, body, msgpack)
	if err != nil {
		return err
	}
	e.InvocationID, e.Arguments, e.Error = m.invocationID, m.arguments, m.error
	return nil
}

// decodeUpstream reads the body the event's category and name call for.
// Category and connection event names match without regard to case, as in
// the C# extension, and take the service's spelling.
func decodeUpstream(e *Event, body []byte, msgpack bool) (*upstreamMessage, error) {
	for _, c := range []string{CategoryConnections, CategoryMessages} {
		if strings.EqualFold(e.Category, c) {
			e.Category = c
		}
	}
	switch {
	case e.Category == CategoryConnections && msgpack:
		return nil, errors.New("connection events come as application/json, not MessagePack")
	case e.Category == CategoryConnections && len(bytes.TrimSpace(body)) == 0 && IsConnectionEvent(e.Event):
		// The headers say it all; the host drops a body it got chunked.
		e.Event = strings.ToLower(e.Event)
		return &upstreamMessage{}, nil
	case e.Category == CategoryConnections && strings.EqualFold(e.Event, EventConnected):
		e.Event = EventConnected
		return decodeJSONUpstream(body, typeConnected)
	case e.Category == CategoryConnections && strings.EqualFold(e.Event, EventDisconnected):
		e.Event = EventDisconnected
		return decodeJSONUpstream(body, typeDisconnect)
	case e.Category == CategoryConnections:
		return nil, fmt.Errorf("the connections category has the events connected and disconnected, not %s", hostproto.Quote(e.Event))
	case e.Category != CategoryMessages:
		return nil, fmt.Errorf("category %s is not connections or messages", hostproto.Quote(e.Category))
	}
	var m *upstreamMessage
	var err error
	if msgpack {
		m, err = decodeMsgpackInvocation(body)
	} else {
		m, err = decodeJSONUpstream(body, typeInvocation)
	}
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(m.target, e.Event) {
		// The C# extension refuses this too: the header routed the request.
		return nil, fmt.Errorf("the invocation's target %s is not the event %s", hostproto.Quote(m.target), hostproto.Quote(e.Event))
	}
	return m, nil
}

// IsConnectionEvent says whether event is EventConnected or
// EventDisconnected, in any case.
func IsConnectionEvent(event string) bool {
	return strings.EqualFold(event, EventConnected) || strings.EqualFold(event, EventDisconnected)
}

// Completion frames a hub protocol completion of the invocation in the
// client's protocol, with its content type: the service passes a 200's body
// to the client as it is. With errMsg "" it carries result.
func Completion(invocationID string, result json.RawMessage, errMsg string, msgpack bool) (body []byte, contentType string) {
	if msgpack {
		return appendMsgpackCompletion(invocationID, result, errMsg), ContentTypeMsgpack
	}
	return appendJSONCompletion(nil, invocationID, result, errMsg), ContentTypeJSON
}

// appendJSONCompletion appends {"type":3,"invocationId":…,"result"|"error":…}
// and the record separator.
func appendJSONCompletion(dst []byte, invocationID string, result json.RawMessage, errMsg string) []byte {
	dst = append(dst, `{"type":3,"invocationId":`...)
	dst = jsontext.AppendString(dst, invocationID)
	if errMsg != "" {
		dst = append(dst, `,"error":`...)
		dst = jsontext.AppendString(dst, errMsg)
	} else {
		dst = append(dst, `,"result":`...)
		dst = append(dst, result...)
	}
	return append(dst, '}', recordSeparator)
}

// The MessagePack completion's result kinds (hub protocol).
const (
	resultKindError    = 1
	resultKindNonVoid  = 3
	completionTypeCode = 3
)

// appendMsgpackCompletion returns the length-prefixed MessagePack
// completion [3, {}, invocationId, resultKind, result or error].
func appendMsgpackCompletion(invocationID string, result json.RawMessage, errMsg string) []byte {
	msg := msgpack.AppendArrayHeader(nil, 5)
	msg = msgpack.AppendInt(msg, completionTypeCode)
	msg = msgpack.AppendMapHeader(msg, 0)
	msg = msgpack.AppendString(msg, invocationID)
	if errMsg != "" {
		msg = msgpack.AppendInt(msg, resultKindError)
		msg = msgpack.AppendString(msg, errMsg)
	} else {
		msg = msgpack.AppendInt(msg, resultKindNonVoid)
		var err error
		if msg, err = msgpack.AppendFromJSON(msg, result); err != nil {
			panic(err) // result came from json.Marshal
		}
	}
	return append(msgpack.AppendVarint(make([]byte, 0, len(msg)+5), len(msg)), msg...)
}

// parseClaims reads X-ASRS-User-Claims, "type: value" entries joined by
// commas, as the C# extension does: entries that do not split in two at
// ": " are skipped, and the first value of a type wins.
func parseClaims(header string) map[string]string {
	if header == "" {
		return nil
	}
	claims := map[string]string{}
	for entry := range strings.SplitSeq(header, ",") {
		parts := strings.Split(entry, ": ")
		parts = removeEmpty(parts)
		if len(parts) != 2 {
			continue
		}
		k := strings.TrimSpace(parts[0])
		if _, seen := claims[k]; !seen {
			claims[k] = strings.TrimSpace(parts[1])
		}
	}
	return claims
}

func removeEmpty(parts []string) []string {
	out := parts[:0]
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseClientQuery reads X-ASRS-Client-Query, the client's raw query with
// its leading "?"; a repeated key's values are joined with commas.
func parseClientQuery(header string) map[string]string {
	if header == "" {
		return nil
	}
	values, _ := url.ParseQuery(strings.TrimPrefix(header, "?")) // keep what parses
	query := make(map[string]string, len(values))
	for k, vs := range values {
		query[k] = strings.Join(vs, ",")
	}
	return query
}
