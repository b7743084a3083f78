package settings

import (
	"fmt"
	"sort"
)

// findPlaceholder returns the first placeholder of the example settings and
// docs in v, such as "<name>" in https://<name>.service.signalr.net or
// "<client id>" (<[A-Za-z][A-Za-z0-9 _.-]*>), or "". No endpoint, id or path
// holds one, and one copied unchanged would otherwise pass the offline check
// and fail only at the first request. With whole, only a v that is nothing
// but a placeholder counts: a secret may hold "<" and ">" of its own.
// Written out rather than as a regular expression, which would be compiled
// at every start.
func findPlaceholder(v string, whole bool) string {
	for start := 0; start < len(v); start++ {
		if v[start] != '<' {
			if whole {
				return ""
			}
			continue
		}
		end := start + 1
		for end < len(v) && placeholderByte(v[end], end == start+1) {
			end++
		}
		if end > start+1 && end < len(v) && v[end] == '>' && (!whole || end == len(v)-1) {
			return v[start : end+1]
		}
		if whole {
			return ""
		}
	}
	return ""
}

// placeholderByte says whether c may stand in a placeholder's name: a letter
// first, then letters, digits, spaces and _.-
func placeholderByte(c byte, first bool) bool {
	if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' {
		return true
	}
	return !first && ('0' <= c && c <= '9' || c == ' ' || c == '_' || c == '.' || c == '-')
}

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
		found := findPlaceholder(v.Value, secretKeys[k])
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
