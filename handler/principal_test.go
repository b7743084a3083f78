package handler

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/signalr-entra/handler/internal/hostproto"
)

func TestPrincipalClaims(t *testing.T) {
	tests := []struct {
		name, header string
		want         []hostproto.Claim
	}{
		{"standard base64", "eyJjbGFpbXMiOlt7InR5cCI6ImEiLCJ2YWwiOiIxIn1dfQ==", []hostproto.Claim{{Type: "a", Value: "1"}}},
		{"unpadded", "eyJjbGFpbXMiOlt7InR5cCI6ImEiLCJ2YWwiOiIxIn1dfQ", []hostproto.Claim{{Type: "a", Value: "1"}}},
		{"not base64", "%%%", nil},
		{"not JSON", "aGVsbG8=", nil},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, principalClaims(tt.header)); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzDecodeInvocation feeds the payload decoder what a host, or anything
// posing as one, might send, with the needs of the functions: whatever it
// accepts must run through a function without panicking.
func FuzzDecodeInvocation(f *testing.F) {
	for _, name := range payloadFiles(f) {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"Data":{"req":{"Method":"POST","Url":"u","Headers":{"a":[1,null,{}]},"Query":"[]","Body":[1]}}}`))
	f.Add([]byte(`{"Data":{"x":"W10="}}`))
	f.Add([]byte(`null`))
	h := newTestHandler(f, &fakeService{}, &Options{AppServiceAuthentication: true, ClaimTypes: []string{"name"}, UserIDHeader: "x-user"})
	f.Fuzz(func(t *testing.T, payload []byte) {
		for _, fn := range []string{fnNegotiate, fnMessages} {
			inv, err := hostproto.DecodeInvocation(payload, h.needs[fn])
			if err != nil {
				continue
			}
			if req := inv.Request; req != nil {
				c := &call{id: "fuzz", function: fn, http: true, method: req.Method, query: req.Query,
					header: req.Headers, identities: req.Identities, body: req.Body, log: h.log}
				if c.header == nil {
					c.header = http.Header{}
				}
				h.userID(c)
				h.claims(c)
				continue
			}
			_, _ = inv.TriggerData()
		}
	})
}
func payloadFiles(t testing.TB) []string {
	names, err := filepath.Glob("testdata/*.request.json")
	if err != nil || len(names) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	return names
}
