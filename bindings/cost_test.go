package bindings

import (
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
}

// FuzzDecodeCost checks the allocations per byte of both decoders on any
// body.
func FuzzDecodeCost(f *testing.F) {
	f.Add([]byte(`[{"target":"t","arguments":[0,0,0,"",{},[]]},{"action":"add","userId":"u","groupName":"g"}]`))
	f.Add([]byte(`{"target":"t","userId":"a","USERID":""}`))
	f.Fuzz(func(t *testing.T, body []byte) { checkDecodeAllocs(t, "a body", body) })
}
