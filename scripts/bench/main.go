// Command bench measures the handler against its targets and writes the
// table to docs/PERFORMANCE.md (make bench). It runs the Go benchmarks of
// bindings and handler, then builds cmd/handler, cmd/emulator and the
// baselines (a minimal net/http server, a standard-library negotiate
// server, a bare reverse proxy), starts them as processes on loopback (the
// handler in Entra mode with a warm temporary key) and loads them over HTTP
// for a fixed time per scenario. Nothing leaves 127.0.0.1, and every run is
// bounded.
//
// Each measure is a step (steps, below) that adds its rows to the report;
// a new measure is a function in its own file and one line in steps.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/signalr-entra/handler/scripts/bench/stack"
)

type config struct {
	only        string
	out         string
	duration    time.Duration
	workers     int
	concurrency int
	starts      int
	count       int
	upstream    bool
	pin         bool
}

// bench is what every step may use: the settings, the built programs, the
// running stand-in and handler, and the report being built.
type bench struct {
	config
	root, tmp string
	bins      stack.Binaries
	st        *stack.Stack
	r         *results
	// browserPayload is a browser's negotiate as the host posts it, and
	// browserHeaders the headers of that request, as the host forwards it.
	browserPayload []byte
	browserHeaders http.Header
	// cpus pin the servers measured and the rest apart; zero when unpinned.
	cpus stack.CPUs
}

// steps are the measures, in the order they run and are reported.
var steps = []struct {
	name string
	run  func(*bench) error
}{
	{"Go benchmarks", goBenchmarks}, // first, with nothing else of ours running
	{"host modes", measureHostModes},
	{stackStep, startStack},
	{"negotiate", measureNegotiate},
	{"send", measureSend},
	{"memory", measureMemory},
	{"start-up", measureStartup},
}

// stackStep starts what the other steps measure.
const stackStep = "the stand-in and the handler"

func main() {
	var c config
	flag.StringVar(&c.only, "only", "", "run only the steps whose names contain this `text` (and the stand-in and handler they need), such as start-up")
	flag.StringVar(&c.out, "out", "docs/PERFORMANCE.md", "Markdown `file` whose bench section is rewritten; empty for none")
	flag.DurationVar(&c.duration, "duration", 6*time.Second, "length of each HTTP load run (compared runs alternate in slices of about a second)")
	flag.IntVar(&c.workers, "workers", 8, "concurrent workers of the HTTP load runs")
	flag.IntVar(&c.concurrency, "concurrency", 1000, "concurrent negotiations of the memory run")
	flag.IntVar(&c.starts, "starts", 20, "start-ups of each program for the start-up median")
	flag.IntVar(&c.count, "count", 3, "runs of each Go benchmark (the median is kept)")
	flag.BoolVar(&c.upstream, "upstream", false, "measure only the upstream invocation round trip against negotiate and send (its own section of -out)")
	flag.BoolVar(&c.pin, "pin", true, "with taskset and two CPUs or more, run the server measured on CPU 0 and the load generator and the stand-in on CPU 1 (Go benchmarks and start-ups excepted)")
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
	b := &bench{config: c, root: root, tmp: tmp, r: &results{load: stack.LoadAverage()}}

	log("building the handler, the stand-in and the baselines ...")
	if b.bins, err = stack.Build(root, tmp); err != nil {
		return err
	}
	defer func() {
		if b.st != nil {
			b.st.Stop()
		}
	}()
	for _, s := range steps {
		if c.only != "" && !strings.Contains(s.name, c.only) && s.name != stackStep {
			continue
		}
		log("%s ...", s.name)
		if err := s.run(b); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	if err := b.st.Stop(); err != nil {
		return err
	}
	b.st = nil
	if c.only != "" {
		c.out = "" // a partial run does not replace the report
	}
	b.r.loadEnd = stack.LoadAverage()
	doc := b.r.markdown(command, started)
	fmt.Println(doc)
	if c.out == "" {
		return nil
	}
	return stack.WriteSection(c.out, "bench", doc)
}

func log(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
