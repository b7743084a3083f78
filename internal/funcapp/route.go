package funcapp

import "strings"

// Match finds the HTTP function whose route takes path and method, as
// ASP.NET routing does for the host's function routes: the route prefix,
// then the function's route template (its name by default), literal
// segments in any case, {name} one segment, {*name} the rest. A literal
// segment wins over a parameter. It returns the route values (Params).
func (a *App) Match(path, method string) (*Function, map[string]string) {
	segs := splitPath(path)
	if prefix := splitPath(a.RoutePrefix); len(prefix) > 0 {
		if len(segs) < len(prefix) || !equalFold(segs[:len(prefix)], prefix) {
			return nil, nil
		}
		segs = segs[len(prefix):]
	}
	var best *Function
	var bestParams map[string]string
	bestLiterals := -1
	for _, f := range a.Functions {
		t := f.Trigger()
		if t == nil || !allows(t.Methods, method) {
			continue
		}
		route := t.Route
		if route == "" {
			route = f.Name
		}
		params, literals, ok := matchTemplate(splitPath(route), segs)
		if ok && literals > bestLiterals {
			best, bestParams, bestLiterals = f, params, literals
		}
	}
	return best, bestParams
}

func matchTemplate(tmpl, segs []string) (map[string]string, int, bool) {
	params := map[string]string{}
	literals := 0
	for i, t := range tmpl {
		if strings.HasPrefix(t, "{*") && strings.HasSuffix(t, "}") {
			params[strings.TrimSuffix(t[2:], "}")] = strings.Join(segs[min(i, len(segs)):], "/")
			return params, literals, true
		}
		if i >= len(segs) {
			return nil, 0, false
		}
		if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
			name, _, _ := strings.Cut(strings.Trim(t, "{}?"), ":")
			params[name] = segs[i]
			continue
		}
		if !strings.EqualFold(t, segs[i]) {
			return nil, 0, false
		}
		literals++
	}
	return params, literals, len(tmpl) == len(segs)
}

// allows says whether a trigger's methods list takes method; no list takes
// every method.
func allows(methods []string, method string) bool {
	if len(methods) == 0 {
		return true
	}
	for _, m := range methods {
		if strings.EqualFold(m, method) {
			return true
		}
	}
	return false
}

func splitPath(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func equalFold(a, b []string) bool {
	for i := range a {
		if !strings.EqualFold(a[i], b[i]) {
			return false
		}
	}
	return true
}
