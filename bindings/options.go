package bindings

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"time"

	"github.com/signalr-entra/handler/settings"
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
	// defaultKeyRefresh follows the seeds: rotate the temporary key once an hour.
	defaultKeyRefresh = time.Hour
	// requestTimeout is the C# SDK's timeout for one request.
	requestTimeout = 100 * time.Second
)

// Options configures a Client. A nil *Options means all defaults.
type Options struct {
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
	// HTTPClient sends every request. Defaults to a client with a 100s
	// timeout that keeps connections alive.
	HTTPClient *http.Client
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// Logger receives one record per change of an endpoint's state. Defaults
	// to slog.Default().
	Logger *slog.Logger

	// appSettings says the endpoints come from the app settings
	// (settings.Load): messages then name those settings (see name).
	appSettings bool
	// manual stops New from starting the background loop, so that tests
	// drive it with Client.tick.
	manual bool
	// retryBase is the first retry delay of REST calls. Defaults to 0.8s.
	retryBase time.Duration
	// healthRetry is the wait between health checks of a failing endpoint.
	// Defaults to 3s, as in the Management SDK.
	healthRetry time.Duration
}

// withDefaults returns a validated copy of o with defaults filled in;
// appSettings says the endpoints come from the app settings.
func (o *Options) withDefaults(appSettings bool) (Options, error) {
	var out Options
	if o != nil {
		out = *o
	}
	out.appSettings = appSettings
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
		return out, fmt.Errorf("invalid fetch timeout %s: it must be positive, such as 10s", out.FetchTimeout)
	}
	switch {
	case out.KeyRefresh == 0:
		out.KeyRefresh = defaultKeyRefresh
	case out.KeyRefresh < time.Second || out.KeyRefresh > keyUse:
		return out, fmt.Errorf("invalid key refresh interval %s (%s): valid values are 1s to 85m, such as 1h", out.KeyRefresh, out.name("KeyRefresh"))
	}
	if out.Application != "" && !settings.ValidHubName(out.Application) {
		return out, fmt.Errorf("invalid application name %q (%s): it must start with a letter and hold at most 128 letters, digits and _`,.[]", out.Application, out.name("Application"))
	}
	if out.HTTPClient == nil {
		out.HTTPClient = defaultHTTPClient()
	}
	// Redirects are never followed: the service does not redirect, and one
	// from https to http on the same host would carry the bearer token in
	// clear text. A copy keeps the caller's client as it was.
	hc := *out.HTTPClient
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	out.HTTPClient = &hc
	if out.Now == nil {
		out.Now = time.Now
	}
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	if out.retryBase == 0 {
		out.retryBase = 800 * time.Millisecond
	}
	if out.healthRetry == 0 {
		out.healthRetry = 3 * time.Second
	}
	return out, nil
}

// name is what messages call an option: its app setting, such as
// SIGNALR_KEY_WAIT, when the endpoints come from the app settings, else its
// field, such as Options.KeyWait. The app settings are settings.Handler's
// fields of the same names, whose tags name them.
func (o *Options) name(field string) string {
	if f, ok := reflect.TypeFor[settings.Handler]().FieldByName(field); ok && o.appSettings {
		return f.Tag.Get("envconfig")
	}
	return "Options." + field
}

// negotiateAuto is how to ask for NegotiateAuto, in the words of name.
func (o *Options) negotiateAuto() string {
	if o.appSettings {
		return o.name("Negotiate") + "=auto"
	}
	return o.name("Negotiate") + " = NegotiateAuto"
}

func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	// Every send goes to the same few hosts: keep enough idle connections
	// for concurrent sends to reuse them.
	t.MaxIdleConnsPerHost = 32
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return &http.Client{Transport: t, Timeout: requestTimeout}
}
