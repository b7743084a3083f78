package upstream

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/signalr-entra/handler/internal/loopback"
)

const (
	// keyRefreshInterval bounds how often an unknown key id fetches the keys
	// again: forged tokens must not turn into a flood of requests to Entra ID.
	keyRefreshInterval = time.Minute
	// keyRetryInterval is the wait after a failed first fetch, when no key
	// is at hand at all.
	keyRetryInterval = 5 * time.Second
	// keyMaxAge is how long keys are used before they are fetched again, in
	// the background: a key the authority withdrew is trusted a day at most.
	keyMaxAge = 24 * time.Hour
	// tokenLeeway allows for clocks a little apart.
	tokenLeeway = time.Minute
	// maxDocumentBytes bounds an OpenID configuration or key set.
	maxDocumentBytes = 1 << 20
)

var errUnknownKey = errors.New("no key of the tenant's OpenID configuration has this key id")

// tokenValidator checks the bearer token SignalR Service sends with a
// ManagedIdentity upstream rule: RS256, signed by a key of the tenant's
// OpenID configuration, with its issuer, the configured audience, valid
// times, and, when set, the configured identity.
type tokenValidator struct {
	audience string
	identity string
	// configURLs are the tenant's v1 OpenID configuration, which is
	// required, and its v2 one, whose issuer is accepted too when it loads.
	configURLs [2]string
	client     *http.Client
	now        func() time.Time
	log        *slog.Logger

	set atomic.Pointer[keySet]
	// fetchMu makes one fetch at a time; readers of known keys never take it.
	fetchMu   sync.Mutex
	lastFetch time.Time
	lastErr   error
}

// keySet is what the OpenID configuration yields.
type keySet struct {
	issuers []string
	keys    map[string]*rsa.PublicKey
	fetched time.Time
}

// serviceClaims are the claims checked beyond the registered ones.
type serviceClaims struct {
	jwt.RegisteredClaims
	ObjectID string `json:"oid"`
	AppID    string `json:"appid"`
	// AuthorizedParty holds the app id in v2 tokens, which have no appid.
	AuthorizedParty string `json:"azp"`
}

// check returns nil when token passes.
func (v *tokenValidator) check(ctx context.Context, token string) *Refusal {
	if token == "" {
		return &Refusal{"token missing", "the request has no bearer token; give the upstream rule ManagedIdentity auth with resource " + strings.TrimSpace(v.audience)}
	}
	var issuers []string
	keyFunc := func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("the token names no key id (kid)")
		}
		key, set, err := v.key(ctx, kid)
		if err != nil {
			return nil, err
		}
		issuers = set.issuers
		return key, nil
	}
	var claims serviceClaims
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithAudience(v.audience),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(tokenLeeway),
		jwt.WithTimeFunc(v.now),
	)
	if _, err := parser.ParseWithClaims(token, &claims, keyFunc); err != nil {
		return tokenRefusal(err, v.audience)
	}
	if !slices.Contains(issuers, claims.Issuer) {
		return &Refusal{"token issuer", fmt.Sprintf("the token's issuer %q is not the tenant's (%s); set SIGNALR_UPSTREAM_TENANT to the tenant of the SignalR resource's identity", claims.Issuer, strings.Join(issuers, " or "))}
	}
	if v.identity != "" && !strings.EqualFold(claims.ObjectID, v.identity) && !strings.EqualFold(claims.AppID, v.identity) && !strings.EqualFold(claims.AuthorizedParty, v.identity) {
		return &Refusal{"token identity", fmt.Sprintf("the token is for identity oid %q, appid %q, not SIGNALR_UPSTREAM_IDENTITY %q", claims.ObjectID, claims.AppID+claims.AuthorizedParty, v.identity)}
	}
	return nil
}

// tokenRefusal names what golang-jwt found wrong. Its errors never quote
// the token.
func tokenRefusal(err error, audience string) *Refusal {
	kind := "token invalid"
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		kind = "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		kind = "token not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return &Refusal{"token audience", fmt.Sprintf("the token's audience is not SIGNALR_UPSTREAM_AUDIENCE %q; it must be the resource of the upstream rule's ManagedIdentity auth", audience)}
	case errors.Is(err, errUnknownKey):
		kind = "token key unknown"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		kind = "token unverifiable"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		kind = "token signature"
	case errors.Is(err, jwt.ErrTokenMalformed):
		kind = "token malformed"
	}
	return &Refusal{kind, err.Error()}
}

