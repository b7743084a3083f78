package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/signalr-entra/handler/handler"
	"github.com/signalr-entra/handler/internal/funcapp"
)

// hostAppRoot is the app root the Functions host started the handler in:
// FUNCTIONS_APP_ROOT_PATH, which the host sets for its worker
// (HttpWorkerProcess), else the working directory.
func hostAppRoot() string {
	if dir := os.Getenv("FUNCTIONS_APP_ROOT_PATH"); dir != "" {
		return dir
	}
	return "."
}

// checkHostRoutes refuses to start when host.json hands callers' requests
// to the handler's payload paths. A host.json it cannot read is only
// warned of: the host's reader is laxer (it takes comments), and a proxied
// request to a payload path is refused on arrival anyway.
func checkHostRoutes(log *slog.Logger) error {
	dir := hostAppRoot()
	err := checkRoutes(dir)
	var clash *routeClashError
	switch {
	case err == nil:
	case errors.As(err, &clash):
		return err
	case errors.Is(err, errNoHostJSON):
		log.Warn("no host.json in the app root " + dir + " (FUNCTIONS_APP_ROOT_PATH, else the working directory): its route prefix was not checked")
	default:
		log.Warn(err.Error())
	}
	return nil
}

// errNoHostJSON says the app root has no host.json to check.
var errNoHostJSON = errors.New("no host.json")

// checkRoutes reads the app root's host.json and function folders and
// returns an error when a caller's request can reach a path where the
// handler reads invocation payloads (payloadRouteClash).
func checkRoutes(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "host.json")); errors.Is(err, fs.ErrNotExist) {
		return errNoHostJSON
	}
	app, err := funcapp.LoadAppRoot(dir)
	if err != nil {
		return fmt.Errorf("cannot check the routes of %s: %w", dir, err)
	}
	return payloadRouteClash(app)
}

// routeClashError is a host.json that hands callers' requests to the
// handler's payload paths.
type routeClashError struct{ msg string }

func (e *routeClashError) Error() string { return e.msg }

// payloadRouteClash returns a *routeClashError when the host would forward
// or proxy a caller's request to a path where the handler reads the host's
// invocation payloads. The host posts a payload to /<function name>
// (DefaultHttpWorkerService.ProcessDefaultInvocationRequest) and forwards or
// proxies a caller's request to the path the caller asked for, the route
// prefix included; with extensions.http.routePrefix emptied the function's
// route alone is that path (WebJobsRouteBuilder.BuildRouteTemplate), so
// /negotiate is both. A forwarded request there cannot be told from a
// payload, and a payload's Identities name the user: any caller could name
// any user past App Service Authentication, which strips its principal
// headers from requests but not from bodies.
func payloadRouteClash(app *funcapp.App) error {
	for _, f := range app.Functions {
		mode := app.Mode(f)
		if mode == funcapp.Payload {
			continue
		}
		name, ok := app.OneSegment(f)
		if !ok {
			continue
		}
		path := "/" + name
		// The route matches its literal in any case; the handler's payload
		// paths are lower case.
		if name != "" && !handler.ReadsAsPayload("/"+strings.ToLower(name)) {
			continue
		}
		if name == "" {
			path = "any path of one segment, such as /negotiate,"
		}
		how := "forwards (customHandler.enableForwardingHttpRequest)"
		switch {
		case mode == funcapp.Proxied:
			how = "proxies (customHandler.enableProxyingHttpRequest)"
		case app.LegacyHTTPWorker:
			how = "forwards (the httpWorker section)"
		}
		return &routeClashError{fmt.Sprintf("host.json: with extensions.http.routePrefix %q the host %s callers' requests for function %s to %s "+
			"where the handler reads the host's invocation payloads: a caller's request could pose as one and name any user. "+
			`Keep "routePrefix": "api" (or remove it: "api" is the default); the handler serves callers at /api/<function>`,
			app.RoutePrefix, how, f.Name, path)}
	}
	return nil
}
