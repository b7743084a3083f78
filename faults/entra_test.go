package faults

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"testing"
	"time"

	"github.com/signalr-entra/handler/bindings"
	"github.com/signalr-entra/handler/emulator"
	"github.com/signalr-entra/handler/settings"
)

// useIdentityEndpoint points App Service managed identity at endpoint, with
// the stand-in's header, and clears the variables of other sources. It
// never lets a credential probe IMDS.
func useIdentityEndpoint(t *testing.T, endpoint, header string) {
	t.Setenv("IDENTITY_ENDPOINT", endpoint)
	t.Setenv("IDENTITY_HEADER", header)
	for _, k := range []string{"IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT", "MSI_ENDPOINT", "MSI_SECRET", "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET"} {
		t.Setenv(k, "")
	}
}

// TestEntraUnreachableAtStart starts the handler, configured from app
// settings with a managed identity, while the identity endpoint refuses
// connections: negotiate answers 502 within SIGNALR_KEY_WAIT, and works
// once the endpoint comes up, with no restart.
func TestEntraUnreachableAtStart(t *testing.T) {
	// A port nothing listens on, until Entra "returns" on it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := newStack(t, config{endpoints: func(s *stack) []settings.Endpoint {
		p, err := s.emu.AddUserIdentity(emulator.UserIdentity{Roles: []emulator.Role{emulator.AppServer, emulator.RESTAPIOwner}})
		if err != nil {
			t.Fatal(err)
		}
		useIdentityEndpoint(t, "http://"+addr+"/msi/token", s.emu.IdentityHeader)
		t.Setenv("AzureSignalRConnectionString__serviceUri", s.emu.URL)
		t.Setenv("AzureSignalRConnectionString__credential", "managedidentity")
		t.Setenv("AzureSignalRConnectionString__clientId", p.ClientID)
		cfg, err := settings.Load(nil)
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Endpoints
	}, bindings: bindings.Options{KeyWait: 200 * time.Millisecond}})

	r, _ := s.negotiate(t)
	if r.status != http.StatusBadGateway {
		t.Fatalf("negotiate with Entra unreachable: %d %s, want 502", r.status, r.body)
	}
	s.wantLog(t, "negotiate failed", r.CorrelationID, "Microsoft Entra ID")
	if line := s.logs.find("negotiate failed", r.CorrelationID); strings.Count(line, "SIGNALR_KEY_WAIT") > 1 {
		t.Errorf("the log repeats the explanation:\n%s", line)
	}
	if r := s.send(t, broadcasts("a")); r.status != http.StatusBadGateway || len(r.Failed) != 1 {
		t.Errorf("send with Entra unreachable: %d %s, want 502 with item 0 failed", r.status, r.body)
	}

	// Entra returns on the same address.
	back, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the identity endpoint's port was taken meanwhile: %v", err)
	}
	target := mustURL(t, s.emu.IdentityEndpoint)
	target.Path = ""
	proxy := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(target))
	proxy.Listener.Close()
	proxy.Listener = back
	proxy.Start()
	t.Cleanup(proxy.Close)

	s.recover(t)
	c := s.connect(t)
	if r := s.send(t, broadcasts("a")); r.status != http.StatusAccepted {
		t.Fatalf("send after Entra returned: %d %s", r.status, r.body)
	}
	s.wantDelivered(t, c, "a")
	if s.emu.Counts().IdentityTokens == 0 {
		t.Error("the identity endpoint was never asked: the test did not exercise the credential")
	}
}

