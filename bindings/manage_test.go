package bindings

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"

	"github.com/signalr-entra/handler/emulator"
	"github.com/signalr-entra/handler/internal/signalrtest"
	"github.com/signalr-entra/handler/settings"
)

// answeringClient is a client connected to the stand-in that answers
// invocations as a @microsoft/signalr client's handlers return: "add" sums
// its arguments, "fail" fails, anything else has no handler. It records
// the close message's error.
type answeringClient struct {
	id     string
	mu     sync.Mutex
	closed *string
}

func connectAnswering(t *testing.T, c *Client, hub, user string) *answeringClient {
	t.Helper()
	info, err := c.ConnectionInfo(ctx(), hub, user, nil)
	if err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, err := signalrtest.Dial(dctx, info.URL, info.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	a := &answeringClient{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, data, err := ws.Read(context.Background())
			if err != nil {
				return
			}
			for rec := range strings.SplitSeq(strings.TrimSuffix(string(data), "\x1e"), "\x1e") {
				var m struct {
					Type         int
					InvocationID string
					Target       string
					Arguments    []float64
					Error        *string
				}
				if json.Unmarshal([]byte(rec), &m) != nil {
					continue
				}
				switch {
				case m.Type == 7:
					a.mu.Lock()
					a.closed = m.Error
					if a.closed == nil {
						a.closed = new(string)
					}
					a.mu.Unlock()
				case m.Type == 1 && m.InvocationID != "":
					reply := map[string]any{"type": 3, "invocationId": m.InvocationID}
					switch m.Target {
					case "add":
						reply["result"] = map[string]any{"sum": m.Arguments[0] + m.Arguments[1]}
					case "fail":
						reply["error"] = "Error: not today"
					default:
						reply["error"] = "Client didn't provide a result."
					}
					b, _ := json.Marshal(reply)
					ws.Write(context.Background(), websocket.MessageText, append(b, 0x1e))
				}
			}
		}
	}()
	t.Cleanup(func() { ws.CloseNow(); <-done })
	return a
}

func (a *answeringClient) closeReason() (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed == nil {
		return "", false
	}
	return *a.closed, true
}

func newEmulatorClient(t *testing.T) (*Client, *emulator.Server) {
	t.Helper()
	srv, err := emulator.NewServer(&emulator.Options{SystemIdentityRoles: []emulator.Role{emulator.ServiceOwner}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	c, _ := newTestClient(t, []settings.Endpoint{{
		Setting: "AzureSignalRConnectionString", ServiceURI: mustURL(t, srv.URL),
		Credential: srv.Credential(srv.SystemIdentity().ObjectID), Auth: settings.Auth{Kind: "ManagedIdentityCredential"},
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
	waitFor(t, func() bool { _, ok := b.closeReason(); return ok })
	if r, _ := b.closeReason(); r != "bye" {
		t.Errorf("bob's close reason %q", r)
	}
	closedAda := 0
	for _, a := range []*answeringClient{a1, a2, late} {
		if r, ok := a.closeReason(); ok && r == "maintenance" {
			closedAda++
		}
	}
	if closedAda != 2 {
		t.Errorf("%d of ada's connections closed with the reason, want 2 (one excluded)", closedAda)
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
	ep := settings.Endpoint{Setting: "AzureSignalRConnectionString", ServiceURI: mustURL(t, srv.URL), AccessKey: "k", Auth: settings.Auth{Kind: "AccessKey"}}
	c, _ := newTestClient(t, []settings.Endpoint{ep}, Options{})
	got, err := c.ListConnectionsInGroup(ctx(), "chat", "g", 0, 0)
	if err != nil || len(got) != 2 {
		t.Fatalf("list = %v, %v", got, err)
	}
	last := seen[len(seen)-1]
	if last.Path != "/api/hubs/chat/groups/g/connections" || last.Query().Get("continuationToken") != "t1" || last.Query().Get("api-version") != "2024-12-01" {
		t.Errorf("second page request %v", last)
	}
}
