package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/coder/websocket"
)

// recordSeparator ends every message of the JSON hub protocol.
const recordSeparator = 0x1E

// Message types of the hub protocol.
const (
	msgInvocation = 1
	msgCompletion = 3
	msgPing       = 6
	msgClose      = 7
)

// Result kinds of a MessagePack completion.
const (
	resultError = 1
	resultVoid  = 2
	resultValue = 3
)

// splitRecords cuts the complete records off data; rest is an unfinished
// record to keep until more data comes.
func splitRecords(data []byte) (records [][]byte, rest []byte) {
	for {
		i := bytes.IndexByte(data, recordSeparator)
		if i < 0 {
			return records, data
		}
		records = append(records, data[:i])
		data = data[i+1:]
	}
}

// handshake is the client's first message.
type handshake struct {
	Protocol string `json:"protocol"`
	Version  int    `json:"version"`
}

// parseHandshake reads the handshake and picks the client's protocol.
func parseHandshake(rec []byte) (hubProtocol, error) {
	var h handshake
	if err := json.Unmarshal(rec, &h); err != nil {
		return nil, fmt.Errorf("the handshake is not JSON: %w", err)
	}
	var p hubProtocol
	switch h.Protocol {
	case "json":
		p = jsonProtocol{}
	case "messagepack":
		p = msgpackProtocol{}
	default:
		return nil, fmt.Errorf("the protocol %q is not supported; use \"json\" or \"messagepack\"", h.Protocol)
	}
	if h.Version != 1 {
		return nil, fmt.Errorf("version %d of the %s protocol is not supported; use 1", h.Version, h.Protocol)
	}
	return p, nil
}

// clientMessage is a message from a client, with what the stand-in uses.
type clientMessage struct {
	typ          int
	invocationID string
	target       string
	// upstream is an invocation as the service posts it upstream: written
	// again by the protocol, without its framing.
	upstream []byte
	// result and errMsg are a completion's outcome: its result as JSON
	// ("null" for none), or the client's error.
	result json.RawMessage
	errMsg string
}

// hubProtocol is a client's hub protocol: how its messages are framed,
// read and written. Every message written is framed.
type hubProtocol interface {
	// frameType is the WebSocket message type of the protocol's frames.
	frameType() websocket.MessageType
	// contentType is the type of its upstream invocation bodies.
	contentType() string
	// split cuts complete messages off data; rest waits for more.
	split(data []byte) (msgs [][]byte, rest []byte, err error)
	parse(msg []byte) (clientMessage, error)
	// invocation calls a client method with JSON arguments; with an
	// invocation id the client answers with a completion.
	invocation(invocationID, target string, args []json.RawMessage) ([]byte, error)
	// completion ends an invocation, failed when errMsg is set.
	completion(invocationID, errMsg string) []byte
	ping() []byte
	closeMessage(errMsg string) []byte
}

// jsonProtocol is the JSON hub protocol: JSON records ended by 0x1E.
type jsonProtocol struct{}

// jsonMessage is a JSON hub protocol message, with the fields the stand-in
// uses, in the order the service writes them.
type jsonMessage struct {
	Type         int               `json:"type"`
	Headers      map[string]string `json:"headers,omitempty"`
	InvocationID string            `json:"invocationId,omitempty"`
	Target       string            `json:"target,omitempty"`
	Arguments    []json.RawMessage `json:"arguments,omitempty"`
	Result       json.RawMessage   `json:"result,omitempty"`
	Error        string            `json:"error,omitempty"`
}

func (jsonProtocol) frameType() websocket.MessageType { return websocket.MessageText }
func (jsonProtocol) contentType() string              { return contentTypeJSON }

func (jsonProtocol) split(data []byte) ([][]byte, []byte, error) {
	msgs, rest := splitRecords(data)
	return msgs, rest, nil
}

