package handler

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/signalr-entra/handler/bindings"
	"github.com/signalr-entra/handler/settings"
	"github.com/signalr-entra/handler/upstream"
)

const testAccessKey = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg="

// signature is X-ASRS-Signature for one key, as the service computes it:
// upper-case hex, as .NET's BitConverter writes it.
func signature(connectionID, key string) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(connectionID))
	return "sha256=" + strings.ToUpper(hex.EncodeToString(mac.Sum(nil)))
}

// upstreamRequest builds an upstream request as the service sends it,
// signed with testAccessKey.
func upstreamRequest(target, hub, category, event, contentType string, body []byte) *http.Request {
	req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-ASRS-Connection-Id", "conn-1")
	req.Header.Set("X-ASRS-Hub", hub)
	req.Header.Set("X-ASRS-Category", category)
	req.Header.Set("X-ASRS-Event", event)
	req.Header.Set("X-ASRS-User-Id", "alice")
	req.Header.Set("X-ASRS-User-Claims", "name: Alice, role: admin, role: user")
	req.Header.Set("X-ASRS-Client-Query", "?room=a&room=b&lang=en")
	req.Header.Set("X-ASRS-Signature", signature("conn-1", "secondary-key")+", "+signature("conn-1", testAccessKey))
	return req
}

