package faults

import (
	"net/http"
	"testing"
	"time"

	"github.com/signalr-entra/handler/bindings"
	"github.com/signalr-entra/handler/emulator"
)

// TestAuthAPIFaults breaks the auth API, which hands out the temporary key
// that signs client tokens, and checks the caller's status, the log's
// advice and that negotiate recovers once the fault is gone.
func TestAuthAPIFaults(t *testing.T) {
	t.Parallel()
	leaked := randomSecret()
	tests := []struct {
		name       string
		fault      emulator.Fault
		delay      time.Duration // of the auth API's replies
		keyWait    time.Duration // SIGNALR_KEY_WAIT; 5s when zero
		wantStatus int
		wantLog    string // in the log line of the failed negotiate
		wantCalls  int    // auth API calls for the first negotiate
		// The first negotiate waits at least this long: a Retry-After
		// longer than the first back-off (0.8s) shows that it was honoured.
		minTook time.Duration
	}{
		{
			name:       "401 once is answered with a new token",
			fault:      emulator.Fault{Times: 1, Status: 401},
			wantStatus: 200, wantCalls: 2,
		},
		{
			name:       "401 again with the new token blames no tenant the reply does not name",
			fault:      emulator.Fault{Times: 2, Status: 401},
			wantStatus: 502, wantCalls: 2,
			wantLog: "its reply does not say why (a revoked, expired or not yet valid token, or one from another tenant or cloud, is refused alike); the credential is configured in AzureSignalRConnectionString. A new token from the credential was refused too.",
		},
		{
			name:       "403 names the missing role",
			fault:      emulator.Fault{Times: 1, Status: 403},
			wantStatus: 502, wantCalls: 1,
			wantLog: "lacks the SignalR App Server or SignalR Service Owner role",
		},
		{
			name:  "404 names the endpoint settings",
			fault: emulator.Fault{Times: 1, Status: 404},
			// Not the caller's 404: the app's endpoint setting is wrong.
			wantStatus: 502, wantCalls: 1,
			wantLog: "check the service URI and server endpoint of AzureSignalRConnectionString",
		},
		{
			name:       "429 with Retry-After is retried after it",
			fault:      emulator.Fault{Times: 1, Status: 429, RetryAfter: 2 * time.Second},
			wantStatus: 200, wantCalls: 2, minTook: 2 * time.Second,
		},
		{
			name:       "429 on every try is reported as busy",
			fault:      emulator.Fault{Times: 4, Status: 429, RetryAfter: time.Second},
			wantStatus: 503, wantCalls: 4,
			wantLog: "the service throttles this resource",
		},
		{
			name:       "500 once is retried",
			fault:      emulator.Fault{Times: 1, Status: 500},
			wantStatus: 200, wantCalls: 2,
		},
		{
			name:       "500 on every try",
			fault:      emulator.Fault{Times: 4, Status: 500},
			wantStatus: 502, wantCalls: 4,
			wantLog: "the service failed",
		},
		{
			// The token and the auth API call must start within
			// KEY_WAIT, even on a loaded machine, for the call to be
			// counted; the delay outlasts it well.
			name:  "no answer within SIGNALR_KEY_WAIT",
			delay: 3 * time.Second, keyWait: time.Second,
			wantStatus: 502, wantCalls: 1,
			wantLog: "no answer within 1s (SIGNALR_KEY_WAIT)",
		},
		{
			name:       "malformed JSON",
			fault:      emulator.Fault{Times: 1, Status: 200, Body: "<html>gateway</html>"},
			wantStatus: 502, wantCalls: 1,
			wantLog: "the reply is not JSON with KeyId and AccessKey: check that the service URI of AzureSignalRConnectionString names a SignalR Service",
		},
		{
			name:       "missing KeyId",
			fault:      emulator.Fault{Times: 1, Status: 200, Body: `{"AccessKey":"` + leaked + `"}`},
			wantStatus: 502, wantCalls: 1,
			wantLog: "the reply is not JSON with KeyId and AccessKey",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wait := tt.keyWait
			if wait == 0 {
				wait = 5 * time.Second
			}
			s := newStack(t, config{
				bindings: bindings.Options{KeyWait: wait, Negotiate: bindings.NegotiateLocal},
				setup: func(s *stack) {
					s.secrets.add("the AccessKey of a malformed reply", leaked)
					s.emu.Inject(emulator.AccessKey, tt.fault)
					s.emu.Delay(emulator.AccessKey, tt.delay)
				},
			})
			start := time.Now()
			r, _ := s.negotiate(t)
			if took := time.Since(start); took < tt.minTook {
				t.Errorf("negotiate took %s, less than the Retry-After of %s", took, tt.minTook)
			}
			s.emu.Delay(emulator.AccessKey, 0)
			if r.status != tt.wantStatus {
				t.Fatalf("negotiate status %d, want %d; body %s", r.status, tt.wantStatus, r.body)
			}
			if got := s.emu.Counts().AccessKeys; got != tt.wantCalls {
				t.Errorf("auth API calls %d, want %d", got, tt.wantCalls)
			}
			if r.status != http.StatusOK {
				if r.Error == "" || r.CorrelationID == "" {
					t.Errorf("the failure reply %s lacks a message or correlation id", r.body)
				}
				s.wantLog(t, "negotiate failed", r.CorrelationID, tt.wantLog)
			}
			s.recover(t)
			s.connect(t)
		})
	}
}

// recover moves the clock past the back-off of failed fetches and
// negotiates until it succeeds, as callers retrying would.
func (s *stack) recover(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.emu.Advance(10 * time.Second)
		r, _ := s.negotiate(t)
		if r.status == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("negotiate did not recover: %d %s; log:\n%s", r.status, r.body, s.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
