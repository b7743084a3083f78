package settings

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// settingErrors lists the *SettingError problems joined in err.
func settingErrors(err error) []*SettingError {
	var out []*SettingError
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var se *SettingError
		if errors.As(err, &se) {
			out = append(out, se)
		}
	}
	walk(err)
	return out
}

func TestLoadErrors(t *testing.T) {
	const conn = "AzureSignalRConnectionString"
	dir := t.TempDir()
	tests := []struct {
		name string
		env  map[string]string
		// want holds, for each problem, its setting and parts of its message.
		want [][]string
	}{
		{"no connection", nil, [][]string{{conn, "no SignalR Service connection found", conn + "__serviceUri", conn + ":serviceUri", "Azure__SignalR__Endpoints__<name>"}}},
		{"SIGNALR_CONNECTION_SETTING names another prefix than the one set", map[string]string{"SIGNALR_CONNECTION_SETTING": "Other", conn + "__serviceUri": uri},
			[][]string{{"Other", "no SignalR Service connection found", conn + " settings exist, but SIGNALR_CONNECTION_SETTING names Other instead"}}},
		{"no serviceUri but other keys", map[string]string{conn + "__serviceUrl": uri}, [][]string{{conn, "found " + conn + "__serviceUrl but no serviceUri"}}},
		{"malformed URI", map[string]string{conn + "__serviceUri": "a.service.signalr.net"}, [][]string{{conn + "__serviceUri", `"a.service.signalr.net" is not an absolute URI`, "https://<resource>.service.signalr.net"}}},
		{"wrong scheme", map[string]string{conn + "__serviceUri": "ftp://a.example.com"}, [][]string{{conn + "__serviceUri", "is not http or https"}}},
		{"path in URI", map[string]string{conn + "__serviceUri": "https://a.example.com/x?y=1"}, [][]string{{conn + "__serviceUri", "more than a scheme, host and port"}}},
		{"password in a URI with a wrong scheme", map[string]string{conn + "__serviceUri": "ftp://user:TOPSECRET@a.example.com"}, [][]string{{conn + "__serviceUri", `"ftp://user:xxxxx@a.example.com" is not http or https`}}},
		{"password in a URI without host", map[string]string{conn + "__serviceUri": "https://user:TOPSECRET@"}, [][]string{{conn + "__serviceUri", `"https://user:xxxxx@" is not an absolute URI`}}},
		{"password in a URI that does not parse", map[string]string{conn + "__serviceUri": "https://user:TOPSECRET@a.example.com:port"}, [][]string{{conn + "__serviceUri", `"https://user:xxxxx@a.example.com:port" is not an absolute URI`}}},
		{"password holding @ in a URI", map[string]string{conn + "__serviceUri": "https://user:x@TOPSECRET@a.example.com"}, [][]string{{conn + "__serviceUri", `"https://user:xxxxx@a.example.com" has more than a scheme, host and port`}}},
		{"password holding / in a URI", map[string]string{conn + "__serviceUri": "https://user:x/TOPSECRET@a.example.com"}, [][]string{{conn + "__serviceUri", `"https://user:xxxxx@a.example.com" is not an absolute URI`}}},
		{"plain http off loopback", map[string]string{conn + "__serviceUri": "http://a.service.signalr.net"}, [][]string{{conn + "__serviceUri", "plain http to a host that is not loopback", "127.0.0.1"}}},
		{"empty serviceUri and other keys", map[string]string{conn + "__serviceUri": " ", conn + "__credential": "managedidentity", conn + "__clientId": ""},
			[][]string{{conn, "found " + conn + "__credential but no serviceUri; " + conn + "__serviceUri is empty"}}},
		{"empty connection string", map[string]string{conn: ""}, [][]string{{conn, "; " + conn + " is empty"}}},
		{"client id with resource id", map[string]string{conn + "__serviceUri": uri, conn + "__credential": "managedidentity", conn + "__clientId": guid1, conn + "__managedIdentityResourceId": "/r"}, [][]string{{conn + "__clientId", "together with " + conn + "__managedIdentityResourceId", "C# extension refuses more"}}},
		{"object id with managedIdentityClientId", map[string]string{conn + "__serviceUri": uri, conn + "__credential": "managedidentity", conn + "__managedIdentityClientId": guid1, conn + "__managedIdentityObjectId": guid2},
			[][]string{{conn + "__managedIdentityClientId", "together with " + conn + "__managedIdentityObjectId"}}},
		{"object id without credential=managedidentity", map[string]string{conn + "__serviceUri": uri, conn + "__managedIdentityObjectId": guid2},
			[][]string{{conn + "__managedIdentityObjectId", "only used with credential=managedidentity"}}},
		{"DefaultAzureCredential with client id and resource id", map[string]string{conn + "__serviceUri": uri, conn + "__managedIdentityClientId": guid1, conn + "__managedIdentityResourceId": "/r"},
			[][]string{{conn + "__managedIdentityResourceId", "together with a client id"}}},
		{"azure pipelines incomplete", map[string]string{conn + "__serviceUri": uri, conn + "__credential": "AzurePipelines", conn + "__clientId": guid1, conn + "__systemAccessToken": "TOPSECRET"},
			[][]string{{conn + "__credential", "credential=azurepipelines needs " + conn + "__tenantId, " + conn + "__serviceConnectionId"}}},
		{"managed identity as federated identity incomplete", map[string]string{conn + "__serviceUri": uri, conn + "__credential": "managedidentityasfederatedidentity", conn + "__clientId": guid1, conn + "__azureCloud": "mars"},
			[][]string{{conn + "__credential", "needs " + conn + "__tenantId, " + conn + "__azureCloud (public, usgov or china), one of managedIdentityClientId"}}},
		{"client endpoint with a query", map[string]string{conn + "__serviceUri": uri, conn + "__clientEndpoint": "https://c.example.com/x?y=1"}, [][]string{{conn + "__clientEndpoint", "more than a scheme, host and port"}}},
		{"server endpoint with a path", map[string]string{conn + "__serviceUri": uri, conn + "__serverEndpoint": "https://s.example.com/x"}, [][]string{{conn + "__serverEndpoint", "more than a scheme, host and port"}}},
		{"connection string in ConnectionStrings clashes", map[string]string{"ConnectionStrings__" + conn: "Endpoint=" + uri + ";AccessKey=TOPSECRET", "ConnectionStrings:" + conn: "Endpoint=https://b.example.com;AccessKey=TOPSECRET"},
			[][]string{{"ConnectionStrings:" + conn, "set twice with different values"}}},
		{"client secret without tenant and client", map[string]string{conn + "__serviceUri": uri, conn + "__clientSecret": "TOPSECRET"}, [][]string{{conn + "__tenantId", "is missing (and so is " + conn + "__clientId)", "Directory (tenant) ID"}}},
		{"certificate without client", map[string]string{conn + "__serviceUri": uri, conn + "__tenantId": guid2, conn + "__clientCertificatePath": "/x.pem"}, [][]string{{conn + "__clientId", "is missing: a client secret or certificate"}}},
		{"password without path", map[string]string{conn + "__serviceUri": uri, conn + "__clientCertificatePassword": "TOPSECRET"}, [][]string{{conn + "__clientCertificatePassword", "without " + conn + "__clientCertificatePath"}}},
		{"bad thumbprint", map[string]string{conn + "__serviceUri": uri, conn + "__tenantId": guid2, conn + "__clientId": guid1, conn + "__clientCertificate": "xyz"}, [][]string{{conn + "__clientCertificate", `"xyz" is not a certificate thumbprint`}}},
		{"unknown type", map[string]string{conn + "__serviceUri": uri, conn + "__type": "tertiary"}, [][]string{{conn + "__type", `invalid endpoint type "tertiary"`, "primary and secondary"}}},
		{"workload identity incomplete", map[string]string{conn + "__serviceUri": uri, conn + "__credential": "workloadidentity", conn + "__clientId": guid1},
			[][]string{{conn + "__tenantId", "AZURE_TENANT_ID is not set either"}, {conn + "__tokenFilePath", "AZURE_FEDERATED_TOKEN_FILE is not set either"}}},
		{"authority host not https", map[string]string{conn + "__serviceUri": uri, conn + "__authorityHost": "http://login.example.com"}, [][]string{{conn + "__authorityHost", `"http://login.example.com" is not an https URL`, "login.chinacloudapi.cn"}}},
		{"password in an authority host", map[string]string{conn + "__serviceUri": uri, conn + "__authorityHost": "http://user:TOPSECRET@login.example.com"}, [][]string{{conn + "__authorityHost", `"http://user:xxxxx@login.example.com" is not an https URL`}}},
		{"bad scope", map[string]string{conn + "__serviceUri": uri, conn + "__scope": "https://signalr.azure.com"}, [][]string{{conn + "__scope", "invalid scope", "/.default"}}},
		{"two spellings disagree", map[string]string{conn + "__serviceUri": uri, conn + ":serviceUri": "https://b.example.com"}, [][]string{{conn + ":serviceUri", "is set twice with different values, also as " + conn + "__serviceUri", "Keep one spelling"}}},
		{"missing certificate file", map[string]string{conn + "__serviceUri": uri, conn + "__tenantId": guid2, conn + "__clientId": guid1, conn + "__clientCertificatePath": "/nonexistent.pem"},
			[][]string{{conn + "__clientCertificatePath", `cannot read the certificate file "/nonexistent.pem": no such file`}}},
		{"PFX with AES encryption", map[string]string{conn + "__serviceUri": uri, conn + "__tenantId": guid2, conn + "__clientId": guid1, conn + "__clientCertificatePath": "testdata/aes.pfx", conn + "__clientCertificatePassword": "test-password"},
			[][]string{{conn + "__clientCertificatePath", `"testdata/aes.pfx" holds no usable certificate`, "openssl pkcs12 -export -legacy", "openssl pkcs12 -in"}}},
		{"connection string duplicate key", map[string]string{conn: "Endpoint=" + uri + ";AccessKey=TOPSECRET;accesskey=TOPSECRET"}, [][]string{{conn, "key AccessKey appears twice"}}},
		{"connection string part without =", map[string]string{conn: "Endpoint=" + uri + ";TOPSECRET"}, [][]string{{conn, "part 2 is not key=value"}}},
		{"connection string without key or AuthType", map[string]string{conn: "Endpoint=" + uri}, [][]string{{conn, "neither AccessKey nor AuthType", "AuthType=azure.msi"}}},
		{"connection string without Endpoint", map[string]string{conn: "AccessKey=TOPSECRET"}, [][]string{{conn, "has no Endpoint"}}},
		{"invalid AuthType", map[string]string{conn: "Endpoint=" + uri + ";AuthType=msi"}, [][]string{{conn + " (AuthType)", `invalid AuthType "msi"`, "azure.msi (managed identity)"}}},
		{"azure.app without secret", map[string]string{conn: "Endpoint=" + uri + ";AuthType=azure.app;ClientId=" + guid1 + ";TenantId=" + guid2}, [][]string{{conn, "needs ClientSecret or ClientCert"}}},
		{"aad with tenant without secret", map[string]string{conn: "Endpoint=" + uri + ";AuthType=aad;ClientId=" + guid1 + ";TenantId=" + guid2}, [][]string{{conn, "AuthType=aad with TenantId needs ClientSecret or ClientCert"}}},
		{"azure.app without tenant", map[string]string{conn: "Endpoint=" + uri + ";AuthType=azure.app;ClientId=" + guid1 + ";ClientSecret=TOPSECRET"}, [][]string{{conn + " (TenantId)", "is missing"}}},
		{"bad port and version", map[string]string{conn: "Endpoint=" + uri + ";AccessKey=TOPSECRET;Port=99999;Version=2.0"},
			[][]string{{conn + " (Port)", `invalid port "99999"`}, {conn + " (Version)", `unsupported version "2.0"`}}},
		{"every endpoint secondary", map[string]string{"Azure__SignalR__Endpoints__a__secondary": "Endpoint=https://a.example.com;AccessKey=TOPSECRET", conn + "__serviceUri": uri, conn + "__type": "secondary"},
			[][]string{{conn, "every endpoint is secondary (" + conn + ", Azure__SignalR__Endpoints__a__secondary)", "C# extension refuses this too"}}},
		{"handler settings too, all at once", map[string]string{"SIGNALR_NEGOTIATE": "maybe", "SIGNALR_HUBS": "chat,9lives", "SIGNALR_TOKEN_LIFETIME": "48h"},
			[][]string{{"SIGNALR_NEGOTIATE", `invalid value "maybe"`, "auto"}, {"SIGNALR_HUBS", `invalid hub name "9lives"`}, {"SIGNALR_TOKEN_LIFETIME", "out of range", "from 1m to 24h"}, {conn, "no SignalR Service connection found"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t, tt.env)
			_, err := Load(&LoadOptions{CertificateDir: dir})
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if strings.Contains(err.Error(), "TOPSECRET") {
				t.Errorf("error shows a secret: %v", err)
			}
			var got [][]string
			for _, se := range settingErrors(err) {
				got = append(got, []string{se.Setting})
			}
			var want [][]string
			for i, w := range tt.want {
				want = append(want, w[:1])
				for _, part := range w[1:] {
					if !strings.Contains(err.Error(), part) {
						t.Errorf("problem %d: error lacks %q:\n%v", i, part, err)
					}
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("settings named by the problems (-want +got):\n%s\n%v", diff, err)
			}
		})
	}
}
