package settings

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/signalr-entra/handler/internal/loopback"
)

// isGUID reports whether s is a GUID in its usual form,
// 00000000-0000-0000-0000-000000000000 in hexadecimal digits of any case.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if s[i] != '-' {
				return false
			}
		} else if !isHexDigit(s[i]) {
			return false
		}
	}
	return true
}

// isThumbprint reports whether s is a certificate thumbprint: 40
// hexadecimal digits.
func isThumbprint(s string) bool {
	if len(s) != 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHexDigit(s[i]) {
			return false
		}
	}
	return true
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// environmentCredentialVars make DefaultAzureCredential use EnvironmentCredential
// before the managed identity, usually to an Unauthorized reply, as
// learn.microsoft.com/azure/azure-signalr/signalr-howto-authorize-managed-identity
// warns. AZURE_CLIENT_ID alone does not: it names the managed identity instead.
var environmentCredentialVars = []string{"AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_USERNAME"}

// managedIdentityIDs are the keys naming a user-assigned managed identity,
// in the order Microsoft.Extensions.Azure reads them.
var managedIdentityIDs = []string{"managedidentityresourceid", "managedidentityobjectid", "managedidentityclientid", "clientid"}

// federationScopes are the token exchange scopes of azureCloud for
// credential=managedidentityasfederatedidentity (Microsoft.Extensions.Azure).
var federationScopes = map[string]string{
	"public": "api://AzureADTokenExchange/.default",
	"usgov":  "api://AzureADTokenExchangeUSGov/.default",
	"china":  "api://AzureADTokenExchangeChina/.default",
}

