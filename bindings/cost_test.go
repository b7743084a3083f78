package bindings

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/signalr-entra/handler/internal/costtest"
)

// maxDecodeAllocsPerByte bounds what decoding a messages or groups body
// allocates per body byte, counting garbage: the decoder's copy of the
// body, the items, and each message's arguments once.
const maxDecodeAllocsPerByte = 24

func checkDecodeAllocs(t testing.TB, what string, body []byte) {
	t.Helper()
	decode := func() { _, _ = DecodeMessages(body, 0); _, _ = DecodeGroupActions(body, 0) }
	costtest.CheckAllocs(t, what, len(body), maxDecodeAllocsPerByte, decode)
}

// TestDecodeArgumentsAllocsLinear checks that a message's arguments cost
// no more than their bytes: 500,000 of them used to cost 24 bytes and an
// allocation apiece.
func TestDecodeArgumentsAllocsLinear(t *testing.T) {
	args := "[" + strings.Repeat("0,", 499_999) + "0]"
	checkDecodeAllocs(t, "a message of 500,000 arguments", []byte(`{"target":"t","arguments":`+args+`}`))
	checkDecodeAllocs(t, "a message of 500,000 empty strings", []byte(`{"target":"t","arguments":[`+strings.Repeat(`"",`, 499_999)+`""]}`))
	checkDecodeAllocs(t, "a message with a repeated field", []byte(`{"target":"t",`+strings.Repeat(`"userId":null,`, 50_000)+`"arguments":[]}`))
	// Lists of names grew their slice by a quarter at a time, and each
	// endpoint was a value of its own: 26 and 100 bytes per byte.
	checkDecodeAllocs(t, "a message excluding 250,000 connections", []byte(`{"target":"t","groupName":"g","excluded":[`+strings.Repeat(`"a",`, 249_999)+`"a"]}`))
	checkDecodeAllocs(t, "a message naming 250,000 endpoints", []byte(`{"target":"t","endpoints":[`+strings.Repeat(`"a",`, 249_999)+`"a"]}`))
	checkDecodeAllocs(t, "a message naming 80,000 endpoint objects", []byte(`{"target":"t","endpoints":[`+strings.Repeat(`{"name":"a"},`, 79_999)+`{"name":"a"}]}`))
	checkDecodeAllocs(t, "a message naming 120,000 escaped endpoints", []byte(`{"target":"t","endpoints":[`+strings.Repeat(`"\u0061",`, 119_999)+`"\u0061"]}`))
	checkDecodeAllocs(t, "a group action naming 250,000 endpoints", []byte(`{"action":"add","userId":"u","groupName":"g","endpoints":[`+strings.Repeat(`"a",`, 249_999)+`"a"]}`))
}

// FuzzDecodeCost checks the allocations per byte of both decoders on any
// body.
func FuzzDecodeCost(f *testing.F) {
	f.Add([]byte(`[{"target":"t","arguments":[0,0,0,"",{},[]]},{"action":"add","userId":"u","groupName":"g"}]`))
	f.Add([]byte(`{"target":"t","userId":"a","USERID":""}`))
	f.Fuzz(func(t *testing.T, body []byte) { checkDecodeAllocs(t, "a body", body) })
}

// FuzzUnquote checks that JSON strings read here read as encoding/json
// reads them.
func FuzzUnquote(f *testing.F) {
	f.Add(`"a\u00e9\ud83d\ude00\ud800x\udc00\ud800\u0041\"\\\/\b\f\n\r\t"`)
	f.Add("\"\xff\u00e9\"")
	f.Fuzz(func(t *testing.T, s string) {
		// Items reach unquote trimmed, strings or null.
		b := bytes.TrimSpace([]byte(s))
		var want string
		if !json.Valid(b) || json.Unmarshal(b, &want) != nil {
			return
		}
		if got := unquote(b); got != want {
			t.Fatalf("unquote(%q) = %q, want %q", s, got, want)
		}
	})
}
