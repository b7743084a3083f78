package handler

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signalr-entra/handler/upstream"
)

// TestUpstreamTokenSlowKeyServer: with no keys cached and the key set
// hanging, waiting upstream requests share one fetch and each is answered
// at its own deadline. One fetch per waiter, one after another, answered
// eight requests at 10, 20 … 80 s.
func TestUpstreamTokenSlowKeyServer(t *testing.T) {
	var keyGets atomic.Int32
	release := make(chan struct{})
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("GET /{tenant}/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": "https://sts.windows.net/" + testTenant + "/", "jwks_uri": srv.URL + "/common/discovery/keys"})
	})
	mux.HandleFunc("GET /common/discovery/keys", func(w http.ResponseWriter, r *http.Request) {
		keyGets.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	srv = httptest.NewTLSServer(mux)
	defer srv.Close()
	defer close(release)
	a := newTestAuthority(t) // signs the token only
	h := newTestHandler(t, &fakeService{}, &Options{Logger: slog.New(slog.DiscardHandler), Upstream: upstream.Options{
		Audience: testAudience, Tenant: testTenant, Identity: testObjectID, AuthorityHost: srv.URL, HTTPClient: srv.Client(),
	}})
	tok := a.token(t, "key-1", serviceClaimsAt(time.Now()))
	const waiters = 8
	const deadline = time.Second
	took := make([]time.Duration, waiters)
	codes := make([]int, waiters)
	var wg sync.WaitGroup
	for i := range waiters {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			req := upstreamRequest("/api/upstream", "chat", "connections", "connected", "application/json", []byte(`{"type":10}`)).WithContext(ctx)
			req.Header.Del("X-ASRS-Signature")
			req.Header.Set("Authorization", "Bearer "+tok)
			rec := httptest.NewRecorder()
			start := time.Now()
			h.ServeHTTP(rec, req)
			took[i], codes[i] = time.Since(start), rec.Code
		})
	}
	wg.Wait()
	for i := range waiters {
		// Far past its deadline means the request waited for another's
		// fetch; the slack allows for a loaded machine.
		if codes[i] != http.StatusUnauthorized || took[i] > deadline+5*time.Second {
			t.Errorf("request %d: status %d after %s; want 401 at its %s deadline", i, codes[i], took[i].Round(time.Millisecond), deadline)
		}
	}
	if n := keyGets.Load(); n != 1 {
		t.Errorf("%d fetches of the key set for %d waiting requests, want 1", n, waiters)
	}
}
