package oidc

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const testAudience = "api://chat"

// provider serves an OpenID configuration and its key set over TLS.
type provider struct {
	*httptest.Server
	issuer string
	mu     sync.Mutex
	keys   map[string]*rsa.PrivateKey
	// hold, while set, makes the key set wait until it is closed.
	hold chan struct{}
	// status, when not 0, is the key set's answer instead of the keys.
	status    int
	keyGets   atomic.Int32
	configDoc map[string]any
}

func newProvider(t testing.TB) *provider {
	t.Helper()
	p := &provider{keys: map[string]*rsa.PrivateKey{"k1": testKey(t, 0)}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /tenant/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		doc := p.configDoc
		p.mu.Unlock()
		if doc == nil {
			doc = map[string]any{"issuer": p.issuer, "jwks_uri": p.URL + "/tenant/discovery/v2.0/keys"}
		}
		_ = json.NewEncoder(w).Encode(doc)
	})
	mux.HandleFunc("GET /tenant/discovery/v2.0/keys", func(w http.ResponseWriter, r *http.Request) {
		p.keyGets.Add(1)
		p.mu.Lock()
		hold, status := p.hold, p.status
		p.mu.Unlock()
		if hold != nil {
			select {
			case <-hold:
			case <-r.Context().Done():
				return
			}
		}
		if status != 0 {
			w.WriteHeader(status)
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		var keys []map[string]string
		for kid, k := range p.keys {
			keys = append(keys, map[string]string{"kty": "RSA", "use": "sig", "kid": kid,
				"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()), "e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	})
	p.Server = httptest.NewTLSServer(mux)
	p.issuer = p.URL + "/tenant/v2.0"
	t.Cleanup(p.Close)
	return p
}

func (p *provider) addKey(kid string, k *rsa.PrivateKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys[kid] = k
}

func (p *provider) setHold(c chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hold = c
}

// sign signs claims with the provider's key kid.
func (p *provider) sign(t testing.TB, kid string, claims jwt.MapClaims) string {
	t.Helper()
	p.mu.Lock()
	key := p.keys[kid]
	p.mu.Unlock()
	if key == nil {
		key = testKey(t, 1)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// clock is a movable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (p *provider) claims(c *clock) jwt.MapClaims {
	now := c.Now()
	return jwt.MapClaims{"iss": p.issuer, "aud": testAudience, "sub": "alice", "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

func newVerifier(t testing.TB, p *provider, c *clock) *Verifier {
	t.Helper()
	v, err := New(Config{Documents: []string{DocumentURL(p.issuer)}, Audiences: []string{"other", testAudience}, Client: p.Client(), Now: c.Now, Setting: "TEST_AUTHORITY"})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var testKeys = struct {
	sync.Mutex
	keys map[int]*rsa.PrivateKey
}{keys: map[int]*rsa.PrivateKey{}}

// testKey returns the i-th test key; 2048-bit keys take a while to make.
func testKey(t testing.TB, i int) *rsa.PrivateKey {
	t.Helper()
	testKeys.Lock()
	defer testKeys.Unlock()
	if k := testKeys.keys[i]; k != nil {
		return k
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	testKeys.keys[i] = k
	return k
}

func kindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

func TestVerify(t *testing.T) {
	p := newProvider(t)
	c := &clock{now: time.Now()}
	v := newVerifier(t, p, c)
	ctx := context.Background()
	good := p.sign(t, "k1", p.claims(c))
	claims := jwt.MapClaims{}
	if err := v.Verify(ctx, good, claims); err != nil {
		t.Fatalf("a sound token: %v", err)
	}
	if claims["sub"] != "alice" {
		t.Errorf("claims = %v, want sub alice", claims)
	}
	with := func(k string, val any) string {
		cl := p.claims(c)
		if val == nil {
			delete(cl, k)
		} else {
			cl[k] = val
		}
		return p.sign(t, "k1", cl)
	}
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, p.claims(c))
	hs.Header["kid"] = "k1"
	hsToken, _ := hs.SignedString([]byte("k1"))
	parts := strings.Split(good, ".")
	for _, tt := range []struct {
		name, token string
		want        Kind
	}{
		{"empty", "", KindMissing},
		{"garbage", "not.a.token", KindMalformed},
		{"two parts", parts[0] + "." + parts[1], KindMalformed},
		{"too large", strings.Repeat("a", MaxTokenBytes+1), KindTooLarge},
		{"expired", with("exp", c.Now().Add(-2*time.Minute).Unix()), KindExpired},
		{"no exp", with("exp", nil), KindInvalid},
		{"not yet valid", with("nbf", c.Now().Add(2*time.Minute).Unix()), KindNotYetValid},
		{"other audience", with("aud", "api://other"), KindAudience},
		{"no audience", with("aud", nil), KindAudience},
		{"other issuer", with("iss", "https://evil.example/v2.0"), KindIssuer},
		{"no issuer", with("iss", nil), KindIssuer},
		{"HS256 keyed by the kid", hsToken, KindAlgorithm},
		{"alg none", jwtNone(t, p.claims(c)), KindAlgorithm},
		{"signature of other payload", parts[0] + "." + strings.Split(with("sub", "mallory"), ".")[1] + "." + parts[2], KindSignature},
		{"unknown kid", p.sign(t, "k9", p.claims(c)), KindUnknownKey},
	} {
		if err := v.Verify(ctx, tt.token, jwt.MapClaims{}); kindOf(err) != tt.want {
			t.Errorf("%s: %v, want kind %q", tt.name, err, tt.want)
		}
	}
	if got := int64(p.keyGets.Load()); got != 1 {
		t.Errorf("%d fetches, want 1: an unknown kid right after a fetch must not fetch again", got)
	}
}

func jwtNone(t *testing.T, claims jwt.MapClaims) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodNone, claims)
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestWaitersShareOneFetch: with no keys at hand and the key set hanging,
// every waiting request joins one fetch and gives up at its own deadline.
// One fetch per waiter, one after the other, answered the eighth after
// 80 seconds.
func TestWaitersShareOneFetch(t *testing.T) {
	p := newProvider(t)
	hold := make(chan struct{})
	p.setHold(hold)
	defer close(hold)
	c := &clock{now: time.Now()}
	v := newVerifier(t, p, c)
	token := p.sign(t, "k1", p.claims(c))
	const waiters = 8
	deadline := 500 * time.Millisecond
	var wg sync.WaitGroup
	took := make([]time.Duration, waiters)
	errs := make([]error, waiters)
	for i := range waiters {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			start := time.Now()
			errs[i] = v.Verify(ctx, token, jwt.MapClaims{})
			took[i] = time.Since(start)
		})
	}
	wg.Wait()
	for i := range waiters {
		if kindOf(errs[i]) != KindKeysUnfetched {
			t.Errorf("waiter %d: %v, want kind %q", i, errs[i], KindKeysUnfetched)
		}
		// Far beyond the deadline means the waiter waited for another's
		// fetch; the slack allows for a loaded machine.
		if took[i] > deadline+5*time.Second {
			t.Errorf("waiter %d answered after %s, its deadline was %s", i, took[i], deadline)
		}
	}
	if n := int64(p.keyGets.Load()); n != 1 {
		t.Errorf("%d fetches started for %d waiters, want 1", n, waiters)
	}
}

// TestFetchOutlivesWaiter: a waiter giving up does not end the fetch the
// others wait for; when it lands, a later request finds the keys.
func TestFetchOutlivesWaiter(t *testing.T) {
	p := newProvider(t)
	hold := make(chan struct{})
	p.setHold(hold)
	c := &clock{now: time.Now()}
	v := newVerifier(t, p, c)
	token := p.sign(t, "k1", p.claims(c))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := v.Verify(ctx, token, jwt.MapClaims{}); kindOf(err) != KindKeysUnfetched {
		t.Fatalf("first waiter: %v, want kind %q", err, KindKeysUnfetched)
	}
	done := make(chan error, 1)
	go func() { done <- v.Verify(context.Background(), token, jwt.MapClaims{}) }()
	close(hold)
	if err := <-done; err != nil {
		t.Fatalf("second waiter, after the keys arrived: %v", err)
	}
	if n := int64(p.keyGets.Load()); n != 1 {
		t.Errorf("%d fetches, want 1", n)
	}
}

// TestRetrySpacingFromEnd: a fetch that takes longer than the retry
// spacing and fails is not followed at once by another: the spacing runs
// from its end.
func TestRetrySpacingFromEnd(t *testing.T) {
	p := newProvider(t)
	hold := make(chan struct{})
	p.setHold(hold)
	p.status = http.StatusServiceUnavailable
	c := &clock{now: time.Now()}
	v := newVerifier(t, p, c)
	token := p.sign(t, "k1", p.claims(c))
	done := make(chan error, 1)
	go func() { done <- v.Verify(context.Background(), token, jwt.MapClaims{}) }()
	for p.keyGets.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	c.advance(2 * DefaultRetryEvery) // the fetch is slow
	close(hold)
	if err := <-done; kindOf(err) != KindKeysUnfetched {
		t.Fatalf("during the outage: %v, want kind %q", err, KindKeysUnfetched)
	}
	if err := v.Verify(context.Background(), token, jwt.MapClaims{}); kindOf(err) != KindKeysUnfetched {
		t.Fatalf("right after the failed fetch: %v, want kind %q", err, KindKeysUnfetched)
	}
	if n := int64(p.keyGets.Load()); n != 1 {
		t.Errorf("%d fetches, want 1: the next may start %s after the last ended", n, DefaultRetryEvery)
	}
	p.mu.Lock()
	p.status = 0
	p.mu.Unlock()
	c.advance(DefaultRetryEvery)
	if err := v.Verify(context.Background(), token, jwt.MapClaims{}); err != nil {
		t.Fatalf("after the outage: %v", err)
	}
}

// TestUnknownKeyOncePerMinute: forged key ids fetch the keys at most once
// per minute; a key published meanwhile is found after that.
func TestUnknownKeyOncePerMinute(t *testing.T) {
	p := newProvider(t)
	c := &clock{now: time.Now()}
	v := newVerifier(t, p, c)
	ctx := context.Background()
	if err := v.Verify(ctx, p.sign(t, "k1", p.claims(c)), jwt.MapClaims{}); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		_ = v.Verify(ctx, p.sign(t, "forged"+string(rune('a'+i%26)), p.claims(c)), jwt.MapClaims{})
	}
	if n := int64(p.keyGets.Load()); n != 1 {
		t.Fatalf("%d fetches after 50 forged key ids within the minute, want 1", n)
	}
	p.addKey("k2", testKey(t, 1))
	rotated := p.sign(t, "k2", p.claims(c))
	if err := v.Verify(ctx, rotated, jwt.MapClaims{}); kindOf(err) != KindUnknownKey {
		t.Fatalf("new key within the minute: %v, want kind %q", err, KindUnknownKey)
	}
	c.advance(DefaultUnknownKeyEvery)
	if err := v.Verify(ctx, rotated, jwt.MapClaims{}); err != nil {
		t.Fatalf("new key after the minute: %v", err)
	}
	if n := int64(p.keyGets.Load()); n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}
}

// TestBackgroundRefresh: keys older than RefreshEvery are fetched again in
// the background while requests go on with them, so a key the provider
// publishes ahead of its use is known before its first token.
func TestBackgroundRefresh(t *testing.T) {
	p := newProvider(t)
	c := &clock{now: time.Now()}
	v := newVerifier(t, p, c)
	ctx := context.Background()
	if err := v.Verify(ctx, p.sign(t, "k1", p.claims(c)), jwt.MapClaims{}); err != nil {
		t.Fatal(err)
	}
	p.addKey("k2", testKey(t, 1)) // published, not yet signing
	c.advance(DefaultRefreshEvery)
	hold := make(chan struct{})
	p.setHold(hold)
	// The refresh hangs; the request is answered with the keys at hand.
	if err := v.Verify(ctx, p.sign(t, "k1", p.claims(c)), jwt.MapClaims{}); err != nil {
		t.Fatalf("while the refresh runs: %v", err)
	}
	p.setHold(nil)
	close(hold)
	for int64(p.keyGets.Load()) < 2 || v.keys.Load().keys["k2"] == nil {
		time.Sleep(time.Millisecond)
	}
	if err := v.Verify(ctx, p.sign(t, "k2", p.claims(c)), jwt.MapClaims{}); err != nil {
		t.Fatalf("first token of the new key: %v", err)
	}
	if n := int64(p.keyGets.Load()); n != 2 {
		t.Errorf("%d fetches, want 2: the new key's first token must not fetch", n)
	}
}

func TestDiscoveryRefusals(t *testing.T) {
	p := newProvider(t)
	c := &clock{now: time.Now()}
	for _, tt := range []struct {
		name string
		doc  map[string]any
		want string
	}{
		{"template issuer", map[string]any{"issuer": "https://login.microsoftonline.com/{tenantid}/v2.0", "jwks_uri": p.URL + "/tenant/discovery/v2.0/keys"}, "multi-tenant"},
		{"no issuer", map[string]any{"jwks_uri": p.URL + "/tenant/discovery/v2.0/keys"}, "names no issuer"},
		{"no jwks_uri", map[string]any{"issuer": p.issuer}, "no jwks_uri"},
		{"plain http keys", map[string]any{"issuer": p.issuer, "jwks_uri": "http://keys.example/keys"}, "is not https"},
	} {
		p.mu.Lock()
		p.configDoc = tt.doc
		p.mu.Unlock()
		_, err := Discover(context.Background(), p.Client(), DocumentURL(p.issuer))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error saying %q", tt.name, err, tt.want)
		}
	}
	p.mu.Lock()
	p.configDoc = nil
	p.mu.Unlock()
	d, err := Discover(context.Background(), p.Client(), DocumentURL(p.issuer+"/"))
	if err != nil || d.Issuers[0] != p.issuer || len(d.KeyIDs) != 1 {
		t.Errorf("Discover = %+v, %v; want the issuer and one key", d, err)
	}
	_ = c
}

func TestRSAKeyBounds(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	big2048 := testKey(t, 0).N.Bytes()
	for _, tt := range []struct {
		name string
		n, e string
		ok   bool
	}{
		{"2048 bits", enc(big2048), "AQAB", true},
		{"1024 bits", enc(big2048[:128]), "AQAB", false},
		{"16384 bits", enc(append(big2048, make([]byte, 1792)...)), "AQAB", false},
		{"even exponent", enc(big2048), enc([]byte{2}), false},
		{"5-byte exponent", enc(big2048), enc([]byte{1, 0, 0, 0, 1}), false},
		{"not base64", "!!", "AQAB", false},
	} {
		if _, err := rsaKey(tt.n, tt.e); (err == nil) != tt.ok {
			t.Errorf("%s: %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}
