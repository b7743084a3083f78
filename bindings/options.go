package bindings

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// NegotiateMode says how client access tokens are signed in Entra mode.
type NegotiateMode string

const (
	// NegotiateAuto signs locally with the temporary access key and, when the
	// auth API refuses the identity (403), asks the service to sign instead.
	NegotiateAuto NegotiateMode = "auto"
	// NegotiateLocal signs locally with the temporary access key only
	// (SignalR App Server or SignalR Service Owner).
	NegotiateLocal NegotiateMode = "local"
	// NegotiateService asks the service to sign (:generateToken, SignalR REST
	// API Owner or SignalR Service Owner). Such tokens carry the user id only:
	// the API takes no other claims.
	NegotiateService NegotiateMode = "service"
)

const (
	defaultTokenLifetime = time.Hour
	// maxTokenLifetime bounds Options.TokenLifetime. In Entra mode a token
	// also never outlives the 90-minute life of the key that signed it.
	maxTokenLifetime = 24 * time.Hour
	defaultKeyWait   = 10 * time.Second
	// defaultFetchTimeout bounds one call to Entra ID or the auth API.
	defaultFetchTimeout = 10 * time.Second
	// defaultKeyRefresh replaces the temporary key once an hour, well
	// within its 90-minute life.
	defaultKeyRefresh = time.Hour
	// requestTimeout is the Management SDK's default HttpClientTimeout
	// (ServiceManagerOptions), the bound of one request.
	requestTimeout = 100 * time.Second
)

// Options configures a Client. A nil *Options means all defaults.
type Options struct {
	// ClientOptions configures the HTTP pipeline of REST calls: transport,
	// retries (sends and group actions keep their own rules, see Client.Send,
	// which policies added here cannot bend: a send is written again only
	// when it cannot have been taken), telemetry and logging, as for any
	// Azure SDK client. The default transport keeps connections alive and
	// times a request out after 100s.
	// Redirects are never followed when Transport is an *http.Client or nil.
	azcore.ClientOptions

	// TokenLifetime is the lifetime of client access tokens. Defaults to 1h;
	// at most 24h. In Entra mode a token expires no later than the temporary
	// key that signed it (90 minutes after the key was issued).
	TokenLifetime time.Duration
	// Negotiate says how client tokens are signed in Entra mode. Defaults to
	// NegotiateAuto. Access-key endpoints always sign locally.
	Negotiate NegotiateMode
	// KeyWait bounds how long a request waits for the first temporary access
	// key. Defaults to 10s.
	KeyWait time.Duration
	// FetchTimeout bounds each call to Microsoft Entra ID and to the auth
	// API; a call that takes longer fails and is retried in the
	// background with back-off. Defaults to 10s.
	FetchTimeout time.Duration
	// KeyRefresh is how often the temporary access key is replaced.
	// Defaults to 1h; at most 85m, since a key is never used past that age.
	KeyRefresh time.Duration
	// Application is the application name the service prefixes to hub names.
	// Defaults to none.
	Application string
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// Logger receives one record per change of an endpoint's state and the
	// routing of sends over several endpoints. Nothing is logged without
	// one.
	Logger *slog.Logger
	// OptionNames names options in messages as the program's users know
	// them, by field: {"KeyWait": "SIGNALR_KEY_WAIT"}. An option it leaves
	// out is named by its field, such as Options.KeyWait.
	OptionNames map[string]string

	// manual stops New from starting the background loop, so that tests
	// drive it with Client.tick.
	manual bool
	// healthRetry is the wait between health checks of a failing endpoint.
	// Defaults to 3s, as in the Management SDK.
	healthRetry time.Duration
}

// withDefaults returns a validated copy of o with defaults filled in.
func (o *Options) withDefaults() (Options, error) {
	var out Options
	if o != nil {
		out = *o
	}
	switch {
	case out.TokenLifetime == 0:
		out.TokenLifetime = defaultTokenLifetime
	case out.TokenLifetime < time.Minute || out.TokenLifetime > maxTokenLifetime:
		return out, fmt.Errorf("invalid token lifetime %s (%s): valid values are 1m to 24h, such as 1h", out.TokenLifetime, out.name("TokenLifetime"))
	}
	switch out.Negotiate {
	case "":
		out.Negotiate = NegotiateAuto
	case NegotiateAuto, NegotiateLocal, NegotiateService:
	default:
		return out, fmt.Errorf("invalid negotiate mode %q (%s): valid values are auto, local and service", string(out.Negotiate), out.name("Negotiate"))
	}
	switch {
	case out.KeyWait == 0:
		out.KeyWait = defaultKeyWait
	case out.KeyWait < 0:
		return out, fmt.Errorf("invalid key wait %s (%s): it must be positive, such as 10s", out.KeyWait, out.name("KeyWait"))
	}
	switch {
	case out.FetchTimeout == 0:
		out.FetchTimeout = defaultFetchTimeout
	case out.FetchTimeout < 0:
		return out, fmt.Errorf("invalid fetch timeout %s (%s): it must be positive, such as 10s", out.FetchTimeout, out.name("FetchTimeout"))
	}
	switch {
	case out.KeyRefresh == 0:
		out.KeyRefresh = defaultKeyRefresh
	case out.KeyRefresh < time.Second || out.KeyRefresh > keyUse:
		return out, fmt.Errorf("invalid key refresh interval %s (%s): valid values are 1s to 85m, such as 1h", out.KeyRefresh, out.name("KeyRefresh"))
	}
	if out.Application != "" && !ValidHubName(out.Application) {
		return out, fmt.Errorf("invalid application name %q (%s): it must start with a letter and hold at most 128 letters, digits and _`,.[]", out.Application, out.name("Application"))
	}
	// Redirects are never followed: the service does not redirect, and one
	// from https to http on the same host would carry the bearer token in
	// clear text. A copy keeps the caller's client as it was.
	switch t := out.Transport.(type) {
	case nil:
		out.Transport = defaultHTTPClient()
	case *http.Client:
		hc := *t
		hc.CheckRedirect = noRedirect
		out.Transport = &hc
	}
	if out.Now == nil {
		out.Now = time.Now
	}
	if out.Logger == nil {
		out.Logger = slog.New(slog.DiscardHandler)
	}
	if out.healthRetry == 0 {
		out.healthRetry = 3 * time.Second
	}
	return out, nil
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// name is what messages call an option: its name in OptionNames, such as
// SIGNALR_KEY_WAIT, else its field, such as Options.KeyWait.
func (o *Options) name(field string) string {
	if n := o.OptionNames[field]; n != "" {
		return n
	}
	return "Options." + field
}

// negotiateAuto is how to ask for NegotiateAuto, in the words of name.
func (o *Options) negotiateAuto() string {
	if n := o.OptionNames["Negotiate"]; n != "" {
		return n + "=auto"
	}
	return "Options.Negotiate = NegotiateAuto"
}

func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	// Every send goes to the same few hosts: keep enough idle connections
	// for concurrent sends to reuse them.
	t.MaxIdleConnsPerHost = 32
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return &http.Client{Transport: t, Timeout: requestTimeout, CheckRedirect: noRedirect}
}
