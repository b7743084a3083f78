package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/signalr-entra/handler/settings"
)

// runCheck runs `handler check`: it resolves the app settings (and a
// local.settings.json, found as `serve` finds it) as `serve` would and reports
// each endpoint, how it authenticates and every warning, without a secret.
// Unless -offline, it then asks Entra ID and each SignalR Service what the
// identity may do (check_online.go). It returns the exit code: 0 when the
// settings are usable and, online, every function can work.
func runCheck(args []string, stdout, stderr io.Writer) int {
	return runCheckWith(args, stdout, stderr, nil)
}

// runCheckWith is runCheck with the transports of the online checks, which
// tests point at the loopback stand-in.
func runCheckWith(args []string, stdout, stderr io.Writer, opts *checkOptions) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	offline := fs.Bool("offline", false, "resolve the settings only, without any network call")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	local := fs.String("local-settings", "", "the local.settings.json to read (default: the one in the working directory, else beside the executable); the environment wins")
	timeout := fs.Duration("timeout", 30*time.Second, "bound on the whole online check")
	// Help asked for goes to stdout and is no error; a wrong flag's usage
	// goes to stderr after flag's message.
	usage := func(w io.Writer) {
		fmt.Fprintln(w, "usage: handler check [-offline] [-json] [-local-settings file] [-timeout 30s]")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	fs.Usage = func() {}
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		usage(stdout)
		return 0
	} else if err != nil {
		usage(stderr)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "check: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *timeout <= 0 {
		fmt.Fprintf(stderr, "check: invalid -timeout %s: it must be positive, such as 30s\n", *timeout)
		return 2
	}
	r := checkReport{Mode: "offline", Endpoints: []endpointReport{}, Warnings: []string{}, Errors: []string{}}
	if !*offline {
		r.Mode = "online"
	}
	var err error
	r.LocalSettings, err = useLocalSettings(*local)
	if err != nil && *local != "" && r.LocalSettings.File == "" {
		fmt.Fprintf(stderr, "check: -local-settings: %v\n", err)
		return 2
	}
	var cfg *settings.Config
	if err == nil {
		var lo settings.LoadOptions
		if opts != nil {
			lo.Transport = opts.Transport
		}
		cfg, err = settings.Load(&lo)
	}
	r.fill(cfg, err)
	appRoot := findAppRoot(r.LocalSettings)
	if r.Upstream != nil {
		r.Upstream.locate(appRoot)
	}
	if appRoot != "" {
		r.checkRoutes(appRoot)
	}
	switch {
	case *offline:
	case !r.OK:
		r.Notes = append(r.Notes, "no network call was made: fix the settings above, then run the check again")
	default:
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		checkOnline(ctx, cfg, opts, *timeout, &r)
		var openIDClient *http.Client
		if opts != nil {
			openIDClient = opts.OpenIDClient
		}
		checkUpstreamOnline(ctx, cfg, openIDClient, &r)
		checkSignInOnline(ctx, openIDClient, &r)
		cancel()
	}
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
	Mode string `json:"mode"`
	OK   bool   `json:"ok"`
	// Hub and Negotiate are what the online checks used: the first hub of
	// SIGNALR_HUBS and SIGNALR_NEGOTIATE.
	Hub       string `json:"hub,omitempty"`
	Negotiate string `json:"negotiate,omitempty"`
	// Hubs are the hubs served, from SIGNALR_HUBS when HubsSet.
	Hubs          []string             `json:"hubs"`
	HubsSet       bool                 `json:"hubsSet"`
	LocalSettings *localSettingsReport `json:"localSettings"`
	Endpoints     []endpointReport     `json:"endpoints"`
	Warnings      []string             `json:"warnings"`
	Errors        []string             `json:"errors"`
	Notes         []string             `json:"notes,omitempty"`
	Upstream      *upstreamReport      `json:"upstream,omitempty"`
	SignIn        *signInReport        `json:"signIn,omitempty"`
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
	ObjectID       string   `json:"managedIdentityObjectId,omitempty"`
	TenantID       string   `json:"tenantId,omitempty"`
	AllowedTenants []string `json:"additionallyAllowedTenants,omitempty"`
	AuthorityHost  string   `json:"authorityHost,omitempty"`
	Certificate    string   `json:"certificatePath,omitempty"`
	TokenFile      string   `json:"tokenFilePath,omitempty"`

	// Online only: whose Entra token the credential got, what each call
	// answered, and what each function can do as a result.
	Principal *principalReport `json:"principal,omitempty"`
	Checks    []checkResult    `json:"checks,omitempty"`
	Functions *functionsReport `json:"functions,omitempty"`
}

func (r *checkReport) fill(cfg *settings.Config, err error) {
	r.Errors = append(r.Errors, flatten(err)...)
	r.OK = err == nil
	if cfg == nil {
		return
	}
	r.Warnings = append(r.Warnings, cfg.Warnings...)
	r.Hubs = cfg.Handler.Hubs
	_, r.HubsSet = os.LookupEnv("SIGNALR_HUBS")
	for _, e := range cfg.Endpoints {
		r.Endpoints = append(r.Endpoints, endpointReport{
			Name: e.Name, Setting: e.Setting, ServiceURI: urlString(e.ServiceURI),
			ClientEndpoint: urlString(e.ClientEndpoint), ServerEndpoint: urlString(e.ServerEndpoint),
			Type: string(e.Type), Scope: e.Scope, Auth: e.Auth.Identity(), Credential: e.Auth.Kind,
			UserAssigned: e.Auth.UserAssigned, ClientID: e.Auth.ClientID, ResourceID: e.Auth.ResourceID, ObjectID: e.Auth.ObjectID,
			TenantID: e.Auth.TenantID, AllowedTenants: e.Auth.AdditionallyAllowedTenants,
			AuthorityHost: e.Auth.AuthorityHost, Certificate: e.Auth.CertificatePath, TokenFile: e.Auth.TokenFilePath,
		})
	}
	r.fillUpstream(cfg)
	r.fillSignIn(cfg)
}

// checkRoutes reports a host.json that would hand callers' requests to the
// handler's payload paths, which stops serve from starting.
func (r *checkReport) checkRoutes(appRoot string) {
	err := checkRoutes(appRoot)
	var clash *routeClashError
	switch {
	case err == nil || errors.Is(err, errNoHostJSON):
	case errors.As(err, &clash):
		r.Errors = append(r.Errors, err.Error())
		r.OK = false
	default:
		r.Warnings = append(r.Warnings, err.Error())
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
