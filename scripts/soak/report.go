package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/signalr-entra/handler/scripts/bench/stack"
)

// report is what the soak measured.
type report struct {
	cfg                                      config
	command                                  string
	started                                  time.Time
	t                                        tally
	rss0, rss1, peak                         int64
	connects, recycles, drops, connectErrors int64
	lastErr, processErr                      string
}

// passed: nothing lost, no send failed, no process failed. Drops and
// connect errors are errors too: nothing should drop a client here. So is a
// duplicate: it means a send was repeated after the service took it.
func (r report) passed() bool {
	return r.t.Lost == 0 && r.t.SendErrors == 0 && r.t.Unexpected == 0 && r.t.Duplicates == 0 &&
		r.drops == 0 && r.connectErrors == 0 && r.processErr == ""
}

func (r report) markdown() string {
	var b strings.Builder
	c := r.cfg
	verdict := "**passed**: nothing lost, no errors"
	if !r.passed() {
		verdict = "**FAILED**"
	}
	fmt.Fprintf(&b, "## Latest soak\n\n")
	fmt.Fprintf(&b, "- Machine: %s\n", stack.Machine())
	fmt.Fprintf(&b, "- Command: `%s`\n", r.command)
	fmt.Fprintf(&b, "- Date: %s\n", r.started.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "- Set-up: cmd/handler (Entra mode, system-assigned managed identity, SIGNALR_KEY_REFRESH=%v) and cmd/emulator (-key-lifetime %v) on loopback; %d WebSocket clients (two per user, users in %d groups) negotiating through the handler, then with the service, speaking the JSON hub protocol, each leaving and negotiating again every %v on average; %d messages/s through POST /api/messages for %v, in turn to everyone, to a user and to a group; grace %v.\n",
		c.keyRefresh, c.keyLifetime, c.clients, min(3, max(c.clients/2, 1)), c.recycle, c.rate, c.duration, c.grace)
	fmt.Fprintf(&b, "- Result: %s\n\n", verdict)
	b.WriteString("| Count | Value |\n|---|---|\n")
	for _, row := range []struct {
		k string
		v any
	}{
		{"Messages sent", r.t.Sent},
		{"Send errors", r.t.SendErrors},
		{"Expected deliveries (client connected throughout the send)", r.t.Expected},
		{"Received of those", r.t.Received},
		{"**Lost**", r.t.Lost},
		{"Duplicates", r.t.Duplicates},
		{"Deliveries to clients not addressed", r.t.Unexpected},
		{"Deliveries not counted (client reconnecting during the send)", r.t.Uncounted},
		{"Client connections (negotiate → service → WebSocket)", r.connects},
		{"Planned reconnects", r.recycles},
		{"Dropped connections", r.drops},
		{"Connect errors", r.connectErrors},
		{"Handler VmRSS after connecting / at the end / peak", fmt.Sprintf("%.1f / %.1f / %.1f MiB", mib(r.rss0), mib(r.rss1), mib(r.peak))},
	} {
		fmt.Fprintf(&b, "| %s | %v |\n", row.k, row.v)
	}
	if r.lastErr != "" {
		fmt.Fprintf(&b, "\nLast client error: `%s`\n", r.lastErr)
	}
	if r.processErr != "" {
		fmt.Fprintf(&b, "\n%s\n", r.processErr)
	}
	return b.String()
}

func mib(v int64) float64 { return float64(v) / (1 << 20) }
