// Command bench measures the handler against its targets and writes the
// table to docs/PERFORMANCE.md (make bench). It runs the Go benchmarks of
// bindings and handler, then builds cmd/handler and cmd/emulator, starts
// them as processes on loopback (the handler in Entra mode with a warm
// temporary key) and loads them over HTTP for a fixed time per scenario.
// Nothing leaves 127.0.0.1, and every run is bounded.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/signalr-entra/handler/scripts/bench/stack"
)

type config struct {
	out         string
	duration    time.Duration
	workers     int
	concurrency int
	starts      int
	count       int
	upstream    bool
}

func main() {
	var c config
	flag.StringVar(&c.out, "out", "docs/PERFORMANCE.md", "Markdown `file` whose bench section is rewritten; empty for none")
	flag.DurationVar(&c.duration, "duration", 5*time.Second, "length of each HTTP load run")
	flag.IntVar(&c.workers, "workers", 8, "concurrent workers of the HTTP load runs")
	flag.IntVar(&c.concurrency, "concurrency", 1000, "concurrent negotiations of the memory run")
	flag.IntVar(&c.starts, "starts", 20, "start-ups of each program for the start-up median")
	flag.IntVar(&c.count, "count", 3, "runs of each Go benchmark (the median is kept)")
	flag.BoolVar(&c.upstream, "upstream", false, "measure only the upstream invocation round trip against negotiate and send (its own section of -out)")
	flag.Parse()
	if c.duration <= 0 || c.duration > 5*time.Minute || c.workers < 1 || c.workers > 1000 ||
		c.concurrency < 1 || c.concurrency > 5000 || c.starts < 1 || c.starts > 200 || c.count < 1 || c.count > 20 {
		fmt.Fprintln(os.Stderr, "bench: out-of-range flag; use -duration in (0,5m], -workers 1..1000, -concurrency 1..5000, -starts 1..200, -count 1..20")
		os.Exit(2)
	}
	command := strings.Join(append([]string{"go run ./scripts/bench"}, os.Args[1:]...), " ")
	measure := run
	if c.upstream {
		measure = runUpstream
	}
	if err := measure(c, command); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(c config, command string) error {
	if _, err := os.Stat("go.mod"); err != nil {
		return errors.New("run from the module root (where go.mod is), as make bench does")
	}
	root, _ := os.Getwd()
	tmp, err := os.MkdirTemp("", "bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	started := time.Now()
	r := results{load: stack.LoadAverage()}

	// The Go benchmarks run first, with nothing else of ours running.
	log("Go benchmarks of bindings and handler (%d runs each) ...", c.count)
	if r.bindings, r.bindingsCmd, err = runGoBenchmarks(root, "./bindings", "^(BenchmarkConnectionInfoWarmKey|BenchmarkSignJWTAlone)$", c.count); err != nil {
		return err
	}
	if r.handler, r.handlerCmd, err = runGoBenchmarks(root, "./handler", "^(BenchmarkNegotiateForwardedWarmKey|BenchmarkNegotiatePayloadWarmKey)$", c.count); err != nil {
		return err
	}

	log("building the handler, the stand-in and the minimal server ...")
	bins, err := stack.Build(root, tmp)
	if err != nil {
		return err
	}
	runDir := filepath.Join(tmp, "run")
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return err
	}
	st, err := stack.Start(bins, stack.Options{Dir: runDir})
	if err != nil {
		return err
	}
	defer st.Stop()
	if err := measureHTTP(c, st, root, &r); err != nil {
		return err
	}
	log("start-up: %d starts of each program ...", c.starts)
	if r.startHandler, r.startMinimal, err = measureStartup(c.starts, bins, st.EmulatorEnv, tmp); err != nil {
		return err
	}
	if err := st.Stop(); err != nil {
		return err
	}
	doc := r.markdown(command, started)
	fmt.Println(doc)
	if c.out == "" {
		return nil
	}
	return stack.WriteSection(c.out, "bench", doc)
}

func log(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// measureHTTP runs the load scenarios and the memory run against st.
func measureHTTP(c config, st *stack.Stack, root string, r *results) error {
	h := st.HandlerURL
	payload, err := os.ReadFile(filepath.Join(root, "handler", "testdata", "negotiate_easyauth.request.json"))
	if err != nil {
		return err
	}
	token, err := entraToken(st.EmulatorEnv)
	if err != nil {
		return err
	}
	service := st.EmulatorEnv["AzureSignalRConnectionString__serviceUri"]
	send := []byte(`{"target":"bench","arguments":["hello"]}`)

	get := func(url string) request {
		return func(w int) (*http.Request, error) { return http.NewRequest("GET", url, nil) }
	}
	negotiate := func(w int) (*http.Request, error) {
		req, err := http.NewRequest("GET", h+"/api/negotiate?hub=chat&negotiateVersion=1", nil)
		if err == nil {
			req.Header.Set(stack.UserIDHeader, "user-"+strconv.Itoa(w))
		}
		return req, err
	}
	post := func(url, bearer string, body []byte) request {
		return func(w int) (*http.Request, error) {
			req, err := http.NewRequest("POST", url, bytes.NewReader(body))
			if err == nil {
				req.Header.Set("Content-Type", "application/json")
				if bearer != "" {
					req.Header.Set("Authorization", "Bearer "+bearer)
				}
			}
			return req, err
		}
	}

	// Warm up: the first negotiate waits for the temporary key.
	if res := runLoad("warm-up", 1, time.Second, negotiate); res.Requests == 0 {
		return fmt.Errorf("negotiate never succeeded during warm-up: %s", res.FirstErr)
	}
	time.Sleep(time.Second)
	if r.idleRSS, _, err = st.Handler.RSS(); err != nil {
		return err
	}
	for _, s := range []struct {
		name string
		req  request
		dst  *loadResult
		one  bool // a single worker: latency with the cores not saturated
	}{
		{"GET / (readiness)", get(h + "/"), &r.ready, false},
		{"GET /api/negotiate (forwarded)", negotiate, &r.forwarded, false},
		{"POST /negotiate (payload)", post(h+"/negotiate", "", payload), &r.payload, false},
		{"POST /api/messages (through the handler)", post(h+"/api/messages?hub=chat", "", send), &r.sendHandler, false},
		{"POST /api/hubs/chat/:send (straight to the stand-in)", post(service+"/api/hubs/chat/:send?api-version=2022-06-01", token, send), &r.sendDirect, false},
		{"POST /api/messages (through the handler), alone", post(h+"/api/messages?hub=chat", "", send), &r.sendHandler1, true},
		{"POST /api/hubs/chat/:send (straight to the stand-in), alone", post(service+"/api/hubs/chat/:send?api-version=2022-06-01", token, send), &r.sendDirect1, true},
	} {
		workers := c.workers
		if s.one {
			workers = 1
		}
		log("%s: %d workers for %v ...", s.name, workers, c.duration)
		*s.dst = runLoad(s.name, workers, c.duration, s.req)
		if s.dst.Errors > 0 {
			return fmt.Errorf("%s: %d errors, the first: %s", s.name, s.dst.Errors, s.dst.FirstErr)
		}
	}

	log("memory: %d concurrent negotiations for %v ...", c.concurrency, c.duration)
	ctx, cancel := context.WithCancel(context.Background())
	sampled := make(chan int64)
	go func() {
		var peak int64
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				sampled <- peak
				return
			case <-t.C:
				if rss, _, err := st.Handler.RSS(); err == nil {
					peak = max(peak, rss)
				}
			}
		}
	}()
	r.crowd = runLoad(fmt.Sprintf("GET /api/negotiate, %d at once", c.concurrency), c.concurrency, c.duration, negotiate)
	cancel()
	r.crowdRSS = <-sampled
	if _, r.peakRSS, err = st.Handler.RSS(); err != nil {
		return err
	}
	if r.crowd.Errors > 0 {
		return fmt.Errorf("%s: %d errors, the first: %s", r.crowd.Name, r.crowd.Errors, r.crowd.FirstErr)
	}
	return nil
}

// entraToken gets the system-assigned identity's token for SignalR Service
// from the stand-in's managed identity endpoint, as App Service would.
func entraToken(env map[string]string) (string, error) {
	req, err := http.NewRequest("GET", env["IDENTITY_ENDPOINT"]+"?api-version=2019-08-01&resource=https://signalr.azure.com", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("X-IDENTITY-HEADER", env["IDENTITY_HEADER"])
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var t struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&t); err != nil || t.AccessToken == "" {
		return "", fmt.Errorf("no token from the stand-in's managed identity endpoint (status %d, %v)", resp.StatusCode, err)
	}
	return t.AccessToken, nil
}
