package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/signalr-entra/handler/emulator"
	"github.com/signalr-entra/handler/settings"
)

// otherTenant is a tenant that is not the stand-in resource's.
const otherTenant = "0e0e0000-0000-4000-8000-0000000000b2"

// onlineCase is one identity set-up checked against a fresh stand-in.
type onlineCase struct {
	name string
	opts *emulator.Options
	// setup adds principals and returns the app settings and the
	// principal the token should name (nil when no token is expected).
	setup    func(t *testing.T, srv *emulator.Server) (map[string]string, *principalReport)
	args     []string
	wantCode int
	// wantChecks is every check's name and outcome, in order.
	wantChecks []string
	// wantFunctions is "negotiate messages groups", each ok or FAIL.
	wantFunctions string
	// wantHow is in the negotiate function's how, when it works.
	wantHow string
	// wantFix are in the fixes of the JSON report, {oid} replaced by the
	// principal's object id and {app} by its app id.
	wantFix []string
	// wantText are in the human report.
	wantText []string
	// noIdentityEndpoint leaves IDENTITY_ENDPOINT unset, as on a
	// developer's machine; only with AZURE_TOKEN_CREDENTIALS=dev.
	noIdentityEndpoint bool
}

// appRegistration registers an app with the secret TOPSECRET-APP in the
// stand-in's tenant and returns settings for it with the keys of keys.
func appRegistration(keys func(*emulator.Server, emulator.Principal) map[string]string) func(t *testing.T, srv *emulator.Server) (map[string]string, *principalReport) {
	return func(t *testing.T, srv *emulator.Server) (map[string]string, *principalReport) {
		app, err := srv.AddApplication(emulator.App{ClientID: "a5a50000-0000-4000-8000-0000000000a5", Secret: "TOPSECRET-APP", Roles: []emulator.Role{emulator.ServiceOwner}})
		if err != nil {
			t.Fatal(err)
		}
		env := keys(srv, app)
		env["AzureSignalRConnectionString__serviceUri"] = srv.URL
		env["AzureSignalRConnectionString__authorityHost"] = srv.AuthorityURL
		return env, nil
	}
}

// userIdentity returns settings for a user-assigned managed identity
// holding roles. Each gets fresh ids: the managed identity token cache is
// process-wide.
func userIdentity(roles ...emulator.Role) func(t *testing.T, srv *emulator.Server) (map[string]string, *principalReport) {
	return func(t *testing.T, srv *emulator.Server) (map[string]string, *principalReport) {
		u, err := srv.AddUserIdentity(emulator.UserIdentity{Roles: roles})
		if err != nil {
			t.Fatal(err)
		}
		return map[string]string{
				"AzureSignalRConnectionString__serviceUri": srv.URL,
				"AzureSignalRConnectionString__credential": "managedidentity",
				"AzureSignalRConnectionString__clientId":   u.ClientID,
			},
			&principalReport{TenantID: srv.TenantID, ObjectID: u.ObjectID, AppID: u.ClientID, Type: "app"}
	}
}

