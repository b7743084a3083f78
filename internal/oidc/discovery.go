package oidc

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/signalr-entra/handler/internal/loopback"
)

const (
	// maxDocumentBytes bounds an OpenID configuration or key set.
	maxDocumentBytes = 1 << 20
	// minKeyBits and maxKeyBits bound the RSA keys taken: below 2048 bits
	// is too weak (NIST SP 800-131A); above 8192 bits a forged token would
	// cost more CPU to check than any provider's key warrants.
	minKeyBits = 2048
	maxKeyBits = 8192
	// maxNamedUnusable bounds the unusable keys an error names.
	maxNamedUnusable = 3
)

// WellKnown is the path a provider's OpenID configuration lives at below
// its issuer (OpenID Connect Discovery 1.0 §4).
const WellKnown = "/.well-known/openid-configuration"

// DocumentURL returns the OpenID configuration URL of an issuer: a
// terminating "/" of its path is removed before the well-known path is
// appended (OpenID Connect Discovery 1.0 §4.1).
func DocumentURL(issuer string) string {
	return strings.TrimSuffix(issuer, "/") + WellKnown
}

// Discovery is what a provider's documents say.
type Discovery struct {
	// Issuers are the issuers accepted: the first document's, then each
	// further one's that loaded.
	Issuers []string
	// JWKSURI is the first document's key set.
	JWKSURI string
	// KeyIDs are the usable signing keys' ids.
	KeyIDs []string
}

// Discover fetches the documents and key set as a Verifier does, for a
// diagnosis.
func Discover(ctx context.Context, client *http.Client, documents ...string) (*Discovery, error) {
	if len(documents) == 0 {
		return nil, errors.New("oidc: no OpenID configuration URL")
	}
	set, jwksURI, err := discover(ctx, client, documents)
	if err != nil {
		return nil, err
	}
	d := &Discovery{Issuers: set.issuers, JWKSURI: jwksURI}
	for kid := range set.keys {
		d.KeyIDs = append(d.KeyIDs, kid)
	}
	slices.Sort(d.KeyIDs)
	return d, nil
}

// openIDConfiguration holds the fields of an OpenID configuration used here.
type openIDConfiguration struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
}

func fetchKeySet(ctx context.Context, cfg Config) (*keySet, error) {
	set, _, err := discover(ctx, cfg.Client, cfg.Documents)
	if err != nil && cfg.Setting != "" {
		err = fmt.Errorf("%w (check %s)", err, cfg.Setting)
	}
	return set, err
}

// discover reads the first document and its key set, and the issuer of
// each further document that loads.
func discover(ctx context.Context, client *http.Client, documents []string) (*keySet, string, error) {
	var first openIDConfiguration
	if err := getDocument(ctx, client, documents[0], &first); err != nil {
		return nil, "", err
	}
	if err := usableIssuer(first.Issuer); err != nil {
		return nil, "", fmt.Errorf("the OpenID configuration at %s %w", redacted(documents[0]), err)
	}
	set := &keySet{issuers: []string{first.Issuer}, keys: map[string]*rsa.PublicKey{}}
	for _, doc := range documents[1:] {
		var more openIDConfiguration
		if getDocument(ctx, client, doc, &more) == nil && usableIssuer(more.Issuer) == nil && !strings.EqualFold(more.Issuer, first.Issuer) {
			set.issuers = append(set.issuers, more.Issuer)
		}
	}
	if first.JWKSURI == "" {
		return nil, "", fmt.Errorf("the OpenID configuration at %s names no jwks_uri", redacted(documents[0]))
	}
	var jwks struct {
		Keys []struct {
			Kty string `json:"kty"`
			Use string `json:"use"`
			Alg string `json:"alg"`
			Kid string `json:"kid"`
			N   string `json:"n"`
			E   string `json:"e"`
		} `json:"keys"`
	}
	if err := getDocument(ctx, client, first.JWKSURI, &jwks); err != nil {
		return nil, "", err
	}
	var unusable []string
	unusableCount := 0
	for _, k := range jwks.Keys {
		if k.Kty != "RSA" || k.Kid == "" || (k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != "RS256") {
			continue
		}
		key, err := rsaKey(k.N, k.E)
		if err != nil {
			// A few name the problem; all of a megabyte of them would make
			// a message that every refused request copies.
			if unusableCount++; len(unusable) < maxNamedUnusable {
				unusable = append(unusable, fmt.Sprintf("%q: %v", k.Kid[:min(len(k.Kid), 64)], err))
			}
			continue
		}
		set.keys[k.Kid] = key
	}
	if len(set.keys) == 0 {
		msg := fmt.Sprintf("the key set at %s holds no RSA signing key", redacted(first.JWKSURI))
		if len(unusable) > 0 {
			if more := unusableCount - len(unusable); more > 0 {
				unusable = append(unusable, fmt.Sprintf("and %d more", more))
			}
			msg += " that is usable (" + strings.Join(unusable, "; ") + ")"
		}
		return nil, "", errors.New(msg)
	}
	return set, first.JWKSURI, nil
}

// usableIssuer refuses an empty issuer and a template such as Entra ID's
// multi-tenant https://login.microsoftonline.com/{tenantid}/v2.0, which no
// token carries.
func usableIssuer(iss string) error {
	switch {
	case iss == "":
		return errors.New("names no issuer")
	case strings.Contains(iss, "{"):
		return fmt.Errorf("names the issuer template %q of a multi-tenant authority; name one tenant instead of common or organizations", iss)
	}
	return nil
}

// rsaKey reads a JWK's base64url modulus and exponent (RFC 7518 §6.3.1).
func rsaKey(n, e string) (*rsa.PublicKey, error) {
	nb, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(n, "="))
	if err != nil {
		return nil, errors.New("the modulus is not base64url")
	}
	mod := new(big.Int).SetBytes(nb)
	if bits := mod.BitLen(); bits < minKeyBits || bits > maxKeyBits {
		return nil, fmt.Errorf("the modulus has %d bits; keys of %d to %d bits are taken", bits, minKeyBits, maxKeyBits)
	}
	eb, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(e, "="))
	if err != nil || len(eb) == 0 || len(eb) > 4 {
		return nil, errors.New("the exponent is not base64url of at most 4 bytes")
	}
	exp := 0
	for _, c := range eb {
		exp = exp<<8 | int(c)
	}
	if exp < 3 || exp%2 == 0 {
		return nil, errors.New("the exponent is not an odd number of at least 3")
	}
	return &rsa.PublicKey{N: mod, E: exp}, nil
}

// getDocument GETs a JSON document over https (http only to loopback).
func getDocument(ctx context.Context, client *http.Client, rawURL string, v any) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not a URL", rawURL)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && loopback.Is(u.Hostname())) {
		return fmt.Errorf("%s is not https; OpenID documents are fetched over plain http from loopback only", u.Redacted())
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

func redacted(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return raw
}
