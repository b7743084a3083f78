// Command emulator runs the local stand-in of Azure SignalR Service and
// Microsoft Entra ID on loopback until SIGINT or SIGTERM, for make run and
// the end-to-end tests. With -env-file it writes the environment a handler
// needs to use it.
//
// Two signals change it while it runs, as tests need: SIGUSR1 rotates the
// authority's token signing key (emulator.Server.RotateSigningKey), and
// SIGUSR2 regenerates the resource's primary access key
// (emulator.Server.RegenerateAccessKey).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/signalr-entra/handler/emulator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		// Help asked for is no failure.
	case errors.As(err, new(usageError)):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "emulator:", err)
		os.Exit(2)
	}
}

// usageError is a wrong flag, which the flag package has already reported
// with the usage.
type usageError struct{ error }

// run starts the stand-in with the flags and serves until ctx ends. Help
// asked for (-h) goes to stdout and returns flag.ErrHelp; a wrong flag's
// message and the usage go to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var p principalFlags
	var apps, appCerts, upstream []string
	var flaw string
	o := emulator.Options{}
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	fs.StringVar(&o.ServiceAddr, "service-addr", "127.0.0.1:0", "loopback `address` of SignalR Service")
	fs.StringVar(&o.IdentityAddr, "identity-addr", "127.0.0.1:0", "loopback `address` of the managed identity endpoint")
	fs.StringVar(&o.AuthorityAddr, "authority-addr", "127.0.0.1:0", "loopback `address` of the https Entra authority")
	fs.StringVar(&o.TenantID, "tenant", emulator.DefaultTenantID, "resource tenant `id`")
	fs.Var(identityFlag{&p}, "identity", "managed identity and roles: system=Roles or user:<clientId>=Roles (repeatable; Roles comma-separated, see below)")
	fs.Var(rawFlag{&apps}, "app", "app registration: [tenant/]clientId:secret=Roles (repeatable)")
	fs.Var(rawFlag{&appCerts}, "app-cert", "app registration with a certificate credential: "+appCertUsage+" (repeatable; the first CERTIFICATE block of the PEM file, which may also hold the key)")
	fs.StringVar(&o.AccessKey, "access-key", "", "access key of the resource (default random)")
	fs.BoolVar(&o.LocalAuthDisabled, "local-auth-disabled", false, "refuse access-key tokens, as \"disable local auth\" does")
	fs.DurationVar(&o.KeyLifetime, "key-lifetime", 90*time.Minute, "lifetime of temporary keys from the auth API")
	fs.DurationVar(&o.TokenLifetime, "token-lifetime", time.Hour, "lifetime of Entra tokens (at least 5m)")
	fs.DurationVar(&o.Propagation, "propagation", 0, "delay before role assignments take effect")
	fs.Var(rawFlag{&upstream}, "upstream", "upstream `rule` as the resource's settings spell it, JSON such as "+upstreamExample+" (repeatable, first match wins)")
	fs.StringVar(&flaw, "upstream-token-flaw", "", "spoil upstream tokens with this `flaw`: expired, unknown-key or other-tenant (for tests)")
	signInAudience := fs.String("sign-in-audience", "", "make negotiate require user tokens of the authority for this `audience` (SIGNALR_NEGOTIATE_AUTHORITY and _AUDIENCE in -env-file); mint them with POST <authority>/<tenant>/emulator/user-token")
	envFile := fs.String("env-file", "", "write the handler's environment to this `file`")
	caFile := fs.String("ca-file", "", "write the authority's CA certificate to this `file` (default beside -env-file)")
	verbose := fs.Bool("v", false, "log every request")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, "usage: emulator [flags]\n\nRuns SignalR Service and Entra ID stand-ins on loopback until interrupted.\n\nFlags:")
		fs.PrintDefaults()
		fmt.Fprintf(w, "\nRoles (for -identity, -app and -app-cert), by short name, display name or role definition id:\n")
		for _, r := range emulator.Roles() {
			fmt.Fprintf(w, "  %-16s %s (%s)\n", string(r), r, r.DefinitionID())
		}
		fmt.Fprintln(w, "  none             no role")
	}
	// The flag package writes help and errors alike to the output; which
	// stream it belongs on is known only after parsing.
	var usage bytes.Buffer
	fs.SetOutput(&usage)
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		_, _ = stdout.Write(usage.Bytes())
		return err
	} else if err != nil {
		_, _ = stderr.Write(usage.Bytes())
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q; all settings are flags, see -h", fs.Args())
	}
	// Apps are read before the stand-in starts, so a bad flag fails fast.
	var registrations []emulator.App
	for _, raw := range apps {
		a, err := parseApp(raw)
		if err != nil {
			return err
		}
		registrations = append(registrations, a)
	}
	for _, raw := range appCerts {
		a, err := parseAppCert(raw)
		if err != nil {
			return err
		}
		registrations = append(registrations, a)
	}
	for _, raw := range upstream {
		r, err := parseUpstream(raw)
		if err != nil {
			return err
		}
		o.Upstream = append(o.Upstream, r)
	}
	o.UpstreamTokenFlaw = emulator.TokenFlaw(flaw)
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	o.Logger = log
	o.SystemIdentityRoles = p.systemRoles

	srv, err := emulator.NewServer(&o)
	if err != nil {
		return err
	}
	defer srv.Close()
	for _, u := range p.users {
		if _, err := srv.AddUserIdentity(u); err != nil {
			return err
		}
	}
	for _, a := range registrations {
		if _, err := srv.AddApplication(a); err != nil {
			return err
		}
	}
	if *caFile == "" {
		dir := os.TempDir()
		if *envFile != "" {
			dir = filepath.Dir(*envFile)
		}
		*caFile = filepath.Join(dir, "emulator-ca.pem")
	}
	if err := srv.WriteCACert(*caFile); err != nil {
		return err
	}
	env := environment(srv, *caFile, o.LocalAuthDisabled, o.Upstream)
	if *signInAudience != "" {
		env["SIGNALR_NEGOTIATE_AUTHORITY"] = srv.SignInAuthority()
		env["SIGNALR_NEGOTIATE_AUDIENCE"] = *signInAudience
	}
	if *envFile != "" {
		if err := writeEnvFile(*envFile, env); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "SignalR Service  %s\nIdentity         %s\nAuthority        %s (tenant %s)\nCA certificate   %s\n",
		srv.URL, srv.IdentityEndpoint, srv.AuthorityURL, srv.TenantID, *caFile)
	for _, r := range o.Upstream {
		fmt.Fprintf(stderr, "Upstream         %s\n", r.URLTemplate)
	}
	if *signInAudience != "" {
		fmt.Fprintf(stderr, "Sign-in          %s (user tokens: POST %s%s/emulator/user-token with user=<name>&audience=%s)\n",
			srv.SignInAuthority(), srv.AuthorityURL, srv.TenantID, *signInAudience)
	}
	log.Info("emulator ready", "service", srv.URL, "envFile", *envFile)
	onSignals(ctx, srv, log)
	<-ctx.Done()
	log.Info("emulator stopping")
	return nil
}

