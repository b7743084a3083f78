package stack

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseEnvFile(t *testing.T) {
	got := parseEnvFile("A='1'\nB='it'\\''s'\nC=''\n\nnot a line\n")
	want := map[string]string{"A": "1", "B": "it's", "C": ""}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseEnvFile (-want +got):\n%s", diff)
	}
}

func TestWriteSection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "PERFORMANCE.md")
	steps := []struct {
		name, body, want string
	}{
		{"bench", "one", "<!-- bench:begin -->\none\n<!-- bench:end -->\n"},
		{"soak", "two", "<!-- bench:begin -->\none\n<!-- bench:end -->\n\n<!-- soak:begin -->\ntwo\n<!-- soak:end -->\n"},
		{"bench", "three\n", "<!-- bench:begin -->\nthree\n<!-- bench:end -->\n\n<!-- soak:begin -->\ntwo\n<!-- soak:end -->\n"},
	}
	for _, s := range steps {
		if err := WriteSection(path, s.name, s.body); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(path)
		if diff := cmp.Diff(s.want, string(got)); diff != "" {
			t.Errorf("after writing %s=%q (-want +got):\n%s", s.name, s.body, diff)
		}
	}
	if err := os.WriteFile(path, []byte("<!-- bench:begin -->\nhalf"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteSection(path, "bench", "x"); err == nil {
		t.Error("a section with no end marker was overwritten; want an error")
	}
}
