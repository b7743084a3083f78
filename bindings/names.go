package bindings

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/signalr-entra/handler/internal/loopback"
)

const maxNameLen = 1024

// ValidHubName reports whether name follows the service's rule for hub and
// application names: a letter, then up to 127 letters, digits or _`,.[]
// (^[A-Za-z][A-Za-z0-9_`,.[\]]{0,127}$). Written out rather than as a
// regular expression: that one compiles to a large program at start-up.
func ValidHubName(name string) bool {
	if len(name) == 0 || len(name) > 128 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if i == 0 && !letter {
			return false
		}
		if !letter && !('0' <= c && c <= '9') && !strings.ContainsRune("_`,.[]", rune(c)) {
			return false
		}
	}
	return true
}

// ValidateHub checks a hub name against the service's rule.
func ValidateHub(hub string) error {
	if !ValidHubName(hub) {
		return fmt.Errorf("invalid hub name %q: it must start with a letter and hold at most 128 letters, digits and _`,.[]", hub)
	}
	return nil
}

// validateName checks a group, user or connection id: 1 to 1024 characters,
// not only white space (the service's group pattern, applied to all three),
// not "." or "..", and UTF-8.
func validateName(kind, v string) error {
	switch {
	case strings.TrimSpace(v) == "":
		return &InputError{fmt.Sprintf("invalid %s %q: it must not be empty or only white space", kind, v)}
	case v == "." || v == "..":
		// As a path segment it would be removed by URL normalization,
		// sending to the whole hub instead (path escaping keeps dots).
		return &InputError{fmt.Sprintf("invalid %s %q: a name of only dots would be read as a step in the URL path; choose another", kind, v)}
	}
	return checkText(kind, v)
}

// checkText refuses a name over the service's 1024-byte limit, or not
// UTF-8, which would reach the service with its bad bytes replaced.
func checkText(kind, v string) error {
	switch {
	case len(v) > maxNameLen:
		return &InputError{fmt.Sprintf("invalid %s %q…: it is %d bytes long, over the limit of %d bytes", kind, strings.ToValidUTF8(v[:32], ""), len(v), maxNameLen)}
	case !utf8.ValidString(v):
		return &InputError{fmt.Sprintf("invalid %s: it holds bytes that are not UTF-8; send UTF-8 text", kind)}
	}
	return nil
}

// prefixedHub is the hub name the service sees: lower-cased, prefixed with
// the application name as the C# SDK does.
func prefixedHub(application, hub string) string {
	if application == "" {
		return strings.ToLower(hub)
	}
	return strings.ToLower(application) + "_" + strings.ToLower(hub)
}

// checkTransport refuses plain http except to loopback: a bearer token or
// access key must not cross a network in clear text.
func checkTransport(setting, field string, u *url.URL) error {
	switch {
	case u == nil:
		return nil
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && loopback.Is(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return fmt.Errorf("%s: %s %q uses plain http to a host that is not loopback; tokens would cross the network in clear text: use https", setting, field, u.Redacted())
	default:
		return fmt.Errorf("%s: %s %q has scheme %q; valid schemes are https (and http to 127.0.0.1 only)", setting, field, u.Redacted(), u.Scheme)
	}
}

// baseURL returns u without a trailing slash, the root every path hangs from.
func baseURL(u *url.URL) string {
	c := *u
	c.RawQuery, c.Fragment = "", ""
	return strings.TrimSuffix(c.String(), "/")
}
