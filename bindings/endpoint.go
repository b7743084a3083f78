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
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

const (
	// keyLife is the life of a temporary key: 90 minutes
	// (learn.microsoft.com/azure/azure-signalr/signalr-concept-authorize-azure-active-directory).
	keyLife = 90 * time.Minute
	// keyUse is how long a key signs: 5 minutes short of its life, so that
	// clocks apart and slow clients do not meet an expired key.
	keyUse = 85 * time.Minute
	// restTokenLife is the life of the tokens signing REST calls in
	// access-key mode.
	restTokenLife = time.Hour
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
	label      string // names the endpoint in messages: its Label, else its URI
	labeled    bool   // the configuration gave a Label
	typ        EndpointType
	uri        string // the service URI, for messages
	serviceURL *url.URL
	clientBase string // where clients connect
	serverBase string // where REST calls go
	identity   string // who the credential signs in as, for messages
	explain    func(error) string
	opts       *Options
	pipeline   runtime.Pipeline

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

func newEndpoint(base context.Context, c EndpointConfig, opts *Options, pl runtime.Pipeline) (*Endpoint, error) {
	what := c.Label
	if what == "" {
		what = "bindings.EndpointConfig"
		if c.Name != "" {
			what += " " + c.Name
		}
	}
	if c.ServiceURI == nil || c.ServiceURI.Host == "" {
		return nil, fmt.Errorf("%s: the service URI is missing; set ServiceURI to https://<name>.service.signalr.net", what)
	}
	for i, u := range []*url.URL{c.ServiceURI, c.ClientEndpoint, c.ServerEndpoint} {
		if err := checkTransport(what, []string{"ServiceURI", "ClientEndpoint", "ServerEndpoint"}[i], u); err != nil {
			return nil, err
		}
	}
	e := &Endpoint{
		name:       c.Name,
		label:      c.Label,
		labeled:    c.Label != "",
		typ:        c.Type,
		uri:        baseURL(c.ServiceURI),
		serviceURL: c.ServiceURI,
		clientBase: baseURL(c.ServiceURI),
		serverBase: baseURL(c.ServiceURI),
		identity:   c.Identity,
		explain:    c.Explain,
		opts:       opts,
		pipeline:   pl,
		cred:       c.Credential,
		scope:      c.Scope,
		states:     map[string]string{},
	}
	if e.label == "" {
		e.label = e.uri
	}
	switch e.typ {
	case "":
		e.typ = Primary
	case Primary, Secondary:
	default:
		return nil, fmt.Errorf("%s: invalid endpoint type %q: valid types are primary and secondary", what, c.Type)
	}
	if c.ClientEndpoint != nil {
		e.clientBase = baseURL(c.ClientEndpoint)
	}
	if c.ServerEndpoint != nil {
		e.serverBase = baseURL(c.ServerEndpoint)
	}
	if e.scope == "" {
		e.scope = DefaultScope
	}
	// Messages name the identity: never leave it blank.
	switch {
	case e.identity != "":
	case c.AccessKey != "":
		e.identity = "access key"
	case c.Credential != nil:
		e.identity = credentialKind(c.Credential)
	}
	switch {
	case c.AccessKey != "" && c.Credential != nil:
		return nil, fmt.Errorf("%s: both an access key and a credential are set; use one (Microsoft Entra ID is recommended)", what)
	case c.AccessKey != "":
		e.accessKey = []byte(c.AccessKey.Reveal())
		var id [8]byte
		rand.Read(id[:])
		e.kid = hex.EncodeToString(id[:])
	case c.Credential != nil:
		e.token = &resource[azcore.AccessToken]{now: opts.Now, base: base, fetch: e.fetchEntraToken}
		// The service signs every client token in service mode: the
		// temporary key, and the role it needs, are of no use then.
		if opts.Negotiate != NegotiateService {
			e.key = &resource[tempKey]{now: opts.Now, base: base, fetch: e.fetchKey}
		}
	default:
		return nil, fmt.Errorf("%s: neither an access key nor a credential is set; set Credential (Microsoft Entra ID) or AccessKey", what)
	}
	return e, nil
}

// Name is the endpoint's name, "" when it has none.
func (e *Endpoint) Name() string { return e.name }

// URI is the service URI.
func (e *Endpoint) URI() string { return e.uri }

// String names the endpoint by its label and URI, or by its URI alone
// when it has no label. It, GoString and LogValue keep fmt and slog from
// printing the fields, keys among them.
func (e *Endpoint) String() string {
	if !e.labeled {
		return e.uri
	}
	return e.label + " (" + e.uri + ")"
}

// logAttrs name the endpoint and its identity in log records: its URI,
// and its label when it has one.
func (e *Endpoint) logAttrs() []any {
	if !e.labeled {
		return []any{"endpoint", e.uri, "identity", e.identity}
	}
	return []any{"endpoint", e.uri, "label", e.label, "identity", e.identity}
}

// GoString is String, for %#v.
func (e *Endpoint) GoString() string { return e.String() }

// LogValue is what slog records of an endpoint.
func (e *Endpoint) LogValue() slog.Value {
	if !e.labeled {
		return slog.GroupValue(slog.String("uri", e.uri))
	}
	return slog.GroupValue(slog.String("label", e.label), slog.String("uri", e.uri))
}

// Type says whether negotiate prefers the endpoint.
func (e *Endpoint) Type() EndpointType { return e.typ }

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

func (e *Endpoint) fetchEntraToken(ctx context.Context, refused *azcore.AccessToken) (azcore.AccessToken, time.Time, time.Time, error) {
	// Entra's own bound: a hung call fails and is retried in the
	// background, not waited out.
	ctx, cancel := context.WithTimeout(ctx, e.opts.FetchTimeout)
	defer cancel()
	tok, err := e.getToken(ctx, refused)
	if err != nil {
		err = &Error{
			Op:       opEntraToken + " for " + e.uri,
			Endpoint: e.uri,
			Message:  fmt.Sprintf("the credential of %s (%s) could not get a token for scope %s.%s", e.identity, e.label, e.scope, e.explainFailure(err)),
			Err:      err,
			Outcome:  NotSent,
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

// getToken asks the credential for a token. After the service refused
// one (refused), a plain request would get it back from the credential's
// cache: MSAL keeps managed identity and confidential client tokens
// in-process, shared by every credential object. A request with claims
// skips that cache: managedidentity.Client.AcquireToken reads the cache
// only without claims, and confidential.Client's AcquireTokenSilent
// refuses claims, so azidentity asks Entra ID (AcquireTokenByCredential).
// The claims are the continuous access evaluation form, a token not issued
// before now. Credentials that refuse claims (azidentity's
// AzureCLICredential and AzurePowerShellCredential ask for an interactive
// login instead) get a plain request; if that hands back the refused
// token, a staleTokenError says so.
func (e *Endpoint) getToken(ctx context.Context, refused *azcore.AccessToken) (azcore.AccessToken, error) {
	opts := policy.TokenRequestOptions{Scopes: []string{e.scope}}
	if refused == nil {
		return e.cred.GetToken(ctx, opts)
	}
	fresh := opts
	fresh.Claims = fmt.Sprintf(`{"access_token":{"nbf":{"essential":true,"value":"%d"}}}`, time.Now().Unix())
	tok, err := e.cred.GetToken(ctx, fresh)
	if err == nil {
		return tok, nil
	}
	plain, perr := e.cred.GetToken(ctx, opts)
	if perr == nil && plain.Token == refused.Token {
		return azcore.AccessToken{}, &staleTokenError{claims: err}
	}
	return plain, perr
}

// staleTokenError reports a credential that hands back the token the
// service refused and takes no request past its cache. Its text is the
// remedy; the refusal of claims (whose text asks for a login with a
// claims challenge this client made up) is its cause.
type staleTokenError struct{ claims error }

func (e *staleTokenError) Error() string {
	return "it hands back the token the service refused (401) from its cache, and takes no request for a newer one: sign in again so that it gets a new token (Azure CLI: az login; Azure PowerShell: Connect-AzAccount; Azure Developer CLI: azd auth login)"
}

func (e *staleTokenError) Unwrap() error { return e.claims }

// explainFailure is what the configuration says about a failure of the
// credential, after a space, or "".
func (e *Endpoint) explainFailure(err error) string {
	if e.explain == nil {
		return ""
	}
	if fix := e.explain(err); fix != "" {
		return " " + fix
	}
	return ""
}

// fetchKey gets a temporary access key from the auth API.
func (e *Endpoint) fetchKey(ctx context.Context, _ *tempKey) (tempKey, time.Time, time.Time, error) {
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
		return tempKey{}, &Error{Op: op, Endpoint: e.uri, Status: http.StatusOK, Message: "the reply is not JSON with KeyId and AccessKey: check that the service URI of " + e.label + " names a SignalR Service", Err: err, Outcome: Refused}
	}
	return tempKey{id: *reply.KeyID, secret: []byte(*reply.AccessKey)}, nil
}

// GetAccessKey calls the auth API now, bypassing the cached key, and returns
// the new key's id. It checks that the identity may sign client tokens.
func (e *Endpoint) GetAccessKey(ctx context.Context) (keyID string, err error) {
	if e.cred == nil {
		return "", fmt.Errorf("%s uses an access key: the auth API serves Microsoft Entra ID only", e.label)
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
		Outcome:  NotSent,
	}
}

// opEntraToken names a credential's failure in errors.
const opEntraToken = "get a Microsoft Entra ID token"

// credentialFailure reports whether err is the credential's failure, which
// fails every call that needs a token.
func credentialFailure(err error) bool {
	var be *Error
	return errors.As(err, &be) && strings.HasPrefix(be.Op, opEntraToken)
}

// logChange logs err once per change of state of one kind of operation,
// not once per request; a success after a failure logs the recovery. A
// failure of the credential is logged as such only, not again for each
// kind of call it fails.
func (e *Endpoint) logChange(kind string, err error) {
	state := ""
	if err != nil {
		// Only failures of the endpoint are its state; a bad name in one
		// request is the caller's to report.
		var be *Error
		if !errors.As(err, &be) || kind != "credential" && credentialFailure(err) {
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
