package bindings

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// threeEndpoints are east and west (primary) and backup (secondary).
func threeEndpoints(t *testing.T) (*Client, map[string]*fakeService, *logBuffer) {
	fakes := map[string]*fakeService{}
	var eps []EndpointConfig
	for _, n := range []string{"east", "west", "backup"} {
		f := newFakeService(t)
		ep := keyEndpoint(t, f)
		ep.Name, ep.Label, ep.Type = n, "Azure__SignalR__Endpoints__"+n, Primary
		if n == "backup" {
			ep.Type = Secondary
		}
		fakes[n] = f
		eps = append(eps, ep)
	}
	c, logs := newTestClient(t, eps, Options{})
	return c, fakes, logs
}

func TestPickOnlinePrimary(t *testing.T) {
	c, fakes, _ := threeEndpoints(t)
	counts := func() map[string]int {
		got := map[string]int{}
		for range 200 {
			e, err := c.pick()
			if err != nil {
				t.Fatalf("pick: %v", err)
			}
			got[e.name]++
		}
		return got
	}
	// Health unknown: both primaries count as online.
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
	fakes["east"].on("HEAD /api/health", reply{status: 200})
	c.tick(ctx())
	if got := counts(); got["east"] != 200 {
		t.Errorf("picks after east recovered = %v", got)
	}
}

// TestNegotiateNoneOnline: with every endpoint offline negotiate says so,
// naming each endpoint's failed health check, instead of handing out an
// endpoint that is down.
func TestNegotiateNoneOnline(t *testing.T) {
	c, fakes, _ := threeEndpoints(t)
	for _, f := range fakes {
		f.on("HEAD /api/health", reply{status: 503})
	}
	c.tick(ctx())
	_, err := c.ConnectionInfo(ctx(), "chat", "", nil)
	if !errors.Is(err, ErrNoOnlineEndpoint) {
		t.Fatalf("negotiate error = %v, want ErrNoOnlineEndpoint", err)
	}
	for _, n := range []string{"east", "west", "backup"} {
		if !strings.Contains(err.Error(), "Azure__SignalR__Endpoints__"+n) {
			t.Errorf("error %q does not name %s", err, n)
		}
	}
	if !strings.Contains(err.Error(), "503") {
		t.Errorf("error %q does not say why (the health check's 503)", err)
	}
}

// TestHealthNeedsThreeFailures follows the Management SDK: a check that
// fails is retried twice before the endpoint is offline.
func TestHealthNeedsThreeFailures(t *testing.T) {
	c, fakes, _ := threeEndpoints(t)
	fakes["east"].on("HEAD /api/health", reply{status: 503}, reply{status: 503}, reply{status: 200})
	c.tick(ctx())
	if !c.endpoints[0].Healthy() {
		t.Error("east is offline after two failed checks and one that passed")
	}
	fakes["east"].on("HEAD /api/health", reply{status: 503})
	c.tick(ctx())
	if c.endpoints[0].Healthy() {
		t.Error("east is online after three failed checks")
	}
	if n := len(fakes["east"].requests()); n != 6 {
		t.Errorf("east got %d health checks, want 6 (3 per tick)", n)
	}
}

// TestSendSkipsOfflineEndpoints: messages and group actions go to every
// online endpoint; one whose health check fails is skipped, not failed,
// and used again once it is back.
func TestSendSkipsOfflineEndpoints(t *testing.T) {
	c, fakes, logs := threeEndpoints(t)
	fakes["east"].on("HEAD /api/health", reply{status: 503})
	c.tick(ctx())
	if err := c.Send(ctx(), "chat", Message{Target: "t"}); err != nil {
		t.Fatalf("send with east offline: %v", err)
	}
	if err := c.Apply(ctx(), "chat", GroupAction{Action: ActionAdd, UserID: "u", GroupName: "g"}); err != nil {
		t.Fatalf("group action with east offline: %v", err)
	}
	sent := func(n string) int {
		k := 0
		for _, r := range fakes[n].requests() {
			if r.Method != "HEAD" {
				k++
			}
		}
		return k
	}
	if sent("east") != 0 || sent("west") != 2 || sent("backup") != 2 {
		t.Errorf("requests east/west/backup = %d/%d/%d, want 0/2/2", sent("east"), sent("west"), sent("backup"))
	}
	if l := logs.String(); !strings.Contains(l, "SignalR send routed") || !strings.Contains(l, "skipped=["+fakes["east"].URL+"]") || strings.Contains(l, "level=WARN msg=\"SignalR send") {
		t.Errorf("log does not report the skipped endpoint:\n%s", l)
	}
	fakes["east"].on("HEAD /api/health", reply{status: 200})
	c.tick(ctx())
	if err := c.Send(ctx(), "chat", Message{Target: "t"}); err != nil {
		t.Fatal(err)
	}
	if sent("east") != 1 {
		t.Errorf("east got %d requests after it came back, want 1", sent("east"))
	}
	if l := logs.String(); !strings.Contains(l, "SignalR send routed") || !strings.Contains(l, fakes["east"].URL) {
		t.Errorf("log does not say which endpoints took the send:\n%s", l)
	}
	for _, f := range fakes {
		f.on("HEAD /api/health", reply{status: 503})
	}
	c.tick(ctx())
	for _, err := range []error{c.Send(ctx(), "chat", Message{Target: "t"}), c.Apply(ctx(), "chat", GroupAction{Action: ActionAdd, UserID: "u", GroupName: "g"})} {
		if !errors.Is(err, ErrNoOnlineEndpoint) {
			t.Errorf("with every endpoint offline: %v, want ErrNoOnlineEndpoint", err)
		}
	}
}

