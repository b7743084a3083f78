package settings

import (
	"regexp"
	"strings"
	"testing"
)

// The patterns the hand-written checks follow, as regular expressions.
var (
	placeholderPattern      = regexp.MustCompile(`<[A-Za-z][A-Za-z0-9 _.-]*>`)
	wholePlaceholderPattern = regexp.MustCompile(`^<[A-Za-z][A-Za-z0-9 _.-]*>$`)
	guidPattern             = regexp.MustCompile(`^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$`)
	thumbprintPattern       = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)
	uriPasswordPattern      = regexp.MustCompile(`(?s)(//[^/@:]*):.*@`)
)

// checkPatterns compares each hand-written check with its pattern on s.
func checkPatterns(t *testing.T, s string) {
	t.Helper()
	if got, want := findPlaceholder(s, false), placeholderPattern.FindString(s); got != want {
		t.Errorf("findPlaceholder(%q, false) = %q, the pattern finds %q", s, got, want)
	}
	if got, want := findPlaceholder(s, true), wholePlaceholderPattern.FindString(s); got != want {
		t.Errorf("findPlaceholder(%q, true) = %q, the pattern finds %q", s, got, want)
	}
	if got, want := isGUID(s), guidPattern.MatchString(s); got != want {
		t.Errorf("isGUID(%q) = %v, the pattern says %v", s, got, want)
	}
	if got, want := isThumbprint(s), thumbprintPattern.MatchString(s); got != want {
		t.Errorf("isThumbprint(%q) = %v, the pattern says %v", s, got, want)
	}
	if got, want := redactPassword(s), uriPasswordPattern.ReplaceAllString(s, "$1:xxxxx@"); got != want {
		t.Errorf("redactPassword(%q) = %q, the pattern gives %q", s, got, want)
	}
}

var patternSeeds = []string{
	"", "<", ">", "<>", "<name>", "https://<name>.service.signalr.net", "<client id>", "<<name>", "<1name>", "<na-me.x_y z>",
	"<name", "name>", "x<name>", "<name>x", "<a><b>", "<a<b>", "<é>", "<a\x00>",
	"00000000-0000-0000-0000-000000000000", "a5A5a5a5-b6b6-C7c7-d8d8-e9e9e9e9e9e9", "00000000-0000-0000-0000-00000000000",
	"00000000_0000-0000-0000-000000000000", "g0000000-0000-0000-0000-000000000000", "{00000000-0000-0000-0000-000000000000}",
	"https://u:p@h", "https://u:p@q@h/x", "https://h/a//b:c@d", "///x:y@z", "a//b/c//d:e@f", "//u:\n@", "https://u@h", "//:@", "s://u:p",
	strings.Repeat("ab", 20), strings.Repeat("AB", 20) + "0", strings.Repeat("0", 39) + "z",
}

func TestHandWrittenPatterns(t *testing.T) {
	for _, s := range patternSeeds {
		checkPatterns(t, s)
	}
}

func FuzzHandWrittenPatterns(f *testing.F) {
	for _, s := range patternSeeds {
		f.Add(s)
	}
	f.Fuzz(checkPatterns)
}
