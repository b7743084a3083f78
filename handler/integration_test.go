package handler

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/signalr-entra/handler/bindings"
	"github.com/signalr-entra/handler/emulator"
	"github.com/signalr-entra/handler/internal/funchost"
	"github.com/signalr-entra/handler/internal/funclog"
	"github.com/signalr-entra/handler/settings"
)

// newIntegration starts the emulator and a handler over a real
// bindings.Client that authenticates with Entra ID as a principal holding
// roles.
func newIntegration(t *testing.T, roles ...emulator.Role) (*emulator.Server, *httptest.Server) {
	t.Helper()
	return newLoggedIntegration(t, slog.New(slog.NewTextHandler(io.Discard, nil)), roles...)
}

// newLoggedIntegration is newIntegration with the handler and the bindings
// logging to log.
func newLoggedIntegration(t *testing.T, log *slog.Logger, roles ...emulator.Role) (*emulator.Server, *httptest.Server) {
	t.Helper()
	emu, err := emulator.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	app, err := emu.AddApplication(emulator.App{
		ClientID: "0b1e0000-0000-4000-8000-00000000c11e",
		ObjectID: "0b1e0000-0000-4000-8000-0000000000b1",
		Secret:   "integration-test-secret",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(roles) > 0 {
		emu.Assign(app.ObjectID, roles...)
	}
	u, err := url.Parse(emu.URL)
	if err != nil {
		t.Fatal(err)
	}
	client, err := bindings.New(settings.Configs([]settings.Endpoint{{
		Setting:    "AzureSignalRConnectionString",
		ServiceURI: u,
		Type:       settings.Primary,
		Credential: emu.Credential(app.ObjectID),
		Auth:       settings.Auth{Kind: "ClientSecretCredential", ClientID: app.ClientID},
		Scope:      settings.DefaultScope,
	}}), &bindings.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	srv := httptest.NewServer(newTestHandler(t, client, &Options{Standalone: true, Logger: log}))
	t.Cleanup(srv.Close)
	return emu, srv
}

func TestIntegrationNegotiateTokenAcceptedByService(t *testing.T) {
	emu, srv := newIntegration(t, emulator.ServiceOwner)
	req, _ := http.NewRequest("POST", srv.URL+"/api/negotiate?hub=chat&negotiateVersion=1", nil)
	req.Header.Set("X-MS-CLIENT-PRINCIPAL-ID", "ada")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info bindings.ConnectionInfo
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil || resp.StatusCode != 200 {
		t.Fatalf("negotiate: status %d, %v", resp.StatusCode, err)
	}
	// Follow the redirect as @microsoft/signalr does.
	u, err := url.Parse(info.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/negotiate"
	q := u.Query()
	q.Set("negotiateVersion", "1")
	u.RawQuery = q.Encode()
	creq, _ := http.NewRequest("POST", u.String(), nil)
	creq.Header.Set("Authorization", "Bearer "+info.AccessToken)
	cresp, err := http.DefaultClient.Do(creq)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(cresp.Body)
	cresp.Body.Close()
	if cresp.StatusCode != 200 || !strings.Contains(string(body), "connectionToken") {
		t.Errorf("the service refused the token: %d %s", cresp.StatusCode, body)
	}
	if n := emu.Counts().Negotiations; n != 1 {
		t.Errorf("service negotiations %d, want 1", n)
	}
}

// Messages and group actions reach the service's REST API through the
// host's rule (internal/funchost), in the mode it picks for each variant of
// host.json.
func TestIntegrationMessagesAndGroupsReachREST(t *testing.T) {
	for _, v := range hostVariants(t) {
		t.Run(v.name, func(t *testing.T) {
			emu, srv := newIntegration(t, emulator.RESTAPIOwner)
			host, err := funchost.New(v.app, srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			front := httptest.NewServer(host)
			defer front.Close()
			post := func(path, body string) int {
				resp, err := http.Post(front.URL+path, "application/json", strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			if got := post("/api/messages?hub=chat", `[{"target":"a","arguments":[1]},{"groupName":"g","target":"b","arguments":[]}]`); got != 202 {
				t.Errorf("messages status %d, want 202", got)
			}
			if got := post("/api/groups?hub=chat", `{"action":"add","userId":"ada","groupName":"g"}`); got != 202 {
				t.Errorf("groups status %d, want 202", got)
			}
			rest := emu.Counts().REST
			for _, op := range []string{"SignalR_Broadcast", "SignalR_GroupBroadcast", "SignalR_AddUserToGroup"} {
				if rest[op] != 1 {
					t.Errorf("REST %s count %d, want 1 (all: %v)", op, rest[op], rest)
				}
			}
		})
	}
}

func TestIntegrationMissingRole(t *testing.T) {
	_, srv := newIntegration(t)
	resp, err := http.Post(srv.URL+"/api/messages", "application/json", strings.NewReader(`{"target":"a"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body partialBody
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusBadGateway || len(body.Failed) != 1 || len(body.Accepted) != 0 {
		t.Errorf("status %d body %+v; want 502 with item 0 failed", resp.StatusCode, body)
	}
}

// TestIntegrationNoSecretsInLogsOrReplies runs a negotiate, a payload
// negotiate and a refused send over the real bindings and checks that
// neither the logs nor the replies carry a secret: the app's client secret,
// a token (a JWT starts with eyJ), or the issued access token.
func TestIntegrationNoSecretsInLogsOrReplies(t *testing.T) {
	var logs funclog.Collector
	_, srv := newLoggedIntegration(t, slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), emulator.AppServer)
	var replies strings.Builder
	do := func(method, path, body string) string {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("X-MS-CLIENT-PRINCIPAL-ID", "ada")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b)
	}
	var info bindings.ConnectionInfo
	if err := json.Unmarshal([]byte(do("POST", "/api/negotiate?hub=chat", "")), &info); err != nil || info.AccessToken == "" {
		t.Fatalf("negotiate gave no token: %v", err)
	}
	payload := do("POST", "/negotiate", `{"Data":{"req":{"Method":"POST","Url":"http://x/api/negotiate","Headers":{"X-MS-CLIENT-PRINCIPAL-ID":["ada"]}}}}`)
	var r payloadReply
	if err := json.Unmarshal([]byte(payload), &r); err != nil || len(r.Logs) == 0 {
		t.Fatalf("payload reply %s: %v", payload, err)
	}
	// App Server may not use the REST API: the send fails, and its cause
	// is logged.
	replies.WriteString(do("POST", "/api/messages?hub=chat", `{"target":"a"}`))
	replies.WriteString(strings.Join(r.Logs, "\n"))
	logged := strings.Join(logs.Lines(), "\n")
	if !strings.Contains(logged, "403") {
		t.Fatalf("the refused send is not logged:\n%s", logged)
	}
	for name, text := range map[string]string{"logs": logged, "replies and payload Logs": replies.String()} {
		for _, secret := range []string{"integration-test-secret", "eyJ", info.AccessToken} {
			if strings.Contains(text, secret) {
				t.Errorf("%s carry %q:\n%s", name, secret, text)
			}
		}
	}
}

// TestIntegrationRoutesPerItem: with two endpoints, the messages and groups
// replies say per item which endpoints took it and which failed it, and a
// name in endpoints that matches none is refused with 400 naming it and
// the configured endpoints.
func TestIntegrationRoutesPerItem(t *testing.T) {
	emus := map[string]*emulator.Server{}
	var eps []settings.Endpoint
	for _, name := range []string{"east", "west"} {
		emu, err := emulator.NewServer(nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(emu.Close)
		emu.Assign(emu.SystemIdentity().ObjectID, emulator.ServiceOwner)
		u, err := url.Parse(emu.URL)
		if err != nil {
			t.Fatal(err)
		}
		emus[name] = emu
		eps = append(eps, settings.Endpoint{
			Name: name, Setting: "Azure__SignalR__Endpoints__" + name, ServiceURI: u, Type: settings.Primary,
			Credential: emu.Credential(emu.SystemIdentity().ObjectID), Auth: settings.Auth{Kind: "ManagedIdentityCredential"}, Scope: settings.DefaultScope,
		})
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	client, err := bindings.New(settings.Configs(eps), &bindings.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	srv := httptest.NewServer(newTestHandler(t, client, &Options{Standalone: true, Logger: log}))
	t.Cleanup(srv.Close)
	east, west := emus["east"].URL, emus["west"].URL

	post := func(path, body string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
			t.Fatal(err)
		}
		delete(got, "correlationId")
		return resp.StatusCode, got
	}
	route := func(i int, took, failed []any) map[string]any {
		return map[string]any{"index": float64(i), "took": took, "failed": failed, "skipped": []any{}}
	}
	none := []any{}
	tests := []struct {
		name       string
		path, body string
		fault      func()
		wantStatus int
		want       map[string]any
	}{
		{
			name: "every endpoint or the named one", path: "/api/messages",
			body:       `[{"target":"a"},{"target":"b","endpoints":["west"]}]`,
			wantStatus: 202,
			want: map[string]any{"accepted": []any{0.0, 1.0}, "routes": []any{
				route(0, []any{east, west}, none), route(1, []any{west}, none)}},
		},
		{
			name: "a send west refused is accepted, and says so", path: "/api/messages",
			body:       `{"target":"a"}`,
			fault:      func() { emus["west"].Fail(emulator.RESTSend, 1, http.StatusForbidden, 0) },
			wantStatus: 202,
			want:       map[string]any{"accepted": []any{0.0}, "routes": []any{route(0, []any{east}, []any{west})}},
		},
		{
			name: "a group action west refused fails, and says where it went", path: "/api/groups",
			body:       `{"action":"add","userId":"u","groupName":"g"}`,
			fault:      func() { emus["west"].Fail(emulator.RESTOther, 1, http.StatusForbidden, 0) },
			wantStatus: 502,
			want: map[string]any{
				"error":    "SignalR Service did not accept 1 of 1 items",
				"accepted": []any{},
				"failed": []any{map[string]any{"index": 0.0, "state": "partial",
					"error": "some endpoints took it and others did not (routes says which): send it again only to the others, naming them in endpoints, or it is delivered twice through those that took it; " +
						"SignalR Service refused the app (403): its identity lacks a role on the resource, or a network rule blocks it; the function log has the details under this correlation id"}},
				"routes": []any{route(0, []any{east}, []any{west})},
			},
		},
		{
			name: "unknown endpoint in a message", path: "/api/messages",
			body:       `[{"target":"a"},{"target":"b","endpoints":["north"]}]`,
			wantStatus: 400,
			want: map[string]any{
				"error":    "1 of 2 items are invalid; failed says why",
				"accepted": []any{0.0},
				"failed": []any{map[string]any{"index": 1.0, "state": "refused",
					"error": `the message's endpoints names "north", which matches no configured endpoint: name one by its name or service URI ("east" (` + east + `), "west" (` + west + `)), or leave endpoints out to use every online one`}},
				"routes": []any{route(0, []any{east, west}, none), route(1, none, none)},
			},
		},
		{
			name: "unknown endpoint in a group action", path: "/api/groups",
			body:       `{"action":"add","userId":"u","groupName":"g","endpoints":[{"name":"north"}]}`,
			wantStatus: 400,
			want: map[string]any{
				"error":    "1 of 1 items are invalid; failed says why",
				"accepted": []any{},
				"failed": []any{map[string]any{"index": 0.0, "state": "refused",
					"error": `the group action's endpoints names "north", which matches no configured endpoint: name one by its name or service URI ("east" (` + east + `), "west" (` + west + `)), or leave endpoints out to use every online one`}},
				"routes": []any{route(0, none, none)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fault != nil {
				tt.fault()
			}
			status, got := post(tt.path, tt.body)
			if status != tt.wantStatus {
				t.Errorf("status %d, want %d", status, tt.wantStatus)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("reply (-want +got):\n%s", d)
			}
		})
	}
}