// TestEntraServerError makes the managed identity endpoint answer 500: the
// credential's own retries may absorb it; otherwise negotiate fails with
// the identity named in the log, and recovers after the back-off.
func TestEntraServerError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		failures   int // 500s before the endpoint answers
		wantStatus int // of the first negotiate
		wantCalls  int // identity endpoint calls once negotiate works
	}{
		{"one 500 is retried by the credential", 1, 200, 2},
		// The credential tries four times.
		{"500 on every try", 4, 502, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var clientID string
			s := newStack(t, config{
				endpoints: func(s *stack) []settings.Endpoint {
					// A real ManagedIdentityCredential, through the
					// stand-in's identity endpoint.
					ep := s.entraEndpoint(t, emulator.ServiceOwner)
					clientID = ep.Auth.ClientID
					return []settings.Endpoint{ep}
				},
				setup: func(s *stack) { s.emu.Fail(emulator.IdentityToken, tt.failures, 500, 0) },
			})
			r, _ := s.negotiate(t)
			if r.status != tt.wantStatus {
				t.Fatalf("negotiate: %d %s, want %d", r.status, r.body, tt.wantStatus)
			}
			if r.status != http.StatusOK {
				s.wantLog(t, "negotiate failed", r.CorrelationID, "user-assigned managed identity with client id "+clientID,
					"could not get a token for scope https://signalr.azure.com/.default")
				s.wantLog(t, "SignalR endpoint failing", `"kind":"credential"`)
				s.recover(t)
				s.wantLog(t, "SignalR endpoint recovered", `"kind":"credential"`)
			}
			s.connect(t)
			if got := s.emu.Counts().IdentityTokens; got != tt.wantCalls {
				t.Errorf("identity endpoint calls %d, want %d", got, tt.wantCalls)
			}
		})
	}
}

// TestKeyExpiresWhileEntraDown takes Entra ID down for good while the
// handler runs: negotiate keeps signing with the temporary key while it is
// valid, fails clearly once the key is past use (85 of its 90 minutes),
// and recovers by itself once Entra ID is back.
func TestKeyExpiresWhileEntraDown(t *testing.T) {
	t.Parallel()
	s := newStack(t, config{})
	s.connect(t)
	s.emu.Fail(emulator.IdentityToken, 1<<30, 503, 0)

	// The hourly refresh is due and fails: the key still signs.
	s.emu.Advance(61 * time.Minute)
	s.connect(t)
	deadline := time.Now().Add(5 * time.Second)
	for s.logs.find("SignalR endpoint failing", `"kind":"credential"`) == "" {
		if time.Now().After(deadline) {
			t.Fatalf("the failed refresh was not logged; log:\n%s", s.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	// 86 minutes: the key is past use and no new one comes.
	s.emu.Advance(25 * time.Minute)
	r, _ := s.negotiate(t)
	if r.status != http.StatusBadGateway {
		t.Fatalf("negotiate with the key expired and Entra down: %d %s, want 502", r.status, r.body)
	}
	s.wantLog(t, "negotiate failed", r.CorrelationID, "could not get a token for scope")
	if r := s.send(t, broadcasts("lost")); r.status != http.StatusBadGateway || len(r.Failed) != 1 {
		t.Errorf("send with Entra down: %d %s, want 502 with item 0 failed", r.status, r.body)
	}

	// Entra ID is back.
	s.emu.Inject(emulator.IdentityToken, emulator.Fault{})
	s.recover(t)
	c := s.connect(t)
	s.wantLog(t, "SignalR endpoint recovered", `"kind":"credential"`)
	if r := s.send(t, broadcasts("a")); r.status != http.StatusAccepted {
		t.Fatalf("send after Entra returned: %d %s", r.status, r.body)
	}
	s.wantDelivered(t, c, "a")
}

// TestRevokedTokenWithRealCredential revokes the token a real
// ManagedIdentityCredential holds in its cache (azidentity, through MSAL,
// keeps it in-process): the handler's renewal must get a new token from
// the identity endpoint, not the cached one again, so that the first send
// after the revocation goes through.
func TestRevokedTokenWithRealCredential(t *testing.T) {
	t.Parallel()
	s := newStack(t, config{}) // a real ManagedIdentityCredential
	c := s.connect(t)
	before := s.emu.Counts().IdentityTokens
	s.emu.RevokeTokens()
	start := time.Now()
	var failed int
	for {
		r := s.send(t, broadcasts("after"))
		if r.status == http.StatusAccepted {
			break
		}
		failed++
		if time.Since(start) > time.Minute {
			t.Fatalf("no send went through within a minute of the revocation: %d %s", r.status, r.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("recovered %s after the revocation, after %d failed sends", time.Since(start).Round(time.Millisecond), failed)
	if failed > 0 {
		t.Errorf("%d sends failed after the revocation: the renewal got the cached token back", failed)
	}
	if n := s.emu.Counts().IdentityTokens - before; n != 1 {
		t.Errorf("%d identity endpoint calls after the revocation, want 1", n)
	}
	c.received(t, "after")
	s.connect(t)
}
