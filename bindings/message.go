package bindings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Message is a message to clients, as the C# extension's SignalRMessage:
// to a connection when ConnectionID is set, else to a user when UserID is,
// else to a group when GroupName is, else to every connection of the hub.
type Message struct {
	ConnectionID string            `json:"connectionId,omitempty"`
	UserID       string            `json:"userId,omitempty"`
	GroupName    string            `json:"groupName,omitempty"`
	Target       string            `json:"target"`
	Arguments    []json.RawMessage `json:"arguments"`
	// Endpoints names the endpoints to send to, by Name or service URI; all
	// when empty. DecodeMessages also takes the C# extension's endpoint
	// objects ({"name": ..., "endpoint": ...}) here.
	Endpoints []string `json:"endpoints,omitempty"`
	// Excluded lists connection ids a broadcast or a group send leaves out.
	// SignalRMessage has no such field; the REST API has.
	Excluded []string `json:"excluded,omitempty"`
}

// Action is what a GroupAction does.
type Action string

// The actions, spelled as in the C# extension's JSON.
const (
	ActionAdd       Action = "add"       // into the group
	ActionRemove    Action = "remove"    // out of the group
	ActionRemoveAll Action = "removeAll" // out of every group
)

// UnmarshalJSON accepts the names in any case, and the C# enum's numbers
// 0, 1 and 2.
func (a *Action) UnmarshalJSON(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case string:
		for _, x := range []Action{ActionAdd, ActionRemove, ActionRemoveAll} {
			if strings.EqualFold(v, string(x)) {
				*a = x
				return nil
			}
		}
	case float64:
		if i := int(v); float64(i) == v && i >= 0 && i <= 2 {
			*a = []Action{ActionAdd, ActionRemove, ActionRemoveAll}[i]
			return nil
		}
	}
	return fmt.Errorf("invalid action %s: valid actions are add, remove and removeAll", data)
}

// GroupAction changes group membership, as the C# extension's
// SignalRGroupAction: of a connection when ConnectionID is set, else of a
// user.
type GroupAction struct {
	Action       Action `json:"action"`
	UserID       string `json:"userId,omitempty"`
	ConnectionID string `json:"connectionId,omitempty"`
	GroupName    string `json:"groupName,omitempty"`
}

// DecodeMessages reads one message object or an array of them, and checks
// each; an error names the item's index and field.
func DecodeMessages(data []byte) ([]Message, error) {
	items, err := splitItems("message", data)
	if err != nil {
		return nil, err
	}
	out := make([]Message, len(items))
	for i, raw := range items {
		// Arguments are checked apart, to say so when they are no array.
		var w struct {
			ConnectionID string            `json:"connectionId"`
			UserID       string            `json:"userId"`
			GroupName    string            `json:"groupName"`
			Target       string            `json:"target"`
			Arguments    json.RawMessage   `json:"arguments"`
			Endpoints    []json.RawMessage `json:"endpoints"`
			Excluded     []string          `json:"excluded"`
		}
		if err := decodeObject(raw, &w); err != nil {
			return nil, itemError("message", i, err)
		}
		m := Message{ConnectionID: w.ConnectionID, UserID: w.UserID, GroupName: w.GroupName, Target: w.Target, Excluded: w.Excluded}
		for j, it := range w.Endpoints {
			ref, err := endpointRef(it)
			if err != nil {
				return nil, fmt.Errorf("message %d: endpoints item %d %w", i, j, err)
			}
			m.Endpoints = append(m.Endpoints, ref)
		}
		if args := bytes.TrimSpace(w.Arguments); len(args) > 0 && !bytes.Equal(args, []byte("null")) {
			if args[0] != '[' {
				return nil, fmt.Errorf("message %d: arguments is %s, not an array: put the arguments in [ ]", i, abbreviate(args))
			}
			if err := json.Unmarshal(args, &m.Arguments); err != nil {
				return nil, itemError("message", i, err)
			}
		}
		if err := m.validate(); err != nil {
			return nil, fmt.Errorf("message %d: %w", i, err)
		}
		out[i] = m
	}
	return out, nil
}

// DecodeGroupActions reads one group action object or an array of them, and
// checks each; an error names the item's index and field.
func DecodeGroupActions(data []byte) ([]GroupAction, error) {
	items, err := splitItems("group action", data)
	if err != nil {
		return nil, err
	}
	out := make([]GroupAction, len(items))
	for i, raw := range items {
		if err := decodeObject(raw, &out[i]); err != nil {
			return nil, itemError("group action", i, err)
		}
		if err := out[i].validate(); err != nil {
			return nil, fmt.Errorf("group action %d: %w", i, err)
		}
	}
	return out, nil
}