// msgpackCompletion is the MessagePack completion the service passes on.
func msgpackCompletion(invocationID string, result json.RawMessage, errMsg string) []byte {
	b, _ := upstream.Completion(invocationID, result, errMsg, true)
	return b
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../upstream/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newUpstreamHandler(t *testing.T, svc Service, log *slog.Logger) *Handler {
	t.Helper()
	if log == nil {
		log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	return newTestHandler(t, svc, &Options{Logger: log, Upstream: upstream.Options{AccessKeys: []settings.Secret{testAccessKey}}})
}

func TestUpstreamForwarded(t *testing.T) {
	connected := []byte(`{"type":10}`)
	echo := []byte(`{"type":1,"invocationId":"1","target":"Echo","arguments":["hi",42]}`)
	tests := []struct {
		name        string
		target      string
		hub         string
		category    string
		event       string
		contentType string
		body        []byte
		change      func(*http.Request)
		wantStatus  int
		wantBody    []byte // nil for an empty body
		wantEvent   *upstream.Event
	}{
		{name: "connected", target: "/api/upstream/chat/connections/connected", hub: "chat", category: "connections", event: "connected",
			contentType: "application/json", body: connected, wantStatus: 200,
			wantEvent: &upstream.Event{Hub: "chat", Category: "connections", Event: "connected", ConnectionID: "conn-1", UserID: "alice",
				Claims: map[string]string{"name": "Alice", "role": "admin"}, Query: map[string]string{"room": "a,b", "lang": "en"}}},
		{name: "disconnected with an error, names in any case", target: "/api/upstream", hub: "CHAT", category: "Connections", event: "Disconnected",
			contentType: "application/json; charset=utf-8", body: []byte(`{"Type":11,"Error":"connection reset"}`), wantStatus: 200,
			wantEvent: &upstream.Event{Hub: "chat", Category: "connections", Event: "disconnected", ConnectionID: "conn-1", UserID: "alice",
				Claims: map[string]string{"name": "Alice", "role": "admin"}, Query: map[string]string{"room": "a,b", "lang": "en"}, Error: "connection reset"}},
		{name: "awaited JSON invocation gets its completion", target: "/API/Upstream/any/path", hub: "chat", category: "messages", event: "Echo",
			contentType: "application/json", body: echo, wantStatus: 200,
			wantBody: []byte(`{"type":3,"invocationId":"1","result":{"echo":["hi",42]}}` + "\x1e")},
		{name: "awaited MessagePack invocation gets a MessagePack completion", target: "/api/upstream", hub: "chat", category: "messages", event: "Echo",
			contentType: "application/x-msgpack", body: readTestdata(t, "echo.msgpack"), wantStatus: 200,
			wantBody: msgpackCompletion("1", json.RawMessage(`{"echo":["hi",42,-3,1.5,true,null,"AQID",{"a":[1,"x"]}]}`), "")},
		{name: "invocation nobody awaits", target: "/api/upstream", hub: "chat", category: "messages", event: "send",
			contentType: "application/x-msgpack", body: readTestdata(t, "send.msgpack"), wantStatus: 200},
		{name: "the function's error fails the awaited call", target: "/api/upstream", hub: "chat", category: "messages", event: "fail",
			contentType: "application/json", body: []byte(`{"type":1,"invocationId":"7","target":"fail","arguments":[]}`), wantStatus: 200,
			wantBody: []byte(`{"type":3,"invocationId":"7","error":"boom"}` + "\x1e")},
		{name: "no function: completes with no result", target: "/api/upstream", hub: "news", category: "messages", event: "other",
			contentType: "application/json", body: []byte(`{"type":1,"invocationId":"2","target":"other","arguments":[1]}`), wantStatus: 200},
		{name: "connected refused by its function", target: "/api/upstream", hub: "news", category: "connections", event: "connected",
			contentType: "application/json", body: connected, wantStatus: 403},
		{name: "connected without a body", target: "/api/upstream", hub: "chat", category: "connections", event: "Connected",
			contentType: "application/json", body: nil, wantStatus: 200,
			wantEvent: &upstream.Event{Hub: "chat", Category: "connections", Event: "connected", ConnectionID: "conn-1", UserID: "alice",
				Claims: map[string]string{"name": "Alice", "role": "admin"}, Query: map[string]string{"room": "a,b", "lang": "en"}}},
		{name: "invocation without a body", target: "/api/upstream", hub: "chat", category: "messages", event: "Echo",
			contentType: "application/json", body: nil, wantStatus: 400},
		{name: "wrong content type", target: "/api/upstream", hub: "chat", category: "messages", event: "Echo",
			contentType: "text/plain", body: echo, wantStatus: 415},
		{name: "missing hub header", target: "/api/upstream", hub: "", category: "messages", event: "Echo",
			contentType: "application/json", body: echo, wantStatus: 400},
		{name: "hub not served", target: "/api/upstream", hub: "secret", category: "messages", event: "Echo",
			contentType: "application/json", body: echo, wantStatus: 404},
		{name: "target is not the event", target: "/api/upstream", hub: "chat", category: "messages", event: "Other",
			contentType: "application/json", body: echo, wantStatus: 400},
		{name: "record separator", target: "/api/upstream", hub: "chat", category: "messages", event: "Echo",
			contentType: "application/json", body: append(echo, 0x1e), wantStatus: 400},
		{name: "length-prefixed MessagePack", target: "/api/upstream", hub: "chat", category: "messages", event: "send",
			contentType: "application/x-msgpack", body: append([]byte{0x11}, readTestdata(t, "send.msgpack")...), wantStatus: 400},
		{name: "connected with an invocation body", target: "/api/upstream", hub: "chat", category: "connections", event: "connected",
			contentType: "application/json", body: echo, wantStatus: 400},
		{name: "unknown category", target: "/api/upstream", hub: "chat", category: "server", event: "x",
			contentType: "application/json", body: echo, wantStatus: 400},
		{name: "GET", target: "/api/upstream", hub: "chat", category: "messages", event: "Echo", contentType: "application/json", body: echo,
			change: func(r *http.Request) { r.Method = http.MethodGet }, wantStatus: 405},
		{name: "no signature", target: "/api/upstream", hub: "chat", category: "messages", event: "Echo", contentType: "application/json", body: echo,
			change: func(r *http.Request) { r.Header.Del("X-ASRS-Signature") }, wantStatus: 401},
		{name: "signature of another connection", target: "/api/upstream", hub: "chat", category: "messages", event: "Echo", contentType: "application/json", body: echo,
			change: func(r *http.Request) { r.Header.Set("X-ASRS-Signature", signature("conn-2", testAccessKey)) }, wantStatus: 401},
		{name: "signature of another key", target: "/api/upstream", hub: "chat", category: "messages", event: "Echo", contentType: "application/json", body: echo,
			change: func(r *http.Request) { r.Header.Set("X-ASRS-Signature", signature("conn-1", "other")) }, wantStatus: 401},
		{name: "refused before the hub is looked at", target: "/api/upstream", hub: "secret", category: "messages", event: "Echo", contentType: "text/plain", body: echo,
			change: func(r *http.Request) { r.Header.Del("X-ASRS-Signature") }, wantStatus: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := &fakeService{}
			h := newUpstreamHandler(t, svc, nil)
			var got *upstream.Event
			record := func(ctx context.Context, e *upstream.Event) (any, error) { got = e; return nil, nil }
			h.HandleEvent("chat", "connected", record)
			h.HandleEvent("chat", "disconnected", record)
			h.HandleEvent("chat", "send", record)
			h.HandleEvent("chat", "echo", func(ctx context.Context, e *upstream.Event) (any, error) {
				return map[string]any{"echo": e.Arguments}, nil
			})
			h.HandleEvent("chat", "fail", func(ctx context.Context, e *upstream.Event) (any, error) { return nil, errors.New("boom") })
			h.HandleEvent("news", "connected", func(ctx context.Context, e *upstream.Event) (any, error) { return nil, errors.New("not today") })
			req := upstreamRequest(tt.target, tt.hub, tt.category, tt.event, tt.contentType, tt.body)
			if tt.change != nil {
				tt.change(req)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %q", rec.Code, tt.wantStatus, rec.Body)
			}
			if rec.Code < 300 || rec.Code == 401 || rec.Code == 403 {
				if diff := cmp.Diff(tt.wantBody, rec.Body.Bytes(), cmp.Comparer(bytes.Equal)); diff != "" {
					t.Errorf("body (-want +got):\n%s", diff)
				}
			}
			if tt.wantEvent != nil {
				if got == nil {
					t.Fatal("the function did not run")
				}
				if diff := cmp.Diff(tt.wantEvent, got, cmpopts.IgnoreUnexported(upstream.Event{})); diff != "" {
					t.Errorf("event (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestUpstreamRefusedWithoutConfiguration(t *testing.T) {
	var logs bytes.Buffer
	h := newTestHandler(t, &fakeService{}, &Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	called := false
	h.HandleEvent("chat", "connected", func(ctx context.Context, e *upstream.Event) (any, error) { called = true; return nil, nil })
	for range 3 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, upstreamRequest("/api/upstream", "chat", "connections", "connected", "application/json", []byte(`{"type":10}`)))
		if rec.Code != 401 || rec.Body.Len() != 0 {
			t.Errorf("status %d body %q, want 401 and no body", rec.Code, rec.Body)
		}
	}
	if called {
		t.Error("the function ran for a refused request")
	}
	if n := strings.Count(logs.String(), "Set SIGNALR_UPSTREAM_AUDIENCE"); n != 1 {
		t.Errorf("the log names what to set %d times, want once:\n%s", n, logs.String())
	}
}

func TestUpstreamEventHelpersUseTheCallingConnection(t *testing.T) {
	svc := &fakeService{}
	h := newUpstreamHandler(t, svc, nil)
	h.HandleEvent("chat", "join", func(ctx context.Context, e *upstream.Event) (any, error) {
		var group string
		if err := e.Argument(0, &group); err != nil {
			return nil, err
		}
		if err := e.AddToGroup(ctx, group); err != nil {
			return nil, err
		}
		if err := e.Apply(ctx, bindings.GroupAction{Action: bindings.ActionAdd, UserID: e.UserID, GroupName: group + "-members"}); err != nil {
			return nil, err
		}
		return nil, e.Send(ctx, bindings.Message{GroupName: group, Target: "joined", Arguments: json.RawMessage(`["` + e.UserID + `"]`)})
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, upstreamRequest("/api/upstream", "Chat", "messages", "join", "application/json", []byte(`{"type":1,"target":"join","arguments":["room1"]}`)))
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if diff := cmp.Diff([]bindings.GroupAction{{Action: bindings.ActionAdd, ConnectionID: "conn-1", GroupName: "room1"},
		{Action: bindings.ActionAdd, UserID: "alice", GroupName: "room1-members"}}, svc.applied); diff != "" {
		t.Errorf("group actions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]bindings.Message{{GroupName: "room1", Target: "joined", Arguments: json.RawMessage(`["alice"]`)}}, svc.sent); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"chat", "chat", "chat"}, svc.hubs); diff != "" {
		t.Errorf("hubs (-want +got):\n%s", diff)
	}
}

func TestHandleEventPanics(t *testing.T) {
	h := newUpstreamHandler(t, &fakeService{}, nil)
	fn := func(ctx context.Context, e *upstream.Event) (any, error) { return nil, nil }
	h.HandleEvent("chat", "send", fn)
	for name, register := range map[string]func(){
		"hub not served": func() { h.HandleEvent("other", "send", fn) },
		"empty event":    func() { h.HandleEvent("chat", "", fn) },
		"nil function":   func() { h.HandleEvent("chat", "x", nil) },
		"twice":          func() { h.HandleEvent("CHAT", "Send", fn) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			register()
		})
	}
}

// payloadReply posts an invocation payload from testdata to /upstream and
// returns the res output and the events output.
func upstreamPayload(t *testing.T, h http.Handler, file string, change func(map[string]any)) (res map[string]any, events any) {
	t.Helper()
	raw := readTestdata(t, file)
	if change != nil {
		var p map[string]any
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
		change(p["Data"].(map[string]any)["req"].(map[string]any))
		raw, _ = json.Marshal(p)
	}
	rec := postPayload(t, h, "upstream", raw)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var r struct{ Outputs map[string]any }
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	res, _ = r.Outputs["res"].(map[string]any)
	return res, r.Outputs["events"]
}

func TestUpstreamPayload(t *testing.T) {
	var logs bytes.Buffer
	h := newTestHandler(t, &fakeService{}, &Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
		Upstream: upstream.Options{AccessKeys: []settings.Secret{testAccessKey}}})
	h.HandleEvent("chat", "Echo", func(ctx context.Context, e *upstream.Event) (any, error) { return e.Arguments, nil })

	t.Run("invocation", func(t *testing.T) {
		res, events := upstreamPayload(t, h, "invocation.payload.json", nil)
		// The body is a string, which the host writes out unchanged.
		if diff := cmp.Diff(map[string]any{"statusCode": 200.0, "status": 200.0,
			"body":    `{"type":3,"invocationId":"1","result":["hi",{"n":42}]}` + "\x1e",
			"headers": map[string]any{"Content-Type": "application/json"}}, res); diff != "" {
			t.Errorf("res (-want +got):\n%s", diff)
		}
		s, ok := events.(string)
		if !ok {
			t.Fatalf("events output %v, want a JSON string", events)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(s), &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"hub": "chat", "category": "messages", "event": "Echo", "connectionId": "Xz8yQ3m1T0aB2cD4eF6gHw02e4d1a7c1",
			"userId": "alice", "claims": map[string]any{"asrs.s.uid": "alice", "name": "Alice Example"}, "query": map[string]any{"room": "lobby"},
			"arguments": []any{"hi", map[string]any{"n": 42.0}}, "invocationId": "1", "error": ""}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("event (-want +got):\n%s", diff)
		}
	})
	t.Run("connected", func(t *testing.T) {
		res, events := upstreamPayload(t, h, "connected.payload.json", nil)
		if res["statusCode"] != 200.0 || res["body"] != "" {
			t.Errorf("res %v, want 200 and an empty body", res)
		}
		if s, _ := events.(string); !strings.Contains(s, `"event":"connected"`) {
			t.Errorf("events output %v", events)
		}
	})
	t.Run("refused: nothing reaches events", func(t *testing.T) {
		res, events := upstreamPayload(t, h, "invocation.payload.json", func(req map[string]any) {
			req["Headers"].(map[string]any)["X-ASRS-Signature"] = []any{signature("other", testAccessKey)}
		})
		if res["statusCode"] != 401.0 || res["body"] != "" {
			t.Errorf("res %v, want 401 with no body", res)
		}
		if events != nil {
			t.Errorf("events output %v for a refused request", events)
		}
	})
	t.Run("hub not served: nothing reaches events", func(t *testing.T) {
		res, events := upstreamPayload(t, h, "connected.payload.json", func(req map[string]any) {
			req["Headers"].(map[string]any)["X-ASRS-Hub"] = []any{"other"}
		})
		if res["statusCode"] != 404.0 || events != nil {
			t.Errorf("res %v events %v, want 404 and no events", res, events)
		}
	})
	t.Run("MessagePack cannot pass payload mode", func(t *testing.T) {
		res, events := upstreamPayload(t, h, "msgpack.payload.json", nil)
		if res["statusCode"] != 415.0 || events != nil {
			t.Errorf("res %v events %v, want 415 and no events", res, events)
		}
		if !strings.Contains(logs.String(), "enableForwardingHttpRequest") {
			t.Errorf("the log does not say how to serve MessagePack clients:\n%s", logs.String())
		}
	})
}

// An upstream body over SIGNALR_MAX_BODY_BYTES is refused with 413, not
// read whole: the limit of messages and groups holds here too.
func TestUpstreamBodyOverTheLimit(t *testing.T) {
	h := newTestHandler(t, &fakeService{}, &Options{
		MaxBodyBytes: 64,
		Upstream:     upstream.Options{AccessKeys: []settings.Secret{testAccessKey}},
	})
	body := []byte(`{"type":1,"target":"send","arguments":["` + strings.Repeat("x", 100) + `"]}`)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, upstreamRequest("/api/upstream", "chat", "messages", "send", "application/json", body))
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "SIGNALR_MAX_BODY_BYTES") {
		t.Fatalf("status %d, body %s; want 413 naming SIGNALR_MAX_BODY_BYTES", rec.Code, rec.Body.String())
	}
}