// credential chooses and builds the credential of one endpoint in the order
// of Microsoft.Extensions.Azure (azure-sdk-for-net
// sdk/extensions/Microsoft.Extensions.Azure/src/Internal/ClientFactory.cs,
// CreateCredential). It records problems in b and
// returns a nil credential on error.
func (b *builder) credential(prefix string, f fields) (azcore.TokenCredential, Auth) {
	auth := Auth{ClientID: f.value("clientid"), TenantID: f.value("tenantid")}
	for _, t := range strings.Split(f.value("additionallyallowedtenants"), ";") {
		if t = strings.TrimSpace(t); t != "" {
			auth.AdditionallyAllowedTenants = append(auth.AdditionallyAllowedTenants, t)
		}
	}
	for _, k := range []string{"clientid", "managedidentityclientid"} {
		if v := f.value(k); v != "" && !isGUID(v) {
			b.warn("%s: %q is not a GUID. An identity or app is named by its client id (application id), a GUID such as 00000000-0000-0000-0000-000000000000, shown on its Overview page",
				f.name(prefix, k), v)
		}
	}
	for _, k := range []string{"clientcertificatestorename", "clientcertificatestorelocation"} {
		if f.has(k) {
			b.warn("%s is ignored: there is no Windows certificate store here. A clientCertificate thumbprint is read from %s/<thumbprint>.p12 (App Service with WEBSITE_LOAD_CERTIFICATES), or set clientCertificatePath",
				f.name(prefix, k), b.certificateDir())
		}
	}
	authority, ok := b.authorityHost(prefix, f)
	if !ok {
		return nil, auth
	}
	auth.AuthorityHost = redactPassword(authority) // Auth never holds a secret
	opts := azcore.ClientOptions{Transport: b.opts.Transport}
	if authority != "" {
		opts.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: authority}
	}
	// Instance discovery asks login.microsoftonline.com about the authority,
	// which a loopback stand-in cannot answer and must never need.
	noDiscovery := authority != "" && loopback.Is(hostOf(authority))

	secret, cert := f.has("clientsecret"), f.has("clientcertificate") || f.has("clientcertificatepath")
	if f.has("clientcertificatepassword") && !f.has("clientcertificatepath") {
		b.fail(&SettingError{f.name(prefix, "clientcertificatepassword"), "is set without " + f.name(prefix, "clientcertificatepath"),
			"Set the path of the PEM or PFX file it opens, or remove the password"})
	}
	if f.has("clientcertificate") && f.has("clientcertificatepath") {
		b.fail(&SettingError{f.name(prefix, "clientcertificate"), "is set together with " + f.name(prefix, "clientcertificatepath"),
			"Name the certificate once: by thumbprint (clientCertificate) or by file (clientCertificatePath)"})
	}

	c := strings.ToLower(f.value("credential"))
	switch c {
	case "managedidentity":
		if secret || cert {
			b.warn("%s: credential=managedidentity ignores the client secret or certificate; remove them or the credential key", f.name(prefix, "credential"))
		}
		return b.managedIdentity(prefix, f, auth, opts)
	case "workloadidentity":
		if secret || cert {
			b.warn("%s: credential=workloadidentity ignores the client secret or certificate; remove them or the credential key", f.name(prefix, "credential"))
		}
		return b.workloadIdentity(prefix, f, auth, opts, noDiscovery)
	case "azurepipelines":
		return b.azurePipelines(prefix, f, auth, opts, noDiscovery)
	case "managedidentityasfederatedidentity":
		return b.federatedManagedIdentity(prefix, f, auth, opts, noDiscovery)
	case "":
	default:
		// C# takes an unknown value as no value and chooses by the other
		// keys; so does this, saying so.
		b.warn("%s: unknown credential %q is ignored, as in the C# extension, and the credential is chosen by the other keys. Valid values are managedidentity, workloadidentity, azurepipelines and managedidentityasfederatedidentity",
			f.name(prefix, "credential"), f.value("credential"))
	}
	if f.has("managedidentityobjectid") {
		b.fail(&SettingError{f.name(prefix, "managedidentityobjectid"), "is only used with credential=managedidentity (the C# extension refuses it otherwise)",
			"Set " + prefix + "__credential=managedidentity, or name the identity by managedIdentityClientId"})
		return nil, auth
	}
	if !secret && !cert {
		return b.defaultCredential(prefix, f, auth, opts, noDiscovery)
	}
	// An incomplete app registration is an error: falling back to
	// DefaultAzureCredential would authenticate as someone else.
	if auth.TenantID == "" || auth.ClientID == "" {
		missing, also := f.name(prefix, "tenantid"), ""
		switch {
		case auth.TenantID != "":
			missing = f.name(prefix, "clientid")
		case auth.ClientID == "":
			also = " (and so is " + f.name(prefix, "clientid") + ")"
		}
		b.fail(&SettingError{missing, "is missing" + also + ": a client secret or certificate needs the app's tenant id and client id",
			"Set them to the app registration's Directory (tenant) ID and Application (client) ID"})
		return nil, auth
	}
	if !secret {
		return b.clientCertificate(prefix, f, auth, opts, noDiscovery)
	}
	if cert {
		// Microsoft.Extensions.Azure checks the secret first.
		b.warn("%s: the client certificate is ignored because a client secret is set, which the C# extension also uses first. Remove one of them",
			f.name(prefix, "clientsecret"))
	}
	auth.Kind = "ClientSecretCredential"
	cred, err := azidentity.NewClientSecretCredential(auth.TenantID, auth.ClientID, f.value("clientsecret"),
		&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, AdditionallyAllowedTenants: auth.AdditionallyAllowedTenants, DisableInstanceDiscovery: noDiscovery})
	return b.built(prefix, cred, err, auth)
}

// managedIdentityID returns the one identifier of a user-assigned managed
// identity among keys, or none for the system-assigned identity. More than
// one is an error, as Microsoft.Extensions.Azure refuses them.
func (b *builder) managedIdentityID(prefix string, f fields, keys []string, auth *Auth) (azidentity.ManagedIDKind, bool) {
	var set []string
	for _, k := range keys {
		if f.has(k) {
			set = append(set, k)
		}
	}
	if len(set) > 1 {
		var names []string
		for _, k := range set {
			names = append(names, f.name(prefix, k))
		}
		b.fail(&SettingError{f.name(prefix, set[1]), "is set together with " + strings.Join(slices.Delete(names, 1, 2), ", "),
			"A managed identity is named by one identifier (the C# extension refuses more): keep one and remove the others"})
		return nil, false
	}
	if len(set) == 0 {
		return nil, true
	}
	v := f.value(set[0])
	auth.UserAssigned = true
	switch set[0] {
	case "managedidentityresourceid":
		auth.ResourceID = v
		return azidentity.ResourceID(v), true
	case "managedidentityobjectid":
		auth.ObjectID = v
		return azidentity.ObjectID(v), true
	}
	auth.ClientID = v
	return azidentity.ClientID(v), true
}

