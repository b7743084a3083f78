package bindings

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/signalr-entra/handler/settings"
)

const (
	// keyLife is the life of a temporary key (seeds: 90 minutes).
	keyLife = 90 * time.Minute
	// keyUse is how long a key signs: 5 minutes short of its life, so that
	// clocks apart and slow clients do not meet an expired key.
	keyUse = 85 * time.Minute
	// restTokenLife is the life of the tokens signing REST calls in
	// access-key mode.
	restTokenLife = time.Hour
	maxReplyBytes = 1 << 20
)

// health states of an endpoint; unknown counts as healthy.
const (
	healthUnknown int32 = iota
	healthy
	unhealthy
)

// Endpoint talks to one SignalR Service resource with its own credential
// and key. Get them from Client.Endpoints.
type Endpoint struct {
	name       string
	setting    string
	typ        settings.EndpointType
	uri        string // the service URI, for messages
	serviceURL *url.URL
	clientBase string // where clients connect
	serverBase string // where REST calls go
	auth       settings.Auth
	opts       *Options

	accessKey []byte // access-key mode only
	kid       string // access-key mode: an opaque per-process id

	cred  azcore.TokenCredential // Entra mode only
	scope string
	token *resource[azcore.AccessToken]
	key   *resource[tempKey]

	health atomic.Int32
	// healthErr is the last failed health check, for messages.
	healthErr atomic.Pointer[error]

	mu     sync.Mutex
	states map[string]string // last logged state per kind
}

// tempKey is a temporary access key from the auth API.
type tempKey struct {
	id       string
	secret   []byte
	issuedAt time.Time
}

func newEndpoint(base context.Context, s settings.Endpoint, opts *Options) (*Endpoint, error) {
	// Messages name the app settings of an endpoint read from them (Setting
	// is set), else the fields of settings.Endpoint a Go program filled in.
	setting := s.Setting
	what, fields := strings.TrimSpace("settings.Endpoint "+s.Name), []string{"ServiceURI", "ClientEndpoint", "ServerEndpoint"}
	if setting != "" {
		what, fields = setting, []string{"serviceUri", "clientEndpoint", "serverEndpoint"}
	}
	if s.ServiceURI == nil || s.ServiceURI.Host == "" {
		return nil, fmt.Errorf("%s: the service URI is missing; set %s (or Endpoint= in a connection string) to https://<name>.service.signalr.net", what, fields[0])
	}
	for i, u := range []*url.URL{s.ServiceURI, s.ClientEndpoint, s.ServerEndpoint} {
		if err := checkTransport(what, fields[i], u); err != nil {
			return nil, err
		}
	}
	e := &Endpoint{
		name:       s.Name,
		setting:    setting,
		typ:        s.Type,
		uri:        baseURL(s.ServiceURI),
		serviceURL: s.ServiceURI,
		clientBase: baseURL(s.ServiceURI),
		serverBase: baseURL(s.ServiceURI),
		auth:       s.Auth,
		opts:       opts,
		cred:       s.Credential,
		scope:      s.Scope,
		states:     map[string]string{},
	}
	if e.typ == "" {
		e.typ = settings.Primary
	}
	if s.ClientEndpoint != nil {
		e.clientBase = baseURL(s.ClientEndpoint)
	}
	if s.ServerEndpoint != nil {
		e.serverBase = baseURL(s.ServerEndpoint)
	}
	if e.scope == "" {
		e.scope = settings.DefaultScope
	}
	// Messages name the identity: never leave it blank.
	switch {
	case e.auth.Kind != "":
	case s.AccessKey != "":
		e.auth.Kind = "AccessKey"
	case s.Credential != nil:
		e.auth.Kind = credentialKind(s.Credential)
	}
	switch {
	case s.AccessKey != "" && s.Credential != nil:
		return nil, fmt.Errorf("%s: both an access key and a credential are set; use one (Microsoft Entra ID is recommended)", what)
	case s.AccessKey != "":
		e.accessKey = []byte(s.AccessKey.Reveal())
		var id [8]byte
		rand.Read(id[:])
		e.kid = hex.EncodeToString(id[:])
	case s.Credential != nil:
		e.token = &resource[azcore.AccessToken]{now: opts.Now, base: base, fetch: e.fetchEntraToken}
		// The service signs every client token in service mode: the
		// temporary key, and the role it needs, are of no use then.
		if opts.Negotiate != NegotiateService {
			e.key = &resource[tempKey]{now: opts.Now, base: base, fetch: e.fetchKey}
		}
	default:
		return nil, fmt.Errorf("%s: neither an access key nor a credential is set; set %s with credential settings (Microsoft Entra ID) or an AccessKey", what, fields[0])
	}
	return e, nil
}