func (jsonProtocol) parse(rec []byte) (clientMessage, error) {
	var m jsonMessage
	if err := json.Unmarshal(rec, &m); err != nil {
		return clientMessage{}, fmt.Errorf("the message is not JSON: %w", err)
	}
	if m.Type <= 0 {
		return clientMessage{}, errors.New("the message has no type")
	}
	cm := clientMessage{typ: m.Type, invocationID: m.InvocationID, target: m.Target}
	if m.Type == msgCompletion {
		return jsonCompletion(cm, m)
	}
	if m.Type != msgInvocation {
		return cm, nil
	}
	if m.Target == "" {
		return clientMessage{}, errors.New("the invocation has no target")
	}
	// The upstream body always has arguments, even none.
	args := struct {
		Type         int               `json:"type"`
		Headers      map[string]string `json:"headers,omitempty"`
		InvocationID string            `json:"invocationId,omitempty"`
		Target       string            `json:"target"`
		Arguments    []json.RawMessage `json:"arguments"`
	}{m.Type, m.Headers, m.InvocationID, m.Target, m.Arguments}
	if args.Arguments == nil {
		args.Arguments = []json.RawMessage{}
	}
	up, err := json.Marshal(args)
	if err != nil {
		return clientMessage{}, fmt.Errorf("the invocation's arguments are not JSON: %w", err)
	}
	cm.upstream = up
	return cm, nil
}

// jsonCompletion reads a completion's outcome: "error" when the client
// failed, else "result" (absent: null).
func jsonCompletion(cm clientMessage, m jsonMessage) (clientMessage, error) {
	if m.InvocationID == "" {
		return clientMessage{}, errors.New("the completion has no invocation id")
	}
	cm.result, cm.errMsg = m.Result, m.Error
	if cm.result == nil {
		cm.result = json.RawMessage("null")
	}
	return cm, nil
}

func (jsonProtocol) invocation(invocationID, target string, args []json.RawMessage) ([]byte, error) {
	if args == nil {
		args = []json.RawMessage{}
	}
	b, err := json.Marshal(struct {
		Type         int               `json:"type"`
		InvocationID string            `json:"invocationId,omitempty"`
		Target       string            `json:"target"`
		Arguments    []json.RawMessage `json:"arguments"`
	}{msgInvocation, invocationID, target, args})
	return append(b, recordSeparator), err
}

func (jsonProtocol) completion(id, errMsg string) []byte {
	return record(jsonMessage{Type: msgCompletion, InvocationID: id, Error: errMsg})
}

func (jsonProtocol) ping() []byte { return record(jsonMessage{Type: msgPing}) }

func (jsonProtocol) closeMessage(errMsg string) []byte {
	return record(jsonMessage{Type: msgClose, Error: errMsg})
}

// record encodes a value as one JSON record.
func record(v any) []byte {
	b, _ := json.Marshal(v)
	return append(b, recordSeparator)
}

// msgpackProtocol is the MessagePack hub protocol: each message a
// MessagePack array with a VarInt length prefix.
type msgpackProtocol struct{}

func (msgpackProtocol) frameType() websocket.MessageType { return websocket.MessageBinary }
func (msgpackProtocol) contentType() string              { return contentTypeMsgPack }

func (msgpackProtocol) split(data []byte) ([][]byte, []byte, error) {
	return splitPrefixed(data)
}

// parse reads a message: an array whose first element is the type. An
// invocation is [1, headers, invocationId or nil, target, arguments,
// streamIds?]; its upstream body drops the stream ids, which the service
// does not take. A completion is [3, headers, invocationId, resultKind,
// result?]: kind 1 an error, 2 no result, 3 a result.
func (msgpackProtocol) parse(msg []byte) (clientMessage, error) {
	rd := newReader(msg)
	n, err := rd.arrayLen()
	if err != nil || n == 0 {
		return clientMessage{}, errors.New("the message is not a MessagePack array")
	}
	typ, err := rd.d.DecodeInt64()
	if err != nil || typ <= 0 || typ > math.MaxInt32 {
		return clientMessage{}, errors.New("the message does not start with its type")
	}
	cm := clientMessage{typ: int(typ)}
	switch typ {
	case msgInvocation:
		return parseMsgpackInvocation(rd, n, cm)
	case msgCompletion:
		return parseMsgpackCompletion(rd, n, cm)
	}
	return cm, nil
}