func (b *builder) managedIdentity(prefix string, f fields, auth Auth, opts azcore.ClientOptions) (azcore.TokenCredential, Auth) {
	auth.Kind = "ManagedIdentityCredential"
	auth.ClientID = ""
	id, ok := b.managedIdentityID(prefix, f, managedIdentityIDs, &auth)
	if !ok {
		return nil, auth
	}
	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts, ID: id})
	return b.built(prefix, cred, err, auth)
}

// federatedManagedIdentity signs in as an app whose federated credential
// trusts a user-assigned managed identity: the identity's token for the
// cloud's token exchange scope is the app's client assertion, as
// Microsoft.Extensions.Azure's ManagedFederatedIdentityCredential does.
func (b *builder) federatedManagedIdentity(prefix string, f fields, auth Auth, opts azcore.ClientOptions, noDiscovery bool) (azcore.TokenCredential, Auth) {
	auth.Kind = "ClientAssertionCredential"
	scope, known := federationScopes[strings.ToLower(f.value("azurecloud"))]
	var missing []string
	for _, k := range []string{"tenantid", "clientid"} {
		if !f.has(k) {
			missing = append(missing, f.name(prefix, k))
		}
	}
	if !known {
		missing = append(missing, f.name(prefix, "azurecloud")+" (public, usgov or china)")
	}
	mi := Auth{}
	id, ok := b.managedIdentityID(prefix, f, managedIdentityIDs[:3], &mi)
	if ok && id == nil {
		missing = append(missing, "one of managedIdentityClientId, managedIdentityResourceId or managedIdentityObjectId")
	}
	if len(missing) > 0 {
		b.fail(&SettingError{f.name(prefix, "credential"), "credential=managedidentityasfederatedidentity needs " + strings.Join(missing, ", "),
			"Set them: the app's tenant and client id, the cloud, and the user-assigned identity its federated credential trusts"})
		return nil, auth
	}
	if !ok {
		return nil, auth
	}
	auth.ResourceID, auth.ObjectID, auth.FederatedClientID = mi.ResourceID, mi.ObjectID, mi.ClientID
	miCred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts, ID: id})
	if err != nil {
		return b.built(prefix, nil, err, auth)
	}
	assertion := func(ctx context.Context) (string, error) {
		tok, err := miCred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
		return tok.Token, err
	}
	cred, err := azidentity.NewClientAssertionCredential(auth.TenantID, auth.ClientID, assertion,
		&azidentity.ClientAssertionCredentialOptions{ClientOptions: opts, AdditionallyAllowedTenants: auth.AdditionallyAllowedTenants, DisableInstanceDiscovery: noDiscovery})
	return b.built(prefix, cred, err, auth)
}

// azurePipelines builds the credential of an Azure Pipelines service
// connection (Microsoft.Extensions.Azure's credential=azurepipelines).
func (b *builder) azurePipelines(prefix string, f fields, auth Auth, opts azcore.ClientOptions, noDiscovery bool) (azcore.TokenCredential, Auth) {
	auth.Kind = "AzurePipelinesCredential"
	var missing []string
	for _, k := range []string{"tenantid", "clientid", "serviceconnectionid", "systemaccesstoken"} {
		if !f.has(k) {
			missing = append(missing, f.name(prefix, k))
		}
	}
	if len(missing) > 0 {
		b.fail(&SettingError{f.name(prefix, "credential"), "credential=azurepipelines needs " + strings.Join(missing, ", "),
			"Set the service connection's tenant id, client id and id, and systemAccessToken to $(System.AccessToken)"})
		return nil, auth
	}
	cred, err := azidentity.NewAzurePipelinesCredential(auth.TenantID, auth.ClientID, f.value("serviceconnectionid"), f.value("systemaccesstoken"),
		&azidentity.AzurePipelinesCredentialOptions{ClientOptions: opts, AdditionallyAllowedTenants: auth.AdditionallyAllowedTenants, DisableInstanceDiscovery: noDiscovery})
	return b.built(prefix, cred, err, auth)
}

// built records a constructor's error, which names no secret.
func (b *builder) built(prefix string, cred azcore.TokenCredential, err error, auth Auth) (azcore.TokenCredential, Auth) {
	if err != nil {
		b.fail(&SettingError{prefix, auth.Kind + " cannot be created: " + err.Error(), "Check the identity settings of this connection"})
		return nil, auth
	}
	return cred, auth
}