func TestSendToEveryEndpoint(t *testing.T) {
	c, fakes, _ := threeEndpoints(t)
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
}

// TestUnknownEndpointIsInputError: a name in endpoints that matches no
// endpoint is the caller's to fix, worded for what named it, and nothing
// is sent.
func TestUnknownEndpointIsInputError(t *testing.T) {
	c, fakes, _ := threeEndpoints(t)
	known := fmt.Sprintf(`"east" (%s), "west" (%s), "backup" (%s)`, fakes["east"].URL, fakes["west"].URL, fakes["backup"].URL)
	for _, tt := range []struct {
		kind string
		err  error
	}{
		{"message", c.Send(ctx(), "chat", Message{Target: "t", Endpoints: []string{"east", "north"}})},
		{"group action", c.Apply(ctx(), "chat", GroupAction{Action: ActionAdd, UserID: "u", GroupName: "g", Endpoints: []string{"north"}})},
	} {
		var ie *InputError
		if !errors.As(tt.err, &ie) {
			t.Fatalf("%s naming an unknown endpoint: %v, want an *InputError", tt.kind, tt.err)
		}
		want := "the " + tt.kind + `'s endpoints names "north", which matches no configured endpoint: name one by its name or service URI (` + known + "), or leave endpoints out to use every online one"
		if d := cmp.Diff(want, ie.Message); d != "" {
			t.Errorf("message (-want +got):\n%s", d)
		}
	}
	for n, f := range fakes {
		if r := f.requests(); len(r) != 0 {
			t.Errorf("%s got %+v, want nothing sent", n, r)
		}
	}
}

// TestRouteSaysWhereItWent: SendRouted and ApplyRouted return which
// endpoints took the item, failed it or were skipped as offline, by
// service URI, whether or not the whole operation failed.
func TestRouteSaysWhereItWent(t *testing.T) {
	c, fakes, _ := threeEndpoints(t)
	east, west, backup := fakes["east"].URL, fakes["west"].URL, fakes["backup"].URL
	route, err := c.SendRouted(ctx(), "chat", Message{Target: "t"})
	if d := cmp.Diff(Route{Took: []string{east, west, backup}}, route); err != nil || d != "" {
		t.Errorf("send to all: %v, route (-want +got):\n%s", err, d)
	}
	fakes["east"].on("HEAD /api/health", reply{status: 503})
	c.tick(ctx())
	fakes["west"].on("POST /api/hubs/chat/:send", reply{status: 500})
	route, err = c.SendRouted(ctx(), "chat", Message{Target: "t"})
	if d := cmp.Diff(Route{Took: []string{backup}, Failed: []string{west}, Unknown: []string{west}, Skipped: []string{east}}, route); err != nil || d != "" {
		t.Errorf("send west failed: %v, route (-want +got):\n%s", err, d)
	}
	fakes["west"].on("PUT /api/hubs/chat/users/u/groups/g", reply{status: 403})
	route, err = c.ApplyRouted(ctx(), "chat", GroupAction{Action: ActionAdd, UserID: "u", GroupName: "g"})
	if d := cmp.Diff(Route{Took: []string{backup}, Failed: []string{west}, Skipped: []string{east}}, route); err == nil || d != "" {
		t.Errorf("group action west failed: %v (want an error), route (-want +got):\n%s", err, d)
	}
	route, err = c.SendRouted(ctx(), "chat", Message{Target: "t", Endpoints: []string{"backup"}})
	if d := cmp.Diff(Route{Took: []string{backup}}, route); err != nil || d != "" {
		t.Errorf("send named backup: %v, route (-want +got):\n%s", err, d)
	}

	// One endpoint: the same shape.
	f := newFakeService(t)
	one, _ := newTestClient(t, []EndpointConfig{keyEndpoint(t, f)}, Options{})
	route, err = one.SendRouted(ctx(), "chat", Message{Target: "t"})
	if d := cmp.Diff(Route{Took: []string{f.URL}}, route); err != nil || d != "" {
		t.Errorf("one endpoint: %v, route (-want +got):\n%s", err, d)
	}
	f.on("POST /api/hubs/chat/:send", reply{status: 500})
	route, err = one.SendRouted(ctx(), "chat", Message{Target: "t"})
	if d := cmp.Diff(Route{Failed: []string{f.URL}, Unknown: []string{f.URL}}, route); err == nil || d != "" {
		t.Errorf("one endpoint failing: %v (want an error), route (-want +got):\n%s", err, d)
	}
}

