// Command soak runs the handler and the stand-in (the binaries, on
// loopback) for a while with short-lived temporary keys, WebSocket clients
// that negotiate like real ones and reconnect, and a steady stream of
// messages through the handler's /api/messages (broadcast, to a user, to a
// group), each tagged with a sequence number. It reports what was sent,
// received and lost, and exits 1 if anything was lost or failed
// (make soak DURATION=10m).
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/signalr-entra/handler/scripts/bench/stack"
)

type config struct {
	duration, grace, keyLifetime, keyRefresh, recycle time.Duration
	clients, rate                                     int
	out                                               string
}

func main() {
	var c config
	flag.DurationVar(&c.duration, "duration", 2*time.Minute, "how long messages are sent")
	flag.DurationVar(&c.grace, "grace", 5*time.Second, "how long to wait for deliveries after the last send")
	flag.DurationVar(&c.keyLifetime, "key-lifetime", 2*time.Minute, "lifetime of the stand-in's temporary keys")
	flag.DurationVar(&c.keyRefresh, "key-refresh", 30*time.Second, "the handler's SIGNALR_KEY_REFRESH")
	flag.DurationVar(&c.recycle, "recycle", 90*time.Second, "mean time a client stays before negotiating again")
	flag.IntVar(&c.clients, "clients", 12, "WebSocket clients (two per user)")
	flag.IntVar(&c.rate, "rate", 20, "messages sent through the handler per second")
	flag.StringVar(&c.out, "out", "", "Markdown `file` whose soak section is rewritten, such as docs/PERFORMANCE.md")
	flag.Parse()
	if c.duration <= 0 || c.duration > 24*time.Hour || c.grace < time.Second || c.grace > 5*time.Minute ||
		c.clients < 2 || c.clients > 1000 || c.rate < 1 || c.rate > 1000 || c.recycle < 5*time.Second ||
		c.keyLifetime < time.Minute || c.keyRefresh <= 0 {
		fmt.Fprintln(os.Stderr, "soak: out-of-range flag; use -duration in (0,24h], -grace 1s..5m, -clients 2..1000, -rate 1..1000, -recycle ≥ 5s, -key-lifetime ≥ 1m, -key-refresh > 0")
		os.Exit(2)
	}
	ok, err := run(c, strings.Join(append([]string{"go run ./scripts/soak"}, os.Args[1:]...), " "))
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "soak: %s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func run(c config, command string) (bool, error) {
	if _, err := os.Stat("go.mod"); err != nil {
		return false, errors.New("run from the module root (where go.mod is), as make soak does")
	}
	root, _ := os.Getwd()
	tmp, err := os.MkdirTemp("", "soak-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(tmp)
	started := time.Now()
	bins, err := stack.Build(root, tmp)
	if err != nil {
		return false, err
	}
	st, err := stack.Start(bins, stack.Options{
		Dir:          tmp,
		EmulatorArgs: []string{"-key-lifetime", c.keyLifetime.String()},
		HandlerEnv:   map[string]string{"SIGNALR_KEY_REFRESH": c.keyRefresh.String()},
	})
	if err != nil {
		return false, err
	}
	defer st.Stop()
	logf("handler %s, stand-in %s; logs in %s", st.HandlerURL, st.EmulatorEnv["AzureSignalRConnectionString__serviceUri"], tmp)

	users := max(c.clients/2, 1)
	groups := min(3, users)
	clients := make([]*client, c.clients)
	httpc := &http.Client{Timeout: 30 * time.Second}
	for i := range clients {
		u := i % users
		clients[i] = &client{id: i, user: "soak-user-" + strconv.Itoa(u), group: "soak-group-" + strconv.Itoa(u%groups), got: map[int]int{}}
	}
	for u := range users {
		body := fmt.Sprintf(`{"action":"add","userId":"soak-user-%d","groupName":"soak-group-%d"}`, u, u%groups)
		if err := post(httpc, st.HandlerURL+"/api/groups?hub="+stack.Hub, body); err != nil {
			return false, fmt.Errorf("adding users to groups: %w", err)
		}
	}

	ctx, stopClients := context.WithCancel(context.Background())
	defer stopClients()
	var n counters
	var wg sync.WaitGroup
	for _, cl := range clients {
		wg.Go(func() { runClient(ctx, cl, st.HandlerURL, c.recycle, &n) })
	}
	for i := 0; i < 300 && n.connects.Load() < int64(len(clients)); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if got := n.connects.Load(); got < int64(len(clients)) {
		return false, fmt.Errorf("only %d of %d clients connected within 30s: %v", got, len(clients), n.lastErr.Load())
	}
	rss0, _, _ := st.Handler.RSS()
	logf("%d clients connected; sending %d messages/s for %v", len(clients), c.rate, c.duration)

	msgs := send(c, st, httpc, users, groups, func() {
		rss, _, _ := st.Handler.RSS()
		logf("connects %d, recycles %d, drops %d, connect errors %d; handler RSS %.1f MiB",
			n.connects.Load(), n.recycles.Load(), n.drops.Load(), n.connectErrors.Load(), float64(rss)/(1<<20))
	})
	time.Sleep(c.grace)
	rss1, peak, _ := st.Handler.RSS()
	stopClients()
	wg.Wait()
	handlerOK := !st.Handler.Exited() && !st.Emulator.Exited()
	stopErr := st.Stop()

	t := count(msgs, clients)
	r := report{cfg: c, command: command, started: started, t: t, rss0: rss0, rss1: rss1, peak: peak,
		connects: n.connects.Load(), recycles: n.recycles.Load(), drops: n.drops.Load(), connectErrors: n.connectErrors.Load()}
	if v := n.lastErr.Load(); v != nil {
		r.lastErr = v.(string)
	}
	if !handlerOK || stopErr != nil {
		r.processErr = fmt.Sprintf("a process ended early or did not stop cleanly (%v); see the logs", stopErr)
	}
	doc := r.markdown()
	fmt.Println(doc)
	if c.out != "" {
		if err := stack.WriteSection(c.out, "soak", doc); err != nil {
			return false, err
		}
	}
	return r.passed(), nil
}

// send posts messages through the handler at the configured rate until the
// duration passes, calling progress every minute.
func send(c config, st *stack.Stack, httpc *http.Client, users, groups int, progress func()) []message {
	var msgs []message
	tick := time.NewTicker(time.Second / time.Duration(c.rate))
	defer tick.Stop()
	minute := time.NewTicker(time.Minute)
	defer minute.Stop()
	end := time.After(c.duration)
	for seq := 1; ; seq++ {
		select {
		case <-end:
			return msgs
		case <-minute.C:
			progress()
		case <-tick.C:
		}
		m := message{seq: seq}
		body := `{"target":"soak","arguments":[{"seq":` + strconv.Itoa(seq) + `}]`
		switch seq % 3 {
		case 0:
			m.kind = "broadcast"
		case 1:
			m.kind, m.to = "user", "soak-user-"+strconv.Itoa((seq/3)%users)
			body += `,"userId":"` + m.to + `"`
		case 2:
			m.kind, m.to = "group", "soak-group-"+strconv.Itoa((seq/3)%groups)
			body += `,"groupName":"` + m.to + `"`
		}
		m.start = time.Now()
		err := post(httpc, st.HandlerURL+"/api/messages?hub="+stack.Hub, body+"}")
		m.end = time.Now()
		m.ok = err == nil
		if err != nil {
			logf("send %d: %v", seq, err)
		}
		msgs = append(msgs, m)
	}
}

// post sends a JSON body and wants 202 Accepted.
func post(httpc *http.Client, u, body string) error {
	resp, err := httpc.Post(u, "application/json", bytes.NewReader([]byte(body)))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("POST %s: status %d: %.300s", u, resp.StatusCode, reply)
	}
	return nil
}
