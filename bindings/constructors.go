package bindings

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// NewFromCredential returns a Client for one SignalR Service resource that
// authenticates with Microsoft Entra ID: serviceURI is the resource's
// endpoint, such as https://contoso.service.signalr.net, and cred any
// azcore.TokenCredential, such as azidentity's DefaultAzureCredential or
// ManagedIdentityCredential. Messages and logs then name the credential's
// type, the service URI and the Options fields. Call Close when done.
//
// For a connection string, or several endpoints, build EndpointConfig
// values (package settings reads them from a Functions app's settings) and
// call New.
func NewFromCredential(serviceURI string, cred azcore.TokenCredential, opts *Options) (*Client, error) {
	if cred == nil {
		return nil, fmt.Errorf("bindings.NewFromCredential: the credential is nil: pass an azcore.TokenCredential, such as one from azidentity.NewDefaultAzureCredential")
	}
	u, err := parseServiceURI(serviceURI)
	if err != nil {
		return nil, err
	}
	return New([]EndpointConfig{{ServiceURI: u, Credential: cred}}, opts)
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
