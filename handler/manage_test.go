package handler

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
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/signalr-entra/handler/bindings"
	"github.com/signalr-entra/handler/emulator"
	"github.com/signalr-entra/handler/internal/costtest"
	"github.com/signalr-entra/handler/internal/signalrtest"
	"github.com/signalr-entra/handler/settings"
)

func TestDecodeManage(t *testing.T) {
	tests := []struct {
		name, body, wantErr string
	}{
		{"one action", `{"action":"exists","userId":"ada"}`, ""},
		{"an array", `[{"action":"closeConnection","connectionId":"c","reason":"r"},{"action":"closeConnections","all":true},{"action":"listConnections","groupName":"g","top":5},{"action":"invoke","connectionId":"c","target":"t","arguments":[]}]`, ""},
		{"fields in another case", `{"Action":"exists","UserId":"ada","groupname":"g"}`, ""},
		{"empty", ` `, "the body is empty"},
		{"not an object", `"exists"`, "not a manage action"},
		{"an item not an object", `[{"action":"exists","userId":"a"},3]`, "manage action 1: is 3, not a JSON object"},
		{"no action", `{"userId":"ada"}`, "action is missing"},
		{"unknown action", `{"action":"kick","userId":"ada"}`, `unknown action "kick"`},
		{"unknown field", `{"action":"exists","user":"ada"}`, `unknown field "user" for action exists`},
		{"field of another action", `{"action":"exists","userId":"ada","reason":"r"}`, `unknown field "reason"`},
		{"duplicate field", `{"action":"exists","userId":"ada","userId":"bob"}`, `field "userId" is given twice`},
		{"duplicate field in another case", `{"action":"closeConnections","groupName":"g","GroupName":"h"}`, `field "GroupName" is given twice (as "groupName" and "GroupName")`},
		{"duplicate field folding as encoding/json folds", "{\"action\":\"closeConnections\",\"userId\":\"alice\",\"u\u017FerId\":\"bob\"}", `is given twice`},
		{"duplicate field by an escape", `{"action":"closeConnections","userId":"alice","user\u0049d":"bob"}`, `is given twice`},
		{"duplicate action", `{"action":"exists","ACTION":"closeConnections","userId":"ada"}`, "given twice"},
		{"empty userId", `{"action":"exists","userId":""}`, "userId is empty"},
		{"blank groupName", `{"action":"closeConnections","groupName":"  "}`, "groupName is empty"},
		{"empty connectionId", `{"action":"closeConnection","connectionId":""}`, "connectionId is empty"},
		{"empty excluded", `{"action":"closeConnections","all":true,"excluded":[""]}`, "excluded holds an empty connection id"},
		{"close both", `{"action":"closeConnections","userId":"u","groupName":"g"}`, "takes one of"},
		{"close a user and all", `{"action":"closeConnections","userId":"u","all":true}`, "takes one of"},
		{"close without an address", `{"action":"closeConnections","reason":"r"}`, `needs userId, groupName, or "all": true`},
		{"close with a null address", `{"action":"closeConnections","groupName":null}`, "groupName is empty"},
		{"close with all false", `{"action":"closeConnections","all":false,"excluded":["c"]}`, `needs userId, groupName, or "all": true`},
		{"close with all null", `{"action":"closeConnections","all":null}`, `needs userId, groupName, or "all": true`},
		{"close with all misspelled", `{"action":"closeConnections","everyone":true}`, `unknown field "everyone"`},
		{"close one without id", `{"action":"closeConnection","reason":"r"}`, "needs connectionId"},
		{"exists nothing", `{"action":"exists"}`, "exists needs"},
		{"exists connection and user", `{"action":"exists","connectionId":"c","userId":"u"}`, "connectionId alone"},
		{"list without group", `{"action":"listConnections","top":3}`, "needs groupName"},
		{"top zero", `{"action":"listConnections","groupName":"g","top":0}`, "top 0 is not a count"},
		{"top past a reply", `{"action":"listConnections","groupName":"g","top":100001}`, "top 100001 is not a count one reply holds: use 1 to 100000"},
		{"top as text", `{"action":"listConnections","groupName":"g","top":"5"}`, "field top is a JSON string"},
		{"invoke without arguments", `{"action":"invoke","connectionId":"c","target":"t"}`, "invoke needs arguments"},
		{"invoke arguments not an array", `{"action":"invoke","connectionId":"c","target":"t","arguments":{"a":1}}`, "arguments is a JSON object, not an array"},
		{"invoke without target", `{"action":"invoke","connectionId":"c","arguments":[]}`, "invoke needs target"},
		{"trailing JSON", `[{"action":"exists","userId":"a"}] {}`, "followed by more JSON"},
		{"not UTF-8", "{\"action\":\"exists\",\"userId\":\"\xff\"}", "not UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeManage([]byte(tt.body), 10)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want %q", err, tt.wantErr)
			}
		})
	}
	if _, err := decodeManage([]byte(`[{"action":"exists","userId":"a"},{"action":"exists","userId":"b"}]`), 1); !errors.As(err, new(*bindings.ItemLimitError)) {
		t.Errorf("over the item limit: %v", err)
	}
}

