package settings

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/signalr-entra/handler/internal/loopback"
)

// SettingError is one problem with one app setting. Load joins every problem
// it finds with errors.Join, so errors.As finds each of them.
type SettingError struct {
	// Setting is the app setting's name as written, or a connection string's
	// setting and key, such as "AzureSignalRConnectionString (AuthType)".
	Setting string
	// Problem says what is wrong and quotes the bad value, unless secret.
	Problem string
	// Fix says what is valid and what to do.
	Fix string
}

func (e *SettingError) Error() string {
	return e.Setting + ": " + e.Problem + ". " + e.Fix
}

// redactPassword hides the password of a URI's user info, so that errors
// and checks can quote the URI, even one that does not parse: from the
// first "//" whose user name ends in ":" to the last "@" (a password may
// hold "@" or "/", and hiding a little too much beats showing part of a
// secret). It follows (?s)(//[^/@:]*):.*@ -> $1:xxxxx@, written out since
// it runs at every start.
func redactPassword(uri string) string {
	at := strings.LastIndexByte(uri, '@')
	for i := 0; i+1 < at; i++ {
		if uri[i] != '/' || uri[i+1] != '/' {
			continue
		}
		end := i + 2
		for end < len(uri) && uri[end] != '/' && uri[end] != '@' && uri[end] != ':' {
			end++
		}
		if end < at && uri[end] == ':' {
			return uri[:end] + ":xxxxx@" + uri[at+1:]
		}
	}
	return uri
}

// parseServiceURL checks a service, client or server endpoint: http or https,
// a host, nothing after it but an optional "/", and plain http only to loopback
// (a bearer token must never cross the network in clear).
func parseServiceURL(setting, value string) (*url.URL, error) {
	return parseEndpointURL(setting, value, false)
}

// parseEndpointURL is parseServiceURL that, with keepPath, keeps a path (a
// client endpoint behind a proxy), without a trailing "/".
func parseEndpointURL(setting, value string, keepPath bool) (*url.URL, error) {
	const fix = "Use the resource's endpoint, such as https://<resource>.service.signalr.net"
	shown := strconv.Quote(redactPassword(value))
	u, err := url.Parse(strings.TrimSpace(value))
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return nil, &SettingError{setting, "value " + shown + " is not an absolute URI", fix}
	}
	u.Scheme = strings.ToLower(u.Scheme)
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, &SettingError{setting, "scheme of " + shown + " is not http or https", fix}
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || !keepPath && strings.Trim(u.Path, "/") != "":
		return nil, &SettingError{setting, "value " + shown + " has more than a scheme, host and port", fix}
	case u.Scheme == "http" && !loopback.Is(u.Hostname()):
		return nil, &SettingError{setting, "value " + shown + " uses plain http to a host that is not loopback",
			"Use https; plain http is allowed only to 127.0.0.1, [::1] or localhost (a local stand-in)"}
	}
	if !keepPath || strings.Trim(u.Path, "/") == "" {
		u.Path, u.RawPath = "", ""
	}
	u.Path, u.RawPath = strings.TrimSuffix(u.Path, "/"), strings.TrimSuffix(u.RawPath, "/")
	return u, nil
}