// Name is the endpoint's name: "" for the default connection, else the
// <name> of Azure__SignalR__Endpoints__<name>.
func (e *Endpoint) Name() string { return e.name }

// URI is the service URI.
func (e *Endpoint) URI() string { return e.uri }

// String names the endpoint by its setting and URI, or by its URI alone
// when it has no setting. It, GoString and LogValue keep fmt and slog from
// printing the fields, keys among them.
func (e *Endpoint) String() string {
	if e.setting == "" {
		return e.uri
	}
	return e.setting + " (" + e.uri + ")"
}

// label names the endpoint in messages: its setting, else its URI.
func (e *Endpoint) label() string {
	if e.setting == "" {
		return e.uri
	}
	return e.setting
}

// uriSetting says where the service URI comes from: keys, such as
// "serviceUri", followed by "in <setting>" when inSetting, for endpoints
// read from app settings, else the URI passed in Go.
func (e *Endpoint) uriSetting(keys string, inSetting bool) string {
	switch {
	case e.setting == "":
		return "the service URI " + e.uri
	case inSetting:
		return keys + " in " + e.setting
	}
	return keys
}

// logAttrs name the endpoint in log records: its URI, and its setting
// when it has one.
func (e *Endpoint) logAttrs() []any {
	if e.setting == "" {
		return []any{"endpoint", e.uri}
	}
	return []any{"endpoint", e.uri, "setting", e.setting}
}

// GoString is String, for %#v.
func (e *Endpoint) GoString() string { return e.String() }

// LogValue is what slog records of an endpoint.
func (e *Endpoint) LogValue() slog.Value {
	if e.setting == "" {
		return slog.GroupValue(slog.String("uri", e.uri))
	}
	return slog.GroupValue(slog.String("setting", e.setting), slog.String("uri", e.uri))
}

// Type says whether negotiate prefers the endpoint.
func (e *Endpoint) Type() settings.EndpointType { return e.typ }

// Healthy reports the last health check; true before the first.
func (e *Endpoint) Healthy() bool { return e.health.Load() != unhealthy }

// healthTries is how many health checks in a row must fail before an
// endpoint is offline (the Management SDK: a check and two retries).
const healthTries = 3

// checkHealth checks the endpoint's health, up to healthTries times retry
// apart while it fails, and records the outcome.
func (e *Endpoint) checkHealth(ctx context.Context, retry time.Duration) {
	var err error
	for try := 1; try <= healthTries; try++ {
		hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = e.Health(hctx)
		cancel()
		if err == nil || try == healthTries || !sleep(ctx, retry) {
			break
		}
	}
	if ctx.Err() != nil {
		return
	}
	e.logChange("health", err)
	if err != nil {
		e.healthErr.Store(&err)
		e.health.Store(unhealthy)
		return
	}
	e.health.Store(healthy)
}

// healthProblem says why the endpoint is offline, for messages.
func (e *Endpoint) healthProblem() string {
	if p := e.healthErr.Load(); p != nil && !e.Healthy() {
		return (*p).Error()
	}
	return "online"
}

// sleep waits d, or less when ctx ends first; it reports whether ctx is
// still alive.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (e *Endpoint) now() time.Time { return e.opts.Now() }

func (e *Endpoint) fetchEntraToken(ctx context.Context) (azcore.AccessToken, time.Time, time.Time, error) {
	// Entra's own bound: a hung call fails and is retried in the
	// background, not waited out.
	ctx, cancel := context.WithTimeout(ctx, e.opts.FetchTimeout)
	defer cancel()
	tok, err := e.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{e.scope}})
	if err != nil {
		err = &Error{
			Op:       "get a Microsoft Entra ID token",
			Endpoint: e.uri,
			Message:  fmt.Sprintf("the credential of %s (%s) could not get a token for scope %s%s.%s%s", e.auth.Identity(), e.label(), e.scope, credentialHint(e.auth), e.entraFix(err), e.diagnose()),
			Err:      err,
		}
		e.logChange("credential", err)
		return tok, time.Time{}, time.Time{}, err
	}
	e.logChange("credential", nil)
	refreshAt := tok.ExpiresOn.Add(-5 * time.Minute)
	if !tok.RefreshOn.IsZero() && tok.RefreshOn.Before(refreshAt) {
		refreshAt = tok.RefreshOn
	}
	return tok, refreshAt, tok.ExpiresOn.Add(-time.Minute), nil
}

// entraFix is the specific fix of a common Entra ID refusal, after a
// space, or "".
func (e *Endpoint) entraFix(err error) string {
	fix := EntraFix(settings.Endpoint{Setting: e.setting, Auth: e.auth}, err, os.Getenv)
	if fix == "" {
		return ""
	}
	return " " + fix
}

