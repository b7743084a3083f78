package faults

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/signalr-entra/handler/emulator"
	"github.com/signalr-entra/handler/handler"
)

// TestHungServiceAnswersByDeadline checks that a caller whose messages
// meet a service that never answers gets a 504 by the request's one
// deadline, saying which items went through and which were never sent,
// rather than an empty reply after every item has waited in turn.
func TestHungServiceAnswersByDeadline(t *testing.T) {
	t.Parallel()
	const hang = 10 * time.Second
	// Time for the first item to reach the service on a loaded machine,
	// so that it, and it alone, times out there.
	s := newStack(t, config{handler: handler.Options{RequestTimeout: 3 * time.Second}})
	s.emu.Delay(emulator.RESTSend, hang)
	start := time.Now()
	r := s.send(t, broadcasts("a", "b", "c"))
	took := time.Since(start)
	s.emu.Delay(emulator.RESTSend, 0)
	t.Logf("three messages to a hung service: %d after %s", r.status, took.Round(time.Millisecond))
	if r.status != http.StatusGatewayTimeout || len(r.Accepted) != 0 || len(r.Failed) != 3 {
		t.Fatalf("status %d body %s, want 504 with items 0, 1 and 2 failed", r.status, r.body)
	}
	if took >= hang {
		t.Errorf("the reply took %s: the handler waited for the service, not its deadline", took)
	}
	// The three go to everyone, one after another: the first was sent
	// and timed out, the others never left.
	if !strings.Contains(r.Failed[0].Error, "did not answer in time") || !strings.Contains(r.Failed[2].Error, "not sent") {
		t.Errorf("failures %+v: want the first timed out and the last not sent", r.Failed)
	}
}

// TestItemCap checks that a request with more items than SIGNALR_MAX_ITEMS
// is refused with 413 naming it, before any is sent.
func TestItemCap(t *testing.T) {
	t.Parallel()
	s := newStack(t, config{handler: handler.Options{MaxItems: 10}})
	targets := make([]string, 11)
	for i := range targets {
		targets[i] = fmt.Sprint("m", i)
	}
	r := s.send(t, broadcasts(targets...))
	if r.status != http.StatusRequestEntityTooLarge || !strings.Contains(r.Error, "more than 10 items (SIGNALR_MAX_ITEMS)") {
		t.Errorf("status %d body %s, want 413 naming SIGNALR_MAX_ITEMS", r.status, r.body)
	}
	if n := s.restCalls("SignalR_Broadcast"); n != 0 {
		t.Errorf("%d sends went out of a refused request", n)
	}
	if r := s.send(t, broadcasts(targets[:10]...)); r.status != http.StatusAccepted {
		t.Errorf("10 items: %d %s", r.status, r.body)
	}
}

// TestEmptyObjectsRefusedAtFirst checks that an array of 900 KB of {} is
// refused for its first item.
func TestEmptyObjectsRefusedAtFirst(t *testing.T) {
	t.Parallel()
	s := newStack(t, config{})
	body := "[" + strings.Repeat("{},", 300_000) + "{}]"
	r := s.send(t, body)
	if r.status != http.StatusBadRequest || !strings.Contains(r.Error, "message 0: target is missing") {
		t.Errorf("status %d error %q, want 400 for message 0", r.status, r.Error)
	}
}

// TestSendsConcurrentInOrder checks that messages to distinct users of one
// request go out several at once, up to the bound, while messages that may
// reach the same client (here broadcasts) keep their order.
func TestSendsConcurrentInOrder(t *testing.T) {
	t.Parallel()
	s := newStack(t, config{})
	c := s.connect(t)
	s.emu.Delay(emulator.RESTSend, 50*time.Millisecond)
	var items []string
	var order []string
	for i := range 24 {
		items = append(items, fmt.Sprintf(`{"target":"u","userId":"user%d"}`, i))
	}
	for i := range 8 {
		order = append(order, fmt.Sprint("b", i))
		items = append(items, fmt.Sprintf(`{"target":"b%d"}`, i))
	}
	r := s.send(t, "["+strings.Join(items, ",")+"]")
	s.emu.Delay(emulator.RESTSend, 0)
	if r.status != http.StatusAccepted || len(r.Accepted) != len(items) {
		t.Fatalf("status %d body %s", r.status, r.body)
	}
	got := s.rec.maxSends()
	t.Logf("at most %d of %d sends in flight at once", got, len(items))
	if got < 2 || got > 8 {
		t.Errorf("%d sends in flight at once, want 2 to 8", got)
	}
	s.wantDelivered(t, c, order...)
}

