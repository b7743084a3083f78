package settings

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	guid1 = "11111111-1111-1111-1111-111111111111"
	guid2 = "22222222-2222-2222-2222-222222222222"
	uri   = "https://a.service.signalr.net"
)

// summary is what a test compares of an Endpoint.
type summary struct {
	Name, Setting, URI, Client, Server string
	Type                               EndpointType
	Scope                              string
	Auth                               Auth
	HasKey, HasCredential              bool
}

func summarize(es []Endpoint) []summary {
	var out []summary
	str := func(u interface{ String() string }, ok bool) string {
		if !ok {
			return ""
		}
		return u.String()
	}
	for _, e := range es {
		out = append(out, summary{e.Name, e.Setting, str(e.ServiceURI, e.ServiceURI != nil), str(e.ClientEndpoint, e.ClientEndpoint != nil),
			str(e.ServerEndpoint, e.ServerEndpoint != nil), e.Type, e.Scope, e.Auth, e.AccessKey != "", e.Credential != nil})
	}
	return out
}

func TestLoadEndpoints(t *testing.T) {
	dir := t.TempDir()
	cert := writeCertificate(t, dir, "app.pem")
	thumb := strings.Repeat("ab", 20)
	writeCertificate(t, dir, strings.ToUpper(thumb)+".p12") // PEM content: ParseCertificates reads both
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("assertion"), 0o600); err != nil {
		t.Fatal(err)
	}
	const conn = "AzureSignalRConnectionString"
	primary := func(setting string, a Auth) summary {
		return summary{Setting: setting, URI: uri, Type: Primary, Scope: DefaultScope, Auth: a, HasCredential: true}
	}
	tests := []struct {
		name      string
		env       map[string]string
		want      []summary
		wantWarns []string
	}{
		{"connection string with access key", map[string]string{conn: "Endpoint=" + uri + ";AccessKey=TOPSECRET;Version=1.0;"},
			[]summary{{Setting: conn, URI: uri, Type: Primary, Scope: DefaultScope, Auth: Auth{Kind: "AccessKey"}, HasKey: true}}, nil},
		{"connection string keys case-insensitive, port, endpoints", map[string]string{conn: " endpoint = " + uri + " ;ACCESSKEY=TOPSECRET;port=8443;ClientEndpoint=https://c.example.com;serverendpoint=http://127.0.0.1:9000/"},
			[]summary{{Setting: conn, URI: uri + ":8443", Client: "https://c.example.com", Server: "http://127.0.0.1:9000", Type: Primary, Scope: DefaultScope, Auth: Auth{Kind: "AccessKey"}, HasKey: true}}, nil},
		{"connection string beside the example's empty section keys", map[string]string{conn: "Endpoint=" + uri + ";AccessKey=TOPSECRET;Version=1.0;", conn + ":serviceUri": "", conn + ":credential": " ", conn + ":clientSecret": ""},
			[]summary{{Setting: conn, URI: uri, Type: Primary, Scope: DefaultScope, Auth: Auth{Kind: "AccessKey"}, HasKey: true}}, nil},
		{"AuthType=azure", map[string]string{conn: "Endpoint=" + uri + ";AuthType=azure"},
			[]summary{primary(conn, Auth{Kind: "DefaultAzureCredential"})}, nil},
		{"AuthType=azure.msi system-assigned", map[string]string{conn: "Endpoint=" + uri + ";AuthType=azure.msi"},
			[]summary{primary(conn, Auth{Kind: "ManagedIdentityCredential"})}, nil},
		{"AuthType=azure.msi user-assigned", map[string]string{conn: "Endpoint=" + uri + ";AuthType=Azure.MSI;ClientId=" + guid1},
			[]summary{primary(conn, Auth{Kind: "ManagedIdentityCredential", UserAssigned: true, ClientID: guid1})}, nil},
		{"AuthType=azure.app secret", map[string]string{conn: "Endpoint=" + uri + ";AuthType=azure.app;ClientId=" + guid1 + ";TenantId=" + guid2 + ";ClientSecret=TOPSECRET"},
			[]summary{primary(conn, Auth{Kind: "ClientSecretCredential", ClientID: guid1, TenantID: guid2})}, nil},
		{"AuthType=azure.app certificate", map[string]string{conn: "Endpoint=" + uri + ";AuthType=azure.app;ClientId=" + guid1 + ";TenantId=" + guid2 + ";ClientCert=" + cert},
			[]summary{primary(conn, Auth{Kind: "ClientCertificateCredential", ClientID: guid1, TenantID: guid2, CertificatePath: cert})}, nil},
		{"AuthType=aad with tenant is an app", map[string]string{conn: "Endpoint=" + uri + ";AuthType=aad;ClientId=" + guid1 + ";TenantId=" + guid2 + ";ClientSecret=TOPSECRET"},
			[]summary{primary(conn, Auth{Kind: "ClientSecretCredential", ClientID: guid1, TenantID: guid2})}, nil},
		{"AuthType=aad without tenant is the managed identity", map[string]string{conn: "Endpoint=" + uri + ";AuthType=aad"},
			[]summary{primary(conn, Auth{Kind: "ManagedIdentityCredential"})}, []string{"AuthType=aad without TenantId uses the managed identity"}},
		{"AuthType=azure ignores an app's secret", map[string]string{conn: "Endpoint=" + uri + ";AuthType=azure;ClientId=" + guid1 + ";ClientSecret=TOPSECRET"},
			[]summary{primary(conn, Auth{Kind: "DefaultAzureCredential", ClientID: guid1})},
			[]string{conn + ": ClientSecret is ignored because AuthType=azure means DefaultAzureCredential; write AuthType=azure.app"}},
		{"section with serviceUri only", map[string]string{conn + "__serviceUri": uri},
			[]summary{primary(conn, Auth{Kind: "DefaultAzureCredential"})}, nil},
		{"section with ':' and any case", map[string]string{"azuresignalrconnectionstring:SERVICEURI": uri, "AZURESIGNALRCONNECTIONSTRING:Credential": "ManagedIdentity"},
			[]summary{primary("azuresignalrconnectionstring", Auth{Kind: "ManagedIdentityCredential"})}, nil},
		{"managed identity by client id", map[string]string{conn + "__serviceUri": uri, conn + "__credential": "managedidentity", conn + "__clientId": guid1},
			[]summary{primary(conn, Auth{Kind: "ManagedIdentityCredential", UserAssigned: true, ClientID: guid1})}, nil},
		{"managed identity by resource id", map[string]string{conn + "__serviceUri": uri, conn + "__credential": "managedidentity", conn + "__managedIdentityResourceId": "/subscriptions/s/rg/id"},
			[]summary{primary(conn, Auth{Kind: "ManagedIdentityCredential", UserAssigned: true, ResourceID: "/subscriptions/s/rg/id"})}, nil},
		{"workload identity from keys", map[string]string{conn + "__serviceUri": uri, conn + "__credential": "workloadidentity", conn + "__clientId": guid1, conn + "__tenantId": guid2, conn + "__tokenFilePath": tokenFile},
			[]summary{primary(conn, Auth{Kind: "WorkloadIdentityCredential", ClientID: guid1, TenantID: guid2, TokenFilePath: tokenFile})}, nil},
		{"workload identity from AZURE_*", map[string]string{conn + "__serviceUri": uri, conn + "__credential": "workloadidentity", "AZURE_CLIENT_ID": guid1, "AZURE_TENANT_ID": guid2, "AZURE_FEDERATED_TOKEN_FILE": tokenFile},
			[]summary{primary(conn, Auth{Kind: "WorkloadIdentityCredential", ClientID: guid1, TenantID: guid2, TokenFilePath: tokenFile})}, nil},
		{"client secret with allowed tenants", map[string]string{conn + "__serviceUri": uri, conn + "__clientId": guid1, conn + "__tenantId": guid2, conn + "__clientSecret": "TOPSECRET", conn + "__additionallyAllowedTenants": "t1; t2;"},
			[]summary{primary(conn, Auth{Kind: "ClientSecretCredential", ClientID: guid1, TenantID: guid2, AdditionallyAllowedTenants: []string{"t1", "t2"}})}, nil},
		{"client certificate by path", map[string]string{conn + "__serviceUri": uri, conn + "__clientId": guid1, conn + "__tenantId": guid2, conn + "__clientCertificatePath": cert},
			[]summary{primary(conn, Auth{Kind: "ClientCertificateCredential", ClientID: guid1, TenantID: guid2, CertificatePath: cert})}, nil},
		{"client certificate by thumbprint", map[string]string{conn + "__serviceUri": uri, conn + "__clientId": guid1, conn + "__tenantId": guid2, conn + "__clientCertificate": thumb},
			[]summary{primary(conn, Auth{Kind: "ClientCertificateCredential", ClientID: guid1, TenantID: guid2, CertificatePath: filepath.Join(dir, strings.ToUpper(thumb)+".p12")})}, nil},
		{"DefaultAzureCredential with client and tenant", map[string]string{conn + "__serviceUri": uri, conn + "__clientId": guid1, conn + "__tenantId": guid2},
			[]summary{primary(conn, Auth{Kind: "DefaultAzureCredential", ClientID: guid1, TenantID: guid2})}, nil},
		{"sovereign cloud", map[string]string{conn + "__serviceUri": "https://a.signalr.azure.cn", conn + "__authorityHost": "https://login.chinacloudapi.cn/", conn + "__scope": "https://signalr.azure.cn/.default"},
			[]summary{{Setting: conn, URI: "https://a.signalr.azure.cn", Type: Primary, Scope: "https://signalr.azure.cn/.default", Auth: Auth{Kind: "DefaultAzureCredential", AuthorityHost: "https://login.chinacloudapi.cn/"}, HasCredential: true}}, nil},
		{"authority host from AZURE_AUTHORITY_HOST", map[string]string{conn + "__serviceUri": uri, "AZURE_AUTHORITY_HOST": "https://login.microsoftonline.us/"},
			[]summary{primary(conn, Auth{Kind: "DefaultAzureCredential", AuthorityHost: "https://login.microsoftonline.us/"})}, nil},
		{"authority host with a password", map[string]string{conn + "__serviceUri": uri, conn + "__authorityHost": "https://user:TOPSECRET@login.microsoftonline.us/"},
			[]summary{primary(conn, Auth{Kind: "DefaultAzureCredential", AuthorityHost: "https://user:xxxxx@login.microsoftonline.us/"})}, nil},
		{"SIGNALR_CONNECTION_SETTING names the prefix", map[string]string{"SIGNALR_CONNECTION_SETTING": "MySignalR", "MySignalR:serviceUri": uri},
			[]summary{primary("MySignalR", Auth{Kind: "DefaultAzureCredential"})}, nil},
		{"several endpoints with different credentials", map[string]string{
			conn + "__serviceUri":                              uri,
			"Azure__SignalR__Endpoints__east":                  "Endpoint=https://east.example.com;AccessKey=TOPSECRET",
			"Azure:SignalR:Endpoints:west:serviceUri":          "https://west.example.com",
			"Azure:SignalR:Endpoints:west:type":                "Secondary",
			"Azure:SignalR:Endpoints:west:credential":          "managedidentity",
			"azure__signalr__endpoints__north__serviceuri":     "https://north.example.com",
			"azure__signalr__endpoints__north__clientid":       guid1,
			"azure__signalr__endpoints__north__tenantid":       guid2,
			"azure__signalr__endpoints__north__clientsecret":   "TOPSECRET",
			"Azure__SignalR__Endpoints__north__clientEndpoint": "https://north.example.com",
		}, []summary{
			primary(conn, Auth{Kind: "DefaultAzureCredential"}),
			{Name: "east", Setting: "Azure__SignalR__Endpoints__east", URI: "https://east.example.com", Type: Primary, Scope: DefaultScope, Auth: Auth{Kind: "AccessKey"}, HasKey: true},
			{Name: "north", Setting: "azure__signalr__endpoints__north", URI: "https://north.example.com", Client: "https://north.example.com", Type: Primary, Scope: DefaultScope, Auth: Auth{Kind: "ClientSecretCredential", ClientID: guid1, TenantID: guid2}, HasCredential: true},
			{Name: "west", Setting: "Azure:SignalR:Endpoints:west", URI: "https://west.example.com", Type: Secondary, Scope: DefaultScope, Auth: Auth{Kind: "ManagedIdentityCredential"}, HasCredential: true},
		}, nil},
		{"endpoint typed by its last segment, as in C#", map[string]string{
			"Azure:SignalR:Endpoints:backup:secondary": "Endpoint=https://backup.example.com;AccessKey=TOPSECRET",
			"Azure__SignalR__Endpoints__main__primary": "Endpoint=" + uri + ";AuthType=azure.msi",
		}, []summary{
			{Name: "backup", Setting: "Azure:SignalR:Endpoints:backup:secondary", URI: "https://backup.example.com", Type: Secondary, Scope: DefaultScope, Auth: Auth{Kind: "AccessKey"}, HasKey: true},
			{Name: "main", Setting: "Azure__SignalR__Endpoints__main__primary", URI: uri, Type: Primary, Scope: DefaultScope, Auth: Auth{Kind: "ManagedIdentityCredential"}, HasCredential: true},
		}, nil},
		{"endpoints list alone", map[string]string{"Azure__SignalR__Endpoints__one": "Endpoint=http://127.0.0.1:8080;AccessKey=TOPSECRET"},
			[]summary{{Name: "one", Setting: "Azure__SignalR__Endpoints__one", URI: "http://127.0.0.1:8080", Type: Primary, Scope: DefaultScope, Auth: Auth{Kind: "AccessKey"}, HasKey: true}}, nil},
		{"ConnectionStrings:<name> first, as in C#", map[string]string{"ConnectionStrings:" + conn: "Endpoint=" + uri + ";AccessKey=TOPSECRET", conn: "Endpoint=https://b.example.com;AccessKey=TOPSECRET"},
			[]summary{{Setting: "ConnectionStrings:" + conn, URI: uri, Type: Primary, Scope: DefaultScope, Auth: Auth{Kind: "AccessKey"}, HasKey: true}},
			[]string{conn + " is ignored: the connection string in ConnectionStrings:" + conn + " comes first"}},
		{"portal connection string CUSTOMCONNSTR_", map[string]string{"CUSTOMCONNSTR_" + conn: "Endpoint=" + uri + ";AuthType=azure.msi"},
			[]summary{primary("CUSTOMCONNSTR_"+conn, Auth{Kind: "ManagedIdentityCredential"})}, nil},
		{"portal connection string of another type", map[string]string{"SQLAZURECONNSTR_" + conn: "Endpoint=" + uri + ";AuthType=azure.msi"},
			[]summary{primary("SQLAZURECONNSTR_"+conn, Auth{Kind: "ManagedIdentityCredential"})}, nil},
		{"ConnectionStrings__<name> beside a section: the string wins", map[string]string{"ConnectionStrings__" + conn: "Endpoint=" + uri + ";AuthType=azure.msi", conn + "__serviceUri": "https://b.example.com", conn + "__credential": "managedidentity"},
			[]summary{primary("ConnectionStrings__"+conn, Auth{Kind: "ManagedIdentityCredential"})},
			[]string{conn + ": " + conn + "__credential, " + conn + "__serviceUri ignored: the connection string in ConnectionStrings__" + conn + " wins over the section"}},
		{"connection string beside a section: the string wins", map[string]string{conn: "Endpoint=" + uri + ";AccessKey=TOPSECRET", conn + "__serviceUri": "https://b.example.com"},
			[]summary{{Setting: conn, URI: uri, Type: Primary, Scope: DefaultScope, Auth: Auth{Kind: "AccessKey"}, HasKey: true}},
			[]string{conn + "__serviceUri ignored: the connection string in " + conn + " wins"}},
		{"secret beside a certificate: the secret wins", map[string]string{conn + "__serviceUri": uri, conn + "__tenantId": guid2, conn + "__clientId": guid1, conn + "__clientSecret": "TOPSECRET", conn + "__clientCertificatePath": "/nonexistent.pem"},
			[]summary{primary(conn, Auth{Kind: "ClientSecretCredential", ClientID: guid1, TenantID: guid2})},
			[]string{conn + "__clientSecret: the client certificate is ignored because a client secret is set"}},
		{"AuthType=azure.app with secret and certificate: the secret wins", map[string]string{conn: "Endpoint=" + uri + ";AuthType=azure.app;ClientId=" + guid1 + ";TenantId=" + guid2 + ";ClientSecret=TOPSECRET;ClientCert=/nonexistent.pem"},
			[]summary{primary(conn, Auth{Kind: "ClientSecretCredential", ClientID: guid1, TenantID: guid2})},
			[]string{"the client certificate is ignored because a client secret is set"}},
		{"unknown credential value chooses by the other keys", map[string]string{conn + "__serviceUri": uri, conn + "__credential": "msi", conn + "__clientId": guid1},
			[]summary{primary(conn, Auth{Kind: "DefaultAzureCredential", ClientID: guid1})},
			[]string{conn + `__credential: unknown credential "msi" is ignored`}},
		{"managed identity by managedIdentityClientId", map[string]string{conn + "__serviceUri": uri, conn + "__credential": "managedidentity", conn + "__managedIdentityClientId": guid1},
			[]summary{primary(conn, Auth{Kind: "ManagedIdentityCredential", UserAssigned: true, ClientID: guid1})}, nil},
		{"managed identity by object id", map[string]string{conn + "__serviceUri": uri, conn + "__credential": "managedidentity", conn + "__managedIdentityObjectId": guid2},
			[]summary{primary(conn, Auth{Kind: "ManagedIdentityCredential", UserAssigned: true, ObjectID: guid2})}, nil},
		{"DefaultAzureCredential: managedIdentityClientId over clientId", map[string]string{conn + "__serviceUri": uri, conn + "__clientId": guid1, conn + "__managedIdentityClientId": guid2},
			[]summary{primary(conn, Auth{Kind: "DefaultAzureCredential", ClientID: guid2})}, nil},
		{"azure pipelines", map[string]string{conn + "__serviceUri": uri, conn + "__credential": "azurepipelines", conn + "__tenantId": guid2, conn + "__clientId": guid1, conn + "__serviceConnectionId": "sc", conn + "__systemAccessToken": "TOPSECRET", "SYSTEM_OIDCREQUESTURI": "https://dev.azure.com/oidc"},
			[]summary{primary(conn, Auth{Kind: "AzurePipelinesCredential", ClientID: guid1, TenantID: guid2})}, nil},
		{"managed identity as federated identity", map[string]string{conn + "__serviceUri": uri, conn + "__credential": "managedidentityasfederatedidentity", conn + "__tenantId": guid2, conn + "__clientId": guid1, conn + "__azureCloud": "public", conn + "__managedIdentityObjectId": "44444444-0000-0000-0000-000000000001"},
			[]summary{primary(conn, Auth{Kind: "ClientAssertionCredential", ClientID: guid1, TenantID: guid2, ObjectID: "44444444-0000-0000-0000-000000000001"})}, nil},
		{"warning: certificate store keys", map[string]string{conn + "__serviceUri": uri, conn + "__tenantId": guid2, conn + "__clientId": guid1, conn + "__clientCertificate": thumb, conn + "__clientCertificateStoreLocation": "LocalMachine"},
			[]summary{primary(conn, Auth{Kind: "ClientCertificateCredential", ClientID: guid1, TenantID: guid2, CertificatePath: filepath.Join(dir, strings.ToUpper(thumb)+".p12")})},
			[]string{conn + "__clientCertificateStoreLocation is ignored: there is no Windows certificate store here"}},
		{"client endpoint with a path is kept", map[string]string{conn + "__serviceUri": uri, conn + "__clientEndpoint": "https://gw.example.com/signalr/"},
			[]summary{{Setting: conn, URI: uri, Client: "https://gw.example.com/signalr", Type: Primary, Scope: DefaultScope, Auth: Auth{Kind: "DefaultAzureCredential"}, HasCredential: true}},
			[]string{conn + "__clientEndpoint: the client endpoint https://gw.example.com/signalr has a path, which is kept"}},
		{"<name> beside <name>:secondary are two endpoints", map[string]string{
			"Azure__SignalR__Endpoints__east":            "Endpoint=" + uri + ";AccessKey=TOPSECRET",
			"Azure:SignalR:Endpoints:east:secondary":     "Endpoint=https://b.example.com;AuthType=azure.msi",
			"Azure__SignalR__Endpoints__west__primary":   "Endpoint=https://c.example.com;AccessKey=TOPSECRET",
			"Azure__SignalR__Endpoints__west__secondary": "Endpoint=https://d.example.com;AccessKey=TOPSECRET",
		}, []summary{
			{Name: "east", Setting: "Azure__SignalR__Endpoints__east", URI: uri, Type: Primary, Scope: DefaultScope, Auth: Auth{Kind: "AccessKey"}, HasKey: true},
			{Name: "east", Setting: "Azure:SignalR:Endpoints:east:secondary", URI: "https://b.example.com", Type: Secondary, Scope: DefaultScope, Auth: Auth{Kind: "ManagedIdentityCredential"}, HasCredential: true},
			{Name: "west", Setting: "Azure__SignalR__Endpoints__west__primary", URI: "https://c.example.com", Type: Primary, Scope: DefaultScope, Auth: Auth{Kind: "AccessKey"}, HasKey: true},
			{Name: "west", Setting: "Azure__SignalR__Endpoints__west__secondary", URI: "https://d.example.com", Type: Secondary, Scope: DefaultScope, Auth: Auth{Kind: "AccessKey"}, HasKey: true},
		}, nil},
		{"endpoint section with serviceUri wins over its connection strings", map[string]string{
			"Azure__SignalR__Endpoints__east":             "Endpoint=https://b.example.com;AccessKey=TOPSECRET",
			"Azure__SignalR__Endpoints__east__secondary":  "Endpoint=https://c.example.com;AccessKey=TOPSECRET",
			"Azure__SignalR__Endpoints__east__serviceUri": uri,
			"Azure__SignalR__Endpoints__east__credential": "managedidentity",
		}, []summary{
			{Name: "east", Setting: "Azure__SignalR__Endpoints__east", URI: uri, Type: Primary, Scope: DefaultScope, Auth: Auth{Kind: "ManagedIdentityCredential"}, HasCredential: true},
		}, []string{"Azure__SignalR__Endpoints__east: Azure__SignalR__Endpoints__east, Azure__SignalR__Endpoints__east__secondary ignored: the section with serviceUri wins"}},
		{"one endpoint per service, the primary kept, as in C#", map[string]string{
			"Azure__SignalR__Endpoints__a__secondary": "Endpoint=https://a.service.signalr.net:443;AccessKey=TOPSECRET",
			"Azure__SignalR__Endpoints__b":            "Endpoint=" + uri + ";AuthType=azure.msi",
		}, []summary{
			{Name: "b", Setting: "Azure__SignalR__Endpoints__b", URI: uri, Type: Primary, Scope: DefaultScope, Auth: Auth{Kind: "ManagedIdentityCredential"}, HasCredential: true},
		}, []string{"Azure__SignalR__Endpoints__a__secondary is ignored: it names the same service as Azure__SignalR__Endpoints__b (https://a.service.signalr.net:443)"}},
		{"warning: endpoints entry without serviceUri is skipped", map[string]string{conn + "__serviceUri": uri, "Azure__SignalR__Endpoints__east__type": "primary"},
			[]summary{primary(conn, Auth{Kind: "DefaultAzureCredential"})},
			[]string{"Azure__SignalR__Endpoints__east: Azure__SignalR__Endpoints__east__type ignored: there is neither a connection string nor serviceUri"}},
		{"warning: DefaultAzureCredential with AZURE_* set", map[string]string{conn + "__serviceUri": uri, "AZURE_CLIENT_SECRET": "TOPSECRET", "AZURE_USERNAME": "u"},
			[]summary{primary(conn, Auth{Kind: "DefaultAzureCredential"})},
			[]string{"EnvironmentCredential first because AZURE_CLIENT_SECRET, AZURE_USERNAME is set, and that often ends in Unauthorized. To use the managed identity, set " + conn + "__credential=managedidentity"}},
		{"warning: DefaultAzureCredential with AZURE_CLIENT_ID alone", map[string]string{conn + "__serviceUri": uri, "AZURE_CLIENT_ID": guid1},
			[]summary{primary(conn, Auth{Kind: "DefaultAzureCredential"})},
			[]string{conn + ": DefaultAzureCredential will use the user-assigned managed identity with client id " + guid1 + " because AZURE_CLIENT_ID is set, not the system-assigned one"}},
		{"no warning: AZURE_CLIENT_ID beside the section's clientId", map[string]string{conn + "__serviceUri": uri, conn + "__clientId": guid2, "AZURE_CLIENT_ID": guid1},
			[]summary{primary(conn, Auth{Kind: "DefaultAzureCredential", ClientID: guid2})}, nil},
		{"warning: workload identity ignores a client secret", map[string]string{conn + "__serviceUri": uri, conn + "__credential": "workloadidentity", conn + "__clientId": guid1, conn + "__tenantId": guid2, conn + "__tokenFilePath": tokenFile, conn + "__clientSecret": "TOPSECRET"},
			[]summary{primary(conn, Auth{Kind: "WorkloadIdentityCredential", ClientID: guid1, TenantID: guid2, TokenFilePath: tokenFile})},
			[]string{conn + "__credential: credential=workloadidentity ignores the client secret or certificate"}},
		{"warning: named connection keys without serviceUri beside the endpoints list", map[string]string{conn + "__credential": "managedidentity", conn + "__clientId": "", "Azure__SignalR__Endpoints__e__serviceUri": uri},
			[]summary{{Name: "e", Setting: "Azure__SignalR__Endpoints__e", URI: uri, Type: Primary, Scope: DefaultScope, Auth: Auth{Kind: "DefaultAzureCredential"}, HasCredential: true}},
			[]string{conn + ": " + conn + "__credential set, but " + conn + " has no serviceUri or connection string, so they are ignored"}},
		{"warning: client id not a GUID", map[string]string{conn + "__serviceUri": uri, conn + "__credential": "managedidentity", conn + "__clientId": "my-identity"},
			[]summary{primary(conn, Auth{Kind: "ManagedIdentityCredential", UserAssigned: true, ClientID: "my-identity"})},
			[]string{conn + `__clientId: "my-identity" is not a GUID`}},
		{"warning: unknown section key", map[string]string{conn + "__serviceUri": uri, conn + "__clientSecert": "TOPSECRET"},
			[]summary{primary(conn, Auth{Kind: "DefaultAzureCredential"})},
			[]string{conn + `__clientSecert: key "clientsecert" is not known`}},
		{"warning: an access key in a section", map[string]string{conn + "__serviceUri": uri, conn + "__accessKey": "TOPSECRET"},
			[]summary{primary(conn, Auth{Kind: "DefaultAzureCredential"})},
			[]string{conn + "__accessKey is ignored: an access key belongs in a connection string, not in a section with serviceUri, which authenticates with a credential instead. " +
				"Set " + conn + "=Endpoint=<serviceUri>;AccessKey=<key>;Version=1.0; in place of the section, or remove " + conn + "__accessKey to use Microsoft Entra ID"}},
		{"warning: an access key in an endpoint's section", map[string]string{"Azure__SignalR__Endpoints__e__serviceUri": uri, "Azure__SignalR__Endpoints__e__AccessKey": "TOPSECRET"},
			[]summary{{Name: "e", Setting: "Azure__SignalR__Endpoints__e", URI: uri, Type: Primary, Scope: DefaultScope, Auth: Auth{Kind: "DefaultAzureCredential"}, HasCredential: true}},
			[]string{"Azure__SignalR__Endpoints__e__AccessKey is ignored: an access key belongs in a connection string"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t, tt.env)
			cfg, err := Load(&LoadOptions{CertificateDir: dir})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if diff := cmp.Diff(tt.want, summarize(cfg.Endpoints)); diff != "" {
				t.Errorf("endpoints (-want +got):\n%s", diff)
			}
			if len(cfg.Warnings) != len(tt.wantWarns) {
				t.Errorf("warnings = %q, want %d", cfg.Warnings, len(tt.wantWarns))
			}
			all := strings.Join(cfg.Warnings, "\n")
			for _, w := range tt.wantWarns {
				if !strings.Contains(all, w) {
					t.Errorf("warnings %q lack %q", all, w)
				}
			}
			if strings.Contains(all, "TOPSECRET") {
				t.Errorf("a warning shows a secret: %q", all)
			}
		})
	}
}