// authorityHost returns the Entra ID authority from the section or from
// AZURE_AUTHORITY_HOST, which azidentity reads too; "" means public Azure.
func (b *builder) authorityHost(prefix string, f fields) (string, bool) {
	name, host := f.name(prefix, "authorityhost"), f.value("authorityhost")
	if host == "" {
		name, host = "AZURE_AUTHORITY_HOST", strings.TrimSpace(b.getenv("AZURE_AUTHORITY_HOST"))
	}
	if host == "" {
		return "", true
	}
	u, err := url.Parse(host)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		b.fail(&SettingError{name, fmt.Sprintf("authority host %q is not an https URL", redactPassword(host)),
			"Use the cloud's Entra ID host, such as https://login.microsoftonline.com/ (public), https://login.chinacloudapi.cn/ (Azure China) or https://login.microsoftonline.us/ (Azure Government)"})
		return "", false
	}
	return host, true
}

func hostOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

func (b *builder) clientCertificate(prefix string, f fields, auth Auth, opts azcore.ClientOptions, noDiscovery bool) (azcore.TokenCredential, Auth) {
	auth.Kind = "ClientCertificateCredential"
	name, path, password := f.name(prefix, "clientcertificatepath"), f.value("clientcertificatepath"), f.value("clientcertificatepassword")
	if thumb := f.value("clientcertificate"); thumb != "" {
		name = f.name(prefix, "clientcertificate")
		if !isThumbprint(thumb) {
			b.fail(&SettingError{name, fmt.Sprintf("%q is not a certificate thumbprint", thumb),
				"Give the 40 hexadecimal digits of the thumbprint, or set clientCertificatePath to a PEM or PFX file"})
			return nil, auth
		}
		// Linux App Service with WEBSITE_LOAD_CERTIFICATES puts loaded private
		// certificates there, named by thumbprint, without a password.
		path = filepath.Join(b.certificateDir(), strings.ToUpper(thumb)+".p12")
	}
	auth.CertificatePath = path
	data, err := os.ReadFile(path)
	if err != nil {
		b.fail(&SettingError{name, fmt.Sprintf("cannot read the certificate file %q: %v", path, unwrapPathError(err)),
			"Point it at a readable PEM or PFX file; for a thumbprint on App Service set WEBSITE_LOAD_CERTIFICATES to it"})
		return nil, auth
	}
	certs, key, err := azidentity.ParseCertificates(data, []byte(password))
	if err != nil {
		fix := "Use a PEM file with an RSA certificate and its unencrypted key, or a PFX file and its password in clientCertificatePassword"
		if strings.Contains(err.Error(), "pkcs12: unknown") {
			// OpenSSL 3 and recent Windows encrypt PFX files with AES,
			// which azidentity's PKCS#12 reader does not know.
			fix = "The PFX file is encrypted with an algorithm Go cannot read (AES, the OpenSSL 3 default). Re-export it with `openssl pkcs12 -export -legacy`, or convert it to PEM with `openssl pkcs12 -in app.pfx -nodes -out app.pem` and point clientCertificatePath at that"
		}
		b.fail(&SettingError{name, fmt.Sprintf("the file %q holds no usable certificate and private key: %v", path, err), fix})
		return nil, auth
	}
	cred, err := azidentity.NewClientCertificateCredential(auth.TenantID, auth.ClientID, certs, key,
		&azidentity.ClientCertificateCredentialOptions{ClientOptions: opts, AdditionallyAllowedTenants: auth.AdditionallyAllowedTenants, DisableInstanceDiscovery: noDiscovery})
	return b.built(prefix, cred, err, auth)
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// workloadIdentity fills tenant, client and token file from AZURE_* as
// azidentity would, so that the check shows them and a gap is found now.
func (b *builder) workloadIdentity(prefix string, f fields, auth Auth, opts azcore.ClientOptions, noDiscovery bool) (azcore.TokenCredential, Auth) {
	auth.Kind = "WorkloadIdentityCredential"
	auth.TokenFilePath = f.value("tokenfilepath")
	ok := true
	for _, p := range []struct {
		key, env string
		v        *string
	}{{"tenantid", "AZURE_TENANT_ID", &auth.TenantID}, {"clientid", "AZURE_CLIENT_ID", &auth.ClientID}, {"tokenfilepath", "AZURE_FEDERATED_TOKEN_FILE", &auth.TokenFilePath}} {
		if *p.v == "" {
			*p.v = strings.TrimSpace(b.getenv(p.env))
		}
		if *p.v == "" {
			b.fail(&SettingError{f.name(prefix, p.key), "is missing: credential=workloadidentity needs it, and " + p.env + " is not set either",
				"Set it, or let the workload identity webhook set " + p.env})
			ok = false
		}
	}
	if !ok {
		return nil, auth
	}
	if _, err := os.Stat(auth.TokenFilePath); err != nil {
		b.fail(&SettingError{f.name(prefix, "tokenfilepath"), fmt.Sprintf("cannot read the token file %q: %v", auth.TokenFilePath, unwrapPathError(err)),
			"Point it at the federated token file (AZURE_FEDERATED_TOKEN_FILE on Kubernetes)"})
		return nil, auth
	}
	cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{ClientOptions: opts,
		TenantID: auth.TenantID, ClientID: auth.ClientID, TokenFilePath: auth.TokenFilePath,
		AdditionallyAllowedTenants: auth.AdditionallyAllowedTenants, DisableInstanceDiscovery: noDiscovery})
	return b.built(prefix, cred, err, auth)
}

