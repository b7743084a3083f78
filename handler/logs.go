package handler

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
)

// logCollector keeps one invocation's log lines for the Logs of its payload
// reply, so that the host files them under the invocation.
type logCollector struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *logCollector) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

// handler formats records as text lines without the time, which the host
// stamps itself.
func (c *logCollector) handler() slog.Handler {
	return slog.NewTextHandler(c, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
}

// lines returns the lines logged so far.
func (c *logCollector) lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := strings.TrimRight(c.buf.String(), "\n")
	if s == "" {
		return []string{}
	}
	return strings.Split(s, "\n")
}

// invocationLogger logs to the handler's log with the invocation id and,
// when logs is not nil, to logs as well.
func (h *Handler) invocationLogger(id, function string, logs *logCollector) *slog.Logger {
	l := h.log
	if logs != nil {
		l = slog.New(slog.NewMultiHandler(h.log.Handler(), logs.handler()))
	}
	return l.With("invocationId", id, "function", function)
}
