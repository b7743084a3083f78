package settings

import (
	"sort"
	"strings"
)

// setting is one app setting as the user wrote it.
type setting struct {
	Name, Value string
	// Clash names another setting with the same key but a different value,
	// such as "X__serviceUri" beside "x:ServiceUri".
	Clash string
}

// appSettings indexes app settings by key: the name in lower case with ':'
// spelled "__", so that both separators and any case find the same setting.
type appSettings map[string]setting

// key normalizes a setting's name; see appSettings.
func key(name string) string {
	return strings.ToLower(strings.ReplaceAll(name, ":", "__"))
}

// newAppSettings indexes "name=value" pairs such as os.Environ's.
func newAppSettings(environ []string) appSettings {
	s := make(appSettings, len(environ))
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			continue
		}
		k := key(name)
		if old, dup := s[k]; dup {
			if old.Value != value && old.Clash == "" {
				// Keep the smaller name first, so that messages do not
				// depend on the order of the environment.
				if name < old.Name {
					old = setting{Name: name, Value: value, Clash: old.Name}
				} else {
					old.Clash = name
				}
				s[k] = old
			}
			continue
		}
		s[k] = setting{Name: name, Value: value}
	}
	return s
}

// get returns the setting named name in either spelling.
func (s appSettings) get(name string) (setting, bool) {
	v, ok := s[key(name)]
	return v, ok
}

// children returns the settings directly under prefix, by their last name
// segment in lower case: for prefix "Conn", "Conn__serviceUri" is "serviceuri".
func (s appSettings) children(prefix string) map[string]setting {
	p := key(prefix) + "__"
	out := map[string]setting{}
	for k, v := range s {
		rest, ok := strings.CutPrefix(k, p)
		if ok && rest != "" && !strings.Contains(rest, "__") {
			out[rest] = v
		}
	}
	return out
}

// groups returns the first name segments under prefix, sorted, with the
// spelling of the first setting that has them: for prefix
// "Azure__SignalR__Endpoints", "Azure__SignalR__Endpoints__east__serviceUri"
// gives "east".
func (s appSettings) groups(prefix string) []string {
	p := key(prefix) + "__"
	seen := map[string]string{}
	for k, v := range s {
		rest, ok := strings.CutPrefix(k, p)
		if !ok || rest == "" {
			continue
		}
		seg, _, _ := strings.Cut(rest, "__")
		if seg == "" {
			continue
		}
		// Keep the user's spelling of the segment when lower-casing kept its length.
		written := seg
		if n := strings.ReplaceAll(v.Name, ":", "__"); len(n) >= len(p)+len(seg) && strings.EqualFold(n[len(p):len(p)+len(seg)], seg) {
			written = n[len(p) : len(p)+len(seg)]
		}
		if old, ok := seen[seg]; !ok || written < old {
			seen[seg] = written
		}
	}
	names := make([]string, 0, len(seen))
	for _, n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
