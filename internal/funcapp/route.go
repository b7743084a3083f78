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

// OneSegment says whether a caller's path of one segment, /<name>, can
// reach f's route: its template (the function's name when it has none,
// WebScriptHostHttpRoutesManager.InitializeHttpFunctionRoutes) under the
// route prefix (WebJobsRouteBuilder.BuildRouteTemplate: prefix/template,
// or the template alone when the prefix is empty). name is the segment the
// path must have, in any case, or "" when any segment will do: the route
// begins with a parameter. Segments after the first that may be empty (a
// catch-all or an optional parameter) do not count.
func (a *App) OneSegment(f *Function) (name string, ok bool) {
	t := f.Trigger()
	if t == nil {
		return "", false
	}
	route := t.Route
	if route == "" {
		route = f.Name
	}
	segs := append(splitPath(a.RoutePrefix), splitPath(route)...)
	required := len(segs)
	for required > 0 && mayBeEmpty(segs[required-1]) {
		required--
	}
	switch {
	case len(segs) == 0 || required > 1:
		return "", false
	case strings.Contains(segs[0], "{"):
		// A parameter, or a segment mixing text and parameters: any
		// name may match it.
		return "", true
	}
	return segs[0], true
}

// mayBeEmpty says whether a template segment matches nothing: a catch-all,
// an optional parameter or one with a default value.
func mayBeEmpty(seg string) bool {
	if !strings.HasPrefix(seg, "{") || !strings.HasSuffix(seg, "}") {
		return false
	}
	inner := strings.Trim(seg, "{}")
	return strings.HasPrefix(inner, "*") || strings.HasSuffix(inner, "?") || strings.Contains(inner, "=")
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
