package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/signalr-entra/handler/emulator"
)

func TestCheckSignIn(t *testing.T) {
	srv, err := emulator.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	run := func(t *testing.T, authority string, args []string, wantCode int) (checkReport, string) {
		t.Helper()
		checkEnv(t, map[string]string{
			"AzureSignalRConnectionString": srv.ConnectionString(),
			"SIGNALR_NEGOTIATE_AUTHORITY":  authority, "SIGNALR_NEGOTIATE_AUDIENCE": "api://chat, api://chat2",
			"SIGNALR_CLAIM_TYPES": "name,roles", "WEBSITE_AUTH_ENABLED": "true",
		}, "")
		opts := &checkOptions{Transport: srv.Client(), HTTPClient: srv.Client(), OpenIDClient: srv.Client()}
		var stdout, stderr bytes.Buffer
		if code := runCheckWith(args, &stdout, &stderr, opts); code != wantCode {
			t.Errorf("exit %d, want %d\n%s%s", code, wantCode, stdout.String(), stderr.String())
		}
		text := stdout.String()
		stdout.Reset()
		runCheckWith(append([]string{"-json"}, args...), &stdout, &stderr, opts)
		var r checkReport
		if err := json.Unmarshal(stdout.Bytes(), &r); err != nil || r.SignIn == nil {
			t.Fatalf("no signIn in the JSON report (%v):\n%s", err, stdout.String())
		}
		return r, text
	}
	t.Run("offline", func(t *testing.T) {
		r, text := run(t, srv.SignInAuthority(), []string{"-offline"}, 0)
		s := r.SignIn
		if s.Authority != srv.SignInAuthority() || strings.Join(s.Audiences, ",") != "api://chat,api://chat2" || s.UserIDClaim != "sub" || s.Issuer != "" {
			t.Errorf("signIn = %+v", *s)
		}
		for _, want := range []string{"sign-in (negotiate requires a user token)\n", "  audiences:       api://chat, api://chat2\n", "  user id claim:   sub\n",
			"  claims copied:   name, roles\n", "note: App Service Authentication is on: negotiate still requires the bearer token"} {
			if !strings.Contains(text, want) {
				t.Errorf("report lacks %q:\n%s", want, text)
			}
		}
	})
	t.Run("online", func(t *testing.T) {
		r, text := run(t, srv.SignInAuthority(), nil, 0)
		s := r.SignIn
		if !s.OK || s.Issuer != srv.SignInAuthority() || len(s.KeyIDs) != 1 || !strings.HasPrefix(s.JWKSURI, srv.AuthorityURL) {
			t.Errorf("signIn = %+v, want the stand-in's issuer and one key", *s)
		}
		if !strings.Contains(text, "  ok   openid config   "+srv.SignInAuthority()+"/.well-known/openid-configuration: issuer "+srv.SignInAuthority()+", keys ") {
			t.Errorf("report lacks the OpenID configuration line:\n%s", text)
		}
	})
	t.Run("unknown tenant", func(t *testing.T) {
		r, text := run(t, srv.AuthorityURL+"00000000-0000-0000-0000-00000000dead/v2.0", nil, 1)
		if r.SignIn.OK || !strings.Contains(r.SignIn.Detail, "every negotiate would be refused") || !strings.Contains(r.SignIn.Detail, "status 400") {
			t.Errorf("signIn = %+v, want a failure", *r.SignIn)
		}
		if !strings.Contains(text, "  FAIL the provider's OpenID configuration could not be read") {
			t.Errorf("report:\n%s", text)
		}
	})
	t.Run("invalid settings", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		checkEnv(t, map[string]string{"AzureSignalRConnectionString": srv.ConnectionString(), "SIGNALR_NEGOTIATE_AUTHORITY": "https://login.microsoftonline.com/common/v2.0"}, "")
		if code := runCheckWith([]string{"-offline"}, &stdout, &stderr, nil); code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		for _, want := range []string{`error: SIGNALR_NEGOTIATE_AUTHORITY: invalid value "https://login.microsoftonline.com/common/v2.0": "common" names no tenant`,
			"error: SIGNALR_NEGOTIATE_AUDIENCE: is not set"} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("report lacks %q:\n%s", want, stdout.String())
			}
		}
	})
}
