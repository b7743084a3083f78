package bindings

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

// parsed decodes a client token signed with secret and returns its kid and
// claims.
func parsed(t *testing.T, tok, secret string, now time.Time) (string, jwt.MapClaims) {
	t.Helper()
	claims := jwt.MapClaims{}
	p, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return []byte(secret), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		t.Fatalf("token does not verify with %q: %v", secret, err)
	}
	kid, _ := p.Header["kid"].(string)
	return kid, claims
}

func kidOf(t *testing.T, c *Client) string {
	t.Helper()
	info, err := c.ConnectionInfo(context.Background(), "chat", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := jwt.NewParser().ParseUnverified(info.AccessToken, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	return p.Header["kid"].(string)
}

func wait(ch <-chan struct{}) {
	if ch != nil {
		<-ch
	}
}

func TestKeyRotatesHourly(t *testing.T) {
	f := newFakeService(t)
	clock := newClock()
	c, _ := newTestClient(t, []EndpointConfig{entraEndpoint(t, f, &fakeCred{clock: clock})}, Options{Now: clock.Now})
	e := c.Endpoints()[0]

	if got := kidOf(t, c); got != "key-1" {
		t.Fatalf("first kid = %q, want key-1", got)
	}
	clock.Add(59 * time.Minute)
	wait(e.key.refreshIfDue())
	if got := kidOf(t, c); got != "key-1" || f.keyCalls.Load() != 1 {
		t.Fatalf("at 59m: kid %q after %d auth calls, want key-1 after 1", got, f.keyCalls.Load())
	}
	clock.Add(time.Minute)
	// Due: the request is served with the current key at once while the
	// refresh runs in the background.
	if got := kidOf(t, c); got != "key-1" {
		t.Fatalf("at 60m: kid %q, want key-1 while the refresh runs", got)
	}
	wait(e.key.refreshIfDue())
	if got := kidOf(t, c); got != "key-2" || f.keyCalls.Load() != 2 {
		t.Fatalf("after refresh: kid %q after %d auth calls, want key-2 after 2", got, f.keyCalls.Load())
	}
}

func TestKeyRefreshIntervalIsSettable(t *testing.T) {
	f := newFakeService(t)
	clock := newClock()
	c, _ := newTestClient(t, []EndpointConfig{entraEndpoint(t, f, &fakeCred{clock: clock})}, Options{Now: clock.Now, KeyRefresh: 10 * time.Minute})
	e := c.Endpoints()[0]

	if got := kidOf(t, c); got != "key-1" {
		t.Fatalf("first kid = %q, want key-1", got)
	}
	clock.Add(9 * time.Minute)
	wait(e.key.refreshIfDue())
	if n := f.keyCalls.Load(); n != 1 {
		t.Fatalf("at 9m: %d auth calls, want 1", n)
	}
	clock.Add(time.Minute)
	wait(e.key.refreshIfDue())
	if got := kidOf(t, c); got != "key-2" {
		t.Fatalf("at 10m: kid %q, want key-2", got)
	}
}

func TestKeyRefreshFailsThenRecovers(t *testing.T) {
	f := newFakeService(t)
	clock := newClock()
	c, logs := newTestClient(t, []EndpointConfig{entraEndpoint(t, f, &fakeCred{clock: clock})}, Options{Now: clock.Now})
	e := c.Endpoints()[0]
	if got := kidOf(t, c); got != "key-1" {
		t.Fatalf("first kid = %q", got)
	}

	f.on("GET /api/v1/auth/accessKey", reply{status: 503, code: "Busy"})
	clock.Add(time.Hour)
	wait(e.key.refreshIfDue())
	for range 8 { // retries with back-off every few minutes until 84m
		clock.Add(3 * time.Minute)
		wait(e.key.refreshIfDue())
		if got := kidOf(t, c); got != "key-1" {
			t.Fatalf("while refresh fails at %s: kid %q, want the still valid key-1", clock.Now(), got)
		}
	}
	calls := f.keyCalls.Load()
	if calls < 4 {
		t.Errorf("auth API called %d times while failing, want retries", calls)
	}

	clock.Add(2 * time.Minute) // 86m: key-1 is past its use
	_, err := c.ConnectionInfo(context.Background(), "chat", "", nil)
	if e := asError(t, err); e.Status != 503 || e.Code != "Busy" {
		t.Fatalf("with an expired key and failing refresh: %v, want the 503", err)
	}

	f.on("GET /api/v1/auth/accessKey", reply{status: 200})
	clock.Add(10 * time.Minute) // past any back-off
	if got := kidOf(t, c); !strings.HasPrefix(got, "key-") || got == "key-1" {
		t.Fatalf("after recovery: kid %q, want a new key", got)
	}
	out := logs.String()
	if n := strings.Count(out, "SignalR endpoint failing"); n != 1 {
		t.Errorf("failure logged %d times, want once per state change:\n%s", n, out)
	}
	if n := strings.Count(out, "SignalR endpoint recovered"); n != 1 {
		t.Errorf("recovery logged %d times, want once:\n%s", n, out)
	}
}

func TestKeyLifetimeCapsToken(t *testing.T) {
	f := newFakeService(t)
	clock := newClock()
	start := clock.Now()
	c, _ := newTestClient(t, []EndpointConfig{entraEndpoint(t, f, &fakeCred{clock: clock})}, Options{Now: clock.Now})
	kidOf(t, c) // key issued at start
	clock.Add(50 * time.Minute)
	info, err := c.ConnectionInfo(context.Background(), "chat", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, claims := parsed(t, info.AccessToken, "secret-1", clock.Now())
	if got, want := int64(claims["exp"].(float64)), start.Add(90*time.Minute).Unix(); got != want {
		t.Errorf("exp = %d, want %d: the key's end, not now+1h", got, want)
	}
}

func TestFirstKeyStormMakesOneFetch(t *testing.T) {
	clock := newClock()
	var eps []EndpointConfig
	var fakes []*fakeService
	var creds []*fakeCred
	for i := range 2 {
		f := newFakeService(t)
		f.block = make(chan struct{})
		cred := &fakeCred{clock: clock}
		ep := entraEndpoint(t, f, cred)
		ep.Name = []string{"east", "west"}[i]
		eps, fakes, creds = append(eps, ep), append(fakes, f), append(creds, cred)
	}
	c, _ := newTestClient(t, eps, Options{Now: clock.Now})
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for range 1000 {
		wg.Go(func() {
			_, err := c.ConnectionInfo(context.Background(), "chat", "u", nil)
			errs <- err
		})
	}
	time.Sleep(50 * time.Millisecond) // let most callers queue behind the fetch
	for _, f := range fakes {
		close(f.block)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, f := range fakes {
		t.Logf("endpoint %d: 1000 concurrent first negotiations made %d token requests and %d auth API calls", i, creds[i].calls.Load(), f.keyCalls.Load())
		if got := f.keyCalls.Load(); got != 1 {
			t.Errorf("endpoint %d: %d auth API calls, want 1", i, got)
		}
		if got := creds[i].calls.Load(); got != 1 {
			t.Errorf("endpoint %d: %d token requests, want 1", i, got)
		}
	}
}

func TestKeyWaitBound(t *testing.T) {
	f := newFakeService(t)
	f.block = make(chan struct{})
	defer close(f.block)
	clock := newClock()
	c, _ := newTestClient(t, []EndpointConfig{entraEndpoint(t, f, &fakeCred{clock: clock})}, Options{Now: clock.Now, KeyWait: 20 * time.Millisecond, OptionNames: map[string]string{"KeyWait": "SIGNALR_KEY_WAIT"}})
	_, err := c.ConnectionInfo(context.Background(), "chat", "", nil)
	e := asError(t, err)
	if !errors.Is(err, errWait) || !strings.Contains(e.Message, "SIGNALR_KEY_WAIT") {
		t.Fatalf("error %q, want a timeout naming SIGNALR_KEY_WAIT", err)
	}
}

func TestCredentialFailureNamesIdentity(t *testing.T) {
	f := newFakeService(t)
	clock := newClock()
	cause := errors.New("ManagedIdentityCredential: no identity assigned")
	ep := entraEndpoint(t, f, &fakeCred{clock: clock, err: cause})
	ep.Identity = "user-assigned managed identity with client id 11111111-2222-3333-4444-555555555555"
	ep.Explain = func(err error) string {
		if !errors.Is(err, cause) {
			return ""
		}
		return "A user-assigned identity is named by its client id, not its object (principal) id; run handler check."
	}
	c, _ := newTestClient(t, []EndpointConfig{ep}, Options{Now: clock.Now})
	_, err := c.ConnectionInfo(context.Background(), "chat", "", nil)
	if !errors.Is(err, cause) {
		t.Fatalf("error %v does not wrap the credential's", err)
	}
	for _, want := range []string{"user-assigned managed identity with client id 11111111-2222-3333-4444-555555555555",
		"named by its client id, not its object (principal) id", "handler check"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if f.keyCalls.Load() != 0 {
		t.Errorf("auth API called without a token")
	}
}

// TestRenewalSkipsTheCredentialsCache: after the service refuses the token
// (401), the new one is asked for with claims (a token not issued before
// now), which skips the cache of managed identity and confidential client
// credentials. A credential that refuses claims, as the Azure CLI's does,
// is asked again plainly; when that hands back the refused token, the
// error says to sign in again.
func TestRenewalSkipsTheCredentialsCache(t *testing.T) {
	const cae = `{"access_token":{"nbf":{"essential":true,"value":"`
	for _, tt := range []struct {
		name                   string
		refuseClaims, distinct bool
		wantClaims             []bool // per token request: with claims
		wantErr                string
	}{
		{"claims taken", false, false, []bool{false, true}, ""},
		{"claims refused, a new token plainly", true, true, []bool{false, true, false}, ""},
		{"claims refused, the refused token plainly", true, false, []bool{false, true, false}, "sign in again"},
	} {
		f := newFakeService(t)
		clock := newClock()
		cred := &fakeCred{clock: clock, refuseClaims: tt.refuseClaims, distinct: tt.distinct}
		c, _ := newTestClient(t, []EndpointConfig{entraEndpoint(t, f, cred)}, Options{Now: clock.Now, Negotiate: NegotiateService})
		f.on("POST /api/hubs/chat/:send", reply{status: 401}, reply{status: 202})
		err := c.Send(ctx(), "chat", Message{Target: "t"})
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: send after a 401: %v, want error %q", tt.name, err, tt.wantErr)
		}
		cred.mu.Lock()
		got := cred.claims
		cred.mu.Unlock()
		var with []bool
		for _, c := range got {
			with = append(with, c != "")
			if c != "" && !strings.HasPrefix(c, cae) {
				t.Errorf("%s: claims %q, want the CAE nbf form", tt.name, c)
			}
		}
		if d := cmp.Diff(tt.wantClaims, with); d != "" {
			t.Errorf("%s: token requests with claims (-want +got):\n%s", tt.name, d)
		}
	}
}

// TestKeyRetryAfterBounded: a Retry-After of a year on the auth API (from
// the service, or anything answering in its place) holds off the next key
// fetch no longer than the back-off's ceiling; without a key no client
// can negotiate.
func TestKeyRetryAfterBounded(t *testing.T) {
	for _, ask := range []string{"31536000", "Fri, 01 Jan 2100 00:00:00 GMT"} {
		t.Run(ask, func(t *testing.T) {
			f := newFakeService(t)
			f.on("GET /api/v1/auth/accessKey", reply{status: 429, code: "Error.Throttled", retryAfter: ask}, reply{status: 200})
			clock := newClock()
			c, _ := newTestClient(t, []EndpointConfig{entraEndpoint(t, f, &fakeCred{clock: clock})}, Options{Now: clock.Now})
			e := c.Endpoints()[0]
			_, err := c.ConnectionInfo(context.Background(), "chat", "", nil)
			if be := asError(t, err); be.Status != 429 || be.RetryAfter < time.Hour {
				t.Fatalf("first negotiate: %v (Retry-After %s), want the 429 asking a long wait", err, be.RetryAfter)
			}
			clock.Add(backoffCeiling + time.Second)
			wait(e.key.refreshIfDue())
			if got := kidOf(t, c); got != "key-1" {
				t.Errorf("kid %q after %d auth calls, want key-1 fetched %s after the 429", got, f.keyCalls.Load(), backoffCeiling)
			}
		})
	}
}

// TestRetryAfterNeverWraps: a Retry-After too large for a time.Duration is
// read as the longest wait, never wrapped around to a short or negative one.
func TestRetryAfterNeverWraps(t *testing.T) {
	now := time.Now()
	for _, h := range []http.Header{
		{"Retry-After": {"18446744074"}},
		{"Retry-After": {"9223372037"}},
		{"Retry-After": {"99999999999999999999"}},
		{"Retry-After-Ms": {"18446744073710"}},
	} {
		if got := retryAfter(h, now); got < 24*time.Hour {
			t.Errorf("retryAfter(%v) = %s, want at least a day", h, got)
		}
	}
}

// TestHostileAuthAPIReplies: an auth API that answers a reply of 2 MiB,
// one that trickles, or one that is not JSON fails the key fetch within
// its bounds (FetchTimeout per try), with an error that quotes none of the
// reply, and never hands out a key.
func TestHostileAuthAPIReplies(t *testing.T) {
	const marker = "HOSTILE-REPLY-MARKER"
	tests := []struct {
		name  string
		serve func(w http.ResponseWriter)
		want  string
		fetch time.Duration // FetchTimeout, which bounds each try
	}{
		{"2 MiB", func(w http.ResponseWriter) {
			w.Write([]byte(`{"KeyId":"` + marker + strings.Repeat("x", 2<<20) + `"}`))
		}, "longer than", 5 * time.Second},
		{"trickle", func(w http.ResponseWriter) {
			w.Write([]byte(`{"KeyId":"` + marker))
			w.(http.Flusher).Flush()
			time.Sleep(time.Second)
		}, "deadline", 200 * time.Millisecond},
		{"not JSON", func(w http.ResponseWriter) { w.Write([]byte(marker + `<html>`)) }, "not JSON", 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tt.serve(w) }))
			t.Cleanup(srv.Close)
			clock := newClock()
			ep := EndpointConfig{ServiceURI: mustURL(t, srv.URL), Credential: &fakeCred{clock: clock}}
			c, _ := newTestClient(t, []EndpointConfig{ep}, Options{Now: clock.Now, FetchTimeout: tt.fetch, KeyWait: 30 * time.Second, Negotiate: NegotiateLocal})
			start := time.Now()
			_, err := c.ConnectionInfo(ctx(), "chat", "", nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), marker) {
				t.Errorf("negotiate: %v, want an error saying %q that quotes none of the reply", err, tt.want)
			}
			// Four tries of at most FetchTimeout each, and azcore's short waits.
			if d := time.Since(start); d > 4*tt.fetch+time.Second {
				t.Errorf("the key fetch took %s", d)
			}
		})
	}
}
