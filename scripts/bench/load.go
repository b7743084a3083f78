package main

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// loadResult is what a load run measured.
type loadResult struct {
	Name     string
	Workers  int
	Requests int
	Errors   int
	FirstErr string
	Elapsed  time.Duration
	P50, P99 time.Duration
	// CPU is the CPU time the server used during the runs, when measured.
	CPU  time.Duration
	lats []time.Duration
}

// merge adds the runs of o (of the same scenario) to r.
func (r loadResult) merge(o loadResult) loadResult {
	r.Name, r.Workers = o.Name, o.Workers
	r.Requests += o.Requests
	r.Errors += o.Errors
	if r.FirstErr == "" {
		r.FirstErr = o.FirstErr
	}
	r.Elapsed += o.Elapsed
	r.CPU += o.CPU
	r.lats = append(r.lats, o.lats...)
	r.P50, r.P99 = percentile(r.lats, 50), percentile(r.lats, 99)
	return r
}

// RPS is the throughput in requests per second.
func (r loadResult) RPS() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

// CPUPerRequest is the server's CPU time per request: unlike throughput,
// it hardly moves with what else runs on the machine, and with the server
// alone on a core the throughputs of two servers stand in its inverse ratio.
func (r loadResult) CPUPerRequest() time.Duration { return r.CPU / time.Duration(max(r.Requests, 1)) }

// request builds worker w's next request.
type request func(w int) (*http.Request, error)

// runLoad sends requests from workers goroutines, each one at a time over
// kept-alive connections, for d; only successful (2xx) requests count
// toward the latencies.
func runLoad(name string, workers int, d time.Duration, next request) loadResult {
	tr := &http.Transport{MaxIdleConns: workers, MaxIdleConnsPerHost: workers, IdleConnTimeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var (
		mu   sync.Mutex
		res  = loadResult{Name: name, Workers: workers}
		lats []time.Duration
		wg   sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := range workers {
		wg.Go(func() {
			var mine []time.Duration
			errs, first := 0, ""
			for time.Now().Before(deadline) {
				t0 := time.Now()
				err := do(client, next, w)
				if err != nil {
					errs++
					if first == "" {
						first = err.Error()
					}
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			defer mu.Unlock()
			lats = append(lats, mine...)
			res.Errors += errs
			if res.FirstErr == "" {
				res.FirstErr = first
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Requests = len(lats)
	res.P50, res.P99 = percentile(lats, 50), percentile(lats, 99)
	res.lats = lats
	return res
}

func do(client *http.Client, next request, w int) error {
	req, err := next(w)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: status %d: %.200s", req.Method, req.URL.Path, resp.StatusCode, body)
	}
	return nil
}

// percentile returns the p-th percentile (nearest rank) of ds, sorting it.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := (len(ds)*p + 99) / 100
	return ds[max(i-1, 0)]
}
