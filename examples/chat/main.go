// Command chat is a complete chat app built on this module's packages. It
// serves what the handler executable serves (negotiate, messages, groups)
// and answers the hub methods clients invoke, which SignalR Service posts
// to the upstream function:
//
//	broadcast(text)          everyone gets newMessage(from, text)
//	sendToUser(user, text)   that user's connections get newMessage(from, text)
//	joinGroup(group)         the calling connection joins group
//	leaveGroup(group)        the calling connection leaves group
//	sendToGroup(group, text) the group gets newMessage(from, text)
//	whoAmI()                 returns {"connectionId", "userId"}
//
// and tells everyone userJoined(from) and userLeft(from) as clients come
// and go. It reads the connection settings, SIGNALR_HUBS (it serves the
// first hub), SIGNALR_USERID_HEADER, SIGNALR_CORS_ORIGINS,
// FUNCTIONS_CUSTOMHANDLER_PORT and the SIGNALR_UPSTREAM_* settings; to stay
// short it leaves the executable's other tuning settings (token lifetime,
// limits, App Service Authentication) at their defaults. Run without the
// Functions host, it allows pages from loopback origins, as the handler
// does. To run it under the host, build it and name it in host.json's
// defaultExecutablePath instead of handler.
//
// To run it against the local stand-in, with the repository's demo page
// (Node.js) and hub calls posted upstream to it, from the repository root:
//
//	dir=$(mktemp -d)
//	go run ./cmd/emulator -identity system=ServiceOwner -env-file "$dir/env" \
//	    -upstream '{"urlTemplate":"http://127.0.0.1:7071/api/upstream","auth":{"type":"ManagedIdentity","managedIdentity":{"resource":"api://signalr-upstream"}}}' &
//	until [ -s "$dir/env" ]; do sleep 0.2; done; set -a; . "$dir/env"; set +a
//	SIGNALR_HUBS=chat SIGNALR_USERID_HEADER=x-ms-signalr-userid go run ./examples/chat &
//	node demo/serve.mjs   # then open http://127.0.0.1:8080/, connect, and call broadcast
package main

import (
	"context"
	"encoding/json"
	"errors"
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
	"github.com/signalr-entra/handler/upstream"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, nil, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}

// run serves on ln until ctx ends, logging to stdout; a nil ln means
// 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT.
func run(ctx context.Context, ln net.Listener, stdout io.Writer) error {
	log := slog.New(slog.NewJSONHandler(stdout, nil))
	cfg, err := settings.Load(nil)
	if err != nil {
		return err
	}
	hc := cfg.Handler
	client, err := bindings.New(settings.Configs(cfg.Endpoints), &bindings.Options{Logger: log})
	if err != nil {
		return err
	}
	defer client.Close()
	upstream := upstream.Options{Audience: hc.UpstreamAudience, Tenant: hc.UpstreamTenant, Identity: hc.UpstreamIdentity, AuthorityHost: hc.AuthorityHost}
	for _, ep := range cfg.Endpoints {
		upstream.AccessKeys = append(upstream.AccessKeys, ep.AccessKey)
	}
	// A custom handler app sets FUNCTIONS_WORKER_RUNTIME, and the host
	// passes it on; without it no host stands in front.
	standalone := os.Getenv("FUNCTIONS_WORKER_RUNTIME") == ""
	h, err := handler.New(client, &handler.Options{Hubs: hc.Hubs, UserIDHeader: hc.UserIDHeader, CORSOrigins: hc.CORSOrigins,
		Standalone: standalone, Logger: log, Upstream: upstream,
		SignIn: handler.SignInOptions{Authority: hc.NegotiateAuthority, Audiences: hc.NegotiateAudiences, UserIDClaim: hc.NegotiateUserIDClaim}})
	if err != nil {
		return err
	}
	register(h, hc.Hubs[0])
	if ln == nil {
		if ln, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(hc.Port))); err != nil {
			return err
		}
	}
	user := "none: every client is anonymous (set SIGNALR_USERID_HEADER to trust a header)"
	if hc.UserIDHeader != "" {
		user = "the " + hc.UserIDHeader + " header"
	}
	log.Info("chat: serving hub "+hc.Hubs[0]+"; point a SignalR client at http://"+ln.Addr().String()+"/api",
		"address", ln.Addr().String(), "hub", hc.Hubs[0], "userId", user, "standalone", standalone, "endpoints", len(cfg.Endpoints))
	return h.Serve(ctx, ln)
}

// register answers the chat's hub methods and connection events.
func register(h *handler.Handler, hub string) {
	h.HandleEvent(hub, upstream.EventConnected, func(ctx context.Context, e *upstream.Event) (any, error) {
		return nil, e.Send(ctx, bindings.Message{Target: "userJoined", Arguments: args(sender(e)), Excluded: []string{e.ConnectionID}})
	})
	h.HandleEvent(hub, upstream.EventDisconnected, func(ctx context.Context, e *upstream.Event) (any, error) {
		return nil, e.Send(ctx, bindings.Message{Target: "userLeft", Arguments: args(sender(e))})
	})
	h.HandleEvent(hub, "broadcast", func(ctx context.Context, e *upstream.Event) (any, error) {
		var text string
		if err := e.Argument(0, &text); err != nil {
			return nil, err
		}
		return nil, e.Send(ctx, bindings.Message{Target: "newMessage", Arguments: args(sender(e), text)})
	})
	h.HandleEvent(hub, "sendToUser", func(ctx context.Context, e *upstream.Event) (any, error) {
		var user, text string
		if err := errors.Join(e.Argument(0, &user), e.Argument(1, &text)); err != nil {
			return nil, err
		}
		if user == "" {
			return nil, errors.New("sendToUser needs a user id")
		}
		return nil, e.Send(ctx, bindings.Message{UserID: user, Target: "newMessage", Arguments: args(sender(e), text)})
	})
	h.HandleEvent(hub, "joinGroup", func(ctx context.Context, e *upstream.Event) (any, error) {
		var group string
		if err := e.Argument(0, &group); err != nil {
			return nil, err
		}
		return nil, e.AddToGroup(ctx, group)
	})
	h.HandleEvent(hub, "leaveGroup", func(ctx context.Context, e *upstream.Event) (any, error) {
		var group string
		if err := e.Argument(0, &group); err != nil {
			return nil, err
		}
		return nil, e.RemoveFromGroup(ctx, group)
	})
	h.HandleEvent(hub, "sendToGroup", func(ctx context.Context, e *upstream.Event) (any, error) {
		var group, text string
		if err := errors.Join(e.Argument(0, &group), e.Argument(1, &text)); err != nil {
			return nil, err
		}
		return nil, e.Send(ctx, bindings.Message{GroupName: group, Target: "newMessage", Arguments: args(sender(e), text)})
	})
	h.HandleEvent(hub, "whoAmI", func(ctx context.Context, e *upstream.Event) (any, error) {
		return map[string]string{"connectionId": e.ConnectionID, "userId": e.UserID}, nil
	})
}

// sender names the caller: its user id, or its connection id when the
// client signed in as nobody.
func sender(e *upstream.Event) string {
	if e.UserID != "" {
		return e.UserID
	}
	return e.ConnectionID
}

// args encodes message arguments; strings always encode.
func args(vs ...string) json.RawMessage {
	out, _ := json.Marshal(vs)
	return out
}
