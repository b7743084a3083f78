package main

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/signalr-entra/handler/settings"
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
	app := settings.Endpoint{Setting: "AzureSignalRConnectionString", Auth: settings.Auth{Kind: "ClientSecretCredential", ClientID: "a1", TenantID: "t1"}}
	cert := app
	cert.Auth.Kind = "ClientCertificateCredential"
	dac := settings.Endpoint{Setting: "AzureSignalRConnectionString", Auth: settings.Auth{Kind: "DefaultAzureCredential"}}
	unavailable := errors.New("DefaultAzureCredential: failed to acquire a token.\nAttempted credentials:\n\tAzureCLICredential: ERROR: Please run 'az login' to setup account.")
	tests := []struct {
		name string
		e    settings.Endpoint
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := entraFix(tt.e, tt.err, func(k string) string { return tt.env[k] })
			if tt.want == nil && got != "" {
				t.Errorf("fix = %q, want none", got)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("fix = %q\nlacks %q", got, w)
				}
			}
		})
	}
}
