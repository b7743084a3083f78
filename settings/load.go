package settings

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// DefaultConnectionSetting names the connection unless
// SIGNALR_CONNECTION_SETTING names another.
const DefaultConnectionSetting = "AzureSignalRConnectionString"

// EndpointsPrefix is the prefix of the settings of several endpoints:
// Azure__SignalR__Endpoints__<name> (or with ":").
const EndpointsPrefix = "Azure__SignalR__Endpoints"

// DefaultCertificateDir is where Linux App Service puts the private
// certificates named by WEBSITE_LOAD_CERTIFICATES.
const DefaultCertificateDir = "/var/ssl/private"

// LoadOptions adjusts Load. A nil *LoadOptions means the defaults.
type LoadOptions struct {
	// Transport sends the credentials' requests (Entra ID, managed identity).
	// Defaults to azcore's transport. Tests point it at a loopback stand-in.
	Transport policy.Transporter
	// CertificateDir holds the <thumbprint>.p12 files a clientCertificate
	// thumbprint names. Defaults to DefaultCertificateDir.
	CertificateDir string
}

// Config is everything the handler needs from its app settings.
type Config struct {
	Handler   Handler
	Endpoints []Endpoint
	// Warnings are settings that work but are likely mistakes; each names
	// the setting and the fix.
	Warnings []string
}

// Load reads the handler's settings and its SignalR Service endpoints from
// the process environment, where the Functions host puts the app settings
// (call UseLocalSettings first to run standalone), and builds each endpoint's
// credential without any network call. It reports every problem at once: the
// error joins one *SettingError per problem.
//
// AZURE_* variables keep their azidentity meaning: the credentials read them.
func Load(opts *LoadOptions) (*Config, error) {
	var o LoadOptions
	if opts != nil {
		o = *opts
	}
	b := &builder{opts: o, getenv: os.Getenv}
	cfg := &Config{}
	if err := cfg.Handler.load(); err != nil {
		b.errs = append(b.errs, err)
	}
	b.warns = append(b.warns, miscased(os.Environ())...)
	connection := cfg.Handler.ConnectionSetting
	if connection == "" {
		connection = DefaultConnectionSetting
	}
	cfg.Endpoints = b.endpoints(newAppSettings(os.Environ()), connection)
	cfg.Warnings = b.warns
	if len(b.errs) > 0 {
		return cfg, errors.Join(b.errs...)
	}
	return cfg, nil
}

// builder collects endpoints, problems and warnings.
type builder struct {
	opts   LoadOptions
	getenv func(string) string
	errs   []error
	warns  []string
}

func (b *builder) fail(err error) { b.errs = append(b.errs, err) }

func (b *builder) warn(format string, args ...any) {
	b.warns = append(b.warns, fmt.Sprintf(format, args...))
}

func (b *builder) certificateDir() string {
	if b.opts.CertificateDir != "" {
		return b.opts.CertificateDir
	}
	return DefaultCertificateDir
}

// endpoints finds the named connection and every Azure__SignalR__Endpoints
// entry: all of them are endpoints.
func (b *builder) endpoints(s appSettings, connection string) []Endpoint {
	var out []Endpoint
	named, found := b.connection(s, connection, "")
	namedFound := found
	if found && named != nil {
		out = append(out, *named)
	}
	for _, name := range s.groups(EndpointsPrefix) {
		e, ok := b.connection(s, EndpointsPrefix+"__"+name, name)
		found = found || ok
		if e != nil {
			out = append(out, *e)
		}
	}
	if !found {
		b.fail(missingConnection(s, connection))
	} else if stray := valued(s.children(connection)); !namedFound && len(stray) > 0 {
		// Endpoints come from the list alone; keys meant for the named
		// connection would otherwise vanish without a word.
		b.warn("%s: %s set, but %s has no serviceUri or connection string, so they are ignored and only %s__<name> is used. Add %s__serviceUri, or remove them",
			connection, strings.Join(stray, ", "), connection, EndpointsPrefix, connection)
	}
	return out
}

