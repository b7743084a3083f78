package settings

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/signalr-entra/handler/internal/loopback"
)

// DefaultUserIDClaim is the claim that names the user when
// SIGNALR_NEGOTIATE_USERID_CLAIM is unset: OpenID Connect's subject.
const DefaultUserIDClaim = "sub"

// normalizeSignIn trims the sign-in settings and drops empty audiences.
func (h *Handler) normalizeSignIn() {
	h.NegotiateAuthority = strings.TrimSpace(h.NegotiateAuthority)
	h.NegotiateUserIDClaim = strings.TrimSpace(h.NegotiateUserIDClaim)
	var auds []string
	for _, a := range h.NegotiateAudiences {
		if a = strings.TrimSpace(a); a != "" {
			auds = append(auds, a)
		}
	}
	h.NegotiateAudiences = auds
}

// validateSignIn checks SIGNALR_NEGOTIATE_AUTHORITY, _AUDIENCE and
// _USERID_CLAIM: with an authority, negotiate requires a token it signed
// for one of the audiences, and the user id comes from that token alone.
func (h *Handler) validateSignIn() []error {
	var errs []error
	bad := func(setting, problem, fix string) { errs = append(errs, &SettingError{setting, problem, fix}) }
	const example = "such as https://login.microsoftonline.com/<tenant id>/v2.0"
	if h.NegotiateAuthority == "" {
		if len(h.NegotiateAudiences) > 0 {
			bad("SIGNALR_NEGOTIATE_AUDIENCE", "is set without SIGNALR_NEGOTIATE_AUTHORITY",
				"Set SIGNALR_NEGOTIATE_AUTHORITY to the OpenID Connect issuer of your users' tokens, "+example+", or unset the audience")
		}
		if h.NegotiateUserIDClaim != "" && h.NegotiateUserIDClaim != DefaultUserIDClaim {
			bad("SIGNALR_NEGOTIATE_USERID_CLAIM", "is set without SIGNALR_NEGOTIATE_AUTHORITY",
				"Set SIGNALR_NEGOTIATE_AUTHORITY to the OpenID Connect issuer of your users' tokens, or unset the claim")
		}
		return errs
	}
	if problem := authorityProblem(h.NegotiateAuthority); problem != "" {
		bad("SIGNALR_NEGOTIATE_AUTHORITY", fmt.Sprintf("invalid value %q: %s", h.NegotiateAuthority, problem),
			"Use the issuer of your users' tokens, "+example+" (Entra ID), https://<tenant>.ciamlogin.com/<tenant id>/v2.0 (External ID) or your provider's issuer")
	}
	if len(h.NegotiateAudiences) == 0 {
		bad("SIGNALR_NEGOTIATE_AUDIENCE", "is not set, though SIGNALR_NEGOTIATE_AUTHORITY is",
			"List the audiences (aud) your users' tokens are issued for, comma-separated: your API's application ID URI or client id, such as api://<client id>")
	}
	if h.NegotiateUserIDClaim == "" {
		bad("SIGNALR_NEGOTIATE_USERID_CLAIM", "is empty", "Name the token claim that becomes the user id, such as sub or oid, or unset it for sub")
	}
	if h.UserIDHeader != "" {
		bad("SIGNALR_USERID_HEADER", "is set together with SIGNALR_NEGOTIATE_AUTHORITY",
			"With an authority the user id comes from the token's SIGNALR_NEGOTIATE_USERID_CLAIM claim, never from a header: unset SIGNALR_USERID_HEADER")
	}
	return errs
}

// authorityProblem says what is wrong with an issuer URL, or "".
func authorityProblem(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "":
		return "not an absolute URL"
	case u.Scheme != "https" && !(u.Scheme == "http" && loopback.Is(u.Hostname())):
		return "not https (plain http is allowed to loopback only)"
	case u.User != nil:
		return "holds user info"
	case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(raw, "?") || strings.HasSuffix(raw, "#"):
		return "an issuer has no query or fragment"
	case strings.Contains(u.Path, "/.well-known/"):
		return "name the issuer, not its OpenID configuration document"
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	switch strings.ToLower(first) {
	case "common", "organizations", "consumers":
		return fmt.Sprintf("%q names no tenant: its tokens carry their own tenant's issuer, so any tenant's users would get in; name your tenant's id", first)
	}
	return ""
}