// diagnose points at the check of the app settings, for endpoints read
// from them.
func (e *Endpoint) diagnose() string {
	if e.setting == "" {
		return ""
	}
	return " Run `handler check` with the same settings for a diagnosis"
}

// credentialHint names the usual mistake behind a credential's failure.
func credentialHint(a settings.Auth) string {
	if a.Kind == "ManagedIdentityCredential" && a.ClientID != "" {
		// Both are GUIDs, and the portal shows the object id first.
		return " (a user-assigned identity is named by its client id, not its object (principal) id; and it must be assigned to this app)"
	}
	return ""
}

// fetchKey gets a temporary access key from the auth API.
func (e *Endpoint) fetchKey(ctx context.Context) (tempKey, time.Time, time.Time, error) {
	issued := e.now()
	k, err := e.getAccessKey(ctx)
	e.logChange("accessKey", err)
	if err != nil {
		return k, time.Time{}, time.Time{}, err
	}
	k.issuedAt = issued
	return k, issued.Add(e.opts.KeyRefresh), issued.Add(keyUse), nil
}

// opAccessKey names the auth API call in errors.
const opAccessKey = "get the temporary access key"

func (e *Endpoint) getAccessKey(ctx context.Context) (tempKey, error) {
	const op = opAccessKey
	_, body, err := e.do(ctx, request{op: op, kind: kindAuthAPI, method: http.MethodGet, path: "/api/v1/auth/accessKey"})
	if err != nil {
		return tempKey{}, err
	}
	var reply struct {
		KeyID     *string `json:"KeyId"`
		AccessKey *string `json:"AccessKey"`
	}
	if err := json.Unmarshal(body, &reply); err != nil || reply.KeyID == nil || reply.AccessKey == nil || *reply.AccessKey == "" {
		return tempKey{}, &Error{Op: op, Endpoint: e.uri, Message: "the reply is not JSON with KeyId and AccessKey: check that " + e.uriSetting("serviceUri", false) + " names a SignalR Service", Err: err}
	}
	return tempKey{id: *reply.KeyID, secret: []byte(*reply.AccessKey)}, nil
}

// GetAccessKey calls the auth API now, bypassing the cached key, and returns
// the new key's id. It checks that the identity may sign client tokens.
func (e *Endpoint) GetAccessKey(ctx context.Context) (keyID string, err error) {
	if e.cred == nil {
		return "", fmt.Errorf("%s uses an access key: the auth API serves Microsoft Entra ID only", e.label())
	}
	k, err := e.getAccessKey(ctx)
	return k.id, err
}

// waitError explains that the first key did not come in time.
func (e *Endpoint) waitError(err error) error {
	// Only a bare errWait, or negotiate's own bound (KeyWait too) ending
	// the wait: a fetch that itself ran out of time while waiting for the
	// Entra token comes explained already.
	if err != errWait && err != context.DeadlineExceeded {
		return err
	}
	return &Error{
		Op:       opAccessKey,
		Endpoint: e.uri,
		Message:  fmt.Sprintf("no answer within %s (%s): the auth API or Microsoft Entra ID is slow or unreachable; check the network path to both", e.opts.KeyWait, e.opts.name("KeyWait")),
		Err:      errWait,
	}
}

// logChange logs err once per change of state of one kind of operation,
// not once per request; a success after a failure logs the recovery.
func (e *Endpoint) logChange(kind string, err error) {
	state := ""
	if err != nil {
		// Only failures of the endpoint are its state; a bad name in one
		// request is the caller's to report.
		var be *Error
		if !errors.As(err, &be) {
			return
		}
		state = be.Op + ": " + be.Message
		if be.Status != 0 {
			state = fmt.Sprintf("%d %s", be.Status, be.Code)
		}
	}
	e.mu.Lock()
	old, seen := e.states[kind]
	e.states[kind] = state
	e.mu.Unlock()
	switch {
	case old == state:
	case err != nil:
		e.opts.Logger.Warn("SignalR endpoint failing", append(e.logAttrs(), "kind", kind, "error", err)...)
	case seen:
		e.opts.Logger.Info("SignalR endpoint recovered", append(e.logAttrs(), "kind", kind)...)
	}
}

// logOnce logs an informational message the first time it happens.
func (e *Endpoint) logOnce(kind, msg string, attrs ...any) {
	e.mu.Lock()
	_, seen := e.states[kind]
	e.states[kind] = msg
	e.mu.Unlock()
	if !seen {
		e.opts.Logger.Info(msg, append(e.logAttrs(), attrs...)...)
	}
}
