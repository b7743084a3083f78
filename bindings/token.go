package bindings

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/signalr-entra/handler/internal/jsontext"
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

// signToken returns the JWT of the JSON claims payload, signed with HS256
// (RFC 7515, appendix A.1) under a header naming kid. The key is the UTF-8
// bytes of the key string as given, never base64-decoded. The token is
// assembled in one buffer: golang-jwt would marshal its header and claims
// by reflection and concatenate the parts on every negotiate.
func signToken(key []byte, kid string, payload []byte) string {
	enc := base64.RawURLEncoding
	var headerBuf [128]byte
	header := append(headerBuf[:0], `{"alg":"HS256","kid":`...)
	header = jsontext.AppendString(header, kid)
	header = append(header, `,"typ":"JWT"}`...)
	tok := make([]byte, 0, enc.EncodedLen(len(header))+1+enc.EncodedLen(len(payload))+1+enc.EncodedLen(sha256.Size))
	tok = enc.AppendEncode(tok, header)
	tok = append(tok, '.')
	tok = enc.AppendEncode(tok, payload)
	mac := hmac.New(sha256.New, key)
	mac.Write(tok)
	var sum [sha256.Size]byte
	tok = append(tok, '.')
	return string(enc.AppendEncode(tok, mac.Sum(sum[:0])))
}

// appendTimeClaims appends the audience and times every token carries, as
// members of an object (no braces).
func appendTimeClaims(dst []byte, aud string, now, exp time.Time) []byte {
	dst = append(dst, `"aud":`...)
	dst = jsontext.AppendString(dst, aud)
	dst = append(dst, `,"exp":`...)
	dst = strconv.AppendInt(dst, exp.Unix(), 10)
	dst = append(dst, `,"iat":`...)
	dst = strconv.AppendInt(dst, now.Unix(), 10)
	dst = append(dst, `,"nbf":`...)
	return strconv.AppendInt(dst, now.Unix(), 10)
}

// namedClaim is a user's claim under the name it has in the token.
type namedClaim struct{ name, value string }

// appendClientClaims appends the JSON claims of a client access token for
// the prefixed hub ph.
func (e *Endpoint) appendClientClaims(dst []byte, ph, userID string, claims []Claim, now, exp time.Time) ([]byte, error) {
	dst = append(dst, '{')
	if userID != "" {
		// The service routes user messages by this claim.
		dst = append(dst, `"asrs.s.uid":`...)
		dst = jsontext.AppendString(dst, userID)
		dst = append(dst, ',')
	}
	// aud is what the service expects: scheme and host of the service
	// (never the port, nor the client endpoint), path and hub.
	var audBuf [256]byte
	aud := append(audBuf[:0], e.serviceURL.Scheme...)
	aud = append(aud, "://"...)
	aud = append(aud, e.serviceURL.Hostname()...)
	aud = append(aud, "/client/?hub="...)
	aud = append(aud, ph...)
	dst = appendTimeClaims(dst, string(aud), now, exp)
	if len(claims) == 0 {
		return append(dst, '}'), nil
	}
	var small [8]namedClaim
	named := small[:0]
	if len(claims) > len(small) {
		named = make([]namedClaim, 0, len(claims))
	}
	sub := false
	for i, c := range claims {
		if c.Type == "" {
			return nil, fmt.Errorf("claim %d (value %q) has no type: every claim needs one", i, c.Value)
		}
		name := tokenClaimName(c.Type, sub)
		sub = sub || name == "sub"
		named = append(named, namedClaim{name, c.Value})
	}
	// Sorted by name, a repeated claim type is a run of values: it becomes
	// an array, as in the C# SDK, its values in the order given.
	slices.SortStableFunc(named, func(a, b namedClaim) int { return strings.Compare(a.name, b.name) })
	for i := 0; i < len(named); {
		j := i + 1
		for j < len(named) && named[j].name == named[i].name {
			j++
		}
		dst = append(dst, ',')
		dst = jsontext.AppendString(dst, named[i].name)
		dst = append(dst, ':')
		if j-i == 1 {
			dst = jsontext.AppendString(dst, named[i].value)
		} else {
			dst = append(dst, '[')
			for k := i; k < j; k++ {
				if k > i {
					dst = append(dst, ',')
				}
				dst = jsontext.AppendString(dst, named[k].value)
			}
			dst = append(dst, ']')
		}
		i = j
	}
	return append(dst, '}'), nil
}

// tokenClaimName is the name a user's claim of type typ has in the token,
// subSeen saying whether an earlier claim took the name sub.
func tokenClaimName(typ string, subSeen bool) string {
	name := typ
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
	if reservedClaims[folded] || strings.HasPrefix(folded, "asrs.s.") || name == "sub" && subSeen {
		name = userClaimPrefix + name
	}
	return name
}

// tokenTooLong is the error for a token over the service's limit, saying
// what to cut; claimsOption names where the claims come from.
func tokenTooLong(n, claims int, claimsOption string) error {
	return &InputError{fmt.Sprintf("the client access token would be %d characters long, over the service's limit of %d: copy fewer or shorter claims into it (%s; %d claims now)", n, maxTokenLen, claimsOption, claims)}
}
