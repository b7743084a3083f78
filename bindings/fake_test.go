package bindings

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2025, 3, 12, 8, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeCred is an azcore.TokenCredential that counts its calls.
type fakeCred struct {
	clock *fakeClock
	calls atomic.Int32
	mu    sync.Mutex
	err   error
	scope string
	// claims lists the Claims of each request; refuseClaims fails those
	// with claims, as azidentity's AzureCLICredential does.
	claims       []string
	refuseClaims bool
	// distinct gives each token a number, as a credential that asks Entra
	// ID each time does; else every token is the same, as from a cache.
	distinct bool
}

func (f *fakeCred) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(o.Scopes) == 1 {
		f.scope = o.Scopes[0]
	}
	f.claims = append(f.claims, o.Claims)
	if f.refuseClaims && o.Claims != "" {
		return azcore.AccessToken{}, errors.New("AzureCLICredential: Azure CLI requires multifactor authentication or additional claims")
	}
	if f.err != nil {
		return azcore.AccessToken{}, f.err
	}
	tok := "entra-token"
	if f.distinct {
		tok += "-" + strconv.Itoa(len(f.claims))
	}
	return azcore.AccessToken{Token: tok, ExpiresOn: f.clock.Now().Add(24 * time.Hour)}, nil
}

// reply is a scripted answer of the fake service.
type reply struct {
	status     int
	code       string // x-ms-error-code
	retryAfter string
	body       string
}

// seen is a request the fake service received.
type seen struct {
	Method, Path string
	Query        url.Values
	Auth         string
	Body         string
}

// fakeService plays SignalR Service on loopback: it records requests,
// answers the auth API with a new key each time, and answers scripted
// replies per "METHOD escaped-path".
type fakeService struct {
	*httptest.Server
	keyCalls atomic.Int32
	conns    atomic.Int32
	mu       sync.Mutex
	reqs     []seen
	script   map[string][]reply
	keyGen   int
	block    chan struct{} // when set, the auth API waits on it
	// blockGenerate, when set, holds :generateToken until it closes or
	// the request is cancelled.
	blockGenerate chan struct{}
}

func newFakeService(t testing.TB) *fakeService {
	f := &fakeService{script: map[string][]reply{}}
	f.Server = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.Server.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			f.conns.Add(1)
		}
	}
	f.Start()
	t.Cleanup(f.Close)
	return f
}

// on scripts replies for "METHOD path"; the last one repeats.
func (f *fakeService) on(key string, rs ...reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script[key] = rs
}

func (f *fakeService) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.reqs...)
}

func (f *fakeService) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	key := r.Method + " " + r.URL.EscapedPath()
	f.mu.Lock()
	f.reqs = append(f.reqs, seen{r.Method, r.URL.EscapedPath(), r.URL.Query(), r.Header.Get("Authorization"), string(body)})
	var rep *reply
	if rs := f.script[key]; len(rs) > 0 {
		rep = &rs[0]
		if len(rs) > 1 {
			f.script[key] = rs[1:]
		}
	}
	block, blockGenerate := f.block, f.blockGenerate
	f.mu.Unlock()
	if blockGenerate != nil && strings.HasSuffix(r.URL.Path, "/:generateToken") {
		select {
		case <-blockGenerate:
		case <-r.Context().Done():
			return
		}
	}
	if r.URL.Path == "/api/v1/auth/accessKey" {
		f.keyCalls.Add(1)
		if block != nil {
			<-block
		}
	}
	w.Header().Set("x-ms-request-id", "req-42")
	if rep != nil && rep.status >= 300 {
		if rep.code != "" {
			w.Header().Set("x-ms-error-code", rep.code)
		}
		if rep.retryAfter != "" {
			w.Header().Set("Retry-After", rep.retryAfter)
		}
		w.WriteHeader(rep.status)
		_, _ = w.Write([]byte(rep.body))
		return
	}
	switch {
	case r.URL.Path == "/api/v1/auth/accessKey":
		f.mu.Lock()
		f.keyGen++
		n := f.keyGen
		f.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]string{"KeyId": "key-" + strconv.Itoa(n), "AccessKey": "secret-" + strconv.Itoa(n)})
	case bytes.HasSuffix([]byte(r.URL.Path), []byte("/:generateToken")):
		json.NewEncoder(w).Encode(map[string]string{"token": "service-signed"})
	case r.Method == http.MethodPost && bytes.HasSuffix([]byte(r.URL.Path), []byte("/:send")):
		w.WriteHeader(http.StatusAccepted)
	case r.Method == http.MethodPost:
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// entraEndpoint is an Entra-mode endpoint on the fake service.
func entraEndpoint(t testing.TB, f *fakeService, cred azcore.TokenCredential) EndpointConfig {
	return EndpointConfig{
		Label:      "AzureSignalRConnectionString",
		ServiceURI: mustURL(t, f.URL),
		Credential: cred,
		Identity:   "system-assigned managed identity",
	}
}

// keyEndpoint is an access-key endpoint on the fake service.
func keyEndpoint(t testing.TB, f *fakeService) EndpointConfig {
	return EndpointConfig{
		Label:      "AzureSignalRConnectionString",
		ServiceURI: mustURL(t, f.URL),
		AccessKey:  "the-access-key",
	}
}

// logBuffer collects log records for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// newTestClient starts a client with no background loop, a fake clock and
// fast retries.
func newTestClient(t testing.TB, eps []EndpointConfig, o Options) (*Client, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	o.manual = true
	if o.Retry.RetryDelay == 0 {
		o.Retry.RetryDelay = time.Millisecond
	}
	if o.healthRetry == 0 {
		o.healthRetry = time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	c, err := New(eps, &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, logs
}

// asError returns the *Error in err or fails.
func asError(t testing.TB, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *Error", err, err)
	}
	return e
}
