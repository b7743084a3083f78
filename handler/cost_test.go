package handler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
)

// The cost tests hold each parser of outside input to a cost linear in the
// input: the bytes the JSON reader's string searches look at, and the bytes
// a parse allocates, are counted rather than timed, so that the checks are
// deterministic. Timings per size are in the benchmarks (cost_bench_test.go)
// and docs/PERFORMANCE.md.

// maxSearchedPerByte bounds jsonReader.searched per input byte: a string's
// bytes are looked at once by the search for its closing quote and once by
// the search for escapes.
const maxSearchedPerByte = 2

// escapeUnits are the escapes a hostile string repeats: each made the
// reader search for the closing quote again.
var escapeUnits = []string{`\\`, `\"`, `\u0041`, `a\n`, `\/\b`}

// payloadWithBody is a payload-mode invocation whose HTTP trigger's Body
// is the JSON string text body (without its quotes).
func payloadWithBody(body string) []byte {
	return []byte(`{"Data":{"req":{"Url":"http://localhost/api/messages","Method":"POST","Query":{},` +
		`"Headers":{"Content-Type":["application/json"]},"Body":"` + body + `"}},"Metadata":{}}`)
}

func TestJSONReaderLinearInEscapes(t *testing.T) {
	for _, unit := range escapeUnits {
		for _, n := range []int{1 << 10, 1 << 14} {
			body := strings.Repeat(unit, n)
			payload := payloadWithBody(body)
			r := &jsonReader{b: payload}
			r.skip()
			if r.err != nil {
				t.Fatalf("%q×%d: %v", unit, n, r.err)
			}
			if r.searched > maxSearchedPerByte*len(payload) {
				t.Errorf("skipping a payload of %d bytes (Body of %q×%d) searched %d bytes, over %d per byte",
					len(payload), unit, n, r.searched, maxSearchedPerByte)
			}
			s := &jsonReader{b: []byte(`"` + body + `"`)}
			if _, ok := s.str(); !ok || s.err != nil {
				t.Fatalf("%q×%d: str failed: %v", unit, n, s.err)
			}
			if s.searched > maxSearchedPerByte*(len(body)+2) {
				t.Errorf("reading a string of %q×%d (%d bytes) searched %d bytes", unit, n, len(body)+2, s.searched)
			}
		}
	}
}

// FuzzJSONReaderCost checks that no input makes the reader look at its
// bytes more than maxSearchedPerByte times.
func FuzzJSONReaderCost(f *testing.F) {
	for _, unit := range escapeUnits {
		f.Add([]byte(`"` + strings.Repeat(unit, 64) + `"`))
		f.Add(payloadWithBody(strings.Repeat(unit, 64)))
	}
	f.Add([]byte(`["\\`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := &jsonReader{b: b}
		r.skip()
		r.end()
		if r.searched > maxSearchedPerByte*len(b) {
			t.Fatalf("%q: searched %d bytes of %d", b, r.searched, len(b))
		}
	})
}

// allocSlack is what a parse may allocate beyond its share per byte: the
// fixed structures, and whatever else the runtime allocates meanwhile.
const allocSlack = 64 << 10

// allocatedBytes returns the bytes f allocates: the least of three runs,
// since the counter also counts what other goroutines allocate meanwhile,
// such as a fuzzing worker's own.
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

// checkAllocs fails t when parse allocates more than perByte bytes per byte
// of its input of n bytes, plus allocSlack.
func checkAllocs(t testing.TB, what string, n int, perByte uint64, parse func()) {
	t.Helper()
	if got := allocatedBytes(parse); got > perByte*uint64(n)+allocSlack {
		t.Errorf("%s of %d bytes allocated %d bytes (%.1f per byte), over %d per byte",
			what, n, got, float64(got)/float64(n), perByte)
	}
}

// maxDecodeAllocsPerByte bounds what decodeInvocation allocates per payload
// byte: the Body once as a string and once as bytes, and, for a payload of
// many tiny headers or claims, their strings and structures.
const maxDecodeAllocsPerByte = 24

