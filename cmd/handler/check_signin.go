package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/signalr-entra/handler/internal/oidc"
	"github.com/signalr-entra/handler/settings"
)

// signInReport says whether negotiate requires a user token and, online,
// what the provider's OpenID configuration holds.
type signInReport struct {
	Authority   string   `json:"authority"`
	Audiences   []string `json:"audiences"`
	UserIDClaim string   `json:"userIdClaim"`
	ClaimTypes  []string `json:"claimTypes,omitempty"`
	// Online: the document fetched and what it names.
	OpenIDConfiguration string   `json:"openIdConfiguration,omitempty"`
	Issuer              string   `json:"issuer,omitempty"`
	JWKSURI             string   `json:"jwksUri,omitempty"`
	KeyIDs              []string `json:"keyIds,omitempty"`
	OK                  bool     `json:"ok"`
	Detail              string   `json:"detail,omitempty"`
	Notes               []string `json:"notes,omitempty"`
}

// fillSignIn reports the sign-in settings without a network call; none
// when no authority is set.
func (r *checkReport) fillSignIn(cfg *settings.Config) {
	hc := cfg.Handler
	if hc.NegotiateAuthority == "" {
		return
	}
	s := &signInReport{Authority: hc.NegotiateAuthority, Audiences: hc.NegotiateAudiences, UserIDClaim: hc.NegotiateUserIDClaim, ClaimTypes: hc.ClaimTypes, OK: true}
	if hc.AppServiceAuthentication {
		s.Notes = append(s.Notes, "App Service Authentication is on: negotiate still requires the bearer token and takes the user from it, not from the X-MS-CLIENT-PRINCIPAL headers")
	}
	r.SignIn = s
}

// checkSignInOnline fetches the provider's OpenID configuration and keys as
// negotiate will. A provider whose tokens cannot be checked fails the
// check: every negotiate would be refused.
func checkSignInOnline(ctx context.Context, client *http.Client, r *checkReport) {
	s := r.SignIn
	if s == nil {
		return
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	s.OpenIDConfiguration = oidc.DocumentURL(s.Authority)
	d, err := oidc.Discover(ctx, client, s.OpenIDConfiguration)
	if err != nil {
		s.OK = false
		s.Detail = "the provider's OpenID configuration could not be read, so every negotiate would be refused: " + err.Error() + ". Check SIGNALR_NEGOTIATE_AUTHORITY"
		r.OK = false
		return
	}
	s.Issuer, s.JWKSURI, s.KeyIDs = d.Issuers[0], d.JWKSURI, d.KeyIDs
	if strings.TrimSuffix(s.Issuer, "/") != strings.TrimSuffix(s.Authority, "/") {
		s.Notes = append(s.Notes, fmt.Sprintf("the document names the issuer %s, not SIGNALR_NEGOTIATE_AUTHORITY itself (as Entra ID's v1 authority does): tokens must carry iss %s", s.Issuer, s.Issuer))
	}
}

// write prints the sign-in section of the human report.
func (s *signInReport) write(w io.Writer) {
	if s == nil {
		return
	}
	fmt.Fprintln(w, "sign-in (negotiate requires a user token)")
	line := func(label, value string) {
		if value != "" {
			fmt.Fprintf(w, "  %-16s %s\n", label+":", value)
		}
	}
	line("authority", s.Authority)
	line("audiences", strings.Join(s.Audiences, ", "))
	line("user id claim", s.UserIDClaim)
	line("claims copied", strings.Join(s.ClaimTypes, ", "))
	if s.Issuer != "" {
		fmt.Fprintf(w, "  ok   %-15s %s: issuer %s, keys %s (%d signing key(s))\n", "openid config", s.OpenIDConfiguration, s.Issuer, s.JWKSURI, len(s.KeyIDs))
	}
	for _, n := range s.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	if !s.OK {
		fmt.Fprintf(w, "  FAIL %s\n", s.Detail)
	}
}
