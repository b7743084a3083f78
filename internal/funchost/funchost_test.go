package funchost

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fn(bindings ...Binding) *Function { return &Function{Name: "f", Bindings: bindings} }

var (
	httpIn  = Binding{Type: "httpTrigger", Direction: "in", Name: "req"}
	httpOut = Binding{Type: "http", Direction: "out", Name: "res"}
)

// The rule of FunctionMetadataExtensions.IsHttpInAndOutFunction over
// FunctionMetadata's InputBindings (direction not out) and OutputBindings
// (direction not in).
func TestHTTPOnly(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    *Function
		want bool
	}{
		{"trigger and http output", fn(httpIn, httpOut), true},
		{"$return output", fn(httpIn, Binding{Type: "http", Direction: "out", Name: "$return"}), true},
		{"types in any case", fn(Binding{Type: "HTTPTRIGGER", Direction: "IN"}, Binding{Type: "Http", Direction: "Out"}), true},
		{"direction missing counts as in", fn(Binding{Type: "httpTrigger"}, httpOut), true},
		{"a queue output beside", fn(httpIn, httpOut, Binding{Type: "queue", Direction: "out", Name: "events"}), false},
		{"a blob input beside", fn(httpIn, httpOut, Binding{Type: "blob", Direction: "in", Name: "b"}), false},
		{"inout counts as input and output", fn(httpIn, httpOut, Binding{Type: "blob", Direction: "inout"}), false},
		{"no http output", fn(httpIn), false},
		{"queue trigger", fn(Binding{Type: "queueTrigger", Direction: "in"}, httpOut), false},
	} {
		if got := tc.f.HTTPOnly(); got != tc.want {
			t.Errorf("%s: HTTPOnly = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestModeFollowsInvokeAsync(t *testing.T) {
	only, queued := fn(httpIn, httpOut), fn(httpIn, httpOut, Binding{Type: "queue", Direction: "out"})
	for _, tc := range []struct {
		opts         Options
		only, queued Mode
	}{
		{Options{}, Payload, Payload},
		{Options{Forwarding: true}, Forwarded, Payload},
		{Options{Proxying: true}, Proxied, Payload},
		{Options{Forwarding: true, Proxying: true}, Proxied, Payload},
		{Options{LegacyHTTPWorker: true}, Forwarded, Payload},
	} {
		app := &App{Options: tc.opts}
		if got := app.Mode(only); got != tc.only {
			t.Errorf("%+v: HTTP-only function %v, want %v", tc.opts, got, tc.only)
		}
		if got := app.Mode(queued); got != tc.queued {
			t.Errorf("%+v: function with a queue output %v, want %v", tc.opts, got, tc.queued)
		}
	}
}

func TestReadHostJSON(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("host.json", `{"version":"2.0","CustomHandler":{"description":{"defaultExecutablePath":"handler"},"EnableProxyingHttpRequest":true},"extensions":{"http":{"routePrefix":"v1"}}}`)
	write("negotiate/function.json", `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req"},{"type":"http","direction":"out","name":"res"}]}`)
	app, err := LoadAppRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !app.Proxying || app.Forwarding || app.RoutePrefix != "v1" || len(app.Functions) != 1 || app.Functions[0].Name != "negotiate" {
		t.Fatalf("app = %+v", app)
	}
	if f, _ := app.match("/V1/Negotiate", "GET"); f == nil {
		t.Error("route prefix and function name did not match in another case")
	}
}

func TestMatchRoutes(t *testing.T) {
	app := &App{Options: Options{RoutePrefix: "api"}, Functions: []*Function{
		{Name: "negotiate", Bindings: []Binding{{Type: "httpTrigger", Methods: []string{"get", "post"}}, httpOut}},
		{Name: "upstream", Bindings: []Binding{{Type: "httpTrigger", Route: "upstream/{*path}"}, httpOut}},
		{Name: "direct", Bindings: []Binding{{Type: "httpTrigger", Route: "upstream/direct/{*path}"}, httpOut}},
	}}
	for _, tc := range []struct{ path, method, want, param string }{
		{"/api/negotiate", "POST", "negotiate", ""},
		{"/api/negotiate", "DELETE", "", ""},
		{"/negotiate", "GET", "", ""},
		{"/api/upstream", "POST", "upstream", ""},
		{"/api/upstream/chat/messages/broadcast", "POST", "upstream", "chat/messages/broadcast"},
		{"/api/upstream/direct/chat", "POST", "direct", "chat"},
	} {
		f, params := app.match(tc.path, tc.method)
		got := ""
		if f != nil {
			got = f.Name
		}
		if got != tc.want || params["path"] != tc.param {
			t.Errorf("%s %s: %q %v, want %q path=%q", tc.method, tc.path, got, params, tc.want, tc.param)
		}
	}
}

// seen is what a handler received.
type seen struct {
	path, query string
	header      http.Header
	host        string
	body        string
}

func recorder(t *testing.T, reply func(w http.ResponseWriter, r *http.Request)) (*httptest.Server, chan seen) {
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.URL.Path, r.URL.RawQuery, r.Header.Clone(), r.Host, string(b)}
		reply(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func front(t *testing.T, app *App, worker string) *httptest.Server {
	h, err := New(app, worker)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func onlyApp(o Options) *App {
	o.RoutePrefix = "api"
	return &App{Options: o, Functions: []*Function{{Name: "messages", Bindings: []Binding{httpIn, httpOut}}}}
}

// chunkedPost sends a body without Content-Length.
func chunkedPost(t *testing.T, url, body string, header map[string]string) *http.Response {
	req, _ := http.NewRequest("POST", url, io.NopCloser(strings.NewReader(body)))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestProxiedKeepsThePathQueryAndBody(t *testing.T) {
	worker, got := recorder(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(202) })
	srv := front(t, onlyApp(Options{Proxying: true}), worker.URL)
	resp := chunkedPost(t, srv.URL+"/api/Messages?hub=a&HUB=b&x=%2F", "[1]", map[string]string{
		"X-Azure-Functions-InvocationId": "forged", "X-Forwarded-For": "6.6.6.6", "Forwarded": "for=6.6.6.6", "X-Custom": "kept",
	})
	resp.Body.Close()
	s := <-got
	if resp.StatusCode != 202 || s.path != "/api/Messages" || s.query != "hub=a&HUB=b&x=%2F" || s.body != "[1]" {
		t.Fatalf("status %d, handler saw %+v", resp.StatusCode, s)
	}
	id := s.header.Get("X-Azure-Functions-InvocationId")
	if id == "forged" || id == "" || s.header.Get("X-Ms-Invocation-Id") != id || s.header.Get("X-Azure-Functions-HostVersion") == "" {
		t.Errorf("invocation headers %v", s.header)
	}
	if s.header.Get("X-Forwarded-For") != "127.0.0.1" || s.header.Get("Forwarded") != "" || s.header.Get("X-Forwarded-Proto") != "http" ||
		s.header.Get("X-Forwarded-Host") != strings.TrimPrefix(srv.URL, "http://") || s.header.Get("X-Custom") != "kept" {
		t.Errorf("forwarding headers %v", s.header)
	}
	if s.host != strings.TrimPrefix(worker.URL, "http://") {
		t.Errorf("Host %q, want the handler's", s.host)
	}
}

func TestForwardedRebuildsTheRequest(t *testing.T) {
	worker, got := recorder(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(202) })
	srv := front(t, onlyApp(Options{Forwarding: true}), worker.URL)
	resp := chunkedPost(t, srv.URL+"/api/messages?hub=a&hub=b", "[1]", map[string]string{"User-Agent": "curl/8"})
	resp.Body.Close()
	s := <-got
	if s.path != "/api/messages" || s.query != "hub=a%2Cb" || s.body != "" {
		t.Errorf("handler saw %+v: want the query joined and the chunked body dropped", s)
	}
	if ua := s.header.Get("User-Agent"); !strings.HasPrefix(ua, "curl/8 Azure-Functions-Host/") {
		t.Errorf("User-Agent %q", ua)
	}
}

func TestPayloadWrapsTheRequest(t *testing.T) {
	worker, got := recorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"Outputs":{"res":{"statusCode":202,"status":202,"headers":{"X-Reply":"yes"},"body":"{\"accepted\":[0]}"}},"Logs":["one"],"ReturnValue":null}`)
	})
	app := onlyApp(Options{})
	h, _ := New(app, worker.URL)
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/api/messages?hub=a&hub=b", strings.NewReader(`[{"target":"t"}]`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	s := <-got
	if s.path != "/messages" || resp.StatusCode != 202 || string(body) != `{"accepted":[0]}` || resp.Header.Get("X-Reply") != "yes" {
		t.Fatalf("handler saw %s; caller got %d %s", s.path, resp.StatusCode, body)
	}
	var p struct {
		Data struct {
			Req struct {
				Query map[string]string
				Body  string
			} `json:"req"`
		}
	}
	if err := json.Unmarshal([]byte(s.body), &p); err != nil || p.Data.Req.Query["hub"] != "a,b" || p.Data.Req.Body != `[{"target":"t"}]` {
		t.Errorf("payload %s (%v)", s.body, err)
	}
	if inv := h.Invocations(); len(inv) != 1 || len(inv[0].Logs) != 1 || inv[0].Mode != Payload {
		t.Errorf("invocations %+v", inv)
	}
}

func TestPayloadFailureIs500(t *testing.T) {
	worker, _ := recorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, `{"Outputs":{}}`)
	})
	srv := front(t, onlyApp(Options{}), worker.URL)
	resp, err := http.Post(srv.URL+"/api/messages", "application/json", strings.NewReader("[]"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Errorf("a text/plain payload reply gave %d, want 500 as the host fails the invocation", resp.StatusCode)
	}
}

// The repository's functions, under host.json as shipped and with proxying
// turned on: a function with any binding beside req and res is never
// forwarded or proxied.
func TestShippedFunctionsModes(t *testing.T) {
	app, err := LoadRepo(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []*App{app, app.WithProxying(true), app.WithProxying(false)} {
		for _, f := range a.Functions {
			m := a.Mode(f)
			if !f.HTTPOnly() && m != Payload {
				t.Errorf("%s: %v, want payload", f.Name, m)
			}
			if f.HTTPOnly() && a.Proxying && m != Proxied {
				t.Errorf("%s: %v with proxying on", f.Name, m)
			}
		}
	}
	if f := app.Function("upstream"); f == nil || f.HTTPOnly() {
		t.Error("the upstream function with its events output should be shipped and never HTTP-only")
	}
}
