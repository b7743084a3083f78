package bindings

import (
	"fmt"
	"strings"
	"testing"

	"github.com/signalr-entra/handler/internal/costtest"
)

// The BenchmarkParse families time messages and groups bodies of N, 4N and
// 16N bytes (costtest.Sizes): one message of as many arguments as the body
// holds, and as many small messages or group actions.

func benchmarkBodies[T any](b *testing.B, body func(size int) []byte, decode func([]byte, int) ([]T, error)) {
	for _, size := range costtest.Sizes {
		p := body(size)
		b.Run(costtest.SizeName(size), func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decode(p, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseMessageArguments(b *testing.B) {
	benchmarkBodies(b, func(size int) []byte {
		return []byte(`{"target":"t","arguments":` + string(costtest.Zeros(size/2)) + `}`)
	}, DecodeMessages)
}

func BenchmarkParseManyMessages(b *testing.B) {
	benchmarkBodies(b, func(size int) []byte {
		return items(size, func(i int) string {
			return fmt.Sprintf(`{"target":"news","userId":"user%d","arguments":["hello",%d]}`, i, i)
		})
	}, DecodeMessages)
}

func BenchmarkParseManyGroupActions(b *testing.B) {
	benchmarkBodies(b, func(size int) []byte {
		return items(size, func(i int) string { return fmt.Sprintf(`{"action":"add","userId":"user%d","groupName":"room"}`, i) })
	}, DecodeGroupActions)
}

// items is a JSON array of the items item makes, of about size bytes.
func items(size int, item func(i int) string) []byte {
	var sb strings.Builder
	sb.WriteByte('[')
	for i := 0; sb.Len() < size; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(item(i))
	}
	sb.WriteByte(']')
	return []byte(sb.String())
}
