package bindings

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// BenchmarkConnectionInfoWarmKey is negotiate in Entra mode once the key is
// fetched; compare with BenchmarkSignJWTAlone (target: at most 2×).
func BenchmarkConnectionInfoWarmKey(b *testing.B) {
	f := newFakeService(b)
	clock := newClock()
	c, _ := newTestClient(b, []EndpointConfig{entraEndpoint(b, f, &fakeCred{clock: clock})}, Options{Now: clock.Now})
	claims := []Claim{{"name", "Ada"}, {"role", "admin"}}
	if _, err := c.ConnectionInfo(ctx(), "chat", "ada", claims); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.ConnectionInfo(ctx(), "chat", "ada", claims); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignJWTAlone signs the same token with golang-jwt directly.
func BenchmarkSignJWTAlone(b *testing.B) {
	key := []byte("secret-1")
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		t := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"aud": "http://127.0.0.1/client/?hub=chat", "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			"asrs.s.uid": "ada", "name": "Ada", "role": "admin",
		})
		t.Header["kid"] = "key-1"
		if _, err := t.SignedString(key); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSend is one broadcast over a kept-alive connection.
func BenchmarkSend(b *testing.B) {
	f := newFakeService(b)
	c, _ := newTestClient(b, []EndpointConfig{keyEndpoint(b, f)}, Options{})
	m := Message{Target: "t", Arguments: raw(`"hello"`)}
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Send(ctx(), "chat", m); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSequentialSendsReuseConnections(t *testing.T) {
	f := newFakeService(t)
	clock := newClock()
	c, _ := newTestClient(t, []EndpointConfig{entraEndpoint(t, f, &fakeCred{clock: clock})}, Options{Now: clock.Now})
	m := Message{Target: "t", Arguments: raw(`"hello"`)}
	for range 1000 {
		if err := c.Send(ctx(), "chat", m); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("1000 sequential sends opened %d TCP connections", f.conns.Load())
	if n := f.conns.Load(); n > 2 {
		t.Errorf("1000 sends opened %d connections, want at most 2", n)
	}
}

// BenchmarkDecodeMessages decodes bodies of several sizes; with -benchmem,
// B/op over the body's size is the memory a request costs per byte.
func BenchmarkDecodeMessages(b *testing.B) {
	bodies := messageBodies()
	for _, name := range slices.Sorted(maps.Keys(bodies)) {
		body := bodies[name]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				_, _ = DecodeMessages(body, 0)
			}
		})
	}
}
