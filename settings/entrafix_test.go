package settings

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/signalr-entra/handler/bindings"
)

// entraReply is an authentication failure as azidentity reports it: with
// Entra ID's reply, whose error_codes and description name the AADSTS code.
func entraReply(status int, oauth, code, description string) error {
	body := `{"error":"` + oauth + `","error_description":"AADSTS` + code + `: ` + description + `","error_codes":[` + code + `]}`
	return &azidentity.AuthenticationFailedError{RawResponse: &http.Response{
		StatusCode: status, Status: http.StatusText(status), Body: io.NopCloser(strings.NewReader(body)),
	}}
}

// TestEntraFix maps each common refusal to its own fix and az line; the
// codes the stand-in does not play are built here as azidentity reports them.
func TestEntraFix(t *testing.T) {
	app := Endpoint{Setting: "AzureSignalRConnectionString", Auth: Auth{Kind: "ClientSecretCredential", ClientID: "a1", TenantID: "t1"}}
	cert := app
	cert.Auth.Kind = "ClientCertificateCredential"
	dac := Endpoint{Setting: "AzureSignalRConnectionString", Auth: Auth{Kind: "DefaultAzureCredential"}}
	goApp, goDAC := app, dac
	goApp.Setting, goDAC.Setting = "", ""
	unavailable := errors.New("DefaultAzureCredential: failed to acquire a token.\nAttempted credentials:\n\tAzureCLICredential: ERROR: Please run 'az login' to setup account.")
	tests := []struct {
		name string
		e    Endpoint
		err  error
		env  map[string]string
		want []string // "" for no specific fix
	}{
		{"expired secret", app, entraReply(401, "invalid_client", "7000222", "The provided client secret keys for app 'a1' are expired."),
			nil, []string{"The client secret of app a1 has expired (AADSTS7000222)", "az ad app credential reset --id a1 --append"}},
		{"wrong secret", app, entraReply(401, "invalid_client", "7000215", "Invalid client secret provided."),
			nil, []string{"AzureSignalRConnectionString__clientSecret holds a wrong secret", "az ad app credential reset --id a1 --append"}},
		{"certificate not registered", cert, entraReply(401, "invalid_client", "700027", "Client assertion failed signature validation."),
			nil, []string{"not registered on the app, or AzureSignalRConnectionString__clientCertificatePath holds another one", "az ad app credential reset --id a1 --cert @<certificate.pem> --append"}},
		{"consent", app, entraReply(400, "invalid_grant", "65001", "The user or administrator has not consented to use the application."),
			nil, []string{"App a1 has no consent in tenant t1 (AADSTS65001)", "az ad app permission admin-consent --id a1"}},
		{"unknown app", app, entraReply(400, "unauthorized_client", "700016", "Application with identifier 'a1' was not found in the directory."),
			nil, []string{"Tenant t1 has no app with client id a1 (AADSTS700016)", "az ad sp create --id a1"}},
		{"unknown tenant", app, entraReply(400, "invalid_tenant", "90002", "Tenant 't1' not found."),
			nil, []string{"Entra ID has no tenant t1 (AADSTS90002)"}},
		{"not signed in", dac, unavailable, nil, []string{"DefaultAzureCredential found no one signed in on this machine", "\n  az login\n"}},
		// On Azure a managed identity endpoint exists: not a sign-in matter.
		{"managed identity endpoint", dac, unavailable, map[string]string{"IDENTITY_ENDPOINT": "http://127.0.0.1:1"}, nil},
		// A credential that tried and was refused is not "no one signed in".
		{"refused", dac, &azidentity.AuthenticationFailedError{}, nil, nil},
		// A Go program's endpoint has no app setting and no check to run.
		{"wrong secret from Go", goApp, entraReply(401, "invalid_client", "7000215", "Invalid client secret provided."),
			nil, []string{"the credential's client secret holds a wrong secret", "put its value in the credential's client secret"}},
		{"unknown tenant from Go", goApp, entraReply(400, "invalid_tenant", "90002", "Tenant 't1' not found."),
			nil, []string{"Set the credential's tenant ID", "also set the credential's authority host (azcore.ClientOptions.Cloud)"}},
		{"not signed in from Go", goDAC, unavailable, nil, []string{"\n  az login\nthen try again."}},
		// The service's 401 for a token of another tenant: the tenant setting.
		{"token from another tenant", app, &bindings.Error{Status: 401, Err: bindings.ErrOtherTenant},
			nil, []string{"The credential asked tenant t1. Set AzureSignalRConnectionString__tenantId to the tenant id of the SignalR resource", "AzureSignalRConnectionString__authorityHost"}},
		// A managed identity has no tenant setting to change.
		{"managed identity from another tenant", Endpoint{Setting: "AzureSignalRConnectionString", Auth: Auth{Kind: "ManagedIdentityCredential"}},
			&bindings.Error{Status: 401, Err: bindings.ErrOtherTenant}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := EntraFix(tt.e, tt.err, func(k string) string { return tt.env[k] })
			if tt.want == nil && got != "" {
				t.Errorf("fix = %q, want none", got)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("fix = %q\nlacks %q", got, w)
				}
			}
			if tt.e.Setting == "" {
				// az's own field name is no app setting.
				text := strings.ReplaceAll(got, "--query tenantId", "")
				for _, w := range []string{"SIGNALR_", "AzureSignalRConnectionString", "Azure__SignalR", "handler check", "serviceUri", "tenantId"} {
					if strings.Contains(text, w) {
						t.Errorf("fix for a Go program's endpoint names %q: %q", w, got)
					}
				}
			}
		})
	}
}

// TestTokenFailureCarriesEntraFix: when the handler runs and Entra ID
// refuses the app, the error callers log and the client's own log name
// the specific fix, not only a pointer to the check.
func TestTokenFailureCarriesEntraFix(t *testing.T) {
	refusal := entraReply(401, "invalid_client", "7000215", "Invalid client secret provided.")
	ep := Endpoint{
		Setting: "AzureSignalRConnectionString", ServiceURI: &url.URL{Scheme: "https", Host: "contoso.service.signalr.net"},
		Credential: refusingCredential{refusal}, Scope: DefaultScope,
		Auth: Auth{Kind: "ClientSecretCredential", ClientID: "a1", TenantID: "t1"},
	}
	logs := &syncWriter{}
	c, err := bindings.New([]bindings.EndpointConfig{ep.Config()}, &bindings.Options{
		Logger: slog.New(slog.NewTextHandler(logs, nil)), KeyWait: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ConnectionInfo(context.Background(), "chat", "", nil)
	c.Close()
	if err == nil {
		t.Fatal("negotiate got a key without a token")
	}
	fix := EntraFix(ep, errors.New("AADSTS7000215"), func(string) string { return "" })
	wants := []string{
		"could not get a token for scope",
		"AzureSignalRConnectionString__clientSecret holds a wrong secret",
		"az ad app credential reset --id a1 --append",
		"Run `handler check` with the same settings for a diagnosis",
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q\nlacks %q", err, w)
		}
	}
	if !strings.Contains(err.Error(), fix) {
		t.Errorf("error %q\nlacks the fix the check shows: %q", err, fix)
	}
	l := logs.String()
	for _, w := range wants[1:3] {
		if !strings.Contains(l, w) {
			t.Errorf("log lacks %q:\n%s", w, l)
		}
	}
}

// refusingCredential fails every token request with err.
type refusingCredential struct{ err error }

func (c refusingCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, c.err
}

// syncWriter collects log lines from the client's goroutines.
type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
