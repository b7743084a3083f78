package bindings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Message is a message to clients, as the C# extension's SignalRMessage:
// to a connection when ConnectionID is set, else to a user when UserID is,
// else to a group when GroupName is, else to every connection of the hub.
type Message struct {
	ConnectionID string `json:"connectionId,omitempty"`
	UserID       string `json:"userId,omitempty"`
	GroupName    string `json:"groupName,omitempty"`
	Target       string `json:"target"`
	// Arguments is the JSON array of the arguments, kept as the bytes that
	// came in: arguments are opaque here, and decoding each into a value of
	// its own cost tens of bytes per byte of the body.
	Arguments json.RawMessage `json:"arguments"`
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
	// TTL, in seconds, bounds a user's membership added with ActionAdd:
	// 0 adds only the user's connections of the moment. Without it the
	// membership lasts (the service keeps it a year at most).
	TTL *int `json:"ttl,omitempty"`
	// Endpoints names the endpoints to apply the action on, as in Message.
	Endpoints []string `json:"endpoints,omitempty"`
}

// The fields each kind of item may hold: SignalRMessage's and
// SignalRGroupAction's JSON properties, plus excluded.
var (
	messageFields     = []string{"connectionId", "userId", "groupName", "target", "arguments", "endpoints", "excluded"}
	groupActionFields = []string{"connectionId", "userId", "groupName", "action", "ttl", "endpoints"}
)

// ItemLimitError reports a request holding more items than allowed.
type ItemLimitError struct {
	Kind string // "message" or "group action"
	Max  int
}

func (e *ItemLimitError) Error() string {
	return fmt.Sprintf("more than %d %ss in one request", e.Max, e.Kind)
}