// endpointRef reads one item of a message's endpoints: a name, or the C#
// extension's ServiceEndpoint object, known by its name or else its URI.
func endpointRef(data json.RawMessage) (string, error) {
	var ref string
	if json.Unmarshal(data, &ref) == nil {
		return ref, nil
	}
	var obj struct {
		Name     string `json:"name"`
		Endpoint string `json:"endpoint"`
	}
	if t := bytes.TrimSpace(data); len(t) == 0 || t[0] != '{' || json.Unmarshal(t, &obj) != nil {
		return "", fmt.Errorf("is %s: give an endpoint name or an object with name or endpoint", abbreviate(t))
	}
	switch {
	case obj.Name != "":
		return obj.Name, nil
	case obj.Endpoint != "":
		return obj.Endpoint, nil
	}
	return "", errors.New(`has neither name nor endpoint: give the endpoint's name, such as {"name": "east"}`)
}

func (m *Message) validate() error {
	if m.Target == "" {
		return errors.New(`target is missing: name the client method to call, such as "newMessage"`)
	}
	for _, n := range []struct{ field, v string }{{"connectionId", m.ConnectionID}, {"userId", m.UserID}, {"groupName", m.GroupName}} {
		if n.v != "" {
			if err := validateName(n.field, n.v); err != nil {
				return err
			}
		}
	}
	if len(m.Excluded) > 0 && (m.ConnectionID != "" || m.UserID != "") {
		return errors.New("excluded applies to a group or to everyone, not with connectionId or userId: drop excluded or send to a group")
	}
	for _, c := range m.Excluded {
		if err := validateName("excluded", c); err != nil {
			return err
		}
	}
	return nil
}

func (a *GroupAction) validate() error {
	switch {
	case a.Action == "":
		return errors.New("action is missing: valid actions are add, remove and removeAll")
	case a.UserID == "" && a.ConnectionID == "":
		return fmt.Errorf("action %s has neither userId nor connectionId: set one", a.Action)
	case a.Action != ActionRemoveAll && a.GroupName == "":
		return fmt.Errorf("action %s has no groupName: name the group", a.Action)
	}
	for _, n := range []struct{ field, v string }{{"connectionId", a.ConnectionID}, {"userId", a.UserID}, {"groupName", a.GroupName}} {
		if n.v != "" {
			if err := validateName(n.field, n.v); err != nil {
				return err
			}
		}
	}
	return nil
}

// splitItems returns the objects of data: itself, or the items of an array.
func splitItems(kind string, data []byte) ([]json.RawMessage, error) {
	data = bytes.TrimSpace(data)
	switch {
	case len(data) == 0:
		return nil, fmt.Errorf("no %s: the body is empty; send a JSON object or an array of them", kind)
	case data[0] == '{':
		return []json.RawMessage{data}, nil
	case data[0] == '[':
		var items []json.RawMessage
		if err := json.Unmarshal(data, &items); err != nil {
			return nil, fmt.Errorf("the %ss are not valid JSON: %w", kind, err)
		}
		for i, it := range items {
			if t := bytes.TrimSpace(it); len(t) == 0 || t[0] != '{' {
				return nil, fmt.Errorf("%s %d is %s, not an object", kind, i, abbreviate(t))
			}
		}
		return items, nil
	}
	return nil, fmt.Errorf("the body %s is not a %s: send a JSON object or an array of them", abbreviate(data), kind)
}

// decodeObject decodes one object; unknown fields are ignored, as in the
// C# extension.
func decodeObject(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("data follows the object")
	}
	return nil
}

// itemError names the field of a type error.
func itemError(kind string, i int, err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Errorf("%s %d: field %s is a JSON %s, want a %s", kind, i, te.Field, te.Value, te.Type)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s %d is not valid JSON: %w", kind, i, err)
	}
	return fmt.Errorf("%s %d: %w", kind, i, err)
}

// abbreviate quotes at most 40 bytes of data for an error.
func abbreviate(data []byte) string {
	if len(data) > 40 {
		return fmt.Sprintf("%q…", data[:40])
	}
	return fmt.Sprintf("%q", data)
}
