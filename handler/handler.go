package handler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/signalr-entra/handler/bindings"
	"github.com/signalr-entra/handler/internal/funclog"
	"github.com/signalr-entra/handler/internal/hostproto"
	"github.com/signalr-entra/handler/upstream"
)

// Service is what the handler needs of SignalR Service; *bindings.Client
// implements it. The routes of sends and group actions tell callers which
// endpoints took each item.
type Service interface {
	ConnectionInfo(ctx context.Context, hub, userID string, claims []bindings.Claim) (*bindings.ConnectionInfo, error)
	SendRouted(ctx context.Context, hub string, m bindings.Message) (bindings.Route, error)
	ApplyRouted(ctx context.Context, hub string, a bindings.GroupAction) (bindings.Route, error)
}

// DefaultMaxBodyBytes bounds the body of messages and groups requests when
// Options.MaxBodyBytes is zero.
const DefaultMaxBodyBytes = 1 << 20

// DefaultMaxItems bounds the items of messages and groups requests when
// Options.MaxItems is zero.
const DefaultMaxItems = 1000

// DefaultRequestTimeout bounds a request when Options.RequestTimeout is
// zero: well inside the server's write timeout (3 min) and the host's
// function timeout (5 min at least), so that the caller always gets an
// answer saying which items went through.
const DefaultRequestTimeout = time.Minute

// Options configure a Handler. The zero value is usable.
type Options struct {
	// Hubs are the hubs served; the first is the default for requests that
	// name none. Defaults to ["default"].
	Hubs []string
	// AppServiceAuthentication says App Service Authentication stands in
	// front (WEBSITE_AUTH_ENABLED): only then do its principal headers and
	// the host's identities name the user, since otherwise any caller can
	// set them. Defaults to false.
	AppServiceAuthentication bool
	// UserIDHeader is a request header trusted for the user id when App
	// Service Authentication names no user. Defaults to none.
	UserIDHeader string
	// ClaimTypes are the principal's claim types copied into client tokens.
	// Defaults to none.
	ClaimTypes []string
	// MaxBodyBytes bounds the body of a messages or groups request.
	// Defaults to DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxInflightBytes bounds the request bytes held across all requests
	// at once; past it a request gets 503 with Retry-After. A request alone
	// is always served. Defaults to DefaultMaxInflightBytes.
	MaxInflightBytes int64
	// MaxItems bounds the messages or group actions of one request.
	// Defaults to DefaultMaxItems.
	MaxItems int
	// RequestTimeout bounds the work of one request; items not through by
	// then are reported failed. Defaults to DefaultRequestTimeout.
	RequestTimeout time.Duration
	// CORSOrigins are the browser origins allowed to call negotiate; "*"
	// allows any origin (without credentials). Defaults to none, or to the
	// loopback origins when Standalone.
	CORSOrigins []string
	// Standalone is true when no Functions host stands in front: loopback
	// origins are then allowed by default, and messages and groups refuse
	// requests from browser origins not allowed by CORSOrigins.
	Standalone bool
	// Logger receives structured logs. Defaults to JSON lines on os.Stdout
	// (below Warn) and os.Stderr (Warn and above), which keeps their levels
	// under the Functions host.
	Logger *slog.Logger
	// DrainTimeout bounds how long Serve waits for requests in flight when
	// its context ends. Defaults to 10s.
	DrainTimeout time.Duration
	// Upstream authenticates the upstream function's requests. Defaults to
	// refusing them all.
	Upstream upstream.Options
	// SignIn, with an Authority, makes negotiate require a user's bearer
	// token and take the user from it alone. Defaults to none.
	SignIn SignInOptions
}

// Handler is an http.Handler for the custom handler protocol: payload routes
// (/negotiate, /messages, /groups), forwarded and standalone routes
// (/api/negotiate, /api/messages, /api/groups) and the readiness probe GET /.
type Handler struct {
	svc          Service
	hubs         []string
	userIDHeader string
	appService   bool
	claimTypes   map[string]bool
	maxBody      int64
	inflight     *byteBudget
	maxItems     int
	timeout      time.Duration
	cors         *cors
	standalone   bool
	log          *slog.Logger
	drain        time.Duration
	up           *upstream.Receiver
	signIn       *signIn
	// logged holds the kinds of warning already logged, each said once.
	logged sync.Map
	// needs are what each function reads of a payload's HTTP trigger.
	needs map[string]*hostproto.Needs
}

