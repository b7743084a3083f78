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
// server's.
func measureStartup(b *bench) error {
	h, m, err := startups(b.starts, b.bins, b.st.EmulatorEnv, b.tmp)
	if err != nil {
		return err
	}
	b.r.add(ratioRow("Start-up to first answer vs a minimal net/http server, median", h.Round(100*time.Microsecond).String(), m.Round(100*time.Microsecond).String(), float64(h)/float64(m), atMost(1.2)))
	return nil
}

// startups starts the handler and the minimal server n times each,
// alternately, and returns the median time from exec to the first answer
// of GET /.
func startups(n int, bins stack.Binaries, emulatorEnv map[string]string, tmp string) (handler, minimal time.Duration, err error) {
	dir := filepath.Join(tmp, "start")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, 0, err
	}
	var hs, ms []time.Duration
	for range n {
		for _, bin := range []string{bins.Handler, bins.Minimal} {
			port, err := stack.FreePort()
			if err != nil {
				return 0, 0, err
			}
			env := map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": strconv.Itoa(port)}
			if bin == bins.Handler {
				env = stack.HandlerEnv(emulatorEnv, env)
			}
			t0 := time.Now()
			p, err := stack.StartProcess(bin, nil, env, dir, filepath.Join(tmp, "start.log"))
			if err != nil {
				return 0, 0, err
			}
			ready, err := p.WaitReady("http://127.0.0.1:"+strconv.Itoa(port)+"/", 10*time.Second)
			stopErr := p.Stop()
			if err != nil {
				return 0, 0, err
			}
			// The minimal server has no SIGTERM handler: being killed by
			// the signal is its normal end.
			if stopErr != nil && bin == bins.Handler {
				return 0, 0, fmt.Errorf("stopping %s: %w", bin, stopErr)
			}
			if bin == bins.Handler {
				hs = append(hs, ready.Sub(t0))
			} else {
				ms = append(ms, ready.Sub(t0))
			}
		}
	}
	return median(hs), median(ms), nil
}

func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}
