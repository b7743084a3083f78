package oidc

import (
	"context"
	"encoding/base64"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerify feeds the verifier tokens that anyone may send: none may
// pass but the one signed by the provider, and none may cost memory out
// of proportion to its size.
func FuzzVerify(f *testing.F) {
	p := newProvider(f)
	c := &clock{now: time.Now()}
	v := newVerifier(f, p, c)
	good := p.sign(f, "k1", p.claims(c))
	if err := v.Verify(context.Background(), good, jwt.MapClaims{}); err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(good, ".")
	f.Add(good)
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add(parts[0] + ".e30." + parts[2])
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add(parts[0] + "." + strings.Repeat("W1tbW1tb", 200) + "." + parts[2])
	f.Add("..")
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		// Cancelled: a token naming another key id must not wait for keys.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		claims := jwt.MapClaims{}
		err := v.Verify(ctx, token, claims)
		runtime.ReadMemStats(&after)
		if err == nil && token != good {
			t.Fatalf("accepted a token the provider did not sign: %q", token)
		}
		if err != nil && kindOf(err) == "" {
			t.Fatalf("refusal without a kind: %v", err)
		}
		if err != nil && strings.Contains(err.Error(), token) && len(token) > 16 {
			t.Fatalf("the refusal quotes the token: %v", err)
		}
		// No claim is read before the signature holds: a forged token
		// costs its base64 decoding (about a byte per byte) and a fixed part
		// for the header and the RSA check.
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<10+4*uint64(len(token)) {
			t.Fatalf("a %d-byte token allocated %d bytes", len(token), alloc)
		}
	})
}

// BenchmarkVerifyRefused measures the cost of refusing a forged token of
// N, 4N and 16N bytes, whose payload of many small claims would be the
// costliest JSON to read: the cost per byte must stay flat. "sound" is a
// token that passes.
func BenchmarkVerifyRefused(b *testing.B) {
	p := newProvider(b)
	c := &clock{now: time.Now()}
	v := newVerifier(b, p, c)
	good := p.sign(b, "k1", p.claims(c))
	if err := v.Verify(context.Background(), good, jwt.MapClaims{}); err != nil {
		b.Fatal(err)
	}
	parts := strings.Split(good, ".")
	for _, n := range []int{1 << 10, 4 << 10, 16 << 10} {
		// A payload of many small claims, the costliest JSON per byte.
		var sb strings.Builder
		sb.WriteString(`{"exp":1`)
		for i := 0; sb.Len() < n*3/4; i++ {
			sb.WriteString(`,"c`)
			sb.WriteString(strings.Repeat("x", i%7))
			sb.WriteString(`":[1,{},""]`)
		}
		sb.WriteString("}")
		token := parts[0] + "." + b64(sb.String()) + "." + parts[2]
		b.Run(byteSize(len(token)), func(b *testing.B) {
			b.SetBytes(int64(len(token)))
			b.ReportAllocs()
			for b.Loop() {
				_ = v.Verify(context.Background(), token, jwt.MapClaims{})
			}
		})
	}
	b.Run("sound", func(b *testing.B) {
		b.SetBytes(int64(len(good)))
		b.ReportAllocs()
		for b.Loop() {
			if err := v.Verify(context.Background(), good, jwt.MapClaims{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func byteSize(n int) string { return strconv.Itoa(n>>10) + "KiB" }

// FuzzVerifySigned feeds the verifier payloads the provider signed, as a
// provider that copies user-chosen values into its tokens might: none may
// pass without the issuer, an accepted audience and a live expiry, and
// none may panic.
func FuzzVerifySigned(f *testing.F) {
	p := newProvider(f)
	c := &clock{now: time.Now()}
	v := newVerifier(f, p, c)
	exp := strconv.FormatInt(c.Now().Add(time.Hour).Unix(), 10)
	f.Add(`{"iss":"` + p.issuer + `","aud":"api://chat","sub":"alice","exp":` + exp + `}`)
	f.Add(`{"iss":"` + p.issuer + `","aud":["x","api://chat"],"aud":"y","sub":1e400,"exp":` + exp + `}`)
	f.Add(`{"iss":"` + p.issuer + `","aud":"api://chat","exp":"` + exp + `","nbf":1e400}`)
	f.Add(`{"iss":"` + p.issuer + `","aud":"api://chat","exp":9.3e18,"sub":[[[[{}]]]]}`)
	f.Fuzz(func(t *testing.T, payload string) {
		if len(payload) > 4<<10 {
			return
		}
		token := signRaw(t, p, `{"alg":"RS256","kid":"k1"}`, payload)
		claims := jwt.MapClaims{}
		if err := v.Verify(context.Background(), token, claims); err != nil {
			if kindOf(err) == "" {
				t.Fatalf("refusal without a kind: %v", err)
			}
			return
		}
		if iss, _ := claims.GetIssuer(); iss != p.issuer {
			t.Fatalf("accepted issuer %q", iss)
		}
		if aud, _ := claims.GetAudience(); !slices.Contains(aud, testAudience) && !slices.Contains(aud, "other") {
			t.Fatalf("accepted audience %q", aud)
		}
		if e, err := claims.GetExpirationTime(); err != nil || e == nil || e.Before(c.Now().Add(-DefaultLeeway)) {
			t.Fatalf("accepted expiry %v, %v", e, err)
		}
	})
}

// signRaw signs a header and payload as given, byte for byte.
func signRaw(t testing.TB, p *provider, header, payload string) string {
	t.Helper()
	p.mu.Lock()
	key := p.keys["k1"]
	p.mu.Unlock()
	signing := b64(header) + "." + b64(payload)
	sig, err := jwt.SigningMethodRS256.Sign(signing, key)
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}
