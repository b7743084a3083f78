package bindings

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/signalr-entra/handler/settings"
)

// NewFromCredential returns a Client for one SignalR Service resource that
// authenticates with Microsoft Entra ID: serviceURI is the resource's
// endpoint, such as https://contoso.service.signalr.net, and cred any
// azcore.TokenCredential, such as azidentity's DefaultAzureCredential or
// ManagedIdentityCredential. Messages and logs then name the credential's
// type, the service URI and the Options fields. Call Close when done.
func NewFromCredential(serviceURI string, cred azcore.TokenCredential, opts *Options) (*Client, error) {
	if cred == nil {
		return nil, fmt.Errorf("bindings.NewFromCredential: the credential is nil: pass an azcore.TokenCredential, such as one from azidentity.NewDefaultAzureCredential")
	}
	u, err := parseServiceURI(serviceURI)
	if err != nil {
		return nil, err
	}
	return New([]settings.Endpoint{{ServiceURI: u, Credential: cred, Auth: settings.Auth{Kind: credentialKind(cred)}}}, opts)
}

// NewFromConnectionString returns a Client for the resource a connection
// string names, as the app setting AzureSignalRConnectionString holds it:
// Endpoint=https://<resource>.service.signalr.net with AccessKey=<key>, or
// with AuthType=azure (DefaultAzureCredential), azure.msi (managed identity;
// ClientId for a user-assigned one) or azure.app (ClientId, TenantId and
// ClientSecret or ClientCert). Entra credentials send their requests through
// Options.HTTPClient when set. Keys that work but are likely mistakes are
// logged as warnings. Call Close when done.
func NewFromConnectionString(connectionString string, opts *Options) (*Client, error) {
	var lo settings.LoadOptions
	if opts != nil && opts.HTTPClient != nil {
		lo.Transport = opts.HTTPClient
	}
	e, warnings, err := settings.ParseEndpoint("connection string", connectionString, &lo)
	if err != nil {
		return nil, fmt.Errorf("bindings.NewFromConnectionString: %w", err)
	}
	// Not an app setting: messages name the Go API, not "connection string".
	e.Setting = ""
	c, err := New([]settings.Endpoint{e}, opts)
	if err != nil {
		return nil, err
	}
	for _, w := range warnings {
		c.opts.Logger.Warn(w)
	}
	return c, nil
}

// parseServiceURI checks a service URI given to NewFromCredential: an
// absolute http or https URI with nothing after the host and port.
func parseServiceURI(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
		shown := s
		if err == nil {
			shown = u.Redacted() // a password in the URI stays out of the error
		}
		return nil, fmt.Errorf("bindings.NewFromCredential: invalid service URI %q: use the resource's endpoint, scheme and host only, such as https://contoso.service.signalr.net", shown)
	}
	u.Path, u.RawPath = "", ""
	return u, nil
}

// credentialKind names a credential by its type, as settings.Auth.Kind
// does: "DefaultAzureCredential" for azidentity's, else the Go type.
func credentialKind(cred azcore.TokenCredential) string {
	return strings.TrimPrefix(strings.TrimPrefix(fmt.Sprintf("%T", cred), "*"), "azidentity.")
}
