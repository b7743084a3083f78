package jsontext

import (
	"encoding/json"
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
