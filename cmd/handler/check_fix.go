package main

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/signalr-entra/handler/settings"
)

// The built-in roles of SignalR Service
// (https://learn.microsoft.com/azure/azure-signalr/signalr-concept-authorize-azure-active-directory),
// by display name, as `az role assignment create --role` takes them.
const (
	roleAppServer    = "SignalR App Server"
	roleServiceOwner = "SignalR Service Owner"
	roleRESTOwner    = "SignalR REST API Owner"
	roleRESTReader   = "SignalR REST API Reader"
)

// propagationNote ends every fix that assigns a role: assignments take up
// to 30 minutes to apply
// (https://learn.microsoft.com/azure/role-based-access-control/troubleshooting).
const propagationNote = "Role assignments take up to 30 minutes to take effect: run the check again after that."

// serviceDomains are the host suffixes of SignalR resources, whose first
// label is the resource name: public Azure, Azure China, Azure Government.
var serviceDomains = []string{".service.signalr.net", ".signalr.azure.cn", ".signalr.azure.us"}

// resourceName is the SignalR resource's name from its host, or a
// placeholder when the host does not tell (a custom domain, the stand-in).
func resourceName(u *url.URL) string {
	if u == nil {
		return "<name>"
	}
	host := strings.ToLower(u.Hostname())
	for _, d := range serviceDomains {
		if name, ok := strings.CutSuffix(host, d); ok && name != "" && !strings.Contains(name, ".") {
			return name
		}
	}
	return "<name>"
}

// resourceScope is a shell expression for the resource id, the narrowest
// scope of a role assignment. The URI does not hold the resource group.
func resourceScope(u *url.URL) string {
	return fmt.Sprintf("$(az signalr show -n %s -g <resource-group> --query id -o tsv)", resourceName(u))
}

// assignCommand is the az line that gives the principal a role on the resource.
func assignCommand(u *url.URL, p *principalReport, role string) string {
	oid, kind := "<object id of the identity>", "ServicePrincipal"
	if p != nil && p.ObjectID != "" {
		oid = p.ObjectID
	}
	if p != nil && p.Type == "user" {
		kind = "User"
	}
	return fmt.Sprintf("az role assignment create --assignee-object-id %s --assignee-principal-type %s --role %q --scope \"%s\"",
		oid, kind, role, resourceScope(u))
}

// roleFix explains a role to assign and how.
func roleFix(u *url.URL, p *principalReport, role, why string) string {
	return fmt.Sprintf("Assign the identity %q on the SignalR resource (%s):\n  %s\n%s",
		role, why, assignCommand(u, p, role), propagationNote)
}

// crossTenantFix explains a 401 to an Entra token: the token's tenant is
// not the resource's, or the token comes from another cloud's authority.
func crossTenantFix(e settings.Endpoint, p *principalReport) string {
	var b strings.Builder
	tenant := e.SettingName("tenantId")
	if e.Auth.Kind == "ManagedIdentityCredential" {
		fmt.Fprintf(&b, "A managed identity gets tokens from its own tenant only. To reach a SignalR resource in another tenant, use a multitenant app registration (clientId, clientSecret or a certificate, and %s = the resource's tenant).\n", tenant)
	} else {
		app := "<app id>"
		if p != nil && p.AppID != "" {
			app = p.AppID
		}
		fmt.Fprintf(&b, "If the SignalR resource is in another tenant than the app:\n")
		fmt.Fprintf(&b, "  1. Make the app registration multitenant, and provision it in the resource's tenant (signed in there): az ad sp create --id %s\n", app)
		fmt.Fprintf(&b, "  2. Set %s (TenantId= in a connection string) to the resource's tenant id: az account show --subscription <subscription of the resource> --query tenantId -o tsv\n", tenant)
		fmt.Fprintf(&b, "     If the credential must keep another tenantId, add the resource's tenant to %s instead.\n", e.SettingName("additionallyAllowedTenants"))
		fmt.Fprintf(&b, "  3. Assign the role to the app's service principal in the resource's tenant, whose object id differs from this token's: az ad sp show --id %s --query id -o tsv\n", app)
	}
	fmt.Fprintf(&b, "In a sovereign cloud (Azure China, Azure Government), also set %s to that cloud's Entra ID host, such as https://login.chinacloudapi.cn/.", e.SettingName("authorityHost"))
	return b.String()
}