// manageStack is the handler, standalone, over a real bindings.Client and
// the stand-in, with clients connected that answer invocations.
type manageStack struct {
	emu    *emulator.Server
	url    string
	client *bindings.Client
}

func newManageStack(t *testing.T, roles ...emulator.Role) *manageStack {
	t.Helper()
	emu, srv := newIntegration(t, roles...)
	u, _ := url.Parse(emu.URL)
	// The integration app's identity, which newIntegration assigned.
	client, err := bindings.New(settings.Configs([]settings.Endpoint{{
		Setting: "AzureSignalRConnectionString", ServiceURI: u, Type: settings.Primary,
		Credential: emu.Credential("0b1e0000-0000-4000-8000-0000000000b1"), Scope: settings.DefaultScope,
		Auth: settings.Auth{Kind: "ClientSecretCredential", ClientID: "0b1e0000-0000-4000-8000-00000000c11e"},
	}}), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return &manageStack{emu: emu, url: srv.URL, client: client}
}

// connect connects a client as the user and returns it with its id.
func (s *manageStack) connect(t *testing.T, user string) (*signalrtest.Answering, string) {
	t.Helper()
	before := s.emu.Connections("chat")
	info, err := s.client.ConnectionInfo(context.Background(), "chat", user, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, err := signalrtest.Answer(ctx, info.URL, info.AccessToken, map[string]signalrtest.Handler{
		"whoami": func(args []json.RawMessage) (any, error) { return map[string]any{"user": user, "args": args}, nil },
		"fail":   func([]json.RawMessage) (any, error) { return nil, errors.New("Error: not today") },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	for _, c := range s.emu.Connections("chat") {
		if !slices.Contains(before, c) {
			return a, c.ID
		}
	}
	t.Fatal("the new connection is not listed")
	return nil, ""
}

func (s *manageStack) post(t *testing.T, path, body string, header ...string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.url+path, strings.NewReader(body))
	for i := 0; i < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("reply %s: %v", b, err)
	}
	return resp.StatusCode, out
}

func TestIntegrationManage(t *testing.T) {
	s := newManageStack(t, emulator.ServiceOwner)
	ada1, ada1ID := s.connect(t, "ada")
	_, ada2ID := s.connect(t, "ada")
	bob, bobID := s.connect(t, "bob")

	if st, rep := s.post(t, "/api/groups?hub=chat", `[{"action":"add","userId":"ada","groupName":"g","ttl":0},{"action":"add","connectionId":"`+bobID+`","groupName":"g"}]`); st != 202 {
		t.Fatalf("groups: %d %v", st, rep)
	}
	_, ada3ID := s.connect(t, "ada") // after the ttl-0 add: not in g

	status, rep := s.post(t, "/api/manage?hub=chat", `[
		{"action":"exists","userId":"ada"},
		{"action":"exists","connectionId":"gone"},
		{"action":"exists","userId":"ada","groupName":"g"},
		{"action":"listConnections","groupName":"g"},
		{"action":"listConnections","groupName":"g","top":1},
		{"action":"invoke","connectionId":"`+bobID+`","target":"whoami","arguments":[1,{"a":"b"}]},
		{"action":"invoke","connectionId":"`+bobID+`","target":"fail","arguments":[]},
		{"action":"invoke","connectionId":"gone","target":"whoami","arguments":[]},
		{"action":"closeConnection","connectionId":"`+bobID+`","reason":"bye"},
		{"action":"closeConnections","userId":"ada","excluded":["`+ada2ID+`","`+ada3ID+`"],"reason":"maintenance"}
	]`)
	if status != http.StatusBadRequest {
		t.Errorf("status %d, want 400, the first failure's", status)
	}
	results := rep["results"].([]any)
	res := func(i int) map[string]any { return results[i].(map[string]any) }
	members := []any{map[string]any{"connectionId": ada1ID, "userId": "ada"}, map[string]any{"connectionId": ada2ID, "userId": "ada"}, map[string]any{"connectionId": bobID, "userId": "bob"}}
	byID := func(a, b any) int {
		return strings.Compare(a.(map[string]any)["connectionId"].(string), b.(map[string]any)["connectionId"].(string))
	}
	slices.SortFunc(members, byID)
	if conns, ok := res(3)["connections"].([]any); ok {
		slices.SortFunc(conns, byID)
	}
	want := []any{
		map[string]any{"index": 0.0, "exists": true},
		map[string]any{"index": 1.0, "exists": false},
		map[string]any{"index": 2.0, "exists": true},
		map[string]any{"index": 3.0, "connections": members},
		map[string]any{"index": 4.0, "connections": res(4)["connections"]},
		map[string]any{"index": 5.0, "result": map[string]any{"user": "bob", "args": []any{1.0, map[string]any{"a": "b"}}}},
		map[string]any{"index": 6.0, "error": "the invocation failed: Error: not today"},
		map[string]any{"index": 7.0, "error": `connection "gone" is not connected to the hub`},
		map[string]any{"index": 8.0},
		map[string]any{"index": 9.0},
	}
	if d := cmp.Diff(want, results); d != "" {
		t.Errorf("results (-want +got):\n%s", d)
	}
	if n := len(res(4)["connections"].([]any)); n != 1 {
		t.Errorf("top 1 listed %d", n)
	}
	if rep["correlationId"] == "" || !strings.Contains(rep["error"].(string), "2 of 10 actions failed") {
		t.Errorf("summary %v", rep)
	}
	waitUntil(t, func() bool { _, ok := bob.Closed(); return ok })
	waitUntil(t, func() bool { _, ok := ada1.Closed(); return ok })
	if r, _ := bob.Closed(); r != "bye" {
		t.Errorf("bob's close reason %q", r)
	}
	if r, _ := ada1.Closed(); r != "maintenance" {
		t.Errorf("ada's close reason %q", r)
	}

	// All succeed: 200; one action alone is a list of one.
	if status, rep := s.post(t, "/api/manage?hub=chat", `{"action":"closeConnections","all":true}`); status != 200 || !cmp.Equal(rep, map[string]any{"results": []any{map[string]any{"index": 0.0}}}) {
		t.Errorf("close the hub: %d %v", status, rep)
	}
	waitUntil(t, func() bool { return len(s.emu.Connections("chat")) == 0 })
	if status, rep := s.post(t, "/api/manage?hub=chat", `{"action":"listConnections","groupName":"g"}`); status != 200 ||
		!cmp.Equal(rep, map[string]any{"results": []any{map[string]any{"index": 0.0, "connections": []any{}}}}) {
		t.Errorf("an empty group: %d %v", status, rep)
	}

	// Invalid input runs nothing.
	if status, rep := s.post(t, "/api/manage?hub=chat", `[{"action":"closeConnections","all":true},{"action":"exists","userId":""}]`); status != 400 || !strings.Contains(rep["error"].(string), "manage action 1: userId is empty") {
		t.Errorf("invalid: %d %v", status, rep)
	}
	if n := s.emu.Counts().REST["SignalR_CloseConnections"]; n != 1 {
		t.Errorf("%d hub closes, want 1", n)
	}
	// Standalone, a page of another site may not manage.
	if status, _ := s.post(t, "/api/manage?hub=chat", `{"action":"closeConnections","all":true}`, "Origin", "https://evil.example"); status != http.StatusForbidden {
		t.Errorf("browser origin: %d, want 403", status)
	}
	if status, _ := s.post(t, "/api/manage?hub=other", `{"action":"closeConnections","all":true}`); status != http.StatusNotFound {
		t.Errorf("unknown hub: %d, want 404", status)
	}
}

func TestIntegrationManageNeedsRoles(t *testing.T) {
	s := newManageStack(t, emulator.RESTAPIReader)
	status, rep := s.post(t, "/api/manage?hub=chat", `[{"action":"exists","userId":"ada"},{"action":"closeConnection","connectionId":"c"}]`)
	results := rep["results"].([]any)
	if status != http.StatusBadGateway || results[0].(map[string]any)["exists"] != false || !strings.Contains(results[1].(map[string]any)["error"].(string), "403") {
		t.Errorf("reader: %d %v", status, rep)
	}
}

// The fake service manages too: each action is a call of its own, which
// fail may fail; exists says yes, a list has one member, an invocation
// returns its arguments.

func (f *fakeService) CloseConnection(ctx context.Context, hub, connection, reason string) (bindings.Route, error) {
	return bindings.Route{Took: []string{fakeEndpoint}}, f.next("close connection", hub)
}

func (f *fakeService) CloseConnections(ctx context.Context, hub, userID, groupName, reason string, excluded []string) (bindings.Route, error) {
	return bindings.Route{Took: []string{fakeEndpoint}}, f.next("close connections", hub)
}

func (f *fakeService) Exists(ctx context.Context, hub string, q bindings.Existence) (bool, error) {
	err := f.next("exists", hub)
	return err == nil, err
}

func (f *fakeService) ListConnectionsInGroup(ctx context.Context, hub, group string, top, limit int) ([]bindings.GroupMember, error) {
	return []bindings.GroupMember{{ConnectionID: "c1", UserID: "ada"}}, f.next("list", hub)
}

func (f *fakeService) Invoke(ctx context.Context, hub, connection string, p bindings.Payload) (json.RawMessage, error) {
	if err := f.next("invoke", hub); err != nil {
		return nil, err
	}
	if f.invokeResult != nil {
		return f.invokeResult, nil
	}
	return json.Marshal(p.Arguments)
}

// TestManageInvokeUnknown checks that an invocation whose answer was lost
// (a gateway's 504, a reset after it was written) says the client may have
// run the method, which the caller must know before invoking it again, and
// that one refused before it reached the client does not.
func TestManageInvokeUnknown(t *testing.T) {
	for _, tt := range []struct {
		outcome bindings.Outcome
		status  int
		want    bool
	}{
		{bindings.Unknown, http.StatusGatewayTimeout, true},
		{bindings.Unknown, 0, true},
		{bindings.Refused, http.StatusForbidden, false},
		{bindings.NotSent, 0, false},
	} {
		svc := &fakeService{fail: func(string, int) error {
			return &bindings.Error{Op: "invoke a client method", Endpoint: fakeEndpoint, Status: tt.status, Outcome: tt.outcome}
		}}
		h := newTestHandler(t, svc, nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/manage", strings.NewReader(`{"action":"invoke","connectionId":"c","target":"t","arguments":[]}`)))
		var rep manageBody
		if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil || len(rep.Results) != 1 {
			t.Fatalf("%s %d: %d %s", tt.outcome, tt.status, rec.Code, rec.Body)
		}
		if got := strings.Contains(rep.Results[0].Error, "the client may have run the method"); got != tt.want {
			t.Errorf("%s %d: %q, want a warning that the client may have run it: %v", tt.outcome, tt.status, rep.Results[0].Error, tt.want)
		}
	}
}

// TestManageRepliesBounded checks that what the service answers counts
// against SIGNALR_MAX_INFLIGHT_BYTES: an array of invocations whose
// clients each return a megabyte stops starting actions once the results
// fill the budget, rather than holding a megabyte per action (a thousand
// actions, a gigabyte, for a request of a hundred kilobytes).
func TestManageRepliesBounded(t *testing.T) {
	svc := &fakeService{invokeResult: json.RawMessage(`"` + strings.Repeat("x", 1<<20) + `"`)}
	h := newTestHandler(t, svc, &Options{MaxInflightBytes: 3 << 20})
	body := "[" + strings.TrimSuffix(strings.Repeat(`{"action":"invoke","connectionId":"c","target":"t","arguments":[]},`, 10), ",") + "]"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/manage", strings.NewReader(body)))
	var rep manageBody
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("status %d, Retry-After %q; want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	if svc.calls > 4 {
		t.Errorf("%d invocations ran with 3 MB in flight allowed, want at most 4", svc.calls)
	}
	if len(rep.Results) != 10 || !strings.Contains(rep.Results[9].Error, "SIGNALR_MAX_INFLIGHT_BYTES") || rep.Results[0].Error != "" {
		t.Errorf("results: first error %q, last error %q", rep.Results[0].Error, rep.Results[len(rep.Results)-1].Error)
	}
	if h.inflight.used != 0 {
		t.Errorf("%d bytes still held after the request", h.inflight.used)
	}
}

func TestPayloadManage(t *testing.T) {
	// A Service that cannot manage.
	svc := struct{ Service }{&fakeService{}}
	h := newTestHandler(t, svc, nil)
	status, res := payloadOutput(t, h, fnManage, `{"Data":{"req":{"Method":"POST","Url":"http://x/api/manage","Body":"{\"action\":\"exists\",\"userId\":\"u\"}"}}}`)
	if status != 200 || res["statusCode"] != 501.0 {
		t.Errorf("a service without Manager: %d %v", status, res)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}

// TestIntegrationManagePayload runs manage as the Functions host invokes
// it without forwarding: an invocation payload at /manage, the reply in
// the http output res.
func TestIntegrationManagePayload(t *testing.T) {
	s := newManageStack(t, emulator.ServiceOwner)
	_, id := s.connect(t, "ada")
	body, _ := json.Marshal(`[{"action":"invoke","connectionId":"` + id + `","target":"whoami","arguments":[]},{"action":"exists","connectionId":"` + id + `"}]`)
	payload := `{"Data":{"req":{"Method":"POST","Url":"http://x/api/manage?hub=chat","Query":{"hub":"chat"},"Headers":{"Content-Type":["application/json"]},"Body":` + string(body) + `}},"Metadata":{}}`
	req, _ := http.NewRequest(http.MethodPost, s.url+"/manage", strings.NewReader(payload))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Outputs struct {
			Res struct {
				StatusCode int             `json:"statusCode"`
				Body       json.RawMessage `json:"body"`
			} `json:"res"`
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("payload reply %d: %v", resp.StatusCode, err)
	}
	want := `{"results":[{"index":0,"result":{"args":[],"user":"ada"}},{"index":1,"exists":true}]}`
	if out.Outputs.Res.StatusCode != 200 || string(out.Outputs.Res.Body) != want {
		t.Errorf("res %d %s, want 200 %s", out.Outputs.Res.StatusCode, out.Outputs.Res.Body, want)
	}
}

// FuzzDecodeManage: any body is refused with an error or read into
// actions that each name a known action with the fields it needs.
// TestDecodeManageAllocsLinear bounds what reading a manage body allocates
// per byte, as for messages: a long excluded list grew its slice a quarter
// at a time (29 bytes per byte).
func TestDecodeManageAllocsLinear(t *testing.T) {
	const perByte = 24
	for what, body := range map[string]string{
		"an invocation of 500,000 arguments":    `{"action":"invoke","connectionId":"c","target":"t","arguments":` + string(costtest.Zeros(500_000)) + `}`,
		"a close excluding 250,000 connections": `{"action":"closeConnections","all":true,"excluded":[` + strings.Repeat(`"a",`, 249_999) + `"a"]}`,
	} {
		costtest.CheckAllocs(t, what, len(body), perByte, func() {
			if _, err := decodeManage([]byte(body), 0); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func FuzzDecodeManage(f *testing.F) {
	f.Add(`[{"action":"invoke","connectionId":"c","target":"t","arguments":[1,{"a":[]}]},{"action":"exists","userId":"u","groupName":"g"}]`)
	f.Add(`{"action":"closeConnections","groupName":"g","excluded":["a","b"],"reason":"r"}`)
	f.Add(`{"action":"listConnections","groupName":"g","top":3,"TOP":4}`)
	f.Add(`[{"Action":"closeConnection","ConnectionId":"c"}]`)
	f.Add("{\"action\":\"closeConnections\",\"userId\":\"a\",\"u\u017FerId\":\"b\",\"all\":true}")
	f.Fuzz(func(t *testing.T, body string) {
		actions, err := decodeManage([]byte(body), 50)
		if err != nil {
			return
		}
		if len(actions) == 0 && strings.HasPrefix(strings.TrimSpace(body), "{") {
			t.Fatalf("one object read as no action: %q", body)
		}
		for i, a := range actions {
			if _, ok := manageFields[a.Action]; !ok {
				t.Fatalf("action %d of %q: unknown action %q accepted", i, body, a.Action)
			}
			switch a.Action {
			case actCloseConnection, actInvoke:
				if a.ConnectionID == "" {
					t.Fatalf("action %d of %q: %s without connectionId", i, body, a.Action)
				}
			case actListConnections:
				if a.GroupName == "" {
					t.Fatalf("action %d of %q: list without groupName", i, body)
				}
			case actCloseConnections:
				// The whole hub only on purpose; one audience only.
				if n := btoi(a.UserID != "") + btoi(a.GroupName != "") + btoi(a.All); n != 1 {
					t.Fatalf("action %d of %q: closes with %d of userId, groupName and all", i, body, n)
				}
			}
		}
	})
}
