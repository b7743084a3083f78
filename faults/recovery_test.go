package faults

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signalr-entra/handler/bindings"
	"github.com/signalr-entra/handler/emulator"
	"github.com/signalr-entra/handler/settings"
)

// TestRestartedServiceRecovers checks that after the service forgets the
// temporary keys and stops taking the Entra token (a restart), the next
// send gets a new token and key and goes through, and clients negotiating
// after it connect with tokens the service takes.
func TestRestartedServiceRecovers(t *testing.T) {
	t.Parallel()
	s := newStack(t, config{})
	c := s.connect(t)
	before := s.emu.Counts()
	s.emu.Restart()
	start := time.Now()
	r := s.send(t, broadcasts("after"))
	t.Logf("the first send after a restart: %d in %s", r.status, time.Since(start).Round(time.Millisecond))
	if r.status != http.StatusAccepted {
		t.Fatalf("send after the restart: %d %s", r.status, r.body)
	}
	s.wantLog(t, "refused the Microsoft Entra ID token (401)", "getting a new token and temporary key")
	c.received(t, "after")
	s.connect(t)
	after := s.emu.Counts()
	if n := after.AccessKeys - before.AccessKeys; n != 1 {
		t.Errorf("%d new temporary keys, want 1", n)
	}
}

// TestRevokedTokenRenewedOnce checks that many sends refused with the same
// token renew it once, and all go through.
func TestRevokedTokenRenewedOnce(t *testing.T) {
	t.Parallel()
	s := newStack(t, config{})
	s.negotiate(t)
	before := s.emu.Counts().IdentityTokens
	s.emu.RevokeTokens()
	var wg sync.WaitGroup
	statuses := make([]int, 20)
	for i := range statuses {
		wg.Go(func() { statuses[i] = s.send(t, broadcasts("x")).status })
	}
	wg.Wait()
	for i, st := range statuses {
		if st != http.StatusAccepted {
			t.Errorf("send %d: %d", i, st)
		}
	}
	if n := s.emu.Counts().IdentityTokens - before; n != 1 {
		t.Errorf("%d new Entra tokens for 20 refused sends, want 1", n)
	}
}

// TestRefusedTokenBacksOff checks that a service that keeps refusing the
// token is reported, and that the renewal backs off: the next request does
// not fetch yet another token.
func TestRefusedTokenBacksOff(t *testing.T) {
	t.Parallel()
	s := newStack(t, config{})
	s.negotiate(t)
	before := s.emu.Counts().IdentityTokens
	s.emu.Fail(emulator.RESTSend, 100, http.StatusUnauthorized, 0)
	for i := range 3 {
		if r := s.send(t, broadcasts("x")); r.status != http.StatusBadGateway {
			t.Errorf("send %d: %d %s, want 502", i, r.status, r.body)
		}
	}
	if n := s.emu.Counts().IdentityTokens - before; n != 1 {
		t.Errorf("%d new Entra tokens for 3 refused sends in a row, want 1", n)
	}
	if n := s.emu.Counts().REST["SignalR_Broadcast"]; n != 4 {
		t.Errorf("%d sends, want 4 (one retried with the new token)", n)
	}
}

// TestAccessKeyRefusals checks that a regenerated access key and disabled
// local authentication, both a 401, are told apart.
func TestAccessKeyRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault func(*emulator.Server)
		want  string
	}{
		{"key regenerated", func(e *emulator.Server) { e.SetAccessKey(randomSecret()) }, "the key is not one of the resource's current keys"},
		{"local auth disabled", func(e *emulator.Server) { e.SetLocalAuthDisabled(true) }, "local authentication is disabled on the resource"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStack(t, config{endpoints: func(s *stack) []settings.Endpoint { return []settings.Endpoint{s.accessKeyEndpoint(t)} }})
			if r := s.send(t, broadcasts("x")); r.status != http.StatusAccepted {
				t.Fatalf("send before: %d %s", r.status, r.body)
			}
			tt.fault(s.emu)
			r := s.send(t, broadcasts("x"))
			if r.status != http.StatusBadGateway {
				t.Errorf("send: %d %s, want 502", r.status, r.body)
			}
			s.wantLog(t, "messages item failed", r.CorrelationID, tt.want)
		})
	}
}

// schedulingSlack is how much later than SIGNALR_KEY_WAIT a negotiate may
// answer on a loaded machine. It stays well below every other bound the
// answer could come from instead (the 10 s fetch timeout, the caller's
// 20 s, the hour-long hang), so the tests still tell KEY_WAIT did it.
const schedulingSlack = 3 * time.Second