// key returns the key of kid and its key set. An unknown kid fetches the
// keys again, at most once a minute.
func (v *tokenValidator) key(ctx context.Context, kid string) (*rsa.PublicKey, *keySet, error) {
	if set := v.set.Load(); set != nil && set.keys[kid] != nil {
		if v.now().Sub(set.fetched) >= keyMaxAge {
			v.refreshInBackground()
		}
		return set.keys[kid], set, nil
	}
	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	set := v.set.Load()
	if set != nil && set.keys[kid] != nil {
		// Fetched while this request waited.
		return set.keys[kid], set, nil
	}
	wait := keyRefreshInterval
	if set == nil {
		wait = keyRetryInterval
	}
	if !v.lastFetch.IsZero() && v.now().Sub(v.lastFetch) < wait {
		if set == nil {
			return nil, nil, fmt.Errorf("the OpenID keys could not be fetched: %w", v.lastErr)
		}
		return nil, nil, errUnknownKey
	}
	v.lastFetch = v.now()
	// The fetch serves every request waiting, so one caller hanging up
	// must not end it.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	fresh, err := fetchKeySet(fctx, v.client, v.configURLs, v.log)
	if err != nil {
		v.lastErr = err
		v.log.Error("fetching the OpenID configuration for upstream tokens failed; upstream requests are refused until it succeeds", "error", err)
		return nil, nil, fmt.Errorf("the OpenID keys could not be fetched: %w", err)
	}
	fresh.fetched = v.now()
	v.set.Store(fresh)
	if fresh.keys[kid] == nil {
		return nil, nil, errUnknownKey
	}
	return fresh.keys[kid], fresh, nil
}

// refreshInBackground fetches the keys again while requests go on with the
// ones at hand, unless a fetch is under way or one was tried within the
// minute. A failure keeps the keys at hand.
func (v *tokenValidator) refreshInBackground() {
	if !v.fetchMu.TryLock() {
		return
	}
	if v.now().Sub(v.lastFetch) < keyRefreshInterval {
		v.fetchMu.Unlock()
		return
	}
	v.lastFetch = v.now()
	go func() {
		defer v.fetchMu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		fresh, err := fetchKeySet(ctx, v.client, v.configURLs, v.log)
		if err != nil {
			v.lastErr = err
			v.log.Warn("refreshing the OpenID keys for upstream tokens failed; the keys at hand stay in use", "error", err)
			return
		}
		fresh.fetched = v.now()
		v.set.Store(fresh)
	}()
}

// openIDConfiguration holds the fields of an OpenID configuration used here.
type openIDConfiguration struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
}

// fetchKeySet reads the v1 OpenID configuration and its keys, and the v2
// configuration's issuer when it loads.
func fetchKeySet(ctx context.Context, client *http.Client, configURLs [2]string, log *slog.Logger) (*keySet, error) {
	var v1 openIDConfiguration
	if err := getDocument(ctx, client, configURLs[0], &v1); err != nil {
		return nil, err
	}
	if v1.Issuer == "" || strings.Contains(v1.Issuer, "{") {
		return nil, fmt.Errorf("the OpenID configuration at %s names no tenant's issuer (%q); set SIGNALR_UPSTREAM_TENANT to a tenant id", configURLs[0], v1.Issuer)
	}
	set := &keySet{issuers: []string{v1.Issuer}, keys: map[string]*rsa.PublicKey{}}
	var v2 openIDConfiguration
	if err := getDocument(ctx, client, configURLs[1], &v2); err != nil {
		log.Debug("the v2 OpenID configuration did not load; only v1 tokens are accepted", "error", err)
	} else if v2.Issuer != "" && !strings.Contains(v2.Issuer, "{") && v2.Issuer != v1.Issuer {
		set.issuers = append(set.issuers, v2.Issuer)
	}
	var jwks struct {
		Keys []struct {
			Kty string `json:"kty"`
			Use string `json:"use"`
			Kid string `json:"kid"`
			N   string `json:"n"`
			E   string `json:"e"`
		} `json:"keys"`
	}
	if err := getDocument(ctx, client, v1.JWKSURI, &jwks); err != nil {
		return nil, err
	}
	for _, k := range jwks.Keys {
		if k.Kty != "RSA" || k.Kid == "" || (k.Use != "" && k.Use != "sig") {
			continue
		}
		key, err := rsaKey(k.N, k.E)
		if err != nil {
			log.Warn("a key of the OpenID configuration is not usable", "kid", k.Kid, "error", err)
			continue
		}
		set.keys[k.Kid] = key
	}
	if len(set.keys) == 0 {
		return nil, fmt.Errorf("the key set at %s holds no RSA signing key", v1.JWKSURI)
	}
	return set, nil
}

func rsaKey(n, e string) (*rsa.PublicKey, error) {
	nb, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(n, "="))
	if err != nil || len(nb) < 256 {
		return nil, errors.New("the modulus is not base64url of at least 2048 bits")
	}
	eb, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(e, "="))
	if err != nil || len(eb) == 0 || len(eb) > 4 {
		return nil, errors.New("the exponent is not base64url of at most 4 bytes")
	}
	exp := 0
	for _, c := range eb {
		exp = exp<<8 | int(c)
	}
	if exp < 3 {
		return nil, errors.New("the exponent is too small")
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: exp}, nil
}

// getDocument GETs a JSON document over https (http only to loopback).
func getDocument(ctx context.Context, client *http.Client, rawURL string, v any) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not a URL", rawURL)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && loopback.Is(u.Hostname())) {
		return fmt.Errorf("%s is not https; keys are fetched over plain http from loopback only", u.Redacted())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u.Redacted(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", u.Redacted(), resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", u.Redacted(), err)
	}
	if len(b) > maxDocumentBytes {
		return fmt.Errorf("GET %s: the document is larger than %d bytes", u.Redacted(), maxDocumentBytes)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: not a JSON document: %w", u.Redacted(), err)
	}
	return nil
}
