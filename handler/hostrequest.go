package handler

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// hostRequest is an HTTP trigger value as the host serializes it.
type hostRequest struct {
	URL        string
	Method     string
	Query      url.Values
	Headers    http.Header
	Identities []identity
	Body       []byte
}

// wireRequest reads the HTTP trigger leniently: host versions differ in
// whether Query and Identities are JSON or JSON-encoded strings, header
// values are arrays or strings, and Body is a string or JSON.
type wireRequest struct {
	URL        string          `json:"Url"`
	Method     string          `json:"Method"`
	Query      flexStrings     `json:"Query"`
	Headers    flexHeaders     `json:"Headers"`
	Identities flexIdentities  `json:"Identities"`
	Body       json.RawMessage `json:"Body"`
}

func (w *wireRequest) request() *hostRequest {
	return newHostRequest(w.URL, w.Method, w.Query, http.Header(w.Headers), w.Identities, w.Body)
}

// strictRequest is the HTTP trigger as current hosts send it.
type strictRequest struct {
	URL        string              `json:"Url"`
	Method     string              `json:"Method"`
	Query      map[string]string   `json:"Query"`
	Headers    map[string][]string `json:"Headers"`
	Identities []identity          `json:"Identities"`
	Body       json.RawMessage     `json:"Body"`
}

func (s *strictRequest) request() *hostRequest {
	return newHostRequest(s.URL, s.Method, s.Query, s.Headers, s.Identities, s.Body)
}

func newHostRequest(rawURL, method string, query map[string]string, headers http.Header, ids []identity, body json.RawMessage) *hostRequest {
	r := &hostRequest{
		URL:        rawURL,
		Method:     strings.ToUpper(strings.TrimSpace(method)),
		Query:      url.Values{},
		Headers:    http.Header{},
		Identities: ids,
	}
	// Canonical keys, as http.Header.Get expects them.
	for k, vs := range headers {
		for _, v := range vs {
			r.Headers.Add(k, v)
		}
	}
	for k, v := range query {
		r.Query.Set(k, v)
	}
	if len(r.Query) == 0 {
		if u, err := url.Parse(rawURL); err == nil {
			r.Query = u.Query()
		}
	}
	r.Body = bodyBytes(body, r.Headers.Get("Content-Type"))
	return r
}

// bodyBytes turns the Body value back into the bytes the caller sent.
func bodyBytes(raw json.RawMessage, contentType string) []byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		// A JSON body the host (or a test harness) kept as JSON.
		return raw
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/octet-stream" || strings.HasPrefix(mt, "multipart/") {
		// The host sends such bodies as bytes, which JSON carries as base64.
		if b, err := base64.StdEncoding.DecodeString(s); err == nil {
			return b
		}
	}
	return []byte(s)
}

// flexStrings is an object of strings, or such an object JSON-encoded in a
// string. Values that are not strings keep their JSON text.
type flexStrings map[string]string

func (f *flexStrings) UnmarshalJSON(b []byte) error {
	obj, err := objectOrEncoded(b)
	if err != nil || obj == nil {
		return err
	}
	out := make(flexStrings, len(obj))
	for k, v := range obj {
		out[k] = scalarText(v)
	}
	*f = out
	return nil
}

// flexHeaders is an object of arrays of strings, or of strings.
type flexHeaders http.Header

func (f *flexHeaders) UnmarshalJSON(b []byte) error {
	obj, err := objectOrEncoded(b)
	if err != nil || obj == nil {
		return err
	}
	h := make(http.Header, len(obj))
	for k, v := range obj {
		var list []json.RawMessage
		if v = bytes.TrimSpace(v); len(v) == 0 || v[0] != '[' || json.Unmarshal(v, &list) != nil {
			list = []json.RawMessage{v}
		}
		for _, item := range list {
			if !isNull(item) {
				h.Add(k, scalarText(item))
			}
		}
	}
	*f = flexHeaders(h)
	return nil
}

// flexIdentities is an array of identities, one identity, or either of them
// JSON-encoded in a string.
type flexIdentities []identity

func (f *flexIdentities) UnmarshalJSON(b []byte) error {
	b = unquoted(b)
	if len(b) == 0 || isNull(b) {
		return nil
	}
	if b[0] == '{' {
		var one identity
		if err := json.Unmarshal(b, &one); err != nil {
			return fmt.Errorf("Identities: %w", err)
		}
		*f = flexIdentities{one}
		return nil
	}
	var list []identity
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("Identities: %w", err)
	}
	*f = list
	return nil
}

// objectOrEncoded reads a JSON object, or a string holding one. null and ""
// give nil.
func objectOrEncoded(b []byte) (map[string]json.RawMessage, error) {
	b = unquoted(b)
	if len(b) == 0 || isNull(b) {
		return nil, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, fmt.Errorf("want a JSON object: %w", err)
	}
	return obj, nil
}

// unquoted returns the JSON text b, or the text a JSON string b holds:
// older hosts send some objects JSON-encoded in strings.
func unquoted(b []byte) []byte {
	b = bytes.TrimSpace(b)
	var s string
	if len(b) > 0 && b[0] == '"' && json.Unmarshal(b, &s) == nil {
		return bytes.TrimSpace([]byte(s))
	}
	return b
}

// scalarText is a string's value, "" for null, or the JSON text of
// anything else.
func scalarText(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	var s string
	if len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &s) == nil {
		return s
	}
	if isNull(v) {
		return ""
	}
	return string(bytes.TrimSpace(v))
}

func isNull(b []byte) bool { return bytes.Equal(bytes.TrimSpace(b), []byte("null")) }
