package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signalr-entra/handler/handler"
	"github.com/signalr-entra/handler/internal/funchost"
)

// repoRoot is the repository, found before any test changes directory.
var repoRoot, _ = filepath.Abs(filepath.Join("..", ".."))

// writeShippedAppRoot writes an app root: the repository's function folders, as
// make build copies them, under the given host.json.
func writeShippedAppRoot(t *testing.T, hostJSON string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "host.json"), []byte(hostJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	shipped, err := filepath.Glob(filepath.Join(repoRoot, "functions", "*", "function.json"))
	if err != nil || len(shipped) == 0 {
		t.Fatalf("no shipped functions: %v", err)
	}
	for _, p := range shipped {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		fn := filepath.Join(dir, filepath.Base(filepath.Dir(p)))
		if err := os.MkdirAll(fn, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(fn, "function.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const (
	forwardingNoPrefix = `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"handler"},"enableForwardingHttpRequest":true},"extensions":{"http":{"routePrefix":""}}}`
	proxyingNoPrefix   = `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"handler"},"enableProxyingHttpRequest":true},"extensions":{"http":{"routePrefix":""}}}`
)

func TestPayloadRouteClash(t *testing.T) {
	for _, tc := range []struct {
		name, hostJSON string
		want           string // in the error; "" for none
	}{
		{"forwarding, prefix emptied", forwardingNoPrefix, `the host forwards (customHandler.enableForwardingHttpRequest) callers' requests for function groups to /groups`},
		{"proxying, prefix emptied", proxyingNoPrefix, `proxies (customHandler.enableProxyingHttpRequest)`},
		{"legacy httpWorker, prefix null", `{"version":"2.0","httpWorker":{"description":{"defaultExecutablePath":"handler"}},"extensions":{"http":{"routePrefix":null}}}`, "forwards (the httpWorker section)"},
		{"as shipped", readFile(t, filepath.Join(repoRoot, "host.json")), ""},
		{"forwarding under api", `{"version":"2.0","customHandler":{"enableForwardingHttpRequest":true},"extensions":{"http":{"routePrefix":"api"}}}`, ""},
		{"prefix emptied, payloads only", `{"version":"2.0","customHandler":{},"extensions":{"http":{"routePrefix":""}}}`, ""},
	} {
		err := checkRoutes(writeShippedAppRoot(t, tc.hostJSON))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v, want none", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `Keep "routePrefix": "api"`)):
			t.Errorf("%s: %v, want an error with %q and the fix", tc.name, err, tc.want)
		}
	}
}

// A route of the user's own under an emptied prefix clashes only where it
// reaches a payload path.
func TestPayloadRouteClashOwnRoutes(t *testing.T) {
	for _, tc := range []struct {
		route string
		clash bool
	}{
		{"api/negotiate", false},
		{"chat/negotiate", false},
		{"{*path}", true},
		{"messages-Queue", true},
		{"hello", false},
	} {
		dir := t.TempDir()
		write := func(name, text string) {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write("host.json", forwardingNoPrefix)
		write("negotiate/function.json", `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","route":"`+tc.route+`"},{"type":"http","direction":"out","name":"res"}]}`)
		if err := checkRoutes(dir); (err != nil) != tc.clash {
			t.Errorf("route %q: %v, want a clash %v", tc.route, err, tc.clash)
		}
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Under the host, serve refuses to start when host.json would hand
// callers' requests to the payload paths, and says what to change.
func TestServeRefusesEmptiedRoutePrefix(t *testing.T) {
	for _, hostJSON := range []string{forwardingNoPrefix, proxyingNoPrefix} {
		checkEnv(t, map[string]string{
			"FUNCTIONS_WORKER_RUNTIME":     "custom",
			"FUNCTIONS_APP_ROOT_PATH":      writeShippedAppRoot(t, hostJSON),
			"FUNCTIONS_CUSTOMHANDLER_PORT": freePort(t),
			"AzureSignalRConnectionString": "Endpoint=https://a.service.signalr.net;AccessKey=k;Version=1.0;",
		}, "")
		// Were it to start, it would stop serving when ctx ends and exit 0.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var stdout, stderr bytes.Buffer
		if code := serve(ctx, &stdout, &stderr, nil); code != 1 {
			t.Fatalf("exit %d, want 1; stderr %s", code, stderr.String())
		}
		if !strings.Contains(stderr.String(), "extensions.http.routePrefix") || !strings.Contains(stderr.String(), `Keep "routePrefix": "api"`) {
			t.Errorf("stderr does not name the setting and the fix:\n%s", stderr.String())
		}
	}
}

// handler check reports the clash as an error with the fix.
func TestCheckReportsEmptiedRoutePrefix(t *testing.T) {
	checkEnv(t, map[string]string{
		"FUNCTIONS_APP_ROOT_PATH":      writeShippedAppRoot(t, forwardingNoPrefix),
		"AzureSignalRConnectionString": "Endpoint=https://a.service.signalr.net;AccessKey=k;Version=1.0;",
	}, "")
	var stdout, stderr bytes.Buffer
	if code := runCheck([]string{"-offline"}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), `error: host.json: with extensions.http.routePrefix ""`) || !strings.Contains(stdout.String(), `Keep "routePrefix": "api"`) {
		t.Errorf("the report does not name the clash and the fix:\n%s", stdout.String())
	}
}

// The check agrees with the host's rule as internal/funchost plays it: it
// refuses exactly the host.json under which the host hands a caller's
// request, forwarded or proxied, to a path the handler reads as a payload.
func TestRouteCheckAgreesWithTheHost(t *testing.T) {
	var got struct {
		sync.Mutex
		path string
	}
	worker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Lock()
		got.path = r.URL.Path
		got.Unlock()
		_, _ = io.WriteString(w, `{"Outputs":{"res":{"statusCode":200,"status":200,"body":"","headers":{}}}}`)
	}))
	defer worker.Close()
	shipped, err := funchost.LoadRepo(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"api", "", "negotiate"} {
		for _, mode := range []string{"payload", "forwarding", "proxying"} {
			app := *shipped
			app.RoutePrefix, app.Forwarding, app.Proxying = prefix, mode == "forwarding", mode == "proxying"
			host, err := funchost.New(&app, worker.URL)
			if err != nil {
				t.Fatal(err)
			}
			front := httptest.NewServer(host)
			reached := []string{}
			for _, f := range app.Functions {
				for _, path := range []string{"/" + f.Name, "/" + prefix + "/" + f.Name, "/messages-x"} {
					resp, err := http.Post(front.URL+path, "application/json", strings.NewReader(`{"Data":{}}`))
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					invs := host.Invocations()
					if len(invs) == 0 || resp.StatusCode == http.StatusNotFound {
						continue
					}
					got.Lock()
					arrived := got.path
					got.Unlock()
					if last := invs[len(invs)-1]; last.Mode != funchost.Payload && handler.ReadsAsPayload(strings.ToLower(arrived)) {
						reached = append(reached, path)
					}
				}
			}
			front.Close()
			refused := payloadRouteClash(&app) != nil
			if refused != (len(reached) > 0) {
				t.Errorf("prefix %q, %s: the check refuses %v, but callers' requests reached payload paths at %v", prefix, mode, refused, reached)
			}
		}
	}
}
