package settings

import (
	"fmt"
	"regexp"
	"sort"
)

// placeholder finds a placeholder of the example settings and docs, such as
// "<name>" in https://<name>.service.signalr.net or "<client id>": no
// endpoint, id or path holds one, and one copied unchanged would otherwise
// pass the offline check and fail only at the first request.
var placeholder = regexp.MustCompile(`<[A-Za-z][A-Za-z0-9 _.-]*>`)

// wholePlaceholder is a secret that is nothing but a placeholder. A secret
// may hold "<" and ">" of its own, so only the whole value counts.
var wholePlaceholder = regexp.MustCompile(`^<[A-Za-z][A-Za-z0-9 _.-]*>$`)

// placeholderFixes say what to put in place of a placeholder, per key.
var placeholderFixes = map[string]string{
	"serviceuri":                "Replace it with the SignalR resource's endpoint, such as https://contoso.service.signalr.net (az signalr show -n <name> -g <resource-group> --query hostName -o tsv gives the host)",
	"clientendpoint":            "Replace it with the address clients connect to, or leave it empty",
	"serverendpoint":            "Replace it with the address REST calls go to, or leave it empty",
	"clientid":                  "Replace it with a client id (a GUID): a user-assigned identity's (az identity show -n <identity> -g <resource-group> --query clientId -o tsv) or an app registration's (az ad app list --display-name <app> --query [].appId -o tsv); or leave it empty for the system-assigned identity",
	"tenantid":                  "Replace it with the tenant id of the SignalR resource (az account show --query tenantId -o tsv), or leave it empty",
	"clientsecret":              "Replace it with the app registration's client secret (az ad app credential reset --id <client id> --append --query password -o tsv creates one and keeps the others)",
	"accesskey":                 "Replace it with the resource's access key (az signalr key list -n <name> -g <resource-group> --query primaryKey -o tsv), or better use Microsoft Entra ID",
	"clientcertificatepath":     "Replace it with the path of the app's certificate file (PEM or PFX), or leave it empty",
	"managedidentityresourceid": "Replace it with the identity's resource id (az identity show -n <identity> -g <resource-group> --query id -o tsv), or leave it empty",
}

// placeholders reports every value of one connection that still holds a
// placeholder, naming the setting, sorted by setting.
func placeholders(f fields) []error {
	var errs []error
	for k, v := range f {
		found := placeholder.FindString(v.Value)
		if secretKeys[k] {
			found = wholePlaceholder.FindString(v.Value)
		}
		if found == "" {
			continue
		}
		problem := fmt.Sprintf("value %q holds the placeholder %s of the example settings", v.Value, found)
		if secretKeys[k] {
			problem = "holds a placeholder of the example settings, not a secret"
		}
		fix, ok := placeholderFixes[k]
		if !ok {
			fix = "Replace it with the real value, or leave it empty"
		}
		errs = append(errs, &SettingError{v.Name, problem, fix})
	}
	sort.Slice(errs, func(i, j int) bool {
		return errs[i].(*SettingError).Setting < errs[j].(*SettingError).Setting
	})
	return errs
}
