package settings

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSignInSettings(t *testing.T) {
	cleanEnv(t, map[string]string{"AzureSignalRConnectionString__serviceUri": uri,
		"SIGNALR_NEGOTIATE_AUTHORITY":    " https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0 ",
		"SIGNALR_NEGOTIATE_AUDIENCE":     "api://chat, ,11111111-2222-3333-4444-555555555555",
		"SIGNALR_NEGOTIATE_USERID_CLAIM": " oid "})
	cfg, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	h := cfg.Handler
	got := []any{h.NegotiateAuthority, h.NegotiateAudiences, h.NegotiateUserIDClaim}
	want := []any{"https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0", []string{"api://chat", "11111111-2222-3333-4444-555555555555"}, "oid"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sign-in settings (-want +got):\n%s", diff)
	}
}

func TestSignInDefaults(t *testing.T) {
	cleanEnv(t, map[string]string{"AzureSignalRConnectionString__serviceUri": uri})
	cfg, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if h := cfg.Handler; h.NegotiateAuthority != "" || h.NegotiateAudiences != nil || h.NegotiateUserIDClaim != DefaultUserIDClaim {
		t.Errorf("defaults: authority %q, audiences %q, claim %q; want none, none, sub", h.NegotiateAuthority, h.NegotiateAudiences, h.NegotiateUserIDClaim)
	}
}

func TestValidateSignIn(t *testing.T) {
	const entra = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0"
	signIn := func(authority string, audiences ...string) Handler {
		return Handler{NegotiateAuthority: authority, NegotiateAudiences: audiences, NegotiateUserIDClaim: "sub"}
	}
	for _, tt := range []struct {
		name string
		h    Handler
		want string // "" for valid
	}{
		{"unset", Handler{NegotiateUserIDClaim: "sub"}, ""},
		{"Entra v2", signIn(entra, "api://chat"), ""},
		{"Entra v1", signIn("https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47", "api://chat"), ""},
		{"External ID", signIn("https://contoso.ciamlogin.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0", "c"), ""},
		{"loopback http", signIn("http://127.0.0.1:8443/tenant/v2.0", "c"), ""},
		{"plain http", signIn("http://login.example.com/tenant", "c"), "SIGNALR_NEGOTIATE_AUTHORITY: invalid value \"http://login.example.com/tenant\": not https"},
		{"relative", signIn("login.microsoftonline.com/t/v2.0", "c"), "not an absolute URL"},
		{"common", signIn("https://login.microsoftonline.com/common/v2.0", "c"), `"common" names no tenant`},
		{"organizations", signIn("https://login.microsoftonline.com/Organizations/v2.0", "c"), `"Organizations" names no tenant`},
		{"document", signIn(entra+"/.well-known/openid-configuration", "c"), "not its OpenID configuration document"},
		{"query", signIn(entra+"?p=b2c_1_signin", "c"), "no query or fragment"},
		{"user info", signIn("https://u:p@login.example.com/t", "c"), "holds user info"},
		{"no audience", signIn(entra), "SIGNALR_NEGOTIATE_AUDIENCE: is not set, though SIGNALR_NEGOTIATE_AUTHORITY is"},
		{"audience alone", signIn("", "api://chat"), "SIGNALR_NEGOTIATE_AUDIENCE: is set without SIGNALR_NEGOTIATE_AUTHORITY"},
		{"claim alone", Handler{NegotiateUserIDClaim: "oid"}, "SIGNALR_NEGOTIATE_USERID_CLAIM: is set without"},
		{"empty claim", Handler{NegotiateAuthority: entra, NegotiateAudiences: []string{"a"}}, "SIGNALR_NEGOTIATE_USERID_CLAIM: is empty"},
		{"with a user id header", func() Handler { h := signIn(entra, "a"); h.UserIDHeader = "x-user"; return h }(), "SIGNALR_USERID_HEADER: is set together with SIGNALR_NEGOTIATE_AUTHORITY"},
	} {
		errs := tt.h.validateSignIn()
		var msgs []string
		for _, e := range errs {
			msgs = append(msgs, e.Error())
		}
		got := strings.Join(msgs, "\n")
		switch {
		case tt.want == "" && got != "":
			t.Errorf("%s: %s", tt.name, got)
		case tt.want != "" && !strings.Contains(got, tt.want):
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
