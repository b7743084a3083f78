package bindings

import (
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
	// userIDClaim carries the user id the service routes user messages by.
	userIDClaim = "asrs.s.uid"
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

// signToken signs claims with HS256. The key is the UTF-8 bytes of the key
// string as given, never base64-decoded.
func signToken(key []byte, kid string, claims jwt.MapClaims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	t.Header["kid"] = kid
	return t.SignedString(key)
}

// clientClaims builds the claims of a client access token.
func clientClaims(aud, userID string, claims []Claim, now, exp time.Time) (jwt.MapClaims, error) {
	m := make(jwt.MapClaims, 5+len(claims))
	for i, c := range claims {
		if c.Type == "" {
			return nil, fmt.Errorf("claim %d (value %q) has no type: every claim needs one", i, c.Value)
		}
		name := c.Type
		// Names of the service's own claims (asrs.s.*) are renamed too, so
		// that a user's claim cannot pose as the user id.
		if reservedClaims[name] || strings.HasPrefix(name, "asrs.s.") {
			name = userClaimPrefix + name
		}
		// A repeated claim type becomes an array, as in the C# SDK.
		switch old := m[name].(type) {
		case nil:
			m[name] = c.Value
		case string:
			m[name] = []string{old, c.Value}
		case []string:
			m[name] = append(old, c.Value)
		}
	}
	m["aud"] = aud
	m["iat"] = now.Unix()
	m["nbf"] = now.Unix()
	m["exp"] = exp.Unix()
	if userID != "" {
		m[userIDClaim] = userID
	}
	return m, nil
}

// checkTokenLen enforces the service's limit with a message saying what to cut.
func checkTokenLen(token string, claims int) error {
	if len(token) > maxTokenLen {
		return fmt.Errorf("the client access token is %d characters long, over the service's limit of %d: copy fewer or shorter claims into it (SIGNALR_CLAIM_TYPES; %d claims now)", len(token), maxTokenLen, claims)
	}
	return nil
}
