// Package loopback says whether a host names this machine: settings,
// bindings and handler allow plain http, and test authorities, only there.
package loopback

import (
	"net"
	"strings"
)

// Is reports whether host, a URL's Hostname, is localhost or a loopback IP
// address.
func Is(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
