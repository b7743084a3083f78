package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/signalr-entra/handler/scripts/bench/stack"
)

// measureStartup compares the handler's start-up with a minimal net/http
// server's, and with the floor its required dependencies set.
func measureStartup(b *bench) error {
	t, err := startups(b.starts, b.bins, b.st.EmulatorEnv, b.tmp)
	if err != nil {
		return err
	}
	h, m, floor := t[b.bins.Handler], t[b.bins.Minimal], t[b.bins.DepsFloor]
	b.r.add(ratioRow("Start-up to first answer vs a minimal net/http server, median", round(h), round(m), float64(h)/float64(m), atMost(1.2)))
	b.r.add(infoRow("Start-up of the dependency floor (the minimal server linking azidentity, golang-jwt and envconfig) vs the minimal server", round(floor), round(m), float64(floor)/float64(m)))
	b.r.add(infoRow("Start-up vs the dependency floor: the handler's own share", round(h), round(floor), float64(h)/float64(floor)))
	return nil
}

func round(d time.Duration) string { return d.Round(100 * time.Microsecond).String() }

// startups starts the handler, the minimal server and the dependency floor
// n times each, in turn, and returns each one's median time from exec to
// the first answer of GET /. The handler is started as the Functions host
// starts it (FUNCTIONS_WORKER_RUNTIME set: settings from the environment
// only), the deployed path.
func startups(n int, bins stack.Binaries, emulatorEnv map[string]string, tmp string) (map[string]time.Duration, error) {
	dir := filepath.Join(tmp, "start")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	programs := []string{bins.Handler, bins.Minimal, bins.DepsFloor}
	times := map[string][]time.Duration{}
	for range n {
		for _, bin := range programs {
			port, err := stack.FreePort()
			if err != nil {
				return nil, err
			}
			env := map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": strconv.Itoa(port)}
			if bin == bins.Handler {
				env = stack.HandlerEnv(emulatorEnv, env)
				env["FUNCTIONS_WORKER_RUNTIME"] = "custom"
			}
			t0 := time.Now()
			p, err := stack.StartProcess(bin, nil, env, dir, filepath.Join(tmp, "start.log"))
			if err != nil {
				return nil, err
			}
			ready, err := p.WaitReady("http://127.0.0.1:"+strconv.Itoa(port)+"/", 10*time.Second)
			stopErr := p.Stop()
			if err != nil {
				return nil, err
			}
			// The baselines have no SIGTERM handler: being killed by the
			// signal is their normal end.
			if stopErr != nil && bin == bins.Handler {
				return nil, fmt.Errorf("stopping %s: %w", bin, stopErr)
			}
			times[bin] = append(times[bin], ready.Sub(t0))
		}
	}
	medians := map[string]time.Duration{}
	for bin, ts := range times {
		medians[bin] = median(ts)
	}
	return medians, nil
}

func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}
