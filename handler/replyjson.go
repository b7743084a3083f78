package handler

import (
	"encoding/json"

	"github.com/signalr-entra/handler/bindings"
)

// marshalReply is json.Marshal, byte for byte, with the negotiate reply
// written without reflection: it is the body of nearly every request, and
// encoding/json's reflective walk of its two strings cost as much as the
// rest of writing the reply.
func marshalReply(body any) ([]byte, error) {
	ci, ok := body.(*bindings.ConnectionInfo)
	if !ok || !plainJSON(ci.URL) || !plainJSON(ci.AccessToken) {
		return json.Marshal(body)
	}
	b := make([]byte, 0, len(`{"url":"","accessToken":""}`)+len(ci.URL)+len(ci.AccessToken))
	b = append(b, `{"url":"`...)
	b = append(b, ci.URL...)
	b = append(b, `","accessToken":"`...)
	b = append(b, ci.AccessToken...)
	return append(b, `"}`...), nil
}

// plainJSON says whether encoding/json writes s as it is between quotes:
// printable ASCII without the characters it escapes (", \ and, for HTML,
// <, > and &).
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c >= 0x80, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}
