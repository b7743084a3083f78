package handler

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/signalr-entra/handler/bindings"
	"github.com/signalr-entra/handler/internal/costtest"
	"github.com/signalr-entra/handler/settings"
	"github.com/signalr-entra/handler/upstream"
)

// marshalingService does with each message what bindings.Client does
// before the request goes out, encoding its payload, and then drops it, so
// that a load test measures the handler's memory and not a service's.
type marshalingService struct{}

func (marshalingService) ConnectionInfo(ctx context.Context, hub, userID string, claims []bindings.Claim) (*bindings.ConnectionInfo, error) {
	return &bindings.ConnectionInfo{URL: "https://contoso.service.signalr.net/client/?hub=" + hub}, nil
}

func (marshalingService) SendRouted(ctx context.Context, hub string, m bindings.Message) (bindings.Route, error) {
	if _, err := json.Marshal(bindings.Payload{Target: m.Target, Arguments: m.Arguments}); err != nil {
		return bindings.Route{}, err
	}
	return bindings.Route{Took: []string{fakeEndpoint}}, nil
}

func (marshalingService) ApplyRouted(ctx context.Context, hub string, a bindings.GroupAction) (bindings.Route, error) {
	return bindings.Route{Took: []string{fakeEndpoint}}, nil
}

// peakRSSGrowth serves requests made by newRequest, n at once, and returns
// how far the process's peak resident set (VmHWM, reset before through
// /proc/self/clear_refs) rose over its resident set before, in MB, and the
// statuses answered.
func peakRSSGrowth(t *testing.T, h http.Handler, n int, newRequest func() *http.Request) (float64, map[int]int) {
	t.Helper()
	reqs := make([]*http.Request, n)
	for i := range reqs {
		reqs[i] = newRequest()
	}
	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the peak resident set: %v", err)
	}
	base := procStatusKB(t, "VmRSS")
	start := make(chan struct{})
	statuses := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, r := range reqs {
		wg.Go(func() {
			<-start
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			status := w.Code
			// A payload's answer is in its res output.
			var out struct{ Outputs map[string]httpOutput }
			if r.URL.Path == "/messages" && json.Unmarshal(w.Body.Bytes(), &out) == nil {
				status = out.Outputs[httpOutputName].StatusCode
			}
			mu.Lock()
			statuses[status]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	return float64(procStatusKB(t, "VmHWM")-base) / 1024, statuses
}

func procStatusKB(t *testing.T, field string) int {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), field+":"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// maxLoadPeakMB bounds the peak resident set TestLoadPeakRSS may add: 40
// requests of up to 2 MB at once, with room for when the collector runs.
// Decoding each argument into a value of its own took 0.9 to 2.6 GB.
const maxLoadPeakMB = 400

// TestLoadPeakRSS measures the handler's peak resident set while it serves
// 20 and 40 large requests at once: messages of 500,000 arguments (1 MB)
// and upstream invocations of a million arguments, JSON (2 MB) and
// MessagePack (1 MB). It allocates hundreds of MB, so it runs only with
// SIGNALR_LOAD_TEST=1:
//
//	SIGNALR_LOAD_TEST=1 go test -run TestLoadPeakRSS -v ./handler/
//
// SIGNALR_LOAD_INFLIGHT sets Options.MaxInflightBytes (by default that of
// SIGNALR_MAX_INFLIGHT_BYTES). Each case runs three times; the median
// counts, since the peak depends on when the collector runs.
func TestLoadPeakRSS(t *testing.T) {
	if os.Getenv("SIGNALR_LOAD_TEST") == "" {
		t.Skip("set SIGNALR_LOAD_TEST=1 to run the load test")
	}
	var inflight int64
	if v := os.Getenv("SIGNALR_LOAD_INFLIGHT"); v != "" {
		var err error
		if inflight, err = strconv.ParseInt(v, 10, 64); err != nil {
			t.Fatalf("SIGNALR_LOAD_INFLIGHT: %v", err)
		}
	}
	opts := &Options{Hubs: []string{"chat"}, MaxBodyBytes: 4 << 20, MaxInflightBytes: inflight,
		Upstream: upstream.Options{AccessKeys: []settings.Secret{testAccessKey}}}
	h := newTestHandler(t, marshalingService{}, opts)
	message := []byte(`{"target":"t","arguments":` + string(costtest.Zeros(500_000)) + `}`)
	quoted, err := json.Marshal(string(message))
	if err != nil {
		t.Fatal(err)
	}
	messagePayload := []byte(`{"Data":{"req":{"Url":"http://localhost/api/messages?hub=chat","Method":"POST","Query":{"hub":"chat"},` +
		`"Headers":{"Content-Type":["application/json"]},"Body":` + string(quoted) + `}},"Metadata":{}}`)
	upstreamJSON := []byte(`{"type":1,"target":"Echo","arguments":` + string(costtest.Zeros(1_000_000)) + `}`)
	upstreamMsgpack := costtest.MsgpackInvocation("Echo", 1_000_000)
	cases := []struct {
		name string
		req  func() *http.Request
	}{
		{"messages 1 MB, 500,000 arguments", func() *http.Request {
			r := httptest.NewRequest("POST", "/api/messages?hub=chat", bytes.NewReader(message))
			r.Header.Set("Content-Type", "application/json")
			return r
		}},
		{"messages 1 MB, 500,000 arguments, in a payload", func() *http.Request {
			r := httptest.NewRequest("POST", "/messages", bytes.NewReader(messagePayload))
			r.Header.Set("Content-Type", "application/json")
			return r
		}},
		{"upstream JSON 2 MB, 1,000,000 arguments", func() *http.Request {
			return upstreamRequest("/api/upstream/chat/messages/Echo", "chat", "messages", "Echo", upstream.ContentTypeJSON, upstreamJSON)
		}},
		{"upstream MessagePack 1 MB, 1,000,000 arguments", func() *http.Request {
			return upstreamRequest("/api/upstream/chat/messages/Echo", "chat", "messages", "Echo", upstream.ContentTypeMsgpack, upstreamMsgpack)
		}},
	}
	for _, c := range cases {
		for _, n := range []int{20, 40} {
			var runs []float64
			var statuses map[int]int
			for range 3 {
				mb, st := peakRSSGrowth(t, h, n, c.req)
				runs, statuses = append(runs, mb), st
			}
			slices.Sort(runs)
			mb := runs[1]
			t.Logf("%s, %d at once: peak RSS +%.0f MB; statuses %v", c.name, n, mb, statuses)
			if mb > maxLoadPeakMB {
				t.Errorf("%s, %d at once: peak RSS +%.0f MB, over %d MB", c.name, n, mb, maxLoadPeakMB)
			}
		}
	}
}
