package handler

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/signalr-entra/handler/bindings"
	"github.com/signalr-entra/handler/internal/funclog"
)

var update = flag.Bool("update", false, "rewrite the golden replies in testdata")

func newTestHandler(t testing.TB, svc Service, opts *Options) *Handler {
	t.Helper()
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if len(o.Hubs) == 0 {
		o.Hubs = []string{"chat", "news"}
	}
	h, err := New(svc, &o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// postPayload posts an invocation payload as the host does.
func postPayload(t *testing.T, h http.Handler, function string, payload []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/"+function, bytes.NewReader(payload))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(invocationIDHeader, "6a1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")
	req.Header.Set("X-Azure-Functions-HostVersion", "4.1040.300.25317")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestPayloadGolden replays invocation payloads shaped as the Functions host
// sends them and compares the replies with the ones in testdata.
func TestPayloadGolden(t *testing.T) {
	requests, err := filepath.Glob("testdata/*.request.json")
	if err != nil || len(requests) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, path := range requests {
		name := strings.TrimSuffix(filepath.Base(path), ".request.json")
		t.Run(name, func(t *testing.T) {
			payload, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			fn, _, _ := strings.Cut(name, "_")
			svc := &fakeService{}
			h := newTestHandler(t, svc, &Options{ClaimTypes: []string{"name", "roles"}, AppServiceAuthentication: true})
			rec := postPayload(t, h, fn, payload)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d, want 200; body %s", rec.Code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			var got map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			logs, _ := got["Logs"].([]any)
			if len(logs) == 0 {
				t.Errorf("Logs is empty; want the invocation's lines")
			}
			for _, l := range logs {
				if !strings.Contains(l.(string), "6a1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d") {
					t.Errorf("log line %q lacks the invocation id", l)
				}
			}
			golden := filepath.Join("testdata", name+".reply.json")
			if *update {
				// Durations vary: keep the lines' shape, not their numbers.
				b, _ := json.MarshalIndent(got, "", "  ")
				if err := os.WriteFile(golden, append(b, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			wantRaw, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			var want map[string]any
			if err := json.Unmarshal(wantRaw, &want); err != nil {
				t.Fatal(err)
			}
			got["Logs"], want["Logs"] = len(logs), len(want["Logs"].([]any))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("reply (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPayloadIdentity(t *testing.T) {
	tests := []struct {
		name string
		file string
		opts Options
		want []negotiation
	}{
		{
			name: "anonymous",
			file: "negotiate_anonymous",
			want: []negotiation{{Hub: "chat"}},
		},
		{
			name: "App Service Authentication with claims",
			file: "negotiate_easyauth",
			opts: Options{ClaimTypes: []string{"name", "ROLES"}, AppServiceAuthentication: true},
			want: []negotiation{{Hub: "chat", UserID: "00000000-0000-0000-0000-0000000000aa", Claims: []bindings.Claim{
				{Type: "name", Value: "Ada Lovelace"}, {Type: "roles", Value: "chat.admin"},
			}}},
		},
		{
			// The key identity names no one, with or without App Service
			// Authentication.
			name: "a browser with a function key",
			file: "negotiate_browser",
			opts: Options{ClaimTypes: []string{"name"}, AppServiceAuthentication: true},
			want: []negotiation{{Hub: "chat"}},
		},
		{
			name: "the user from the identity App Service Authentication added, without its headers",
			file: "negotiate_easyauth_identity_only",
			opts: Options{ClaimTypes: []string{"roles"}, AppServiceAuthentication: true},
			want: []negotiation{{Hub: "chat", UserID: "00000000-0000-0000-0000-0000000000aa", Claims: []bindings.Claim{{Type: "roles", Value: "chat.admin"}}}},
		},
		{
			// Without App Service Authentication anyone can send the
			// principal headers, and the host's identities come from them.
			name: "App Service Authentication off: principal ignored",
			file: "negotiate_easyauth",
			opts: Options{ClaimTypes: []string{"name", "ROLES"}},
			want: []negotiation{{Hub: "chat"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload := identityPayload(t, tt.file)
			svc := &fakeService{}
			postPayload(t, newTestHandler(t, svc, &tt.opts), fnNegotiate, payload)
			if diff := cmp.Diff(tt.want, svc.negs); diff != "" {
				t.Errorf("negotiations (-want +got):\n%s", diff)
			}
		})
	}
}

// identityPayload reads testdata/<file>.request.json; the file
// negotiate_easyauth_identity_only is negotiate_easyauth without App
// Service Authentication's headers, so that only Identities names the user.
func identityPayload(t *testing.T, file string) []byte {
	t.Helper()
	name, stripped := strings.CutSuffix(file, "_identity_only")
	payload, err := os.ReadFile("testdata/" + name + ".request.json")
	if err != nil {
		t.Fatal(err)
	}
	if !stripped {
		return payload
	}
	var p struct {
		Data     struct{ Req map[string]any }
		Metadata json.RawMessage
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		t.Fatal(err)
	}
	headers := p.Data.Req["Headers"].(map[string]any)
	for k := range headers {
		if strings.HasPrefix(strings.ToUpper(k), "X-MS-CLIENT-PRINCIPAL") {
			delete(headers, k)
		}
	}
	b, err := json.Marshal(map[string]any{"Data": map[string]any{"req": p.Data.Req}, "Metadata": p.Metadata})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// payloadOutput posts payload and returns the res output and the status.
func payloadOutput(t *testing.T, h http.Handler, fn string, payload string) (int, map[string]any) {
	t.Helper()
	rec := postPayload(t, h, fn, []byte(payload))
	if rec.Code != http.StatusOK {
		return rec.Code, nil
	}
	var r struct{ Outputs map[string]map[string]any }
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	return rec.Code, r.Outputs["res"]
}

func TestPayloadErrors(t *testing.T) {
	big := strings.Repeat("x", 2000)
	tests := []struct {
		name       string
		fn         string
		payload    string
		fail       func(string, int) error
		wantStatus int // of the reply to the host
		wantRes    int // statusCode of res, 0 when no res
		wantSent   int
	}{
		{name: "not JSON", fn: fnMessages, payload: `{"Data":`, wantStatus: 400},
		{name: "unknown hub", fn: fnNegotiate, payload: `{"Data":{"req":{"Method":"GET","Url":"http://x/api/negotiate?hub=other","Query":{"hub":"other"}}}}`, wantStatus: 200, wantRes: 404},
		// The host passes the caller's spelling of a query parameter on.
		{name: "unknown hub, parameter in another case", fn: fnNegotiate, payload: `{"Data":{"req":{"Method":"GET","Url":"http://x/api/negotiate?HUB=other","Query":{"HUB":"other"}}}}`, wantStatus: 200, wantRes: 404},
		{name: "hub named twice in different cases", fn: fnNegotiate, payload: `{"Data":{"req":{"Method":"GET","Url":"http://x/api/negotiate","Query":{"hub":"chat","Hub":"chat"}}}}`, wantStatus: 200, wantRes: 400},
		{name: "method not allowed", fn: fnMessages, payload: `{"Data":{"req":{"Method":"GET","Url":"http://x/api/messages","Query":{}}}}`, wantStatus: 200, wantRes: 405},
		{name: "empty body", fn: fnMessages, payload: `{"Data":{"req":{"Method":"POST","Url":"http://x/api/messages","Query":{}}}}`, wantStatus: 200, wantRes: 400},
		{name: "invalid message", fn: fnMessages, payload: `{"Data":{"req":{"Method":"POST","Url":"http://x/api/messages","Body":"[{\"target\":\"a\"},{\"arguments\":[]}]"}}}`, wantStatus: 200, wantRes: 400},
		// No host sends a body as JSON: the HTTP trigger is not one.
		{name: "body as an object", fn: fnMessages, payload: `{"Data":{"req":{"Method":"POST","Url":"http://x/api/messages","Headers":{"Content-Type":["application/json"]},"Body":{"target":"a","arguments":[1]}}}}`, wantStatus: 400},
		{name: "Query as a string", fn: fnNegotiate, payload: `{"Data":{"req":{"Method":"GET","Url":"http://x/api/negotiate?hub=chat","Query":"{\"hub\":\"chat\"}"}}}`, wantStatus: 400},
		{name: "body over the limit", fn: fnMessages, payload: `{"Data":{"req":{"Method":"POST","Url":"http://x/api/messages","Body":"` + big + `"}}}`, wantStatus: 200, wantRes: 413},
		{name: "payload over the limit", fn: fnMessages, payload: `{"Data":{"req":{"Method":"POST","Url":"http://x/api/messages","Body":"` + strings.Repeat(big, 8) + `"}}}`, wantStatus: 200, wantRes: 413},
		{name: "service fails one of two", fn: fnGroups, payload: `{"Data":{"req":{"Method":"POST","Url":"http://x/api/groups","Body":"[{\"action\":\"add\",\"userId\":\"u\",\"groupName\":\"g\"},{\"action\":\"remove\",\"userId\":\"u\",\"groupName\":\"g\"}]"}}}`,
			fail: func(op string, n int) error {
				if n == 1 {
					return &bindings.Error{Op: "remove user from group", Status: 403}
				}
				return nil
			}, wantStatus: 200, wantRes: 502},
		// A queue item is a string: the host encodes it, then the payload.
		{name: "queue trigger", fn: fnMessages, payload: `{"Data":{"queueItem":"\"{\\\"target\\\":\\\"a\\\",\\\"arguments\\\":[]}\""},"Metadata":{"DequeueCount":"1","Id":"\"9d3c\""}}`, wantStatus: 200, wantSent: 1},
		{name: "queue trigger, an array of messages", fn: fnMessages, payload: `{"Data":{"queueItem":"\"[{\\\"target\\\":\\\"a\\\"},{\\\"target\\\":\\\"b\\\"}]\""}}`, wantStatus: 200, wantSent: 2},
		{name: "queue trigger, base64 bytes", fn: fnMessages, payload: `{"Data":{"queueItem":"eyJ0YXJnZXQiOiJhIn0="}}`, wantStatus: 200, wantSent: 1},
		{name: "queue trigger, invalid message fails the invocation", fn: fnMessages, payload: `{"Data":{"queueItem":"\"{\\\"arguments\\\":[]}\""}}`, wantStatus: 400},
		{name: "queue trigger, service failure fails the invocation", fn: fnMessages, payload: `{"Data":{"queueItem":"\"{\\\"target\\\":\\\"a\\\"}\""}}`,
			fail: func(string, int) error { return &bindings.Error{Status: 503} }, wantStatus: 503},
		{name: "timer trigger, the messages from an input binding", fn: fnMessages,
			payload: `{"Data":{"myTimer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":false},"payload":"\"[{\\\"target\\\":\\\"a\\\"}]\""}}`, wantStatus: 200, wantSent: 1},
		{name: "timer trigger alone", fn: fnMessages, payload: `{"Data":{"myTimer":{"Schedule":{},"IsPastDue":false}}}`, wantStatus: 400},
		{name: "no data", fn: fnGroups, payload: `{"Data":{},"Metadata":{}}`, wantStatus: 400},
		{name: "negotiate without an HTTP trigger", fn: fnNegotiate, payload: `{"Data":{"timer":{"IsPastDue":false}}}`, wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := &fakeService{fail: tt.fail}
			h := newTestHandler(t, svc, &Options{MaxBodyBytes: 1000})
			status, res := payloadOutput(t, h, tt.fn, tt.payload)
			if status != tt.wantStatus {
				t.Fatalf("status %d, want %d", status, tt.wantStatus)
			}
			got := 0
			if res != nil {
				got = int(res["statusCode"].(float64))
				if res["status"] != res["statusCode"] {
					t.Errorf("status %v differs from statusCode %v", res["status"], res["statusCode"])
				}
				if ct := res["headers"].(map[string]any)["Content-Type"]; ct != jsonContentType {
					t.Errorf("res Content-Type %v, want %s", ct, jsonContentType)
				}
			}
			if got != tt.wantRes {
				t.Errorf("res statusCode %d, want %d (res %v)", got, tt.wantRes, res)
			}
			if len(svc.sent)+len(svc.applied) != tt.wantSent && tt.fail == nil {
				t.Errorf("%d items went to the service, want %d", len(svc.sent)+len(svc.applied), tt.wantSent)
			}
		})
	}
}

func TestPayloadOwnTriggerFolders(t *testing.T) {
	tests := []struct {
		path     string
		wantCode int
		wantSent int
		wantAppl int
	}{
		{"/messages-queue", 200, 1, 0},
		{"/messages_timer", 200, 1, 0},
		{"/groups-queue", 200, 0, 1},
		{"/messagesqueue", 404, 0, 0},
		{"/messages-/x", 404, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			svc := &fakeService{}
			h := newTestHandler(t, svc, nil)
			// Unknown fields are refused: each folder gets its own kind. A
			// queue item arrives JSON-encoded twice.
			body := `{"Data":{"queueItem":"\"{\\\"target\\\":\\\"a\\\",\\\"userId\\\":\\\"u\\\"}\""}}`
			if strings.HasPrefix(tt.path, "/groups") {
				body = `{"Data":{"queueItem":"\"{\\\"action\\\":\\\"add\\\",\\\"userId\\\":\\\"u\\\",\\\"groupName\\\":\\\"g\\\"}\""}}`
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("POST", tt.path, strings.NewReader(body)))
			if rec.Code != tt.wantCode || len(svc.sent) != tt.wantSent || len(svc.applied) != tt.wantAppl {
				t.Errorf("status %d sent %d applied %d; want %d %d %d (%s)", rec.Code, len(svc.sent), len(svc.applied), tt.wantCode, tt.wantSent, tt.wantAppl, rec.Body)
			}
		})
	}
}

func TestPayloadPartialFailureBody(t *testing.T) {
	svc := &fakeService{fail: func(op string, n int) error {
		if n == 1 {
			return &bindings.Error{Op: "send to group", Status: 403, Message: "assign the SignalR REST API Owner role"}
		}
		return nil
	}}
	var handlerLog funclog.Collector
	h := newTestHandler(t, svc, &Options{Logger: slog.New(slog.NewTextHandler(&handlerLog, nil))})
	payload, err := os.ReadFile("testdata/messages.request.json")
	if err != nil {
		t.Fatal(err)
	}
	rec := postPayload(t, h, fnMessages, payload)
	var r struct {
		Outputs struct{ Res map[string]any }
		Logs    []string
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	res := r.Outputs.Res
	want := map[string]any{
		"error":         "SignalR Service did not accept 1 of 2 items",
		"correlationId": "6a1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
		"accepted":      []any{0.0},
		"failed": []any{map[string]any{"index": 1.0, "state": "refused",
			"error": "SignalR Service refused the app (403): its identity lacks a role on the resource, or a network rule blocks it; the function log has the details under this correlation id"}},
		"routes": []any{
			map[string]any{"index": 0.0, "took": []any{fakeEndpoint}, "failed": []any{}, "skipped": []any{}},
			map[string]any{"index": 1.0, "took": []any{}, "failed": []any{fakeEndpoint}, "skipped": []any{}},
		},
	}
	if diff := cmp.Diff(want, res["body"]); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	if res["statusCode"] != 502.0 {
		t.Errorf("statusCode %v, want 502", res["statusCode"])
	}
	// The detail, which names the role, is an error: it goes to the
	// handler's log, which keeps its level, and not to Logs, which the host
	// logs as information.
	logged := strings.Join(handlerLog.Lines(), "\n")
	if !strings.Contains(logged, "level=ERROR") || !strings.Contains(logged, "REST API Owner") || !strings.Contains(logged, "6a1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d") {
		t.Errorf("the handler's log lacks the service error's detail under the invocation id:\n%s", logged)
	}
	if joined := strings.Join(r.Logs, "\n"); strings.Contains(joined, "REST API Owner") {
		t.Errorf("Logs %q repeat the error", r.Logs)
	}
}

// TestPayloadOverTheLimit posts an invocation too large to read at all, so
// that neither the method nor the hub of the request is known: an HTTP
// function still answers 413 in res, and a trigger folder of the user's own
// fails the invocation with 413.
func TestPayloadOverTheLimit(t *testing.T) {
	huge := `{"Data":{"req":{"Method":"POST","Url":"http://x/api/messages","Body":"` + strings.Repeat("x", payloadOverhead+100) + `"}}}`
	tests := []struct {
		path       string
		wantStatus int // of the reply to the host
		wantRes    any // statusCode of res, nil when no res
	}{
		{"/messages", 200, 413.0},
		{"/groups", 200, 413.0},
		{"/negotiate", 200, 413.0},
		{"/messages-queue", 413, nil},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			svc := &fakeService{}
			h := newTestHandler(t, svc, &Options{MaxBodyBytes: 10})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("POST", tt.path, strings.NewReader(huge)))
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			var r struct{ Outputs map[string]map[string]any }
			if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			if got := r.Outputs["res"]["statusCode"]; got != tt.wantRes {
				t.Errorf("res statusCode %v, want %v (%s)", got, tt.wantRes, rec.Body)
			}
			if svc.calls != 0 {
				t.Errorf("%d calls reached the service, want none", svc.calls)
			}
		})
	}
}
