package main

import (
	"strings"
	"testing"
)

// TestSignInAudience: -sign-in-audience puts the stand-in's sign-in
// authority and the audience in the handler's environment, and the banner
// says where user tokens come from.
func TestSignInAudience(t *testing.T) {
	env, out, stop := startRun(t, "-sign-in-audience", "api://chat")
	if !strings.HasSuffix(env["SIGNALR_NEGOTIATE_AUTHORITY"], "/v2.0") || !strings.HasPrefix(env["SIGNALR_NEGOTIATE_AUTHORITY"], env["AZURE_AUTHORITY_HOST"]) {
		t.Errorf("SIGNALR_NEGOTIATE_AUTHORITY = %q, want the stand-in authority's v2.0 issuer", env["SIGNALR_NEGOTIATE_AUTHORITY"])
	}
	if env["SIGNALR_NEGOTIATE_AUDIENCE"] != "api://chat" {
		t.Errorf("SIGNALR_NEGOTIATE_AUDIENCE = %q, want api://chat", env["SIGNALR_NEGOTIATE_AUDIENCE"])
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "/emulator/user-token with user=<name>&audience=api://chat") {
		t.Errorf("the banner does not say where user tokens come from:\n%s", out)
	}
	env, _, _ = startRun(t)
	if _, ok := env["SIGNALR_NEGOTIATE_AUTHORITY"]; ok {
		t.Error("SIGNALR_NEGOTIATE_AUTHORITY is set without -sign-in-audience")
	}
}
