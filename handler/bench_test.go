package handler

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The ratio of these two is the handler's own cost of a negotiate over HTTP
// (routing, identity, JSON) against the bare round trip of the readiness
// probe; the service is a fake, so no signing or network is measured.
func BenchmarkReadyHTTP(b *testing.B)     { benchmarkGET(b, "/") }
func BenchmarkNegotiateHTTP(b *testing.B) { benchmarkGET(b, "/api/negotiate?hub=chat") }

func benchmarkGET(b *testing.B, path string) {
	srv := httptest.NewServer(newTestHandler(b, &fakeService{}, nil))
	defer srv.Close()
	client := srv.Client()
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	req.Header.Set("X-MS-CLIENT-PRINCIPAL-ID", "ada")
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
