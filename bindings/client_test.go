package bindings

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/signalr-entra/handler/settings"
)

// threeEndpoints are east and west (primary) and backup (secondary).
func threeEndpoints(t *testing.T) (*Client, map[string]*fakeService) {
	fakes := map[string]*fakeService{}
	var eps []settings.Endpoint
	for _, n := range []string{"east", "west", "backup"} {
		f := newFakeService(t)
		ep := keyEndpoint(t, f)
		ep.Name, ep.Setting, ep.Type = n, "Azure__SignalR__Endpoints__"+n, settings.Primary
		if n == "backup" {
			ep.Type = settings.Secondary
		}
		fakes[n] = f
		eps = append(eps, ep)
	}
	c, _ := newTestClient(t, eps, Options{})
	return c, fakes
}

func TestPickHealthyPrimary(t *testing.T) {
	c, fakes := threeEndpoints(t)
	counts := func() map[string]int {
		got := map[string]int{}
		for range 200 {
			got[c.pick().name]++
		}
		return got
	}
	// Health unknown: both primaries count as healthy.
	if got := counts(); got["east"] == 0 || got["west"] == 0 || got["backup"] != 0 {
		t.Errorf("picks before health checks = %v, want both primaries only", got)
	}
	fakes["east"].on("HEAD /api/health", reply{status: 503})
	c.tick(ctx())
	if got := counts(); got["east"] != 0 || got["west"] != 200 {
		t.Errorf("picks with east down = %v, want west only", got)
	}
	fakes["west"].on("HEAD /api/health", reply{status: 503})
	c.tick(ctx())
	if got := counts(); got["backup"] != 200 {
		t.Errorf("picks with primaries down = %v, want backup", got)
	}
	fakes["backup"].on("HEAD /api/health", reply{status: 503})
	c.tick(ctx())
	if got := counts(); got["east"]+got["west"]+got["backup"] != 200 {
		t.Errorf("picks with all down = %v, want any", got)
	}
	fakes["east"].on("HEAD /api/health", reply{status: 200})
	c.tick(ctx())
	if got := counts(); got["east"] != 200 {
		t.Errorf("picks after east recovered = %v", got)
	}
}

func TestSendToEveryEndpoint(t *testing.T) {
	c, fakes := threeEndpoints(t)
	if err := c.Send(ctx(), "chat", Message{Target: "t", UserID: "u", GroupName: "g"}); err != nil {
		t.Fatal(err)
	}
	for n, f := range fakes {
		r := f.requests()
		if len(r) != 1 || r[0].Path != "/api/hubs/chat/users/u/:send" {
			t.Errorf("%s got %+v, want one send to the user (user wins over group)", n, r)
		}
	}
	if err := c.Send(ctx(), "chat", Message{Target: "t", Endpoints: []string{"west"}}); err != nil {
		t.Fatal(err)
	}
	if len(fakes["west"].requests()) != 2 || len(fakes["east"].requests()) != 1 {
		t.Error("a message naming west went elsewhere")
	}
	// By service URI too, as a C# ServiceEndpoint object without a name gives.
	if err := c.Send(ctx(), "chat", Message{Target: "t", Endpoints: []string{fakes["east"].URL + "/"}}); err != nil {
		t.Fatal(err)
	}
	if len(fakes["east"].requests()) != 2 || len(fakes["west"].requests()) != 2 {
		t.Error("a message naming east by its URI went elsewhere")
	}
	err := c.Send(ctx(), "chat", Message{Target: "t", Endpoints: []string{"north"}})
	if err == nil || !strings.Contains(err.Error(), `endpoint "north"`) || !strings.Contains(err.Error(), `"east"`) {
		t.Errorf("unknown endpoint: %v", err)
	}
}

