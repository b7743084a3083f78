package bindings

import (
	"math"
	"runtime"
	"strings"
	"testing"
)

// maxDecodeAllocsPerByte bounds what decoding a messages or groups body
// allocates per body byte, counting garbage: the decoder's copy of the
// body, the items, and each message's arguments once.
const maxDecodeAllocsPerByte = 24

// allocSlack is what a decode may allocate beyond its share per byte.
const allocSlack = 64 << 10

// allocatedBytes returns the bytes f allocates, the least of three runs:
// the counter also counts other goroutines' allocations.
func allocatedBytes(f func()) uint64 {
	least := uint64(math.MaxUint64)
	for range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	return least
}

func checkDecodeAllocs(t testing.TB, what string, body []byte) {
	t.Helper()
	decode := func() { _, _ = DecodeMessages(body, 0); _, _ = DecodeGroupActions(body, 0) }
	if got := allocatedBytes(decode); got > maxDecodeAllocsPerByte*uint64(len(body))+allocSlack {
		t.Errorf("%s of %d bytes allocated %d bytes (%.1f per byte), over %d per byte",
			what, len(body), got, float64(got)/float64(len(body)), maxDecodeAllocsPerByte)
	}
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
