package faults

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/signalr-entra/handler/bindings"
	"github.com/signalr-entra/handler/emulator"
	"github.com/signalr-entra/handler/settings"
)

// TestAccessKeyMode runs REST faults with a connection string's access key,
// whose REST tokens are signed locally: retries and partial failures work
// as in Entra mode, and the key never reaches the log.
func TestAccessKeyMode(t *testing.T) {
	t.Parallel()
	s := newStack(t, config{endpoints: func(s *stack) []settings.Endpoint {
		return []settings.Endpoint{s.accessKeyEndpoint(t)}
	}})
	c := s.connect(t)
	s.emu.Fail(emulator.RESTSend, 1, 429, 0)
	if r := s.send(t, broadcasts("a", "b")); r.status != http.StatusAccepted {
		t.Errorf("the service's 429 then an answer: %d %s, want 202", r.status, r.body)
	}
	s.emu.Fail(emulator.RESTSend, 1, 500, 0)
	r := s.send(t, broadcasts("c", "d"))
	if r.status != http.StatusBadGateway || !cmp.Equal(r.Accepted, []int{1}) || len(r.Failed) != 1 {
		t.Errorf("500: %d %s, want 502 with item 0 failed", r.status, r.body)
	}
	if got := s.restCalls("SignalR_Broadcast"); got != 5 {
		t.Errorf("the service saw %d sends, want 5 (one retry of the 429, none of the 500)", got)
	}
	s.wantDelivered(t, c, "a", "b", "d")
}

// TestAccessKeyLocalAuthDisabled uses an access key on a resource whose
// local authentication is off: sends fail with the advice to switch to
// Entra ID.
func TestAccessKeyLocalAuthDisabled(t *testing.T) {
	t.Parallel()
	s := newStack(t, config{
		emu:       emulator.Options{LocalAuthDisabled: true},
		endpoints: func(s *stack) []settings.Endpoint { return []settings.Endpoint{s.accessKeyEndpoint(t)} },
	})
	r := s.send(t, broadcasts("a"))
	if r.status != http.StatusBadGateway || len(r.Failed) != 1 {
		t.Errorf("send: %d %s, want 502 with item 0 failed", r.status, r.body)
	}
	s.wantLog(t, "messages item failed", r.CorrelationID, "local authentication is disabled on the resource", "Switch to Microsoft Entra ID")
}

// TestClientSecretCredential configures an app registration's client secret
// through the app settings, against the stand-in's https authority: a wrong
// secret fails negotiate with Entra ID's reason in the log, and a 500 from
// the authority is absorbed by the credential's retry. No secret is logged.
func TestClientSecretCredential(t *testing.T) {
	tests := []struct {
		name       string
		wrong      bool // configure a secret the authority does not know
		failures   int  // 500s from the authority's token endpoint
		wantStatus int
		wantLog    string
	}{
		{name: "wrong secret", wrong: true, wantStatus: 502, wantLog: "AADSTS7000215"},
		{name: "one 500 from the authority", failures: 1, wantStatus: 200},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var clientID string
			s := newStack(t, config{
				endpoints: func(s *stack) []settings.Endpoint {
					var eps []settings.Endpoint
					clientID, eps = clientSecretEndpoints(t, s, fmt.Sprintf("c1e40000-0000-4000-8000-%012d", i), tt.wrong)
					return eps
				},
				setup:    func(s *stack) { s.emu.Fail(emulator.AuthorityToken, tt.failures, 500, 0) },
				bindings: bindings.Options{KeyWait: 5 * time.Second},
			})
			r, _ := s.negotiate(t)
			if r.status != tt.wantStatus {
				t.Fatalf("negotiate: %d %s, want %d", r.status, r.body, tt.wantStatus)
			}
			if got := s.emu.Counts().AuthorityTokens; got != tt.failures+1 {
				t.Errorf("authority token requests %d, want %d", got, tt.failures+1)
			}
			if tt.wantLog != "" {
				s.wantLog(t, "negotiate failed", r.CorrelationID, "ClientSecretCredential with client id "+clientID, tt.wantLog)
				return
			}
			s.connect(t)
		})
	}
}

// clientSecretEndpoints registers an app with a client secret and
// SignalR Service Owner at the stand-in's authority, and configures it
// through the app settings (with a wrong secret when wrong).
func clientSecretEndpoints(t *testing.T, s *stack, clientID string, wrong bool) (string, []settings.Endpoint) {
	secret := randomSecret()
	s.secrets.add("the client secret", secret)
	app, err := s.emu.AddApplication(emulator.App{ClientID: clientID, Secret: secret, Roles: []emulator.Role{emulator.ServiceOwner}})
	if err != nil {
		t.Fatal(err)
	}
	if wrong {
		secret = randomSecret()
		s.secrets.add("a wrong client secret", secret)
	}
	for k, v := range map[string]string{
		"AzureSignalRConnectionString__serviceUri":    s.emu.URL,
		"AzureSignalRConnectionString__tenantId":      s.emu.TenantID,
		"AzureSignalRConnectionString__clientId":      app.ClientID,
		"AzureSignalRConnectionString__clientSecret":  secret,
		"AzureSignalRConnectionString__authorityHost": s.emu.AuthorityURL,
	} {
		t.Setenv(k, v)
	}
	cfg, err := settings.Load(&settings.LoadOptions{Transport: s.emu.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return app.ClientID, cfg.Endpoints
}

// TestRevokedTokenWithClientSecret: after the service stops taking the
// token a ClientSecretCredential holds in MSAL's cache, concurrent sends
// get through with one new token from the authority, asked with claims
// past the cache.
func TestRevokedTokenWithClientSecret(t *testing.T) {
	s := newStack(t, config{endpoints: func(s *stack) []settings.Endpoint {
		_, eps := clientSecretEndpoints(t, s, "c1e40000-0000-4000-8000-00000000ce01", false)
		return eps
	}})
	if r := s.send(t, broadcasts("before")); r.status != http.StatusAccepted {
		t.Fatalf("send before the revocation: %d %s", r.status, r.body)
	}
	before := s.emu.Counts().AuthorityTokens
	s.emu.RevokeTokens()
	start := time.Now()
	var wg sync.WaitGroup
	statuses := make([]int, 20)
	for i := range statuses {
		wg.Go(func() { statuses[i] = s.send(t, broadcasts("after")).status })
	}
	wg.Wait()
	t.Logf("20 concurrent sends after the revocation answered within %s", time.Since(start).Round(time.Millisecond))
	for i, st := range statuses {
		if st != http.StatusAccepted {
			t.Errorf("send %d after the revocation: %d", i, st)
		}
	}
	if n := s.emu.Counts().AuthorityTokens - before; n != 1 {
		t.Errorf("%d authority token requests after the revocation, want 1", n)
	}
}
