package emulator

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestNegotiateCORS checks the client negotiate endpoint's CORS answers.
// The service allows any origin, method and header with credentials, as
// Microsoft's own emulator (AllowAnyHeader, SetIsOriginAllowed, with
// credentials) does, so a browser client may send its own headers.
func TestNegotiateCORS(t *testing.T) {
	s := newTestServer(t, nil)
	u := s.URL + "/client/negotiate?hub=chat&negotiateVersion=1"
	tests := []struct {
		name   string
		method string
		header http.Header
		want   map[string]string
		status int
	}{
		{"preflight echoes the requested headers and method", http.MethodOptions, http.Header{
			"Origin":                         {"http://127.0.0.1:8080"},
			"Access-Control-Request-Method":  {"POST"},
			"Access-Control-Request-Headers": {"authorization,x-ms-signalr-userid,x-custom"},
		}, map[string]string{
			"Access-Control-Allow-Origin":      "http://127.0.0.1:8080",
			"Access-Control-Allow-Credentials": "true",
			"Access-Control-Allow-Headers":     "authorization,x-ms-signalr-userid,x-custom",
			"Access-Control-Allow-Methods":     "POST",
			"Vary":                             "Origin",
		}, http.StatusNoContent},
		{"negotiate names the origin", http.MethodPost, http.Header{"Origin": {"http://localhost:3000"}}, map[string]string{
			"Access-Control-Allow-Origin":      "http://localhost:3000",
			"Access-Control-Allow-Credentials": "true",
			"Access-Control-Allow-Headers":     "",
			"Access-Control-Allow-Methods":     "",
			"Vary":                             "Origin",
		}, http.StatusUnauthorized},
		{"no origin, no CORS headers", http.MethodOptions, http.Header{}, map[string]string{
			"Access-Control-Allow-Origin":      "",
			"Access-Control-Allow-Credentials": "",
			"Access-Control-Allow-Headers":     "",
			"Access-Control-Allow-Methods":     "",
			"Vary":                             "",
		}, http.StatusNoContent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, u, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header = tt.header
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := map[string]string{}
			for k := range tt.want {
				got[k] = resp.Header.Get(k)
			}
			if d := cmp.Diff(tt.want, got); d != "" || resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d; headers (-want +got):\n%s", resp.StatusCode, tt.status, d)
			}
		})
	}
}
