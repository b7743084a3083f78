package emulator

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
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

// FuzzRoutes sends any method and path to the service's REST routes: a
// request without a token reaches an operation (and is refused for want of
// one), or gets the service's 404 or 405; nothing else.
func FuzzRoutes(f *testing.F) {
	for _, op := range restOps {
		f.Add(op.method, "/api/hubs/"+op.pattern)
	}
	f.Add(http.MethodPut, "/api/hubs/chat/users/a%2Fb/groups/g%20h")
	f.Add(http.MethodGet, "/api/hubs//x")
	s, err := NewServer(nil)
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	h := s.serviceHandler()
	f.Fuzz(func(t *testing.T, method, path string) {
		u, err := url.Parse(path)
		if err != nil || !strings.HasPrefix(path, "/api/hubs/") || u.Host != "" || !validMethod(method) {
			return
		}
		req := httptest.NewRequest(method, "http://127.0.0.1"+u.EscapedPath()+"?api-version=2024-12-01", nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusUnauthorized, http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed:
		default:
			t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
	})
}

func validMethod(m string) bool {
	return m != "" && !strings.ContainsFunc(m, func(r rune) bool { return r <= ' ' || r >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", r) })
}

// FuzzMessagePack reads client frames of the MessagePack hub protocol: the
// length prefixes must account for every byte, and an invocation read must
// write an upstream body that reads back the same.
func FuzzMessagePack(f *testing.F) {
	f.Add(prefixed([]byte("\x95\x01\x80\xa10\xa4echo\x92\xa2hi\x02")))
	f.Add(append(prefixed([]byte("\x96\x01\x80\xc0\xa1t\x91\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00\x90")), prefixed([]byte("\x91\x06"))...))
	f.Add([]byte("\x80\x80\x80\x80\x80\x01"))
	f.Add(prefixed([]byte("\x95\x01\xde\xff\xff\xc0\xa1t\x90")))
	f.Fuzz(func(t *testing.T, data []byte) {
		msgs, rest, err := splitPrefixed(data)
		// Each message has a prefix of 1 to 5 bytes; what is left is the
		// unfinished end of the data.
		n := len(rest)
		for _, m := range msgs {
			n += len(m)
		}
		if err == nil && (!bytes.HasSuffix(data, rest) || n+len(msgs) > len(data) || n+5*len(msgs) < len(data)) {
			t.Fatalf("%d messages and rest %q do not cover the %d bytes", len(msgs), rest, len(data))
		}
		for _, m := range msgs {
			cm, err := (msgpackProtocol{}).parse(m)
			if err != nil || cm.typ != msgInvocation {
				continue
			}
			again, err := (msgpackProtocol{}).parse(cm.upstream)
			if err != nil || again.invocationID != cm.invocationID || again.target != cm.target || !bytes.Equal(again.upstream, cm.upstream) {
				t.Fatalf("upstream body %q of %q reads back as %+v, %v", cm.upstream, m, again, err)
			}
		}
	})
}

// TestMessagePackLengthsBounded reads values whose headers declare up to
// 4 GB of data that the message does not hold: reading allocates no more
// than the message could, however large the declared length. Binary was
// read into a slice of the declared length (4 GB per 11-byte message).
func TestMessagePackLengthsBounded(t *testing.T) {
	for name, msg := range map[string][]byte{
		"bin32 result":        []byte("\x95\x03\x80\xa1i\x03\xc6\xff\xff\xff\xf0"),
		"str32 result":        []byte("\x95\x03\x80\xa1i\x03\xdb\xff\xff\xff\xf0"),
		"ext32 result":        []byte("\x95\x03\x80\xa1i\x03\xc9\xff\xff\xff\xf0\x01"),
		"array32 result":      []byte("\x95\x03\x80\xa1i\x03\xdd\xff\xff\xff\xf0"),
		"bin32 in arguments":  []byte("\x95\x01\x80\xc0\xa1t\x91\xc6\xff\xff\xff\xf0"),
		"str32 invocation id": []byte("\x95\x01\x80\xdb\xff\xff\xff\xf0a"),
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if _, err := (msgpackProtocol{}).parse(msg); err == nil {
			t.Errorf("%s: read without error", name)
		}
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > 16<<20 {
			t.Errorf("%s: reading %d bytes allocated %d", name, len(msg), n)
		}
	}
	// Binary that is there reads as base64, as System.Text.Json writes it.
	cm, err := (msgpackProtocol{}).parse([]byte("\x95\x03\x80\xa1i\x03\x92\xc4\x03abc\xc4\x00"))
	if err != nil || string(cm.result) != `["YWJj",""]` {
		t.Errorf("binary result: %s, %v", cm.result, err)
	}
}
