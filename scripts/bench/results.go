package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/signalr-entra/handler/scripts/bench/stack"
)

// results are everything make bench measured.
type results struct {
	bindings, handler       map[string]goBench
	bindingsCmd, handlerCmd string

	ready, forwarded, payload, sendHandler, sendDirect, sendHandler1, sendDirect1, crowd loadResult

	idleRSS, crowdRSS, peakRSS int64
	startHandler, startMinimal time.Duration
	load                       string
}

// target is one row of the summary table.
type target struct {
	what, measured, baseline, ratio, goal string
	met                                   bool
}

func (r *results) targets() []target {
	sign, jwtAlone := r.bindings["BenchmarkConnectionInfoWarmKey"], r.bindings["BenchmarkSignJWTAlone"]
	signRatio := sign.NsPerOp / jwtAlone.NsPerOp
	negRatio := r.forwarded.RPS() / r.ready.RPS()
	payRatio := r.payload.RPS() / r.forwarded.RPS()
	sendRatio := float64(r.sendHandler.P50) / float64(r.sendDirect.P50)
	sendRatio1 := float64(r.sendHandler1.P50) / float64(r.sendDirect1.P50)
	startRatio := float64(r.startHandler) / float64(r.startMinimal)
	fwd, pay := r.handler["BenchmarkNegotiateForwardedWarmKey"], r.handler["BenchmarkNegotiatePayloadWarmKey"]
	return []target{
		{"Negotiate signing: ConnectionInfo, warm key, vs golang-jwt alone", microsFromNs(sign.NsPerOp), microsFromNs(jwtAlone.NsPerOp), times(signRatio), "≤ 2×", signRatio <= 2},
		{"Negotiate over HTTP (GET /api/negotiate) vs the handler's GET /, throughput", rps(r.forwarded), rps(r.ready), times(negRatio), "≥ 0.8×", negRatio >= 0.8},
		{"Payload negotiate (POST /negotiate) vs forwarded, throughput", rps(r.payload), rps(r.forwarded), times(payRatio), "—", true},
		{fmt.Sprintf("Send through the handler vs straight to the service, p50 latency, %d workers", r.sendHandler.Workers), r.sendHandler.P50.Round(time.Microsecond).String(), r.sendDirect.P50.Round(time.Microsecond).String(), times(sendRatio), "≤ 1.2×", sendRatio <= 1.2},
		{"The same, one request at a time", r.sendHandler1.P50.Round(time.Microsecond).String(), r.sendDirect1.P50.Round(time.Microsecond).String(), times(sendRatio1), "≤ 1.2×", sendRatio1 <= 1.2},
		{"Start-up to first answer vs a minimal net/http server, median", r.startHandler.Round(100 * time.Microsecond).String(), r.startMinimal.Round(100 * time.Microsecond).String(), times(startRatio), "≤ 1.5×", startRatio <= 1.5},
		{"Resident size, idle (VmRSS)", mib(r.idleRSS), "", "", "< 30 MiB", r.idleRSS < 30<<20},
		{fmt.Sprintf("Resident size under %d concurrent negotiations (peak VmRSS sampled every 20 ms)", r.crowd.Workers), mib(r.crowdRSS), "", "", "< 80 MiB", r.crowdRSS < 80<<20},
		{"Allocations per negotiate, forwarded (in-process, warm key)", fmt.Sprintf("%d allocs, %d B", fwd.AllocsPerOp, fwd.BytesPerOp), "", "", "—", true},
		{"Allocations per negotiate, payload (in-process, warm key)", fmt.Sprintf("%d allocs, %d B", pay.AllocsPerOp, pay.BytesPerOp), "", "", "—", true},
	}
}

func (r *results) markdown(command string, started time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Latest `make bench`\n\n")
	fmt.Fprintf(&b, "- Machine: %s\n", stack.Machine())
	fmt.Fprintf(&b, "- Command: `%s`\n", command)
	fmt.Fprintf(&b, "- Date: %s; 1-minute load average at the start %s\n", started.UTC().Format("2006-01-02 15:04 UTC"), r.load)
	fmt.Fprintf(&b, "- Set-up: cmd/handler and cmd/emulator built as by make build, on loopback; the handler in Entra mode (the stand-in's system-assigned managed identity, SignalR Service Owner) with a warm temporary key, logging JSON to a file; the load generator on the same machine, so all three share its cores.\n\n")
	b.WriteString("| Measure | Result | Baseline | Ratio | Target | Met |\n|---|---|---|---|---|---|\n")
	for _, t := range r.targets() {
		met := "yes"
		if !t.met {
			met = "**no**"
		}
		if t.goal == "—" {
			met = "—"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", t.what, t.measured, orDash(t.baseline), orDash(t.ratio), t.goal, met)
	}
	b.WriteString("\nHTTP load runs (each worker sends one request at a time over kept-alive connections):\n\n")
	b.WriteString("| Scenario | Workers | Requests | Errors | Requests/s | p50 | p99 |\n|---|---|---|---|---|---|---|\n")
	for _, l := range []loadResult{r.ready, r.forwarded, r.payload, r.sendHandler, r.sendDirect, r.sendHandler1, r.sendDirect1, r.crowd} {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %.0f | %s | %s |\n", l.Name, l.Workers, l.Requests, l.Errors, l.RPS(), micros(l.P50), micros(l.P99))
	}
	b.WriteString("\nGo benchmarks (median of the runs):\n\n")
	fmt.Fprintf(&b, "- `%s`\n- `%s`\n\n", r.bindingsCmd, r.handlerCmd)
	b.WriteString("| Benchmark | ns/op | B/op | allocs/op |\n|---|---|---|---|\n")
	for _, m := range []map[string]goBench{r.bindings, r.handler} {
		for _, name := range sortedKeys(m) {
			g := m[name]
			fmt.Fprintf(&b, "| %s | %.0f | %d | %d |\n", name, g.NsPerOp, g.BytesPerOp, g.AllocsPerOp)
		}
	}
	fmt.Fprintf(&b, "\nPeak resident size over the whole run (VmHWM): %s.\n", mib(r.peakRSS))
	return b.String()
}

func microsFromNs(v float64) string { return fmt.Sprintf("%.1f µs", v/1e3) }
func times(v float64) string        { return fmt.Sprintf("%.2f×", v) }
func rps(l loadResult) string       { return fmt.Sprintf("%.0f req/s", l.RPS()) }
func mib(v int64) string            { return fmt.Sprintf("%.1f MiB", float64(v)/(1<<20)) }
func micros(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/1e3) }

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
