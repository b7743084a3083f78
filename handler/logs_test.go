package handler

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/signalr-entra/handler/bindings"
	"github.com/signalr-entra/handler/internal/funclog"
)

var durationMs = regexp.MustCompile(`durationMs=\d+`)

func newTextLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// consoleRecords reads the JSON lines of one console stream as "LEVEL msg".
func consoleRecords(t *testing.T, text string) []string {
	t.Helper()
	var out []string
	for line := range strings.Lines(text) {
		var rec struct{ Level, Msg string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("console line %q: %v", line, err)
		}
		out = append(out, rec.Level+" "+rec.Msg)
	}
	return out
}

// TestPayloadLogsEachRecordOnce serves a payload invocation whose service
// call fails: each record must be written once, the information under the
// invocation (Logs) and the error on stderr, where the host keeps its
// level (funclog.ConsoleLogger).
func TestPayloadLogsEachRecordOnce(t *testing.T) {
	var stdout, stderr bytes.Buffer
	svc := &fakeService{fail: func(string, int) error { return &bindings.Error{Op: "send to all", Status: 403} }}
	h := newTestHandler(t, svc, &Options{Logger: funclog.ConsoleLogger(&stdout, &stderr)})
	rec := postPayload(t, h, fnMessages, []byte(`{"Data":{"req":{"Url":"u","Method":"POST","Query":{},"Body":"{\"target\":\"a\"}"}}}`))
	var r payloadReply
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	var logs []string
	for _, l := range r.Logs {
		logs = append(logs, durationMs.ReplaceAllString(l, "durationMs=N"))
	}
	if diff := cmp.Diff([]string{`level=INFO msg="invocation done" invocationId=6a1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d function=messages status=502 durationMs=N`}, logs); diff != "" {
		t.Errorf("Logs (-want +got):\n%s", diff)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout %q, want nothing: the information went to Logs", stdout.String())
	}
	if diff := cmp.Diff([]string{"ERROR messages item failed"}, consoleRecords(t, stderr.String())); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
	if !strings.Contains(stderr.String(), `"invocationId":"6a1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"`) {
		t.Errorf("the error lacks the invocation id: %s", stderr.String())
	}
}

// TestForwardedLogsOnce: without a payload reply, information goes to
// stdout only.
func TestForwardedLogsOnce(t *testing.T) {
	var stdout, stderr bytes.Buffer
	h := newTestHandler(t, &fakeService{}, &Options{Logger: funclog.ConsoleLogger(&stdout, &stderr)})
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/negotiate?hub=chat", nil))
	if got := consoleRecords(t, stdout.String()); !cmp.Equal(got, []string{"INFO invocation done"}) || stderr.Len() != 0 {
		t.Errorf("stdout %q, stderr %q; want the one record at INFO on stdout", got, stderr.String())
	}
}
