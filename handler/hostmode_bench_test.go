package handler

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"testing"

	"github.com/signalr-entra/handler/internal/funchost"
	"github.com/signalr-entra/handler/settings"
	"github.com/signalr-entra/handler/upstream"
)

// BenchmarkHostMode is the handler's cost of one request in each mode the
// Functions host may hand it over: from the request's bytes, exactly as
// internal/funchost (the host's rule and wire format) writes them, to the
// reply — reading the request, the function against a fake service, and
// the reply. make bench reports payload and forwarded against proxied.
func BenchmarkHostMode(b *testing.B) {
	app, err := funchost.LoadRepo("..")
	if err != nil {
		b.Fatal(err)
	}
	forwarding := *app
	forwarding.Proxying, forwarding.Forwarding = false, true
	modes := []struct {
		name string
		app  *funchost.App
	}{
		{"payload", app.WithProxying(false)},
		{"forwarded", &forwarding},
		{"proxied", app.WithProxying(true)},
	}
	browser := readBrowserNegotiate(b)
	headers := browserHeaders(b, browser)
	calls := []struct {
		name string
		want int
		req  func(base string) *http.Request
	}{
		{"negotiate", http.StatusOK, func(base string) *http.Request {
			r, _ := http.NewRequest("POST", base+"/api/negotiate?hub=chat&negotiateVersion=1", nil)
			maps.Copy(r.Header, headers)
			r.Header.Del("Host")
			return r
		}},
		{"messages", http.StatusAccepted, func(base string) *http.Request {
			r, _ := http.NewRequest("POST", base+"/api/messages?hub=chat", strings.NewReader(`[{"target":"newMessage","arguments":["hello <b>"]},{"userId":"ada","target":"newMessage","arguments":[{"text":"hi ada"}]}]`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}},
		{"upstream", http.StatusOK, func(base string) *http.Request {
			url := base + "/api/upstream-direct/chat/messages/broadcast"
			body := []byte(`{"type":1,"invocationId":"7","target":"broadcast","arguments":["hi",{"n":42}]}`)
			r, _ := http.NewRequest("POST", url, bytes.NewReader(body))
			r.Header = upstreamRequest(url, "chat", "messages", "broadcast", "application/json", body).Header.Clone()
			return r
		}},
	}
	h, err := New(&fakeService{}, &Options{
		Hubs:         []string{"chat"},
		UserIDHeader: "x-ms-signalr-userid",
		Logger:       slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Upstream:     upstream.Options{AccessKeys: []settings.Secret{testAccessKey}},
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range calls {
		for _, m := range modes {
			raw := captureHostRequest(b, m.app, c.req)
			b.Run(c.name+"/"+m.name, func(b *testing.B) {
				serve := func() {
					req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
					if err != nil {
						b.Fatal(err)
					}
					w := httptest.NewRecorder()
					h.ServeHTTP(w, req)
					if w.Code != http.StatusOK && w.Code != c.want {
						b.Fatalf("status %d: %s", w.Code, w.Body)
					}
				}
				serve()
				b.ReportAllocs()
				for b.Loop() {
					serve()
				}
			})
		}
	}
}

// captureHostRequest returns the bytes of the request the host stand-in
// sends the handler for the caller's request.
func captureHostRequest(b *testing.B, app *funchost.App, req func(base string) *http.Request) []byte {
	b.Helper()
	var raw []byte
	worker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var err error
		if raw, err = httputil.DumpRequest(r, true); err != nil {
			b.Error(err)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"Outputs":{},"Logs":[],"ReturnValue":null}`)
	}))
	defer worker.Close()
	host, err := funchost.New(app, worker.URL)
	if err != nil {
		b.Fatal(err)
	}
	front := httptest.NewServer(host)
	defer front.Close()
	resp, err := http.DefaultClient.Do(req(front.URL))
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if raw == nil {
		b.Fatal("the host sent the handler nothing")
	}
	return raw
}