func TestCheckOnline(t *testing.T) {
	allEntraOK := []string{"token ok", "health ok", "authApi ok", "restRead ok", "generateToken ok", "restWrite ok", "roles ok"}
	tests := []onlineCase{{
		name:          "service owner",
		setup:         userIdentity(emulator.ServiceOwner),
		wantChecks:    allEntraOK,
		wantFunctions: "ok ok ok",
		wantHow:       "signs client tokens locally with the temporary key",
		wantText:      []string{"  negotiate:       works: signs client tokens locally", "  manage:          works: REST API with the Entra token; closeConnection needs", "invoke SignalR REST API Owner or SignalR Service Owner (clientConnection/send)", "online check passed: 1 endpoint(s)"},
	}, {
		name:          "app server only",
		setup:         userIdentity(emulator.AppServer),
		wantCode:      1,
		wantChecks:    []string{"token ok", "health ok", "authApi ok", "restRead FAIL", "generateToken FAIL", "restWrite FAIL", "roles FAIL"},
		wantFunctions: "ok FAIL FAIL",
		wantHow:       "signs client tokens locally",
		wantFix: []string{
			`az role assignment create --assignee-object-id {oid} --assignee-principal-type ServicePrincipal --role "SignalR REST API Owner" --scope "$(az signalr show -n <name> -g <resource-group> --query id -o tsv)"`,
			"up to 30 minutes",
		},
		wantText: []string{
			"  messages:        CANNOT WORK: sending needs a REST write permission (SignalR REST API Owner or SignalR Service Owner)",
			"  FAIL roles           the identity may sign client tokens but not write through the REST API",
			"  manage:          CANNOT WORK: its actions need REST reads and writes: closeConnection needs SignalR App Server, SignalR REST API Owner or SignalR Service Owner",
			"online check failed: 3 function(s) cannot work",
		},
	}, {
		name:          "REST API owner only",
		setup:         userIdentity(emulator.RESTAPIOwner),
		wantChecks:    []string{"token ok", "health ok", "authApi FAIL", "restRead ok", "generateToken ok", "restWrite ok", "roles ok"},
		wantFunctions: "ok ok ok",
		wantHow:       "the auth API refused the identity, so the service signs client tokens (:generateToken, SIGNALR_NEGOTIATE=auto)",
		wantText:      []string{"not needed: negotiate lets the service sign client tokens", "online check passed"},
	}, {
		name: "REST API owner only with local signing",
		setup: func(t *testing.T, srv *emulator.Server) (map[string]string, *principalReport) {
			env, p := userIdentity(emulator.RESTAPIOwner)(t, srv)
			env["SIGNALR_NEGOTIATE"] = "local"
			return env, p
		},
		wantCode:      1,
		wantChecks:    []string{"token ok", "health ok", "authApi FAIL", "restRead ok", "generateToken ok", "restWrite ok", "roles FAIL"},
		wantFunctions: "FAIL ok ok",
		wantFix:       []string{"Set SIGNALR_NEGOTIATE=auto to let the service sign client tokens, or:\nAssign the identity \"SignalR App Server\"", `--assignee-object-id {oid} --assignee-principal-type ServicePrincipal --role "SignalR App Server"`},
		wantText:      []string{"CANNOT WORK: SIGNALR_NEGOTIATE=local needs the auth API"},
	}, {
		name:          "REST API reader only",
		setup:         userIdentity(emulator.RESTAPIReader),
		wantCode:      1,
		wantChecks:    []string{"token ok", "health ok", "authApi FAIL", "restRead ok", "generateToken FAIL", "restWrite FAIL", "roles FAIL"},
		wantFunctions: "FAIL FAIL FAIL",
		wantFix:       []string{`--assignee-object-id {oid} --assignee-principal-type ServicePrincipal --role "SignalR Service Owner"`, "up to 30 minutes"},
		wantText:      []string{"online check failed: 4 function(s) cannot work"},
	}, {
		name:          "no role",
		setup:         userIdentity(),
		wantCode:      1,
		wantChecks:    []string{"token ok", "health ok", "authApi FAIL", "restRead FAIL", "generateToken FAIL", "restWrite FAIL", "roles FAIL"},
		wantFunctions: "FAIL FAIL FAIL",
		wantFix:       []string{`--assignee-object-id {oid} --assignee-principal-type ServicePrincipal --role "SignalR Service Owner"`},
		wantText:      []string{"403 Forbidden: the identity lacks a role that allows this (SignalR App Server or SignalR Service Owner)"},
	}, {
		name: "user-assigned identity named by its object id",
		setup: func(t *testing.T, srv *emulator.Server) (map[string]string, *principalReport) {
			u, err := srv.AddUserIdentity(emulator.UserIdentity{Roles: []emulator.Role{emulator.ServiceOwner}})
			if err != nil {
				t.Fatal(err)
			}
			return map[string]string{
				"AzureSignalRConnectionString__serviceUri": srv.URL,
				"AzureSignalRConnectionString__credential": "managedidentity",
				"AzureSignalRConnectionString__clientId":   u.ObjectID,
			}, nil
		},
		wantCode:      1,
		wantChecks:    []string{"token FAIL", "health ok"},
		wantFunctions: "FAIL FAIL FAIL",
		wantFix: []string{
			"both GUIDs: AzureSignalRConnectionString__clientId takes the client id, not the object id",
			"az identity show -n <identity> -g <resource-group> --query clientId -o tsv",
		},
		wantText: []string{"RESPONSE 400", "CANNOT WORK: no Microsoft Entra ID token"},
	}, {
		name: "user-assigned identity by a resource id not assigned to the app",
		setup: func(t *testing.T, srv *emulator.Server) (map[string]string, *principalReport) {
			return map[string]string{
				"AzureSignalRConnectionString__serviceUri":                srv.URL,
				"AzureSignalRConnectionString__credential":                "managedidentity",
				"AzureSignalRConnectionString__managedIdentityResourceId": "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/missing",
			}, nil
		},
		wantCode:      1,
		wantChecks:    []string{"token FAIL", "health ok"},
		wantFunctions: "FAIL FAIL FAIL",
		wantFix: []string{
			`No identity with resource id "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/missing" is assigned to this app`,
			"az functionapp identity assign -n <app> -g <resource-group> --identities <resource id>",
		},
		wantText: []string{"CANNOT WORK: no Microsoft Entra ID token"},
	}, {
		name: "app of another tenant",
		setup: func(t *testing.T, srv *emulator.Server) (map[string]string, *principalReport) {
			// Registered and holding the role only in its home tenant, not
			// provisioned in the resource's.
			app, err := srv.AddApplication(emulator.App{TenantID: otherTenant, ClientID: "a0a00000-0000-4000-8000-00000000000a", Secret: "TOPSECRET-APP", Roles: []emulator.Role{emulator.ServiceOwner}})
			if err != nil {
				t.Fatal(err)
			}
			return map[string]string{
				"AzureSignalRConnectionString__serviceUri":    srv.URL,
				"AzureSignalRConnectionString__tenantId":      otherTenant,
				"AzureSignalRConnectionString__clientId":      app.ClientID,
				"AzureSignalRConnectionString__clientSecret":  "TOPSECRET-APP",
				"AzureSignalRConnectionString__authorityHost": srv.AuthorityURL,
			}, &principalReport{TenantID: otherTenant, ObjectID: app.ObjectID, AppID: app.ClientID, Type: "app"}
		},
		wantCode:      1,
		wantChecks:    []string{"token ok", "health ok", "authApi FAIL", "restRead FAIL", "generateToken FAIL", "restWrite FAIL", "tenant FAIL"},
		wantFunctions: "FAIL FAIL FAIL",
		wantFix: []string{
			"az ad sp create --id {app}",
			"Set AzureSignalRConnectionString__tenantId (TenantId= in a connection string) to the resource's tenant id",
			"AzureSignalRConnectionString__additionallyAllowedTenants",
			"az ad sp show --id {app} --query id -o tsv",
		},
		wantText: []string{"the service answered 401 to the token from tenant " + otherTenant, "CANNOT WORK: the service did not accept the token (401)"},
	}, {
		name: "local auth disabled with an access key",
		opts: &emulator.Options{LocalAuthDisabled: true},
		setup: func(t *testing.T, srv *emulator.Server) (map[string]string, *principalReport) {
			return map[string]string{"Azure__SignalR__Endpoints__east": srv.ConnectionString()}, nil
		},
		wantCode:      1,
		wantChecks:    []string{"health ok", "restRead FAIL"},
		wantFunctions: "FAIL FAIL FAIL",
		wantFix: []string{
			"Azure__SignalR__Endpoints__east__serviceUri = http://127.0.0.1:",
			"Azure__SignalR__Endpoints__east__credential = managedidentity",
			`--role "SignalR Service Owner"`,
		},
		// The check reads with HEAD, whose reply has no body to tell why.
		wantText: []string{"401 Unauthorized", "the key is wrong (regenerated, or copied wrong), or local authentication is disabled"},
	}, {
		name: "access key regenerated",
		setup: func(t *testing.T, srv *emulator.Server) (map[string]string, *principalReport) {
			old := srv.ConnectionString()
			srv.SetAccessKey("a-new-key-of-the-resource")
			return map[string]string{"Azure__SignalR__Endpoints__east": old}, nil
		},
		wantCode:      1,
		wantChecks:    []string{"health ok", "restRead FAIL"},
		wantFunctions: "FAIL FAIL FAIL",
		wantFix:       []string{"Azure__SignalR__Endpoints__east__credential = managedidentity"},
		wantText:      []string{"401 Unauthorized", "the key is wrong (regenerated, or copied wrong), or local authentication is disabled"},
	}, {
		name: "EnvironmentCredential wins in DefaultAzureCredential",
		setup: func(t *testing.T, srv *emulator.Server) (map[string]string, *principalReport) {
			app, err := srv.AddApplication(emulator.App{ClientID: "e0e00000-0000-4000-8000-00000000000e", Secret: "TOPSECRET-ENV"})
			if err != nil {
				t.Fatal(err)
			}
			return map[string]string{
				"AzureSignalRConnectionString__serviceUri": srv.URL,
				"AZURE_TENANT_ID":                          srv.TenantID,
				"AZURE_CLIENT_ID":                          app.ClientID,
				"AZURE_CLIENT_SECRET":                      "TOPSECRET-ENV",
				"AZURE_AUTHORITY_HOST":                     srv.AuthorityURL,
			}, &principalReport{TenantID: srv.TenantID, ObjectID: app.ObjectID, AppID: app.ClientID, Type: "app"}
		},
		wantCode:      1,
		wantChecks:    []string{"token ok", "health ok", "authApi FAIL", "restRead FAIL", "generateToken FAIL", "restWrite FAIL", "credential FAIL", "roles FAIL"},
		wantFunctions: "FAIL FAIL FAIL",
		wantFix: []string{
			"set AzureSignalRConnectionString__credential = managedidentity",
			"remove AZURE_CLIENT_SECRET and AZURE_CLIENT_ID",
			`--assignee-object-id {oid} --assignee-principal-type ServicePrincipal --role "SignalR Service Owner"`,
		},
		wantText: []string{"EnvironmentCredential answered inside DefaultAzureCredential: AZURE_CLIENT_SECRET is set and the token's app id is AZURE_CLIENT_ID (e0e00000-0000-4000-8000-00000000000e)"},
	}, {
		name: "EnvironmentCredential fails in DefaultAzureCredential",
		setup: func(t *testing.T, srv *emulator.Server) (map[string]string, *principalReport) {
			return map[string]string{
				"AzureSignalRConnectionString__serviceUri": srv.URL,
				"AZURE_TENANT_ID":                          srv.TenantID,
				"AZURE_CLIENT_ID":                          "e0e00000-0000-4000-8000-0000000000ff",
				"AZURE_CLIENT_SECRET":                      "TOPSECRET-ENV",
				"AZURE_AUTHORITY_HOST":                     srv.AuthorityURL,
			}, nil
		},
		wantCode:      1,
		wantChecks:    []string{"token FAIL", "health ok"},
		wantFunctions: "FAIL FAIL FAIL",
		wantFix: []string{
			"because AZURE_CLIENT_SECRET is set, and that failed, so the managed identity was not tried",
			"set AzureSignalRConnectionString__credential = managedidentity",
			"remove AZURE_CLIENT_SECRET, AZURE_CLIENT_ID and AZURE_TENANT_ID",
		},
		wantText: []string{"CANNOT WORK: no Microsoft Entra ID token"},
	}, {
		name: "app registration with a wrong secret",
		setup: appRegistration(func(srv *emulator.Server, app emulator.Principal) map[string]string {
			return map[string]string{"AzureSignalRConnectionString__tenantId": srv.TenantID, "AzureSignalRConnectionString__clientId": app.ClientID,
				"AzureSignalRConnectionString__clientSecret": "TOPSECRET-WRONG"}
		}),
		wantCode:      1,
		wantChecks:    []string{"token FAIL", "health ok"},
		wantFunctions: "FAIL FAIL FAIL",
		wantFix: []string{
			"Entra ID has no such client secret for app a5a50000-0000-4000-8000-0000000000a5 (AADSTS7000215): AzureSignalRConnectionString__clientSecret holds a wrong secret",
			"az ad app credential reset --id a5a50000-0000-4000-8000-0000000000a5 --append --display-name signalr-handler --query password -o tsv",
		},
	}, {
		name: "app registration unknown in the tenant",
		setup: appRegistration(func(srv *emulator.Server, app emulator.Principal) map[string]string {
			return map[string]string{"AzureSignalRConnectionString__tenantId": srv.TenantID, "AzureSignalRConnectionString__clientId": "a6a60000-0000-4000-8000-0000000000a6",
				"AzureSignalRConnectionString__clientSecret": "TOPSECRET-APP"}
		}),
		wantCode:      1,
		wantChecks:    []string{"token FAIL", "health ok"},
		wantFunctions: "FAIL FAIL FAIL",
		wantFix: []string{
			"has no app with client id a6a60000-0000-4000-8000-0000000000a6 (AADSTS700016). Check AzureSignalRConnectionString__clientId",
			"az ad sp create --id a6a60000-0000-4000-8000-0000000000a6",
		},
	}, {
		name: "app registration in an unknown tenant",
		setup: appRegistration(func(srv *emulator.Server, app emulator.Principal) map[string]string {
			return map[string]string{"AzureSignalRConnectionString__tenantId": "0e0e0000-0000-4000-8000-0000000000c3", "AzureSignalRConnectionString__clientId": app.ClientID,
				"AzureSignalRConnectionString__clientSecret": "TOPSECRET-APP"}
		}),
		wantCode:      1,
		wantChecks:    []string{"token FAIL", "health ok"},
		wantFunctions: "FAIL FAIL FAIL",
		wantFix: []string{
			"Entra ID has no tenant 0e0e0000-0000-4000-8000-0000000000c3 (AADSTS90002). Set AzureSignalRConnectionString__tenantId to the tenant id of the SignalR resource",
			"az account show --query tenantId -o tsv",
		},
	}, {
		name: "DefaultAzureCredential with no one signed in",
		setup: func(t *testing.T, srv *emulator.Server) (map[string]string, *principalReport) {
			// Only the developer tools, and none of them installed.
			return map[string]string{"AzureSignalRConnectionString__serviceUri": srv.URL, "AZURE_TOKEN_CREDENTIALS": "dev", "PATH": t.TempDir()}, nil
		},
		noIdentityEndpoint: true,
		wantCode:           1,
		wantChecks:         []string{"token FAIL", "health ok"},
		wantFunctions:      "FAIL FAIL FAIL",
		wantFix:            []string{"DefaultAzureCredential found no one signed in on this machine", "Install the Azure CLI (https://aka.ms/installazurecli), then sign in", "\n  az login\n"},
	}, {
		name: "DefaultAzureCredential with the Azure CLI signed out",
		setup: func(t *testing.T, srv *emulator.Server) (map[string]string, *principalReport) {
			// What az prints when no one is signed in.
			dir := t.TempDir()
			script := "#!/bin/sh\necho \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1\n"
			if err := os.WriteFile(filepath.Join(dir, "az"), []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			return map[string]string{"AzureSignalRConnectionString__serviceUri": srv.URL, "AzureSignalRConnectionString__tenantId": srv.TenantID,
				"AZURE_TOKEN_CREDENTIALS": "dev", "PATH": dir + ":/bin:/usr/bin"}, nil
		},
		noIdentityEndpoint: true,
		wantCode:           1,
		wantChecks:         []string{"token FAIL", "health ok"},
		wantFunctions:      "FAIL FAIL FAIL",
		wantFix:            []string{"Sign in with the account that holds a SignalR role on the resource:\n  az login --tenant " + emulator.DefaultTenantID + "\n"},
	}, {
		name: "access key",
		setup: func(t *testing.T, srv *emulator.Server) (map[string]string, *principalReport) {
			return map[string]string{"AzureSignalRConnectionString": srv.ConnectionString(), "SIGNALR_HUBS": "chat,news"}, nil
		},
		wantChecks:    []string{"health ok", "restRead ok"},
		wantFunctions: "ok ok ok",
		wantHow:       "signs client tokens with the access key",
		wantText:      []string{"checking hub chat with SIGNALR_NEGOTIATE=auto", "in hub chat)", "online check passed"},
	}, {
		name: "timeout",
		setup: func(t *testing.T, srv *emulator.Server) (map[string]string, *principalReport) {
			// The auth API answers after the check's timeout; every later
			// call fails at once.
			srv.Delay(emulator.AccessKey, time.Minute)
			return userIdentity(emulator.ServiceOwner)(t, srv)
		},
		// The token and health checks before the auth API must end within
		// it even on a loaded machine; it stays under the auth API's own
		// 10 s bound, so that the check's timeout is what cuts the call.
		args:          []string{"-timeout", "3s"},
		wantCode:      1,
		wantChecks:    []string{"token ok", "health ok", "authApi FAIL", "restRead FAIL", "generateToken FAIL", "restWrite FAIL"},
		wantFunctions: "FAIL FAIL FAIL",
		wantText:      []string{"no answer within the check's -timeout (3s)", "CANNOT WORK: the check ran out of time", "online check failed: 4 function(s) cannot work; see the checks above\n"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := emulator.NewServer(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			env, principal := tt.setup(t, srv)
			// Never IMDS: the managed identity endpoint is the stand-in's,
			// or no managed identity is in the chain at all.
			if !tt.noIdentityEndpoint {
				env["IDENTITY_ENDPOINT"], env["IDENTITY_HEADER"] = srv.IdentityEndpoint, srv.IdentityHeader
			} else if env["AZURE_TOKEN_CREDENTIALS"] != "dev" {
				t.Fatal("without the stand-in's identity endpoint, a managed identity would probe IMDS")
			}
			checkEnv(t, env, "")
			secrets := []string{"TOPSECRET", "eyJ", accessKeyOf(t, srv)}

			r, jsonOut := runOnlineJSON(t, srv, tt.args, tt.wantCode)
			if len(r.Endpoints) != 1 {
				t.Fatalf("%d endpoints, want 1", len(r.Endpoints))
			}
			e := r.Endpoints[0]
			var gotChecks []string
			var fixes strings.Builder
			for _, c := range e.Checks {
				gotChecks = append(gotChecks, c.Name+" "+okWord(c.OK))
				fixes.WriteString(c.Fix + "\n")
			}
			if diff := cmp.Diff(tt.wantChecks, gotChecks); diff != "" {
				t.Errorf("checks (-want +got):\n%s\n%s", diff, jsonOut)
			}
			f := e.Functions
			if got := okWord(f.Negotiate.OK) + " " + okWord(f.Messages.OK) + " " + okWord(f.Groups.OK); got != tt.wantFunctions {
				t.Errorf("functions = %q, want %q\n%s", got, tt.wantFunctions, jsonOut)
			}
			if !strings.Contains(f.Negotiate.How, tt.wantHow) {
				t.Errorf("negotiate how = %q, want it to contain %q", f.Negotiate.How, tt.wantHow)
			}
			if diff := cmp.Diff(principal, e.Principal); diff != "" {
				t.Errorf("principal (-want +got):\n%s", diff)
			}
			for _, want := range tt.wantFix {
				if principal != nil {
					want = strings.NewReplacer("{oid}", principal.ObjectID, "{app}", principal.AppID).Replace(want)
				}
				if !strings.Contains(fixes.String(), want) {
					t.Errorf("fixes lack %q:\n%s", want, fixes.String())
				}
			}

			var stdout, stderr bytes.Buffer
			if code := runCheckWith(tt.args, &stdout, &stderr, &checkOptions{Transport: srv.Client(), HTTPClient: srv.Client()}); code != tt.wantCode {
				t.Errorf("human report: exit %d, want %d", code, tt.wantCode)
			}
			text := stdout.String()
			for _, want := range tt.wantText {
				if !strings.Contains(text, want) {
					t.Errorf("report lacks %q:\n%s", want, text)
				}
			}
			for _, out := range []string{text + stderr.String(), jsonOut} {
				for _, s := range secrets {
					if strings.Contains(out, s) {
						t.Errorf("output shows a secret or token (%.6s…):\n%s", s, out)
					}
				}
			}
		})
	}
}

// runOnlineJSON runs the check with -json against the stand-in and decodes
// its report.
func runOnlineJSON(t *testing.T, srv *emulator.Server, args []string, wantCode int) (checkReport, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runCheckWith(append([]string{"-json"}, args...), &stdout, &stderr, &checkOptions{Transport: srv.Client(), HTTPClient: srv.Client()})
	out := stdout.String() + stderr.String()
	if code != wantCode {
		t.Errorf("exit %d, want %d\n%s", code, wantCode, out)
	}
	var r checkReport
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if r.Mode != "online" || r.OK != (wantCode == 0) {
		t.Errorf("mode %q ok %v, want online and %v", r.Mode, r.OK, wantCode == 0)
	}
	return r, out
}

// accessKeyOf is the stand-in's access key, which no output may show.
func accessKeyOf(t *testing.T, srv *emulator.Server) string {
	t.Helper()
	kv, err := settings.ParseConnectionString(srv.ConnectionString())
	if err != nil || kv["accesskey"] == "" {
		t.Fatalf("the stand-in's connection string has no access key: %v", err)
	}
	return kv["accesskey"]
}

func okWord(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAIL"
}

// A plain-http service URI elsewhere than loopback is refused by the
// settings, before any network call.
func TestCheckOnlineRefusesPlainHTTP(t *testing.T) {
	checkEnv(t, map[string]string{
		"AzureSignalRConnectionString__serviceUri": "http://myres.service.signalr.net",
		"AzureSignalRConnectionString__credential": "managedidentity",
		// Were a call made, it would reach nothing but loopback.
		"IDENTITY_ENDPOINT": "http://127.0.0.1:9/msi/token",
		"IDENTITY_HEADER":   "h",
	}, "")
	var stdout, stderr bytes.Buffer
	if code := runCheckWith(nil, &stdout, &stderr, nil); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	out := stdout.String()
	for _, want := range []string{"error: AzureSignalRConnectionString__serviceUri:", "http://myres.service.signalr.net", "Use https", "note: no network call was made"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestCheckBadTimeout(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := runCheckWith([]string{"-timeout", "0s"}, &stdout, &stderr, nil); code != 2 || !strings.Contains(stderr.String(), "invalid -timeout 0s") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}

// Every endpoint is checked, and one that cannot serve fails the check:
// messages go to all of them.
func TestCheckOnlineSeveralEndpoints(t *testing.T) {
	srv, err := emulator.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	u, err := srv.AddUserIdentity(emulator.UserIdentity{Roles: []emulator.Role{emulator.ServiceOwner}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	checkEnv(t, map[string]string{
		"IDENTITY_ENDPOINT":              srv.IdentityEndpoint,
		"IDENTITY_HEADER":                srv.IdentityHeader,
		"Azure__SignalR__Endpoints__key": srv.ConnectionString(),
		// Another name for the same stand-in: one endpoint per service
		// address is used, as in C#.
		"Azure__SignalR__Endpoints__entra__serviceUri": strings.Replace(srv.URL, "127.0.0.1", "localhost", 1),
		"Azure__SignalR__Endpoints__entra__credential": "managedidentity",
		"Azure__SignalR__Endpoints__entra__clientId":   u.ClientID,
		"Azure__SignalR__Endpoints__gone__serviceUri":  closed,
		"Azure__SignalR__Endpoints__gone__credential":  "managedidentity",
		"Azure__SignalR__Endpoints__gone__clientId":    u.ClientID,
	}, "")
	// The timeout is far above what the check needs, so that a loaded
	// machine cannot cut the working endpoints' probes short; the retries
	// of calls to the closed port take about 10 s.
	r, out := runOnlineJSON(t, srv, []string{"-timeout", "60s"}, 1)
	got := map[string]string{}
	for _, e := range r.Endpoints {
		f := e.Functions
		got[e.Name] = okWord(f.Negotiate.OK) + " " + okWord(f.Messages.OK) + " " + okWord(f.Groups.OK) + " " + f.Negotiate.Why
	}
	want := map[string]string{
		"key":   "ok ok ok ",
		"entra": "ok ok ok ",
		"gone":  "FAIL FAIL FAIL the service did not answer its health check: see the health check",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("functions (-want +got):\n%s\n%s", diff, out)
	}
}

// An access key needs no role: a 403 to it comes from a network rule, and
// the report must not speak of a missing role.
func TestCheckOnlineAccessKeyForbidden(t *testing.T) {
	srv, err := emulator.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.Fail(emulator.RESTOther, 1, 403, 0)
	checkEnv(t, map[string]string{"AzureSignalRConnectionString": srv.ConnectionString()}, "")
	r, out := runOnlineJSON(t, srv, nil, 1)
	var got []string
	for _, c := range r.Endpoints[0].Checks {
		got = append(got, c.Name+" "+okWord(c.OK)+": "+c.Detail)
	}
	want := []string{
		"health ok: the service is up",
		"restRead FAIL: 403 Forbidden: this call needs no role (it is signed with the access key, or is the health check), so a network rule of the resource (firewall, private endpoint, public network access disabled) refuses this app; check the resource's Networking settings",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("checks (-want +got):\n%s\n%s", diff, out)
	}
}

// A service URI whose scheme is not the one the server speaks is named as
// such, with the URI to set, in both directions.
func TestCheckOnlineSchemeMismatch(t *testing.T) {
	tests := []struct {
		name string
		// env builds the settings from the stand-in's http service URL
		// and its https authority's host:port.
		env       func(srv *emulator.Server, serviceHost, tlsHost string) map[string]string
		wantCheck string
		wantFix   string
	}{{
		name: "https to a plain http service",
		env: func(srv *emulator.Server, serviceHost, _ string) map[string]string {
			u, err := srv.AddUserIdentity(emulator.UserIdentity{Roles: []emulator.Role{emulator.ServiceOwner}})
			if err != nil {
				t.Fatal(err)
			}
			return map[string]string{
				"AzureSignalRConnectionString__serviceUri": "https://" + serviceHost,
				"AzureSignalRConnectionString__credential": "managedidentity",
				"AzureSignalRConnectionString__clientId":   u.ClientID,
			}
		},
		wantCheck: "the service at {service} answers plain http, not https",
		wantFix:   "set AzureSignalRConnectionString__serviceUri (Endpoint= in a connection string) to http://{service}",
	}, {
		name: "http to an https service",
		env: func(srv *emulator.Server, _, tlsHost string) map[string]string {
			host, port, _ := net.SplitHostPort(tlsHost)
			return map[string]string{"Azure__SignalR__Endpoints__east": "Endpoint=http://" + host + ";Port=" + port + ";AccessKey=" + accessKeyOf(t, srv) + ";Version=1.0;"}
		},
		wantCheck: "the service at {tls} speaks https (TLS), not plain http",
		wantFix:   "Set Azure__SignalR__Endpoints__east__serviceUri (Endpoint= in a connection string) to https://{tls}",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := emulator.NewServer(nil)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			serviceHost := strings.TrimPrefix(srv.URL, "http://")
			tlsHost := strings.TrimSuffix(strings.TrimPrefix(srv.AuthorityURL, "https://"), "/")
			env := tt.env(srv, serviceHost, tlsHost)
			env["IDENTITY_ENDPOINT"], env["IDENTITY_HEADER"] = srv.IdentityEndpoint, srv.IdentityHeader
			checkEnv(t, env, "")
			// The scheme check must come from the health check's answer:
			// a timeout a loaded machine could reach before it (once 2 s)
			// would leave none.
			r, out := runOnlineJSON(t, srv, []string{"-timeout", "60s"}, 1)
			rep := strings.NewReplacer("{service}", serviceHost, "{tls}", tlsHost)
			var scheme *checkResult
			for i, c := range r.Endpoints[0].Checks {
				if c.Name == checkScheme {
					scheme = &r.Endpoints[0].Checks[i]
				}
			}
			if scheme == nil {
				t.Fatalf("no scheme check:\n%s", out)
			}
			if scheme.OK || !strings.Contains(scheme.Detail, rep.Replace(tt.wantCheck)) || !strings.Contains(scheme.Fix, rep.Replace(tt.wantFix)) {
				t.Errorf("scheme check = %+v, want a failure with %q and fix %q", *scheme, rep.Replace(tt.wantCheck), rep.Replace(tt.wantFix))
			}
			if f := r.Endpoints[0].Functions; f.Messages.OK || !strings.Contains(f.Messages.Why, "see the scheme check") {
				t.Errorf("messages = %+v, want it to point at the scheme check", f.Messages)
			}
			// The calls after the health check would fail the same way,
			// the auth API's only after its retries.
			var names []string
			for _, c := range r.Endpoints[0].Checks {
				if c.Name != checkToken {
					names = append(names, c.Name)
				}
			}
			if diff := cmp.Diff([]string{checkHealth, checkScheme}, names); diff != "" {
				t.Errorf("checks after a scheme mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
