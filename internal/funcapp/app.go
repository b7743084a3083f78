// Package funcapp reads what the Azure Functions host reads of a custom
// handler's app root — host.json's customHandler options and route prefix,
// and each function folder's function.json — and decides, by the host's
// rules, how each function's invocations reach the handler and which
// request paths reach which function (Azure/azure-functions-host,
// src/WebJobs.Script/Workers/Http/DefaultHttpWorkerService.cs InvokeAsync;
// src/WebJobs.Script.WebHost/WebScriptHostHttpRoutesManager.cs and
// Azure/azure-webjobs-sdk-extensions,
// src/WebJobs.Extensions.Http/Routing/WebJobsRouteBuilder.cs for routes).
package funcapp

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Mode is how the host hands a function's invocation to the handler.
type Mode int

const (
	// Payload posts {"Data", "Metadata"} to /<function name> and reads
	// {"Outputs", "Logs", "ReturnValue"} back (ProcessDefaultInvocationRequest).
	Payload Mode = iota
	// Forwarded rebuilds the caller's request at its own path
	// (ProcessHttpInAndOutInvocationRequest, enableForwardingHttpRequest).
	Forwarded
	// Proxied streams the caller's request through YARP
	// (ProxyInvocationRequest, enableProxyingHttpRequest).
	Proxied
)

func (m Mode) String() string {
	switch m {
	case Forwarded:
		return "forwarded"
	case Proxied:
		return "proxied"
	}
	return "payload"
}

// Binding is one entry of a function.json's bindings.
type Binding struct {
	Type      string   `json:"type"`
	Direction string   `json:"direction"`
	Name      string   `json:"name"`
	Route     string   `json:"route"`
	AuthLevel string   `json:"authLevel"`
	Methods   []string `json:"methods"`
}

// In and Out say which of InputBindings and OutputBindings the binding is
// in: FunctionMetadata counts every binding whose direction is not out as
// an input and every one not in as an output, so inout counts twice; a
// missing direction is in, the enum's default.
func (b *Binding) In() bool  { return !strings.EqualFold(b.Direction, "out") }
func (b *Binding) Out() bool { return !strings.EqualFold(b.Direction, "in") && b.Direction != "" }

// Function is a function folder's function.json.
type Function struct {
	Name     string
	Bindings []Binding `json:"bindings"`
}

// HTTPOnly says whether the function has exactly one input, an httpTrigger,
// and exactly one output, http: FunctionMetadataExtensions.IsHttpInAndOutFunction.
// Only such a function is ever forwarded or proxied.
func (f *Function) HTTPOnly() bool {
	var ins, outs []*Binding
	for i := range f.Bindings {
		b := &f.Bindings[i]
		if b.In() {
			ins = append(ins, b)
		}
		if b.Out() {
			outs = append(outs, b)
		}
	}
	return len(ins) == 1 && len(outs) == 1 &&
		strings.EqualFold(ins[0].Type, "httpTrigger") && strings.EqualFold(outs[0].Type, "http")
}

// Trigger is the function's httpTrigger binding, or nil.
func (f *Function) Trigger() *Binding {
	for i := range f.Bindings {
		if b := &f.Bindings[i]; b.In() && strings.EqualFold(b.Type, "httpTrigger") {
			return b
		}
	}
	return nil
}

// HTTPOutput is the name of the function's http output binding, or "".
func (f *Function) HTTPOutput() string {
	for i := range f.Bindings {
		if b := &f.Bindings[i]; b.Out() && strings.EqualFold(b.Type, "http") {
			return b.Name
		}
	}
	return ""
}

// Options are what the host reads of host.json for custom handlers.
type Options struct {
	// Forwarding is customHandler.enableForwardingHttpRequest.
	Forwarding bool
	// Proxying is customHandler.enableProxyingHttpRequest.
	Proxying bool
	// LegacyHTTPWorker is true when host.json has an httpWorker section and
	// no customHandler section: the host then forwards every HTTP-only
	// function (CustomHandlerType.None).
	LegacyHTTPWorker bool
	// RoutePrefix is extensions.http.routePrefix, "api" by default.
	RoutePrefix string
}

// App is a function app: host.json's options and the function folders.
type App struct {
	Options
	Functions []*Function
}

