package settings

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/signalr-entra/handler/bindings"
)

// Handler holds the handler's own settings, read with envconfig from the app
// settings (environment variables).
type Handler struct {
	// Hubs are the hubs this app serves; the first is the default for requests
	// that name none.
	Hubs []string `envconfig:"SIGNALR_HUBS" default:"default"`
	// UserIDHeader is a request header trusted for the user id. Unset by
	// default: only App Service Authentication names the user.
	UserIDHeader string `envconfig:"SIGNALR_USERID_HEADER"`
	// AppServiceAuthentication is set by App Service when its Authentication
	// is on; only then are its principal headers proof of a user.
	AppServiceAuthentication bool `envconfig:"WEBSITE_AUTH_ENABLED"`
	// ClaimTypes lists principal claim types copied into client tokens.
	ClaimTypes []string `envconfig:"SIGNALR_CLAIM_TYPES"`
	// TokenLifetime is the lifetime of client access tokens.
	TokenLifetime time.Duration `envconfig:"SIGNALR_TOKEN_LIFETIME" default:"1h"`
	// ConnectionSetting names the connection (the prefix of its settings).
	ConnectionSetting string `envconfig:"SIGNALR_CONNECTION_SETTING" default:"AzureSignalRConnectionString"`
	// Negotiate is auto, local or service: how client tokens are signed.
	Negotiate string `envconfig:"SIGNALR_NEGOTIATE" default:"auto"`
	// KeyWait bounds how long the first request waits for the first access key.
	KeyWait time.Duration `envconfig:"SIGNALR_KEY_WAIT" default:"10s"`
	// KeyRefresh is how often the temporary access key is replaced. The
	// service's keys live 90 minutes, and hourly rotation is advised
	// (learn.microsoft.com/azure/azure-signalr/signalr-concept-authorize-azure-active-directory).
	KeyRefresh time.Duration `envconfig:"SIGNALR_KEY_REFRESH" default:"1h"`
	// MaxBodyBytes bounds the body of messages and groups requests.
	MaxBodyBytes int64 `envconfig:"SIGNALR_MAX_BODY_BYTES" default:"1048576"`
	// MaxItems bounds the messages or group actions of one request.
	MaxItems int `envconfig:"SIGNALR_MAX_ITEMS" default:"1000"`
	// MaxInflightBytes bounds the request bytes held across all requests.
	MaxInflightBytes int64 `envconfig:"SIGNALR_MAX_INFLIGHT_BYTES" default:"67108864"`
	// Application is the application name the service prefixes to hubs.
	Application string `envconfig:"SIGNALR_APPLICATION"`
	// CORSOrigins are the origins allowed to call the handler standalone.
	CORSOrigins []string `envconfig:"SIGNALR_CORS_ORIGINS"`
	// Port is where the handler listens, given by the Functions host; read
	// by ListenPort, which a process calls before the rest to listen early.
	Port int `envconfig:"FUNCTIONS_CUSTOMHANDLER_PORT" ignored:"true"`
	// UpstreamAudience, when set, makes upstream requests carry a token for
	// it: the resource of the upstream rule's ManagedIdentity auth.
	UpstreamAudience string `envconfig:"SIGNALR_UPSTREAM_AUDIENCE"`
	// UpstreamTenant is the tenant of the SignalR resource's identity.
	UpstreamTenant string `envconfig:"SIGNALR_UPSTREAM_TENANT"`
	// UpstreamIdentity is the object id or app id upstream tokens must name.
	UpstreamIdentity string `envconfig:"SIGNALR_UPSTREAM_IDENTITY"`
	// AuthorityHost is Entra ID's host, which azidentity reads too; "" means
	// public Azure.
	AuthorityHost string `envconfig:"AZURE_AUTHORITY_HOST"`
	// NegotiateAuthority, when set, is the OpenID Connect issuer whose
	// tokens negotiate requires; see signin.go.
	NegotiateAuthority string `envconfig:"SIGNALR_NEGOTIATE_AUTHORITY"`
	// NegotiateAudiences are the audiences negotiate accepts in those tokens.
	NegotiateAudiences []string `envconfig:"SIGNALR_NEGOTIATE_AUDIENCE"`
	// NegotiateUserIDClaim is the token claim that becomes the user id.
	NegotiateUserIDClaim string `envconfig:"SIGNALR_NEGOTIATE_USERID_CLAIM" default:"sub"`
}

// ValidHubName reports whether name follows the service's rule for hub and
// application names (bindings.ValidHubName).
func ValidHubName(name string) bool { return bindings.ValidHubName(name) }

const (
	// MaxTokenLifetime caps SIGNALR_TOKEN_LIFETIME.
	MaxTokenLifetime = 24 * time.Hour
	// MaxKeyRefresh caps SIGNALR_KEY_REFRESH: a temporary key lives 90
	// minutes and is not used in its last five.
	MaxKeyRefresh = 85 * time.Minute
)