func TestDecodeInvocationAllocsLinear(t *testing.T) {
	n := allNeeds()
	shapes := map[string][]byte{
		"escaped body": payloadWithBody(strings.Repeat(`\\`, 1<<19)),
		"many headers": []byte(`{"Data":{"req":{"Url":"u","Method":"POST","Headers":{"Origin":[` + repeatJoined(`"a"`, 1<<17) + `]}}}}`),
		"many claims":  []byte(`{"Data":{"req":{"Url":"u","Method":"POST","Identities":[{"Claims":[` + repeatJoined(`{}`, 1<<17) + `]}]}}}`),
		"many queries": []byte(`{"Data":{"req":{"Url":"u","Method":"POST","Query":{` + repeatJoined(`"hub":""`, 1<<16) + `}}}}`),
	}
	for name, payload := range shapes {
		checkAllocs(t, name, len(payload), maxDecodeAllocsPerByte, func() {
			if _, err := decodeInvocation(payload, n); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		})
	}
}

// FuzzDecodeInvocationCost checks decodeInvocation's allocations per byte
// on any input.
func FuzzDecodeInvocationCost(f *testing.F) {
	for _, unit := range escapeUnits {
		f.Add(payloadWithBody(strings.Repeat(unit, 256)))
	}
	f.Add([]byte(`{"Data":{"req":{"Url":"u","Method":"POST","Identities":[{"Claims":[{},{},{}]}]}}}`))
	n := allNeeds()
	f.Fuzz(func(t *testing.T, payload []byte) {
		checkAllocs(t, fmt.Sprintf("%q", payload), len(payload), maxDecodeAllocsPerByte, func() { _, _ = decodeInvocation(payload, n) })
	})
}

// allNeeds reads every part of a trigger any function reads.
func allNeeds() *needs {
	return &needs{query: []string{"hub"}, headers: []string{"Origin", "Content-Type", "X-Ms-Client-Principal"}, identities: true, body: true}
}

func repeatJoined(s string, n int) string {
	var b bytes.Buffer
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s)
	}
	return b.String()
}

// maxUpstreamAllocsPerByte bounds what decoding an upstream body allocates
// per byte: the JSON decoder's copy and the arguments once, or the
// arguments of a MessagePack body as JSON, where a control character in a
// string becomes the six bytes of its \u escape, in a buffer that grows by
// doubling (23.6 bytes per byte for strings of NULs).
const maxUpstreamAllocsPerByte = 32

func checkUpstreamAllocs(t testing.TB, what string, body []byte) {
	t.Helper()
	checkAllocs(t, what+" as JSON", len(body), maxUpstreamAllocsPerByte, func() { _, _ = decodeJSONUpstream(body, typeInvocation) })
	checkAllocs(t, what+" as MessagePack", len(body), maxUpstreamAllocsPerByte, func() { _, _ = decodeMsgpackInvocation(body) })
}

// TestUpstreamArgumentsAllocsLinear checks that a million arguments cost
// no more than their bytes; they used to cost 24 bytes and an allocation
// apiece.
func TestUpstreamArgumentsAllocsLinear(t *testing.T) {
	checkUpstreamAllocs(t, "a million zeros", []byte(`{"type":1,"target":"Echo","arguments":`+string(zeros(1_000_000))+`}`))
	checkUpstreamAllocs(t, "a million MessagePack zeros", msgpackInvocation("Echo", 1_000_000))
	floats := []byte{0x95, 0x01, 0x80, 0xc0, 0xa4, 'E', 'c', 'h', 'o', 0xdd, 0, 0x01, 0, 0}
	for range 1 << 16 {
		floats = append(floats, 0xca, 0x3d, 0xcc, 0xcc, 0xcd) // float32 0.1
	}
	checkUpstreamAllocs(t, "MessagePack float32s", floats)
	controls := []byte{0x95, 0x01, 0x80, 0xc0, 0xa4, 'E', 'c', 'h', 'o', 0xdc, 0x10, 0}
	for range 1 << 12 {
		controls = append(append(controls, 0xd9, 0xff), make([]byte, 0xff)...) // 255 NULs, \u0000 in JSON
	}
	checkUpstreamAllocs(t, "MessagePack strings of control characters", controls)
}

// FuzzUpstreamCost checks both upstream decoders' allocations per byte on
// any body.
func FuzzUpstreamCost(f *testing.F) {
	f.Add([]byte(`{"type":1,"target":"Echo","arguments":[0,"",{},[],null]}`))
	f.Add(msgpackInvocation("Echo", 16))
	f.Fuzz(func(t *testing.T, body []byte) { checkUpstreamAllocs(t, fmt.Sprintf("%x", body), body) })
}

// FuzzAppendJSONString checks that appendJSONString writes what
// encoding/json writes for any string.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\\n\r\t\b\f\x00\x1f", "<a href='x'>&</a>", "\u2028\u2029é😀", "\xff\xfe bad", "\xe2\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	})
}
