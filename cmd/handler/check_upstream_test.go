package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/signalr-entra/handler/emulator"
)

const (
	upstreamTenant   = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	upstreamIdentity = "3c5f2a1e-8d7b-4e6f-9a0b-1c2d3e4f5a6b"
)

// newOpenIDServer serves a tenant's v1 OpenID configuration and one key
// over TLS, as Entra ID does.
func newOpenIDServer(t *testing.T) *httptest.Server {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("GET /"+upstreamTenant+"/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": "https://sts.windows.net/" + upstreamTenant + "/", "jwks_uri": srv.URL + "/common/discovery/keys"})
	})
	mux.HandleFunc("GET /common/discovery/keys", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{"kty": "RSA", "use": "sig", "kid": "k1",
			"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()), "e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes())}}})
	})
	srv = httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestCheckUpstreamOffline(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		wantCode int
		want     upstreamReport
		wantText string
	}{{
		name:     "nothing configured: every request refused",
		env:      map[string]string{"AzureSignalRConnectionString__serviceUri": "https://a.service.signalr.net", "AzureSignalRConnectionString__credential": "managedidentity"},
		want:     upstreamReport{Refused: true, Checks: []string{}, OK: true, Detail: upstreamRefusedNote},
		wantText: "  note: the upstream function refuses every request: set SIGNALR_UPSTREAM_AUDIENCE",
	}, {
		name:     "access keys sign",
		env:      map[string]string{"AzureSignalRConnectionString": "Endpoint=https://a.service.signalr.net;AccessKey=TOPSECRET1;Version=1.0;", "Azure__SignalR__Endpoints__b": "Endpoint=https://b.service.signalr.net;AccessKey=TOPSECRET2;Version=1.0;"},
		want:     upstreamReport{Checks: []string{"signature"}, AccessKeys: 2, OK: true},
		wantText: "  requests need:   X-ASRS-Signature against 2 access key(s)\n",
	}, {
		name: "token",
		env: map[string]string{"AzureSignalRConnectionString__serviceUri": "https://a.service.signalr.net", "AzureSignalRConnectionString__credential": "managedidentity",
			"SIGNALR_UPSTREAM_AUDIENCE": "api://upstream", "SIGNALR_UPSTREAM_TENANT": upstreamTenant, "SIGNALR_UPSTREAM_IDENTITY": "3c5f2a1e-8d7b-4e6f-9a0b-1c2d3e4f5a6b"},
		want:     upstreamReport{Checks: []string{"token"}, Audience: "api://upstream", Tenant: upstreamTenant, Identity: "3c5f2a1e-8d7b-4e6f-9a0b-1c2d3e4f5a6b", OK: true},
		wantText: "  requests need:   bearer token for api://upstream\n  tenant:          " + upstreamTenant + "\n",
	}, {
		name:     "audience without tenant",
		env:      map[string]string{"AzureSignalRConnectionString__serviceUri": "https://a.service.signalr.net", "SIGNALR_UPSTREAM_AUDIENCE": "api://upstream"},
		wantCode: 1,
		want:     upstreamReport{Checks: []string{}, Audience: "api://upstream", Detail: "SIGNALR_UPSTREAM_TENANT is not set: with SIGNALR_UPSTREAM_AUDIENCE, set it to the tenant id of the SignalR resource's identity"},
		wantText: "error: SIGNALR_UPSTREAM_TENANT is not set",
	}, {
		name: "audience without identity",
		env: map[string]string{"AzureSignalRConnectionString__serviceUri": "https://a.service.signalr.net",
			"SIGNALR_UPSTREAM_AUDIENCE": "api://upstream", "SIGNALR_UPSTREAM_TENANT": upstreamTenant},
		wantCode: 1,
		want: upstreamReport{Checks: []string{}, Audience: "api://upstream", Tenant: upstreamTenant,
			Detail: "SIGNALR_UPSTREAM_IDENTITY is not set: with SIGNALR_UPSTREAM_AUDIENCE alone any app of the tenant could get a token that passes. " +
				"Set it to the object id of the SignalR resource's managed identity, the principalId of `az signalr identity show -g <group> -n <signalr name> --query principalId -o tsv` " +
				"(for a user-assigned identity, `az identity show -g <group> -n <identity name> --query principalId -o tsv`)"},
		wantText: "error: SIGNALR_UPSTREAM_IDENTITY is not set",
	}, {
		name:     "identity without audience",
		env:      map[string]string{"AzureSignalRConnectionString__serviceUri": "https://a.service.signalr.net", "SIGNALR_UPSTREAM_IDENTITY": "x"},
		wantCode: 1,
		want:     upstreamReport{Checks: []string{}, Identity: "x", Detail: "SIGNALR_UPSTREAM_IDENTITY and SIGNALR_UPSTREAM_TENANT take effect only with SIGNALR_UPSTREAM_AUDIENCE: set it to the resource of the upstream rule's ManagedIdentity auth"},
		wantText: "error: SIGNALR_UPSTREAM_IDENTITY and SIGNALR_UPSTREAM_TENANT take effect only",
	}, {
		name: "plain http authority elsewhere than loopback",
		env: map[string]string{"AzureSignalRConnectionString__serviceUri": "https://a.service.signalr.net",
			"SIGNALR_UPSTREAM_AUDIENCE": "api://upstream", "SIGNALR_UPSTREAM_TENANT": upstreamTenant, "AZURE_AUTHORITY_HOST": "http://login.example.com/"},
		wantCode: 1,
		want: upstreamReport{Checks: []string{}, Audience: "api://upstream", Tenant: upstreamTenant,
			Detail: `invalid AZURE_AUTHORITY_HOST value "http://login.example.com/": use the https URL of the cloud's Entra ID, such as https://login.microsoftonline.com/`},
		wantText: `error: invalid AZURE_AUTHORITY_HOST value "http://login.example.com/"`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkEnv(t, tt.env, "")
			var stdout, stderr bytes.Buffer
			if code := runCheck([]string{"-offline"}, &stdout, &stderr); code != tt.wantCode {
				t.Errorf("exit %d, want %d\n%s%s", code, tt.wantCode, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantText) {
				t.Errorf("report lacks %q:\n%s", tt.wantText, stdout.String())
			}
			if strings.Contains(stdout.String(), "TOPSECRET") {
				t.Error("the report shows an access key")
			}
			stdout.Reset()
			runCheck([]string{"-offline", "-json"}, &stdout, &stderr)
			var r checkReport
			if err := json.Unmarshal(stdout.Bytes(), &r); err != nil || r.Upstream == nil {
				t.Fatalf("no upstream in the JSON report (%v):\n%s", err, stdout.String())
			}
			if diff := cmp.Diff(tt.want, *r.Upstream); diff != "" {
				t.Errorf("upstream report (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckUpstreamOnline(t *testing.T) {
	openID := newOpenIDServer(t)
	srv, err := emulator.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	run := func(t *testing.T, wantCode int) (checkReport, string) {
		t.Helper()
		checkEnv(t, map[string]string{
			"AzureSignalRConnectionString": srv.ConnectionString(),
			"SIGNALR_UPSTREAM_AUDIENCE":    "api://upstream", "SIGNALR_UPSTREAM_TENANT": upstreamTenant,
			"SIGNALR_UPSTREAM_IDENTITY": upstreamIdentity, "AZURE_AUTHORITY_HOST": openID.URL,
		}, "")
		opts := &checkOptions{Transport: srv.Client(), HTTPClient: srv.Client(), OpenIDClient: openID.Client()}
		var stdout, stderr bytes.Buffer
		if code := runCheckWith(nil, &stdout, &stderr, opts); code != wantCode {
			t.Errorf("exit %d, want %d\n%s%s", code, wantCode, stdout.String(), stderr.String())
		}
		text := stdout.String()
		stdout.Reset()
		runCheckWith([]string{"-json"}, &stdout, &stderr, opts)
		var r checkReport
		if err := json.Unmarshal(stdout.Bytes(), &r); err != nil || r.Upstream == nil {
			t.Fatalf("no upstream in the JSON report (%v):\n%s", err, stdout.String())
		}
		return r, text
	}
	t.Run("configuration read", func(t *testing.T) {
		r, text := run(t, 0)
		want := upstreamReport{Checks: []string{"signature", "token"}, AccessKeys: 1, Audience: "api://upstream", Tenant: upstreamTenant, Identity: upstreamIdentity,
			OpenIDConfiguration: openID.URL + "/" + upstreamTenant + "/.well-known/openid-configuration",
			Issuers:             []string{"https://sts.windows.net/" + upstreamTenant + "/"}, KeyIDs: []string{"k1"}, OK: true}
		if diff := cmp.Diff(want, *r.Upstream); diff != "" {
			t.Errorf("upstream report (-want +got):\n%s", diff)
		}
		if !strings.Contains(text, "  ok   openid config   "+want.OpenIDConfiguration+": issuer https://sts.windows.net/"+upstreamTenant+"/, 1 signing key(s)\n") {
			t.Errorf("report lacks the OpenID configuration line:\n%s", text)
		}
	})
	t.Run("authority unreachable", func(t *testing.T) {
		openID.Close()
		r, text := run(t, 1)
		if r.Upstream.OK || !strings.Contains(r.Upstream.Detail, "every upstream token would be refused") {
			t.Errorf("upstream = %+v, want a failure", *r.Upstream)
		}
		if !strings.Contains(text, "  FAIL the OpenID configuration could not be read") || !strings.Contains(text, "online check failed: 1 function(s) cannot work") {
			t.Errorf("report:\n%s", text)
		}
	})
}

// TestCheckUpstreamNotDeployed: the note that upstream requests would be
// refused is for apps that deploy the upstream function; an app root
// without one says so instead.
func TestCheckUpstreamNotDeployed(t *testing.T) {
	for _, deployed := range []bool{false, true} {
		checkEnv(t, map[string]string{"AzureSignalRConnectionString__serviceUri": "https://a.service.signalr.net", "AzureSignalRConnectionString__credential": "managedidentity"}, "{}")
		functions := []string{"negotiate", "messages"}
		if deployed {
			functions = append(functions, "upstream")
		}
		writeAppRoot(t, ".", functions...)
		var stdout, stderr bytes.Buffer
		if code := runCheck([]string{"-offline"}, &stdout, &stderr); code != 0 {
			t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
		}
		out := stdout.String()
		note := strings.Contains(out, "note: the upstream function refuses every request")
		notDeployed := strings.Contains(out, "  function:        not deployed: ")
		if note != deployed || notDeployed == deployed {
			t.Errorf("upstream function deployed %v: note %v, not deployed %v\n%s", deployed, note, notDeployed, out)
		}
	}
}

// writeAppRoot writes host.json and a function.json per function under dir.
func writeAppRoot(t *testing.T, dir string, functions ...string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "host.json"), []byte(`{"version": "2.0"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range functions {
		if err := os.MkdirAll(filepath.Join(dir, f), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f, "function.json"), []byte(`{"bindings": []}`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
