package settings

import (
	"fmt"
	"strings"
)

// connectionStringKeys maps the keys of a connection string, in lower case,
// to their spelling in messages.
var connectionStringKeys = map[string]string{
	"endpoint": "Endpoint", "accesskey": "AccessKey", "version": "Version", "port": "Port",
	"clientendpoint": "ClientEndpoint", "serverendpoint": "ServerEndpoint", "authtype": "AuthType",
	"clientid": "ClientId", "clientsecret": "ClientSecret", "tenantid": "TenantId",
	"clientcert": "ClientCert", "scope": "Scope",
}

// ParseConnectionString splits a SignalR Service connection string into its
// keys, in lower case, and values: ";"-separated key=value pairs, keys
// case-insensitive, white space around keys and values ignored, a duplicate
// key an error. It does not check the values; Load does. Errors never quote a
// value, which may be a secret.
func ParseConnectionString(s string) (map[string]string, error) {
	out := map[string]string{}
	for i, part := range strings.Split(s, ";") {
		if strings.TrimSpace(part) == "" {
			continue // an empty part, such as after a trailing ";"
		}
		k, v, ok := strings.Cut(part, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok || k == "" {
			return nil, fmt.Errorf("part %d is not key=value. Write the connection string as Endpoint=https://<resource>.service.signalr.net;AccessKey=<key>;Version=1.0;", i+1)
		}
		name, known := connectionStringKeys[k]
		if !known {
			name = "an unknown key"
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("key %s appears twice. Keep one", name)
		}
		out[k] = strings.TrimSpace(v)
	}
	return out, nil
}

// connectionStringFields turns a parsed connection string into the fields an
// identity section would have, so that one credential choice serves both.
// AuthType becomes the credential key or nothing, as azure-signalr's
// src/Microsoft.Azure.SignalR.Common/Utilities/ConnectionStringParser.cs
// reads it.
func connectionStringFields(name string, kv map[string]string) (fields, []error, []string) {
	f := fields{}
	var errs []error
	var warns []string
	keyName := func(k string) string { return name + " (" + connectionStringKeys[k] + ")" }
	for k := range kv {
		if _, known := connectionStringKeys[k]; !known {
			warns = append(warns, fmt.Sprintf("%s: connection string key %q is not known and is ignored. Known keys: Endpoint, AccessKey, Version, Port, ClientEndpoint, ServerEndpoint, AuthType, ClientId, ClientSecret, TenantId, ClientCert, Scope", name, k))
		}
	}
	set := func(field, k string) {
		// An absent key is kept empty so that messages name it as a
		// connection string key, not as a section key.
		f[field] = setting{Name: keyName(k), Value: kv[k]}
	}
	set("serviceuri", "endpoint")
	set("clientendpoint", "clientendpoint")
	set("serverendpoint", "serverendpoint")
	set("scope", "scope")
	set("port", "port")
	set("version", "version")
	set("accesskey", "accesskey")
	set("clientid", "clientid")
	set("tenantid", "tenantid")
	set("clientsecret", "clientsecret")
	set("clientcertificatepath", "clientcert")

	authType, hasAuth := kv["authtype"]
	switch strings.ToLower(authType) {
	case "":
		if hasAuth {
			errs = append(errs, authTypeError(keyName("authtype"), authType))
		}
		if _, ok := kv["accesskey"]; !ok {
			errs = append(errs, &SettingError{name, "the connection string has neither AccessKey nor AuthType",
				"Add AccessKey=<key>, or AuthType=azure.msi to use the managed identity (or azure, azure.app)"})
		}
		for _, k := range []string{"clientid", "clientsecret", "tenantid", "clientcert"} {
			if _, ok := kv[k]; ok {
				warns = append(warns, fmt.Sprintf("%s: %s is ignored without AuthType; add AuthType=azure.msi or azure.app to use it", name, connectionStringKeys[k]))
			}
		}
		delete(f, "clientid")
		delete(f, "tenantid")
		delete(f, "clientsecret")
		delete(f, "clientcertificatepath")
		return f, errs, warns
	case "azure":
		// DefaultAzureCredential, as in C#: it has no use for an app's
		// secret or certificate, and choosing the app instead would
		// authenticate as someone other than the AuthType says.
		for _, k := range []string{"clientsecret", "clientcert"} {
			if _, ok := kv[k]; ok {
				warns = append(warns, fmt.Sprintf("%s: %s is ignored because AuthType=azure means DefaultAzureCredential; write AuthType=azure.app to use the app registration", name, connectionStringKeys[k]))
			}
		}
		delete(f, "clientsecret")
		delete(f, "clientcertificatepath")
	case "azure.msi":
		f["credential"] = setting{Name: keyName("authtype"), Value: "managedidentity"}
	case "azure.app":
		errs = append(errs, needAppCredential(name, kv, "azure.app")...)
	case "aad":
		// The legacy value meant an app when a tenant is given, else the
		// managed identity; users expecting DefaultAzureCredential got surprised.
		if _, ok := kv["tenantid"]; ok {
			errs = append(errs, needAppCredential(name, kv, "aad with TenantId")...)
			break
		}
		f["credential"] = setting{Name: keyName("authtype"), Value: "managedidentity"}
		warns = append(warns, fmt.Sprintf("%s: AuthType=aad without TenantId uses the managed identity, not DefaultAzureCredential; write AuthType=azure.msi (or AuthType=azure for DefaultAzureCredential) to say so", name))
	default:
		errs = append(errs, authTypeError(keyName("authtype"), authType))
	}
	if _, ok := kv["accesskey"]; ok {
		warns = append(warns, fmt.Sprintf("%s: AccessKey is ignored because AuthType=%s uses Microsoft Entra ID; remove it", name, authType))
		delete(f, "accesskey")
	}
	return f, errs, warns
}

// needAppCredential reports an app registration without its secret or
// certificate, which must not fall back to DefaultAzureCredential.
func needAppCredential(name string, kv map[string]string, authType string) []error {
	_, secret := kv["clientsecret"]
	_, cert := kv["clientcert"]
	if secret || cert {
		return nil
	}
	return []error{&SettingError{name, "AuthType=" + authType + " needs ClientSecret or ClientCert",
		"Add ClientId, TenantId and ClientSecret (or ClientCert=<path to a PEM or PFX file>)"}}
}

func authTypeError(name, value string) error {
	return &SettingError{name, fmt.Sprintf("invalid AuthType %q", value),
		"Valid values are azure (DefaultAzureCredential), azure.msi (managed identity), azure.app (app registration) and aad (legacy); leave AuthType out to use AccessKey"}
}
