package main

import (
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// goBench is the median of a Go benchmark's runs.
type goBench struct {
	NsPerOp     float64
	BytesPerOp  int64
	AllocsPerOp int64
}

// benchLine matches a result line of go test -bench -benchmem.
var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op\s+(\d+) B/op\s+(\d+) allocs/op`)

// runGoBenchmarks runs the benchmarks matching pattern in pkg count times
// and returns each one's median by name (without the -GOMAXPROCS suffix).
func runGoBenchmarks(root, pkg, pattern string, count int) (map[string]goBench, string, error) {
	args := []string{"test", "-run", "^$", "-bench", pattern, "-benchmem", "-count", strconv.Itoa(count), pkg}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, "", fmt.Errorf("go %v: %w\n%s", args, err, out)
	}
	runs := map[string][]goBench{}
	for _, line := range strings.Split(string(out), "\n") {
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		ns, _ := strconv.ParseFloat(m[2], 64)
		b, _ := strconv.ParseInt(m[3], 10, 64)
		a, _ := strconv.ParseInt(m[4], 10, 64)
		runs[m[1]] = append(runs[m[1]], goBench{ns, b, a})
	}
	med := map[string]goBench{}
	for name, rs := range runs {
		slices.SortFunc(rs, func(x, y goBench) int {
			switch {
			case x.NsPerOp < y.NsPerOp:
				return -1
			case x.NsPerOp > y.NsPerOp:
				return 1
			}
			return 0
		})
		med[name] = rs[len(rs)/2]
	}
	return med, "go " + joinArgs(args), nil
}

// joinArgs quotes the arguments a shell would split or expand.
func joinArgs(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " |^$*") {
			a = "'" + a + "'"
		}
		quoted[i] = a
	}
	return strings.Join(quoted, " ")
}

func sortedKeys(m map[string]goBench) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
