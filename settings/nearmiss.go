package settings

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// maxNearMiss is the largest edit distance, after separators are dropped,
// at which a setting counts as a misspelling of an expected name: a typo or
// two in a 40-character name, not another setting.
const maxNearMiss = 2

// nearMiss names the setting closest to what a connection would be read
// from, for when none was found: "AzureSignalRConnectionString_serviceUri"
// (one underscore) or a misspelled prefix. It returns "" when no setting is
// close.
func nearMiss(s appSettings, connection string) string {
	wanted := []string{connection, "ConnectionStrings__" + connection, connection + "__serviceUri"}
	for _, k := range sortedSectionKeys() {
		wanted = append(wanted, connection+"__"+sectionKeys[k])
	}
	type miss struct {
		name, want string
		distance   int
	}
	exact := map[string]bool{}
	for _, w := range wanted {
		exact[key(w)] = true
	}
	var best *miss
	for _, v := range s {
		if IsComment(v.Name) || exact[key(v.Name)] {
			continue
		}
		for _, w := range wanted {
			lw := loose(w)
			d := distance(loose(v.Name), lw)
			if d > min(maxNearMiss, len(lw)/8) {
				continue
			}
			if m := (miss{v.Name, w, d}); best == nil || m.distance < best.distance ||
				m.distance == best.distance && m.name < best.name {
				best = &m
			}
		}
		// Azure__SignalR__Endpoints__<name> with one underscore or a typo.
		lv, lp := loose(v.Name), loose(EndpointsPrefix)
		if len(lv) > len(lp) && !strings.HasPrefix(key(v.Name), key(EndpointsPrefix)+"__") {
			if d := distance(lv[:len(lp)], lp); d <= maxNearMiss && (best == nil || d < best.distance) {
				best = &miss{v.Name, EndpointsPrefix + "__<name>", d}
			}
		}
	}
	if best == nil {
		return ""
	}
	want := inSeparator(best.want, best.name)
	hint := fmt.Sprintf("; did you mean %s? %s is set, which is close to it", want, best.name)
	if best.distance == 0 {
		hint += `. Names separate sections with two underscores ("__"), or ":" in local.settings.json`
	}
	return hint
}

// inSeparator spells name, written with "__", in the separator of written:
// ":" for a user who wrote "AzureSignalRConectionString:serviceUri" in
// local.settings.json, "__" otherwise.
func inSeparator(name, written string) string {
	if strings.Contains(written, ":") && !strings.Contains(written, "__") {
		return strings.ReplaceAll(name, "__", ":")
	}
	return name
}

// handlerNearMisses warns of settings spelled nearly as one of the
// handler's own, such as SIGNALR_HUB for SIGNALR_HUBS: envconfig reads
// exact names, so the misspelled one would be ignored without a word.
func handlerNearMisses(environ []string) []string {
	var names []string
	t := reflect.TypeFor[Handler]()
	for i := range t.NumField() {
		if name := t.Field(i).Tag.Get("envconfig"); strings.HasPrefix(name, "SIGNALR_") {
			names = append(names, name)
		}
	}
	looseNames := make([]string, len(names))
	for i, n := range names {
		looseNames[i] = loose(n)
	}
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if IsComment(name) || slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, name) }) {
			continue
		}
		// Every variable of the process is compared, on Azure a hundred
		// or more: the lengths rule out most pairs before any distance is
		// computed, which keeps this off the start-up's critical path.
		lname := loose(name)
		best, bestDistance := "", maxNearMiss+1
		for i, ln := range looseNames {
			allowed := min(maxNearMiss, len(ln)/8)
			if abs(len(lname)-len(ln)) > allowed {
				continue
			}
			if d := distance(lname, ln); d <= allowed && d < bestDistance {
				best, bestDistance = names[i], d
			}
		}
		if best != "" {
			out = append(out, fmt.Sprintf("%s is ignored: the handler reads no setting of that name; did you mean %s?", name, best))
		}
	}
	sort.Strings(out)
	return out
}

// loose is a setting's name for comparing spellings: lower case, without
// the separators "_" and ":".
func loose(name string) string {
	return looseReplacer.Replace(strings.ToLower(name))
}

var looseReplacer = strings.NewReplacer("_", "", ":", "")

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func sortedSectionKeys() []string {
	keys := make([]string, 0, len(sectionKeys))
	for k := range sectionKeys {
		if k != "serviceuri" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// distance is the Levenshtein distance between a and b, in bytes.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
