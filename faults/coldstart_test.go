package faults

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/signalr-entra/handler/bindings"
	"github.com/signalr-entra/handler/emulator"
	"github.com/signalr-entra/handler/internal/signalrtest"
	"github.com/signalr-entra/handler/settings"
)

// TestColdStartConcurrentNegotiations sends 1,000 negotiations at once to a
// handler that has no key yet, over two endpoints (two SignalR resources,
// each with its own identity): all succeed, and each endpoint asked Entra ID
// for one token and the auth API for one key.
func TestColdStartConcurrentNegotiations(t *testing.T) {
	const callers = 1000
	var second *emulator.Server
	s := newStack(t, config{
		endpoints: func(s *stack) []settings.Endpoint {
			var err error
			second, err = emulator.NewServer(nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(second.Close)
			p, err := second.AddUserIdentity(emulator.UserIdentity{Roles: []emulator.Role{emulator.AppServer}})
			if err != nil {
				t.Fatal(err)
			}
			other := settings.Endpoint{
				Name:       "second",
				Setting:    "Azure__SignalR__Endpoints__second",
				ServiceURI: mustURL(t, second.URL),
				Type:       settings.Primary,
				Credential: managedIdentity(t, second, p.ClientID),
				Auth:       settings.Auth{Kind: "ManagedIdentityCredential", UserAssigned: true, ClientID: p.ClientID},
			}
			return []settings.Endpoint{s.entraEndpoint(t, emulator.AppServer), other}
		},
		// Slow tokens keep the first fetch running while the callers come.
		setup: func(s *stack) {
			s.emu.Delay(emulator.IdentityToken, 300*time.Millisecond)
			second.Delay(emulator.IdentityToken, 300*time.Millisecond)
		},
		bindings: bindings.Options{KeyWait: 10 * time.Second, Negotiate: bindings.NegotiateLocal},
	})

	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = callers
	defer transport.CloseIdleConnections()
	caller := &http.Client{Transport: transport, Timeout: 20 * time.Second}
	type reply struct {
		status int
		info   bindings.ConnectionInfo
		err    error
	}
	replies := make([]reply, callers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range replies {
		wg.Go(func() {
			<-start
			resp, err := caller.Post(s.url+"/api/negotiate?hub="+hub, "", nil)
			if err != nil {
				replies[i].err = err
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			replies[i] = reply{status: resp.StatusCode, err: err}
			if err == nil && resp.StatusCode == http.StatusOK {
				replies[i].err = json.Unmarshal(b, &replies[i].info)
			}
		})
	}
	close(start)
	wg.Wait()

	// One token per endpoint is enough to show the service accepts them.
	byURL := map[string]bindings.ConnectionInfo{}
	for i, r := range replies {
		if r.err != nil || r.status != http.StatusOK || r.info.AccessToken == "" {
			t.Fatalf("negotiation %d: status %d, %v", i, r.status, r.err)
		}
		s.secrets.add("a client access token", r.info.AccessToken)
		byURL[r.info.URL] = r.info
	}
	if len(byURL) != 2 {
		t.Errorf("negotiations went to %d endpoints, want both", len(byURL))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, info := range byURL {
		if _, err := signalrtest.Redirect(ctx, info.URL, info.AccessToken); err != nil {
			t.Fatal(err)
		}
	}
	for name, emu := range map[string]*emulator.Server{"first": s.emu, "second": second} {
		if c := emu.Counts(); c.IdentityTokens != 1 || c.AccessKeys != 1 {
			t.Errorf("%s endpoint: %d Entra token requests and %d auth API calls, want 1 and 1", name, c.IdentityTokens, c.AccessKeys)
		}
	}
}