// DecodeMessages reads one message object or an array of them, checking
// each as it is read, so that a bad item costs no more than the items
// before it; an error names the item's index and field. Unknown fields are
// refused: a misspelled address (user for userId) would otherwise send to
// everyone. maxItems, when positive, bounds the number of items
// (*ItemLimitError).
func DecodeMessages(data []byte, maxItems int) ([]Message, error) {
	out := []Message{}
	err := eachItem("message", messageFields, data, maxItems, func(i int, d *json.Decoder, checkFields func() error) error {
		m, err := decodeMessage(i, d, checkFields)
		if err == nil {
			out = append(out, m)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func decodeMessage(i int, d *json.Decoder, checkFields func() error) (Message, error) {
	// Arguments are checked apart, to say so when they are no array.
	var w struct {
		ConnectionID string          `json:"connectionId"`
		UserID       string          `json:"userId"`
		GroupName    string          `json:"groupName"`
		Target       string          `json:"target"`
		Arguments    json.RawMessage `json:"arguments"`
		Endpoints    endpointList    `json:"endpoints"`
		Excluded     ExcludedIDs     `json:"excluded"`
	}
	if err := d.Decode(&w); err != nil {
		return Message{}, itemError("message", i, err, messageFields)
	}
	if err := checkFields(); err != nil {
		return Message{}, err
	}
	m := Message{ConnectionID: w.ConnectionID, UserID: w.UserID, GroupName: w.GroupName, Target: w.Target, Excluded: w.Excluded, Endpoints: w.Endpoints}
	if args := bytes.TrimSpace(w.Arguments); len(args) > 0 && !bytes.Equal(args, []byte("null")) {
		if args[0] != '[' {
			return Message{}, fmt.Errorf("message %d: arguments is %s, not an array: put the arguments in [ ]", i, abbreviate(args))
		}
		m.Arguments = args
	}
	if err := m.validate(); err != nil {
		return Message{}, fmt.Errorf("message %d: %w", i, err)
	}
	return m, nil
}

// DecodeGroupActions reads one group action object or an array of them,
// checking each as it is read; an error names the item's index and field.
// Unknown fields are refused, and maxItems bounds the items as in
// DecodeMessages.
func DecodeGroupActions(data []byte, maxItems int) ([]GroupAction, error) {
	out := []GroupAction{}
	err := eachItem("group action", groupActionFields, data, maxItems, func(i int, d *json.Decoder, checkFields func() error) error {
		var w struct {
			Action       Action       `json:"action"`
			UserID       string       `json:"userId"`
			ConnectionID string       `json:"connectionId"`
			GroupName    string       `json:"groupName"`
			TTL          *int         `json:"ttl"`
			Endpoints    endpointList `json:"endpoints"`
		}
		if err := d.Decode(&w); err != nil {
			return itemError("group action", i, err, groupActionFields)
		}
		if err := checkFields(); err != nil {
			return err
		}
		a := GroupAction{Action: w.Action, UserID: w.UserID, ConnectionID: w.ConnectionID, GroupName: w.GroupName, TTL: w.TTL, Endpoints: w.Endpoints}
		if err := a.validate(); err != nil {
			return fmt.Errorf("group action %d: %w", i, err)
		}
		out = append(out, a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ExcludedIDs is a JSON array of connection ids to leave out (null items
// read as ""), read into a slice of its final length: encoding/json would
// grow a []string a quarter at a time, five times its size in garbage.
type ExcludedIDs []string

// UnmarshalJSON reads a JSON array of strings, or null.
func (l *ExcludedIDs) UnmarshalJSON(data []byte) error {
	out, err := readList("excluded", data, func(item []byte) (string, error) {
		if item[0] != '"' && !bytes.Equal(item, []byte("null")) {
			return "", fmt.Errorf("is %s, not a string", abbreviate(item))
		}
		return unquote(item), nil
	})
	*l = out
	return err
}

// endpointList is a message's endpoints (endpointRef).
type endpointList []string

func (l *endpointList) UnmarshalJSON(data []byte) error {
	out, err := readList("endpoints", data, endpointRef)
	*l = out
	return err
}

// readList reads the JSON array data with ref, each item as its bytes,
// into a slice of its final length, reading the items where they are:
// encoding/json grows a slice a quarter at a time (five times its size in
// garbage for a long list) and a decoder for each item costs tens of bytes
// per byte. data is valid JSON: encoding/json checked it before calling
// an UnmarshalJSON.
func readList(field string, data []byte, ref func([]byte) (string, error)) ([]string, error) {
	data = bytes.TrimSpace(data)
	if bytes.Equal(data, []byte("null")) {
		return nil, nil
	}
	if data[0] != '[' {
		return nil, fmt.Errorf("%s is %s, not an array", field, abbreviate(data))
	}
	if len(bytes.TrimSpace(data[1:len(data)-1])) == 0 {
		return []string{}, nil
	}
	n := 0
	for j := 1; j < len(data)-1; j = itemEnd(data, j) + 1 {
		n++
	}
	out := make([]string, 0, n)
	for j := 1; j < len(data)-1; {
		end := itemEnd(data, j)
		s, err := ref(bytes.TrimSpace(data[j:end]))
		if err != nil {
			return nil, fmt.Errorf("%s item %d %w", field, len(out), err)
		}
		out = append(out, s)
		j = end + 1
	}
	return out, nil
}

// unquote returns the JSON string s (valid JSON) as text, as
// encoding/json reads it (a lone surrogate or a byte that is not UTF-8
// becomes U+FFFD); null reads as "". It allocates only the text: a
// json.Unmarshal costs some 200 bytes a call.
func unquote(s []byte) string {
	if s[0] != '"' {
		return ""
	}
	s = s[1 : len(s)-1]
	if bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		return string(s)
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			r, n := utf8.DecodeRune(s[i:])
			out, i = utf8.AppendRune(out, r), i+n
			continue
		}
		c := s[i+1]
		i += 2
		switch c {
		case 'u':
			r := hexRune(s[i : i+4])
			i += 4
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					r2 = hexRune(s[i+2 : i+6])
				}
				if r = utf16.DecodeRune(r, r2); r != utf8.RuneError {
					i += 6
				}
			}
			out = utf8.AppendRune(out, r)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		default: // '"', '\\' and '/'
			out = append(out, c)
		}
	}
	return string(out)
}

// hexRune reads the four hex digits of a \u escape.
func hexRune(h []byte) rune {
	var r rune
	for _, c := range h {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// itemEnd returns the index of the comma or closing bracket that ends the
// item of the JSON array data starting at data[j].
func itemEnd(data []byte, j int) int {
	depth := 0
	for ; j < len(data)-1; j++ {
		switch data[j] {
		case '"':
			j = stringEnd(data, j) - 1
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case ',':
			if depth == 0 {
				return j
			}
		}
	}
	return j
}

// endpointRef reads one item of a message's endpoints: a name, or the C#
// extension's ServiceEndpoint object, known by its name or else its URI,
// its fields matched in any case as encoding/json matches them.
func endpointRef(item []byte) (string, error) {
	notEndpoint := func() error {
		return fmt.Errorf("is %s: give an endpoint name or an object with name or endpoint", abbreviate(item))
	}
	if item[0] != '{' {
		if item[0] != '"' && !bytes.Equal(item, []byte("null")) {
			return "", notEndpoint()
		}
		if ref := unquote(item); strings.TrimSpace(ref) != "" {
			return ref, nil
		}
		// "" would match every endpoint configured without a name.
		return "", errors.New(`is empty: give an endpoint's name or service URI, or leave endpoints out to use every online one`)
	}
	var name, uri string
	for j := skipSpace(item, 1); item[j] == '"'; {
		keyEnd := stringEnd(item, j)
		key := unquote(item[j:keyEnd])
		v := skipSpace(item, skipSpace(item, keyEnd)+1)
		end := itemEnd(item, v)
		var dst *string
		switch {
		case strings.EqualFold(key, "name"):
			dst = &name
		case strings.EqualFold(key, "endpoint"):
			dst = &uri
		}
		if val := bytes.TrimSpace(item[v:end]); dst != nil {
			if val[0] != '"' && !bytes.Equal(val, []byte("null")) {
				return "", notEndpoint()
			}
			*dst = unquote(val)
		}
		j = skipSpace(item, end+1)
		if end == len(item)-1 {
			break
		}
	}
	switch {
	case name != "":
		return name, nil
	case uri != "":
		return uri, nil
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
	case a.TTL != nil && (a.Action != ActionAdd || a.ConnectionID != ""):
		return errors.New("ttl applies to adding a user (add with userId), not to a connection or a removal: drop ttl")
	case a.TTL != nil && (*a.TTL < 0 || *a.TTL > math.MaxInt32):
		return fmt.Errorf("ttl %d is out of range: give the seconds the membership lasts, 0 to %d, 0 for only the user's connections of the moment", *a.TTL, math.MaxInt32)
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

// eachItem calls decode for each object of data, in order: data itself,
// or the items of an array, read one at a time from one decoder, so that
// an error stops the work where it is found and no item is copied first.
// The decoder refuses unknown fields (see itemError); checkFields, called
// once the item is decoded, refuses what the decoder lets pass (see
// checkItemFields).
func eachItem(kind string, fields []string, data []byte, maxItems int, decode func(i int, d *json.Decoder, checkFields func() error) error) error {
	data = bytes.TrimSpace(data)
	switch {
	case len(data) == 0:
		return fmt.Errorf("no %s: the body is empty; send a JSON object or an array of them", kind)
	case data[0] != '{' && data[0] != '[':
		return fmt.Errorf("the body %s is not a %s: send a JSON object or an array of them", abbreviate(data), kind)
	case !utf8.Valid(data):
		// Decoding would replace such bytes in names without a word.
		return fmt.Errorf("the %ss hold bytes that are not UTF-8: send names and arguments as UTF-8 text", kind)
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if data[0] == '{' {
		check := func() error { return checkItemFields(kind, 0, data[:d.InputOffset()], fields) }
		if err := decode(0, d, check); err != nil {
			return err
		}
		if rest := bytes.TrimSpace(data[d.InputOffset():]); len(rest) > 0 {
			return fmt.Errorf("%s 0 is followed by %s: send one JSON object or an array", kind, abbreviate(rest))
		}
		return nil
	}
	notJSON := func(err error) error { return fmt.Errorf("the %ss are not valid JSON: %w", kind, err) }
	if _, err := d.Token(); err != nil {
		return notJSON(err)
	}
	for i := 0; d.More(); i++ {
		if maxItems > 0 && i == maxItems {
			return &ItemLimitError{Kind: kind, Max: maxItems}
		}
		next := bytes.TrimLeft(data[d.InputOffset():], " \t\r\n,")
		if len(next) > 0 && next[0] != '{' {
			var it json.RawMessage
			if err := d.Decode(&it); err != nil {
				return notJSON(err)
			}
			return fmt.Errorf("%s %d is %s, not an object", kind, i, abbreviate(it))
		}
		start := len(data) - len(next)
		check := func() error { return checkItemFields(kind, i, data[start:d.InputOffset()], fields) }
		if err := decode(i, d, check); err != nil {
			return err
		}
	}
	if _, err := d.Token(); err != nil {
		return notJSON(err)
	}
	if rest := bytes.TrimSpace(data[d.InputOffset():]); len(rest) > 0 {
		return fmt.Errorf("the %ss are followed by %s: send one JSON array", kind, abbreviate(rest))
	}
	return nil
}

// addressFields are the fields that say who an item reaches.
var addressFields = []string{"connectionId", "userId", "groupName"}

// checkItemFields refuses, in item (one object the decoder has read whole,
// so valid JSON), what encoding/json would let pass and what would widen
// the audience: a field given twice, in any case, of which the last would
// win ({"userId":"alice","USERID":""} sends to everyone), and an address
// given as "", which reads as not set (null still does). The C# extension
// takes both; this refusal is deliberate. One pass over the item.
func checkItemFields(kind string, i int, item []byte, fields []string) error {
	var seen [8][]byte // by index in fields (at most 8): the spelling first seen
	depth := 0
	for j := 0; j < len(item); j++ {
		switch item[j] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case '"':
			end := stringEnd(item, j)
			key, colon := item[j:end], skipSpace(item, end)
			j = end - 1
			if depth != 1 || colon >= len(item) || item[colon] != ':' {
				continue
			}
			name := key[1 : len(key)-1]
			if bytes.IndexByte(name, '\\') >= 0 {
				var s string
				if json.Unmarshal(key, &s) != nil {
					continue
				}
				name = []byte(s)
			}
			f := -1
			for k, field := range fields {
				if strings.EqualFold(field, string(name)) {
					f = k
					break
				}
			}
			if f < 0 {
				continue
			}
			if seen[f] != nil {
				return &InputError{fmt.Sprintf("%s %d: %s is given twice (%q and %q): give each field once, so that no spelling of it overrides another", kind, i, fields[f], seen[f], name)}
			}
			seen[f] = name
			if v := skipSpace(item, colon+1); slices.Contains(addressFields, fields[f]) && bytes.HasPrefix(item[v:], []byte(`""`)) {
				return &InputError{fmt.Sprintf("%s %d: %s is empty: give a name, or leave %s out (or set it to null)", kind, i, fields[f], fields[f])}
			}
		}
	}
	return nil
}

// stringEnd returns the index just past the JSON string that starts at
// item[j].
func stringEnd(item []byte, j int) int {
	for j++; j < len(item); j++ {
		switch item[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(item)
}

// skipSpace returns the index of the first byte at or after j that is not
// JSON white space.
func skipSpace(item []byte, j int) int {
	for j < len(item) && (item[j] == ' ' || item[j] == '\t' || item[j] == '\n' || item[j] == '\r') {
		j++
	}
	return j
}

// itemError names the field of a type error, and the field meant by an
// unknown one.
func itemError(kind string, i int, err error, fields []string) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Errorf("%s %d: field %s is a JSON %s, want a %s", kind, i, te.Field, te.Value, te.Type)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s %d is not valid JSON: %w", kind, i, err)
	}
	if field, ok := unknownField(err); ok {
		hint := "the fields are " + strings.Join(fields, ", ")
		if m := meantField(field, fields); m != "" {
			hint = fmt.Sprintf("did you mean %q? (%s)", m, hint)
		}
		return fmt.Errorf("%s %d: unknown field %q: %s. It is refused so that a misspelled address never reaches more clients than meant", kind, i, field, hint)
	}
	return fmt.Errorf("%s %d: %w", kind, i, err)
}

// unknownField returns the field named by encoding/json's error for an
// unknown field, which has no type of its own.
func unknownField(err error) (string, bool) {
	q, ok := strings.CutPrefix(err.Error(), "json: unknown field ")
	if !ok {
		return "", false
	}
	f, uerr := strconv.Unquote(q)
	return f, uerr == nil
}

// fieldAliases are other words for a field, by fieldKey.
var fieldAliases = map[string]string{
	"method": "target", "arg": "arguments", "param": "arguments", "parameter": "arguments",
	"exclude": "excluded", "except": "excluded", "type": "action", "op": "action", "operation": "action",
}

// meantField guesses the known field a misspelled one stands for: user,
// users, user_id and userIds all mean userId; group and group_name mean
// groupName.
func meantField(field string, known []string) string {
	k := fieldKey(field)
	if a, ok := fieldAliases[k]; ok && slices.Contains(known, a) {
		return a
	}
	for _, f := range known {
		if fieldKey(f) == k {
			return f
		}
	}
	return ""
}

// fieldKey is a field name lower-cased, without separators, a plural s, or
// an id or name suffix.
func fieldKey(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r == '.' || r == ' ' {
			return -1
		}
		return unicode.ToLower(r)
	}, s)
	s = strings.TrimSuffix(s, "s")
	for _, suffix := range []string{"id", "name"} {
		if t, ok := strings.CutSuffix(s, suffix); ok && t != "" {
			return t
		}
	}
	return s
}

// abbreviate quotes at most 40 bytes of data for an error.
func abbreviate(data []byte) string {
	if len(data) > 40 {
		return fmt.Sprintf("%q…", data[:40])
	}
	return fmt.Sprintf("%q", data)
}
