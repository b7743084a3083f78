package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/signalr-entra/handler/internal/oidc"
)

// tokenValidator checks the bearer token SignalR Service sends with a
// ManagedIdentity upstream rule: RS256, signed by a key of the tenant's
// OpenID configuration, with its issuer, the configured audience, valid
// times (oidc.Verifier), and, when set, the configured identity.
type tokenValidator struct {
	audience string
	identity string
	// configURLs are the tenant's v1 OpenID configuration, which names the
	// keys, and its v2 one, whose issuer is accepted too when it loads.
	configURLs [2]string
	client     *http.Client
	verifier   *oidc.Verifier
}

// serviceClaims are the claims checked beyond the registered ones.
type serviceClaims struct {
	jwt.RegisteredClaims
	ObjectID string `json:"oid"`
	AppID    string `json:"appid"`
	// AuthorizedParty holds the app id in v2 tokens, which have no appid.
	AuthorizedParty string `json:"azp"`
	// Scope is present in a token a user delegated (Entra ID's access token
	// claims reference: scp is "only included for user tokens"); IDType is
	// the optional idtyp claim, "app" or "user". Raw, so that a value of
	// any shape counts as present.
	Scope  json.RawMessage `json:"scp"`
	IDType string          `json:"idtyp"`
}

// check returns nil when token passes.
func (v *tokenValidator) check(ctx context.Context, token string) *Refusal {
	if token == "" {
		return &Refusal{string(oidc.KindMissing), "the request has no bearer token; give the upstream rule ManagedIdentity auth with resource " + v.audience}
	}
	var claims serviceClaims
	if err := v.verifier.Verify(ctx, token, &claims); err != nil {
		return tokenRefusal(err, v.audience)
	}
	// A managed identity's token is app-only. A user's token for the same
	// audience (an app whose users sign in to the registration the upstream
	// rule names, as negotiate's users do) must not pass for the service.
	if (len(claims.Scope) > 0 && string(claims.Scope) != "null") || strings.EqualFold(claims.IDType, "user") {
		return &Refusal{"token delegated", "the token was issued to a user (it has an scp claim or idtyp user), not to the service's managed identity; " +
			"upstream takes app-only tokens, and SIGNALR_UPSTREAM_IDENTITY narrows them to the SignalR resource's identity"}
	}
	if v.identity != "" && !strings.EqualFold(claims.ObjectID, v.identity) && !strings.EqualFold(claims.AppID, v.identity) && !strings.EqualFold(claims.AuthorizedParty, v.identity) {
		return &Refusal{"token identity", fmt.Sprintf("the token is for identity oid %q, appid %q, not SIGNALR_UPSTREAM_IDENTITY %q", claims.ObjectID, claims.AppID+claims.AuthorizedParty, v.identity)}
	}
	return nil
}

// tokenRefusal says what the verifier found wrong, naming the setting to
// fix where one is at fault. Its errors never quote the token.
func tokenRefusal(err error, audience string) *Refusal {
	var e *oidc.Error
	if !errors.As(err, &e) {
		return &Refusal{string(oidc.KindInvalid), err.Error()}
	}
	switch e.Kind {
	case oidc.KindAudience:
		return &Refusal{string(e.Kind), fmt.Sprintf("the token's audience is not SIGNALR_UPSTREAM_AUDIENCE %q; it must be the resource of the upstream rule's ManagedIdentity auth", audience)}
	case oidc.KindIssuer:
		return &Refusal{string(e.Kind), e.Err.Error() + "; set SIGNALR_UPSTREAM_TENANT to the tenant of the SignalR resource's identity"}
	}
	return &Refusal{string(e.Kind), e.Err.Error()}
}
