package jsontext

import (
	"encoding/json"
	"strings"
	"testing"
)

var samples = []string{"", "https://contoso.service.signalr.net/client/?hub=chat", "ada@example.com",
	"a&b", "<script>", `q"uote`, `back\slash`, "tab\t", "nul\x00", "é", "Zoë 名前", "\u2028", "\u2029", "\xff", "a\xc3", "~", "\x7f"}

func TestAppendStringIsEncodingJSON(t *testing.T) {
	for _, s := range samples {
		want, _ := json.Marshal(s)
		if got := AppendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("AppendString(%q) = %s, want %s", s, got[1:], want)
		}
		if got := AppendString(nil, []byte(s)); string(got) != string(want) {
			t.Errorf("AppendString([]byte(%q)) = %s, want %s", s, got, want)
		}
		// Plain may refuse what encoding/json writes as it is (non-ASCII),
		// never the reverse.
		if Plain(s) && string(want) != `"`+s+`"` {
			t.Errorf("Plain(%q), but encoding/json writes %s", s, want)
		}
	}
}

// TestPlainEveryASCIIByte holds Plain to encoding/json for each ASCII byte
// alone: plain exactly when written as it is.
func TestPlainEveryASCIIByte(t *testing.T) {
	for c := range 0x80 {
		s := string(rune(c))
		want, _ := json.Marshal(s)
		if asIs := string(want) == `"`+s+`"`; Plain(s) != asIs {
			t.Errorf("Plain(%q) = %v, but encoding/json writes %s", s, Plain(s), want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range samples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); string(got) != string(want) {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
		}
	})
}

// BenchmarkPlainToken checks a client access token's length of plain text,
// what the negotiate reply checks on every request.
func BenchmarkPlainToken(b *testing.B) {
	tok := strings.Repeat("eyJhbGciOiJIUzI1NiIsImtpZCI6IjEyMyIsInR5cCI6IkpXVCJ9_-", 6)
	b.SetBytes(int64(len(tok)))
	for b.Loop() {
		if !Plain(tok) {
			b.Fatal("not plain")
		}
	}
}
