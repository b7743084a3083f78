package settings

import (
	"fmt"
	"sort"
	"strings"
)

// fields are the keys of one endpoint, in lower case, from an identity
// section or translated from a connection string, with the names they were
// read from so that messages can point at them.
type fields map[string]setting

// sectionKeys are the keys an identity section may have: the credential's
// (azure-sdk-for-net sdk/extensions/Microsoft.Extensions.Azure/src/Internal/ClientFactory.cs)
// and the endpoint's (sdk/signalr/Microsoft.Azure.WebJobs.Extensions.SignalRService/src/Config/IConfigurationExtensions.cs),
// plus authorityHost and scope for sovereign clouds.
var sectionKeys = map[string]string{
	"serviceuri": "serviceUri", "credential": "credential", "clientid": "clientId",
	"clientsecret": "clientSecret", "tenantid": "tenantId", "clientcertificate": "clientCertificate",
	"clientcertificatepath": "clientCertificatePath", "clientcertificatepassword": "clientCertificatePassword",
	"managedidentityresourceid": "managedIdentityResourceId", "additionallyallowedtenants": "additionallyAllowedTenants",
	"tokenfilepath": "tokenFilePath", "authorityhost": "authorityHost", "scope": "scope", "type": "type",
	"serverendpoint": "serverEndpoint", "clientendpoint": "clientEndpoint",
	"managedidentityclientid": "managedIdentityClientId", "managedidentityobjectid": "managedIdentityObjectId",
	"serviceconnectionid": "serviceConnectionId", "systemaccesstoken": "systemAccessToken", "azurecloud": "azureCloud",
	"clientcertificatestorename": "clientCertificateStoreName", "clientcertificatestorelocation": "clientCertificateStoreLocation",
}

// secretKeys are the fields whose values are never printed.
var secretKeys = map[string]bool{"clientsecret": true, "clientcertificatepassword": true, "accesskey": true, "systemaccesstoken": true}

// readSection checks the settings under one prefix: two spellings of one key
// with different values are an error, an unknown key a warning (most often a
// typo that would silently change the credential).
func readSection(prefix string, children map[string]setting) (fields, []error, []string) {
	f := fields{}
	var errs []error
	var warns []string
	for k, v := range children {
		if v.Clash != "" {
			errs = append(errs, clashError(k, v))
		}
		if k == "accesskey" {
			// The C# extension reads an access key from a connection string
			// only: a section gives serviceUri, type, the endpoints and a
			// token credential (IConfigurationExtensions.TryGetEndpointFromIdentity,
			// Microsoft.Azure.WebJobs.Extensions.SignalRService).
			warns = append(warns, fmt.Sprintf("%s is ignored: an access key belongs in a connection string, not in a section with serviceUri, which authenticates with a credential instead. "+
				"Set %s=Endpoint=<serviceUri>;AccessKey=<key>;Version=1.0; in place of the section, or remove %s to use Microsoft Entra ID", v.Name, prefix, v.Name))
			continue
		}
		if _, known := sectionKeys[k]; !known {
			warns = append(warns, fmt.Sprintf("%s: key %q is not known and is ignored. Known keys under %s: %s", v.Name, k, prefix, knownSectionKeys()))
			continue
		}
		f[k] = v
	}
	return f, errs, warns
}

func clashError(k string, v setting) error {
	bad := ""
	if !secretKeys[k] {
		bad = fmt.Sprintf(" (%q and another value)", v.Value)
	}
	return &SettingError{v.Name, "is set twice with different values, also as " + v.Clash + bad,
		"Keep one spelling: names match case-insensitively and \":\" equals \"__\""}
}

func knownSectionKeys() string {
	names := make([]string, 0, len(sectionKeys))
	for _, n := range sectionKeys {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// value returns a field's trimmed value, "" when absent.
func (f fields) value(k string) string { return strings.TrimSpace(f[k].Value) }

// has reports whether a field is set to something.
func (f fields) has(k string) bool { return f.value(k) != "" }

// name returns the setting a field was read from, or where it would be.
func (f fields) name(prefix, k string) string {
	if v, ok := f[k]; ok {
		return v.Name
	}
	return prefix + "__" + sectionKeys[k]
}
