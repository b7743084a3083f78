// Package funchost plays the Azure Functions host's side of a custom
// handler, for tests: it reads an app's host.json and function.json files
// (package funcapp), decides each function's mode as the host does, and
// hands requests to the handler in that mode — the invocation payload, the
// forwarded request or the proxied one — from the host's source
// (Azure/azure-functions-host, src/WebJobs.Script/Workers/Http/
// DefaultHttpWorkerService.cs, InvokeAsync and what it calls;
// src/WebJobs.Script/Http/DefaultHttpProxyService.cs and the YARP
// HttpTransformer.Default it uses).
//
// It listens and talks on loopback only, checks a function key only when
// one is configured, and keeps the outputs and log lines the handler
// returns for the test to read.
package funchost

import (
	"net/http"

	"github.com/signalr-entra/handler/internal/funcapp"
)

// The app's description is funcapp's; these names keep the tests that
// drive the host stand-in short.
type (
	App      = funcapp.App
	Function = funcapp.Function
	Binding  = funcapp.Binding
	Options  = funcapp.Options
	Mode     = funcapp.Mode
)

const (
	Payload   = funcapp.Payload
	Forwarded = funcapp.Forwarded
	Proxied   = funcapp.Proxied
)

// LoadAppRoot reads an app root (make build's dist/).
func LoadAppRoot(dir string) (*App, error) { return funcapp.LoadAppRoot(dir) }

// LoadRepo reads the repository's host.json and functions/*/function.json.
func LoadRepo(root string) (*App, error) { return funcapp.LoadRepo(root) }

// notFound is the host's answer when no function's route matches.
func notFound(w http.ResponseWriter) { w.WriteHeader(http.StatusNotFound) }
