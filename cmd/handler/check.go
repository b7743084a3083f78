package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/signalr-entra/handler/settings"
)

// runCheck runs `handler check`: it resolves the app settings (and a
// local.settings.json in the working directory) as `serve` would and reports
// each endpoint, how it authenticates and every warning, without a secret.
// It returns the exit code: 0 when the settings are usable.
//
// Only the offline checks exist so far; an online mode (tokens, roles,
// service reachability) will plug in after the offline report.
func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	offline := fs.Bool("offline", false, "resolve the settings only, without any network call")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	local := fs.String("local-settings", settings.LocalSettingsFile, "local.settings.json to read when it exists; the environment wins")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "check: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	r := checkReport{Mode: "offline", Endpoints: []endpointReport{}, Warnings: []string{}, Errors: []string{}}
	if !*offline {
		r.Notes = append(r.Notes, "online checks are not available yet: this is the offline report, and no network call was made")
	}
	exported, err := settings.UseLocalSettings(*local)
	r.LocalSettings = exported
	var cfg *settings.Config
	if err == nil {
		cfg, err = settings.Load(nil)
	}
	r.fill(cfg, err)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(r); err != nil {
			fmt.Fprintln(stderr, "check:", err)
			return 1
		}
	} else {
		r.write(stdout)
	}
	if !r.OK {
		return 1
	}
	return 0
}

// checkReport is what `handler check` prints. It holds no secret: Auth
// describes credentials without them, and errors never quote one.
type checkReport struct {
	Mode          string           `json:"mode"`
	OK            bool             `json:"ok"`
	LocalSettings []string         `json:"localSettings,omitempty"`
	Endpoints     []endpointReport `json:"endpoints"`
	Warnings      []string         `json:"warnings"`
	Errors        []string         `json:"errors"`
	Notes         []string         `json:"notes,omitempty"`
}

type endpointReport struct {
	Name           string   `json:"name"`
	Setting        string   `json:"setting"`
	ServiceURI     string   `json:"serviceUri"`
	ClientEndpoint string   `json:"clientEndpoint,omitempty"`
	ServerEndpoint string   `json:"serverEndpoint,omitempty"`
	Type           string   `json:"type"`
	Scope          string   `json:"scope,omitempty"`
	Auth           string   `json:"auth"`
	Credential     string   `json:"credential"`
	UserAssigned   bool     `json:"userAssigned,omitempty"`
	ClientID       string   `json:"clientId,omitempty"`
	ResourceID     string   `json:"managedIdentityResourceId,omitempty"`
	TenantID       string   `json:"tenantId,omitempty"`
	AllowedTenants []string `json:"additionallyAllowedTenants,omitempty"`
	AuthorityHost  string   `json:"authorityHost,omitempty"`
	Certificate    string   `json:"certificatePath,omitempty"`
	TokenFile      string   `json:"tokenFilePath,omitempty"`
}

func (r *checkReport) fill(cfg *settings.Config, err error) {
	r.Errors = append(r.Errors, flatten(err)...)
	r.OK = err == nil
	if cfg == nil {
		return
	}
	r.Warnings = append(r.Warnings, cfg.Warnings...)
	for _, e := range cfg.Endpoints {
		r.Endpoints = append(r.Endpoints, endpointReport{
			Name: e.Name, Setting: e.Setting, ServiceURI: urlString(e.ServiceURI),
			ClientEndpoint: urlString(e.ClientEndpoint), ServerEndpoint: urlString(e.ServerEndpoint),
			Type: string(e.Type), Scope: e.Scope, Auth: e.Auth.Identity(), Credential: e.Auth.Kind,
			UserAssigned: e.Auth.UserAssigned, ClientID: e.Auth.ClientID, ResourceID: e.Auth.ResourceID,
			TenantID: e.Auth.TenantID, AllowedTenants: e.Auth.AdditionallyAllowedTenants,
			AuthorityHost: e.Auth.AuthorityHost, Certificate: e.Auth.CertificatePath, TokenFile: e.Auth.TokenFilePath,
		})
	}
}

// flatten lists the problems that errors.Join put together, one a line.
func flatten(err error) []string {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []string{err.Error()}
}

func urlString(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.String()
}

func (r *checkReport) write(w io.Writer) {
	if len(r.LocalSettings) > 0 {
		fmt.Fprintf(w, "read %s: %s\n", settings.LocalSettingsFile, strings.Join(r.LocalSettings, ", "))
	}
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
	if r.OK {
		fmt.Fprintf(w, "%s check passed: %d endpoint(s), %d warning(s)\n", r.Mode, len(r.Endpoints), len(r.Warnings))
	} else {
		fmt.Fprintf(w, "%s check failed: %d problem(s)\n", r.Mode, len(r.Errors))
	}
}