// localAuthFix explains a 401 to an access-key token and shows the
// settings that switch the connection to Entra ID.
func localAuthFix(e settings.Endpoint) string {
	uri := "https://<name>.service.signalr.net"
	if e.ServiceURI != nil {
		uri = e.ServiceURI.String()
	}
	return fmt.Sprintf("Switch %[1]s to Microsoft Entra ID: remove the connection string %[1]s and set\n"+
		"  %[2]s = %[3]s\n"+
		"  %[4]s = managedidentity\n"+
		"  (and %[5]s = <client id> for a user-assigned identity)\n"+
		"then give the identity the %[6]q role, for example:\n  %[7]s\n"+
		"Its object id is the principalId of `az functionapp identity show -n <app> -g <resource-group>`. %[8]s",
		e.Setting, e.SettingName("serviceUri"), uri, e.SettingName("credential"), e.SettingName("clientId"),
		roleServiceOwner, assignCommand(e.ServiceURI, nil, roleServiceOwner), propagationNote)
}

// userAssignedFix explains a managed identity endpoint's 400 for a
// user-assigned identity: most often its object id was given as clientId.
func userAssignedFix(e settings.Endpoint) string {
	if e.Auth.ResourceID != "" && e.Auth.ClientID == "" {
		return fmt.Sprintf("No identity with resource id %q is assigned to this app. Set %s to the identity's resource id (az identity show -n <identity> -g <resource-group> --query id -o tsv), and assign the identity to the function app (az functionapp identity assign -n <app> -g <resource-group> --identities <resource id>).",
			e.Auth.ResourceID, e.SettingName("managedIdentityResourceId"))
	}
	return fmt.Sprintf("No identity with client id %q is assigned to this app. A user-assigned identity has a client id and an object (principal) id, both GUIDs: %s takes the client id, not the object id. "+
		"Find it with az identity show -n <identity> -g <resource-group> --query clientId -o tsv (the portal shows it as Client ID on the identity's Overview), "+
		"and check that the identity is assigned to the function app: az functionapp identity show -n <app> -g <resource-group>.",
		e.Auth.ClientID, e.SettingName("clientId"))
}

// environmentCredentialFailedFix explains a token failure of
// DefaultAzureCredential when AZURE_* variables made EnvironmentCredential
// answer first: its failure ends the chain before the managed identity.
func environmentCredentialFailedFix(e settings.Endpoint, vars []string) string {
	return fmt.Sprintf("DefaultAzureCredential tried the app registration of the AZURE_* variables first, because %s is set, and that failed, so the managed identity was not tried. "+
		"To use the app's managed identity, set %s = managedidentity (with %s = <client id> for a user-assigned identity), or remove %s, AZURE_CLIENT_ID and AZURE_TENANT_ID from the app settings. "+
		"To use that app registration, correct AZURE_TENANT_ID, AZURE_CLIENT_ID and %s: the cause above says what Entra ID answered.",
		strings.Join(vars, ", "), e.SettingName("credential"), e.SettingName("clientId"), strings.Join(vars, ", "), strings.Join(vars, ", "))
}

// environmentCredentialFix explains EnvironmentCredential winning inside
// DefaultAzureCredential and the ways out.
func environmentCredentialFix(e settings.Endpoint, vars []string) string {
	return fmt.Sprintf("To use the app's managed identity instead, set %s = managedidentity (with %s = <client id> for a user-assigned identity), or remove %s and AZURE_CLIENT_ID from the app settings. "+
		"To keep this app registration, give it the roles named below.",
		e.SettingName("credential"), e.SettingName("clientId"), strings.Join(vars, ", "))
}
