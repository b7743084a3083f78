package hostproto

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Request is what a function reads of an HTTP trigger value, which the
// host serializes (HttpRequestExtensions.GetRequestAsJObject) as
// {"Url", "Method", "Query": {name: string}, "Headers": {name: [strings]},
// "Params", "Identities": [ClaimsIdentity], "Body": string}.
type Request struct {
	Method     string
	Query      url.Values
	Headers    http.Header
	Identities []Identity
	Body       []byte
}

// Needs says which parts of an HTTP trigger a function reads; the rest is
// skipped unread. A browser's negotiate payload is mostly headers and
// identities negotiate never looks at.
type Needs struct {
	// Query are the query parameters kept.
	Query []string
	// Headers are the headers kept, in canonical form.
	Headers []string
	// Identities says whether Identities is read.
	Identities bool
	// Body says whether Body is read.
	Body bool
}

// wantsHeader returns the canonical name of header name when it is kept.
func (n *Needs) wantsHeader(name []byte) (string, bool) { return keptName(n.Headers, name) }

// wantsQuery returns the name of query parameter name when it is kept,
// in any case: ASP.NET reads a query without regard to case, and the host
// passes the caller's spelling on.
func (n *Needs) wantsQuery(name []byte) (string, bool) { return keptName(n.Query, name) }

// keptName returns the one of kept that name spells in any case.
func keptName(kept []string, name []byte) (string, bool) {
	for _, k := range kept {
		if len(k) == len(name) && bytes.EqualFold([]byte(k), name) {
			return k, true
		}
	}
	return "", false
}

// Identity is a ClaimsIdentity as the host serializes it in payload mode.
type Identity struct {
	AuthenticationType string  `json:"AuthenticationType"`
	Claims             []Claim `json:"Claims"`
}

// Claim is one claim of an Identity.
type Claim struct {
	Type  string `json:"Type"`
	Value string `json:"Value"`
}

// shapeError is an HTTP trigger whose needed parts are not what the host
// sends.
type shapeError struct {
	path, want string
}

func (e *shapeError) Error() string { return e.path + ": want " + e.want }

// readRequest reads an object in Data. It is the HTTP trigger when it has
// both Url and Method, as every host request does; then a needed part of
// another shape is an error. Otherwise the object is other data, and timer
// says whether it is a timer's value ({"Schedule", "ScheduleStatus",
// "IsPastDue"}).
func readRequest(r *jsonReader, name string, n *Needs) (req *Request, timer bool, err error) {
	hr := &Request{}
	var hasURL, hasMethod bool
	var body string
	var hasBody bool
	// bad notes a needed part of the wrong shape and skips it whole,
	// from where it began.
	bad := func(start int, part, want string) {
		if err == nil {
			err = &shapeError{path: "Data." + name + "." + part, want: want}
		}
		r.i = start
		r.skip()
	}
	r.enter('{', "an object")
	for k := 0; r.more('}', k == 0); k++ {
		key := r.key()
		r.peek()
		start := r.i
		switch {
		case bytes.EqualFold(key, []byte("Url")):
			hasURL = true
			if r.peek() != '"' {
				bad(start, "Url", "a string")
				continue
			}
			r.rawString()
		case bytes.EqualFold(key, []byte("Method")):
			hasMethod = true
			s, ok := r.str()
			if !ok {
				bad(start, "Method", "a string")
				continue
			}
			hr.Method = strings.ToUpper(s)
		case bytes.EqualFold(key, []byte("Query")):
			if e := readQuery(r, hr, n); e != "" {
				bad(start, "Query"+e, "an object of strings")
			}
		case bytes.EqualFold(key, []byte("Headers")):
			if e := readHeaders(r, hr, n); e != "" {
				bad(start, "Headers"+e, "an object of arrays of strings")
			}
		case bytes.EqualFold(key, []byte("Identities")) && n.Identities:
			if e := readIdentities(r, hr); e != "" {
				bad(start, "Identities"+e, "an array of identities with Claims of {Type, Value} strings")
			}
		case bytes.EqualFold(key, []byte("Body")) && n.Body:
			if r.null() {
				continue
			}
			s, ok := r.str()
			if !ok {
				bad(start, "Body", "a string")
				continue
			}
			body, hasBody = s, true
		case bytes.EqualFold(key, []byte("IsPastDue")):
			timer = true
			r.skip()
		default:
			r.skip()
		}
	}
	if !hasURL || !hasMethod || r.err != nil {
		return nil, timer, nil
	}
	if err != nil {
		return nil, false, err
	}
	if hasBody {
		if hr.Body, err = bodyBytes(body, hr.Headers.Get("Content-Type")); err != nil {
			return nil, false, &shapeError{path: "Data." + name + ".Body", want: err.Error()}
		}
	}
	return hr, false, nil
}

// readQuery keeps the needed query parameters. It returns where the shape
// is wrong, or "".
func readQuery(r *jsonReader, hr *Request, n *Needs) string {
	return readObject(r, func(key []byte) string {
		name, ok := n.wantsQuery(key)
		if !ok {
			r.skip()
			return ""
		}
		v, ok := r.str()
		if !ok {
			return fmt.Sprintf("[%q]", name)
		}
		if hr.Query == nil {
			hr.Query = url.Values{}
		}
		// Kept twice (hub and Hub) is refused by the function, not
		// decided here.
		hr.Query.Add(name, v)
		return ""
	})
}

