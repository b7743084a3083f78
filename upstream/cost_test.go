package upstream

import (
	"fmt"
	"testing"

	"github.com/signalr-entra/handler/internal/costtest"
)

// maxAllocsPerByte bounds what decoding an upstream body allocates per
// byte: the JSON decoder's copy and the arguments once, or the arguments
// of a MessagePack body as JSON, where a control character in a string
// becomes the six bytes of its \u escape, in a buffer that grows by
// doubling (23.6 bytes per byte for strings of NULs).
const maxAllocsPerByte = 32

func checkAllocs(t testing.TB, what string, body []byte) {
	t.Helper()
	costtest.CheckAllocs(t, what+" as JSON", len(body), maxAllocsPerByte, func() { _, _ = decodeJSONUpstream(body, typeInvocation) })
	costtest.CheckAllocs(t, what+" as MessagePack", len(body), maxAllocsPerByte, func() { _, _ = decodeMsgpackInvocation(body) })
}

// TestArgumentsAllocsLinear checks that a million arguments cost no more
// than their bytes; they used to cost 24 bytes and an allocation apiece
// (70 bytes per byte of a JSON body).
func TestArgumentsAllocsLinear(t *testing.T) {
	checkAllocs(t, "a million zeros", []byte(`{"type":1,"target":"Echo","arguments":`+string(costtest.Zeros(1_000_000))+`}`))
	checkAllocs(t, "a million MessagePack zeros", costtest.MsgpackInvocation("Echo", 1_000_000))
	floats := []byte{0x95, 0x01, 0x80, 0xc0, 0xa4, 'E', 'c', 'h', 'o', 0xdd, 0, 0x01, 0, 0}
	for range 1 << 16 {
		floats = append(floats, 0xca, 0x3d, 0xcc, 0xcc, 0xcd) // float32 0.1
	}
	checkAllocs(t, "MessagePack float32s", floats)
	controls := []byte{0x95, 0x01, 0x80, 0xc0, 0xa4, 'E', 'c', 'h', 'o', 0xdc, 0x10, 0}
	for range 1 << 12 {
		controls = append(append(controls, 0xd9, 0xff), make([]byte, 0xff)...) // 255 NULs, \u0000 in JSON
	}
	checkAllocs(t, "MessagePack strings of control characters", controls)
}

// FuzzDecodeCost checks both decoders' allocations per byte on any body.
func FuzzDecodeCost(f *testing.F) {
	f.Add([]byte(`{"type":1,"target":"Echo","arguments":[0,"",{},[],null]}`))
	f.Add(costtest.MsgpackInvocation("Echo", 16))
	f.Fuzz(func(t *testing.T, body []byte) { checkAllocs(t, fmt.Sprintf("%x", body), body) })
}
