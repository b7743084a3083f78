package handler

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// invocation is the payload the host posts in payload mode:
// {"Data": {binding name: value}, "Metadata": {...}}.
type invocation struct {
	// Data is all the handler reads: Metadata repeats the trigger's parts.
	Data map[string]json.RawMessage `json:"Data"`
}

// httpTriggerName is the trigger name the function folders use.
const httpTriggerName = "req"

// decodeInvocation reads an invocation payload. Keys match without regard
// to case, as the host's own JSON reader does.
func decodeInvocation(b []byte) (*invocation, error) {
	var inv invocation
	if err := json.Unmarshal(b, &inv); err != nil {
		return nil, fmt.Errorf("the invocation payload is not a JSON object with Data and Metadata: %w", err)
	}
	return &inv, nil
}

// httpRequest returns the HTTP trigger: the entry named req when it is one,
// else the first entry by name that is. It returns nil when there is none
// (a queue or timer trigger).
func (inv *invocation) httpRequest() (*hostRequest, error) {
	names := make([]string, 0, len(inv.Data))
	for name := range inv.Data {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		// req first, then by name, so that the choice never varies.
		switch {
		case a == httpTriggerName:
			return -1
		case b == httpTriggerName:
			return 1
		}
		return strings.Compare(a, b)
	})
	for _, name := range names {
		raw := bytes.TrimSpace(inv.Data[name])
		if len(raw) == 0 || raw[0] != '{' {
			continue
		}
		// What current hosts send decodes in one pass; the lenient reader
		// takes older hosts' shapes. Only a value that neither reads is
		// looked at again, to tell a broken request from other data.
		var strict strictRequest
		if json.Unmarshal(raw, &strict) == nil && strict.Method != "" && (strict.URL != "" || strict.Headers != nil) {
			return strict.request(), nil
		}
		var w wireRequest
		if err := json.Unmarshal(raw, &w); err != nil {
			if looksLikeHTTPRequest(raw) {
				return nil, fmt.Errorf("the HTTP trigger %q is not a request the handler can read: %w", name, err)
			}
			continue
		}
		if w.Method != "" && (w.URL != "" || w.Headers != nil) {
			return w.request(), nil
		}
	}
	return nil, nil
}

// triggerData returns the value of the first Data entry by name as JSON: an
// object or array as is, a string holding JSON (or base64 of JSON) decoded.
// A timer's own data holds no messages, so a timer function's messages come
// from another entry: an input binding.
func (inv *invocation) triggerData() ([]byte, error) {
	names := make([]string, 0, len(inv.Data))
	timers := 0
	for name, raw := range inv.Data {
		if isTimerInfo(raw) {
			timers++
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	switch {
	case len(names) == 0 && timers > 0:
		return nil, errors.New("a timer trigger brings no messages: add an input binding that reads them, such as a blob")
	case len(names) == 0:
		return nil, errors.New("the invocation has no trigger data")
	}
	raw := bytes.TrimSpace(inv.Data[names[0]])
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return raw, nil
	}
	if t := strings.TrimSpace(s); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		return []byte(t), nil
	}
	// The host sends bytes (a queue message read as binary) as base64.
	if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s)); err == nil {
		return b, nil
	}
	return []byte(s), nil
}

// isTimerInfo tells a timer trigger's value, {"Schedule", "ScheduleStatus",
// "IsPastDue"}, from data.
func isTimerInfo(raw json.RawMessage) bool {
	var keys map[string]json.RawMessage
	if json.Unmarshal(raw, &keys) != nil {
		return false
	}
	for k := range keys {
		if strings.EqualFold(k, "IsPastDue") {
			return true
		}
	}
	return false
}

// looksLikeHTTPRequest tells an HTTP trigger value from other data: an
// object with a Method and a Url or Headers.
func looksLikeHTTPRequest(raw json.RawMessage) bool {
	var keys map[string]json.RawMessage
	if json.Unmarshal(raw, &keys) != nil {
		return false
	}
	var method, target bool
	for k := range keys {
		switch strings.ToLower(k) {
		case "method":
			method = true
		case "url", "headers":
			target = true
		}
	}
	return method && target
}