func TestSendExcluded(t *testing.T) {
	c, fakes, _ := threeEndpoints(t)
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

// TestSendPartialFailure: a send some endpoint took is not failed, so that
// the caller does not retry it into duplicates; the endpoint that failed is
// logged. A group action, safe to repeat, fails; so does a send no
// endpoint took.
func TestSendPartialFailure(t *testing.T) {
	c, fakes, logs := threeEndpoints(t)
	fakes["west"].on("POST /api/hubs/chat/groups/g/:send", reply{status: 403})
	if err := c.Send(ctx(), "chat", Message{Target: "t", GroupName: "g"}); err != nil {
		t.Fatalf("send taken by east and backup: %v", err)
	}
	l := logs.String()
	for _, want := range []string{"reached only some endpoints", "failed=[" + fakes["west"].URL + "]", "403"} {
		if !strings.Contains(l, want) {
			t.Errorf("log lacks %q:\n%s", want, l)
		}
	}
	fakes["west"].on("PUT /api/hubs/chat/users/u/groups/g", reply{status: 403})
	err := c.Apply(ctx(), "chat", GroupAction{Action: ActionAdd, UserID: "u", GroupName: "g"})
	var ee *EndpointsError
	if !errors.As(err, &ee) {
		t.Fatalf("group action error %v is not an *EndpointsError", err)
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
	for _, f := range fakes {
		f.on("POST /api/hubs/chat/:send", reply{status: 500})
	}
	if err := c.Send(ctx(), "chat", Message{Target: "t"}); !errors.As(err, &ee) || len(ee.Results) != 3 {
		t.Errorf("send no endpoint took: %v, want an *EndpointsError of 3 results", err)
	}
}

// TestPrimaryAndSecondaryOfOneName: C# reads <name>__primary and
// <name>__secondary as two endpoints of one name; a message naming it goes
// to both.
func TestPrimaryAndSecondaryOfOneName(t *testing.T) {
	a, b := newFakeService(t), newFakeService(t)
	pa, pb := keyEndpoint(t, a), keyEndpoint(t, b)
	pa.Name, pa.Type = "east", Primary
	pb.Name, pb.Type = "east", Secondary
	c, _ := newTestClient(t, []EndpointConfig{pa, pb}, Options{})
	if err := c.Send(ctx(), "chat", Message{Target: "t", Endpoints: []string{"east"}}); err != nil {
		t.Fatal(err)
	}
	if len(a.requests()) != 1 || len(b.requests()) != 1 {
		t.Errorf("requests %d and %d, want one to each", len(a.requests()), len(b.requests()))
	}
	if _, err := New([]EndpointConfig{pa, pa}, &Options{}); err == nil || !strings.Contains(err.Error(), "configured twice") {
		t.Errorf("the same endpoint twice: %v", err)
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
		c, _ := newTestClient(t, []EndpointConfig{keyEndpoint(t, f)}, Options{})
		if err := c.Apply(ctx(), "Chat", tt.action); err != nil {
			t.Fatal(err)
		}
		r := f.requests()
		if len(r) != 1 || r[0].Method+" "+r[0].Path != tt.want {
			t.Errorf("%+v sent %+v, want %s", tt.action, r, tt.want)
		}
	}
	f := newFakeService(t)
	c, _ := newTestClient(t, []EndpointConfig{keyEndpoint(t, f)}, Options{})
	if err := c.Apply(ctx(), "chat", GroupAction{Action: ActionAdd, UserID: "u"}); err == nil || !strings.Contains(err.Error(), "no groupName") {
		t.Errorf("invalid action: %v", err)
	}
	if err := c.Send(ctx(), "chat", Message{}); err == nil || !strings.Contains(err.Error(), "target is missing") {
		t.Errorf("invalid message: %v", err)
	}
}
