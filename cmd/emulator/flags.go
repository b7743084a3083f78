package main

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strings"

	"github.com/signalr-entra/handler/emulator"
)

// principalFlags collect the repeatable -identity flags.
type principalFlags struct {
	systemRoles []emulator.Role
	users       []emulator.UserIdentity
}

// parseRoles reads "Role1,Role2" (empty or "none" for no roles).
func parseRoles(s string) ([]emulator.Role, error) {
	if s == "" || strings.EqualFold(s, "none") {
		return nil, nil
	}
	var roles []emulator.Role
	for _, part := range strings.Split(s, ",") {
		r, err := emulator.ParseRole(part)
		if err != nil {
			return nil, err
		}
		roles = append(roles, r)
	}
	return roles, nil
}

// identityFlag reads "system=Roles" or "user:<clientId>=Roles".
type identityFlag struct{ p *principalFlags }

func (f identityFlag) String() string { return "" }

func (f identityFlag) Set(v string) error {
	who, roleList, _ := strings.Cut(v, "=")
	roles, err := parseRoles(roleList)
	if err != nil {
		return err
	}
	switch {
	case who == "system":
		f.p.systemRoles = append(f.p.systemRoles, roles...)
	case strings.HasPrefix(who, "user:") && len(who) > len("user:"):
		f.p.users = append(f.p.users, emulator.UserIdentity{ClientID: strings.TrimPrefix(who, "user:"), Roles: roles})
	default:
		return fmt.Errorf("invalid identity %q; use system=Roles or user:<clientId>=Roles, such as system=ServiceOwner", who)
	}
	return nil
}

// rawFlag collects the raw values of a repeatable flag, to be parsed after
// the flags (parseApp, parseAppCert, parseUpstream): the flag package
// quotes a refused value in its error and then dumps its usage, and these
// values may hold secrets (a client secret, a function key in a URL).
type rawFlag struct{ raw *[]string }

func (f rawFlag) String() string { return "" }

func (f rawFlag) Set(v string) error {
	*f.raw = append(*f.raw, v)
	return nil
}

// parseApp reads "[tenant/]clientId:secret=Roles"; its errors never quote
// the secret.
func parseApp(v string) (emulator.App, error) {
	app, roleList, _ := strings.Cut(v, "=")
	tenant, rest, ok := strings.Cut(app, "/")
	if !ok {
		tenant, rest = "", app
	}
	client, secret, _ := strings.Cut(rest, ":")
	if client == "" || secret == "" {
		return emulator.App{}, fmt.Errorf("invalid -app for client %q: use [tenant/]clientId:secret=Roles, such as 11111111-1111-1111-1111-111111111111:s3cret=RESTAPIOwner", client)
	}
	roles, err := parseRoles(roleList)
	if err != nil {
		return emulator.App{}, fmt.Errorf("-app for client %q: %w", client, err)
	}
	return emulator.App{TenantID: tenant, ClientID: client, Secret: secret, Roles: roles}, nil
}

// appCertUsage is the -app-cert form, for its usage line and its errors.
const appCertUsage = "[tenant/]clientId:<PEM path>=Roles"

// splitAppCert splits "[tenant/]clientId:<PEM path>=Roles". The client id
// ends at the first ":", so the path may hold "/" and ":"; the roles start
// after the last "=", since role names never hold one.
func splitAppCert(v string) (tenant, client, path, roles string, err error) {
	who, rest, ok := strings.Cut(v, ":")
	if i := strings.LastIndex(rest, "="); i >= 0 {
		path, roles = rest[:i], rest[i+1:]
	} else {
		path = rest
	}
	tenant, client, hasTenant := strings.Cut(who, "/")
	if !hasTenant {
		tenant, client = "", who
	}
	if !ok || client == "" || path == "" || (hasTenant && tenant == "") {
		return "", "", "", "", fmt.Errorf("invalid -app-cert %q: use %s, such as 11111111-1111-1111-1111-111111111111:/path/app.pem=ServiceOwner", v, appCertUsage)
	}
	return tenant, client, path, roles, nil
}

// parseAppCert reads an -app-cert value and the first CERTIFICATE block of
// its PEM file. The file may also hold the private key (the handler's
// clientCertificatePath wants both); the key is never read.
func parseAppCert(v string) (emulator.App, error) {
	tenant, client, path, roleList, err := splitAppCert(v)
	if err != nil {
		return emulator.App{}, err
	}
	roles, err := parseRoles(roleList)
	if err != nil {
		return emulator.App{}, fmt.Errorf("-app-cert %q: %w", v, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return emulator.App{}, fmt.Errorf("-app-cert %q: cannot read the certificate file: %w; give the path of a PEM file holding the app's certificate", v, err)
	}
	var block *pem.Block
	for rest := data; ; {
		block, rest = pem.Decode(rest)
		if block == nil || block.Type == "CERTIFICATE" {
			break
		}
	}
	if block == nil {
		return emulator.App{}, fmt.Errorf("-app-cert %q: %s has no PEM CERTIFICATE block; give a PEM file with the app's certificate (-----BEGIN CERTIFICATE-----), such as openssl req -x509 writes", v, path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return emulator.App{}, fmt.Errorf("-app-cert %q: the first CERTIFICATE block of %s is not a valid certificate: %w", v, path, err)
	}
	// The stand-in's authority checks RS256 client assertions only, as
	// Entra ID does for certificate credentials.
	if _, ok := cert.PublicKey.(*rsa.PublicKey); !ok {
		return emulator.App{}, fmt.Errorf("-app-cert %q: the certificate in %s has a %s key; client assertions need an RSA key, such as openssl req -x509 -newkey rsa:2048 makes", v, path, cert.PublicKeyAlgorithm)
	}
	return emulator.App{TenantID: tenant, ClientID: client, Certificate: cert, Roles: roles}, nil
}