// connection reads one connection: a connection string at prefix, or a
// section with serviceUri under it. found says whether either exists; the
// endpoint is nil when it has errors.
func (b *builder) connection(s appSettings, prefix, name string) (e *Endpoint, found bool) {
	cs, hasCS := s.get(prefix)
	hasCS = hasCS && strings.TrimSpace(cs.Value) != ""
	children := s.children(prefix)
	// The C# form Azure:SignalR:Endpoints:<name>:<type> = a connection string.
	var csType string
	for _, t := range []string{string(Primary), string(Secondary)} {
		if v, ok := children[t]; ok && name != "" && !hasCS && strings.TrimSpace(v.Value) != "" {
			cs, hasCS, csType = v, true, t
			delete(children, t)
		}
	}
	f, errs, warns := readSection(prefix, children)
	b.errs, b.warns = append(b.errs, errs...), append(b.warns, warns...)
	if !hasCS && !f.has("serviceuri") {
		if name != "" { // keys under Azure__SignalR__Endpoints__<name> but no endpoint
			b.fail(&SettingError{prefix, "has settings under it but neither a connection string nor serviceUri",
				"Set " + prefix + " to a connection string, or " + prefix + "__serviceUri to the service's URI"})
			return nil, true
		}
		return nil, false
	}
	where := prefix
	if hasCS {
		where = cs.Name
		if cs.Clash != "" {
			b.fail(&SettingError{cs.Name, "is set twice with different values, also as " + cs.Clash, "Keep one spelling"})
			return nil, true
		}
		for k, v := range f {
			// An empty key is unset, as an empty connection string is: a
			// local.settings.json copied from the example keeps them.
			if k != "type" && f.has(k) { // a connection string cannot say its type itself
				b.fail(&SettingError{v.Name, "is set beside the connection string " + cs.Name,
					"Configure the connection once: either the connection string or the section with serviceUri, not both"})
				return nil, true
			}
		}
		kv, err := ParseConnectionString(cs.Value)
		if err != nil {
			b.fail(&SettingError{cs.Name, "is not a valid connection string: " + err.Error(), "Fix the connection string"})
			return nil, true
		}
		typ := f["type"]
		f, errs, warns = connectionStringFields(cs.Name, kv)
		b.errs, b.warns = append(b.errs, errs...), append(b.warns, warns...)
		if len(errs) > 0 {
			return nil, true
		}
		switch {
		case typ.Name != "":
			f["type"] = typ
		case csType != "":
			f["type"] = setting{Name: cs.Name, Value: csType}
		}
		if !f.has("serviceuri") {
			b.fail(&SettingError{cs.Name, "the connection string has no Endpoint",
				"Add Endpoint=https://<resource>.service.signalr.net"})
			return nil, true
		}
	} else if v := f["serviceuri"]; v.Name != "" {
		where = strings.TrimSuffix(strings.TrimSuffix(v.Name[:len(v.Name)-len("serviceuri")], "__"), ":")
	}
	if errs := placeholders(f); len(errs) > 0 {
		b.errs = append(b.errs, errs...)
		return nil, true
	}
	before := len(b.errs)
	e = b.endpoint(where, name, f)
	if len(b.errs) > before {
		return nil, true
	}
	return e, true
}

