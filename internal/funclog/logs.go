package funclog

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// The Functions host logs what a custom handler writes on stdout at
// Information, what it writes on stderr at Warning when the line holds
// "warn" and at Error otherwise, and every entry of a payload reply's Logs
// at Information, under the invocation (WorkerProcess and
// DefaultHttpWorkerService). So each record is written once, where its
// level survives: below Warn to Logs in payload mode and to stdout
// otherwise, Warn and above to stderr.

// ConsoleLogger logs JSON lines the way the Functions host reads a custom
// handler's console: records below Warn on stdout, Warn and above on
// stderr, with an Error record's "warn" escaped so that the host does not
// take it for a warning.
func ConsoleLogger(stdout, stderr io.Writer) *slog.Logger {
	return slog.New(&levelSplit{
		below: slog.NewJSONHandler(stdout, nil),
		above: slog.NewJSONHandler(&errorLines{w: stderr}, nil),
	})
}

// LineBatcher passes lines on to a writer several at a time: a record per
// request written on its own costs a system call each, which on a busy
// handler weighed as much as the request's own work. A line waits at most
// batchDelay, or until 64 KB wait; Flush writes what waits, and must be
// called before the process ends.
type LineBatcher struct {
	mu      sync.Mutex
	w       io.Writer
	buf     []byte
	pending bool
	delay   time.Duration // batchDelay; tests change it
}

const (
	batchDelay = 20 * time.Millisecond
	batchMax   = 64 << 10
)

// NewLineBatcher batches the lines written to w.
func NewLineBatcher(w io.Writer) *LineBatcher { return &LineBatcher{w: w, delay: batchDelay} }

func (b *LineBatcher) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) >= batchMax {
		return len(p), b.flushLocked()
	}
	if !b.pending {
		b.pending = true
		time.AfterFunc(b.delay, func() { _ = b.Flush() })
	}
	return len(p), nil
}

// Flush writes the lines that wait.
func (b *LineBatcher) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func (b *LineBatcher) flushLocked() error {
	b.pending = false
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}

// levelSplit sends records below Warn to below and the others to above.
type levelSplit struct {
	below, above slog.Handler
}

func (s *levelSplit) pick(l slog.Level) slog.Handler {
	if l < slog.LevelWarn {
		return s.below
	}
	return s.above
}

func (s *levelSplit) Enabled(ctx context.Context, l slog.Level) bool {
	return s.pick(l).Enabled(ctx, l)
}

func (s *levelSplit) Handle(ctx context.Context, r slog.Record) error {
	return s.pick(r.Level).Handle(ctx, r)
}

func (s *levelSplit) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &levelSplit{below: s.below.WithAttrs(attrs), above: s.above.WithAttrs(attrs)}
}

func (s *levelSplit) WithGroup(name string) slog.Handler {
	return &levelSplit{below: s.below.WithGroup(name), above: s.above.WithGroup(name)}
}

// errorLines passes JSON lines on, writing "warn" in an ERROR line as
// "\u0077arn": the same JSON text, which the host no longer reads as a
// warning. slog writes each record in one Write.
type errorLines struct {
	w io.Writer
}

var errorLevel = []byte(`"level":"ERROR"`)

func (e *errorLines) Write(p []byte) (int, error) {
	if !bytes.Contains(p, errorLevel) || !containsFold(p, "warn") {
		return e.w.Write(p)
	}
	out := make([]byte, 0, len(p)+8)
	for i := 0; i < len(p); i++ {
		if i+4 <= len(p) && bytes.EqualFold(p[i:i+4], []byte("warn")) {
			// Only strings can hold letters in slog's JSON, and \u0077
			// (or \u0057) is w (or W) inside a string.
			if p[i] == 'w' {
				out = append(out, `\u0077`...)
			} else {
				out = append(out, `\u0057`...)
			}
			continue
		}
		out = append(out, p[i])
	}
	if _, err := e.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

func containsFold(p []byte, word string) bool {
	for i := 0; i+len(word) <= len(p); i++ {
		if bytes.EqualFold(p[i:i+len(word)], []byte(word)) {
			return true
		}
	}
	return false
}

// Collector keeps one invocation's log lines for the Logs of its payload
// reply, so that the host files them under the invocation.
type Collector struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *Collector) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

// handler formats records as text lines without the time, which the host
// stamps itself.
func (c *Collector) handler() slog.Handler {
	return slog.NewTextHandler(c, &slog.HandlerOptions{ReplaceAttr: dropTime})
}

func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// Lines returns the lines logged so far.
func (c *Collector) Lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := strings.TrimRight(c.buf.String(), "\n")
	if s == "" {
		return []string{}
	}
	return strings.Split(s, "\n")
}

// InvocationLogger logs with the invocation id and function: when logs is
// not nil (payload mode), records below Warn go to logs only, and the others
// to log; otherwise all go to log.
func InvocationLogger(log *slog.Logger, id, function string, logs *Collector) *slog.Logger {
	var next slog.Handler = log.Handler()
	if logs != nil {
		next = &levelSplit{below: logs.handler(), above: next}
	}
	// Prefixed rather than With: most invocations log one record, and With
	// formats its attributes for every handler up front.
	return slog.New(&prefixed{next: next, attrs: []slog.Attr{slog.String("invocationId", id), slog.String("function", function)}})
}

// prefixed adds attrs before each record's own, as With would, but only
// when a record is written.
type prefixed struct {
	next  slog.Handler
	attrs []slog.Attr
}

func (p *prefixed) Enabled(ctx context.Context, l slog.Level) bool { return p.next.Enabled(ctx, l) }

func (p *prefixed) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	out.AddAttrs(p.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(a)
		return true
	})
	return p.next.Handle(ctx, out)
}

func (p *prefixed) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &prefixed{next: p.next, attrs: append(p.attrs[:len(p.attrs):len(p.attrs)], attrs...)}
}

func (p *prefixed) WithGroup(name string) slog.Handler {
	return p.next.WithAttrs(p.attrs).WithGroup(name)
}
