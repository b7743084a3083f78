package settings

import (
	"regexp"
	"strings"
	"testing"
)

// The service's pattern, as the REST API description states it.
var servicePattern = regexp.MustCompile("^[A-Za-z][A-Za-z0-9_`,.[\\]]{0,127}$")

func TestValidHubName(t *testing.T) {
	for _, name := range []string{"", "a", "chat", "Chat_1", "a_b`c,d.e[f]", "9lives", "_x", "a b", "a-b", "a/b", "é", "aé",
		"a" + strings.Repeat("b", 127), "a" + strings.Repeat("b", 128)} {
		if got, want := ValidHubName(name), servicePattern.MatchString(name); got != want {
			t.Errorf("ValidHubName(%q) = %v, the service's pattern says %v", name, got, want)
		}
	}
}

func FuzzValidHubName(f *testing.F) {
	for _, s := range []string{"chat", "9", "a[b]", "a\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if got, want := ValidHubName(name), servicePattern.MatchString(name); got != want {
			t.Errorf("ValidHubName(%q) = %v, the service's pattern says %v", name, got, want)
		}
	})
}
