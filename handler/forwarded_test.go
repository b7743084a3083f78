package handler

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/signalr-entra/handler/bindings"
)

func TestForwarded(t *testing.T) {
	tests := []struct {
		name       string
		opts       Options
		method     string
		target     string
		header     map[string]string
		body       string
		fail       func(string, int) error
		wantStatus int
		wantHeader map[string]string
		wantBody   string // a part of the body
	}{
		{name: "readiness", method: "GET", target: "/", wantStatus: 200},
		{name: "no such function", method: "GET", target: "/api/other", wantStatus: 404, wantBody: `"error":"no function at /api/other`},
		{name: "negotiate GET", method: "GET", target: "/api/negotiate?hub=news", wantStatus: 200,
			wantHeader: map[string]string{"Content-Type": jsonContentType, "Cache-Control": "no-store"},
			wantBody:   `{"url":"https://contoso.service.signalr.net/client/?hub=news","accessToken":"token-for-"}`},
		{name: "negotiate POST as @microsoft/signalr sends it", opts: Options{AppServiceAuthentication: true}, method: "POST", target: "/api/negotiate?negotiateVersion=1",
			header: map[string]string{"X-MS-CLIENT-PRINCIPAL-ID": "u1"}, wantStatus: 200, wantBody: `"accessToken":"token-for-u1"`},
		{name: "hub parameter in another case, as ASP.NET reads a query", method: "GET", target: "/api/negotiate?Hub=news", wantStatus: 200,
			wantBody: `{"url":"https://contoso.service.signalr.net/client/?hub=news"`},
		{name: "hub named twice in different cases", method: "GET", target: "/api/negotiate?hub=chat&HUB=news", wantStatus: 400,
			wantBody: `the query names hub 2 times: name it once`},
		{name: "negotiate unknown hub", method: "GET", target: "/api/negotiate?hub=secret", wantStatus: 404,
			wantBody: `hub \"secret\" is not served here; the hubs are chat, news (SIGNALR_HUBS)`},
		{name: "negotiate DELETE", method: "DELETE", target: "/api/negotiate", wantStatus: 405, wantHeader: map[string]string{"Allow": "GET, POST"}},
		{name: "user id header is not trusted by default", method: "GET", target: "/api/negotiate",
			header: map[string]string{"x-ms-signalr-userid": "mallory"}, wantStatus: 200, wantBody: `"accessToken":"token-for-"`},
		{name: "user id header trusted when set", opts: Options{UserIDHeader: "x-ms-signalr-userid"}, method: "GET", target: "/api/negotiate",
			header: map[string]string{"x-ms-signalr-userid": "alice"}, wantStatus: 200, wantBody: `"accessToken":"token-for-alice"`},
		{name: "principal header ignored without App Service Authentication", method: "GET", target: "/api/negotiate",
			header: map[string]string{"X-MS-CLIENT-PRINCIPAL-ID": "mallory"}, wantStatus: 200, wantBody: `"accessToken":"token-for-"`},
		{name: "App Service Authentication wins over the user id header", opts: Options{UserIDHeader: "x-ms-signalr-userid", AppServiceAuthentication: true}, method: "GET", target: "/api/negotiate",
			header: map[string]string{"x-ms-signalr-userid": "mallory", "X-MS-CLIENT-PRINCIPAL-ID": "alice"}, wantStatus: 200, wantBody: `"accessToken":"token-for-alice"`},
		{name: "negotiate service failure", method: "GET", target: "/api/negotiate",
			fail: func(string, int) error { return &bindings.Error{Op: "get the temporary access key", Status: 403} }, wantStatus: 502,
			wantBody: `"error":"SignalR Service refused the app (403): its identity lacks a role on the resource`},
		{name: "messages", method: "POST", target: "/api/messages?hub=chat", body: `[{"target":"a","arguments":[1]},{"target":"b"}]`, wantStatus: 202,
			wantBody: `{"accepted":[0,1],"routes":[{"index":0,"took":["https://contoso.service.signalr.net"],"failed":[],"skipped":[]},{"index":1,"took":["https://contoso.service.signalr.net"],"failed":[],"skipped":[]}]}`},
		{name: "route in another case, as the host matches routes", method: "POST", target: "/API/Messages?hub=chat", body: `{"target":"a"}`, wantStatus: 202},
		{name: "messages GET", method: "GET", target: "/api/messages", wantStatus: 405, wantHeader: map[string]string{"Allow": "POST"}},
		{name: "messages invalid item", method: "POST", target: "/api/messages", body: `[{"target":"a"},{"target":""}]`, wantStatus: 400, wantBody: `message 1: target is missing`},
		{name: "messages not JSON", method: "POST", target: "/api/messages", body: `hello`, wantStatus: 400},
		{name: "messages too large", opts: Options{MaxBodyBytes: 10}, method: "POST", target: "/api/messages", body: `{"target":"abcdefghijk"}`, wantStatus: 413, wantBody: `larger than 10 bytes (SIGNALR_MAX_BODY_BYTES)`},
		{name: "messages throttled", method: "POST", target: "/api/messages", body: `{"target":"a"}`,
			fail: func(string, int) error { return &bindings.Error{Status: 429} }, wantStatus: 503, wantBody: `"accepted":[]`},
		{name: "messages unreachable", method: "POST", target: "/api/messages", body: `{"target":"a"}`,
			fail: func(string, int) error { return &bindings.Error{Op: "send", Err: http.ErrHandlerTimeout} }, wantStatus: 502},
		{name: "groups", method: "POST", target: "/api/groups", body: `{"action":"Add","connectionId":"c1","groupName":"g"}`, wantStatus: 202},
		{name: "groups invalid action", method: "POST", target: "/api/groups", body: `{"action":"join","connectionId":"c1","groupName":"g"}`, wantStatus: 400, wantBody: `group action 0`},
		{name: "payload route refuses GET", method: "GET", target: "/negotiate", wantStatus: 405},
		{name: "preflight from a loopback page, standalone", opts: Options{Standalone: true}, method: "OPTIONS", target: "/api/negotiate?negotiateVersion=1",
			header:     map[string]string{"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-requested-with,x-signalr-user-agent"},
			wantStatus: 204, wantHeader: map[string]string{"Access-Control-Allow-Origin": "http://localhost:5173", "Access-Control-Allow-Credentials": "true",
				"Access-Control-Allow-Headers": "x-requested-with,x-signalr-user-agent", "Access-Control-Allow-Methods": "GET, POST, OPTIONS", "Vary": "Origin"}},
		{name: "preflight from another site, standalone", opts: Options{Standalone: true}, method: "OPTIONS", target: "/api/negotiate",
			header: map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}, wantStatus: 403,
			wantHeader: map[string]string{"Access-Control-Allow-Origin": ""}},
		{name: "preflight from a configured origin", opts: Options{CORSOrigins: []string{"https://app.contoso.example"}}, method: "OPTIONS", target: "/api/negotiate",
			header: map[string]string{"Origin": "https://APP.contoso.example", "Access-Control-Request-Method": "POST"}, wantStatus: 204,
			wantHeader: map[string]string{"Access-Control-Allow-Origin": "https://APP.contoso.example", "Access-Control-Allow-Credentials": "true"}},
		{name: "loopback not allowed by default under the host", method: "OPTIONS", target: "/api/negotiate",
			header: map[string]string{"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"}, wantStatus: 403},
		{name: "any origin, without credentials", opts: Options{CORSOrigins: []string{"*"}}, method: "POST", target: "/api/negotiate",
			header: map[string]string{"Origin": "https://x.example"}, wantStatus: 200,
			wantHeader: map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Credentials": ""}},
		{name: "negotiate from a loopback page", opts: Options{Standalone: true}, method: "POST", target: "/api/negotiate",
			header: map[string]string{"Origin": "http://127.0.0.1:8080"}, wantStatus: 200,
			wantHeader: map[string]string{"Access-Control-Allow-Origin": "http://127.0.0.1:8080", "Access-Control-Allow-Credentials": "true"}},
		{name: "messages from another site refused standalone", opts: Options{Standalone: true}, method: "POST", target: "/api/messages",
			header: map[string]string{"Origin": "https://evil.example", "Content-Type": "text/plain"}, body: `{"target":"a"}`, wantStatus: 403},
		{name: "messages from another site under the host (function key guards it)", method: "POST", target: "/api/messages",
			header: map[string]string{"Origin": "https://evil.example"}, body: `{"target":"a"}`, wantStatus: 202},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := &fakeService{fail: tt.fail}
			h := newTestHandler(t, svc, &tt.opts)
			req := httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body))
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Errorf("status %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			for k, v := range tt.wantHeader {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("body %s, want it to contain %s", rec.Body, tt.wantBody)
			}
			if rec.Code >= 400 && tt.method != "OPTIONS" {
				var e errorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" || e.CorrelationID == "" {
					t.Errorf("error body %s lacks error or correlationId (%v)", rec.Body, err)
				}
			}
		})
	}
}

