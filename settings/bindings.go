package settings

import (
	"os"
	"reflect"

	"github.com/signalr-entra/handler/bindings"
)

// Config is the endpoint as package bindings takes it: messages of the
// client name the endpoint's setting and identity, and a failure of its
// credential comes with the fix of the setting that causes it.
func (e Endpoint) Config() bindings.EndpointConfig {
	return bindings.EndpointConfig{
		Name:           e.Name,
		Type:           e.Type,
		ServiceURI:     e.ServiceURI,
		ClientEndpoint: e.ClientEndpoint,
		ServerEndpoint: e.ServerEndpoint,
		Credential:     e.Credential,
		Scope:          e.Scope,
		AccessKey:      e.AccessKey,
		Label:          e.Setting,
		Identity:       e.Auth.Identity(),
		Explain:        e.explain,
	}
}

// Configs converts every endpoint with Config.
func Configs(endpoints []Endpoint) []bindings.EndpointConfig {
	out := make([]bindings.EndpointConfig, len(endpoints))
	for i, e := range endpoints {
		out[i] = e.Config()
	}
	return out
}

// explain says what to do about a failure of the endpoint's credential:
// the usual mistake of its kind, the fix of a known Entra ID refusal, and
// the check that diagnoses the rest.
func (e Endpoint) explain(err error) string {
	var s string
	if e.Auth.Kind == "ManagedIdentityCredential" && e.Auth.ClientID != "" {
		// Both are GUIDs, and the portal shows the object id first.
		s = "A user-assigned identity is named by its client id, not its object (principal) id, and it must be assigned to this app."
	}
	if fix := EntraFix(e, err, os.Getenv); fix != "" {
		s = join(s, fix)
	}
	if e.Setting != "" {
		s = join(s, "Run `handler check` with the same settings for a diagnosis.")
	}
	return s
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + " " + b
}

// OptionNames names bindings.Options fields by the app settings that set
// them, such as KeyWait by SIGNALR_KEY_WAIT: Handler's fields of the same
// names, whose tags name the settings.
func OptionNames() map[string]string {
	names := map[string]string{}
	t := reflect.TypeFor[Handler]()
	for _, f := range reflect.VisibleFields(t) {
		if tag := f.Tag.Get("envconfig"); tag != "" {
			names[f.Name] = tag
		}
	}
	return names
}

// Options are the client options the handler's settings set; messages of
// the client name those settings (OptionNames).
func (h Handler) Options() bindings.Options {
	return bindings.Options{
		TokenLifetime: h.TokenLifetime,
		Negotiate:     bindings.NegotiateMode(h.Negotiate),
		KeyWait:       h.KeyWait,
		KeyRefresh:    h.KeyRefresh,
		Application:   h.Application,
		OptionNames:   OptionNames(),
	}
}
