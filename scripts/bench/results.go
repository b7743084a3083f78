package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/signalr-entra/handler/scripts/bench/stack"
)

// results are everything make bench measured, in the order measured.
type results struct {
	rows    []target
	loads   []loadResult
	goRuns  []goRun
	peakRSS int64
	// load and loadEnd are the 1-minute load averages at the start and
	// the end: on a shared machine, other work skews every ratio.
	load, loadEnd string
	// pinned says the servers measured ran alone on a core of their own.
	pinned bool
}

// goRun is one go test -bench command and its medians.
type goRun struct {
	cmd     string
	results map[string]goBench
}

// target is one row of the summary table.
type target struct {
	what, measured, baseline, ratio, goal string
	met                                   bool
	// info rows explain other rows and have no target.
	info bool
}

func (r *results) add(t target) { r.rows = append(r.rows, t) }

func (r *results) goBench(name string) goBench {
	for _, g := range r.goRuns {
		if b, ok := g.results[name]; ok {
			return b
		}
	}
	return goBench{}
}

// goal is a target on a ratio.
type goal struct {
	text string
	met  func(float64) bool
}

func atMost(v float64) goal {
	return goal{fmt.Sprintf("≤ %g×", v), func(x float64) bool { return x <= v }}
}

func atLeast(v float64) goal {
	return goal{fmt.Sprintf("≥ %g×", v), func(x float64) bool { return x >= v }}
}

func ratioRow(what, measured, baseline string, ratio float64, g goal) target {
	return target{what: what, measured: measured, baseline: baseline, ratio: times(ratio), goal: g.text, met: g.met(ratio)}
}

func infoRow(what, measured, baseline string, ratio float64) target {
	return target{what: what, measured: measured, baseline: baseline, ratio: times(ratio), goal: "—", info: true}
}

// placement says where the processes ran.
func (r *results) placement() string {
	if r.pinned {
		return "pinned with taskset: the server measured (the handler or a baseline) alone on CPU 0, the load generator and the stand-in on CPU 1"
	}
	return "the load generator on the same machine, unpinned, so all share its cores"
}

func (r *results) markdown(command string, started time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Latest `make bench`\n\n")
	fmt.Fprintf(&b, "- Machine: %s\n", stack.Machine())
	fmt.Fprintf(&b, "- Command: `%s`\n", command)
	fmt.Fprintf(&b, "- Date: %s; 1-minute load average %s at the start, %s at the end\n", started.UTC().Format("2006-01-02 15:04 UTC"), r.load, r.loadEnd)
	fmt.Fprintf(&b, "- Set-up: cmd/handler and cmd/emulator built as by make build, on loopback; the handler in Entra mode (the stand-in's system-assigned managed identity, SignalR Service Owner) with a warm temporary key, logging JSON to a file; the baselines (scripts/bench/minimal, depsfloor, stdnegotiate, proxy) built the same way; %s. Compared runs alternate in slices of about a second (a, b, a, b, …).\n\n", r.placement())
	b.WriteString("| Measure | Result | Baseline | Ratio | Target | Met |\n|---|---|---|---|---|---|\n")
	for _, t := range r.rows {
		met := "yes"
		switch {
		case t.info:
			met = "—"
		case !t.met:
			met = "**no**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", t.what, t.measured, orDash(t.baseline), orDash(t.ratio), t.goal, met)
	}
	b.WriteString("\nHTTP load runs (each worker sends one request at a time over kept-alive connections):\n\n")
	b.WriteString("| Scenario | Workers | Requests | Errors | Requests/s | p50 | p99 |\n|---|---|---|---|---|---|---|\n")
	for _, l := range r.loads {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %.0f | %s | %s |\n", l.Name, l.Workers, l.Requests, l.Errors, l.RPS(), micros(l.P50), micros(l.P99))
	}
	b.WriteString("\nGo benchmarks (median of the runs):\n\n")
	for _, g := range r.goRuns {
		fmt.Fprintf(&b, "- `%s`\n", g.cmd)
	}
	b.WriteString("\n| Benchmark | ns/op | B/op | allocs/op |\n|---|---|---|---|\n")
	for _, g := range r.goRuns {
		for _, name := range sortedKeys(g.results) {
			v := g.results[name]
			fmt.Fprintf(&b, "| %s | %.0f | %d | %d |\n", name, v.NsPerOp, v.BytesPerOp, v.AllocsPerOp)
		}
	}
	fmt.Fprintf(&b, "\nPeak resident size of the handler over the whole run (VmHWM): %s.\n", mib(r.peakRSS))
	return b.String()
}

func microsFromNs(v float64) string { return fmt.Sprintf("%.1f µs", v/1e3) }
func times(v float64) string        { return fmt.Sprintf("%.2f×", v) }
func rps(l loadResult) string       { return fmt.Sprintf("%.0f req/s", l.RPS()) }
func mib(v int64) string            { return fmt.Sprintf("%.1f MiB", float64(v)/(1<<20)) }
func micros(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/1e3) }
func cpuPerRequest(l loadResult) string {
	return fmt.Sprintf("%.1f µs", float64(l.CPUPerRequest())/1e3)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
