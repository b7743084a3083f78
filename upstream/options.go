package upstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/signalr-entra/handler/bindings"
	"github.com/signalr-entra/handler/internal/loopback"
	"github.com/signalr-entra/handler/internal/oidc"
)

// DefaultAuthorityHost is public Azure's Entra ID.
const DefaultAuthorityHost = "https://login.microsoftonline.com/"

// Options configure how upstream requests, which SignalR Service
// posts to the upstream function, are authenticated. Every configured check
// must pass; with none configured every upstream request is refused.
type Options struct {
	// AccessKeys check X-ASRS-Signature: the access keys of the endpoints'
	// connection strings. Defaults to none.
	AccessKeys []bindings.Secret
	// Audience, when set, requires a bearer token for this audience: the
	// resource of the upstream rule's ManagedIdentity auth
	// (SIGNALR_UPSTREAM_AUDIENCE). Defaults to none.
	Audience string
	// Tenant is the tenant of the SignalR resource's identity, whose OpenID
	// configuration signs tokens (SIGNALR_UPSTREAM_TENANT). Required with
	// Audience.
	Tenant string
	// Identity is the object id or app id a token must name
	// (SIGNALR_UPSTREAM_IDENTITY). Required with Audience: Entra ID issues
	// an app-only token for any audience to any app of the tenant that asks
	// with its own credentials (the client credentials grant), so the
	// audience alone does not say the token is the service's.
	Identity string
	// AuthorityHost is Entra ID's host (AZURE_AUTHORITY_HOST). Defaults to
	// DefaultAuthorityHost.
	AuthorityHost string
	// HTTPClient fetches the OpenID configuration and keys. Defaults to a
	// client with a 10s timeout that follows no redirects.
	HTTPClient *http.Client
	// Now is the clock tokens are checked against. Defaults to time.Now.
	Now func() time.Time
}

// Receiver checks upstream requests and holds the functions registered
// for their events.
type Receiver struct {
	auth   *auth
	mu     sync.RWMutex
	funcs  map[eventKey]EventFunc
	logged sync.Map // warnings said once
}

// NewReceiver returns a Receiver that checks requests as o says and logs
// to log.
func NewReceiver(o Options, log *slog.Logger) (*Receiver, error) {
	up := &Receiver{auth: &auth{log: log}, funcs: map[eventKey]EventFunc{}}
	for _, k := range o.AccessKeys {
		if k.Reveal() != "" {
			up.auth.keys = append(up.auth.keys, []byte(k.Reveal()))
		}
	}
	o.Audience, o.Tenant, o.Identity = strings.TrimSpace(o.Audience), strings.TrimSpace(o.Tenant), strings.TrimSpace(o.Identity)
	if o.Audience == "" {
		if o.Identity != "" || o.Tenant != "" {
			return nil, errors.New("SIGNALR_UPSTREAM_IDENTITY and SIGNALR_UPSTREAM_TENANT take effect only with SIGNALR_UPSTREAM_AUDIENCE: set it to the resource of the upstream rule's ManagedIdentity auth")
		}
		return up, nil
	}
	configURLs, err := openIDConfigurationURLs(o.AuthorityHost, o.Tenant)
	if err != nil {
		return nil, err
	}
	if o.Identity == "" {
		return nil, errMissingIdentity
	}
	client := o.HTTPClient
	if client == nil {
		client = &http.Client{
			Timeout: 10 * time.Second,
			// A redirect could lead to plain http: refuse it.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	verifier, err := oidc.New(oidc.Config{Documents: configURLs[:], Audiences: []string{o.Audience}, Setting: "SIGNALR_UPSTREAM_TENANT",
		Purpose: "upstream tokens", Client: client, Now: o.Now, Log: log})
	if err != nil {
		return nil, err
	}
	up.auth.tokens = &tokenValidator{audience: o.Audience, identity: o.Identity, configURLs: configURLs, client: client, verifier: verifier}
	return up, nil
}

// errMissingIdentity says how to find the identity a token must name.
var errMissingIdentity = errors.New("SIGNALR_UPSTREAM_IDENTITY is not set: with SIGNALR_UPSTREAM_AUDIENCE alone any app of the tenant could get a token that passes. " +
	"Set it to the object id of the SignalR resource's managed identity, the principalId of " +
	"`az signalr identity show -g <group> -n <signalr name> --query principalId -o tsv` " +
	"(for a user-assigned identity, `az identity show -g <group> -n <identity name> --query principalId -o tsv`)")

