package main

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/signalr-entra/handler/settings"
)

// testToken signs claims with a key no one checks: principalOf does not verify.
func testToken(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte("test key"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPrincipalOf(t *testing.T) {
	tests := []struct {
		name    string
		token   string
		want    principalReport
		wantErr bool
	}{
		{"version 1 app token", testToken(t, jwt.MapClaims{"tid": "t1", "oid": "o1", "appid": "a1", "idtyp": "app"}),
			principalReport{TenantID: "t1", ObjectID: "o1", AppID: "a1", Type: "app"}, false},
		{"version 2 token names the app in azp", testToken(t, jwt.MapClaims{"tid": "t2", "oid": "o2", "azp": "a2"}),
			principalReport{TenantID: "t2", ObjectID: "o2", AppID: "a2"}, false},
		{"delegated token without idtyp is a user's", testToken(t, jwt.MapClaims{"tid": "t3", "oid": "o3", "appid": "04b07795-8ddb-461a-bbee-02f9e1bf7b46", "scp": "user_impersonation"}),
			principalReport{TenantID: "t3", ObjectID: "o3", AppID: "04b07795-8ddb-461a-bbee-02f9e1bf7b46", Type: "user"}, false},
		{"appid wins over azp", testToken(t, jwt.MapClaims{"appid": "a1", "azp": "a2"}), principalReport{AppID: "a1"}, false},
		{"claims of other types are ignored", testToken(t, jwt.MapClaims{"tid": 7, "oid": []string{"x"}}), principalReport{}, false},
		{"not a JWT", "opaque-token-value", principalReport{}, true},
		{"empty", "", principalReport{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := principalOf(tt.token)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && tt.token != "" && strings.Contains(err.Error(), tt.token) {
				t.Errorf("error quotes the token: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("principal (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzPrincipalOf feeds arbitrary tokens: no panic, and an error never
// quotes the token.
func FuzzPrincipalOf(f *testing.F) {
	f.Add(testToken(f, jwt.MapClaims{"tid": "t", "oid": "o", "appid": "a"}))
	f.Add("eyJhbGciOiJIUzI1NiJ9.eyJ0aWQiOjF9.")
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		p, err := principalOf(token)
		if err != nil {
			if len(token) > 8 && strings.Contains(err.Error(), token) {
				t.Errorf("error quotes the token: %v", err)
			}
			if p != (principalReport{}) {
				t.Errorf("principal %+v with error %v", p, err)
			}
		}
	})
}

func TestResourceScope(t *testing.T) {
	tests := []struct{ uri, want string }{
		{"https://myres.service.signalr.net", "$(az signalr show -n myres -g <resource-group> --query id -o tsv)"},
		{"https://MyRes.service.signalr.net:443/", "$(az signalr show -n myres -g <resource-group> --query id -o tsv)"},
		{"https://cn1.signalr.azure.cn", "$(az signalr show -n cn1 -g <resource-group> --query id -o tsv)"},
		{"https://gov.signalr.azure.us", "$(az signalr show -n gov -g <resource-group> --query id -o tsv)"},
		{"https://signalr.example.com", "$(az signalr show -n <name> -g <resource-group> --query id -o tsv)"},
		{"https://a.b.service.signalr.net", "$(az signalr show -n <name> -g <resource-group> --query id -o tsv)"},
		{"http://127.0.0.1:8080", "$(az signalr show -n <name> -g <resource-group> --query id -o tsv)"},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.uri)
		if err != nil {
			t.Fatal(err)
		}
		if got := resourceScope(u); got != tt.want {
			t.Errorf("resourceScope(%s) = %q, want %q", tt.uri, got, tt.want)
		}
	}
	if got := resourceName(nil); got != "<name>" {
		t.Errorf("resourceName(nil) = %q", got)
	}
}

func TestAssignCommand(t *testing.T) {
	u, _ := url.Parse("https://myres.service.signalr.net")
	tests := []struct {
		name string
		p    *principalReport
		want string
	}{
		{"service principal", &principalReport{ObjectID: "o1", Type: "app"},
			`az role assignment create --assignee-object-id o1 --assignee-principal-type ServicePrincipal --role "SignalR App Server" --scope "$(az signalr show -n myres -g <resource-group> --query id -o tsv)"`},
		{"signed-in user", &principalReport{ObjectID: "o2", Type: "user"},
			`az role assignment create --assignee-object-id o2 --assignee-principal-type User --role "SignalR App Server" --scope "$(az signalr show -n myres -g <resource-group> --query id -o tsv)"`},
		{"unknown principal", nil,
			`az role assignment create --assignee-object-id <object id of the identity> --assignee-principal-type ServicePrincipal --role "SignalR App Server" --scope "$(az signalr show -n myres -g <resource-group> --query id -o tsv)"`},
	}
	for _, tt := range tests {
		if got := assignCommand(u, tt.p, roleAppServer); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

func TestEnvironmentCredentialWon(t *testing.T) {
	dac := settings.Endpoint{Auth: settings.Auth{Kind: "DefaultAzureCredential"}}
	mi := settings.Endpoint{Auth: settings.Auth{Kind: "ManagedIdentityCredential"}}
	app := principalReport{AppID: "A1"}
	tests := []struct {
		name string
		e    settings.Endpoint
		p    principalReport
		env  map[string]string
		want []string
	}{
		{"secret and the token's app", dac, app, map[string]string{"AZURE_CLIENT_ID": "a1", "AZURE_CLIENT_SECRET": "s"}, []string{"AZURE_CLIENT_SECRET"}},
		{"certificate and user name", dac, app, map[string]string{"AZURE_CLIENT_ID": "a1", "AZURE_CLIENT_CERTIFICATE_PATH": "c", "AZURE_USERNAME": "u"}, []string{"AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_USERNAME"}},
		{"another app answered", dac, principalReport{AppID: "other"}, map[string]string{"AZURE_CLIENT_ID": "a1", "AZURE_CLIENT_SECRET": "s"}, nil},
		{"AZURE_CLIENT_ID only names a managed identity", dac, app, map[string]string{"AZURE_CLIENT_ID": "a1"}, nil},
		{"not DefaultAzureCredential", mi, app, map[string]string{"AZURE_CLIENT_ID": "a1", "AZURE_CLIENT_SECRET": "s"}, nil},
		{"no app id in the token", dac, principalReport{}, map[string]string{"AZURE_CLIENT_SECRET": "s"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := environmentCredentialWon(tt.e, tt.p, func(k string) string { return tt.env[k] })
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestUserAssignedNotFoundText(t *testing.T) {
	// DefaultAzureCredential's chain gives text, not the typed error.
	chained := errors.New("DefaultAzureCredential: failed to acquire a token.\nManagedIdentityCredential authentication failed.\nRESPONSE 400: 400 Bad Request")
	tests := []struct {
		name string
		e    settings.Endpoint
		err  error
		want bool
	}{
		{"chain with a client id", settings.Endpoint{Auth: settings.Auth{Kind: "DefaultAzureCredential", ClientID: "c"}}, chained, true},
		{"chain without a user-assigned identity", settings.Endpoint{Auth: settings.Auth{Kind: "DefaultAzureCredential"}}, chained, false},
		{"system-assigned", settings.Endpoint{Auth: settings.Auth{Kind: "ManagedIdentityCredential"}}, chained, false},
		{"another failure", settings.Endpoint{Auth: settings.Auth{Kind: "ManagedIdentityCredential", UserAssigned: true, ClientID: "c"}}, errors.New("connection refused"), false},
	}
	for _, tt := range tests {
		if got := userAssignedNotFound(tt.e, tt.err); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}