// endpoint checks the URIs, type, scope and access key of one connection,
// then its credential.
func (b *builder) endpoint(setting, name string, f fields) *Endpoint {
	e := &Endpoint{Name: name, Setting: setting, Type: Primary, Scope: DefaultScope}
	var err error
	if e.ServiceURI, err = parseServiceURL(f.name(setting, "serviceuri"), f.value("serviceuri")); err != nil {
		b.fail(err)
	}
	if p := f.value("port"); p != "" {
		n, perr := strconv.Atoi(p)
		if perr != nil || n < 1 || n > 65535 {
			b.fail(&SettingError{f.name(setting, "port"), fmt.Sprintf("invalid port %q", p), "Use a number from 1 to 65535, or leave Port out"})
		} else if e.ServiceURI != nil {
			e.ServiceURI.Host = e.ServiceURI.Hostname() + ":" + p
			if strings.Contains(e.ServiceURI.Hostname(), ":") {
				e.ServiceURI.Host = "[" + e.ServiceURI.Hostname() + "]:" + p
			}
		}
	}
	if v := f.value("version"); v != "" && !strings.HasPrefix(v, "1.") {
		b.fail(&SettingError{f.name(setting, "version"), fmt.Sprintf("unsupported version %q", v), "Use Version=1.0, or leave Version out"})
	}
	if v := f.value("clientendpoint"); v != "" {
		if e.ClientEndpoint, err = parseServiceURL(f.name(setting, "clientendpoint"), v); err != nil {
			b.fail(err)
		}
	}
	if v := f.value("serverendpoint"); v != "" {
		if e.ServerEndpoint, err = parseServiceURL(f.name(setting, "serverendpoint"), v); err != nil {
			b.fail(err)
		}
	}
	switch t := strings.ToLower(f.value("type")); t {
	case "", string(Primary):
	case string(Secondary):
		e.Type = Secondary
	default:
		b.fail(&SettingError{f.name(setting, "type"), fmt.Sprintf("invalid endpoint type %q", f.value("type")), "Valid values are primary and secondary"})
	}
	if s := f.value("scope"); s != "" {
		if !strings.HasSuffix(s, "/.default") || hostOf(s) == "" {
			b.fail(&SettingError{f.name(setting, "scope"), fmt.Sprintf("invalid scope %q", s),
				"Use a resource URI followed by /.default, such as " + DefaultScope + ", or leave it out"})
		}
		e.Scope = s
	}
	if f.has("accesskey") {
		e.AccessKey, e.Auth = Secret(f.value("accesskey")), Auth{Kind: "AccessKey"}
		return e
	}
	e.Credential, e.Auth = b.credential(setting, f)
	return e
}

// valued lists the names of the settings that have a value, sorted.
func valued(children map[string]setting) []string {
	var names []string
	for _, v := range children {
		if strings.TrimSpace(v.Value) != "" {
			names = append(names, v.Name)
		}
	}
	sort.Strings(names)
	return names
}

func missingConnection(s appSettings, connection string) error {
	problem := fmt.Sprintf("no SignalR Service connection found. Looked for a connection string in %s, a section %s__serviceUri (or %s:serviceUri), and %s__<name>",
		connection, connection, connection, EndpointsPrefix)
	keys := s.children(connection)
	if names := valued(keys); len(names) > 0 {
		problem += fmt.Sprintf("; found %s but no serviceUri", strings.Join(names, ", "))
	}
	// Name the empty settings, which look set where they were written.
	var empty []string
	if v, ok := s.get(connection); ok {
		empty = append(empty, v.Name)
	}
	if v, ok := keys["serviceuri"]; ok {
		empty = append(empty, v.Name)
	}
	if len(empty) > 0 {
		problem += fmt.Sprintf("; %s is empty", strings.Join(empty, " and "))
	}
	problem += nearMiss(s, connection)
	if key(connection) != key(DefaultConnectionSetting) {
		if _, ok := s.get(DefaultConnectionSetting); ok || len(s.children(DefaultConnectionSetting)) > 0 {
			problem += fmt.Sprintf("; %s settings exist, but SIGNALR_CONNECTION_SETTING names %s instead", DefaultConnectionSetting, connection)
		}
	}
	return &SettingError{connection, problem,
		fmt.Sprintf("Set %[1]s__serviceUri=https://<resource>.service.signalr.net in the app settings (in local.settings.json Values: \"%[1]s:serviceUri\"), or %[1]s to a connection string; SIGNALR_CONNECTION_SETTING names another prefix", connection)}
}

// miscased warns of the handler's settings written in another case, such as
// signalr_hubs: envconfig reads the exact name, while Functions users know
// the case-insensitive names of .NET and of the connection's settings.
func miscased(environ []string) []string {
	names := map[string]string{}
	t := reflect.TypeFor[Handler]()
	for i := range t.NumField() {
		name := t.Field(i).Tag.Get("envconfig")
		names[strings.ToUpper(name)] = name
	}
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if want, ok := names[strings.ToUpper(name)]; ok && name != want {
			out = append(out, fmt.Sprintf("%s is ignored: the handler reads %s, in exactly that case. Rename the setting", name, want))
		}
	}
	sort.Strings(out)
	return out
}