// DefaultPort is where the handler listens when FUNCTIONS_CUSTOMHANDLER_PORT
// is unset, as `func start` does by default.
const DefaultPort = 7071

// ListenPort reads FUNCTIONS_CUSTOMHANDLER_PORT from the process
// environment: the port the Functions host gives the handler, DefaultPort
// when unset. It is read alone so that the handler can listen while it
// reads the rest.
func ListenPort() (int, error) {
	const name = "FUNCTIONS_CUSTOMHANDLER_PORT"
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return DefaultPort, nil
	}
	port, err := strconv.Atoi(v)
	if err != nil || port < 1 || port > 65535 {
		return 0, &SettingError{name, fmt.Sprintf("invalid value %q", v), "Use a port from 1 to 65535"}
	}
	return port, nil
}

// load reads h from the process environment with envconfig and validates it.
func (h *Handler) load() error {
	port, portErr := ListenPort()
	if err := envconfig.Process("", h); err != nil {
		var pe *envconfig.ParseError
		if errors.As(err, &pe) {
			err = &SettingError{pe.KeyName, fmt.Sprintf("invalid value %q: %v", pe.Value, pe.Err), "Use a value of type " + pe.TypeName}
		}
		return errors.Join(err, portErr)
	}
	if portErr != nil {
		// Reported once, beside any other problem: Validate would repeat it.
		port = DefaultPort
	}
	h.Port = port
	for i, hub := range h.Hubs {
		h.Hubs[i] = strings.TrimSpace(hub)
	}
	h.Negotiate = strings.ToLower(strings.TrimSpace(h.Negotiate))
	h.normalizeSignIn()
	return errors.Join(portErr, h.Validate())
}

// Validate checks the handler's settings and joins one *SettingError per problem.
func (h *Handler) Validate() error {
	var errs []error
	bad := func(setting, problem, fix string) { errs = append(errs, &SettingError{setting, problem, fix}) }
	switch h.Negotiate {
	case "auto", "local", "service":
	default:
		bad("SIGNALR_NEGOTIATE", fmt.Sprintf("invalid value %q", h.Negotiate),
			"Valid values are auto (sign client tokens locally when a key is at hand, else ask the service), local and service")
	}
	if len(h.Hubs) == 0 {
		bad("SIGNALR_HUBS", "no hub is named", "List the hubs this app serves, comma-separated, such as chat,news")
	}
	for _, hub := range h.Hubs {
		if !ValidHubName(hub) {
			bad("SIGNALR_HUBS", fmt.Sprintf("invalid hub name %q", hub),
				"A hub name starts with a letter, then up to 127 letters, digits or _ ` , . [ ]")
		}
	}
	if h.TokenLifetime < time.Minute || h.TokenLifetime > MaxTokenLifetime {
		bad("SIGNALR_TOKEN_LIFETIME", fmt.Sprintf("lifetime %s is out of range", h.TokenLifetime), "Use a duration from 1m to 24h, such as 1h")
	}
	if h.KeyRefresh < time.Second || h.KeyRefresh > MaxKeyRefresh {
		bad("SIGNALR_KEY_REFRESH", fmt.Sprintf("interval %s is out of range", h.KeyRefresh), "Use a duration from 1s to 85m, such as 1h: a temporary key lives 90 minutes")
	}
	if h.KeyWait <= 0 {
		bad("SIGNALR_KEY_WAIT", fmt.Sprintf("wait %s is not positive", h.KeyWait), "Use a positive duration, such as 10s")
	}
	if h.MaxBodyBytes <= 0 {
		bad("SIGNALR_MAX_BODY_BYTES", fmt.Sprintf("limit %d is not positive", h.MaxBodyBytes), "Use a positive number of bytes, such as 1048576")
	}
	if h.MaxInflightBytes <= 0 {
		bad("SIGNALR_MAX_INFLIGHT_BYTES", fmt.Sprintf("limit %d is not positive", h.MaxInflightBytes), "Use a positive number of bytes, such as 67108864 (64 MB)")
	}
	if h.MaxItems <= 0 {
		bad("SIGNALR_MAX_ITEMS", fmt.Sprintf("limit %d is not positive", h.MaxItems), "Use a positive number of messages or group actions per request, such as 1000")
	}
	if h.Port < 1 || h.Port > 65535 {
		bad("FUNCTIONS_CUSTOMHANDLER_PORT", fmt.Sprintf("port %d is out of range", h.Port), "Use a port from 1 to 65535")
	}
	if strings.TrimSpace(h.ConnectionSetting) == "" {
		bad("SIGNALR_CONNECTION_SETTING", "is empty", "Name the prefix of the connection's settings, or unset it for AzureSignalRConnectionString")
	}
	errs = append(errs, h.validateSignIn()...)
	return errors.Join(errs...)
}
