// Package oidc verifies bearer tokens (JWTs) signed by a key an OpenID
// Connect provider publishes: the provider's document
// (/.well-known/openid-configuration, OpenID Connect Discovery 1.0 §4)
// names the issuer and the key set (jwks_uri, RFC 7517).
//
// One Verifier serves both trust boundaries of the handler: the tokens
// SignalR Service's managed identity sends upstream, and the tokens users
// send to negotiate. Keys are cached; one fetch at a time serves every
// request waiting for keys, and each request waits no longer than its own
// context allows.
package oidc

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	// DefaultRefreshEvery is how old the keys get before a request starts
	// a fetch in the background. Entra ID publishes a new signing key well
	// before it signs with it ("Signing key rollover in the Microsoft
	// identity platform"), so an hourly refresh knows a rotation before
	// its first token. Microsoft.IdentityModel's ConfigurationManager
	// refreshes every 12 hours by default; an hour costs little more.
	DefaultRefreshEvery = time.Hour
	// DefaultUnknownKeyEvery bounds how often a token with an unknown key
	// id fetches the keys: forged tokens must not turn into a flood of
	// requests to the provider. It is measured from the end of the last
	// fetch, so a slow provider cannot make fetches back to back.
	DefaultUnknownKeyEvery = time.Minute
	// DefaultRetryEvery is the wait after a failed fetch while no key is
	// at hand at all.
	DefaultRetryEvery = 5 * time.Second
	// DefaultLeeway allows for clocks a little apart.
	DefaultLeeway = time.Minute
	// fetchTimeout bounds one fetch of the documents, which serves every
	// waiting request whatever their own deadlines.
	fetchTimeout = 15 * time.Second
	// MaxTokenBytes bounds the token parsed. Entra ID tokens with a
	// groups overage stay under 8 KB; Microsoft.IdentityModel allows 250 KB,
	// which no header of the Functions host carries.
	MaxTokenBytes = 64 << 10
	// maxHeaderBytes bounds a token's base64 header, read before the
	// signature is checked: alg, kid, typ and an x5t take about 150.
	maxHeaderBytes = 2 << 10
)

// Kind classifies why a token was refused, for logs that say each kind
// once. Kinds never quote the token.
type Kind string

// Refusal kinds.
const (
	KindMissing       Kind = "token missing"
	KindMalformed     Kind = "token malformed"
	KindTooLarge      Kind = "token too large"
	KindAlgorithm     Kind = "token algorithm"
	KindExpired       Kind = "token expired"
	KindNotYetValid   Kind = "token not valid yet"
	KindAudience      Kind = "token audience"
	KindIssuer        Kind = "token issuer"
	KindSignature     Kind = "token signature"
	KindUnknownKey    Kind = "token key unknown"
	KindKeysUnfetched Kind = "keys unavailable"
	KindInvalid       Kind = "token invalid"
)

// Error is why a token was refused.
type Error struct {
	Kind Kind
	Err  error
}