// TestUnknownFieldsRefused checks that a misspelled address is refused
// with the field meant, and nothing is sent: accepted, it would widen who
// receives the message (user for userId sends to everyone) or which
// groups an action touches.
func TestUnknownFieldsRefused(t *testing.T) {
	t.Parallel()
	s := newStack(t, config{})
	c := s.connect(t)
	tests := []struct {
		path, body, field, meant string
	}{
		{"messages", `{"target":"x","user":"alice"}`, "user", "userId"},
		{"messages", `{"target":"x","group":"admins"}`, "group", "groupName"},
		{"messages", `[{"target":"ok","userId":"u"},{"target":"x","group_name":"admins"}]`, "group_name", "groupName"},
		{"messages", `{"target":"x","userIds":["alice"]}`, "userIds", "userId"},
		{"messages", `{"target":"x","connection":"c1"}`, "connection", "connectionId"},
		{"groups", `{"action":"removeAll","userId":"alice","group":"admins"}`, "group", "groupName"},
		{"groups", `{"action":"add","user":"alice","connectionId":"c1","groupName":"g"}`, "user", "userId"},
	}
	for _, tt := range tests {
		r := s.call(t, context.Background(), http.MethodPost, "/api/"+tt.path+"?hub="+hub, tt.body)
		want := fmt.Sprintf("unknown field %q: did you mean %q?", tt.field, tt.meant)
		if r.status != http.StatusBadRequest || !strings.Contains(r.Error, want) {
			t.Errorf("%s %s: %d %q, want 400 holding %q", tt.path, tt.body, r.status, r.Error, want)
		}
	}
	counts := s.emu.Counts().REST
	for op, n := range counts {
		if op != "HealthApi_GetServiceStatus" && n > 0 {
			t.Errorf("%d %s calls went out of refused requests", n, op)
		}
	}
	s.wantDelivered(t, c)
}

// TestInputLimits checks input the handler used to read as something
// else or pass on to fail late: each gets 400 (405 for methods) as JSON,
// naming the limit, and makes no request.
func TestInputLimits(t *testing.T) {
	t.Parallel()
	s := newStack(t, config{handler: handler.Options{UserIDHeader: "x-user", AppServiceAuthentication: true, ClaimTypes: []string{"role"}}})
	// 40 roles of 100 bytes make a token of over 4096 characters.
	var roles []string
	for i := range 40 {
		roles = append(roles, fmt.Sprintf(`{"typ":"role","val":"%03d%s"}`, i, strings.Repeat("r", 97)))
	}
	principal := base64.StdEncoding.EncodeToString([]byte(`{"auth_typ":"aad","claims":[` + strings.Join(roles, ",") + `]}`))
	tests := []struct {
		name, method, path, body string
		header                   http.Header
		wantStatus               int
		want                     string
	}{
		{"hub not percent-encoded", "POST", "/api/negotiate?hub=%zz", "", nil, 400, "the query string cannot be read"},
		{"hub twice", "POST", "/api/messages?hub=chat&hub=other", `{"target":"x"}`, nil, 400, "names hub 2 times"},
		{"user id over 1024 bytes", "POST", "/api/negotiate?hub=chat", "", http.Header{"X-User": {strings.Repeat("u", 1025)}}, 400, "over the limit of 1024 bytes"},
		{"user id not UTF-8", "POST", "/api/negotiate?hub=chat", "", http.Header{"X-User": {"al\xffce"}}, 400, "not UTF-8"},
		{"claims over the token limit", "POST", "/api/negotiate?hub=chat", "", http.Header{"X-Ms-Client-Principal": {principal}, "X-Ms-Client-Principal-Id": {"alice"}}, 400, "over the service's limit of 4096"},
		{"message user id not UTF-8", "POST", "/api/messages?hub=chat", "{\"target\":\"x\",\"userId\":\"al\xffce\"}", nil, 400, "not UTF-8"},
		{"message user id over 1024 bytes", "POST", "/api/messages?hub=chat", `{"target":"x","userId":"` + strings.Repeat("u", 1025) + `"}`, nil, 400, "over the limit of 1024 bytes"},
		{"TRACE /", "TRACE", "/", "", nil, 405, "use GET, HEAD"},
		{"POST /", "POST", "/", "", nil, 405, "use GET, HEAD"},
	}
	// Once the first key is in, nothing else needs the service.
	if r, _ := s.negotiate(t); r.status != http.StatusOK {
		t.Fatalf("negotiate: %d %s", r.status, r.body)
	}
	before := s.emu.Counts()
	for _, tt := range tests {
		r := s.callWith(t, context.Background(), tt.method, tt.path, tt.body, tt.header)
		if r.status != tt.wantStatus || !strings.Contains(r.Error, tt.want) || r.CorrelationID == "" {
			t.Errorf("%s: %d %s, want %d holding %q", tt.name, r.status, r.body, tt.wantStatus, tt.want)
		}
	}
	if got := cmp.Diff(before, s.emu.Counts()); got != "" {
		t.Errorf("requests went to the service (-want +got):\n%s", got)
	}
}
