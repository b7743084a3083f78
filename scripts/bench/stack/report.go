package stack

import (
	"fmt"
	"os"
	"runtime"
	"strings"
)

// WriteSection replaces the text between the markers <!-- name:begin -->
// and <!-- name:end --> of the Markdown file at path with body, so that the
// benchmark and the soak test each refresh only their own part of
// docs/PERFORMANCE.md. A missing file or section is appended.
func WriteSection(path, name, body string) error {
	begin, end := "<!-- "+name+":begin -->", "<!-- "+name+":end -->"
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	doc := string(old)
	section := begin + "\n" + strings.TrimSpace(body) + "\n" + end
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	switch {
	case i >= 0 && j > i:
		doc = doc[:i] + section + doc[j+len(end):]
	case i >= 0 || j >= 0:
		return fmt.Errorf("%s has only one of the markers %s and %s; fix or remove it", path, begin, end)
	default:
		doc = strings.TrimRight(doc, "\n") + "\n\n" + section + "\n"
	}
	return os.WriteFile(path, []byte(strings.TrimLeft(doc, "\n")), 0o644)
}

// Machine describes where the numbers were taken: CPU model, logical cores
// and Go version.
func Machine() string {
	model := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d logical cores, %s %s/%s", model, runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// LoadAverage is the 1-minute load average from /proc/loadavg: on a shared
// machine, other work skews every ratio above.
func LoadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Fields(string(data))[0]
}
