package funchost

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

var (
	httpIn  = Binding{Type: "httpTrigger", Direction: "in", Name: "req"}
	httpOut = Binding{Type: "http", Direction: "out", Name: "res"}
)

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