// New returns a Handler that serves the functions with svc.
func New(svc Service, opts *Options) (*Handler, error) {
	if svc == nil {
		return nil, errors.New("handler: a Service is required")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if len(o.Hubs) == 0 {
		o.Hubs = []string{"default"}
	}
	for _, hub := range o.Hubs {
		if err := bindings.ValidateHub(hub); err != nil {
			return nil, fmt.Errorf("invalid SIGNALR_HUBS entry: %w; list hubs separated by commas, such as \"chat,news\"", err)
		}
	}
	if o.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("invalid SIGNALR_MAX_BODY_BYTES value %d: use a positive number of bytes, such as 1048576", o.MaxBodyBytes)
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	switch {
	case o.MaxInflightBytes < 0:
		return nil, fmt.Errorf("invalid SIGNALR_MAX_INFLIGHT_BYTES value %d: use a positive number of bytes, such as %d", o.MaxInflightBytes, DefaultMaxInflightBytes)
	case o.MaxInflightBytes == 0:
		o.MaxInflightBytes = DefaultMaxInflightBytes
	}
	switch {
	case o.MaxItems < 0:
		return nil, fmt.Errorf("invalid SIGNALR_MAX_ITEMS value %d: use a positive number of items, such as 1000", o.MaxItems)
	case o.MaxItems == 0:
		o.MaxItems = DefaultMaxItems
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = funclog.ConsoleLogger(os.Stdout, os.Stderr)
	}
	c, err := newCORS(o.CORSOrigins, o.Standalone)
	if err != nil {
		return nil, err
	}
	up, err := upstream.NewReceiver(o.Upstream, o.Logger)
	if err != nil {
		return nil, err
	}
	si, err := newSignIn(o.SignIn, strings.TrimSpace(o.UserIDHeader), o.Logger)
	if err != nil {
		return nil, err
	}
	h := &Handler{
		svc:          svc,
		hubs:         o.Hubs,
		userIDHeader: strings.TrimSpace(o.UserIDHeader),
		appService:   o.AppServiceAuthentication,
		claimTypes:   map[string]bool{},
		maxBody:      o.MaxBodyBytes,
		inflight:     &byteBudget{limit: o.MaxInflightBytes},
		maxItems:     o.MaxItems,
		timeout:      o.RequestTimeout,
		cors:         c,
		standalone:   o.Standalone,
		log:          o.Logger,
		drain:        o.DrainTimeout,
		up:           up,
		signIn:       si,
	}
	for _, t := range o.ClaimTypes {
		if t = strings.TrimSpace(t); t != "" {
			h.claimTypes[strings.ToLower(t)] = true
		}
	}
	h.needs = h.payloadNeeds()
	return h, nil
}

// ServeHTTP routes a request. A panic in a request becomes a 500 and a log
// line, never a crash.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tw := &trackedWriter{ResponseWriter: w}
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler {
			panic(v)
		}
		id := correlationID(r)
		h.log.Error("panic while serving a request", "invocationId", id, "path", r.URL.Path, "panic", fmt.Sprint(v))
		if tw.wrote {
			// A second reply would be glued to the first: send what was
			// written and end the connection, which net/http does quietly.
			_ = http.NewResponseController(w).Flush()
			panic(http.ErrAbortHandler)
		}
		writeJSON(w, &reply{status: http.StatusInternalServerError, body: errorBody{Error: "internal error", CorrelationID: id}})
	}()
	h.route(tw, r)
}