func parseMsgpackInvocation(rd *reader, n int, cm clientMessage) (clientMessage, error) {
	if n < 5 {
		return clientMessage{}, fmt.Errorf("the invocation has %d elements; it needs 5", n)
	}
	headers, err := rd.raw()
	if err != nil {
		return clientMessage{}, fmt.Errorf("the invocation's headers: %w", err)
	}
	if cm.invocationID, err = rd.str(); err != nil {
		return clientMessage{}, fmt.Errorf("the invocation id: %w", err)
	}
	if cm.target, err = rd.str(); err != nil || cm.target == "" {
		return clientMessage{}, errors.New("the invocation has no target")
	}
	if c, err := rd.d.PeekCode(); err != nil || !isArray(c) {
		return clientMessage{}, errors.New("the invocation's arguments are not an array")
	}
	args, err := rd.raw()
	if err != nil {
		return clientMessage{}, fmt.Errorf("the invocation's arguments: %w", err)
	}
	w := newWriter()
	w.array(5)
	w.int(msgInvocation)
	w.raw(headers)
	w.strOrNil(cm.invocationID)
	w.str(cm.target)
	w.raw(args)
	cm.upstream = w.buf.Bytes()
	return cm, nil
}

func parseMsgpackCompletion(rd *reader, n int, cm clientMessage) (clientMessage, error) {
	if n < 4 {
		return clientMessage{}, fmt.Errorf("the completion has %d elements; it needs 4", n)
	}
	if err := rd.skip(0); err != nil {
		return clientMessage{}, fmt.Errorf("the completion's headers: %w", err)
	}
	var err error
	if cm.invocationID, err = rd.str(); err != nil || cm.invocationID == "" {
		return clientMessage{}, errors.New("the completion has no invocation id")
	}
	kind, err := rd.d.DecodeInt64()
	if err != nil {
		return clientMessage{}, errors.New("the completion has no result kind")
	}
	switch {
	case kind == resultVoid:
		cm.result = json.RawMessage("null")
	case kind == resultError && n >= 5:
		if cm.errMsg, err = rd.str(); err != nil {
			return clientMessage{}, fmt.Errorf("the completion's error: %w", err)
		}
		if cm.errMsg == "" {
			cm.errMsg = "the client failed the invocation with no error message"
		}
	case kind == resultValue && n >= 5:
		v, err := rd.jsonValue(0)
		if err != nil {
			return clientMessage{}, fmt.Errorf("the completion's result: %w", err)
		}
		if cm.result, err = json.Marshal(v); err != nil {
			return clientMessage{}, fmt.Errorf("the completion's result: %w", err)
		}
	default:
		return clientMessage{}, fmt.Errorf("the completion's result kind %d is not 1, 2 or 3 with its value", kind)
	}
	return cm, nil
}

func (msgpackProtocol) invocation(invocationID, target string, args []json.RawMessage) ([]byte, error) {
	w := newWriter()
	w.array(5)
	w.int(msgInvocation)
	w.mapOf(0)
	w.strOrNil(invocationID)
	w.str(target)
	w.array(len(args))
	for _, a := range args {
		if err := w.json(a); err != nil {
			return nil, err
		}
	}
	return w.framed(), nil
}

func (msgpackProtocol) completion(id, errMsg string) []byte {
	w := newWriter()
	if errMsg == "" {
		w.array(4)
	} else {
		w.array(5)
	}
	w.int(msgCompletion)
	w.mapOf(0)
	w.str(id)
	if errMsg == "" {
		w.int(resultVoid)
	} else {
		w.int(resultError)
		w.str(errMsg)
	}
	return w.framed()
}

func (msgpackProtocol) ping() []byte {
	w := newWriter()
	w.array(1)
	w.int(msgPing)
	return w.framed()
}

func (msgpackProtocol) closeMessage(errMsg string) []byte {
	w := newWriter()
	w.array(3)
	w.int(msgClose)
	w.strOrNil(errMsg)
	w.bool(false)
	return w.framed()
}
