package bindings

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// DefaultScope is the Microsoft Entra ID scope of SignalR Service, the same
// in every cloud; sovereign clouds differ in authority host and domain.
const DefaultScope = "https://signalr.azure.com/.default"

// EndpointType says whether negotiate prefers an endpoint.
type EndpointType string

const (
	// Primary endpoints take client connections while any is online.
	Primary EndpointType = "primary"
	// Secondary endpoints take client connections only when no primary is
	// online.
	Secondary EndpointType = "secondary"
)

// Secret holds a value that must never be printed: fmt, slog and text
// encoders show REDACTED.
type Secret string

// String redacts the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "REDACTED"
}

// LogValue redacts the secret in structured logs.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Format redacts the secret for every verb, %#v and %d included: fmt
// would print a string type's own value for verbs String does not serve.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprintf(f, "%q", s.String())
		return
	}
	fmt.Fprint(f, s.String())
}

// MarshalText redacts the secret in JSON (a struct holding it logged by
// slog's JSONHandler) and other text encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the secret's value, for signing and for credentials only.
func (s Secret) Reveal() string { return string(s) }

// EndpointConfig is one SignalR Service resource a Client talks to, and how
// it authenticates there: Credential (Microsoft Entra ID) or AccessKey.
type EndpointConfig struct {
	// Name routes messages that name their endpoints; "" for an unnamed
	// one. A name may hold a primary and a secondary endpoint.
	Name string
	// Type says whether negotiate prefers the endpoint. Defaults to Primary.
	Type EndpointType
	// ServiceURI is the resource's endpoint, scheme and host (and port),
	// such as https://contoso.service.signalr.net.
	ServiceURI *url.URL
	// ClientEndpoint is where clients connect, when not ServiceURI.
	ClientEndpoint *url.URL
	// ServerEndpoint is where REST calls go, when not ServiceURI.
	ServerEndpoint *url.URL
	// Credential gets Microsoft Entra ID tokens; set it or AccessKey.
	Credential azcore.TokenCredential
	// Scope is the Entra ID scope requested. Defaults to DefaultScope.
	Scope string
	// AccessKey signs tokens in access-key mode; set it or Credential.
	AccessKey Secret

	// Label names the endpoint in messages and logs, such as the setting
	// it was read from. Defaults to the service URI.
	Label string
	// Identity names who the credential signs in as, for messages, such as
	// "system-assigned managed identity". Defaults to the credential's type.
	Identity string
	// Explain, when set, says what the user can do about a failure of
	// Credential (such as which setting holds a wrong secret) or a token
	// the service refused as from another tenant (ErrOtherTenant); its
	// answer follows the failure in the error. "" adds nothing.
	Explain func(error) string
}

// String names the endpoint without its key.
func (c EndpointConfig) String() string {
	uri := ""
	if c.ServiceURI != nil {
		uri = c.ServiceURI.Redacted()
	}
	if c.Label == "" {
		return uri
	}
	return c.Label + " (" + uri + ")"
}

// GoString is String, for %#v, which would print the key otherwise.
func (c EndpointConfig) GoString() string { return c.String() }

// LogValue is what slog records of an endpoint configuration.
func (c EndpointConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

// credentialKind names a credential by its type: "DefaultAzureCredential"
// for azidentity's, else the Go type.
func credentialKind(cred azcore.TokenCredential) string {
	return strings.TrimPrefix(strings.TrimPrefix(fmt.Sprintf("%T", cred), "*"), "azidentity.")
}
