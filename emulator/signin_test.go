package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/signalr-entra/handler/internal/oidc"
)

// TestUserTokenVerifies: a user token from the stand-in passes a verifier
// that knows only the sign-in authority, through its OpenID configuration.
func TestUserTokenVerifies(t *testing.T) {
	s := newTestServer(t, nil)
	v, err := oidc.New(oidc.Config{Documents: []string{oidc.DocumentURL(s.SignInAuthority())}, Audiences: []string{"api://chat"}, Client: s.Client(), Now: s.Now})
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"user": {"alice"}, "audience": {"api://chat"}, "claims": {`{"roles":["admin"]}`}}
	resp, err := s.Client().PostForm(s.AuthorityURL+s.TenantID+"/emulator/user-token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var reply tokenReply
	if err := json.NewDecoder(resp.Body).Decode(&reply); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("user-token: status %d, %v", resp.StatusCode, err)
	}
	claims := jwt.MapClaims{}
	if err := v.Verify(context.Background(), reply.AccessToken, claims); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if claims["name"] != "alice" || claims["tid"] != s.TenantID || claims["iss"] != s.SignInAuthority() {
		t.Errorf("claims %v: want alice of the server's tenant, issued by the sign-in authority", claims)
	}
	if roles, _ := claims["roles"].([]any); len(roles) != 1 || roles[0] != "admin" {
		t.Errorf("roles = %v, want [admin]", claims["roles"])
	}
	// The same user keeps one object id; the subject is per app.
	again, _, err := s.UserToken(UserSignIn{User: "alice", Audience: "api://other"})
	if err != nil {
		t.Fatal(err)
	}
	other := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(again, other); err != nil {
		t.Fatal(err)
	}
	if other["oid"] != claims["oid"] || other["sub"] == claims["sub"] {
		t.Errorf("oid %v / %v, sub %v / %v: want one oid, a sub per app", claims["oid"], other["oid"], claims["sub"], other["sub"])
	}
	// A token the test spoils on purpose.
	expired, _, err := s.UserToken(UserSignIn{User: "bob", Audience: "api://chat", Claims: map[string]any{"exp": s.Now().Add(-time.Hour).Unix()}})
	if err != nil {
		t.Fatal(err)
	}
	var e *oidc.Error
	if err := v.Verify(context.Background(), expired, jwt.MapClaims{}); !errors.As(err, &e) || e.Kind != oidc.KindExpired {
		t.Errorf("expired token: %v, want kind %q", err, oidc.KindExpired)
	}
}

func TestUserTokenEndpointRefusals(t *testing.T) {
	s := newTestServer(t, nil)
	for _, tt := range []struct {
		tenant string
		form   url.Values
		want   string
	}{
		{s.TenantID, url.Values{"user": {"alice"}}, "'user' and 'audience'"},
		{s.TenantID, url.Values{"user": {"alice"}, "audience": {"a"}, "claims": {"[1]"}}, "'claims' must be a JSON object"},
		{"unknown-tenant", url.Values{"user": {"alice"}, "audience": {"a"}}, "invalid_tenant"},
	} {
		resp, err := s.Client().PostForm(s.AuthorityURL+tt.tenant+"/emulator/user-token", tt.form)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), tt.want) {
			t.Errorf("%v: status %d %s, want 400 saying %q", tt.form, resp.StatusCode, b, tt.want)
		}
	}
}