// openIDConfigurationURLs returns the tenant's v1 and v2 OpenID
// configuration URLs.
func openIDConfigurationURLs(authorityHost, tenant string) ([2]string, error) {
	switch strings.ToLower(tenant) {
	case "":
		return [2]string{}, errors.New("SIGNALR_UPSTREAM_TENANT is not set: with SIGNALR_UPSTREAM_AUDIENCE, set it to the tenant id of the SignalR resource's identity")
	case "common", "organizations", "consumers":
		return [2]string{}, fmt.Errorf("invalid SIGNALR_UPSTREAM_TENANT value %q: name the tenant of the SignalR resource's identity by its id, such as 72f988bf-86f1-41af-91ab-2d7cd011db47", tenant)
	}
	if strings.ContainsAny(tenant, "/?#% ") {
		return [2]string{}, fmt.Errorf("invalid SIGNALR_UPSTREAM_TENANT value %q: use a tenant id or domain", tenant)
	}
	if authorityHost == "" {
		authorityHost = DefaultAuthorityHost
	}
	u, err := url.Parse(authorityHost)
	if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && loopback.Is(u.Hostname()))) {
		return [2]string{}, fmt.Errorf("invalid AZURE_AUTHORITY_HOST value %q: use the https URL of the cloud's Entra ID, such as %s", authorityHost, DefaultAuthorityHost)
	}
	base := strings.TrimSuffix(u.String(), "/") + "/" + tenant
	return [2]string{base + "/.well-known/openid-configuration", base + "/v2.0/.well-known/openid-configuration"}, nil
}

// LogOnce warns of kind the first time only.
func (up *Receiver) LogOnce(log *slog.Logger, kind, msg string, attrs ...any) {
	if _, seen := up.logged.LoadOrStore(kind, true); !seen {
		log.Warn(msg, attrs...)
	}
}

// Check returns nil when an upstream request with header may pass, and
// otherwise why not.
func (up *Receiver) Check(ctx context.Context, header http.Header) *Refusal {
	return up.auth.check(ctx, header)
}

// LogRefusal logs the first refusal of each kind.
func (up *Receiver) LogRefusal(r *Refusal, invocationID string) {
	up.auth.logRefusal(r, invocationID)
}

// Handle registers fn for event of hub, which the caller has checked is
// served, and reports false when the event already has a function.
func (up *Receiver) Handle(hub, event string, fn EventFunc) bool {
	category := CategoryMessages
	if IsConnectionEvent(event) {
		category = CategoryConnections
	}
	key := newEventKey(hub, category, event)
	up.mu.Lock()
	defer up.mu.Unlock()
	if up.funcs[key] != nil {
		return false
	}
	up.funcs[key] = fn
	return true
}

// Func returns the function registered for e, or nil.
func (up *Receiver) Func(e *Event) EventFunc {
	up.mu.RLock()
	defer up.mu.RUnlock()
	return up.funcs[newEventKey(e.Hub, e.Category, e.Event)]
}

// Validate reports what NewReceiver would refuse in o.
func (o Options) Validate() error {
	_, err := NewReceiver(o, slog.New(slog.DiscardHandler))
	return err
}

// OpenIDConfiguration is what the upstream token check reads from Entra ID.
type OpenIDConfiguration struct {
	// URL is the tenant's v1 OpenID configuration.
	URL string
	// Issuers are the issuers tokens may name.
	Issuers []string
	// KeyIDs name the signing keys, sorted.
	KeyIDs []string
}

// OpenIDConfiguration fetches the tenant's OpenID configuration and keys as
// the token check does. It fails when o sets no Audience.
func (o Options) OpenIDConfiguration(ctx context.Context) (*OpenIDConfiguration, error) {
	log := slog.New(slog.DiscardHandler)
	up, err := NewReceiver(o, log)
	if err != nil {
		return nil, err
	}
	v := up.auth.tokens
	if v == nil {
		return nil, errors.New("SIGNALR_UPSTREAM_AUDIENCE is not set, so no token is checked")
	}
	d, err := oidc.Discover(ctx, v.client, v.configURLs[:]...)
	if err != nil {
		return nil, err
	}
	return &OpenIDConfiguration{URL: v.configURLs[0], Issuers: d.Issuers, KeyIDs: d.KeyIDs}, nil
}
