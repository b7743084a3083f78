package hostproto

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Invocation is what a function reads of the payload the host posts in
// payload mode, {"Data": {binding name: value}, "Metadata": {...}}
// (ScriptInvocationContextExtensions.ToHttpScriptInvocationContext).
// Metadata repeats the trigger's parts and is skipped.
type Invocation struct {
	// Request is the HTTP trigger, nil for a queue or timer trigger.
	Request *Request
	// data are the other entries of Data, as JSON; timers are left out.
	data   []dataEntry
	timers int
}

type dataEntry struct {
	name string
	raw  []byte
}

// httpTriggerName is the trigger name the function folders use.
const httpTriggerName = "req"

// ErrNotJSON wraps a payload that is not valid JSON.
var ErrNotJSON = errors.New("the invocation payload is not a valid JSON object")

// DecodeInvocation reads a payload in one pass, keeping of the HTTP trigger
// only what n asks for. Names match without regard to case, as the host's
// own JSON reader does. Data values other than the HTTP trigger stay slices
// of b. What follows Data is left unread: the host writes Metadata, which
// repeats the trigger's parts, after it.
func DecodeInvocation(b []byte, n *Needs) (*Invocation, error) {
	r := &jsonReader{b: b}
	inv := &Invocation{}
	var shapeErr error
	r.enter('{', "an object with Data and Metadata")
	for k := 0; r.more('}', k == 0); k++ {
		if !bytes.EqualFold(r.key(), []byte("Data")) {
			r.skip()
			continue
		}
		if r.null() {
			continue
		}
		shapeErr = inv.readData(r, n)
		if r.err == nil {
			return inv.checked(shapeErr)
		}
	}
	r.end()
	if r.err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotJSON, r.err)
	}
	return inv.checked(shapeErr)
}

func (inv *Invocation) checked(shapeErr error) (*Invocation, error) {
	if shapeErr != nil {
		return nil, fmt.Errorf("the HTTP trigger is not a request as the Functions host sends it: %w", shapeErr)
	}
	return inv, nil
}

// readData reads the Data object. It returns the first needed part of an
// HTTP trigger that does not have the host's shape.
func (inv *Invocation) readData(r *jsonReader, n *Needs) error {
	var shapeErr error
	var requestName string
	r.enter('{', "Data to be an object")
	for j := 0; r.more('}', j == 0); j++ {
		name := string(r.key())
		if r.peek() != '{' {
			inv.data = append(inv.data, dataEntry{name, r.raw()})
			continue
		}
		start := r.i
		req, timer, err := readRequest(r, name, n)
		switch {
		case err != nil && shapeErr == nil:
			shapeErr = err
		case req != nil && (inv.Request == nil || preferredTrigger(name, requestName)):
			// More than one: req first, then by name, so that the choice
			// never varies.
			inv.Request, requestName = req, name
		case timer:
			inv.timers++
		case req == nil && r.err == nil:
			inv.data = append(inv.data, dataEntry{name, r.b[start:r.i]})
		}
	}
	return shapeErr
}

func preferredTrigger(name, than string) bool {
	if than == httpTriggerName {
		return false
	}
	return name == httpTriggerName || name < than
}

// TriggerData returns the value of the first Data entry by name as the
// bytes of its items, decoded as the host encodes them: a string value (a
// queue item) is JSON-encoded twice, bytes are base64, and an object (or a
// collection the host wrote as a JSON string) is JSON. A timer's own value
// holds no messages, so a timer function's messages come from another
// entry: an input binding.
func (inv *Invocation) TriggerData() ([]byte, error) {
	switch {
	case len(inv.data) == 0 && inv.timers > 0:
		return nil, errors.New("a timer trigger brings no messages: add an input binding that reads them, such as a blob")
	case len(inv.data) == 0:
		return nil, errors.New("the invocation has no trigger data")
	}
	first := slices.MinFunc(inv.data, func(a, b dataEntry) int { return strings.Compare(a.name, b.name) })
	raw := first.raw
	if raw[0] != '"' {
		return raw, nil
	}
	var s string
	_ = json.Unmarshal(raw, &s) // the reader checked it
	t := strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(t, `"`):
		// A string: JsonConvert.SerializeObject, then the payload.
		var item string
		if err := json.Unmarshal([]byte(t), &item); err != nil {
			return nil, fmt.Errorf("the trigger value %s is not a JSON-encoded string: %w", Quote(s), err)
		}
		return []byte(item), nil
	case strings.HasPrefix(t, "{"), strings.HasPrefix(t, "["):
		return []byte(t), nil
	}
	if b, err := base64.StdEncoding.DecodeString(t); err == nil {
		return b, nil
	}
	return []byte(s), nil
}
