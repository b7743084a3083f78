package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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

func parseHandshake(rec []byte) (handshake, error) {
	var h handshake
	if err := json.Unmarshal(rec, &h); err != nil {
		return h, fmt.Errorf("the handshake is not JSON: %w", err)
	}
	if h.Protocol != "json" {
		return h, fmt.Errorf("the protocol %q is not supported; use \"json\"", h.Protocol)
	}
	if h.Version != 1 {
		return h, fmt.Errorf("version %d of the json protocol is not supported; use 1", h.Version)
	}
	return h, nil
}

// hubMessage is a hub protocol message, with the fields the stand-in uses.
type hubMessage struct {
	Type           int               `json:"type"`
	InvocationID   string            `json:"invocationId,omitempty"`
	Target         string            `json:"target,omitempty"`
	Arguments      []json.RawMessage `json:"arguments,omitempty"`
	Error          string            `json:"error,omitempty"`
	AllowReconnect bool              `json:"allowReconnect,omitempty"`
}

func parseHubMessage(rec []byte) (hubMessage, error) {
	var m hubMessage
	if err := json.Unmarshal(rec, &m); err != nil {
		return m, fmt.Errorf("the message is not JSON: %w", err)
	}
	if m.Type <= 0 {
		return m, errors.New("the message has no type")
	}
	if m.Type == msgInvocation && m.Target == "" {
		return m, errors.New("the invocation has no target")
	}
	return m, nil
}

// record encodes a message as one record.
func record(v any) []byte {
	b, _ := json.Marshal(v)
	return append(b, recordSeparator)
}