// environment is what a handler needs to use the stand-in with the
// system-assigned managed identity, and to check the upstream tokens of
// the first rule with managed identity auth.
func environment(srv *emulator.Server, caFile string, localAuthDisabled bool, upstream []emulator.UpstreamRule) map[string]string {
	env := map[string]string{
		"IDENTITY_ENDPOINT":                        srv.IdentityEndpoint,
		"IDENTITY_HEADER":                          srv.IdentityHeader,
		"AzureSignalRConnectionString__serviceUri": srv.URL,
		"AzureSignalRConnectionString__credential": "managedidentity",
		"AZURE_AUTHORITY_HOST":                     srv.AuthorityURL,
		"SSL_CERT_FILE":                            caFile,
	}
	if !localAuthDisabled {
		env["SIGNALR_EMULATOR_CONNECTION_STRING"] = srv.ConnectionString()
	}
	for _, r := range upstream {
		if r.Auth != nil && r.Auth.ManagedIdentity != nil && strings.EqualFold(r.Auth.Type, emulator.UpstreamAuthManagedIdentity) {
			env["SIGNALR_UPSTREAM_AUDIENCE"] = r.Auth.ManagedIdentity.Resource
			env["SIGNALR_UPSTREAM_TENANT"] = srv.TenantID
			env["SIGNALR_UPSTREAM_IDENTITY"] = srv.ServiceIdentity().ObjectID
			break
		}
	}
	return env
}

// upstreamExample is a rule for -upstream's usage and errors.
const upstreamExample = `{"urlTemplate":"http://127.0.0.1:7071/api/upstream","auth":{"type":"ManagedIdentity","managedIdentity":{"resource":"api://signalr-upstream"}}}`

// parseUpstream reads an -upstream rule: the JSON of one of the resource's
// upstream templates, with no unknown fields, so a misspelt pattern does
// not silently match everything.
func parseUpstream(raw string) (emulator.UpstreamRule, error) {
	var r emulator.UpstreamRule
	d := json.NewDecoder(strings.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(&r); err != nil {
		return r, fmt.Errorf("invalid -upstream %q: %v; give one rule as JSON with urlTemplate and optional hubPattern, categoryPattern, eventPattern and auth, such as %s", raw, err, upstreamExample)
	}
	return r, nil
}

// writeEnvFile writes shell-quoted KEY='value' lines, atomically, so a
// script waiting for the file never reads half of it.
func writeEnvFile(path string, env map[string]string) error {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s='%s'\n", k, strings.ReplaceAll(env[k], "'", `'\''`))
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("writing -env-file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing -env-file: %w", err)
	}
	return nil
}