// defaultCredential builds DefaultAzureCredential. Go's takes its managed
// identity from AZURE_CLIENT_ID only, so a section's clientId or resource id
// is honoured by asking that managed identity first where the host offers one
// (IDENTITY_ENDPOINT or MSI_ENDPOINT, as on Functions), which is the
// managed-identity place in the chain when no EnvironmentCredential is set up.
func (b *builder) defaultCredential(prefix string, f fields, auth Auth, opts azcore.ClientOptions, noDiscovery bool) (azcore.TokenCredential, Auth) {
	auth.Kind = "DefaultAzureCredential"
	// Microsoft.Extensions.Azure names the managed identity of
	// DefaultAzureCredential by managedIdentityClientId, else by clientId.
	if v := f.value("managedidentityclientid"); v != "" {
		auth.ClientID = v
	}
	auth.ResourceID = f.value("managedidentityresourceid")
	if auth.ClientID != "" && auth.ResourceID != "" {
		b.fail(&SettingError{f.name(prefix, "managedidentityresourceid"), "is set together with a client id",
			"A managed identity is named by one of them: remove the other"})
		return nil, auth
	}
	var set []string
	for _, v := range environmentCredentialVars {
		if b.getenv(v) != "" {
			set = append(set, v)
		}
	}
	switch clientID := b.getenv("AZURE_CLIENT_ID"); {
	case len(set) > 0:
		b.warn("%s: DefaultAzureCredential will try EnvironmentCredential first because %s is set, and that often ends in Unauthorized. To use the managed identity, set %s__credential=managedidentity, or remove the AZURE_* variables",
			prefix, strings.Join(set, ", "), prefix)
	case clientID != "" && auth.ClientID == "" && auth.ResourceID == "":
		b.warn("%s: DefaultAzureCredential will use the user-assigned managed identity with client id %s because AZURE_CLIENT_ID is set, not the system-assigned one. To use the system-assigned identity, set %s__credential=managedidentity, or remove AZURE_CLIENT_ID",
			prefix, clientID, prefix)
	}
	dac, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: opts,
		TenantID: auth.TenantID, AdditionallyAllowedTenants: auth.AdditionallyAllowedTenants, DisableInstanceDiscovery: noDiscovery})
	if err != nil {
		return b.built(prefix, nil, err, auth)
	}
	var id azidentity.ManagedIDKind
	switch {
	case auth.ClientID != "" && auth.ClientID != b.getenv("AZURE_CLIENT_ID"):
		id = azidentity.ClientID(auth.ClientID)
	case auth.ResourceID != "":
		id = azidentity.ResourceID(auth.ResourceID)
	}
	hosted := b.getenv("IDENTITY_ENDPOINT") != "" || b.getenv("MSI_ENDPOINT") != ""
	if id == nil || !hosted || len(set) > 0 {
		return dac, auth
	}
	mi, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts, ID: id})
	if err != nil {
		return b.built(prefix, nil, err, auth)
	}
	chain, err := azidentity.NewChainedTokenCredential([]azcore.TokenCredential{mi, dac}, nil)
	return b.built(prefix, chain, err, auth)
}