func TestSendExcluded(t *testing.T) {
	c, fakes := threeEndpoints(t)
	for _, m := range []Message{{Target: "t", GroupName: "g", Excluded: []string{"c1", "c2"}}, {Target: "t", Excluded: []string{"c1", "c2"}}} {
		if err := c.Send(ctx(), "chat", m); err != nil {
			t.Fatal(err)
		}
	}
	r := fakes["west"].requests()
	want := []string{"/api/hubs/chat/groups/g/:send", "/api/hubs/chat/:send"}
	for i, path := range want {
		if i >= len(r) || r[i].Path != path || !slices.Equal(r[i].Query["excluded"], []string{"c1", "c2"}) {
			t.Fatalf("request %d = %+v, want %s with excluded=c1&excluded=c2", i, r, path)
		}
	}
}

func TestSendPartialFailure(t *testing.T) {
	c, fakes := threeEndpoints(t)
	fakes["west"].on("POST /api/hubs/chat/groups/g/:send", reply{status: 403})
	err := c.Send(ctx(), "chat", Message{Target: "t", GroupName: "g"})
	var ee *EndpointsError
	if !errors.As(err, &ee) {
		t.Fatalf("error %v is not an *EndpointsError", err)
	}
	var got []string
	for _, r := range ee.Results {
		got = append(got, r.Endpoint+" ok="+map[bool]string{true: "yes", false: "no"}[r.Err == nil])
	}
	want := []string{fakes["east"].URL + " ok=yes", fakes["west"].URL + " ok=no", fakes["backup"].URL + " ok=yes"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("results (-want +got):\n%s", d)
	}
	if e := asError(t, err); e.Status != 403 || e.Endpoint != fakes["west"].URL {
		t.Errorf("errors.As finds %+v, want west's 403", e)
	}
	if !strings.Contains(err.Error(), "failed on 1 of 3 endpoints") {
		t.Errorf("message %q", err)
	}
}

func TestApplyRoutes(t *testing.T) {
	tests := []struct {
		action GroupAction
		want   string
	}{
		{GroupAction{Action: ActionAdd, UserID: "u", ConnectionID: "c", GroupName: "g"}, "PUT /api/hubs/chat/groups/g/connections/c"},
		{GroupAction{Action: ActionAdd, UserID: "u", GroupName: "g"}, "PUT /api/hubs/chat/users/u/groups/g"},
		{GroupAction{Action: ActionRemove, ConnectionID: "c", GroupName: "g"}, "DELETE /api/hubs/chat/groups/g/connections/c"},
		{GroupAction{Action: ActionRemove, UserID: "u", GroupName: "g"}, "DELETE /api/hubs/chat/users/u/groups/g"},
		{GroupAction{Action: ActionRemoveAll, ConnectionID: "c"}, "DELETE /api/hubs/chat/connections/c/groups"},
		{GroupAction{Action: ActionRemoveAll, UserID: "u"}, "DELETE /api/hubs/chat/users/u/groups"},
	}
	for _, tt := range tests {
		f := newFakeService(t)
		c, _ := newTestClient(t, []settings.Endpoint{keyEndpoint(t, f)}, Options{})
		if err := c.Apply(ctx(), "Chat", tt.action); err != nil {
			t.Fatal(err)
		}
		r := f.requests()
		if len(r) != 1 || r[0].Method+" "+r[0].Path != tt.want {
			t.Errorf("%+v sent %+v, want %s", tt.action, r, tt.want)
		}
	}
	f := newFakeService(t)
	c, _ := newTestClient(t, []settings.Endpoint{keyEndpoint(t, f)}, Options{})
	if err := c.Apply(ctx(), "chat", GroupAction{Action: ActionAdd, UserID: "u"}); err == nil || !strings.Contains(err.Error(), "no groupName") {
		t.Errorf("invalid action: %v", err)
	}
	if err := c.Send(ctx(), "chat", Message{}); err == nil || !strings.Contains(err.Error(), "target is missing") {
		t.Errorf("invalid message: %v", err)
	}
}
