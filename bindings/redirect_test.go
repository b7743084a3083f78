package bindings

import (
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
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
