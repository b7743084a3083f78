package handler

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// countingBody is a request body that counts the bytes read from it.
type countingBody struct {
	left, read int
}

func (b *countingBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		return 0, io.EOF
	}
	n := min(len(p), b.left)
	for i := range n {
		p[i] = ' '
	}
	b.left -= n
	b.read += n
	return n, nil
}

func (b *countingBody) Close() error { return nil }

// TestUpstreamRefusedUnread: the upstream routes are anonymous at the
// host, so anyone can post to them. A request the checks refuse is
// answered from its headers alone: reading its body first let every
// forged request make the handler take in up to SIGNALR_MAX_BODY_BYTES.
func TestUpstreamRefusedUnread(t *testing.T) {
	h := newUpstreamHandler(t, &fakeService{}, slog.New(slog.DiscardHandler))
	for _, path := range []string{"/api/upstream/chat/messages/broadcast", "/api/upstream-direct/chat/messages/broadcast"} {
		for _, sig := range []string{"", "sha256=" + "00000000000000000000000000000000000000000000000000000000000000ff"} {
			req := upstreamRequest(path, "chat", "messages", "broadcast", "application/json", nil)
			req.Header.Set("X-ASRS-Signature", sig)
			body := &countingBody{left: DefaultMaxBodyBytes}
			req.Body, req.ContentLength = body, DefaultMaxBodyBytes
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized {
				t.Errorf("%s, signature %q: status %d, want 401", path, sig, rec.Code)
			}
			if body.read != 0 {
				t.Errorf("%s, signature %q: %d bytes of the refused request's body were read", path, sig, body.read)
			}
		}
	}
	// A sound request is read and served as before.
	req := upstreamRequest("/api/upstream/chat/connections/connected", "chat", "connections", "connected", "application/json", []byte(`{"type":10}`))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("a signed request: status %d %s", rec.Code, rec.Body)
	}
}
