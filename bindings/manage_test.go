package bindings

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/signalr-entra/handler/emulator"
	"github.com/signalr-entra/handler/internal/signalrtest"
)

// connectAnswering connects a client as the user that answers "add" with
// the sum of its arguments and fails "fail".
func connectAnswering(t *testing.T, c *Client, hub, user string) *signalrtest.Answering {
	t.Helper()
	info, err := c.ConnectionInfo(ctx(), hub, user, nil)
	if err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, err := signalrtest.Answer(dctx, info.URL, info.AccessToken, map[string]signalrtest.Handler{
		"add": func(args []json.RawMessage) (any, error) {
			var x, y float64
			if len(args) != 2 || json.Unmarshal(args[0], &x) != nil || json.Unmarshal(args[1], &y) != nil {
				return nil, errors.New("add takes two numbers")
			}
			return map[string]float64{"sum": x + y}, nil
		},
		"fail": func([]json.RawMessage) (any, error) { return nil, errors.New("Error: not today") },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

func newEmulatorClient(t *testing.T) (*Client, *emulator.Server) {
	t.Helper()
	srv, err := emulator.NewServer(&emulator.Options{SystemIdentityRoles: []emulator.Role{emulator.ServiceOwner}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	c, _ := newTestClient(t, []EndpointConfig{{
		Label: "AzureSignalRConnectionString", ServiceURI: mustURL(t, srv.URL),
		Credential: srv.Credential(srv.SystemIdentity().ObjectID), Identity: "system-assigned managed identity",
	}}, Options{})
	return c, srv
}

// ids returns the connection ids of the hub's users, in the stand-in's order.
func ids(srv *emulator.Server, hub string, users ...string) []string {
	var out []string
	for _, c := range srv.Connections(hub) {
		if slices.Contains(users, c.UserID) {
			out = append(out, c.ID)
		}
	}
	return out
}

func TestInvokeAgainstEmulator(t *testing.T) {
	c, srv := newEmulatorClient(t)
	connectAnswering(t, c, "chat", "ada")
	id := ids(srv, "chat", "ada")[0]

	got, err := c.Invoke(ctx(), "Chat", id, Payload{Target: "add", Arguments: raw("2", "3")})
	if err != nil || string(got) != `{"sum":5}` {
		t.Fatalf("Invoke = %s, %v", got, err)
	}
	_, err = c.Invoke(ctx(), "chat", id, Payload{Target: "fail"})
	var be *Error
	if !errors.As(err, &be) || be.Status != http.StatusBadRequest || !strings.Contains(be.Message, "not today") {
		t.Errorf("failed invocation: %v", err)
	}
	if _, err := c.Invoke(ctx(), "chat", "gone", Payload{Target: "add"}); !IsNotFound(err) {
		t.Errorf("invoking an unknown connection: %v, want not found", err)
	}
	if _, err := c.Invoke(ctx(), "chat", id, Payload{}); err == nil || !strings.Contains(err.Error(), "target is empty") {
		t.Errorf("no target: %v", err)
	}
	// An invocation is never repeated: the client would run it twice.
	srv.Fail(emulator.RESTOther, 1, http.StatusInternalServerError, 0)
	if _, err := c.Invoke(ctx(), "chat", id, Payload{Target: "add", Arguments: raw("1", "1")}); err == nil {
		t.Error("a 500 was retried")
	}
	if n := srv.Counts().REST["HubProxyV20241201_InvokeClientConnection"]; n != 4 {
		t.Errorf("%d invoke requests, want 4", n)
	}
}

func TestManageAgainstEmulator(t *testing.T) {
	c, srv := newEmulatorClient(t)
	a1, a2, b := connectAnswering(t, c, "chat", "ada"), connectAnswering(t, c, "chat", "ada"), connectAnswering(t, c, "chat", "bob")
	ada, bob := ids(srv, "chat", "ada"), ids(srv, "chat", "bob")[0]

	// ttl 0: the user's connections of the moment join, a later one not.
	if err := c.Endpoints()[0].AddUserToGroupWithTTL(ctx(), "chat", "g", "ada", 0); err != nil {
		t.Fatal(err)
	}
	late := connectAnswering(t, c, "chat", "ada")
	if err := c.Apply(ctx(), "chat", GroupAction{Action: ActionAdd, GroupName: "g", ConnectionID: bob}); err != nil {
		t.Fatal(err)
	}
	members, err := c.ListConnectionsInGroup(ctx(), "chat", "g", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []GroupMember{{ada[0], "ada"}, {ada[1], "ada"}, {bob, "bob"}}
	less := func(x, y GroupMember) bool { return x.ConnectionID < y.ConnectionID }
	if d := cmp.Diff(want, members, cmpSorted(less)); d != "" {
		t.Errorf("members (-want +got):\n%s", d)
	}
	pages := 0
	pager := c.Endpoints()[0].NewListConnectionsInGroupPager("chat", "g", &ListConnectionsOptions{MaxPageSize: 1})
	for pager.More() {
		p, err := pager.NextPage(ctx())
		if err != nil || len(p.Value) != 1 {
			t.Fatalf("page %d: %+v, %v", pages, p, err)
		}
		pages++
	}
	if pages != 3 {
		t.Errorf("%d pages of one, want 3", pages)
	}
	if top, err := c.ListConnectionsInGroup(ctx(), "chat", "g", 2, 0); err != nil || len(top) != 2 {
		t.Errorf("top 2: %v, %v", top, err)
	}
	if _, err := c.ListConnectionsInGroup(ctx(), "chat", "g", 0, 2); err == nil || !strings.Contains(err.Error(), "set top") {
		t.Errorf("over the limit: %v", err)
	}

	for _, tt := range []struct {
		q    Existence
		want bool
	}{
		{Existence{ConnectionID: bob}, true}, {Existence{ConnectionID: "gone"}, false},
		{Existence{UserID: "ada"}, true}, {Existence{UserID: "cy"}, false},
		{Existence{GroupName: "g"}, true}, {Existence{GroupName: "h"}, false},
		{Existence{UserID: "bob", GroupName: "g"}, true}, {Existence{UserID: "cy", GroupName: "g"}, false},
	} {
		if got, err := c.Exists(ctx(), "chat", tt.q); err != nil || got != tt.want {
			t.Errorf("Exists(%+v) = %v, %v", tt.q, got, err)
		}
	}

	if _, err := c.CloseConnections(ctx(), "chat", "ada", "", "maintenance", []string{ada[1]}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CloseConnection(ctx(), "chat", bob, "bye"); err != nil {
		t.Fatal(err)
	}
	// Gone already: 404 Warning.Connection.NotExisted, no error.
	if _, err := c.CloseConnection(ctx(), "chat", "gone", ""); err != nil {
		t.Errorf("closing an unknown connection: %v", err)
	}
	waitFor(t, func() bool { _, ok := b.Closed(); return ok })
	if r, _ := b.Closed(); r != "bye" {
		t.Errorf("bob's close reason %q", r)
	}
	closedAda := func() (n int) {
		for _, a := range []*signalrtest.Answering{a1, a2, late} {
			if r, ok := a.Closed(); ok && r == "maintenance" {
				n++
			}
		}
		return n
	}
	waitFor(t, func() bool { return closedAda() >= 2 })
	if n := closedAda(); n != 2 {
		t.Errorf("%d of ada's three connections closed, want 2: one is excluded", n)
	}
	if _, err := c.CloseConnections(ctx(), "chat", "", "", "", nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(srv.Connections("chat")) == 0 })
}

func cmpSorted(less func(x, y GroupMember) bool) cmp.Option {
	return cmp.Transformer("sort", func(in []GroupMember) []GroupMember {
		out := slices.Clone(in)
		slices.SortFunc(out, func(x, y GroupMember) int {
			if less(x, y) {
				return -1
			}
			return 1
		})
		return out
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}

// TestListFollowsOnlyTheQueryOfNextLink: a nextLink naming another host or
// path still leads to this endpoint and the list's own path, so the token
// goes nowhere else.
func TestListFollowsOnlyTheQueryOfNextLink(t *testing.T) {
	var mu sync.Mutex
	var seen []*url.URL
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL)
		n := len(seen)
		mu.Unlock()
		if n == 1 {
			io.WriteString(w, `{"value":[{"connectionId":"c1"}],"nextLink":"http://elsewhere.example/api/hubs/chat/users/u?continuationToken=t1"}`)
			return
		}
		io.WriteString(w, `{"value":[{"connectionId":"c2","userId":"u"}]}`)
	}))
	t.Cleanup(srv.Close)
	ep := EndpointConfig{Label: "AzureSignalRConnectionString", ServiceURI: mustURL(t, srv.URL), AccessKey: "k"}
	c, _ := newTestClient(t, []EndpointConfig{ep}, Options{})
	got, err := c.ListConnectionsInGroup(ctx(), "chat", "g", 0, 0)
	if err != nil || len(got) != 2 {
		t.Fatalf("list = %v, %v", got, err)
	}
	last := seen[len(seen)-1]
	if last.Path != "/api/hubs/chat/groups/g/connections" || last.Query().Get("continuationToken") != "t1" || last.Query().Get("api-version") != "2024-12-01" {
		t.Errorf("second page request %v", last)
	}
}

// TestInvokeClientErrorBounded: a client's error reaches the caller cut to
// a bound, whatever the client wrote.
func TestInvokeClientErrorBounded(t *testing.T) {
	long := strings.Repeat("é", 100_000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-ms-error-code", "Error.Invocation.Failed")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"message": long})
	}))
	t.Cleanup(srv.Close)
	c, _ := newTestClient(t, []EndpointConfig{{ServiceURI: mustURL(t, srv.URL), AccessKey: "k"}}, Options{})
	_, err := c.Invoke(ctx(), "chat", "c1", Payload{Target: "add"})
	var be *Error
	if !errors.As(err, &be) || be.Status != http.StatusBadRequest {
		t.Fatalf("Invoke: %v", err)
	}
	if len(be.Message) > maxClientMessage+len("…") || !strings.HasPrefix(long, strings.TrimSuffix(be.Message, "…")) {
		t.Errorf("message of %d bytes, want the client's cut to %d", len(be.Message), maxClientMessage)
	}
}

func TestGroupActionTTL(t *testing.T) {
	f := newFakeService(t)
	c, _ := newTestClient(t, []EndpointConfig{entraEndpoint(t, f, &fakeCred{clock: newClock()})}, Options{})
	actions, err := DecodeGroupActions([]byte(`[{"action":"add","userId":"u","groupName":"g","ttl":0},{"action":"add","userId":"u","groupName":"h","ttl":90},{"action":"add","userId":"u","groupName":"i"}]`), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range actions {
		if err := c.Apply(ctx(), "chat", a); err != nil {
			t.Fatal(err)
		}
	}
	var ttls []string
	for _, r := range f.requests() {
		if r.Method == http.MethodPut {
			ttls = append(ttls, r.Path+"?ttl="+r.Query.Get("ttl"))
		}
	}
	want := []string{"/api/hubs/chat/users/u/groups/g?ttl=0", "/api/hubs/chat/users/u/groups/h?ttl=90", "/api/hubs/chat/users/u/groups/i?ttl="}
	if d := cmp.Diff(want, ttls); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}
	// A ttl past the REST API's int32 seconds is refused, not wrapped
	// around into a negative number of seconds.
	e := c.Endpoints()[0]
	for _, ttl := range []time.Duration{math.MaxInt64, (math.MaxInt32 + 1) * time.Second} {
		if err := e.AddUserToGroupWithTTL(ctx(), "chat", "g", "u", ttl); !errors.As(err, new(*InputError)) {
			t.Errorf("ttl %d: %v, want an *InputError", ttl, err)
		}
		if err := e.AddUserToGroup(ctx(), "chat", "g", "u", ttl); !errors.As(err, new(*InputError)) {
			t.Errorf("AddUserToGroup ttl %d: %v, want an *InputError", ttl, err)
		}
	}
	if n := len(f.requests()); n != 3 {
		t.Errorf("%d requests, want the 3 before", n)
	}
	for _, in := range []string{
		`{"action":"add","connectionId":"c","groupName":"g","ttl":5}`,
		`{"action":"remove","userId":"u","groupName":"g","ttl":5}`,
		`{"action":"add","userId":"u","groupName":"g","ttl":-1}`,
		`{"action":"add","userId":"u","groupName":"g","ttl":4294967296}`,
		`{"action":"add","userId":"u","groupName":"g","ttl":"5"}`,
	} {
		if _, err := DecodeGroupActions([]byte(in), 0); err == nil || !strings.Contains(err.Error(), "ttl") {
			t.Errorf("%s: %v, want an error naming ttl", in, err)
		}
	}
}

// TestInvokeRunsOnceOnEndpointsOfOneService configures one service twice,
// by two of its addresses (its host name and a custom domain, say): the
// client's handler must run once per Invoke, not once per endpoint that
// knows the connection. Asking every endpoint at once ran it twice.
func TestInvokeRunsOnceOnEndpointsOfOneService(t *testing.T) {
	srv, err := emulator.NewServer(&emulator.Options{SystemIdentityRoles: []emulator.Role{emulator.ServiceOwner}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	other := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	cred := srv.Credential(srv.SystemIdentity().ObjectID)
	c, _ := newTestClient(t, []EndpointConfig{
		{Label: "Azure__SignalR__Endpoints__a", Name: "a", ServiceURI: mustURL(t, srv.URL), Credential: cred, Identity: "system-assigned managed identity"},
		{Label: "Azure__SignalR__Endpoints__b", Name: "b", ServiceURI: mustURL(t, other), Credential: cred, Identity: "system-assigned managed identity"},
	}, Options{})
	info, err := c.ConnectionInfo(ctx(), "chat", "ada", nil)
	if err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int32
	a, err := signalrtest.Answer(ctx(), info.URL, info.AccessToken, map[string]signalrtest.Handler{
		"count": func([]json.RawMessage) (any, error) { return runs.Add(1), nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	id := ids(srv, "chat", "ada")[0]
	got, err := c.Invoke(ctx(), "chat", id, Payload{Target: "count"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if n := runs.Load(); n != 1 || string(got) != "1" {
		t.Errorf("the client's handler ran %d times (result %s), want once", n, got)
	}
}
