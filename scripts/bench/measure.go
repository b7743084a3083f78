package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/signalr-entra/handler/scripts/bench/stack"
)

// goBenchmarks runs the in-process benchmarks of bindings and handler.
func goBenchmarks(b *bench) error {
	for _, g := range []struct{ pkg, pattern string }{
		{"./bindings", "^(BenchmarkConnectionInfoWarmKey|BenchmarkSignJWTAlone)$"},
		{"./handler", "^(BenchmarkNegotiateForwardedWarmKey|BenchmarkNegotiatePayloadWarmKey)$"},
	} {
		res, cmd, err := runGoBenchmarks(b.root, g.pkg, g.pattern, b.count)
		if err != nil {
			return err
		}
		b.r.goRuns = append(b.r.goRuns, goRun{cmd, res})
	}
	sign, alone := b.r.goBench("BenchmarkConnectionInfoWarmKey"), b.r.goBench("BenchmarkSignJWTAlone")
	fwd, pay := b.r.goBench("BenchmarkNegotiateForwardedWarmKey"), b.r.goBench("BenchmarkNegotiatePayloadWarmKey")
	b.r.add(ratioRow("Negotiate signing: ConnectionInfo, warm key, vs golang-jwt alone", microsFromNs(sign.NsPerOp), microsFromNs(alone.NsPerOp), sign.NsPerOp/alone.NsPerOp, atMost(2)))
	b.r.add(ratioRow("Negotiate in-process, payload (a browser's, 5 KB) vs forwarded, time per negotiate",
		fmt.Sprintf("%s (%d allocs, %d B)", microsFromNs(pay.NsPerOp), pay.AllocsPerOp, pay.BytesPerOp),
		fmt.Sprintf("%s (%d allocs, %d B)", microsFromNs(fwd.NsPerOp), fwd.AllocsPerOp, fwd.BytesPerOp),
		pay.NsPerOp/fwd.NsPerOp, atMost(2)))
	return nil
}

// startStack starts the stand-in and the handler, waits for the handler's
// temporary key and notes the idle resident size.
func startStack(b *bench) error {
	if err := b.readBrowserNegotiate(); err != nil {
		return err
	}
	dir := filepath.Join(b.tmp, "run")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if cpus, ok := stack.PinnedCPUs(); ok && b.pin {
		if err := stack.PinSelf(cpus.Rest, 1); err != nil {
			return err
		}
		b.cpus = cpus
		b.r.pinned = true
	}
	var err error
	if b.st, err = stack.Start(b.bins, stack.Options{Dir: dir, CPUs: b.cpus}); err != nil {
		return err
	}
	if res := runLoad("warm-up", 1, time.Second, b.negotiate(b.st.HandlerURL)); res.Requests == 0 {
		return fmt.Errorf("negotiate never succeeded during warm-up: %s", res.FirstErr)
	}
	time.Sleep(time.Second)
	rss, _, err := b.st.Handler.RSS()
	if err != nil {
		return err
	}
	b.r.add(target{what: "Resident size, idle (VmRSS)", measured: mib(rss), goal: "< 30 MiB", met: rss < 30<<20})
	return nil
}

// negotiate is a browser's negotiate, as @microsoft/signalr sends it and
// the host forwards it: the headers of the payload benchmark's request
// (cookies, user agent, the front end's), with the user id header the
// handler trusts.
func (b *bench) negotiate(base string) request {
	return func(w int) (*http.Request, error) {
		req, err := http.NewRequest("POST", base+"/api/negotiate?hub="+stack.Hub+"&negotiateVersion=1", nil)
		if err == nil {
			maps.Copy(req.Header, b.browserHeaders)
			req.Header.Set(stack.UserIDHeader, "user-"+strconv.Itoa(w))
		}
		return req, err
	}
}

// readBrowserNegotiate reads the payload of a browser's negotiate and the
// headers of its request, which Go sets itself (Host, Content-Length) left
// out.
func (b *bench) readBrowserNegotiate() error {
	var err error
	if b.browserPayload, err = os.ReadFile(filepath.Join(b.root, "handler", "testdata", "negotiate_browser.request.json")); err != nil {
		return err
	}
	var p struct {
		Data struct{ Req struct{ Headers http.Header } }
	}
	if err := json.Unmarshal(b.browserPayload, &p); err != nil {
		return err
	}
	b.browserHeaders = http.Header{}
	for k, vs := range p.Data.Req.Headers {
		if k = http.CanonicalHeaderKey(k); k != "Host" && k != "Content-Length" {
			b.browserHeaders[k] = vs
		}
	}
	return nil
}