// Mode decides how the host hands f's invocations to the handler, as
// DefaultHttpWorkerService.InvokeAsync does: proxying wins over forwarding,
// and only an HTTP-only function gets either.
func (a *App) Mode(f *Function) Mode {
	if !f.HTTPOnly() {
		return Payload
	}
	switch {
	case a.Proxying:
		return Proxied
	case a.LegacyHTTPWorker || a.Forwarding:
		return Forwarded
	}
	return Payload
}

// Function returns the function named name, or nil.
func (a *App) Function(name string) *Function {
	for _, f := range a.Functions {
		if strings.EqualFold(f.Name, name) {
			return f
		}
	}
	return nil
}

// WithProxying returns a copy of the app with
// customHandler.enableProxyingHttpRequest set to on, as a user may set it.
func (a *App) WithProxying(on bool) *App {
	c := *a
	c.Proxying = on
	return &c
}

// LoadAppRoot reads an app root as the host does: host.json and every
// <folder>/function.json directly beside it (make build's dist/).
func LoadAppRoot(dir string) (*App, error) {
	return load(filepath.Join(dir, "host.json"), dir)
}

// LoadRepo reads the repository's host.json and functions/*/function.json,
// the files make build assembles into the app root.
func LoadRepo(root string) (*App, error) {
	return load(filepath.Join(root, "host.json"), filepath.Join(root, "functions"))
}

func load(hostJSON, functionsDir string) (*App, error) {
	opts, err := readHostJSON(hostJSON)
	if err != nil {
		return nil, err
	}
	app := &App{Options: opts}
	paths, err := filepath.Glob(filepath.Join(functionsDir, "*", "function.json"))
	if err != nil {
		return nil, err
	}
	slices.Sort(paths)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		f := &Function{Name: filepath.Base(filepath.Dir(p))}
		if err := json.Unmarshal(b, f); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		app.Functions = append(app.Functions, f)
	}
	if len(app.Functions) == 0 {
		return nil, fmt.Errorf("no function.json under %s", functionsDir)
	}
	return app, nil
}

// readHostJSON reads the options the host binds from host.json; the
// configuration binder matches names without regard to case.
func readHostJSON(path string) (Options, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Options{}, err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		return Options{}, fmt.Errorf("%s: %w", path, err)
	}
	opts := Options{RoutePrefix: "api"}
	section, legacy := field(doc, "customHandler"), false
	if section == nil {
		section, legacy = field(doc, "httpWorker"), true
	}
	// Without either section the host starts no custom handler
	// (HttpWorkerOptionsSetup) and so forwards nothing to one.
	var ch map[string]json.RawMessage
	if section != nil {
		if err := json.Unmarshal(section, &ch); err != nil {
			return Options{}, fmt.Errorf("%s: customHandler: %w", path, err)
		}
		opts.LegacyHTTPWorker = legacy
	}
	for name, dst := range map[string]*bool{"enableForwardingHttpRequest": &opts.Forwarding, "enableProxyingHttpRequest": &opts.Proxying} {
		if v := field(ch, name); v != nil {
			if err := json.Unmarshal(v, dst); err != nil {
				return Options{}, fmt.Errorf("%s: customHandler.%s: %w", path, name, err)
			}
		}
	}
	var ext map[string]map[string]json.RawMessage
	if v := field(doc, "extensions"); v != nil {
		_ = json.Unmarshal(v, &ext)
	}
	for k, http := range ext {
		if strings.EqualFold(k, "http") {
			if v := field(http, "routePrefix"); v != nil {
				// null empties the prefix, as "" does: the route
				// builder prefixes only a non-empty one
				// (WebJobsRouteBuilder.BuildRouteTemplate).
				var prefix *string
				if err := json.Unmarshal(v, &prefix); err != nil {
					return Options{}, fmt.Errorf("%s: extensions.http.routePrefix: %w", path, err)
				}
				opts.RoutePrefix = ""
				if prefix != nil {
					opts.RoutePrefix = *prefix
				}
			}
		}
	}
	return opts, nil
}

// field finds a member by name in any case.
func field(m map[string]json.RawMessage, name string) json.RawMessage {
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}
