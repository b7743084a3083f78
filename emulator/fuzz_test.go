package emulator

import (
	"bytes"
	"net/http"
	"testing"
)

func FuzzHubProtocol(f *testing.F) {
	f.Add([]byte("{\"protocol\":\"json\",\"version\":1}\x1e{\"type\":6}\x1e"))
	f.Add([]byte("{\"type\":1,\"target\":\"t\",\"arguments\":[1,\"a\",{}]}\x1e{\"type\":7,\"error\":\"x\"}\x1e{\"ty"))
	f.Add([]byte("\x1e\x1e"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, rest := splitRecords(data)
		if bytes.IndexByte(rest, recordSeparator) >= 0 {
			t.Fatalf("rest %q holds a separator", rest)
		}
		n := len(rest)
		for _, r := range recs {
			n += len(r) + 1
			if m, err := (jsonProtocol{}).parse(r); err == nil && m.typ <= 0 {
				t.Fatalf("parsed a message with type %d", m.typ)
			}
			_, _ = parseHandshake(r)
		}
		if n != len(data) {
			t.Fatalf("records and rest cover %d of %d bytes", n, len(data))
		}
	})
}

func FuzzParseRoute(f *testing.F) {
	for _, op := range restOps {
		f.Add(op.method, "/api/hubs/"+op.pattern)
	}
	f.Add(http.MethodPut, "/api/hubs/chat/users/a%2Fb/groups/g%20h")
	f.Add(http.MethodGet, "/api/hubs//x")
	f.Fuzz(func(t *testing.T, method, path string) {
		rt, err := parseRoute(method, path)
		if err != nil {
			return
		}
		op := restOpsByKey[rt.op]
		if op == nil || op.method != method || rt.hub == "" {
			t.Fatalf("parseRoute(%q, %q) = %+v", method, path, rt)
		}
	})
}