func post(url, bearer string, body []byte) request {
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

// measureNegotiate compares forwarded negotiate with payload negotiate and
// with the standard-library negotiate server, each pair side by side.
func measureNegotiate(b *bench) error {
	std, err := b.startBaseline(b.bins.StdNegotiate, map[string]string{"SIGNALR_ENDPOINT": b.st.EmulatorEnv["AzureSignalRConnectionString__serviceUri"]})
	if err != nil {
		return err
	}
	defer std.Stop()
	h := b.st.HandlerURL
	fwd, pay, err := b.pair(b.workers,
		scenario{"POST /api/negotiate (forwarded)", b.negotiate(h), nil},
		scenario{"POST /negotiate (payload: a browser's negotiate as the host posts it)", post(h+"/negotiate", "", b.browserPayload), nil})
	if err != nil {
		return err
	}
	b.r.add(ratioRow("Payload negotiate vs forwarded negotiate, throughput", rps(pay), rps(fwd), pay.RPS()/fwd.RPS(), atLeast(0.8)))
	fwd2, base, err := b.pair(b.workers,
		scenario{"POST /api/negotiate (forwarded), again", b.negotiate(h), b.st.Handler},
		scenario{"POST /api/negotiate of the standard-library server", b.negotiate(std.url), std.Process})
	if err != nil {
		return err
	}
	b.r.add(ratioRow("Negotiate (forwarded) vs a standard-library negotiate server, throughput", rps(fwd2), rps(base), fwd2.RPS()/base.RPS(), atLeast(0.9)))
	b.r.add(infoRow("Negotiate (forwarded) vs a standard-library negotiate server, CPU time per request (inverse ratio)",
		cpuPerRequest(fwd2), cpuPerRequest(base), float64(base.CPUPerRequest())/float64(fwd2.CPUPerRequest())))
	return nil
}

// measureSend compares a send through the handler with the same send
// through a bare reverse proxy in front of the same stand-in: each is one
// more hop before the service.
func measureSend(b *bench) error {
	service := b.st.EmulatorEnv["AzureSignalRConnectionString__serviceUri"]
	proxy, err := b.startBaseline(b.bins.Proxy, map[string]string{"PROXY_TARGET": service})
	if err != nil {
		return err
	}
	defer proxy.Stop()
	token, err := entraToken(b.st.EmulatorEnv)
	if err != nil {
		return err
	}
	send := []byte(`{"target":"bench","arguments":["hello"]}`)
	through := post(b.st.HandlerURL+"/api/messages?hub="+stack.Hub, "", send)
	direct := post(proxy.url+"/api/hubs/"+stack.Hub+"/:send?api-version=2022-06-01", token, send)
	for _, workers := range []int{b.workers, 1} {
		suffix := fmt.Sprintf(", %d workers", workers)
		if workers == 1 {
			suffix = ", one at a time"
		}
		h, p, err := b.pair(workers,
			scenario{"POST /api/messages through the handler" + suffix, through, nil},
			scenario{"POST /api/hubs/chat/:send through the reverse proxy" + suffix, direct, nil})
		if err != nil {
			return err
		}
		b.r.add(ratioRow("Send through the handler vs through a bare reverse proxy, p50 latency"+suffix, micros(h.P50), micros(p.P50), float64(h.P50)/float64(p.P50), atMost(1.1)))
	}
	return nil
}

// measureMemory samples the handler's resident size under concurrent
// negotiations.
func measureMemory(b *bench) error {
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
				if rss, _, err := b.st.Handler.RSS(); err == nil {
					peak = max(peak, rss)
				}
			}
		}
	}()
	crowd := runLoad(fmt.Sprintf("POST /api/negotiate, %d at once", b.concurrency), b.concurrency, b.duration, b.negotiate(b.st.HandlerURL))
	cancel()
	rss := <-sampled
	b.r.loads = append(b.r.loads, crowd)
	if crowd.Errors > 0 {
		return fmt.Errorf("%s: %d errors, the first: %s", crowd.Name, crowd.Errors, crowd.FirstErr)
	}
	_, peak, err := b.st.Handler.RSS()
	if err != nil {
		return err
	}
	b.r.add(target{what: fmt.Sprintf("Resident size under %d concurrent negotiations (peak VmRSS sampled every 20 ms)", b.concurrency), measured: mib(rss), goal: "< 80 MiB", met: rss < 80<<20})
	b.r.peakRSS = peak
	return nil
}

// scenario is one named HTTP load, and the server process it loads when
// its CPU time is to be measured.
type scenario struct {
	name   string
	req    request
	server *stack.Process
}

// pair runs x and y with workers each for the run time, alternating in
// slices of about a second (x, y, x, y, …) so that a change in the
// machine's load touches both alike.
func (b *bench) pair(workers int, x, y scenario) (loadResult, loadResult, error) {
	log("%s vs %s: %d workers, %v each ...", x.name, y.name, workers, b.duration)
	slices := max(2, int(b.duration/time.Second))
	var rx, ry loadResult
	for range slices {
		for _, s := range []struct {
			sc  scenario
			res *loadResult
		}{{x, &rx}, {y, &ry}} {
			var before time.Duration
			if s.sc.server != nil {
				before, _ = s.sc.server.CPUTime()
			}
			r := runLoad(s.sc.name, workers, b.duration/time.Duration(slices), s.sc.req)
			if s.sc.server != nil {
				after, _ := s.sc.server.CPUTime()
				r.CPU = after - before
			}
			*s.res = s.res.merge(r)
		}
	}
	b.r.loads = append(b.r.loads, rx, ry)
	for _, r := range []loadResult{rx, ry} {
		if r.Errors > 0 {
			return rx, ry, fmt.Errorf("%s: %d errors, the first: %s", r.Name, r.Errors, r.FirstErr)
		}
	}
	return rx, ry, nil
}

// baseline is a comparison program, running.
type baseline struct {
	*stack.Process
	url string
}

// startBaseline runs bin on a free loopback port with env and waits until
// it answers.
func (b *bench) startBaseline(bin string, env map[string]string) (*baseline, error) {
	port, err := stack.FreePort()
	if err != nil {
		return nil, err
	}
	env["FUNCTIONS_CUSTOMHANDLER_PORT"] = strconv.Itoa(port)
	pinned, args := stack.OnCPUs(b.cpus.Server, bin, nil)
	p, err := stack.StartProcess(pinned, args, env, b.tmp, filepath.Join(b.tmp, filepath.Base(bin)+".log"))
	if err != nil {
		return nil, err
	}
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	if _, err := p.WaitReady(url+"/", 10*time.Second); err != nil {
		p.Stop()
		return nil, err
	}
	return &baseline{p, url}, nil
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
