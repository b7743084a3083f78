package settings

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"
)

// token gets a token for the endpoint's scope through its credential.
func token(t *testing.T, e Endpoint) string {
	t.Helper()
	if e.Credential == nil {
		t.Fatalf("endpoint %s has no credential", e.Setting)
	}
	tk, err := e.Credential.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{e.Scope}})
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	return tk.Token
}

func loadOne(t *testing.T, opts *LoadOptions) Endpoint {
	t.Helper()
	cfg, err := Load(opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(cfg.Endpoints) != 1 {
		t.Fatalf("got %d endpoints, want 1", len(cfg.Endpoints))
	}
	return cfg.Endpoints[0]
}

// The managed identity token cache is process-wide (the package-level cache
// of MSAL for Go's apps/managedidentity/managedidentity.go, under
// azidentity), so each test asks for a different identity or resource.
func TestManagedIdentityGetsToken(t *testing.T) {
	const conn = "AzureSignalRConnectionString"
	tests := []struct {
		name      string
		env       map[string]string
		wantQuery url.Values
	}{
		{"system-assigned", map[string]string{conn + "__serviceUri": uri, conn + "__credential": "managedidentity", conn + "__scope": "https://mi-system.example/.default"},
			url.Values{"api-version": {"2019-08-01"}, "resource": {"https://mi-system.example"}}},
		{"user-assigned by client id", map[string]string{conn + "__serviceUri": uri, conn + "__credential": "managedidentity", conn + "__clientId": "33333333-0000-0000-0000-000000000001"},
			url.Values{"api-version": {"2019-08-01"}, "resource": {"https://signalr.azure.com"}, "client_id": {"33333333-0000-0000-0000-000000000001"}}},
		{"user-assigned by resource id", map[string]string{conn + "__serviceUri": uri, conn + "__credential": "managedidentity", conn + "__managedIdentityResourceId": "/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi"},
			url.Values{"api-version": {"2019-08-01"}, "resource": {"https://signalr.azure.com"}, "mi_res_id": {"/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi"}}},
		{"user-assigned by object id", map[string]string{conn + "__serviceUri": uri, conn + "__credential": "managedidentity", conn + "__managedIdentityObjectId": "33333333-0000-0000-0000-000000000006"},
			url.Values{"api-version": {"2019-08-01"}, "resource": {"https://signalr.azure.com"}, "object_id": {"33333333-0000-0000-0000-000000000006"}}},
		{"user-assigned by managedIdentityClientId", map[string]string{conn + "__serviceUri": uri, conn + "__credential": "managedidentity", conn + "__managedIdentityClientId": "33333333-0000-0000-0000-000000000007"},
			url.Values{"api-version": {"2019-08-01"}, "resource": {"https://signalr.azure.com"}, "client_id": {"33333333-0000-0000-0000-000000000007"}}},
		{"DefaultAzureCredential with managedIdentityClientId over clientId", map[string]string{conn + "__serviceUri": uri, conn + "__clientId": "33333333-0000-0000-0000-000000000010", conn + "__managedIdentityClientId": "33333333-0000-0000-0000-000000000008"},
			url.Values{"api-version": {"2019-08-01"}, "resource": {"https://signalr.azure.com"}, "client_id": {"33333333-0000-0000-0000-000000000008"}}},
		{"connection string AuthType=azure.msi", map[string]string{conn: "Endpoint=" + uri + ";AuthType=azure.msi;ClientId=33333333-0000-0000-0000-000000000002"},
			url.Values{"api-version": {"2019-08-01"}, "resource": {"https://signalr.azure.com"}, "client_id": {"33333333-0000-0000-0000-000000000002"}}},
		// Go's DefaultAzureCredential reads the managed identity only from
		// AZURE_CLIENT_ID; the section's clientId must still be the one asked.
		{"DefaultAzureCredential with clientId", map[string]string{conn + "__serviceUri": uri, conn + "__clientId": "33333333-0000-0000-0000-000000000003"},
			url.Values{"api-version": {"2019-08-01"}, "resource": {"https://signalr.azure.com"}, "client_id": {"33333333-0000-0000-0000-000000000003"}}},
		// AZURE_CLIENT_ID alone does not set up EnvironmentCredential, so the
		// section's clientId still names the identity asked.
		{"DefaultAzureCredential with clientId beside AZURE_CLIENT_ID", map[string]string{conn + "__serviceUri": uri, conn + "__clientId": "33333333-0000-0000-0000-000000000004", "AZURE_CLIENT_ID": "33333333-0000-0000-0000-000000000005"},
			url.Values{"api-version": {"2019-08-01"}, "resource": {"https://signalr.azure.com"}, "client_id": {"33333333-0000-0000-0000-000000000004"}}},
		{"DefaultAzureCredential system-assigned", map[string]string{conn + "__serviceUri": uri, conn + "__scope": "https://mi-dac.example/.default"},
			url.Values{"api-version": {"2019-08-01"}, "resource": {"https://mi-dac.example"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t, tt.env)
			t.Setenv("AZURE_TOKEN_CREDENTIALS", "prod") // no developer tools in the chain
			ie := newIdentityEndpoint(t, "mi-token")
			if got := token(t, loadOne(t, &LoadOptions{Transport: loopbackOnly(t, nil)})); got != "mi-token" {
				t.Errorf("token = %q, want mi-token", got)
			}
			var got []url.Values
			for _, q := range ie.requests() {
				v, _ := url.ParseQuery(q)
				got = append(got, v)
			}
			if diff := cmp.Diff([]url.Values{tt.wantQuery}, got); diff != "" {
				t.Errorf("identity endpoint requests (-want +got):\n%s", diff)
			}
		})
	}
}

// testThumbprint names testdata/<thumbprint>.p12, a certificate as App
// Service on Linux loads it: PKCS#12 without a password.
const testThumbprint = "1143B6006B8F6BB7CF52734425216A901E0A0533"

func TestAppCredentialsGetToken(t *testing.T) {
	const conn = "AzureSignalRConnectionString"
	dir := t.TempDir()
	cert := writeCertificate(t, dir, "app.pem")
	tokenFile := filepath.Join(dir, "federated-token")
	if err := os.WriteFile(tokenFile, []byte("federated-assertion"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  func(authority string) map[string]string
		want map[string]string // form fields of the token request
	}{
		{"client secret", func(a string) map[string]string {
			return map[string]string{conn + "__serviceUri": uri, conn + "__tenantId": "tenant-a", conn + "__clientId": guid1, conn + "__clientSecret": "s3cret", conn + "__authorityHost": a}
		}, map[string]string{"tenant": "tenant-a", "client_id": guid1, "client_secret": "s3cret", "grant_type": "client_credentials"}},
		{"client certificate", func(a string) map[string]string {
			return map[string]string{conn: "Endpoint=" + uri + ";AuthType=azure.app;TenantId=tenant-b;ClientId=" + guid1 + ";ClientCert=" + cert, "AZURE_AUTHORITY_HOST": a}
		}, map[string]string{"tenant": "tenant-b", "client_id": guid1, "grant_type": "client_credentials", "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}},
		{"client certificate in a PFX file with its password", func(a string) map[string]string {
			return map[string]string{conn + "__serviceUri": uri, conn + "__tenantId": "tenant-d", conn + "__clientId": guid1, conn + "__clientCertificatePath": filepath.Join("testdata", "app.pfx"), conn + "__clientCertificatePassword": "test-password", conn + "__authorityHost": a}
		}, map[string]string{"tenant": "tenant-d", "client_id": guid1, "grant_type": "client_credentials", "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}},
		// App Service on Linux puts a loaded certificate at <thumbprint>.p12,
		// without a password; the thumbprint may be written in lower case.
		{"client certificate by thumbprint", func(a string) map[string]string {
			return map[string]string{conn + "__serviceUri": uri, conn + "__tenantId": "tenant-e", conn + "__clientId": guid1, conn + "__clientCertificate": strings.ToLower(testThumbprint), conn + "__authorityHost": a}
		}, map[string]string{"tenant": "tenant-e", "client_id": guid1, "grant_type": "client_credentials", "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}},
		{"workload identity", func(a string) map[string]string {
			return map[string]string{conn + "__serviceUri": uri, conn + "__credential": "workloadidentity", "AZURE_TENANT_ID": "tenant-c", "AZURE_CLIENT_ID": guid2, conn + "__tokenFilePath": tokenFile, conn + "__authorityHost": a}
		}, map[string]string{"tenant": "tenant-c", "client_id": guid2, "grant_type": "client_credentials", "client_assertion": "federated-assertion", "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAuthority(t, "entra-token")
			cleanEnv(t, tt.env(a.URL))
			e := loadOne(t, &LoadOptions{Transport: loopbackOnly(t, a.Client()), CertificateDir: "testdata"})
			if got := token(t, e); got != "entra-token" {
				t.Errorf("token = %q, want entra-token", got)
			}
			reqs := a.requests()
			if len(reqs) != 1 {
				t.Fatalf("got %d token requests, want 1", len(reqs))
			}
			got := map[string]string{}
			for k := range tt.want {
				got[k] = reqs[0][k]
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("token request (-want +got):\n%s", diff)
			}
			if !strings.Contains(reqs[0]["scope"], DefaultScope) {
				t.Errorf("scope = %q, want %s", reqs[0]["scope"], DefaultScope)
			}
		})
	}
}

// TestFederatedManagedIdentityGetsToken follows Microsoft.Extensions.Azure's
// managedidentityasfederatedidentity: the user-assigned identity's token for
// the token exchange scope is the app's client assertion.
func TestFederatedManagedIdentityGetsToken(t *testing.T) {
	const conn = "AzureSignalRConnectionString"
	a := newAuthority(t, "entra-token")
	cleanEnv(t, map[string]string{conn + "__serviceUri": uri, conn + "__credential": "managedidentityasfederatedidentity",
		conn + "__tenantId": "tenant-f", conn + "__clientId": guid1, conn + "__azureCloud": "public",
		conn + "__managedIdentityClientId": "33333333-0000-0000-0000-000000000009", conn + "__authorityHost": a.URL})
	ie := newIdentityEndpoint(t, "mi-assertion")
	e := loadOne(t, &LoadOptions{Transport: loopbackOnly(t, a.Client())})
	if got := token(t, e); got != "entra-token" {
		t.Errorf("token = %q, want entra-token", got)
	}
	want := []url.Values{{"api-version": {"2019-08-01"}, "resource": {"api://AzureADTokenExchange"}, "client_id": {"33333333-0000-0000-0000-000000000009"}}}
	var got []url.Values
	for _, q := range ie.requests() {
		v, _ := url.ParseQuery(q)
		got = append(got, v)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("identity endpoint requests (-want +got):\n%s", diff)
	}
	reqs := a.requests()
	if len(reqs) != 1 || reqs[0]["client_assertion"] != "mi-assertion" || reqs[0]["client_id"] != guid1 || reqs[0]["tenant"] != "tenant-f" {
		t.Errorf("token requests %v, want one for app %s in tenant-f with the identity's token as assertion", reqs, guid1)
	}
}
