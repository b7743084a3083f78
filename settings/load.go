package settings

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
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
	b.warns = append(b.warns, handlerNearMisses(os.Environ())...)
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

// connectionStringPrefixes are the App Service prefixes of a portal
// "Connection string" by its type; .NET reads each as ConnectionStrings:<name>.
var connectionStringPrefixes = []string{"CUSTOMCONNSTR_", "SQLAZURECONNSTR_", "SQLCONNSTR_", "MYSQLCONNSTR_",
	"POSTGRESQLCONNSTR_", "APIHUBCONNSTR_", "DOCDBCONNSTR_", "EVENTHUBCONNSTR_", "NOTIFICATIONHUBCONNSTR_",
	"REDISCACHECONNSTR_", "SERVICEBUSCONNSTR_"}

// endpoints finds the named connection and every Azure__SignalR__Endpoints
// entry, as the C# extension's OptionsSetup does: all of them are endpoints.
func (b *builder) endpoints(s appSettings, connection string) []Endpoint {
	var out []Endpoint
	named, found := b.named(s, connection)
	namedFound := found
	if named != nil {
		out = append(out, *named)
	}
	for _, name := range s.groups(EndpointsPrefix) {
		eps, ok := b.listed(s, name)
		found = found || ok
		out = append(out, eps...)
	}
	out = b.distinct(out)
	if len(out) > 0 && !slices.ContainsFunc(out, func(e Endpoint) bool { return e.Type == Primary }) {
		var names []string
		for _, e := range out {
			names = append(names, e.Setting)
		}
		b.fail(&SettingError{names[0], "every endpoint is secondary (" + strings.Join(names, ", ") + "): negotiate needs a primary one, and the C# extension refuses this too",
			"Make one of them primary: leave out its type, or set it to primary"})
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

// distinct keeps one endpoint per service address (scheme, host and port),
// as the C# SDK does: the first primary, else the first; it warns of the
// others, which would receive every message twice.
func (b *builder) distinct(eps []Endpoint) []Endpoint {
	address := func(e Endpoint) string {
		port := e.ServiceURI.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[e.ServiceURI.Scheme]
		}
		return e.ServiceURI.Scheme + "://" + strings.ToLower(e.ServiceURI.Hostname()) + ":" + port
	}
	var out []Endpoint
	for _, e := range eps {
		a := address(e)
		j := slices.IndexFunc(out, func(o Endpoint) bool { return address(o) == a })
		if j < 0 {
			out = append(out, e)
			continue
		}
		kept, dropped := out[j], e
		if kept.Type != Primary && e.Type == Primary {
			out[j], kept, dropped = e, e, kept
		}
		b.warn("%s is ignored: it names the same service as %s (%s), and only one endpoint per service is used, as in the C# extension. Remove one of them",
			dropped.Setting, kept.Setting, a)
	}
	return out
}

// named reads the connection the functions name, in the C# extension's
// order: a connection string in ConnectionStrings:<name>, else one in
// <name>, else the section <name> with serviceUri. found says whether any
// exists; the endpoint is nil when it has errors.
func (b *builder) named(s appSettings, connection string) (e *Endpoint, found bool) {
	cs, ok := b.connectionString(s, connection)
	children := s.children(connection)
	if !ok {
		f, errs, warns := readSection(connection, children)
		b.errs, b.warns = append(b.errs, errs...), append(b.warns, warns...)
		if !f.has("serviceuri") {
			return nil, false
		}
		return b.section(f, ""), true
	}
	typ := children["type"]
	delete(children, "type")
	if stray := valued(children); len(stray) > 0 {
		b.warn("%s: %s ignored: the connection string in %s wins over the section, as in the C# extension. Remove one of them",
			connection, strings.Join(stray, ", "), cs.Name)
	}
	return b.fromConnectionString(cs, "", typ), true
}

// connectionString finds a connection string for the connection as .NET
// configuration does: ConnectionStrings:<name> (locally, or a portal
// "Connection string" as CUSTOMCONNSTR_<name> and the other type prefixes)
// first, then <name>. It warns of each other one it passes over.
func (b *builder) connectionString(s appSettings, connection string) (setting, bool) {
	names := []string{"ConnectionStrings__" + connection}
	for _, p := range connectionStringPrefixes {
		names = append(names, p+connection)
	}
	names = append(names, connection)
	var chosen setting
	found := false
	for _, n := range names {
		v, ok := s.get(n)
		if !ok || strings.TrimSpace(v.Value) == "" {
			continue
		}
		if !found {
			chosen, found = v, true
			continue
		}
		if v.Value != chosen.Value {
			b.warn("%s is ignored: the connection string in %s comes first, as in the C# extension. Remove one of them", v.Name, chosen.Name)
		}
	}
	return chosen, found
}

// listed reads the endpoints of Azure__SignalR__Endpoints__<name>, as the C#
// extension does: a section with serviceUri is one endpoint; otherwise
// <name> itself, <name>__primary and <name>__secondary are each an endpoint
// of that name, when set to a connection string. found says whether any
// exists.
func (b *builder) listed(s appSettings, name string) (eps []Endpoint, found bool) {
	prefix := EndpointsPrefix + "__" + name
	cs, hasCS := s.get(prefix)
	hasCS = hasCS && strings.TrimSpace(cs.Value) != ""
	children := s.children(prefix)
	typed := map[EndpointType]setting{}
	for _, t := range []EndpointType{Primary, Secondary} {
		if v, ok := children[string(t)]; ok {
			delete(children, string(t))
			if strings.TrimSpace(v.Value) != "" {
				typed[t] = v
			}
		}
	}
	if fields(children).has("serviceuri") {
		f, errs, warns := readSection(prefix, children)
		b.errs, b.warns = append(b.errs, errs...), append(b.warns, warns...)
		var ignored []string
		if hasCS {
			ignored = append(ignored, cs.Name)
		}
		for _, t := range []EndpointType{Primary, Secondary} {
			if v, ok := typed[t]; ok {
				ignored = append(ignored, v.Name)
			}
		}
		if len(ignored) > 0 {
			b.warn("%s: %s ignored: the section with serviceUri wins, as in the C# extension. Remove one of them", prefix, strings.Join(ignored, ", "))
		}
		if e := b.section(f, name); e != nil {
			eps = append(eps, *e)
		}
		return eps, true
	}
	if !hasCS && len(typed) == 0 {
		if len(valued(children)) > 0 {
			b.warn("%s: %s ignored: there is neither a connection string nor serviceUri, so this endpoint is not used (as in the C# extension). Set %s to a connection string, or %s__serviceUri to the service's URI",
				prefix, strings.Join(valued(children), ", "), prefix, prefix)
		}
		return nil, false
	}
	typ := children["type"]
	delete(children, "type")
	if stray := valued(children); len(stray) > 0 {
		b.warn("%s: %s ignored: a connection string carries its own settings, and without serviceUri the section is not read (as in the C# extension). Remove them", prefix, strings.Join(stray, ", "))
	}
	if hasCS {
		if e := b.fromConnectionString(cs, name, typ); e != nil {
			eps = append(eps, *e)
		}
	}
	for _, t := range []EndpointType{Primary, Secondary} {
		if v, ok := typed[t]; ok {
			if e := b.fromConnectionString(v, name, setting{Name: v.Name, Value: string(t)}); e != nil {
				eps = append(eps, *e)
			}
		}
	}
	return eps, true
}

// section builds the endpoint of an identity section whose serviceUri is
// set; nil when it has errors.
func (b *builder) section(f fields, name string) *Endpoint {
	v := f["serviceuri"]
	where := strings.TrimSuffix(strings.TrimSuffix(v.Name[:len(v.Name)-len("serviceuri")], "__"), ":")
	return b.checked(where, name, f)
}

// fromConnectionString builds the endpoint of a connection string; typ, when
// set, says its type. nil when it has errors.
func (b *builder) fromConnectionString(cs setting, name string, typ setting) *Endpoint {
	if cs.Clash != "" {
		b.fail(&SettingError{cs.Name, "is set twice with different values, also as " + cs.Clash, "Keep one spelling"})
		return nil
	}
	kv, err := ParseConnectionString(cs.Value)
	if err != nil {
		b.fail(&SettingError{cs.Name, "is not a valid connection string: " + err.Error(), "Fix the connection string"})
		return nil
	}
	f, errs, warns := connectionStringFields(cs.Name, kv)
	b.errs, b.warns = append(b.errs, errs...), append(b.warns, warns...)
	if len(errs) > 0 {
		return nil
	}
	if typ.Name != "" {
		f["type"] = typ
	}
	if !f.has("serviceuri") {
		b.fail(&SettingError{cs.Name, "the connection string has no Endpoint",
			"Add Endpoint=https://<resource>.service.signalr.net"})
		return nil
	}
	return b.checked(cs.Name, name, f)
}

// checked builds an endpoint, or nil when that records an error.
func (b *builder) checked(setting, name string, f fields) *Endpoint {
	if errs := placeholders(f); len(errs) > 0 {
		b.errs = append(b.errs, errs...)
		return nil
	}
	before := len(b.errs)
	e := b.endpoint(setting, name, f)
	if len(b.errs) > before {
		return nil
	}
	return e
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
		if e.ClientEndpoint, err = parseEndpointURL(f.name(setting, "clientendpoint"), v, true); err != nil {
			b.fail(err)
		} else if e.ClientEndpoint.Path != "" {
			// C# keeps it too: a proxy in front of the service may serve
			// clients under a path.
			b.warn("%s: the client endpoint %s has a path, which is kept as in the C# extension: clients are sent to %s/client/?hub=<hub>. Make sure a proxy there forwards to the service, or remove the path",
				f.name(setting, "clientendpoint"), e.ClientEndpoint.Redacted(), e.ClientEndpoint.Redacted())
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
	problem := fmt.Sprintf("no SignalR Service connection found. Looked for a connection string in ConnectionStrings:%s (CUSTOMCONNSTR_%s on App Service) and in %s, a section %s__serviceUri (or %s:serviceUri), and %s__<name>",
		connection, connection, connection, connection, connection, EndpointsPrefix)
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
