// Command handler is the Azure Functions custom handler for SignalR Service.
//
//	handler [serve]   serve the functions (what the Functions host runs)
//	handler check     report how the app settings resolve (see check.go)
//
// Under the Functions host (FUNCTIONS_WORKER_RUNTIME or
// FUNCTIONS_APP_ROOT_PATH set) the app settings come from the environment;
// standalone, a local.settings.json in the working directory (or else beside
// the executable) fills in what the environment lacks.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/signalr-entra/handler/bindings"
	"github.com/signalr-entra/handler/handler"
	"github.com/signalr-entra/handler/settings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  handler [serve]   serve negotiate, messages, groups and upstream on 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT (default 7071)
  handler check     check the settings, the identity and its roles against the service; -offline for settings only, -h for flags`

func run(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0 || args[0] == "serve" && len(args) == 1:
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		defer stop()
		return serve(ctx, stdout, stderr, nil)
	case args[0] == "check":
		return runCheck(args[1:], stdout, stderr)
	case args[0] == "serve":
		fmt.Fprintf(stderr, "handler: serve takes no arguments; settings come from the environment\n%s\n", usage)
		return 2
	case args[0] == "-h" || args[0] == "--help" || args[0] == "help":
		fmt.Fprintln(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "handler: unknown command %q\n%s\n", args[0], usage)
		return 2
	}
}

// underHost says whether the Functions host started the handler: a custom
// handler app must set FUNCTIONS_WORKER_RUNTIME, and the host passes it on.
// The port alone says nothing, since standalone it may be set too.
func underHost() bool {
	return os.Getenv("FUNCTIONS_WORKER_RUNTIME") != "" || os.Getenv("FUNCTIONS_APP_ROOT_PATH") != ""
}

// serve runs the handler until ctx ends. ready, when set, receives the
// listening address (for tests).
func serve(ctx context.Context, stdout, stderr io.Writer, ready chan<- string) int {
	log := slog.New(slog.NewJSONHandler(stdout, nil))
	standalone := !underHost()
	if standalone {
		local, err := useLocalSettings("")
		if err != nil {
			fmt.Fprintln(stderr, "handler:", err)
			return 1
		}
		if local.File != "" {
			log.Info("read settings from "+local.File, "count", local.Count, "set", local.Set)
		} else {
			log.Info("no "+settings.LocalSettingsFile+" found: the settings come from the environment", "lookedFor", local.LookedFor)
		}
	}
	cfg, err := settings.Load(nil)
	if err != nil {
		// stderr: the host logs it as an error, where users look first.
		fmt.Fprintln(stderr, "handler: the app settings are not usable:", err)
		return 1
	}
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	hc := cfg.Handler
	client, err := bindings.New(cfg.Endpoints, &bindings.Options{
		TokenLifetime: hc.TokenLifetime,
		Negotiate:     bindings.NegotiateMode(hc.Negotiate),
		KeyWait:       hc.KeyWait,
		KeyRefresh:    hc.KeyRefresh,
		Application:   hc.Application,
		Logger:        log,
	})
	if err != nil {
		fmt.Fprintln(stderr, "handler:", err)
		return 1
	}
	defer client.Close()
	h, err := handler.New(client, &handler.Options{
		Hubs:                     hc.Hubs,
		UserIDHeader:             hc.UserIDHeader,
		AppServiceAuthentication: hc.AppServiceAuthentication,
		ClaimTypes:               hc.ClaimTypes,
		MaxBodyBytes:             hc.MaxBodyBytes,
		MaxItems:                 hc.MaxItems,
		CORSOrigins:              hc.CORSOrigins,
		Standalone:               standalone,
		Logger:                   log,
		Upstream:                 upstreamOptions(cfg),
	})
	if err != nil {
		fmt.Fprintln(stderr, "handler:", err)
		return 1
	}
	// Loopback only: the host calls 127.0.0.1, and standalone nothing else
	// should reach an unauthenticated messages function.
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(hc.Port)))
	if err != nil {
		fmt.Fprintf(stderr, "handler: cannot listen on 127.0.0.1:%d (FUNCTIONS_CUSTOMHANDLER_PORT): %v\n", hc.Port, err)
		return 1
	}
	log.Info("listening", "address", ln.Addr().String(), "standalone", standalone, "hubs", hc.Hubs, "endpoints", len(cfg.Endpoints))
	if ready != nil {
		ready <- ln.Addr().String()
	}
	if err := h.Serve(ctx, ln); err != nil {
		fmt.Fprintln(stderr, "handler:", err)
		return 1
	}
	return 0
}

// upstreamOptions hands the upstream settings to the handler: the access
// keys of every endpoint sign upstream requests.
func upstreamOptions(cfg *settings.Config) handler.UpstreamOptions {
	hc := cfg.Handler
	o := handler.UpstreamOptions{
		Audience:      hc.UpstreamAudience,
		Tenant:        hc.UpstreamTenant,
		Identity:      hc.UpstreamIdentity,
		AuthorityHost: hc.AuthorityHost,
	}
	for _, ep := range cfg.Endpoints {
		if ep.AccessKey != "" {
			o.AccessKeys = append(o.AccessKeys, ep.AccessKey)
		}
	}
	return o
}