// readHeaders keeps the first value of each needed header, matching names
// without regard to case as HTTP does: the functions read one value
// (Header.Get), and keeping every value of a header repeated a million
// times would cost far more memory than the payload.
func readHeaders(r *jsonReader, hr *Request, n *Needs) string {
	return readObject(r, func(key []byte) string {
		name, ok := n.wantsHeader(key)
		if !ok {
			r.skip()
			return ""
		}
		if r.peek() != '[' {
			return fmt.Sprintf("[%q]", name)
		}
		r.enter('[', "")
		for j := 0; r.more(']', j == 0); j++ {
			if r.peek() != '"' {
				return fmt.Sprintf("[%q]", name)
			}
			if len(hr.Headers[name]) > 0 {
				r.rawString()
				continue
			}
			v, _ := r.str()
			if hr.Headers == nil {
				hr.Headers = http.Header{}
			}
			hr.Headers[name] = []string{v}
		}
		return ""
	})
}

// readIdentities reads each ClaimsIdentity's AuthenticationType and Claims,
// keeping only identities with claims: an empty one names no one, and
// keeping it would cost many times its bytes.
func readIdentities(r *jsonReader, hr *Request) string {
	defer func() {
		hr.Identities = slices.DeleteFunc(hr.Identities, func(id Identity) bool { return len(id.Claims) == 0 })
	}()
	return readObjects(r, func() {
		// The last Identity read is replaced when it has no claims.
		if n := len(hr.Identities); n > 0 && len(hr.Identities[n-1].Claims) == 0 {
			hr.Identities = hr.Identities[:n-1]
		}
		hr.Identities = append(hr.Identities, Identity{})
	}, func(key []byte) string {
		id := &hr.Identities[len(hr.Identities)-1]
		switch {
		case bytes.EqualFold(key, []byte("AuthenticationType")):
			if r.null() {
				return ""
			}
			s, ok := r.str()
			if !ok {
				return ".AuthenticationType"
			}
			id.AuthenticationType = s
		case bytes.EqualFold(key, []byte("Claims")):
			if e := readClaims(r, id); e != "" {
				return ".Claims" + e
			}
		default:
			r.skip()
		}
		return ""
	})
}

// readClaims reads each claim's Type and Value, keeping only claims with a
// type, which is what the functions look claims up by.
func readClaims(r *jsonReader, id *Identity) string {
	defer func() {
		id.Claims = slices.DeleteFunc(id.Claims, func(c Claim) bool { return c.Type == "" })
	}()
	return readObjects(r, func() {
		// The last claim read is replaced when it has no type.
		if n := len(id.Claims); n > 0 && id.Claims[n-1].Type == "" {
			id.Claims = id.Claims[:n-1]
		}
		id.Claims = append(id.Claims, Claim{})
	}, func(key []byte) string {
		c := &id.Claims[len(id.Claims)-1]
		var dst *string
		switch {
		case bytes.EqualFold(key, []byte("Type")):
			dst = &c.Type
		case bytes.EqualFold(key, []byte("Value")):
			dst = &c.Value
		default:
			r.skip()
			return ""
		}
		s, ok := r.str()
		if !ok {
			return "." + string(key)
		}
		*dst = s
		return ""
	})
}

// readObjects reads a JSON array of objects, null meaning none. For each
// object it calls add, then field with each key; field reads or skips the
// value and returns where its shape is wrong, or "". readObjects returns
// where the shape is wrong, such as "[1].Type", or "".
func readObjects(r *jsonReader, add func(), field func(key []byte) string) string {
	if r.null() {
		return ""
	}
	if r.peek() != '[' {
		return " (not an array)"
	}
	r.enter('[', "")
	for i := 0; r.more(']', i == 0); i++ {
		if r.peek() != '{' {
			return fmt.Sprintf("[%d]", i)
		}
		add()
		if e := readObject(r, field); e != "" {
			return fmt.Sprintf("[%d]%s", i, e)
		}
	}
	return ""
}

// readObject reads a JSON object, null meaning none, calling field with each
// key; field reads or skips the value and returns where its shape is wrong,
// or "". readObject returns where the shape is wrong, or "".
func readObject(r *jsonReader, field func(key []byte) string) string {
	if r.null() {
		return ""
	}
	if r.peek() != '{' {
		return " (not an object)"
	}
	r.enter('{', "")
	for k := 0; r.more('}', k == 0); k++ {
		if e := field(r.key()); e != "" {
			return e
		}
	}
	return ""
}

// bodyBytes turns Body back into the bytes the caller sent: the host reads
// octet-stream and multipart bodies as bytes, which JSON carries as base64,
// and every other body as a string.
func bodyBytes(body, contentType string) ([]byte, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/octet-stream" || strings.HasPrefix(mt, "multipart/") {
		b, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return nil, fmt.Errorf("base64 of the %s body", mt)
		}
		return b, nil
	}
	return []byte(body), nil
}
