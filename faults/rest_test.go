package faults

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/signalr-entra/handler/emulator"
)

// TestSendFaults breaks REST sends of a batch of broadcasts and checks what
// the caller is told, how often the service was called, and that exactly
// the messages reported accepted reached the client, once each.
func TestSendFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		fault         emulator.Fault
		batch         []string
		wantStatus    int
		wantAccepted  []int
		wantFailed    []int
		wantState     string   // of the failed item
		wantCalls     int      // sends the service saw
		wantDelivered []string // before the closing message
		wantLog       string   // in the log line of the failed item
		// The send waits at least this long: a Retry-After longer than
		// the first back-off (0.8s) shows that it was honoured.
		minTook time.Duration
	}{
		{
			name:  "429 of the service with Retry-After is retried after it",
			fault: emulator.Fault{Times: 1, Status: 429, RetryAfter: 2 * time.Second},
			batch: []string{"a"}, wantStatus: 202, wantAccepted: []int{0},
			wantCalls: 2, wantDelivered: []string{"a"}, minTook: 2 * time.Second,
		},
		{
			name:  "429 of the service on every try is reported as busy",
			fault: emulator.Fault{Times: 4, Status: 429, RetryAfter: time.Second},
			batch: []string{"a", "b"}, wantStatus: 503, wantAccepted: []int{1}, wantFailed: []int{0}, wantState: "refused",
			wantCalls: 5, wantDelivered: []string{"b"}, wantLog: "the service throttles this resource",
		},
		{
			name:  "429 without the service's code is not retried: a gateway may answer after the service took it",
			fault: emulator.Fault{Times: 1, Status: 429, Body: "Too Many Requests"},
			batch: []string{"a", "b"}, wantStatus: 503, wantAccepted: []int{1}, wantFailed: []int{0}, wantState: "unknown",
			wantCalls: 2, wantDelivered: []string{"b"}, wantLog: "without the service's error code",
		},
		{
			name:  "503 is not retried: the message may have gone out",
			fault: emulator.Fault{Times: 1, Status: 503},
			batch: []string{"a", "b"}, wantStatus: 503, wantAccepted: []int{1}, wantFailed: []int{0}, wantState: "unknown",
			wantCalls: 2, wantDelivered: []string{"b"}, wantLog: "the service may have taken the request",
		},
		{
			name: "500 is not retried: the message may have gone out",
			// The first of three fails; the caller learns which went through.
			fault: emulator.Fault{Times: 1, Status: 500},
			batch: []string{"a", "b", "c"}, wantStatus: 502, wantAccepted: []int{1, 2}, wantFailed: []int{0}, wantState: "unknown",
			wantCalls: 3, wantDelivered: []string{"b", "c"}, wantLog: "the service failed; it may have taken the request",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStack(t, config{})
			c := s.connect(t)
			s.emu.Inject(emulator.RESTSend, tt.fault)
			start := time.Now()
			r := s.send(t, broadcasts(tt.batch...))
			if took := time.Since(start); took < tt.minTook {
				t.Errorf("the send took %s, less than the Retry-After of %s", took, tt.minTook)
			}
			if r.status != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", r.status, tt.wantStatus, r.body)
			}
			var failed []int
			for _, f := range r.Failed {
				failed = append(failed, f.Index)
			}
			if d := cmp.Diff(tt.wantAccepted, r.Accepted); d != "" {
				t.Errorf("accepted (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.wantFailed, failed); d != "" {
				t.Errorf("failed (-want +got):\n%s", d)
			}
			for _, f := range r.Failed {
				if f.State != tt.wantState {
					t.Errorf("item %d: state %q, want %q", f.Index, f.State, tt.wantState)
				}
			}
			if got := s.restCalls("SignalR_Broadcast"); got != tt.wantCalls {
				t.Errorf("the service saw %d sends, want %d", got, tt.wantCalls)
			}
			if tt.wantLog != "" {
				s.wantLog(t, "messages item failed", r.CorrelationID, `"index":0`, tt.wantLog)
			}
			s.wantDelivered(t, c, tt.wantDelivered...)
		})
	}
}