func TestForwardedItemsAndHub(t *testing.T) {
	svc := &fakeService{}
	h := newTestHandler(t, svc, nil)
	body := `[{"target":"a","arguments":[1]},{"groupName":"g","target":"b","arguments":["x"]},{"userId":"u","target":"c"}]`
	req := httptest.NewRequest("POST", "/api/messages?hub=NEWS", strings.NewReader(body))
	h.ServeHTTP(httptest.NewRecorder(), req)
	var targets []string
	for _, m := range svc.sent {
		targets = append(targets, m.Target)
	}
	// Items to different addresses go out at once, in any order.
	slices.Sort(targets)
	if diff := cmp.Diff([]string{"a", "b", "c"}, targets); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"news", "news", "news"}, svc.hubs); diff != "" {
		t.Errorf("hubs, in the configured spelling (-want +got):\n%s", diff)
	}
}

// panickyHandler is a log handler that panics on one message, to make a
// panic happen after the reply was written.
type panickyHandler struct {
	slog.Handler
	msg string
}

func (p panickyHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == p.msg {
		panic("boom after the reply")
	}
	return p.Handler.Handle(ctx, r)
}

func (p panickyHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return panickyHandler{p.Handler.WithAttrs(as), p.msg}
}

func TestPanicAfterTheReplyAddsNoSecondReply(t *testing.T) {
	var logs strings.Builder
	log := slog.New(panickyHandler{newTextLogger(&logs).Handler(), "invocation done"})
	srv := httptest.NewServer(newTestHandler(t, &fakeService{}, &Options{Logger: log}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/negotiate")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.Contains(string(body), "internal error") {
		t.Errorf("reply %d %s: want the negotiate reply alone", resp.StatusCode, body)
	}
	// The reply goes out before the log record: wait for the request to end.
	srv.Close()
	if !strings.Contains(logs.String(), "panic while serving a request") {
		t.Errorf("log %q lacks the panic line", logs.String())
	}
}

func TestPanicBecomes500(t *testing.T) {
	var logs strings.Builder
	svc := &fakeService{onCall: func() { panic("boom") }}
	h := newTestHandler(t, svc, &Options{Logger: newTextLogger(&logs)})
	req := httptest.NewRequest("GET", "/api/negotiate", nil)
	req.Header.Set(invocationIDHeader, "inv-1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 500 {
		t.Fatalf("status %d, want 500", rec.Code)
	}
	if diff := cmp.Diff(`{"error":"internal error","correlationId":"inv-1"}`, rec.Body.String()); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	if !strings.Contains(logs.String(), "panic") || !strings.Contains(logs.String(), "inv-1") {
		t.Errorf("log %q lacks the panic line", logs.String())
	}
	// The handler still serves after the panic.
	svc.onCall = nil
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/negotiate", nil))
	if rec.Code != 200 {
		t.Errorf("status after a panic %d, want 200", rec.Code)
	}
}
