package upstream

import (
	"testing"

	"github.com/signalr-entra/handler/internal/costtest"
)

// The BenchmarkParse families time upstream bodies of N, 4N and 16N bytes
// (costtest.Sizes) of as many arguments as they can hold.

func benchmarkBodies(b *testing.B, body func(size int) []byte, decode func([]byte) error) {
	for _, size := range costtest.Sizes {
		p := body(size)
		b.Run(costtest.SizeName(size), func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				if err := decode(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseUpstreamJSON(b *testing.B) {
	benchmarkBodies(b, func(size int) []byte {
		return []byte(`{"type":1,"target":"Echo","arguments":` + string(costtest.Zeros(size/2)) + `}`)
	}, func(p []byte) error { _, err := decodeJSONUpstream(p, typeInvocation); return err })
}

func BenchmarkParseUpstreamMsgpack(b *testing.B) {
	benchmarkBodies(b, func(size int) []byte { return costtest.MsgpackInvocation("Echo", size) },
		func(p []byte) error { _, err := decodeMsgpackInvocation(p); return err })
}