// TestSend500PayloadMode checks the partial failure in payload mode, where
// the host posts an invocation and relays the http output.
func TestSend500PayloadMode(t *testing.T) {
	t.Parallel()
	s := newStack(t, config{})
	c := s.connect(t)
	s.emu.Fail(emulator.RESTSend, 1, 500, 0)
	body, _ := json.Marshal(broadcasts("a", "b"))
	inv := `{"Data":{"req":{"Url":"http://localhost/api/messages","Method":"POST","Query":{"hub":"` + hub + `"},"Headers":{"Content-Type":["application/json"]},"Body":` + string(body) + `}},"Metadata":{}}`
	r := s.call(t, context.Background(), http.MethodPost, "/messages", inv)
	var out struct {
		Outputs struct {
			Res struct {
				StatusCode int    `json:"statusCode"`
				Body       result `json:"body"`
			} `json:"res"`
		}
		Logs []string
	}
	if err := json.Unmarshal([]byte(r.body), &out); err != nil || r.status != http.StatusOK {
		t.Fatalf("payload reply %d %q: %v", r.status, r.body, err)
	}
	res := out.Outputs.Res
	if res.StatusCode != 502 || len(res.Body.Failed) != 1 || res.Body.Failed[0].Index != 0 || !cmp.Equal(res.Body.Accepted, []int{1}) {
		t.Errorf("http output %+v, want 502 with item 0 failed and 1 accepted", res)
	}
	// What failed is an error: it goes to the handler's log, where the host
	// keeps its level, and not to Logs, which the host logs as information.
	if s.logs.find(`"level":"ERROR"`, "the service failed") == "" {
		t.Errorf("the handler's log does not say what failed:\n%s", s.logs.String())
	}
	if strings.Contains(strings.Join(out.Logs, "\n"), "the service failed") {
		t.Errorf("the invocation's Logs repeat the error: %q", out.Logs)
	}
	if got := s.restCalls("SignalR_Broadcast"); got != 2 {
		t.Errorf("the service saw %d sends, want 2 (no retry of the 500)", got)
	}
	s.wantDelivered(t, c, "b")
}

// withDeadline gives every request a deadline, as the Functions host's own
// timeout of a forwarded request does.
func withDeadline(d time.Duration) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			h.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// TestSlowServiceBoundedByDeadline checks that a send to a service slower
// than the request's deadline answers 504 when the deadline passes, not
// when the service finally answers.
func TestSlowServiceBoundedByDeadline(t *testing.T) {
	t.Parallel()
	// The stand-in does not notice that the handler hung up until it has
	// slept this long, which bounds the test's run time. The deadline
	// applies to every request, the first negotiate and the send after
	// too: it leaves them time on a loaded machine.
	const slow = 4 * time.Second
	s := newStack(t, config{wrap: withDeadline(time.Second)})
	c := s.connect(t)
	s.emu.Delay(emulator.RESTSend, slow)
	start := time.Now()
	r := s.send(t, broadcasts("slow"))
	took := time.Since(start)
	s.emu.Delay(emulator.RESTSend, 0)
	if r.status != http.StatusGatewayTimeout || !strings.Contains(r.Error, "did not accept") || len(r.Failed) != 1 {
		t.Errorf("status %d body %s, want 504 with item 0 failed", r.status, r.body)
	}
	if took >= slow {
		t.Errorf("the reply took %s: the handler waited for the service instead of the deadline", took)
	}
	s.wantLog(t, "messages item failed", r.CorrelationID, `"status":504`, "deadline exceeded")
	// The service stays usable. Whether "slow" arrived is unknown to the
	// caller, who was told so (504): only what follows is checked.
	if r := s.send(t, broadcasts("after")); r.status != http.StatusAccepted {
		t.Fatalf("send after the slow one: %d %s", r.status, r.body)
	}
	got := c.received(t, "after")
	if got[0] != "slow" && got[0] != "after" || strings.Count(strings.Join(got, ","), "after") != 1 {
		t.Errorf("delivered %q", got)
	}
}

// TestSlowServiceCallerGivesUp checks that a caller who hangs up ends the
// handler's work on the request: it does not wait for a slow service.
func TestSlowServiceCallerGivesUp(t *testing.T) {
	t.Parallel()
	s := newStack(t, config{})
	s.emu.Delay(emulator.RESTSend, 2*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.url+"/api/messages?hub="+hub, strings.NewReader(broadcasts("a")))
	if resp, err := s.caller.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the caller got %d from a service delayed by 2s", resp.StatusCode)
	}
	// The handler notices at once and ends the invocation.
	deadline := time.Now().Add(5 * time.Second)
	for s.logs.find("invocation done", `"status":503`) == "" {
		if time.Now().After(deadline) {
			t.Fatalf("the handler still waits for the service after the caller left; log:\n%s", s.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.emu.Delay(emulator.RESTSend, 0)
}

// TestDroppedClientConnections checks that clients cut off by the network
// notice, and that clients connecting again get the messages sent after.
func TestDroppedClientConnections(t *testing.T) {
	t.Parallel()
	s := newStack(t, config{})
	c := s.connect(t)
	s.emu.DropConnections()
	select {
	case _, ok := <-c.targets:
		if ok {
			t.Fatal("a message arrived on a dropped connection")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the client did not notice that its connection was dropped")
	}
	c2 := s.connect(t)
	if r := s.send(t, broadcasts("a")); r.status != http.StatusAccepted {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	s.wantDelivered(t, c2, "a")
	if n := s.emu.Counts().Connections; n != 2 {
		t.Errorf("connections %d, want 2", n)
	}
}
