package settings

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/signalr-entra/handler/bindings"
)

// aadstsCode finds the Entra ID error code, such as 7000215 in
// "AADSTS7000215: Invalid client secret provided", in a credential's
// error; azidentity quotes Entra's reply, and DefaultAzureCredential's chain
// keeps only the text of each credential's error.
// Compiled on first use: only failures need it.
var aadstsCode = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`AADSTS(\d+)`) })

// credentialFields name, for an endpoint a Go program built (no app
// setting), where it set what an app setting would hold.
var credentialFields = map[string]string{
	"clientSecret":          "the credential's client secret",
	"clientId":              "the credential's client ID",
	"tenantId":              "the credential's tenant ID",
	"authorityHost":         "the credential's authority host (azcore.ClientOptions.Cloud)",
	"clientCertificatePath": "the credential's certificate",
}

// fixSetting names where key is set: the endpoint's app setting, or the
// credential a Go program passed.
func fixSetting(e Endpoint, key string) string {
	if e.Setting == "" {
		return credentialFields[key]
	}
	return e.SettingName(key)
}

// secretResetCommand creates a client secret for an app and keeps the
// others (--append), so that other users of the app keep working.
func secretResetCommand(app string) string {
	return fmt.Sprintf("az ad app credential reset --id %s --append --display-name signalr-handler --query password -o tsv", app)
}

// EntraFix explains the common Microsoft Entra ID refusals of an app
// registration (by their AADSTS code) with the az line that fixes each,
// and DefaultAzureCredential finding no one signed in on this machine,
// for the endpoint whose credential failed with err. getenv reads the
// environment (os.Getenv). It returns "" for any other failure.
//
// Errors of a bindings.Client made from Endpoint.Config carry it already;
// `handler check` shows it too.
func EntraFix(e Endpoint, err error, getenv func(string) string) string {
	app, tenant := e.Auth.ClientID, e.Auth.TenantID
	if app == "" {
		app = "<client id>"
	}
	if tenant == "" {
		tenant = "<tenant id>"
	}
	secret, tenantSetting := fixSetting(e, "clientSecret"), fixSetting(e, "tenantId")
	var code string
	if m := aadstsCode().FindStringSubmatch(err.Error()); m != nil {
		code = m[1]
	}
	if errors.Is(err, bindings.ErrOtherTenant) && e.Auth.Kind != "ManagedIdentityCredential" {
		return fmt.Sprintf("The credential asked tenant %s. Set %s to the tenant id of the SignalR resource (for a multitenant app, a tenant it is provisioned in):\n  az account show --query tenantId -o tsv\nIn a sovereign cloud (Azure China, Azure Government) also set %s to that cloud's Entra ID host.",
			tenant, tenantSetting, fixSetting(e, "authorityHost"))
	}
	switch code {
	case "7000215":
		return fmt.Sprintf("Entra ID has no such client secret for app %s (AADSTS7000215): %s holds a wrong secret, often the secret's ID copied instead of its value. Create a new secret, keeping the app's others, and put its value in %s:\n  %s",
			app, secret, secret, secretResetCommand(app))
	case "7000222":
		return fmt.Sprintf("The client secret of app %s has expired (AADSTS7000222). Create a new one, keeping the app's others, and put its value in %s:\n  %s",
			app, secret, secretResetCommand(app))
	case "700016":
		return fmt.Sprintf("Tenant %s has no app with client id %s (AADSTS700016). Check %s: it takes the app's Application (client) ID (az ad app list --display-name <app> --query [].appId -o tsv), and %s the tenant the app is in. A multitenant app registered elsewhere must first be provisioned in this tenant, signed in to it:\n  az ad sp create --id %s",
			tenant, app, fixSetting(e, "clientId"), tenantSetting, app)
	case "90002":
		return fmt.Sprintf("Entra ID has no tenant %s (AADSTS90002). Set %s to the tenant id of the SignalR resource:\n  az account show --query tenantId -o tsv\nIn a sovereign cloud (Azure China, Azure Government) also set %s to that cloud's Entra ID host, such as https://login.chinacloudapi.cn/.",
			tenant, tenantSetting, fixSetting(e, "authorityHost"))
	case "700027":
		return fmt.Sprintf("Entra ID does not know the certificate that signed for app %s (AADSTS700027): it is not registered on the app, or %s holds another one. Upload the certificate's public part to the app, keeping its other credentials:\n  az ad app credential reset --id %s --cert @<certificate.pem> --append",
			app, fixSetting(e, "clientCertificatePath"), app)
	case "65001":
		return fmt.Sprintf("App %s has no consent in tenant %s (AADSTS65001). An administrator of that tenant grants it, signed in to the tenant:\n  az ad app permission admin-consent --id %s\nFor a multitenant app registered in another tenant, first provision it there: az ad sp create --id %s",
			app, tenant, app, app)
	}
	if e.Auth.Kind == "DefaultAzureCredential" && notSignedIn(err, getenv) {
		login := "az login"
		if e.Auth.TenantID != "" {
			login += " --tenant " + e.Auth.TenantID
		}
		install := "Sign in"
		if strings.Contains(err.Error(), "AzureCLICredential: executable not found") {
			install = "Install the Azure CLI (https://aka.ms/installazurecli), then sign in"
		}
		// The check names the role a user needs; a Go program has no check.
		again := "then run the check again; it shows the role your user needs"
		if e.Setting == "" {
			again = "then try again"
		}
		return fmt.Sprintf("DefaultAzureCredential found no one signed in on this machine: no managed identity here, and no Azure CLI, Azure Developer CLI or Azure PowerShell login. %s with the account that holds a SignalR role on the resource:\n  %s\n%s. On Azure, the function app's managed identity signs in instead.",
			install, login, again)
	}
	return ""
}

// notSignedIn reports DefaultAzureCredential's failure on a developer's
// machine: every credential of its chain was unavailable (none even tried
// to authenticate) and there is no managed identity endpoint.
func notSignedIn(err error, getenv func(string) string) bool {
	var failed *azidentity.AuthenticationFailedError
	return !errors.As(err, &failed) && getenv("IDENTITY_ENDPOINT") == "" && getenv("MSI_ENDPOINT") == ""
}
