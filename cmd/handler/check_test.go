package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/signalr-entra/handler/settings"
)

// checkEnv runs in an empty working directory with only env set among the
// variables the settings read.
func checkEnv(t *testing.T, env map[string]string, localSettings string) {
	t.Helper()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		n := strings.ToLower(name)
		for _, p := range []string{"azure", "signalr_", "identity_", "msi_", "imds_", "functions_", "connectionstrings"} {
			if strings.HasPrefix(n, p) || strings.Contains(n, "connstr_") {
				t.Setenv(name, "")
				os.Unsetenv(name)
			}
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	dir := t.TempDir()
	if localSettings != "" {
		if err := os.WriteFile(filepath.Join(dir, "local.settings.json"), []byte(localSettings), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
}

func TestCheckOfflineReport(t *testing.T) {
	checkEnv(t, map[string]string{
		"AzureSignalRConnectionString__serviceUri":       "https://a.service.signalr.net",
		"AzureSignalRConnectionString__credential":       "managedidentity",
		"AzureSignalRConnectionString__clientId":         "11111111-1111-1111-1111-111111111111",
		"Azure__SignalR__Endpoints__east":                "Endpoint=https://east.service.signalr.net;AccessKey=TOPSECRET1;Version=1.0;",
		"Azure__SignalR__Endpoints__west__type":          "secondary",
		"Azure__SignalR__Endpoints__west__tenantId":      "22222222-2222-2222-2222-222222222222",
		"Azure__SignalR__Endpoints__west__clientId":      "my-app",
		"Azure__SignalR__Endpoints__west__authorityHost": "https://login.chinacloudapi.cn/",
	}, `{"Values": {"Azure:SignalR:Endpoints:west:serviceUri": "https://west.signalr.azure.cn",
		"Azure:SignalR:Endpoints:west:clientSecret": "TOPSECRET2",
		"AzureSignalRConnectionString:serviceUri": "https://overridden.example.com"}}`)
	var stdout, stderr bytes.Buffer
	if code := runCheck([]string{"-offline"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"local.settings.json (2 values set: Azure:SignalR:Endpoints:west:clientSecret, Azure:SignalR:Endpoints:west:serviceUri; 0 empty; 0 \"#\" comments skipped)\n",
		"hubs served: default (SIGNALR_HUBS is unset; requests that name none get default)\n",
		"endpoint (named connection) from AzureSignalRConnectionString\n  service URI:     https://a.service.signalr.net\n  type:            primary\n",
		"  credential:      ManagedIdentityCredential\n  identity:        user-assigned managed identity with client id 11111111-1111-1111-1111-111111111111\n",
		"endpoint east from Azure__SignalR__Endpoints__east\n  service URI:     https://east.service.signalr.net\n",
		"  credential:      AccessKey\n",
		"endpoint west from Azure:SignalR:Endpoints:west\n  service URI:     https://west.signalr.azure.cn\n  type:            secondary\n  scope:           https://signalr.azure.com/.default\n",
		"  credential:      ClientSecretCredential\n  identity:        ClientSecretCredential with client id my-app\n  tenant:          22222222-2222-2222-2222-222222222222\n  authority host:  https://login.chinacloudapi.cn/\n",
		`warning: Azure__SignalR__Endpoints__west__clientId: "my-app" is not a GUID`,
		"offline check passed: 3 endpoint(s), 1 warning(s)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+stderr.String(), "TOPSECRET") {
		t.Errorf("report shows a secret:\n%s", out)
	}
}

// TestCheckOfflineCSharpSettings: settings moved from the C# extension show
// every endpoint they make, its type and the identity picked.
func TestCheckOfflineCSharpSettings(t *testing.T) {
	checkEnv(t, map[string]string{
		"CUSTOMCONNSTR_AzureSignalRConnectionString":               "Endpoint=https://a.service.signalr.net;AuthType=azure.msi;Version=1.0;",
		"AzureSignalRConnectionString":                             "Endpoint=https://ignored.service.signalr.net;AuthType=azure.msi;",
		"Azure__SignalR__Endpoints__east":                          "Endpoint=https://east.service.signalr.net;AccessKey=TOPSECRET1;Version=1.0;",
		"Azure__SignalR__Endpoints__east__secondary":               "Endpoint=https://east2.service.signalr.net;AccessKey=TOPSECRET2;Version=1.0;",
		"Azure__SignalR__Endpoints__west__serviceUri":              "https://west.service.signalr.net",
		"Azure__SignalR__Endpoints__west__credential":              "managedidentity",
		"Azure__SignalR__Endpoints__west__managedIdentityObjectId": "33333333-3333-3333-3333-333333333333",
	}, "")
	var stdout, stderr bytes.Buffer
	if code := runCheck([]string{"-offline"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"endpoint (named connection) from CUSTOMCONNSTR_AzureSignalRConnectionString\n  service URI:     https://a.service.signalr.net\n  type:            primary\n",
		"  identity:        system-assigned managed identity\n",
		"endpoint east from Azure__SignalR__Endpoints__east\n  service URI:     https://east.service.signalr.net\n  type:            primary\n",
		"endpoint east from Azure__SignalR__Endpoints__east__secondary\n  service URI:     https://east2.service.signalr.net\n  type:            secondary\n",
		"endpoint west from Azure__SignalR__Endpoints__west\n",
		"  identity:        user-assigned managed identity with object id 33333333-3333-3333-3333-333333333333\n",
		"warning: AzureSignalRConnectionString is ignored: the connection string in CUSTOMCONNSTR_AzureSignalRConnectionString comes first",
		"offline check passed: 4 endpoint(s), 1 warning(s)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+stderr.String(), "TOPSECRET") {
		t.Errorf("report shows a secret:\n%s", out)
	}
}

func TestCheckJSONAndErrors(t *testing.T) {
	checkEnv(t, map[string]string{
		"AzureSignalRConnectionString":              "Endpoint=http://a.example.com;AuthType=azure.app;ClientId=c;ClientSecret=TOPSECRET",
		"Azure__SignalR__Endpoints__ok__serviceUri": "http://127.0.0.1:8080",
		"SIGNALR_NEGOTIATE":                         "sometimes",
	}, "")
	var stdout, stderr bytes.Buffer
	if code := runCheck([]string{"-json"}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, stdout.String(), stderr.String())
	}
	if strings.Contains(stdout.String()+stderr.String(), "TOPSECRET") {
		t.Errorf("report shows a secret:\n%s", stdout.String())
	}
	var r checkReport
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout.String())
	}
	var settingsNamed []string
	for _, e := range r.Errors {
		name, _, _ := strings.Cut(e, ":")
		settingsNamed = append(settingsNamed, name)
	}
	if diff := cmp.Diff([]string{"SIGNALR_NEGOTIATE", "AzureSignalRConnectionString (Endpoint)", "AzureSignalRConnectionString (TenantId)"}, settingsNamed); diff != "" {
		t.Errorf("errors name (-want +got):\n%s\n%q", diff, r.Errors)
	}
	want := []endpointReport{{Name: "ok", Setting: "Azure__SignalR__Endpoints__ok", ServiceURI: "http://127.0.0.1:8080", Type: "primary",
		Scope: "https://signalr.azure.com/.default", Auth: "DefaultAzureCredential", Credential: "DefaultAzureCredential"}}
	if diff := cmp.Diff(want, r.Endpoints); diff != "" {
		t.Errorf("endpoints (-want +got):\n%s", diff)
	}
	// Online by default, but no network call with unusable settings.
	if r.OK || r.Mode != "online" || len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "no network call was made") {
		t.Errorf("ok=%v mode=%q notes=%q", r.OK, r.Mode, r.Notes)
	}
}

func TestCheckEncryptedLocalSettings(t *testing.T) {
	checkEnv(t, nil, `{"IsEncrypted": true, "Values": {"AzureSignalRConnectionString": "TOPSECRET"}}`)
	var stdout, stderr bytes.Buffer
	if code := runCheck([]string{"-offline"}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if out := stdout.String(); !strings.Contains(out, "local.settings.json is encrypted") || !strings.Contains(out, "local settings: cannot use ") || strings.Contains(out, "TOPSECRET") {
		t.Errorf("report:\n%s", out)
	}
}

func TestCheckUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := runCheck([]string{"-offline", "extra"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), `unexpected argument "extra"`) {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
	// Help asked for is not an error: exit 0, on stdout.
	for _, arg := range []string{"-h", "-help", "--help"} {
		stdout.Reset()
		stderr.Reset()
		if code := runCheck([]string{arg}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "-local-settings") || stderr.Len() != 0 {
			t.Errorf("check %s: exit %d, stdout %q, stderr %q; want 0 and the flags on stdout", arg, code, stdout.String(), stderr.String())
		}
	}
	stdout.Reset()
	stderr.Reset()
	if code := runCheck([]string{"-bogus"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "-local-settings") {
		t.Errorf("check -bogus: exit %d, stderr %q; want 2 and the flags on stderr", code, stderr.String())
	}
}

// TestCheckLocalSettingsExample runs the check over local.settings.json.example
// with only the resource filled in: it must pass without warnings and name
// every setting of the handler.
func TestCheckLocalSettingsExample(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "local.settings.json.example"))
	if err != nil {
		t.Fatal(err)
	}
	example := strings.ReplaceAll(string(data), "https://<name>.service.signalr.net\"", "https://a.service.signalr.net\"")
	checkEnv(t, nil, example)
	var stdout, stderr bytes.Buffer
	if code := runCheck([]string{"-offline", "-json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	var r checkReport
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Warnings) != 0 || len(r.Endpoints) != 1 || r.Endpoints[0].Credential != "DefaultAzureCredential" {
		t.Errorf("warnings %q, endpoints %+v; want one DefaultAzureCredential endpoint and no warning", r.Warnings, r.Endpoints)
	}
	h := reflect.TypeOf(settings.Handler{})
	for i := range h.NumField() {
		name := h.Field(i).Tag.Get("envconfig")
		if !strings.Contains(example, `"`+name) && !strings.Contains(example, `"#`+name) {
			t.Errorf("the example does not name %s", name)
		}
	}
}

// TestCheckCountsLocalSettings: the values that hold something are counted
// and named apart from empty keys and "#" comments, and the hubs served are
// listed, beside the warning for a misspelled SIGNALR_HUBS.
func TestCheckCountsLocalSettings(t *testing.T) {
	checkEnv(t, nil, `{"Values": {
		"AzureSignalRConnectionString:serviceUri": "https://a.service.signalr.net",
		"AzureSignalRConnectionString:clientId": "",
		"AzureSignalRConnectionString:tenantId": "",
		"#AzureSignalRConnectionString (a connection string)": "Endpoint=https://<name>.service.signalr.net;AuthType=azure;Version=1.0;",
		"#SIGNALR_CLAIM_TYPES": "",
		"SIGNALR_HUB": "chat"}}`)
	var stdout, stderr bytes.Buffer
	if code := runCheck([]string{"-offline"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"local.settings.json (2 values set: AzureSignalRConnectionString:serviceUri, SIGNALR_HUB; 2 empty; 2 \"#\" comments skipped)\n",
		"hubs served: default (SIGNALR_HUBS is unset; requests that name none get default)\n",
		"warning: SIGNALR_HUB is ignored: the handler reads no setting of that name; did you mean SIGNALR_HUBS?\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}

	checkEnv(t, map[string]string{"AzureSignalRConnectionString__serviceUri": "https://a.service.signalr.net", "SIGNALR_HUBS": "chat, news"}, "")
	stdout.Reset()
	if code := runCheck([]string{"-offline", "-json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	var r checkReport
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"chat", "news"}, r.Hubs); d != "" || !r.HubsSet {
		t.Errorf("hubs (-want +got):\n%s (set %v)", d, r.HubsSet)
	}
}
