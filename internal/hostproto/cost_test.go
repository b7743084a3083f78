package hostproto

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/signalr-entra/handler/internal/costtest"
)

// The cost tests hold the reader to a cost linear in its input: the bytes
// its string searches look at, and the bytes a decode allocates, counted
// rather than timed. Timings per size are in BenchmarkParse* and
// docs/PERFORMANCE.md.

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

// maxDecodeAllocsPerByte bounds what DecodeInvocation allocates per payload
// byte: the Body once as a string and once as bytes, and, for a payload of
// many tiny query parameters, their strings.
const maxDecodeAllocsPerByte = 24

// costlyShapes are payloads that cost the most per byte to decode: each
// part the decoder keeps is as small as can be. Headers (a value apiece)
// and empty claims used to cost 25 and 57 bytes per byte.
func costlyShapes() map[string][]byte {
	return map[string][]byte{
		"escaped body": payloadWithBody(strings.Repeat(`\\`, 1<<19)),
		"many headers": []byte(`{"Data":{"req":{"Url":"u","Method":"POST","Headers":{"Origin":[` + repeatJoined(`"a"`, 1<<17) + `]}}}}`),
		"many claims":  []byte(`{"Data":{"req":{"Url":"u","Method":"POST","Identities":[{"Claims":[` + repeatJoined(`{}`, 1<<17) + `]}]}}}`),
		"many queries": []byte(`{"Data":{"req":{"Url":"u","Method":"POST","Query":{` + repeatJoined(`"hub":""`, 1<<16) + `}}}}`),
	}
}

func TestDecodeInvocationAllocsLinear(t *testing.T) {
	n := allNeeds()
	for name, payload := range costlyShapes() {
		costtest.CheckAllocs(t, name, len(payload), maxDecodeAllocsPerByte, func() {
			if _, err := DecodeInvocation(payload, n); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		})
	}
}

// FuzzDecodeInvocationCost checks DecodeInvocation's allocations per byte
// on any input.
func FuzzDecodeInvocationCost(f *testing.F) {
	for _, unit := range escapeUnits {
		f.Add(payloadWithBody(strings.Repeat(unit, 256)))
	}
	f.Add([]byte(`{"Data":{"req":{"Url":"u","Method":"POST","Identities":[{"Claims":[{},{},{}]}]}}}`))
	n := allNeeds()
	f.Fuzz(func(t *testing.T, payload []byte) {
		costtest.CheckAllocs(t, fmt.Sprintf("%q", payload), len(payload), maxDecodeAllocsPerByte, func() { _, _ = DecodeInvocation(payload, n) })
	})
}

// allNeeds reads every part of a trigger any function reads.
func allNeeds() *Needs {
	return &Needs{Query: []string{"hub"}, Headers: []string{"Origin", "Content-Type", "X-Ms-Client-Principal"}, Identities: true, Body: true}
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

// TestArrayCursorLinear: reading every element of an array in turn passes
// over each byte once, where asking ArrayElement for each index would pass
// over the array's start again for every element (n²/2 bytes); an earlier
// element starts again, and every element is the one ArrayElement finds.
func TestArrayCursorLinear(t *testing.T) {
	for _, n := range []int{1000, 4000} {
		array := []byte("[" + strings.Repeat(`{"a":[1,"x"]},`, n-1) + `{"a":[1,"x"]}]`)
		var c ArrayCursor
		for i := range n {
			elem, got := c.Element(array, i)
			if want, _ := ArrayElement(array, i); got != i || !bytes.Equal(elem, want) {
				t.Fatalf("element %d = %s (%d), want %s", i, elem, got, want)
			}
		}
		if _, count := c.Element(array, n); count != n {
			t.Errorf("past the end: %d elements, want %d", count, n)
		}
		if read := c.read + c.r.i; read > len(array) {
			t.Errorf("%d elements read in turn passed over %d bytes of %d", n, read, len(array))
		}
		if elem, _ := c.Element(array, 1); string(elem) != `{"a":[1,"x"]}` {
			t.Errorf("an earlier element again: %s", elem)
		}
	}
}
