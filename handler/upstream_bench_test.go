package handler

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/signalr-entra/handler/settings"
	"github.com/signalr-entra/handler/upstream"
)

// These measure one awaited upstream invocation in-process: checks, decoding,
// the Go function and the framed completion, with no HTTP round trip and a
// service that does nothing. Compare BenchmarkNegotiateForwardedWarmKey.

func BenchmarkUpstreamInvocationJSON(b *testing.B) {
	h := newBenchUpstreamHandler(b, upstream.Options{AccessKeys: []settings.Secret{testAccessKey}})
	body := []byte(`{"type":1,"invocationId":"1","target":"Echo","arguments":["hi",{"n":42}]}`)
	benchmarkServe(b, h, func() *http.Request {
		return upstreamRequest("/api/upstream/chat/messages/Echo", "chat", "messages", "Echo", "application/json", body)
	})
}

func BenchmarkUpstreamInvocationMsgpack(b *testing.B) {
	h := newBenchUpstreamHandler(b, upstream.Options{AccessKeys: []settings.Secret{testAccessKey}})
	body := readTestdata(b, "echo.msgpack")
	benchmarkServe(b, h, func() *http.Request {
		return upstreamRequest("/api/upstream/chat/messages/Echo", "chat", "messages", "Echo", "application/x-msgpack", body)
	})
}

func BenchmarkUpstreamInvocationToken(b *testing.B) {
	a := newTestAuthority(b)
	h := newBenchUpstreamHandler(b, upstream.Options{Audience: testAudience, Tenant: testTenant, Identity: testObjectID,
		AuthorityHost: a.URL, HTTPClient: a.Client()})
	token := a.token(b, "key-1", serviceClaimsAt(time.Now()))
	body := []byte(`{"type":1,"invocationId":"1","target":"Echo","arguments":["hi",{"n":42}]}`)
	benchmarkServe(b, h, func() *http.Request {
		r := upstreamRequest("/api/upstream/chat/messages/Echo", "chat", "messages", "Echo", "application/json", body)
		r.Header.Del("X-ASRS-Signature")
		r.Header.Set("Authorization", "Bearer "+token)
		return r
	})
}

func BenchmarkUpstreamInvocationPayload(b *testing.B) {
	h := newBenchUpstreamHandler(b, upstream.Options{AccessKeys: []settings.Secret{testAccessKey}})
	payload := readTestdata(b, "invocation.payload.json")
	benchmarkServe(b, h, func() *http.Request {
		r := httptest.NewRequest("POST", "/upstream", bytes.NewReader(payload))
		r.Header.Set("Content-Type", "application/json")
		return r
	})
}

func newBenchUpstreamHandler(b *testing.B, up upstream.Options) *Handler {
	h := newTestHandler(b, &fakeService{}, &Options{Hubs: []string{"chat"}, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Upstream: up})
	h.HandleEvent("chat", "Echo", func(ctx context.Context, e *upstream.Event) (any, error) { return e.Arguments, nil })
	return h
}

// BenchmarkUpstreamRefusedLargeBody measures a forged upstream request
// with a body of SIGNALR_MAX_BODY_BYTES: refused on its headers, the body
// unread.
func BenchmarkUpstreamRefusedLargeBody(b *testing.B) {
	h := newBenchUpstreamHandler(b, upstream.Options{AccessKeys: []settings.Secret{testAccessKey}})
	b.ReportAllocs()
	for b.Loop() {
		req := upstreamRequest("/api/upstream/chat/messages/broadcast", "chat", "messages", "broadcast", "application/json", nil)
		req.Header.Del("X-ASRS-Signature")
		req.Body, req.ContentLength = &countingBody{left: DefaultMaxBodyBytes}, DefaultMaxBodyBytes
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
