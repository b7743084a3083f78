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
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/signalr-entra/handler/bindings"
	"github.com/signalr-entra/handler/handler"
	"github.com/signalr-entra/handler/internal/funclog"
	"github.com/signalr-entra/handler/settings"
	"github.com/signalr-entra/handler/upstream"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  handler [serve]   serve negotiate, messages, groups, manage and upstream on 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT (default 7071)
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
//
// It listens first and reads the settings while the first connections wait:
// under the host, start-up is the time to the first answer of the host's
// probe, and a failure to start still ends the process with status 1.
func serve(ctx context.Context, stdout, stderr io.Writer, ready chan<- string) int {
	// Information goes out in batches, warnings and errors at once.
	out := funclog.NewLineBatcher(stdout)
	defer out.Flush()
	log := funclog.ConsoleLogger(out, stderr)
	standalone := !underHost()
	if standalone {
		local, err := useLocalSettings("")
		if err != nil {
			fmt.Fprintln(stderr, "handler:", err)
			return 1
		}
		if local.File != "" {
			log.Info("read settings from "+local.File, "count", local.Count, "set", local.Set, "empty", local.Empty, "comments", local.Comments)
		} else {
			log.Info("no "+settings.LocalSettingsFile+" found: the settings come from the environment", "lookedFor", local.LookedFor)
		}
	}
	port, err := settings.ListenPort()
	if err != nil {
		// stderr: the host logs it as an error, where users look first.
		fmt.Fprintln(stderr, "handler: the app settings are not usable:", err)
		return 1
	}
	ln, err := listenLoopback(ctx, port)
	if err != nil {
		fmt.Fprintf(stderr, "handler: cannot listen on 127.0.0.1:%d (FUNCTIONS_CUSTOMHANDLER_PORT): %v\n", port, err)
		return 1
	}
	if ready != nil {
		ready <- ln.Addr().String()
	}
	var client *bindings.Client
	err = handler.ServeWhenReady(ctx, ln, log, func() (*handler.Handler, error) {
		cfg, err := settings.Load(nil)
		if err != nil {
			return nil, fmt.Errorf("the app settings are not usable: %w", err)
		}
		for _, w := range cfg.Warnings {
			log.Warn(w)
		}
		hc := cfg.Handler
		bo := hc.Options()
		bo.Logger = log
		client, err = bindings.New(settings.Configs(cfg.Endpoints), &bo)
		if err != nil {
			return nil, err
		}
		h, err := handler.New(client, &handler.Options{
			Hubs:                     hc.Hubs,
			UserIDHeader:             hc.UserIDHeader,
			AppServiceAuthentication: hc.AppServiceAuthentication,
			ClaimTypes:               hc.ClaimTypes,
			MaxBodyBytes:             hc.MaxBodyBytes,
			MaxItems:                 hc.MaxItems,
			MaxInflightBytes:         hc.MaxInflightBytes,
			CORSOrigins:              hc.CORSOrigins,
			Standalone:               standalone,
			Logger:                   log,
			Upstream:                 upstreamOptions(cfg),
			SignIn:                   handler.SignInOptions{Authority: hc.NegotiateAuthority, Audiences: hc.NegotiateAudiences, UserIDClaim: hc.NegotiateUserIDClaim},
		})
		if err != nil {
			return nil, err
		}
		log.Info("listening", "address", ln.Addr().String(), "standalone", standalone, "hubs", hc.Hubs, "endpoints", len(cfg.Endpoints), "signInAuthority", hc.NegotiateAuthority)
		return h, nil
	})
	if client != nil {
		client.Close()
	}
	if err != nil {
		fmt.Fprintln(stderr, "handler:", err)
		return 1
	}
	return 0
}

// listenLoopback listens on 127.0.0.1 only: the host calls 127.0.0.1, and
// standalone nothing else should reach an unauthenticated messages
// function. Plain TCP: Multipath TCP, which net tries first by default,
// buys nothing on loopback and costs a probe of the kernel at every start.
func listenLoopback(ctx context.Context, port int) (net.Listener, error) {
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	return lc.Listen(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
}

// upstreamOptions hands the upstream settings to the handler: the access
// keys of every endpoint sign upstream requests.
func upstreamOptions(cfg *settings.Config) upstream.Options {
	hc := cfg.Handler
	o := upstream.Options{
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
