package oidc

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestHostileKeySet: a key set of a megabyte of keys none of which is
// usable, each with a long key id of control characters. The refusal names
// a few, not all: its message was built again for every request refused
// while no key is at hand, some megabytes each.
func TestHostileKeySet(t *testing.T) {
	var keys []map[string]string
	kid := strings.Repeat("\x01", 200)
	for size := 0; size < maxDocumentBytes-2048; size += 1300 {
		keys = append(keys, map[string]string{"kty": "RSA", "kid": kid, "n": "AQAB", "e": "AQAB"})
	}
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("GET /t/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL + "/t", "jwks_uri": srv.URL + "/keys"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	})
	srv = httptest.NewTLSServer(mux)
	defer srv.Close()
	p := newProvider(t)
	c := &clock{now: time.Now()}
	v, err := New(Config{Documents: []string{DocumentURL(srv.URL + "/t")}, Audiences: []string{testAudience}, Client: srv.Client(), Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	token := p.sign(t, "k1", p.claims(c))
	err = v.Verify(context.Background(), token, jwt.MapClaims{})
	if kindOf(err) != KindKeysUnfetched {
		t.Fatalf("%.300v, want kind %q", err, KindKeysUnfetched)
	}
	if n := len(err.Error()); n > 4<<10 {
		t.Errorf("the refusal is %d bytes long", n)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const requests = 100
	for range requests {
		if err := v.Verify(context.Background(), token, jwt.MapClaims{}); kindOf(err) != KindKeysUnfetched {
			t.Fatalf("%.300v", err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / requests; per > 64<<10 {
		t.Errorf("each refusal while no key is at hand allocated %d bytes", per)
	}
}
