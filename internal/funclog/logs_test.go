package funclog

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// hostLevel is the level at which the Functions host logs a line of a
// custom handler's console (WorkerProcess.ParseErrorMessageAndLog with
// UseStdErrorStreamForErrorsOnly, true for custom handlers).
func hostLevel(stream, line string) string {
	switch {
	case stream == "stdout":
		return "Information"
	case strings.Contains(strings.ToLower(line), "warn"):
		return "Warning"
	}
	return "Error"
}

// hostLines is what the host logs of both streams: each line with its
// level.
func hostLines(stdout, stderr string) []string {
	var out []string
	for stream, text := range map[string]string{"stdout": stdout, "stderr": stderr} {
		for line := range strings.Lines(text) {
			var rec struct{ Msg string }
			_ = json.Unmarshal([]byte(line), &rec)
			out = append(out, hostLevel(stream, line)+" "+rec.Msg)
		}
	}
	return out
}

func TestConsoleLoggerKeepsLevelsUnderTheHost(t *testing.T) {
	var stdout, stderr bytes.Buffer
	log := ConsoleLogger(&stdout, &stderr)
	log.Debug("not kept")
	log.Info("listening")
	log.Warn("a setting is ignored")
	log.Error("negotiate failed", "error", "Warning: the key expired")
	want := []string{"Information listening", "Warning a setting is ignored", "Error negotiate failed"}
	got := hostLines(stdout.String(), stderr.String())
	if diff := cmp.Diff(want, got, sortStrings); diff != "" {
		t.Errorf("host log (-want +got):\n%s", diff)
	}
	// The escaped line says the same.
	var rec map[string]any
	if err := json.Unmarshal([]byte(strings.Split(stderr.String(), "\n")[1]), &rec); err != nil || rec["error"] != "Warning: the key expired" {
		t.Errorf("error line %q reads %v, %v", stderr.String(), rec, err)
	}
}

var sortStrings = cmpopts.SortSlices(func(a, b string) bool { return a < b })

func TestLogCollector(t *testing.T) {
	var handlerLog bytes.Buffer
	logs := &Collector{}
	if diff := cmp.Diff([]string{}, logs.Lines()); diff != "" {
		t.Errorf("empty collector (-want +got):\n%s", diff)
	}
	l := InvocationLogger(slog.New(slog.NewTextHandler(&handlerLog, nil)), "inv-9", "groups", logs)
	l.Debug("not kept")
	l.Info("one", "k", "v")
	l.With("w", 1).Info("two words")
	l.Warn("three")
	want := []string{
		"level=INFO msg=one invocationId=inv-9 function=groups k=v",
		`level=INFO msg="two words" invocationId=inv-9 function=groups w=1`,
	}
	if diff := cmp.Diff(want, logs.Lines()); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	if got := handlerLog.String(); !strings.Contains(got, "level=WARN msg=three invocationId=inv-9 function=groups") || strings.Contains(got, "INFO") {
		t.Errorf("handler log %q, want the warning alone", got)
	}
}

// countingWriter counts the writes that reach it.
type countingWriter struct {
	Collector
	writes int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes++
	c.mu.Unlock()
	return c.Collector.Write(p)
}

func TestLineBatcherWritesLinesTogether(t *testing.T) {
	var w countingWriter
	b := NewLineBatcher(&w)
	b.delay = time.Hour // only Flush writes
	log := ConsoleLogger(b, io.Discard)
	for i := range 100 {
		log.Info("sent", "n", i)
	}
	if len(w.Lines()) != 0 {
		t.Fatalf("%d lines written before Flush, want them waiting", len(w.Lines()))
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := w.Lines()
	if w.writes != 1 || len(lines) != 100 || !strings.Contains(lines[99], `"n":99`) {
		t.Errorf("%d writes of %d lines (last %q); want the 100 lines in order in one write", w.writes, len(lines), lines[len(lines)-1])
	}
	// Lines over the batch size go out without waiting.
	big := strings.Repeat("x", batchMax)
	log.Info(big)
	if len(w.Lines()) != 101 {
		t.Errorf("a line of %d bytes waited", len(big))
	}
}

func TestLineBatcherDoesNotHoldLinesBack(t *testing.T) {
	var w countingWriter
	b := NewLineBatcher(&w)
	b.delay = time.Millisecond
	ConsoleLogger(b, io.Discard).Info("listening")
	for deadline := time.Now().Add(5 * time.Second); len(w.Lines()) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the line was not written without Flush")
		}
	}
}
