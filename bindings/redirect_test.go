package bindings

import (
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// redirectingService answers every https request with a redirect to the
// same host over plain http, in memory: nothing leaves the process.
type redirectingService struct {
	mu    sync.Mutex
	plain []string // Authorization headers that reached plain http
}

func (s *redirectingService) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme == "http" {
		s.mu.Lock()
		s.plain = append(s.plain, r.Header.Get("Authorization"))
		s.mu.Unlock()
		return &http.Response{StatusCode: http.StatusAccepted, Body: io.NopCloser(strings.NewReader("")), Header: http.Header{}, Request: r}, nil
	}
	to := *r.URL
	to.Scheme = "http"
	return &http.Response{StatusCode: http.StatusTemporaryRedirect, Body: io.NopCloser(strings.NewReader("")),
		Header: http.Header{"Location": {to.String()}}, Request: r}, nil
}

// TestRedirectNotFollowed: a redirect from https to http on the same host
// would carry the bearer token in clear text; it is refused instead.
func TestRedirectNotFollowed(t *testing.T) {
	svc := &redirectingService{}
	clock := newClock()
	ep := EndpointConfig{
		Label:      "AzureSignalRConnectionString",
		ServiceURI: mustURL(t, "https://contoso.service.signalr.net"),
		Credential: &fakeCred{clock: clock},
	}
	c, _ := newTestClient(t, []EndpointConfig{ep}, Options{Now: clock.Now, ClientOptions: azcore.ClientOptions{Transport: &http.Client{Transport: svc}}})
	err := c.Send(ctx(), "chat", Message{Target: "t"})
	if len(svc.plain) != 0 {
		t.Fatalf("the redirect was followed: plain http got Authorization %q", svc.plain)
	}
	e := asError(t, err)
	if e.Status != http.StatusTemporaryRedirect || !strings.Contains(err.Error(), "redirect") || !errors.Is(err, errRedirect) {
		t.Errorf("error %v, want the 307 refused as a redirect", err)
	}
}

// TestSendRedirectRefusedOverNetwork: a 307 to a send over a real
// connection is refused as a redirect, not followed, and the body is not
// written a second time.
func TestSendRedirectRefusedOverNetwork(t *testing.T) {
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		posts.Add(1)
		http.Redirect(w, r, "/elsewhere"+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	c, _ := newTestClient(t, []EndpointConfig{{ServiceURI: mustURL(t, srv.URL), AccessKey: "k"}}, Options{})
	err := c.Endpoints()[0].Broadcast(ctx(), "chat", hello)
	if !errors.Is(err, errRedirect) || posts.Load() != 1 {
		t.Errorf("send answered 307: %v after %d requests, want the redirect refused after 1", err, posts.Load())
	}
}