// TestHungFetchRecovers hangs Entra ID or the auth API from the start:
// negotiate answers within SIGNALR_KEY_WAIT while it hangs, and works again
// soon after the hang ends, since each call has its own short bound.
func TestHungFetchRecovers(t *testing.T) {
	t.Parallel()
	for _, kind := range []emulator.Kind{emulator.IdentityToken, emulator.AccessKey} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			const keyWait = time.Second
			s := newStack(t, config{
				bindings: bindings.Options{KeyWait: keyWait, FetchTimeout: 300 * time.Millisecond},
				setup:    func(s *stack) { s.emu.Delay(kind, time.Hour) },
			})
			for range 3 {
				start := time.Now()
				r, _ := s.negotiate(t)
				took := time.Since(start)
				if r.status == http.StatusOK || took > keyWait+schedulingSlack {
					t.Errorf("negotiate while %s hangs: %d after %s, want a failure within %s", kind, r.status, took, keyWait)
				}
			}
			s.emu.Delay(kind, 0)
			start := time.Now()
			for {
				if r, _ := s.negotiate(t); r.status == http.StatusOK {
					break
				}
				if time.Since(start) > 15*time.Second {
					t.Fatalf("negotiate did not recover within 15s after %s answered again", kind)
				}
				time.Sleep(50 * time.Millisecond)
			}
			t.Logf("negotiate recovered %s after %s answered again", time.Since(start).Round(time.Millisecond), kind)
		})
	}
}

// TestServiceSigningWithinKeyWait checks that negotiate answers within
// SIGNALR_KEY_WAIT when the service signs client tokens and hangs.
func TestServiceSigningWithinKeyWait(t *testing.T) {
	t.Parallel()
	const keyWait = time.Second
	s := newStack(t, config{bindings: bindings.Options{KeyWait: keyWait, Negotiate: bindings.NegotiateService}})
	s.emu.Delay(emulator.GenerateToken, time.Hour)
	start := time.Now()
	r, _ := s.negotiate(t)
	took := time.Since(start)
	s.emu.Delay(emulator.GenerateToken, 0)
	if r.status == http.StatusOK || took > keyWait+schedulingSlack {
		t.Errorf("negotiate: %d after %s, want a failure within %s", r.status, took, keyWait)
	}
	if r, _ := s.negotiate(t); r.status != http.StatusOK {
		t.Errorf("negotiate after the hang: %d %s", r.status, r.body)
	}
}

// TestHeaderLimitJSON checks that headers over the server's limit get the
// JSON error every other failure gets, not net/http's plain text.
func TestHeaderLimitJSON(t *testing.T) {
	t.Parallel()
	s := newStack(t, config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.handler.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	req, _ := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String()+"/api/negotiate", nil)
	req.Header.Set("X-Big", strings.Repeat("h", 1<<20+8192))
	resp, err := s.caller.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var e struct{ Error, CorrelationID string }
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") ||
		json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error, "request headers are larger than") || e.CorrelationID == "" {
		t.Errorf("reply %d %s %q, want 431 as JSON", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}

// TestRevokedWhileIdentityEndpointFails: the token is revoked while the
// managed identity endpoint fails (500 on every try of the credential).
// Twenty concurrent sends refused with the revoked token make one renewal,
// whose credential tries the endpoint its four times; each send is
// reported not sent (the service refused it, and no new token came), and
// none asks the endpoint again while the renewal backs off. Once the
// endpoint answers, sends get through after the back-off (about 3 s).
func TestRevokedWhileIdentityEndpointFails(t *testing.T) {
	t.Parallel()
	s := newStack(t, config{})
	if r := s.send(t, broadcasts("before")); r.status != http.StatusAccepted {
		t.Fatalf("send before the revocation: %d %s", r.status, r.body)
	}
	before := s.emu.Counts().IdentityTokens
	s.emu.Fail(emulator.IdentityToken, 4, 500, 0)
	s.emu.RevokeTokens()
	var wg sync.WaitGroup
	results := make([]result, 20)
	for i := range results {
		wg.Go(func() { results[i] = s.send(t, broadcasts("refused")) })
	}
	wg.Wait()
	for i, r := range results {
		if len(r.Failed) != 1 || r.Failed[0].State != "notSent" {
			t.Errorf("send %d: %d %s, want its item not sent", i, r.status, r.body)
		}
	}
	if n := s.emu.Counts().IdentityTokens - before; n != 4 {
		t.Errorf("%d identity endpoint requests for 20 refused sends, want the credential's 4 tries of one renewal", n)
	}
	start := time.Now()
	for {
		r := s.send(t, broadcasts("after"))
		if r.status == http.StatusAccepted {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("no send went through within 20 s of the endpoint's recovery: %d %s", r.status, r.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("through %s after the identity endpoint recovered; %d identity endpoint requests in all",
		time.Since(start).Round(time.Millisecond), s.emu.Counts().IdentityTokens-before)
}
