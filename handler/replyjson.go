package handler

import (
	"encoding/json"

	"github.com/signalr-entra/handler/bindings"
	"github.com/signalr-entra/handler/internal/jsontext"
)

// marshalReply is json.Marshal, byte for byte, with the negotiate reply
// written without reflection: it is the body of nearly every request, and
// encoding/json's reflective walk of its two strings cost as much as the
// rest of writing the reply.
func marshalReply(body any) ([]byte, error) {
	ci, ok := body.(*bindings.ConnectionInfo)
	if !ok || !jsontext.Plain(ci.URL) || !jsontext.Plain(ci.AccessToken) {
		return json.Marshal(body)
	}
	b := make([]byte, 0, len(`{"url":"","accessToken":""}`)+len(ci.URL)+len(ci.AccessToken))
	b = append(b, `{"url":"`...)
	b = append(b, ci.URL...)
	b = append(b, `","accessToken":"`...)
	b = append(b, ci.AccessToken...)
	return append(b, `"}`...), nil
}
