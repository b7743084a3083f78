package bindings

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestConnectionInfoAccessKeyClaims(t *testing.T) {
	f := newFakeService(t)
	clock := newClock()
	now := clock.Now()
	ep := keyEndpoint(t, f)
	ep.ClientEndpoint = mustURL(t, "https://clients.example.com:8443/")
	c, _ := newTestClient(t, []EndpointConfig{ep}, Options{Now: clock.Now, TokenLifetime: 2 * time.Hour})
	claims := []Claim{
		{"name", "Ada"}, {"role", "admin"}, {"role", "owner"}, {"role", "reader"},
		{"aud", "evil"}, {"exp", "1"}, {"iat", "x"}, {"nbf", "x"}, {"iss", "x"}, {"actort", "x"},
		{"acr", "x"}, {"azp", "x"}, {"c_hash", "x"}, {"jti", "x"}, {"nonce", "x"}, {"asrs.s.uid", "admin"},
	}
	info, err := c.ConnectionInfo(context.Background(), "Chat", "ada@example.com", claims)
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://clients.example.com:8443/client/?hub=chat"; info.URL != want {
		t.Errorf("url = %q, want %q (client endpoint, port kept)", info.URL, want)
	}
	kid, got := parsed(t, info.AccessToken, "the-access-key", now)
	if kid == "" {
		t.Error("no kid in the header")
	}
	aud := "http://127.0.0.1/client/?hub=chat" // the service's host, no port
	want := map[string]any{
		"aud": aud, "iat": float64(now.Unix()), "nbf": float64(now.Unix()), "exp": float64(now.Add(2 * time.Hour).Unix()),
		"asrs.s.uid": "ada@example.com", "name": "Ada", "role": []any{"admin", "owner", "reader"},
		"asrs.u.aud": "evil", "asrs.u.exp": "1", "asrs.u.iat": "x", "asrs.u.nbf": "x", "asrs.u.iss": "x",
		"asrs.u.actort": "x", "asrs.u.acr": "x", "asrs.u.azp": "x", "asrs.u.c_hash": "x", "asrs.u.jti": "x",
		"asrs.u.nonce": "x", "asrs.u.asrs.s.uid": "admin",
	}
	if d := cmp.Diff(want, map[string]any(got)); d != "" {
		t.Errorf("claims (-want +got):\n%s", d)
	}
	if len(f.requests()) != 0 {
		t.Errorf("access-key negotiate made %d requests, want none", len(f.requests()))
	}
}

// TestClientTokenShortClaimTypes checks that long .NET claim types go out
// under the short names of .NET's outbound JWT claim map, as C# issues them.
func TestClientTokenShortClaimTypes(t *testing.T) {
	f := newFakeService(t)
	clock := newClock()
	c, _ := newTestClient(t, []EndpointConfig{keyEndpoint(t, f)}, Options{Now: clock.Now})
	const ws = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
	claims := []Claim{
		{ws + "emailaddress", "ada@example.com"},
		{ws + "name", "Ada"},
		{ws + "nameidentifier", "42"},
		{"http://schemas.microsoft.com/ws/2008/06/identity/claims/role", "admin"},
		{"roles", "owner"}, // already short: kept as written
		{"http://schemas.microsoft.com/identity/claims/objectidentifier", "oid-1"},
		{"http://schemas.microsoft.com/identity/claims/tenantid", "tid-1"},
		{ws + "upn", "ada@contoso.com"},
		// Shortened onto a name the service reserves: renamed as acr is.
		{"http://schemas.microsoft.com/claims/authnclassreference", "1"},
		{"sub", "first"}, {"sub", "second"},
		{"urn:custom", "kept"},
	}
	info, err := c.ConnectionInfo(context.Background(), "chat", "", claims)
	if err != nil {
		t.Fatal(err)
	}
	_, got := parsed(t, info.AccessToken, "the-access-key", clock.Now())
	for _, k := range []string{"aud", "iat", "nbf", "exp"} {
		delete(got, k)
	}
	want := map[string]any{
		"email": "ada@example.com", "unique_name": "Ada", "nameid": "42", "role": "admin", "roles": "owner",
		"oid": "oid-1", "tid": "tid-1", "upn": "ada@contoso.com", "asrs.u.acr": "1",
		"sub": "first", "asrs.u.sub": "second", "urn:custom": "kept",
	}
	if d := cmp.Diff(want, map[string]any(got)); d != "" {
		t.Errorf("claims (-want +got):\n%s", d)
	}
}

