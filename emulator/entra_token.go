package emulator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/golang-jwt/jwt/v5"
)

// SignalRResource is the Entra resource (audience) of SignalR Service.
const SignalRResource = "https://signalr.azure.com"

// issuer is the iss claim of v2.0 tokens from a tenant, and the issuer of
// its v2.0 OpenID configuration.
func (s *Server) issuer(tenant string) string {
	return s.AuthorityURL + tenant + "/v2.0"
}

// issuerV1 is the iss claim of v1.0 tokens from a tenant, and the issuer of
// its v1 OpenID configuration: Entra ID's shape https://sts.windows.net/{tenant}/
// on the stand-in's own host.
func (s *Server) issuerV1(tenant string) string {
	return s.AuthorityURL + tenant + "/"
}

// mint signs an Entra access token for the principal, in the tenant, for
// the resource (a scope's "/.default" is dropped).
func (s *Server) mint(p Principal, tenant, resource string) (string, time.Time, error) {
	now := s.Now()
	exp := now.Add(s.opts.TokenLifetime)
	resource = strings.TrimSuffix(resource, "/.default")
	claims := jwt.MapClaims{
		"aud":   resource,
		"iss":   s.issuer(tenant),
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   exp.Unix(),
		"tid":   tenant,
		"oid":   p.ObjectID,
		"sub":   p.ObjectID,
		"appid": p.ClientID,
		"azp":   p.ClientID,
		"idtyp": "app",
	}
	if p.ResourceID != "" {
		claims["xms_mirid"] = p.ResourceID
	}
	claims[epochClaim] = s.epoch()
	signed, err := signRS256(claims, s.signing.current())
	return signed, exp, err
}

func signRS256(claims jwt.Claims, key signingKey) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = key.kid
	return t.SignedString(key.key)
}

// entraCaller is who an accepted Entra token speaks for.
type entraCaller struct {
	objectID, tenantID, appID string
}

// verifyEntra checks an Entra access token the way the service does:
// signature, lifetime, audience and the resource's tenant.
func (s *Server) verifyEntra(token string) (entraCaller, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if pub, ok := s.signing.public(kid); ok {
			return pub, nil
		}
		return nil, fmt.Errorf("the token's signing key %q is not one of the tenant's keys", kid)
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(s.Now), jwt.WithExpirationRequired(),
		jwt.WithAudience(SignalRResource, SignalRResource+"/"))
	if err != nil {
		return entraCaller{}, err
	}
	if s.revoked(claims) {
		return entraCaller{}, errors.New("the token has been revoked")
	}
	c := entraCaller{}
	c.objectID, _ = claims["oid"].(string)
	c.tenantID, _ = claims["tid"].(string)
	c.appID, _ = claims["appid"].(string)
	if !strings.EqualFold(c.tenantID, s.TenantID) {
		return entraCaller{}, fmt.Errorf("the token was issued by tenant %q, but the resource belongs to tenant %q", c.tenantID, s.TenantID)
	}
	if c.objectID == "" {
		return entraCaller{}, errors.New("the token has no oid claim")
	}
	return c, nil
}

// Credential returns an azcore.TokenCredential that mints tokens for the
// principal in-process, with no HTTP, counted in Counts.CredentialTokens.
// id is an object id or a client id; an app registered in several tenants
// answers for the tenant a request names, or else the server's tenant.
func (s *Server) Credential(id string) azcore.TokenCredential {
	return &credential{srv: s, id: id}
}

type credential struct {
	srv *Server
	id  string
}

// GetToken implements azcore.TokenCredential.
func (c *credential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	s := c.srv
	s.count(func(n *Counts) { n.CredentialTokens++ })
	if f, ok := s.takeFault(ctx, CredentialToken); ok {
		return azcore.AccessToken{}, fmt.Errorf("emulator: injected failure of credential for %q: status %d", c.id, f.Status)
	}
	if err := ctx.Err(); err != nil {
		return azcore.AccessToken{}, err
	}
	if len(opts.Scopes) != 1 {
		return azcore.AccessToken{}, fmt.Errorf("emulator: credential for %q needs exactly one scope, got %d", c.id, len(opts.Scopes))
	}
	tenant := opts.TenantID
	if tenant == "" {
		tenant = s.TenantID
	}
	p, ok := s.dir.find(c.id, tenant)
	if !ok {
		return azcore.AccessToken{}, fmt.Errorf("emulator: no principal with object or client id %q; add it with AddUserIdentity or AddApplication", c.id)
	}
	if p.Kind == Application {
		tenant = p.TenantID
	} else {
		tenant = s.TenantID
	}
	tok, exp, err := s.mint(p, tenant, opts.Scopes[0])
	if err != nil {
		return azcore.AccessToken{}, err
	}
	return azcore.AccessToken{Token: tok, ExpiresOn: exp}, nil
}
