package handler

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/signalr-entra/handler/settings"
	"github.com/signalr-entra/handler/upstream"
)

const (
	testTenant   = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	testAudience = "api://contoso-upstream"
	testObjectID = "3c5f2a1e-8d7b-4e6f-9a0b-1c2d3e4f5a6b"
	testAppID    = "9b8a7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"
)

// testAuthority serves a tenant's OpenID configurations and keys over TLS,
// shaped as Entra ID's: the v1 issuer is sts.windows.net's.
type testAuthority struct {
	*httptest.Server
	mu      sync.Mutex
	keys    map[string]*rsa.PrivateKey
	fetches atomic.Int32
}

func newTestAuthority(t testing.TB) *testAuthority {
	t.Helper()
	a := &testAuthority{keys: map[string]*rsa.PrivateKey{"key-1": newRSAKey(t)}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("tenant") != testTenant {
			http.Error(w, `{"error":"invalid_tenant"}`, http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": "https://sts.windows.net/" + testTenant + "/", "jwks_uri": a.URL + "/common/discovery/keys"})
	})
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": a.URL + "/" + testTenant + "/v2.0", "jwks_uri": a.URL + "/" + testTenant + "/discovery/v2.0/keys"})
	})
	mux.HandleFunc("GET /common/discovery/keys", func(w http.ResponseWriter, r *http.Request) {
		a.fetches.Add(1)
		a.mu.Lock()
		defer a.mu.Unlock()
		var keys []map[string]string
		for kid, k := range a.keys {
			keys = append(keys, map[string]string{"kty": "RSA", "use": "sig", "kid": kid,
				"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()), "e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	})
	a.Server = httptest.NewTLSServer(mux)
	t.Cleanup(a.Close)
	return a
}

// rsaKeys are generated once: 2048-bit keys take a while.
var rsaKeys = struct {
	sync.Mutex
	pool []*rsa.PrivateKey
	next int
}{}

func newRSAKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	rsaKeys.Lock()
	defer rsaKeys.Unlock()
	if rsaKeys.next == len(rsaKeys.pool) {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		rsaKeys.pool = append(rsaKeys.pool, k)
	}
	k := rsaKeys.pool[rsaKeys.next]
	rsaKeys.next++
	return k
}

// token signs claims with the authority's key kid.
func (a *testAuthority) token(t testing.TB, kid string, claims jwt.MapClaims) string {
	t.Helper()
	a.mu.Lock()
	key := a.keys[kid]
	a.mu.Unlock()
	if key == nil {
		key = newRSAKey(t)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// serviceClaimsAt are the claims of a managed identity token issued at now.
func serviceClaimsAt(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"aud": testAudience, "iss": "https://sts.windows.net/" + testTenant + "/", "tid": testTenant,
		"oid": testObjectID, "appid": testAppID, "sub": testObjectID,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newTokenHandler checks upstream tokens against a; identity "" stands for
// the identity serviceClaimsAt names.
func newTokenHandler(t *testing.T, a *testAuthority, clock *testClock, identity string, logs *bytes.Buffer) *Handler {
	t.Helper()
	if identity == "" {
		identity = testObjectID
	}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	return newTestHandler(t, &fakeService{}, &Options{Logger: log, Upstream: upstream.Options{
		Audience: testAudience, Tenant: testTenant, Identity: identity,
		AuthorityHost: a.URL + "/", HTTPClient: a.Client(), Now: clock.Now,
	}})
}

// postWithToken posts a connected event carrying token, unsigned.
func postWithToken(h http.Handler, header, token string) int {
	req := upstreamRequest("/api/upstream", "chat", "connections", "connected", "application/json", []byte(`{"type":10}`))
	req.Header.Del("X-ASRS-Signature")
	if token != "" {
		req.Header.Set(header, "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

// An audience alone would take an app-only token of any app of the tenant:
// Entra ID issues one for any audience to any app that asks with its own
// credentials. The handler does not start without the identity, and says
// how to find it.
func TestUpstreamAudienceRequiresIdentity(t *testing.T) {
	a := newTestAuthority(t)
	_, err := New(&fakeService{}, &Options{Logger: slog.New(slog.DiscardHandler), Upstream: upstream.Options{
		Audience: testAudience, Tenant: testTenant, AuthorityHost: a.URL, HTTPClient: a.Client(),
	}})
	if err == nil || !strings.Contains(err.Error(), "SIGNALR_UPSTREAM_IDENTITY is not set") || !strings.Contains(err.Error(), "az signalr identity show -g <group> -n <signalr name> --query principalId") {
		t.Errorf("New with an audience and no identity: %v, want an error naming SIGNALR_UPSTREAM_IDENTITY and how to find it", err)
	}
}

func TestUpstreamToken(t *testing.T) {
	a := newTestAuthority(t)
	start := time.Now().Truncate(time.Second)
	tests := []struct {
		name     string
		identity string
		header   string
		kid      string
		change   func(jwt.MapClaims)
		token    func(t *testing.T) string // instead of kid and change
		want     int
		wantLog  string
	}{
		{name: "valid", want: 200},
		{name: "valid in an Authentication header", header: "Authentication", want: 200},
		{name: "v2 issuer of the same tenant", change: func(c jwt.MapClaims) { c["iss"] = a.URL + "/" + testTenant + "/v2.0" }, want: 200},
		{name: "identity by object id", identity: testObjectID, want: 200},
		{name: "identity by app id, any case", identity: strings.ToUpper(testAppID), want: 200},
		{name: "v2 token names the app in azp", identity: testAppID, change: func(c jwt.MapClaims) { delete(c, "appid"); c["azp"] = testAppID }, want: 200},
		{name: "another identity", identity: "00000000-0000-0000-0000-000000000001", want: 401, wantLog: `"reason":"token identity"`},
		{name: "a user's delegated token", change: func(c jwt.MapClaims) { c["scp"] = "access_as_user" }, want: 401, wantLog: `"reason":"token delegated"`},
		{name: "a user's token by idtyp", change: func(c jwt.MapClaims) { c["idtyp"] = "user" }, want: 401, wantLog: `"reason":"token delegated"`},
		{name: "an app-only token by idtyp", change: func(c jwt.MapClaims) { c["idtyp"] = "app" }, want: 200},
		{name: "wrong audience", change: func(c jwt.MapClaims) { c["aud"] = "https://management.azure.com" }, want: 401, wantLog: `"reason":"token audience"`},
		{name: "another tenant's issuer", change: func(c jwt.MapClaims) { c["iss"] = "https://sts.windows.net/00000000-0000-0000-0000-000000000002/" }, want: 401, wantLog: `"reason":"token issuer"`},
		{name: "expired", change: func(c jwt.MapClaims) { c["exp"] = start.Add(-2 * time.Minute).Unix() }, want: 401, wantLog: `"reason":"token expired"`},
		{name: "expired within the leeway", change: func(c jwt.MapClaims) { c["exp"] = start.Add(-30 * time.Second).Unix() }, want: 200},
		{name: "no expiry", change: func(c jwt.MapClaims) { delete(c, "exp") }, want: 401},
		{name: "not valid yet", change: func(c jwt.MapClaims) { c["nbf"] = start.Add(10 * time.Minute).Unix() }, want: 401, wantLog: `"reason":"token not valid yet"`},
		{name: "signed by a key the tenant does not have, under its key id", token: func(t *testing.T) string {
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, serviceClaimsAt(start))
			tok.Header["kid"] = "key-1"
			s, _ := tok.SignedString(newRSAKey(t))
			return s
		}, want: 401, wantLog: `"reason":"token signature"`},
		{name: "unknown key id", kid: "key-9", want: 401, wantLog: `"reason":"token key unknown"`},
		{name: "HS256 with the public key as secret", token: func(t *testing.T) string {
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, serviceClaimsAt(start))
			tok.Header["kid"] = "key-1"
			s, _ := tok.SignedString(a.keys["key-1"].N.Bytes())
			return s
		}, want: 401},
		{name: "no token", token: func(*testing.T) string { return "" }, want: 401, wantLog: `"reason":"token missing"`},
		{name: "not a token", token: func(*testing.T) string { return "abc.def" }, want: 401, wantLog: `"reason":"token malformed"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &testClock{now: start}
			var logs bytes.Buffer
			h := newTokenHandler(t, a, clock, tt.identity, &logs)
			var token string
			if tt.token != nil {
				token = tt.token(t)
			} else {
				claims := serviceClaimsAt(start)
				if tt.change != nil {
					tt.change(claims)
				}
				kid := tt.kid
				if kid == "" {
					kid = "key-1"
				}
				token = a.token(t, kid, claims)
			}
			header := tt.header
			if header == "" {
				header = "Authorization"
			}
			if got := postWithToken(h, header, token); got != tt.want {
				t.Errorf("status %d, want %d; log:\n%s", got, tt.want, logs.String())
			}
			if !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("log lacks %s:\n%s", tt.wantLog, logs.String())
			}
			if token != "" && strings.Contains(logs.String(), token) {
				t.Error("the log holds the token")
			}
		})
	}
}

func TestUpstreamTokenKeyRotation(t *testing.T) {
	a := newTestAuthority(t)
	clock := &testClock{now: time.Now()}
	var logs bytes.Buffer
	h := newTokenHandler(t, a, clock, "", &logs)
	if got := postWithToken(h, "Authorization", a.token(t, "key-1", serviceClaimsAt(clock.Now()))); got != 200 {
		t.Fatalf("first token: status %d\n%s", got, logs.String())
	}
	if n := a.fetches.Load(); n != 1 {
		t.Fatalf("%d key fetches, want 1", n)
	}
	// The authority rotates: key-2 arrives. A token under it fetches the
	// keys again at once, since they were fetched over a minute ago.
	a.mu.Lock()
	a.keys["key-2"] = newRSAKey(t)
	a.mu.Unlock()
	clock.Add(2 * time.Minute)
	if got := postWithToken(h, "Authorization", a.token(t, "key-2", serviceClaimsAt(clock.Now()))); got != 200 {
		t.Fatalf("token under the new key: status %d\n%s", got, logs.String())
	}
	if n := a.fetches.Load(); n != 2 {
		t.Fatalf("%d key fetches, want 2", n)
	}
	// Unknown key ids within the minute do not fetch again, however many.
	a.mu.Lock()
	a.keys["key-3"] = newRSAKey(t)
	a.mu.Unlock()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if got := postWithToken(h, "Authorization", a.token(t, "key-3", serviceClaimsAt(clock.Now()))); got != 401 {
				t.Errorf("status %d within the minute, want 401", got)
			}
		})
	}
	wg.Wait()
	if n := a.fetches.Load(); n != 2 {
		t.Errorf("%d key fetches after unknown key ids within a minute, want still 2", n)
	}
	clock.Add(61 * time.Second)
	if got := postWithToken(h, "Authorization", a.token(t, "key-3", serviceClaimsAt(clock.Now()))); got != 200 {
		t.Errorf("key-3 after a minute: status %d", got)
	}
	if n := a.fetches.Load(); n != 3 {
		t.Errorf("%d key fetches, want 3", n)
	}
}

func TestUpstreamTokenAuthorityDown(t *testing.T) {
	a := newTestAuthority(t)
	clock := &testClock{now: time.Now()}
	var logs bytes.Buffer
	h := newTokenHandler(t, a, clock, "", &logs)
	tok := a.token(t, "key-1", serviceClaimsAt(clock.Now()))
	a.Close()
	if got := postWithToken(h, "Authorization", tok); got != 401 {
		t.Errorf("status %d with the authority down, want 401", got)
	}
	if !strings.Contains(logs.String(), "fetching the OpenID configuration for upstream tokens failed") {
		t.Errorf("the log does not say the keys could not be fetched:\n%s", logs.String())
	}
}

func TestUpstreamTokenAndSignatureBothRequired(t *testing.T) {
	a := newTestAuthority(t)
	clock := &testClock{now: time.Now()}
	h := newTestHandler(t, &fakeService{}, &Options{Logger: slog.New(slog.DiscardHandler), Upstream: upstream.Options{
		AccessKeys: []settings.Secret{testAccessKey}, Audience: testAudience, Tenant: testTenant, Identity: testObjectID,
		AuthorityHost: a.URL, HTTPClient: a.Client(), Now: clock.Now,
	}})
	tok := a.token(t, "key-1", serviceClaimsAt(clock.Now()))
	post := func(signed, withToken bool) int {
		req := upstreamRequest("/api/upstream", "chat", "connections", "connected", "application/json", []byte(`{"type":10}`))
		if !signed {
			req.Header.Del("X-ASRS-Signature")
		}
		if withToken {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	for _, c := range []struct {
		signed, token bool
		want          int
	}{{true, true, 200}, {true, false, 401}, {false, true, 401}} {
		if got := post(c.signed, c.token); got != c.want {
			t.Errorf("signed %v, token %v: status %d, want %d", c.signed, c.token, got, c.want)
		}
	}
}

// TestUpstreamTokenKeysRefreshedHourly checks that the authority's keys
// are fetched again once they are an hour old, and not before: a key the
// authority withdrew is trusted until then, and refused soon after.
func TestUpstreamTokenKeysRefreshedHourly(t *testing.T) {
	a := newTestAuthority(t)
	clock := &testClock{now: time.Now()}
	var logs bytes.Buffer
	h := newTokenHandler(t, a, clock, "", &logs)
	if got := postWithToken(h, "Authorization", a.token(t, "key-1", serviceClaimsAt(clock.Now()))); got != 200 {
		t.Fatalf("status %d", got)
	}
	// The authority withdraws key-1 for key-2.
	withdrawn := a.token(t, "key-1", serviceClaimsAt(clock.Now().Add(59*time.Minute)))
	a.mu.Lock()
	a.keys = map[string]*rsa.PrivateKey{"key-2": newRSAKey(t)}
	a.mu.Unlock()
	// Short of an hour, the keys at hand stay: no fetch starts.
	clock.Add(59 * time.Minute)
	for range 10 {
		if got := postWithToken(h, "Authorization", withdrawn); got != 200 {
			t.Fatalf("status %d at 59 minutes: the keys were fetched again before they were an hour old", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := a.fetches.Load(); n != 1 {
		t.Fatalf("%d key fetches at 59 minutes, want 1", n)
	}
	// An hour on, a token under key-1 is still taken while the keys are
	// fetched again behind it...
	clock.Add(2 * time.Minute)
	if got := postWithToken(h, "Authorization", withdrawn); got != 200 {
		t.Fatalf("status %d while the keys refresh", got)
	}
	// ...and refused once they are.
	deadline := time.Now().Add(5 * time.Second)
	for postWithToken(h, "Authorization", withdrawn) != 401 {
		if time.Now().After(deadline) {
			t.Fatalf("a withdrawn key is still trusted after the hourly refresh; %d fetches", a.fetches.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := a.fetches.Load(); n != 2 {
		t.Errorf("%d key fetches, want 2", n)
	}
}
