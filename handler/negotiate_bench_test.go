package handler

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"testing"

	"github.com/signalr-entra/handler/bindings"
	"github.com/signalr-entra/handler/emulator"
	"github.com/signalr-entra/handler/internal/hostproto"
	"github.com/signalr-entra/handler/settings"
)

// These measure one whole negotiate in-process (routing, identity, signing
// with a warm Entra key, JSON reply) with no HTTP round trip, so that
// -benchmem reports the allocations of a negotiate itself. make bench runs
// them; the HTTP throughput is measured there against the real binaries.

// BenchmarkNegotiateForwardedWarmKey sends the browser's negotiate of
// BenchmarkNegotiatePayloadWarmKey as the host forwards it: the same
// headers, cookies and all.
func BenchmarkNegotiateForwardedWarmKey(b *testing.B) {
	h := newWarmHandler(b)
	payload := readBrowserNegotiate(b)
	headers := browserHeaders(b, payload)
	benchmarkServe(b, h, func() *http.Request {
		r := httptest.NewRequest("POST", "/api/negotiate?hub=chat&negotiateVersion=1", nil)
		maps.Copy(r.Header, headers)
		return r
	})
}

// BenchmarkNegotiateForwardedOnce serves one request, built once, over and
// over: what net/http hands the handler, so that a profile shows the
// handler's own work without the building and copying of the browser's
// headers, which BenchmarkNegotiateForwardedWarmKey repeats each time.
func BenchmarkNegotiateForwardedOnce(b *testing.B) {
	h := newWarmHandler(b)
	r := httptest.NewRequest("POST", "/api/negotiate?hub=chat&negotiateVersion=1", nil)
	maps.Copy(r.Header, browserHeaders(b, readBrowserNegotiate(b)))
	benchmarkServe(b, h, func() *http.Request { return r })
}

// BenchmarkNegotiatePayloadWarmKey posts what the host posts for a
// browser's negotiate (negotiate_browser: cookies, front-end headers, the
// function key's identity; 5 KB).
func BenchmarkNegotiatePayloadWarmKey(b *testing.B) {
	h := newWarmHandler(b)
	payload := readBrowserNegotiate(b)
	benchmarkServe(b, h, func() *http.Request {
		r := httptest.NewRequest("POST", "/negotiate", bytes.NewReader(payload))
		r.Header.Set("Content-Type", "application/json")
		return r
	})
}

func readBrowserNegotiate(b *testing.B) []byte {
	payload, err := os.ReadFile("testdata/negotiate_browser.request.json")
	if err != nil {
		b.Fatal(err)
	}
	return payload
}

// browserHeaders are the request headers of a payload, as the host would
// forward them.
func browserHeaders(b *testing.B, payload []byte) http.Header {
	var p struct {
		Data struct{ Req struct{ Headers http.Header } }
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		b.Fatal(err)
	}
	h := http.Header{}
	for k, vs := range p.Data.Req.Headers {
		h[http.CanonicalHeaderKey(k)] = vs
	}
	return h
}

func benchmarkServe(b *testing.B, h http.Handler, req func() *http.Request) {
	serve := func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req())
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	serve() // fetches the temporary key
	b.ReportAllocs()
	for b.Loop() {
		serve()
	}
}

// newWarmHandler is the handler over a bindings.Client in Entra mode,
// authenticated as the stand-in's system-assigned identity (SignalR Service
// Owner), logging nowhere.
func newWarmHandler(b *testing.B) *Handler {
	emu, err := emulator.NewServer(&emulator.Options{SystemIdentityRoles: []emulator.Role{emulator.ServiceOwner}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(emu.Close)
	u, err := url.Parse(emu.URL)
	if err != nil {
		b.Fatal(err)
	}
	id := emu.SystemIdentity()
	client, err := bindings.New(settings.Configs([]settings.Endpoint{{
		Setting:    "AzureSignalRConnectionString",
		ServiceURI: u,
		Type:       settings.Primary,
		Credential: emu.Credential(id.ObjectID),
		Auth:       settings.Auth{Kind: "ManagedIdentityCredential"},
		Scope:      settings.DefaultScope,
	}}), &bindings.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { client.Close() })
	return newTestHandler(b, client, &Options{Hubs: []string{"chat"}, ClaimTypes: []string{"name"}, UserIDHeader: "x-ms-signalr-userid"})
}

// BenchmarkDecodeBrowserNegotiate reads a browser's negotiate payload as
// negotiate does; BenchmarkValidBrowserNegotiate is what encoding/json
// spends only to check the same payload, which the decoder it replaced did
// before decoding.
func BenchmarkDecodeBrowserNegotiate(b *testing.B) {
	payload := readBrowserNegotiate(b)
	n := &hostproto.Needs{Query: []string{"hub"}, Headers: []string{"Origin", "X-Ms-Signalr-Userid"}}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := hostproto.DecodeInvocation(payload, n); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidBrowserNegotiate(b *testing.B) {
	payload := readBrowserNegotiate(b)
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if !json.Valid(payload) {
			b.Fatal("invalid")
		}
	}
}
