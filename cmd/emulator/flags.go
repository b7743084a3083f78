package main

import (
	"fmt"
	"strings"

	"github.com/signalr-entra/handler/emulator"
)

// principalFlags collect the repeatable -identity and -app flags.
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

// appFlag collects raw "[tenant/]clientId:secret=Roles" values. It parses
// them later, in parseApp, because the flag package quotes a refused value
// in its error, and these hold secrets.
type appFlag struct{ raw *[]string }

func (f appFlag) String() string { return "" }

func (f appFlag) Set(v string) error {
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
