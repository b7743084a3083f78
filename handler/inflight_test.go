package handler

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestInflightBytesBounded checks SIGNALR_MAX_INFLIGHT_BYTES: while one
// request holds most of the budget, another gets 503 with Retry-After,
// forwarded or in payload mode, and a queue folder's invocation fails;
// once the first is done, the budget is back.
func TestInflightBytesBounded(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	svc := &fakeService{onCall: func() { entered <- struct{}{}; <-release }}
	body := `{"target":"newMessage","arguments":["` + strings.Repeat("x", 400) + `"]}`
	h := newTestHandler(t, svc, &Options{MaxInflightBytes: 600})

	first := make(chan *httptest.ResponseRecorder)
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/messages", strings.NewReader(body)))
		first <- rec
	}()
	<-entered

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/messages", strings.NewReader(body)))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" || !strings.Contains(rec.Body.String(), "SIGNALR_MAX_INFLIGHT_BYTES") {
		t.Errorf("second request: %d, Retry-After %q, %s; want 503 naming SIGNALR_MAX_INFLIGHT_BYTES with Retry-After 1",
			rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}

	payload := []byte(`{"Data":{"req":{"Url":"http://localhost/api/messages?pad=` + strings.Repeat("p", 200) + `","Method":"POST","Body":"{}"}}}`)
	rec = postPayload(t, h, fnMessages, payload)
	var out struct{ Outputs map[string]httpOutput }
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("payload: %d %s (%v)", rec.Code, rec.Body, err)
	}
	if res := out.Outputs[httpOutputName]; res.StatusCode != http.StatusServiceUnavailable || res.Headers["Retry-After"] != "1" {
		t.Errorf("payload res = %+v, want 503 with Retry-After 1", res)
	}

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/messages-queue", bytes.NewReader(payload)))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("queue folder: %d, want 503, which fails the invocation so that the queue retries", rec.Code)
	}

	close(release)
	if rec := <-first; rec.Code != http.StatusAccepted {
		t.Errorf("first request: %d %s, want 202", rec.Code, rec.Body)
	}
	svc.onCall = nil
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/messages", strings.NewReader(body)))
	if rec.Code != http.StatusAccepted {
		t.Errorf("after the first: %d %s, want 202", rec.Code, rec.Body)
	}
}

// TestInflightLoneRequestServed checks that a request larger than the
// whole budget is served when it is alone.
func TestInflightLoneRequestServed(t *testing.T) {
	h := newTestHandler(t, &fakeService{}, &Options{MaxInflightBytes: 10})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/messages", strings.NewReader(`{"target":"a"}`)))
	if rec.Code != http.StatusAccepted {
		t.Errorf("%d %s, want 202", rec.Code, rec.Body)
	}
	if h.inflight.used != 0 {
		t.Errorf("%d bytes still held after the request", h.inflight.used)
	}
}
