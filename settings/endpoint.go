package settings

import (
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/signalr-entra/handler/bindings"
)

// DefaultScope is the Entra ID scope of SignalR Service.
const DefaultScope = bindings.DefaultScope

// EndpointType says whether negotiate prefers an endpoint.
type EndpointType = bindings.EndpointType

const (
	// Primary endpoints take client connections while any is healthy.
	Primary = bindings.Primary
	// Secondary endpoints take client connections only when no primary is healthy.
	Secondary = bindings.Secondary
)

// Endpoint is one SignalR Service resource the app talks to, with the means
// to authenticate to it.
type Endpoint struct {
	// Name is "" for the connection named by the connection setting, or the
	// <name> of Azure__SignalR__Endpoints__<name>.
	Name string
	// Setting is the app setting (or section prefix) the endpoint was read
	// from, as the user wrote it, so that errors can point at it.
	Setting string
	// ServiceURI is the service's endpoint, scheme and host (and port when set).
	ServiceURI *url.URL
	// ClientEndpoint is where clients connect, when not the service URI.
	ClientEndpoint *url.URL
	// ServerEndpoint is where REST calls go, when not the service URI.
	ServerEndpoint *url.URL
	Type           EndpointType
	// AccessKey is set in access-key mode, and then Credential is nil.
	AccessKey Secret
	// Credential gets Entra tokens in Entra mode.
	Credential azcore.TokenCredential
	// Auth describes how the endpoint authenticates, without secrets.
	Auth Auth
	// Scope is the Entra scope requested for the service. Defaults to DefaultScope.
	Scope string
}

// Auth describes a credential for people: in checks, logs and errors.
// It never holds a secret.
type Auth struct {
	// Kind is "AccessKey" or the azidentity credential type, such as
	// "ManagedIdentityCredential".
	Kind string
	// UserAssigned is true for a user-assigned managed identity.
	UserAssigned bool
	ClientID     string
	// ResourceID names a user-assigned managed identity by its resource id.
	ResourceID string
	// ObjectID names a user-assigned managed identity by its object
	// (principal) id.
	ObjectID string
	// FederatedClientID is the client id of the managed identity whose
	// token a ClientAssertionCredential presents for the app ClientID.
	FederatedClientID string
	TenantID          string
	// AdditionallyAllowedTenants widens the tenants a credential may ask.
	AdditionallyAllowedTenants []string
	AuthorityHost              string
	// CertificatePath is the certificate file a ClientCertificateCredential reads.
	CertificatePath string
	// TokenFilePath is the federated token file of a WorkloadIdentityCredential.
	TokenFilePath string
}

// Identity names the principal for messages, such as "system-assigned managed
// identity" or "managed identity with client id 0000…".
func (a Auth) Identity() string {
	switch {
	case a.Kind == "AccessKey":
		return "access key"
	case a.Kind == "ClientAssertionCredential":
		return "app " + a.ClientID + " federated with " + Auth{Kind: "ManagedIdentityCredential", ResourceID: a.ResourceID, ObjectID: a.ObjectID, ClientID: a.FederatedClientID}.Identity()
	case a.Kind == "ManagedIdentityCredential" && a.ResourceID != "":
		return "user-assigned managed identity " + a.ResourceID
	case a.Kind == "ManagedIdentityCredential" && a.ObjectID != "":
		return "user-assigned managed identity with object id " + a.ObjectID
	case a.Kind == "ManagedIdentityCredential" && a.ClientID != "":
		return "user-assigned managed identity with client id " + a.ClientID
	case a.Kind == "ManagedIdentityCredential":
		return "system-assigned managed identity"
	case a.ClientID != "":
		return a.Kind + " with client id " + a.ClientID
	default:
		return a.Kind
	}
}

// SettingName is the app setting that holds key (such as "clientSecret")
// of the endpoint's section, joined with the separator its setting already
// uses: ":" in local.settings.json, "__" on Azure.
func (e Endpoint) SettingName(key string) string {
	if strings.Contains(e.Setting, ":") && !strings.Contains(e.Setting, "__") {
		return e.Setting + ":" + key
	}
	return e.Setting + "__" + key
}
