package emulator

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

var scopeOpts = policy.TokenRequestOptions{Scopes: []string{SignalRResource + "/.default"}}

// claimsOf reads a token's claims without checking it.
func claimsOf(t *testing.T, tok string) jwt.MapClaims {
	t.Helper()
	c := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok, c); err != nil {
		t.Fatal(err)
	}
	return c
}

// The managed identity token cache is process-wide, so each case here uses
// an identity no other test uses.
func TestManagedIdentityCredential(t *testing.T) {
	s := newTestServer(t, &Options{SystemIdentityRoles: []Role{ServiceOwner}})
	user, err := s.AddUserIdentity(UserIdentity{Roles: []Role{RESTAPIOwner}})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("IDENTITY_ENDPOINT", s.IdentityEndpoint)
	t.Setenv("IDENTITY_HEADER", s.IdentityHeader)
	tests := []struct {
		name string
		id   azidentity.ManagedIDKind
		want Principal
	}{
		{"system-assigned", nil, s.SystemIdentity()},
		{"user-assigned by client id", azidentity.ClientID(user.ClientID), user},
		{"user-assigned by resource id", azidentity.ResourceID(user.ResourceID), user},
		{"user-assigned by object id", azidentity.ObjectID(user.ObjectID), user},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ID: tt.id})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := cred.GetToken(context.Background(), scopeOpts)
			if err != nil {
				t.Fatalf("GetToken: %v", err)
			}
			c := claimsOf(t, tok.Token)
			got := map[string]any{"aud": c["aud"], "tid": c["tid"], "oid": c["oid"], "appid": c["appid"]}
			want := map[string]any{"aud": SignalRResource, "tid": s.TenantID, "oid": tt.want.ObjectID, "appid": tt.want.ClientID}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("claims (-want +got):\n%s", d)
			}
			if n := s.Counts().IdentityTokens; n != i+1 {
				t.Errorf("IdentityTokens = %d, want %d", n, i+1)
			}
			if _, err := s.verifyEntra(tok.Token); err != nil {
				t.Errorf("the service refuses the token: %v", err)
			}
		})
	}
}

func TestManagedIdentityUnknown(t *testing.T) {
	s := newTestServer(t, nil)
	t.Setenv("IDENTITY_ENDPOINT", s.IdentityEndpoint)
	t.Setenv("IDENTITY_HEADER", s.IdentityHeader)
	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ID: azidentity.ClientID("0bad0000-0000-0000-0000-000000000000")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cred.GetToken(context.Background(), scopeOpts)
	if err == nil || !strings.Contains(err.Error(), "Unable to load the proper Managed Identity") {
		t.Errorf("GetToken error = %v, want one naming the missing identity", err)
	}
}

func TestIdentityEndpointChecks(t *testing.T) {
	s := newTestServer(t, nil)
	good := "?api-version=2019-08-01&resource=" + SignalRResource
	tests := []struct {
		name, query, header string
		want                int
	}{
		{"ok", good, s.IdentityHeader, http.StatusOK},
		{"no header", good, "", http.StatusBadRequest},
		{"wrong header", good, "nope", http.StatusUnauthorized},
		{"old api-version", "?api-version=2017-09-01&resource=" + SignalRResource, s.IdentityHeader, http.StatusBadRequest},
		{"no resource", "?api-version=2019-08-01", s.IdentityHeader, http.StatusBadRequest},
		{"unknown client id", good + "&client_id=x", s.IdentityHeader, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, s.IdentityEndpoint+tt.query, nil)
			if tt.header != "" {
				req.Header.Set("X-IDENTITY-HEADER", tt.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want != http.StatusOK {
				return
			}
			var body map[string]string
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if body["access_token"] == "" || body["expires_on"] == "" || body["resource"] != SignalRResource || body["token_type"] != "Bearer" {
				t.Errorf("reply = %v, want access_token, expires_on, resource and token_type", body)
			}
		})
	}
}

// TestIdentityUnknownSelectors checks the answer for an identity the app
// does not have, by each selector: App Service's 400 with statusCode,
// message and correlationId, naming the id asked for.
func TestIdentityUnknownSelectors(t *testing.T) {
	s := newTestServer(t, nil)
	if _, err := s.AddUserIdentity(UserIdentity{}); err != nil {
		t.Fatal(err)
	}
	for _, param := range []string{"client_id", "mi_res_id", "object_id", "principal_id"} {
		t.Run(param, func(t *testing.T) {
			id := "/subscriptions/x/unknown-" + param
			req, _ := http.NewRequest(http.MethodGet, s.IdentityEndpoint+"?api-version=2019-08-01&resource="+SignalRResource+"&"+param+"="+id, nil)
			req.Header.Set("X-IDENTITY-HEADER", s.IdentityHeader)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			msg, _ := body["message"].(string)
			corr, _ := body["correlationId"].(string)
			got := []any{resp.StatusCode, body["statusCode"], strings.HasPrefix(msg, "Unable to load the proper Managed Identity."), strings.Contains(msg, `"`+id+`"`), len(corr) == 36}
			if d := cmp.Diff([]any{400, float64(400), true, true, true}, got); d != "" {
				t.Errorf("reply %v (-want +got):\n%s", body, d)
			}
		})
	}
}
