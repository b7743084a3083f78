// Package costtest holds parsers of outside input to a cost linear in
// their input, counted rather than timed so that the checks are
// deterministic: the bytes a parse allocates per input byte.
package costtest

import (
	"bytes"
	"encoding/binary"
	"math"
	"runtime"
	"testing"
)

// Slack is what a parse may allocate beyond its share per byte: its fixed
// structures, and whatever else the runtime allocates meanwhile.
const Slack = 64 << 10

// AllocatedBytes returns the bytes f allocates: the least of three runs,
// since the counter also counts what other goroutines allocate meanwhile,
// such as a fuzzing worker's own.
func AllocatedBytes(f func()) uint64 {
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

// CheckAllocs fails t when parse, given an input of n bytes, allocates
// more than perByte bytes per byte of it, plus Slack.
func CheckAllocs(t testing.TB, what string, n int, perByte uint64, parse func()) {
	t.Helper()
	if got := AllocatedBytes(parse); got > perByte*uint64(n)+Slack {
		t.Errorf("%s of %d bytes allocated %d bytes (%.1f per byte), over %d per byte",
			what, n, got, float64(got)/float64(n), perByte)
	}
}

// Zeros is a JSON array of n zeros: the most values a JSON body of its
// size can hold.
func Zeros(n int) []byte {
	return append(append([]byte("["), bytes.Repeat([]byte("0,"), n-1)...), "0]"...)
}

// MsgpackInvocation is a MessagePack invocation of target with n zeros as
// its arguments, as the service posts it upstream (no length prefix): the
// most arguments a MessagePack body of its size can hold.
func MsgpackInvocation(target string, n int) []byte {
	b := []byte{0x95, 0x01, 0x80, 0xc0, 0xd9, byte(len(target))}
	b = binary.BigEndian.AppendUint32(append(append(b, target...), 0xdd), uint32(n))
	return append(b, make([]byte, n)...)
}