func TestConnectionInfoEntraKey(t *testing.T) {
	f := newFakeService(t)
	clock := newClock()
	cred := &fakeCred{clock: clock}
	c, _ := newTestClient(t, []EndpointConfig{entraEndpoint(t, f, cred)}, Options{Now: clock.Now, Application: "MyApp"})
	info, err := c.ConnectionInfo(context.Background(), "Chat", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := f.URL + "/client/?hub=myapp_chat"; info.URL != want {
		t.Errorf("url = %q, want %q", info.URL, want)
	}
	kid, claims := parsed(t, info.AccessToken, "secret-1", clock.Now())
	if kid != "key-1" {
		t.Errorf("kid = %q, want key-1", kid)
	}
	if _, ok := claims["asrs.s.uid"]; ok {
		t.Error("asrs.s.uid set without a user id")
	}
	if claims["aud"] != "http://127.0.0.1/client/?hub=myapp_chat" {
		t.Errorf("aud = %v", claims["aud"])
	}
	reqs := f.requests()
	if len(reqs) != 1 || reqs[0].Method != "GET" || reqs[0].Path != "/api/v1/auth/accessKey" || reqs[0].Auth != "Bearer entra-token" || len(reqs[0].Query) != 0 {
		t.Errorf("requests = %+v, want one auth API call with the Entra bearer and no query", reqs)
	}
	if cred.scope != DefaultScope {
		t.Errorf("scope = %q", cred.scope)
	}
}

func TestConnectionInfoTokenTooLong(t *testing.T) {
	f := newFakeService(t)
	c, _ := newTestClient(t, []EndpointConfig{keyEndpoint(t, f)}, Options{OptionNames: map[string]string{"ClaimTypes": "SIGNALR_CLAIM_TYPES"}})
	_, err := c.ConnectionInfo(context.Background(), "chat", "u", []Claim{{"big", strings.Repeat("x", 4000)}})
	if err == nil || !strings.Contains(err.Error(), "4096") || !strings.Contains(err.Error(), "SIGNALR_CLAIM_TYPES") {
		t.Fatalf("error %v, want the 4096 limit named", err)
	}
}

func TestNegotiateService(t *testing.T) {
	f := newFakeService(t)
	clock := newClock()
	c, logs := newTestClient(t, []EndpointConfig{entraEndpoint(t, f, &fakeCred{clock: clock})},
		Options{Now: clock.Now, Negotiate: NegotiateService, TokenLifetime: 90 * time.Second})
	for range 2 {
		info, err := c.ConnectionInfo(context.Background(), "Chat", "ada", []Claim{{"role", "admin"}})
		if err != nil {
			t.Fatal(err)
		}
		if info.AccessToken != "service-signed" {
			t.Errorf("token = %q", info.AccessToken)
		}
	}
	r := f.requests()[0]
	want := seen{Method: "POST", Path: "/api/hubs/chat/:generateToken", Auth: "Bearer entra-token",
		Query: map[string][]string{"userId": {"ada"}, "minutesToExpire": {"2"}, "api-version": {"2023-07-01"}}}
	if d := cmp.Diff(want, r); d != "" {
		t.Errorf("generateToken request (-want +got):\n%s", d)
	}
	if f.keyCalls.Load() != 0 {
		t.Error("service mode called the auth API")
	}
	if n := strings.Count(logs.String(), "other claims are dropped"); n != 1 {
		t.Errorf("dropped claims logged %d times, want once:\n%s", n, logs)
	}
}

// TestServiceModeNeverFetchesKey: with the service signing, the background
// loop must not ask for a key either, nor warn of a role the app needs not.
func TestServiceModeNeverFetchesKey(t *testing.T) {
	f := newFakeService(t)
	f.on("GET /api/v1/auth/accessKey", reply{status: 403})
	clock := newClock()
	c, logs := newTestClient(t, []EndpointConfig{entraEndpoint(t, f, &fakeCred{clock: clock})},
		Options{Now: clock.Now, Negotiate: NegotiateService})
	e := c.Endpoints()[0]
	for range 3 {
		c.tick(context.Background())
		if e.key != nil {
			wait(e.key.refreshIfDue())
		}
		if _, err := c.ConnectionInfo(context.Background(), "chat", "", nil); err != nil {
			t.Fatal(err)
		}
		clock.Add(2 * time.Hour)
	}
	if n := f.keyCalls.Load(); n != 0 {
		t.Errorf("service mode made %d auth API calls, want none", n)
	}
	if strings.Contains(logs.String(), "App Server") {
		t.Errorf("service mode logged about the App Server role:\n%s", logs)
	}
}

func TestNegotiateAutoFallsBack(t *testing.T) {
	f := newFakeService(t)
	f.on("GET /api/v1/auth/accessKey", reply{status: 403})
	clock := newClock()
	c, logs := newTestClient(t, []EndpointConfig{entraEndpoint(t, f, &fakeCred{clock: clock})}, Options{Now: clock.Now})
	for range 3 {
		info, err := c.ConnectionInfo(context.Background(), "chat", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if info.AccessToken != "service-signed" {
			t.Errorf("token = %q, want the service's", info.AccessToken)
		}
	}
	if got := f.keyCalls.Load(); got != 1 {
		t.Errorf("auth API called %d times, want once (then back-off)", got)
	}
	if n := strings.Count(logs.String(), "the service signs client tokens instead"); n != 1 {
		t.Errorf("switch logged %d times, want once:\n%s", n, logs)
	}
}

// TestServiceSigningWithinKeyWait holds negotiate to Options.KeyWait when
// the service is asked to sign and does not answer, whether asked at once
// (service) or after the auth API refused the identity (auto).
func TestServiceSigningWithinKeyWait(t *testing.T) {
	for _, mode := range []NegotiateMode{NegotiateService, NegotiateAuto} {
		t.Run(string(mode), func(t *testing.T) {
			f := newFakeService(t)
			f.on("GET /api/v1/auth/accessKey", reply{status: 403})
			f.blockGenerate = make(chan struct{})
			defer close(f.blockGenerate)
			clock := newClock()
			c, _ := newTestClient(t, []EndpointConfig{entraEndpoint(t, f, &fakeCred{clock: clock})},
				Options{Now: clock.Now, Negotiate: mode, KeyWait: 50 * time.Millisecond, OptionNames: map[string]string{"KeyWait": "SIGNALR_KEY_WAIT"}})
			done := make(chan error, 1)
			go func() {
				_, err := c.ConnectionInfo(context.Background(), "chat", "ada", nil)
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("error %v, want the request cut at KeyWait", err)
				}
				// A token request changes nothing: the error says so, and
				// which setting bounds the wait.
				for _, want := range []string{"within 50ms (SIGNALR_KEY_WAIT)", "safe to retry"} {
					if err == nil || !strings.Contains(err.Error(), want) {
						t.Errorf("error %v does not say %q", err, want)
					}
				}
				if err != nil && strings.Contains(err.Error(), "may have acted") {
					t.Errorf("error %v says the service may have acted on a token request", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no answer while the service does not sign; want one after KeyWait (50ms)")
			}
		})
	}
}

func TestNegotiateRefusedBothWays(t *testing.T) {
	tests := []struct {
		name string
		mode NegotiateMode
		want []string
	}{
		{"auto", NegotiateAuto, []string{"SignalR App Server", "SignalR Service Owner", "SignalR REST API Owner", "30 minutes", "system-assigned managed identity"}},
		{"local", NegotiateLocal, []string{"lacks the SignalR App Server or SignalR Service Owner role", "30 minutes", "Or set SIGNALR_NEGOTIATE=auto to let the service sign client tokens, with the SignalR REST API Owner role."}},
		{"service", NegotiateService, []string{"lacks the SignalR REST API Owner or SignalR Service Owner role", "sign client tokens"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeService(t)
			f.on("GET /api/v1/auth/accessKey", reply{status: 403, code: "Forbidden.Auth"})
			f.on("POST /api/hubs/chat/:generateToken", reply{status: 403, code: "Forbidden.Token"})
			clock := newClock()
			c, _ := newTestClient(t, []EndpointConfig{entraEndpoint(t, f, &fakeCred{clock: clock})}, Options{Now: clock.Now, Negotiate: tt.mode, OptionNames: map[string]string{"Negotiate": "SIGNALR_NEGOTIATE"}})
			_, err := c.ConnectionInfo(context.Background(), "chat", "", nil)
			e := asError(t, err)
			if e.Status != http.StatusForbidden || e.RequestID != "req-42" || e.Endpoint != f.URL {
				t.Errorf("error %+v", e)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if msg := err.Error(); strings.Contains(msg, "\n") || strings.Contains(msg, ".:") {
				t.Errorf("error %q is not one readable line", msg)
			}
		})
	}
}
