package handler

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/signalr-entra/handler/bindings"
)

// TestMarshalReplyIsEncodingJSON holds the negotiate reply's writer to
// encoding/json's output, including for strings it must escape.
func TestMarshalReplyIsEncodingJSON(t *testing.T) {
	if n := reflect.TypeFor[bindings.ConnectionInfo]().NumField(); n != 2 {
		t.Fatalf("bindings.ConnectionInfo has %d fields; marshalReply writes url and accessToken only", n)
	}
	for _, s := range []string{"", "https://contoso.service.signalr.net/client/?hub=chat", "eyJhbGciOiJIUzI1NiJ9.e30.sig",
		"a&b", "<script>", `q"uote`, `back\slash`, "tab\t", "é", "\u2028", "\xff", "~"} {
		for _, ci := range []*bindings.ConnectionInfo{{URL: s, AccessToken: "t"}, {URL: "u", AccessToken: s}} {
			got, err := marshalReply(ci)
			want, werr := json.Marshal(ci)
			if err != nil || werr != nil || string(got) != string(want) {
				t.Errorf("%+v: got %s (%v), want %s (%v)", ci, got, err, want, werr)
			}
		}
	}
	got, err := marshalReply(errorBody{Error: "x", CorrelationID: "y"})
	if want, _ := json.Marshal(errorBody{Error: "x", CorrelationID: "y"}); err != nil || string(got) != string(want) {
		t.Errorf("other bodies: got %s, want %s", got, want)
	}
}

func FuzzMarshalReply(f *testing.F) {
	f.Add("https://contoso.service.signalr.net/client/?hub=chat", "eyJ.e30.sig")
	f.Add("a&b<c>", "\x00\"\\")
	f.Fuzz(func(t *testing.T, url, token string) {
		ci := &bindings.ConnectionInfo{URL: url, AccessToken: token}
		got, err := marshalReply(ci)
		want, werr := json.Marshal(ci)
		if err != nil || werr != nil || string(got) != string(want) {
			t.Fatalf("got %s (%v), want %s (%v)", got, err, want, werr)
		}
	})
}
