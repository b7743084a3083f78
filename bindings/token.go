package bindings

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claim is one claim of the user, copied into the client access token.
type Claim struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// ConnectionInfo is the negotiate reply: where the client connects and the
// token it shows there.
type ConnectionInfo struct {
	URL         string `json:"url"`
	AccessToken string `json:"accessToken"`
}

const (
	// userClaimPrefix renames user claims whose names the service reserves.
	userClaimPrefix = "asrs.u."
	// maxTokenLen is the service's limit on a client access token.
	maxTokenLen = 4096
)

// reservedClaims are JWT claim names that a user's claim must not set; the
// C# SDK renames them with the prefix asrs.u.
var reservedClaims = map[string]bool{
	"aud": true, "exp": true, "iat": true, "nbf": true, "iss": true, "actort": true,
	"acr": true, "azp": true, "c_hash": true, "jti": true, "nonce": true,
}

// clientAudience is what the service expects in aud: scheme and host of the
// service (never the port, nor the client endpoint), path and hub.
func clientAudience(e *Endpoint, hub string) string {
	return e.serviceURL.Scheme + "://" + e.serviceURL.Hostname() + "/client/?hub=" + hub
}

// signToken signs the JSON claims with HS256. The key is the UTF-8 bytes of
// the key string as given, never base64-decoded. The header and claims are
// encoded here rather than by jwt.Token, whose map claims sort by reflection
// on every negotiate; golang-jwt still signs.
func signToken(key []byte, kid string, claims []byte) (string, error) {
	header, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{"HS256", kid, "JWT"})
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(claims)
	sig, err := jwt.SigningMethodHS256.Sign(signing, key)
	if err != nil {
		return "", err
	}
	return signing + "." + enc.EncodeToString(sig), nil
}

// timeClaims are the audience and times every token carries.
type timeClaims struct {
	Aud string `json:"aud"`
	Exp int64  `json:"exp"`
	Iat int64  `json:"iat"`
	Nbf int64  `json:"nbf"`
}

func newTimeClaims(aud string, now, exp time.Time) timeClaims {
	return timeClaims{Aud: aud, Exp: exp.Unix(), Iat: now.Unix(), Nbf: now.Unix()}
}

// clientClaims encodes the claims of a client access token.
func clientClaims(aud, userID string, claims []Claim, now, exp time.Time) ([]byte, error) {
	fixed, err := json.Marshal(struct {
		// The service routes user messages by this claim.
		UserID string `json:"asrs.s.uid,omitempty"`
		timeClaims
	}{userID, newTimeClaims(aud, now, exp)})
	if err != nil || len(claims) == 0 {
		return fixed, err
	}
	extra := make(map[string]any, len(claims))
	sub := false
	for i, c := range claims {
		if c.Type == "" {
			return nil, fmt.Errorf("claim %d (value %q) has no type: every claim needs one", i, c.Value)
		}
		name := c.Type
		if short, ok := outboundClaimTypes[name]; ok {
			name = short
		}
		// Names of the service's own claims (asrs.s.*) are renamed too, so
		// that a user's claim cannot pose as the user id. The check follows
		// the shortening, so that a long type cannot become acr or actort,
		// and ignores case, as SIGNALR_CLAIM_TYPES matches types and as the
		// server SDK tells its own claims (Azure/azure-signalr,
		// ServiceConnectionContext.IsAuthenticatedUser: asrs.s. with
		// OrdinalIgnoreCase); the C# SDK's own renaming compares exactly.
		// As in C#, only the first sub stays sub: the service takes it as
		// the user's name identifier.
		folded := strings.ToLower(name)
		if reservedClaims[folded] || strings.HasPrefix(folded, "asrs.s.") || name == "sub" && sub {
			name = userClaimPrefix + name
		}
		sub = sub || name == "sub"
		// A repeated claim type becomes an array, as in the C# SDK.
		switch old := extra[name].(type) {
		case nil:
			extra[name] = c.Value
		case string:
			extra[name] = []string{old, c.Value}
		case []string:
			extra[name] = append(old, c.Value)
		}
	}
	more, err := json.Marshal(extra)
	if err != nil {
		return nil, err
	}
	// Both are objects with distinct keys: join them into one.
	return append(append(fixed[:len(fixed)-1], ','), more[1:]...), nil
}

// checkTokenLen enforces the service's limit with a message saying what to cut.
// claimsOption names where the claims come from.
func checkTokenLen(token string, claims int, claimsOption string) error {
	if len(token) > maxTokenLen {
		return &InputError{fmt.Sprintf("the client access token would be %d characters long, over the service's limit of %d: copy fewer or shorter claims into it (%s; %d claims now)", len(token), maxTokenLen, claimsOption, claims)}
	}
	return nil
}
