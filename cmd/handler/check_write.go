package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/signalr-entra/handler/settings"
)

// checkLabels name the online checks for people.
var checkLabels = map[string]string{
	checkToken:         "Entra token",
	checkCredential:    "credential",
	checkHealth:        "health",
	checkAuthAPI:       "auth API",
	checkRESTRead:      "REST read",
	checkGenerateToken: ":generateToken",
	checkRESTWrite:     "REST write",
	checkTenant:        "tenant",
	checkRoles:         "roles",
	checkScheme:        "scheme",
}

// write prints the report for people: each endpoint's settings, then,
// online, each call's outcome with its fix and what each function can do.
func (r *checkReport) write(w io.Writer) {
	if l := r.LocalSettings; l != nil && l.Unusable {
		fmt.Fprintf(w, "local settings: cannot use %s: see the error below\n", l.File)
	} else if l != nil && l.File != "" {
		fmt.Fprintf(w, "local settings: read %s (%d values set: %s; %d empty; %d \"#\" comments skipped)\n",
			l.File, l.Count, orNone(strings.Join(l.Set, ", ")), l.Empty, l.Comments)
	} else if l != nil {
		fmt.Fprintf(w, "local settings: no %s at %s (-local-settings names another); the environment alone is used\n",
			settings.LocalSettingsFile, strings.Join(l.LookedFor, " or "))
	}
	if len(r.Hubs) > 0 {
		source := "SIGNALR_HUBS"
		if !r.HubsSet {
			source = "SIGNALR_HUBS is unset"
		}
		fmt.Fprintf(w, "hubs served: %s (%s; requests that name none get %s)\n", strings.Join(r.Hubs, ", "), source, r.Hubs[0])
	}
	if r.Hub != "" {
		fmt.Fprintf(w, "checking hub %s with SIGNALR_NEGOTIATE=%s\n", r.Hub, r.Negotiate)
	}
	failing, fixes := 0, 0
	for _, e := range r.Endpoints {
		name := e.Name
		if name == "" {
			name = "(named connection)"
		}
		fmt.Fprintf(w, "endpoint %s from %s\n", name, e.Setting)
		line := func(label, value string) {
			if value != "" {
				fmt.Fprintf(w, "  %-16s %s\n", label+":", value)
			}
		}
		line("service URI", e.ServiceURI)
		line("client endpoint", e.ClientEndpoint)
		line("server endpoint", e.ServerEndpoint)
		line("type", e.Type)
		line("scope", e.Scope)
		line("credential", e.Credential)
		line("identity", e.Auth)
		line("tenant", e.TenantID)
		line("allowed tenants", strings.Join(e.AllowedTenants, ";"))
		line("authority host", e.AuthorityHost)
		line("certificate", e.Certificate)
		line("token file", e.TokenFile)
		if e.Principal != nil {
			line("principal", e.Principal.String())
		}
		for _, c := range e.Checks {
			status := "ok  "
			if !c.OK {
				status = "FAIL"
			}
			fmt.Fprintf(w, "  %s %-15s %s\n", status, checkLabels[c.Name], indent(c.Detail, 23))
			if c.Fix != "" {
				fmt.Fprintf(w, "       fix: %s\n", indent(c.Fix, 12))
				fixes++
			}
		}
		if f := e.Functions; f != nil {
			for _, fn := range []struct {
				name string
				r    functionReport
			}{{"negotiate", f.Negotiate}, {"messages", f.Messages}, {"groups", f.Groups}, {"manage", f.Manage}} {
				if fn.r.OK {
					line(fn.name, "works: "+fn.r.How)
				} else {
					line(fn.name, "CANNOT WORK: "+fn.r.Why)
					failing++
				}
			}
		}
	}
	r.Upstream.write(w)
	if r.Upstream != nil && !r.Upstream.OK {
		failing++
	}
	r.SignIn.write(w)
	if r.SignIn != nil && !r.SignIn.OK {
		failing++
	}
	for _, s := range r.Warnings {
		fmt.Fprintln(w, "warning:", s)
	}
	for _, s := range r.Errors {
		fmt.Fprintln(w, "error:", s)
	}
	for _, s := range r.Notes {
		fmt.Fprintln(w, "note:", s)
	}
	switch {
	case r.OK:
		fmt.Fprintf(w, "%s check passed: %d endpoint(s), %d warning(s)\n", r.Mode, len(r.Endpoints), len(r.Warnings))
	case len(r.Errors) > 0:
		fmt.Fprintf(w, "%s check failed: %d problem(s)\n", r.Mode, len(r.Errors))
	case fixes > 0:
		fmt.Fprintf(w, "%s check failed: %d function(s) cannot work; the fixes are above\n", r.Mode, failing)
	default:
		// A network failure or a timeout: the checks say what failed.
		fmt.Fprintf(w, "%s check failed: %d function(s) cannot work; see the checks above\n", r.Mode, failing)
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// indent puts n spaces before every line of s but the first, so that
// multi-line details and fixes stay under their label.
func indent(s string, n int) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+strings.Repeat(" ", n))
}
