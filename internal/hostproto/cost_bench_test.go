package hostproto

import (
	"strings"
	"testing"

	"github.com/signalr-entra/handler/internal/costtest"
)

// The BenchmarkParse families time each payload shape at N, 4N and 16N
// bytes (costtest.Sizes): linear cost shows as a constant ns per byte.
// docs/PERFORMANCE.md has the numbers.

func benchmarkDecode(b *testing.B, n *Needs, payload func(size int) []byte) {
	for _, size := range costtest.Sizes {
		p := payload(size)
		b.Run(costtest.SizeName(size), func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := DecodeInvocation(p, n); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseEscapedBodyRead is a messages payload whose Body is size
// bytes of escapes (\\ repeated), read; it cost N² before.
func BenchmarkParseEscapedBodyRead(b *testing.B) {
	benchmarkDecode(b, allNeeds(), func(size int) []byte { return payloadWithBody(strings.Repeat(`\\`, size/2)) })
}

// BenchmarkParseEscapedBodySkipped is the same payload as negotiate reads
// it, skipping the Body.
func BenchmarkParseEscapedBodySkipped(b *testing.B) {
	benchmarkDecode(b, &Needs{Query: []string{"hub"}, Headers: []string{"Origin"}}, func(size int) []byte { return payloadWithBody(strings.Repeat(`\\`, size/2)) })
}

// BenchmarkParseManyHeaders is a payload of one header repeated, each
// value kept before.
func BenchmarkParseManyHeaders(b *testing.B) {
	benchmarkDecode(b, allNeeds(), func(size int) []byte {
		return []byte(`{"Data":{"req":{"Url":"u","Method":"POST","Headers":{"Origin":[` + repeatJoined(`"a"`, size/4) + `]}}}}`)
	})
}

// BenchmarkParseManyClaims is a payload of empty claims.
func BenchmarkParseManyClaims(b *testing.B) {
	benchmarkDecode(b, allNeeds(), func(size int) []byte {
		return []byte(`{"Data":{"req":{"Url":"u","Method":"POST","Identities":[{"Claims":[` + repeatJoined(`{}`, size/3) + `]}]}}}`)
	})
}
