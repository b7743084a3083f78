package handler

import (
	"io"
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func newTextLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

func TestLogCollector(t *testing.T) {
	h := newTestHandler(t, &fakeService{}, nil)
	logs := &logCollector{}
	if diff := cmp.Diff([]string{}, logs.lines()); diff != "" {
		t.Errorf("empty collector (-want +got):\n%s", diff)
	}
	l := h.invocationLogger("inv-9", fnGroups, logs)
	l.Debug("not kept")
	l.Info("one", "k", "v")
	l.Warn("two words")
	want := []string{
		"level=INFO msg=one invocationId=inv-9 function=groups k=v",
		`level=WARN msg="two words" invocationId=inv-9 function=groups`,
	}
	if diff := cmp.Diff(want, logs.lines()); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}
