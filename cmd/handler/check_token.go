package main

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/golang-jwt/jwt/v5"

	"github.com/signalr-entra/handler/settings"
)

// principalReport says whose Entra token the credential got, read from the
// token's claims. It never holds the token.
type principalReport struct {
	TenantID string `json:"tenantId"`
	ObjectID string `json:"objectId"`
	AppID    string `json:"appId"`
	// Type is the idtyp claim ("app" or "user"), which is optional: a token
	// without it is a user's when it is delegated (has scp), as tokens of
	// Azure CLI or Visual Studio are. It picks the principal type of az.
	Type string `json:"type,omitempty"`
}

// principalOf reads the principal from an Entra access token without
// verifying it: the check wants to show whose token it is, and the service
// verifies it anyway. Errors never quote the token.
func principalOf(token string) (principalReport, error) {
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err != nil {
		return principalReport{}, fmt.Errorf("the Entra ID token is not a JWT, so whose it is cannot be shown (%d characters): %w", len(token), err)
	}
	str := func(name string) string {
		s, _ := claims[name].(string)
		return s
	}
	p := principalReport{TenantID: str("tid"), ObjectID: str("oid"), AppID: str("appid"), Type: str("idtyp")}
	if p.AppID == "" {
		// Version 2.0 tokens name the app in azp.
		p.AppID = str("azp")
	}
	if p.Type == "" && str("scp") != "" {
		p.Type = "user"
	}
	return p, nil
}

// String is the principal as the human report shows it.
func (p principalReport) String() string {
	s := fmt.Sprintf("tenant %s, object id %s, app id %s", orUnknown(p.TenantID), orUnknown(p.ObjectID), orUnknown(p.AppID))
	if p.Type != "" {
		s += ", type " + p.Type
	}
	return s
}

func orUnknown(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// environmentCredentialVars are the AZURE_* variables that make
// EnvironmentCredential answer first inside DefaultAzureCredential.
var environmentCredentialVars = []string{"AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_USERNAME"}

// environmentCredentialWon reports the variables that made
// EnvironmentCredential answer inside DefaultAzureCredential: one of them is
// set and the token's app is AZURE_CLIENT_ID. Empty when it did not.
func environmentCredentialWon(e settings.Endpoint, p principalReport, getenv func(string) string) []string {
	if e.Auth.Kind != "DefaultAzureCredential" || p.AppID == "" || !strings.EqualFold(p.AppID, strings.TrimSpace(getenv("AZURE_CLIENT_ID"))) {
		return nil
	}
	return environmentCredentialSet(e, getenv)
}

// environmentCredentialSet reports the variables that make
// DefaultAzureCredential try EnvironmentCredential before the managed
// identity, when the endpoint uses DefaultAzureCredential.
func environmentCredentialSet(e settings.Endpoint, getenv func(string) string) []string {
	if e.Auth.Kind != "DefaultAzureCredential" {
		return nil
	}
	var set []string
	for _, v := range environmentCredentialVars {
		if getenv(v) != "" {
			set = append(set, v)
		}
	}
	return set
}

// userAssignedNotFound says whether the managed identity endpoint refused
// a user-assigned identity with 400, as App Service does for an id that
// names no identity assigned to the app.
func userAssignedNotFound(e settings.Endpoint, err error) bool {
	userAssigned := e.Auth.UserAssigned ||
		e.Auth.Kind == "DefaultAzureCredential" && (e.Auth.ClientID != "" || e.Auth.ResourceID != "")
	if !userAssigned {
		return false
	}
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) && afe.RawResponse != nil {
		return afe.RawResponse.StatusCode == http.StatusBadRequest
	}
	// DefaultAzureCredential's chain flattens its members' errors into text.
	msg := err.Error()
	return strings.Contains(msg, "ManagedIdentityCredential") && strings.Contains(msg, "RESPONSE 400")
}
