// Command funchost stands in for the Azure Functions host in front of a
// running handler, for the end-to-end tests: it reads the app's host.json
// and function.json files, waits for the handler's GET / as the host does,
// then takes callers' requests on -listen and hands each to the handler in
// the mode the host would pick (payload, forwarded or proxied). Each
// invocation is printed on stdout as a JSON line (function, mode, status,
// outputs, logs), so that a test can read the queue outputs the host would
// have written. Loopback only.
//
//	go run ./scripts/funchost -app . -listen 127.0.0.1:7072 -worker http://127.0.0.1:7071 [-proxying on|off]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/signalr-entra/handler/internal/funchost"
	"github.com/signalr-entra/handler/internal/loopback"
)

func main() {
	appDir := flag.String("app", ".", "the app root (host.json beside the function folders), or the repository root (host.json and functions/)")
	listen := flag.String("listen", "127.0.0.1:0", "loopback `address` callers reach the host at")
	worker := flag.String("worker", "", "the handler's `URL`, http://127.0.0.1:<FUNCTIONS_CUSTOMHANDLER_PORT>")
	proxying := flag.String("proxying", "", "`on` or off: customHandler.enableProxyingHttpRequest whatever host.json says (empty: as host.json says)")
	key := flag.String("key", "", "function `key` that non-anonymous functions require (none: no check)")
	appService := flag.Bool("app-service-auth", false, "build payload identities from X-MS-CLIENT-PRINCIPAL, as with WEBSITE_AUTH_ENABLED")
	flag.Parse()
	if err := run(*appDir, *listen, *worker, *proxying, *key, *appService); err != nil {
		fmt.Fprintln(os.Stderr, "funchost:", err)
		os.Exit(1)
	}
}

func run(appDir, listen, worker, proxying, key string, appService bool) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil || !loopback.Is(host) {
		return fmt.Errorf("-listen %q: want a loopback address such as 127.0.0.1:7072", listen)
	}
	app, err := load(appDir)
	if err != nil {
		return err
	}
	switch proxying {
	case "":
	case "on", "off":
		app = app.WithProxying(proxying == "on")
	default:
		return fmt.Errorf("-proxying %q: want on or off", proxying)
	}
	h, err := funchost.New(app, worker)
	if err != nil {
		return err
	}
	if !loopback.Is(h.Worker.Hostname()) {
		return fmt.Errorf("-worker %q: want a loopback URL", worker)
	}
	h.FunctionKey, h.AppServiceAuthentication = key, appService
	var mu sync.Mutex
	enc := json.NewEncoder(os.Stdout)
	h.Observe = func(inv funchost.Invocation) {
		line := map[string]any{"function": inv.Function, "id": inv.ID, "mode": inv.Mode.String(), "status": inv.Status, "outputs": inv.Outputs, "logs": inv.Logs}
		if inv.Err != nil {
			line["error"] = inv.Err.Error()
		}
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(line)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := funchost.WaitReady(ctx, worker, 30*time.Second); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	modes := map[string]string{}
	for _, f := range app.Functions {
		modes[f.Name] = app.Mode(f).String()
	}
	ready, _ := json.Marshal(map[string]any{"listening": "http://" + ln.Addr().String(), "modes": modes})
	fmt.Println(string(ready))
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// load reads an app root, or the repository's host.json and functions/.
func load(dir string) (*funchost.App, error) {
	if _, err := os.Stat(filepath.Join(dir, "functions")); err == nil {
		return funchost.LoadRepo(dir)
	}
	return funchost.LoadAppRoot(dir)
}
