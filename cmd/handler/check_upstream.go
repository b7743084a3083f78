package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/signalr-entra/handler/settings"
)

// upstreamReport says how the upstream function authenticates SignalR
// Service's requests and, online, what the tenant's OpenID configuration
// holds.
type upstreamReport struct {
	// Refused is true when nothing is configured to check upstream
	// requests, so that every one is refused.
	Refused bool `json:"refused"`
	// Checks are what each request must pass: "signature", "token".
	Checks     []string `json:"checks"`
	AccessKeys int      `json:"accessKeys"`
	Audience   string   `json:"audience,omitempty"`
	Tenant     string   `json:"tenant,omitempty"`
	Identity   string   `json:"identity,omitempty"`
	// Online, with an audience: the configuration fetched and what it holds.
	OpenIDConfiguration string   `json:"openIdConfiguration,omitempty"`
	Issuers             []string `json:"issuers,omitempty"`
	KeyIDs              []string `json:"keyIds,omitempty"`
	OK                  bool     `json:"ok"`
	Detail              string   `json:"detail,omitempty"`
	// AppRoot is the Functions app root the check found, and NotDeployed
	// says that it has no upstream function, so the service's requests
	// cannot reach the handler; "" when the handler runs standalone, where
	// it serves upstream itself.
	AppRoot     string `json:"appRoot,omitempty"`
	NotDeployed bool   `json:"notDeployed,omitempty"`
}

// locate notes the app root the checked settings belong to (findAppRoot)
// and whether it deploys the upstream function.
func (u *upstreamReport) locate(dir string) {
	if dir == "" {
		return
	}
	u.AppRoot, _ = filepath.Abs(dir)
	if _, err := os.Stat(filepath.Join(dir, "upstream", "function.json")); err != nil {
		u.NotDeployed = true
		if u.Refused {
			u.Refused, u.Detail = false, ""
		}
	}
}

// findAppRoot finds the app root the checked settings belong to:
// FUNCTIONS_APP_ROOT_PATH, else the first of the local.settings.json's
// folder, the working directory and the executable's folder that holds
// host.json beside a function folder, as the Functions host finds functions
// (a folder with function.json beside host.json). It returns "" when there
// is none: the handler runs standalone.
func findAppRoot(local *localSettingsReport) string {
	dirs := []string{os.Getenv("FUNCTIONS_APP_ROOT_PATH")}
	if dirs[0] == "" {
		dirs = dirs[:0]
		if local != nil && local.File != "" {
			dirs = append(dirs, filepath.Dir(local.File))
		}
		dirs = append(dirs, ".")
		if exe, err := os.Executable(); err == nil {
			dirs = append(dirs, filepath.Dir(exe))
		}
	}
	for _, dir := range dirs {
		functions, _ := filepath.Glob(filepath.Join(dir, "*", "function.json"))
		if _, err := os.Stat(filepath.Join(dir, "host.json")); err == nil && len(functions) > 0 {
			return dir
		}
	}
	return ""
}

// upstreamRefusedNote says what to set when nothing checks upstream requests.
const upstreamRefusedNote = "the upstream function refuses every request: set SIGNALR_UPSTREAM_AUDIENCE, SIGNALR_UPSTREAM_TENANT " +
	"and SIGNALR_UPSTREAM_IDENTITY to check the service's managed identity token, or use a connection string with an AccessKey to check X-ASRS-Signature"

// fillUpstream reports the upstream settings without a network call.
func (r *checkReport) fillUpstream(cfg *settings.Config) {
	o := upstreamOptions(cfg)
	u := &upstreamReport{Checks: []string{}, AccessKeys: len(o.AccessKeys), Audience: o.Audience, Tenant: o.Tenant, Identity: o.Identity, OK: true}
	r.Upstream = u
	if err := o.Validate(); err != nil {
		u.OK, u.Detail = false, err.Error()
		r.Errors = append(r.Errors, err.Error())
		r.OK = false
		return
	}
	if u.AccessKeys > 0 {
		u.Checks = append(u.Checks, "signature")
	}
	if o.Audience != "" {
		u.Checks = append(u.Checks, "token")
	}
	if len(u.Checks) == 0 {
		u.Refused, u.Detail = true, upstreamRefusedNote
	}
}

// checkUpstreamOnline fetches the OpenID configuration the token check will
// use. An app whose upstream tokens cannot be checked fails the check.
func checkUpstreamOnline(ctx context.Context, cfg *settings.Config, client *http.Client, r *checkReport) {
	u := r.Upstream
	if u == nil || u.Audience == "" || !u.OK {
		return
	}
	o := upstreamOptions(cfg)
	o.HTTPClient = client
	c, err := o.OpenIDConfiguration(ctx)
	if err != nil {
		u.OK = false
		u.Detail = "the OpenID configuration could not be read, so every upstream token would be refused: " + err.Error() +
			". Check SIGNALR_UPSTREAM_TENANT and AZURE_AUTHORITY_HOST"
		r.OK = false
		return
	}
	u.OpenIDConfiguration, u.Issuers, u.KeyIDs = c.URL, c.Issuers, c.KeyIDs
}

// write prints the upstream section of the human report.
func (u *upstreamReport) write(w io.Writer) {
	if u == nil {
		return
	}
	fmt.Fprintln(w, "upstream (events from the service)")
	line := func(label, value string) {
		if value != "" {
			fmt.Fprintf(w, "  %-16s %s\n", label+":", value)
		}
	}
	checks := []string{}
	for _, c := range u.Checks {
		switch c {
		case "signature":
			checks = append(checks, fmt.Sprintf("X-ASRS-Signature against %d access key(s)", u.AccessKeys))
		case "token":
			checks = append(checks, "bearer token for "+u.Audience)
		}
	}
	if u.NotDeployed {
		line("function", "not deployed: "+u.AppRoot+" has no upstream/function.json, so the service's upstream requests do not reach the handler")
	}
	line("requests need", strings.Join(checks, " and "))
	line("tenant", u.Tenant)
	line("identity", u.Identity)
	if u.OpenIDConfiguration != "" {
		fmt.Fprintf(w, "  ok   %-15s %s: issuer %s, %d signing key(s)\n", "openid config", u.OpenIDConfiguration, strings.Join(u.Issuers, " or "), len(u.KeyIDs))
	}
	switch {
	case !u.OK:
		fmt.Fprintf(w, "  FAIL %s\n", u.Detail)
	case u.Refused:
		fmt.Fprintf(w, "  note: %s\n", u.Detail)
	}
}