// route serves a request by its path: the host's readiness probe at /, the
// payload routes /<function> and a user's own trigger folders beside them
// (such as /messages-queue), the forwarded and standalone routes
// /api/<function>. A switch rather than an http.ServeMux, whose every
// registration walks the caller's stack at start-up.
func (h *Handler) route(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch path {
	case "/":
		// The host's readiness probe: any answer will do, so answer at once.
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			c := &call{id: correlationID(r), method: r.Method}
			writeJSON(w, methodNotAllowed(c, "GET, HEAD"))
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	case "/" + fnNegotiate, "/" + fnMessages, "/" + fnGroups, "/" + fnUpstream, "/" + fnManage:
		if !h.proxiedToPayloadRoute(r) {
			h.servePayload(w, r, path[1:])
			return
		}
	case "/" + upstreamDirect:
		// The HTTP-only upstream function, when the host hands it the
		// payload (proxying and forwarding off).
		if !h.proxiedToPayloadRoute(r) {
			h.servePayload(w, r, fnUpstream)
			return
		}
	default:
		if fn := triggerFunction(path); fn != "" && r.Method == http.MethodPost && !h.proxiedToPayloadRoute(r) {
			h.servePayload(w, r, fn)
			return
		}
		if fn := forwardedFunction(path); fn != "" {
			h.serveForwarded(w, r, fn)
			return
		}
	}
	writeJSON(w, &reply{status: http.StatusNotFound, body: errorBody{
		Error:         "no function at " + path + "; the functions are negotiate, messages, groups, manage, upstream and upstream-direct",
		CorrelationID: correlationID(r),
	}})
}

// proxiedToPayloadRoute says whether r, on a payload route, was proxied by
// the host. The host posts payloads itself and never proxies one
// (DefaultHttpWorkerService.ProcessDefaultInvocationRequest); its proxy
// hands a caller's request to the path the caller asked for, which is a
// payload route only when host.json empties extensions.http.routePrefix.
// Such a body is the caller's: read as a payload, its Identities and
// headers would name any user, past App Service Authentication, which
// strips those headers from requests but not from bodies. It is refused,
// and the log says what to change.
func (h *Handler) proxiedToPayloadRoute(r *http.Request) bool {
	if hostproto.ArrivalOf(r) != hostproto.Proxied {
		return false
	}
	if _, seen := h.logged.LoadOrStore("proxied to a payload route", true); !seen {
		h.log.Warn("the host proxied a caller's request to "+hostproto.Truncate(r.URL.Path, 200)+", where it posts invocation payloads; it was refused (404). "+
			"Keep extensions.http.routePrefix \"api\" in host.json: the functions are served at /api/<function>",
			"invocationId", correlationID(r))
	}
	return true
}

// trackedWriter notes whether a reply has begun.
type trackedWriter struct {
	http.ResponseWriter
	wrote bool
}

func (t *trackedWriter) WriteHeader(code int) {
	t.wrote = true
	t.ResponseWriter.WriteHeader(code)
}

func (t *trackedWriter) Write(b []byte) (int, error) {
	t.wrote = true
	return t.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (t *trackedWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// triggerFunction maps a payload route of a user's own function folder, such
// as /messages-queue or /groups_timer (a queue or timer trigger beside the
// HTTP functions), to the function it runs: messages or groups.
func triggerFunction(path string) string {
	name := strings.TrimPrefix(path, "/")
	for _, fn := range []string{fnMessages, fnGroups} {
		if rest, ok := strings.CutPrefix(name, fn); ok && len(rest) > 1 && (rest[0] == '-' || rest[0] == '_') && !strings.Contains(rest, "/") {
			return fn
		}
	}
	return ""
}

// forwardedFunction maps /api/<function> in any case to the function: the
// host matches routes without regard to case and proxies or forwards the
// path as the caller spelled it. The upstream functions' routes,
// upstream/{*path} and upstream-direct/{*path}, take any path below them
// too, whatever URL template the upstream rule has.
func forwardedFunction(path string) string {
	for _, fn := range []string{fnNegotiate, fnMessages, fnGroups, fnManage, fnUpstream} {
		if strings.EqualFold(path, "/api/"+fn) {
			return fn
		}
	}
	if strings.EqualFold(path, "/api/"+upstreamDirect) {
		return fnUpstream
	}
	for _, below := range []string{"/api/" + fnUpstream + "/", "/api/" + upstreamDirect + "/"} {
		if len(path) > len(below) && strings.EqualFold(path[:len(below)], below) {
			return fnUpstream
		}
	}
	return ""
}