func (e *Error) Error() string { return string(e.Kind) + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Config configures a Verifier.
type Config struct {
	// Documents are OpenID configuration URLs. The first is required: its
	// issuer is accepted and its jwks_uri holds the keys. Each further one
	// adds its issuer when it loads (Entra ID's v2 document of a tenant
	// whose v1 document names the keys).
	Documents []string
	// Audiences are the accepted aud values; a token must name one.
	Audiences []string
	// Setting names the setting that chose the provider, for errors.
	Setting string
	// Purpose names the tokens checked, such as "upstream tokens", for logs.
	Purpose string
	// Client fetches the documents. Defaults to a client with a 10s
	// timeout that follows no redirect (a redirect could lead to http).
	Client *http.Client
	// Now is the clock tokens are checked against. Defaults to time.Now.
	Now func() time.Time
	// Log receives fetch failures. Defaults to discarding them.
	Log *slog.Logger
	// RefreshEvery, UnknownKeyEvery, RetryEvery and Leeway default to the
	// constants of the same names.
	RefreshEvery, UnknownKeyEvery, RetryEvery, Leeway time.Duration
}

// Verifier checks RS256 tokens against a provider's keys.
type Verifier struct {
	cfg Config
	// parser reads the claims once the signature holds; validator checks
	// their audience and times.
	parser    *jwt.Parser
	validator *jwt.Validator
	keys      atomic.Pointer[keySet]

	mu sync.Mutex
	// inflight is the fetch under way, which every waiter joins.
	inflight *fetch
	// lastEnd is when the last fetch ended; lastErr is its error.
	lastEnd time.Time
	lastErr error
}

// keySet is what the provider's documents yield.
type keySet struct {
	issuers []string
	keys    map[string]*rsa.PublicKey
	fetched time.Time
}

type fetch struct {
	done chan struct{}
	set  *keySet
	err  error
}

// New returns a Verifier. It fetches nothing until the first token.
func New(cfg Config) (*Verifier, error) {
	if len(cfg.Documents) == 0 || cfg.Documents[0] == "" {
		return nil, errors.New("oidc: no OpenID configuration URL")
	}
	if len(cfg.Audiences) == 0 {
		return nil, errors.New("oidc: no audience")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{
			Timeout:       10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Purpose == "" {
		cfg.Purpose = "tokens"
	}
	defaults := []struct {
		d   *time.Duration
		def time.Duration
	}{{&cfg.RefreshEvery, DefaultRefreshEvery}, {&cfg.UnknownKeyEvery, DefaultUnknownKeyEvery}, {&cfg.RetryEvery, DefaultRetryEvery}, {&cfg.Leeway, DefaultLeeway}}
	for _, d := range defaults {
		if *d.d <= 0 {
			*d.d = d.def
		}
	}
	// Numbers stay as written (json.Number): read as float64, user ids
	// above 2^53 that differ in their last digits would read the same.
	v := &Verifier{cfg: cfg, parser: jwt.NewParser(jwt.WithJSONNumber())}
	v.validator = jwt.NewValidator(
		jwt.WithAudience(cfg.Audiences...),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
	)
	return v, nil
}

// Verify checks token: RS256, signed by a key of the provider, one of its
// issuers, an accepted audience, valid times. It fills claims, which may
// be jwt.MapClaims, whose numbers are then json.Number, or a struct
// embedding jwt.RegisteredClaims. ctx bounds
// the wait for keys when none that fit are at hand. A refusal is an
// *Error.
//
// The signature is checked before the claims are read: a forged token
// costs its header's decoding and one RSA verification, whatever its
// payload holds.
func (v *Verifier) Verify(ctx context.Context, token string, claims jwt.Claims) error {
	if token == "" {
		return &Error{KindMissing, errors.New("the request has no bearer token")}
	}
	if len(token) > MaxTokenBytes {
		return &Error{KindTooLarge, fmt.Errorf("the token is %d bytes, more than %d", len(token), MaxTokenBytes)}
	}
	dot := strings.LastIndexByte(token, '.')
	signing, sigPart := token[:max(dot, 0)], token[dot+1:]
	headerPart, payloadPart, ok := strings.Cut(signing, ".")
	if dot < 0 || !ok || strings.Contains(payloadPart, ".") {
		return &Error{KindMalformed, errors.New("the token is not three base64url parts joined by dots (a signed JWT, RFC 7515 §7.1)")}
	}
	if len(headerPart) > maxHeaderBytes {
		return &Error{KindMalformed, fmt.Errorf("the token's header is longer than %d bytes", maxHeaderBytes)}
	}
	// A map, not a struct: encoding/json would match "ALG" to an alg field.
	var header map[string]any
	hb, err := base64.RawURLEncoding.DecodeString(headerPart)
	if err == nil {
		err = json.Unmarshal(hb, &header)
	}
	if err != nil {
		return &Error{KindMalformed, errors.New("the token's header is not base64url JSON")}
	}
	if alg, _ := header["alg"].(string); alg != jwt.SigningMethodRS256.Alg() {
		return &Error{KindAlgorithm, fmt.Errorf("the token is signed with %q; only RS256 is accepted", alg)}
	}
	kid, _ := header["kid"].(string)
	if kid == "" {
		return &Error{KindUnknownKey, errors.New("the token names no key id (kid)")}
	}
	sig, err := base64.RawURLEncoding.DecodeString(sigPart)
	if err != nil {
		return &Error{KindMalformed, errors.New("the token's signature is not base64url")}
	}
	key, set, err := v.key(ctx, kid)
	if err != nil {
		return err
	}
	if err := jwt.SigningMethodRS256.Verify(signing, sig, key); err != nil {
		return &Error{KindSignature, errors.New("the signature does not match the provider's key of the token's key id")}
	}
	if _, _, err := v.parser.ParseUnverified(token, claims); err != nil {
		return classify(err)
	}
	if err := v.validator.Validate(claims); err != nil {
		return classify(err)
	}
	iss, err := claims.GetIssuer()
	if err != nil || !slices.Contains(set.issuers, iss) {
		return &Error{KindIssuer, fmt.Errorf("the token's issuer %q is not the provider's (%s)", iss, strings.Join(set.issuers, " or "))}
	}
	return nil
}

// classify turns golang-jwt's error into an *Error. Its errors never quote
// the token.
func classify(err error) error {
	kind := KindInvalid
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		kind = KindExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		kind = KindNotYetValid
	case errors.Is(err, jwt.ErrTokenInvalidAudience),
		errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && strings.Contains(err.Error(), "aud"):
		kind = KindAudience
	case errors.Is(err, jwt.ErrTokenMalformed):
		kind = KindMalformed
	}
	return &Error{kind, err}
}

// key returns the key of kid and the key set holding it. A kid not at
// hand joins the fetch under way or starts one, at most once per
// UnknownKeyEvery; the wait ends with ctx.
func (v *Verifier) key(ctx context.Context, kid string) (*rsa.PublicKey, *keySet, error) {
	if set := v.keys.Load(); set != nil && set.keys[kid] != nil {
		if v.cfg.Now().Sub(set.fetched) >= v.cfg.RefreshEvery {
			v.refreshInBackground()
		}
		return set.keys[kid], set, nil
	}
	v.mu.Lock()
	set := v.keys.Load()
	if set != nil && set.keys[kid] != nil {
		v.mu.Unlock()
		return set.keys[kid], set, nil
	}
	f := v.inflight
	if f == nil {
		spacing := v.cfg.UnknownKeyEvery
		if set == nil {
			spacing = v.cfg.RetryEvery
		}
		if !v.lastEnd.IsZero() && v.cfg.Now().Sub(v.lastEnd) < spacing {
			lastErr := v.lastErr
			v.mu.Unlock()
			if set == nil {
				return nil, nil, &Error{KindKeysUnfetched, fmt.Errorf("the keys could not be fetched: %w", lastErr)}
			}
			return nil, nil, &Error{KindUnknownKey, fmt.Errorf("no key of the provider has the token's key id; the keys were fetched less than %s ago", spacing)}
		}
		f = v.startFetch()
	}
	v.mu.Unlock()
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, nil, &Error{KindKeysUnfetched, fmt.Errorf("gave up waiting for the provider's keys: %w", context.Cause(ctx))}
	}
	if f.err != nil {
		if set == nil {
			return nil, nil, &Error{KindKeysUnfetched, fmt.Errorf("the keys could not be fetched: %w", f.err)}
		}
		return nil, nil, &Error{KindUnknownKey, fmt.Errorf("no key at hand has the token's key id, and fetching the keys again failed: %w", f.err)}
	}
	if f.set.keys[kid] == nil {
		return nil, nil, &Error{KindUnknownKey, errors.New("no key of the provider has the token's key id")}
	}
	return f.set.keys[kid], f.set, nil
}

// refreshInBackground starts a fetch unless one is under way or the last
// ended within UnknownKeyEvery. Requests go on with the keys at hand.
func (v *Verifier) refreshInBackground() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.inflight != nil || (!v.lastEnd.IsZero() && v.cfg.Now().Sub(v.lastEnd) < v.cfg.UnknownKeyEvery) {
		return
	}
	v.startFetch()
}

// startFetch starts the one fetch every waiter joins; v.mu must be held.
// The fetch has its own deadline: a waiter giving up must not end it for
// the others.
func (v *Verifier) startFetch() *fetch {
	f := &fetch{done: make(chan struct{})}
	v.inflight = f
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
		defer cancel()
		set, err := fetchKeySet(ctx, v.cfg)
		v.mu.Lock()
		f.set, f.err = set, err
		v.lastEnd, v.lastErr = v.cfg.Now(), err
		held := v.keys.Load() != nil
		if err == nil {
			set.fetched = v.lastEnd
			v.keys.Store(set)
		}
		v.inflight = nil
		v.mu.Unlock()
		// Logged before the waiters go on, so that what they answer and
		// the log agree.
		switch {
		case err != nil && !held:
			v.cfg.Log.Error("fetching the OpenID configuration for "+v.cfg.Purpose+" failed; they are refused until it succeeds", "error", err)
		case err != nil:
			v.cfg.Log.Warn("refreshing the OpenID keys for "+v.cfg.Purpose+" failed; the keys at hand stay in use", "error", err)
		}
		close(f.done)
	}()
	return f
}
