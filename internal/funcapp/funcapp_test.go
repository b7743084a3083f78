package funcapp

import (
	"os"
	"path/filepath"
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
	if f, _ := app.Match("/V1/Negotiate", "GET"); f == nil {
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
		f, params := app.Match(tc.path, tc.method)
		got := ""
		if f != nil {
			got = f.Name
		}
		if got != tc.want || params["path"] != tc.param {
			t.Errorf("%s %s: %q %v, want %q path=%q", tc.method, tc.path, got, params, tc.want, tc.param)
		}
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

// OneSegment follows the route builder: with an empty prefix a function's
// name is a path of one segment, the path where payloads arrive.
func TestOneSegment(t *testing.T) {
	trigger := func(route string) *Function {
		return &Function{Name: "negotiate", Bindings: []Binding{{Type: "httpTrigger", Route: route}, httpOut}}
	}
	for _, tc := range []struct {
		prefix, route string
		name          string
		ok            bool
	}{
		{"api", "", "", false},
		{"", "", "negotiate", true},
		{"/", "", "negotiate", true},
		{"", "upstream-direct/{*path}", "upstream-direct", true},
		{"", "{*path}", "", true},
		{"", "{hub?}", "", true},
		{"", "{hub:alpha}", "", true},
		{"", "chat/{hub}", "", false},
		{"", "api/negotiate", "", false},
		{"negotiate", "{*rest}", "negotiate", true},
		{"v1", "", "", false},
	} {
		app := &App{Options: Options{RoutePrefix: tc.prefix}}
		name, ok := app.OneSegment(trigger(tc.route))
		if name != tc.name || ok != tc.ok {
			t.Errorf("prefix %q route %q: %q %v, want %q %v", tc.prefix, tc.route, name, ok, tc.name, tc.ok)
		}
	}
	if _, ok := (&App{}).OneSegment(&Function{Name: "q", Bindings: []Binding{{Type: "queueTrigger"}}}); ok {
		t.Error("a queue trigger has no route")
	}
}

// A null routePrefix empties it, as the route builder treats any empty
// prefix (WebJobsRouteBuilder.BuildRouteTemplate).
func TestNullRoutePrefix(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"host.json":               `{"version":"2.0","customHandler":{"enableForwardingHttpRequest":true},"extensions":{"http":{"routePrefix":null}}}`,
		"negotiate/function.json": `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req"},{"type":"http","direction":"out","name":"res"}]}`,
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	app, err := LoadAppRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	if app.RoutePrefix != "" {
		t.Errorf("routePrefix null read as %q, want empty", app.RoutePrefix)
	}
}
