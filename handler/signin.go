package handler

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/signalr-entra/handler/bindings"
	"github.com/signalr-entra/handler/internal/oidc"
)

// SignInOptions make negotiate require the bearer token of a user the app
// signed in (SIGNALR_NEGOTIATE_AUTHORITY, _AUDIENCE, _USERID_CLAIM): the
// user id then comes from that token alone.
type SignInOptions struct {
	// Authority is the OpenID Connect issuer of the users' tokens, such as
	// https://login.microsoftonline.com/<tenant id>/v2.0. Empty leaves
	// negotiate as it is.
	Authority string
	// Audiences are the accepted aud values. Required with Authority.
	Audiences []string
	// UserIDClaim is the claim that names the user. Defaults to "sub".
	UserIDClaim string
	// HTTPClient fetches the provider's OpenID configuration and keys.
	// Defaults to a client with a 10s timeout that follows no redirects.
	HTTPClient *http.Client
	// Now is the clock tokens are checked against. Defaults to time.Now.
	Now func() time.Time
}

// signIn checks negotiate's bearer tokens.
type signIn struct {
	verifier  *oidc.Verifier
	userClaim string
	log       *slog.Logger
	logged    sync.Map // refusal kinds already logged
}

// defaultUserIDClaim is OpenID Connect's subject, as
// SIGNALR_NEGOTIATE_USERID_CLAIM defaults to.
const defaultUserIDClaim = "sub"

// kindUserClaim is the refusal of a sound token that names no user.
const kindUserClaim oidc.Kind = "token user id claim"

func newSignIn(o SignInOptions, userIDHeader string, log *slog.Logger) (*signIn, error) {
	o.Authority = strings.TrimSpace(o.Authority)
	var audiences []string
	for _, a := range o.Audiences {
		if a = strings.TrimSpace(a); a != "" {
			audiences = append(audiences, a)
		}
	}
	if o.Authority == "" {
		if len(audiences) > 0 {
			return nil, errors.New("SIGNALR_NEGOTIATE_AUDIENCE takes effect only with SIGNALR_NEGOTIATE_AUTHORITY: set it to the OpenID Connect issuer of your users' tokens")
		}
		return nil, nil
	}
	if len(audiences) == 0 {
		return nil, errors.New("SIGNALR_NEGOTIATE_AUDIENCE is not set: with SIGNALR_NEGOTIATE_AUTHORITY, list the audiences your users' tokens are issued for")
	}
	if userIDHeader != "" {
		return nil, errors.New("SIGNALR_USERID_HEADER cannot be combined with SIGNALR_NEGOTIATE_AUTHORITY: the user id comes from the token")
	}
	claim := strings.TrimSpace(o.UserIDClaim)
	if claim == "" {
		claim = defaultUserIDClaim
	}
	v, err := oidc.New(oidc.Config{Documents: []string{oidc.DocumentURL(o.Authority)}, Audiences: audiences,
		Setting: "SIGNALR_NEGOTIATE_AUTHORITY", Purpose: "sign-in tokens", Client: o.HTTPClient, Now: o.Now, Log: log})
	if err != nil {
		return nil, err
	}
	return &signIn{verifier: v, userClaim: claim, log: log}, nil
}

// user verifies the caller's bearer token and returns the user it names
// and its claims of the listed types; otherwise a 401 reply.
func (s *signIn) user(ctx context.Context, c *call, claimTypes map[string]bool) (string, []bindings.Claim, *reply) {
	token := bearerToken(c.header.Get("Authorization"))
	claims := jwt.MapClaims{}
	err := s.verifier.Verify(ctx, token, claims)
	userID := ""
	if err == nil {
		switch v := claims[s.userClaim].(type) {
		case string:
			userID = v
		case json.Number:
			userID = v.String()
		}
		if userID == "" {
			err = &oidc.Error{Kind: kindUserClaim, Err: errors.New("the token has no " + strconv.Quote(s.userClaim) + " claim to name the user (SIGNALR_NEGOTIATE_USERID_CLAIM)")}
		}
	}
	if err != nil {
		var e *oidc.Error
		kind := oidc.KindInvalid
		if errors.As(err, &e) {
			kind = e.Kind
		}
		if _, seen := s.logged.LoadOrStore(kind, true); !seen {
			c.log.Warn("negotiate refused a sign-in token (401); further refusals of this kind are not logged", "reason", string(kind), "detail", err.Error())
		}
		// RFC 6750 §3: no error code when no token came; the reason stays
		// in the log, so that a caller learns nothing of the check.
		challenge := "Bearer"
		if token != "" {
			challenge = `Bearer error="invalid_token"`
		}
		rep := errorReply(http.StatusUnauthorized, c, "a valid bearer token is required: sign in, and send the token as Authorization: Bearer")
		rep.setHeader("WWW-Authenticate", challenge)
		return "", nil, rep
	}
	return userID, tokenClaims(claims, claimTypes), nil
}

// bearerToken returns the token of an Authorization: Bearer <token> value.
func bearerToken(v string) string {
	v = strings.TrimSpace(v)
	if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		return strings.TrimSpace(v[7:])
	}
	return ""
}

// tokenClaims are the token's claims of the listed types, in name order:
// an array claim such as roles becomes one claim per value, as
// JwtSecurityTokenHandler reads it.
func tokenClaims(claims jwt.MapClaims, types map[string]bool) []bindings.Claim {
	if len(types) == 0 {
		return nil
	}
	var names []string
	for name := range claims {
		if types[strings.ToLower(name)] {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var out []bindings.Claim
	for _, name := range names {
		values, ok := claims[name].([]any)
		if !ok {
			values = []any{claims[name]}
		}
		for _, v := range values {
			if s := claimString(v); s != "" {
				out = append(out, bindings.Claim{Type: name, Value: s})
			}
		}
	}
	return out
}

// claimString is a claim value as text: strings as they are, numbers and
// booleans as JSON writes them, objects and arrays as JSON.
func claimString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		// As the token writes it, so that no two ids read the same.
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}
