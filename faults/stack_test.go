package faults

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signalr-entra/handler/bindings"
	"github.com/signalr-entra/handler/emulator"
	"github.com/signalr-entra/handler/handler"
	"github.com/signalr-entra/handler/settings"
)

// hub is the hub every test serves.
const hub = "chat"

// config says how to build a stack; the zero value is one Entra endpoint
// whose identity holds SignalR Service Owner.
type config struct {
	emu emulator.Options
	// endpoints builds the endpoints once the stand-in runs; nil means
	// s.entraEndpoint(emulator.ServiceOwner).
	endpoints func(s *stack) []settings.Endpoint
	// bindings are the client's options; Logger, HTTPClient and (unless
	// set) Now are filled in, and KeyWait defaults to 2s.
	bindings bindings.Options
	// setup, when set, runs before the client starts, which fetches the
	// first key at once: faults meant for that fetch are injected here.
	setup func(s *stack)
	// wrap, when set, wraps the handler, such as to give requests a
	// deadline as the Functions host does.
	wrap func(http.Handler) http.Handler
	// handler are the handler's options; Hubs, Standalone, Logger and
	// DrainTimeout are filled in.
	handler handler.Options
}

// stack is the whole handler in one process: the stand-in of SignalR
// Service and Entra ID, a bindings.Client over it, and the handler served
// on loopback.
type stack struct {
	emu     *emulator.Server
	rec     *recorder
	logs    *logSink
	secrets *secrets
	client  *bindings.Client
	handler *handler.Handler
	url     string // the handler's base URL
	caller  *http.Client
}

func newStack(t *testing.T, c config) *stack {
	t.Helper()
	s := &stack{logs: &logSink{}, secrets: &secrets{vals: map[string]string{}}}
	// Registered first, so it runs last: every log line is in by then.
	t.Cleanup(func() { s.checkLogs(t) })
	if c.emu.AccessKey == "" {
		c.emu.AccessKey = randomSecret()
	}
	s.secrets.add("the resource's access key", c.emu.AccessKey)
	emu, err := emulator.NewServer(&c.emu)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	s.emu = emu
	s.secrets.add("the identity header", emu.IdentityHeader)
	s.secrets.add("the identity header", identities.header)

	eps := []settings.Endpoint{}
	if c.endpoints == nil {
		eps = append(eps, s.entraEndpoint(t, emulator.ServiceOwner))
	} else {
		eps = c.endpoints(s)
	}
	if c.setup != nil {
		c.setup(s)
	}
	log := slog.New(slog.NewJSONHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	bo := c.bindings
	bo.Logger = log
	if bo.Now == nil {
		bo.Now = emu.Now
	}
	// Messages name the app settings, as in the handler.
	bo.OptionNames = settings.OptionNames()
	if bo.Retry.RetryDelay == 0 {
		// azcore's schedule, faster: a Retry-After still counts in full.
		bo.Retry.RetryDelay = 50 * time.Millisecond
	}
	if bo.KeyWait == 0 {
		bo.KeyWait = 2 * time.Second
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	s.rec = &recorder{base: base, secrets: s.secrets}
	bo.Transport = &http.Client{Transport: s.rec, Timeout: 20 * time.Second}
	t.Cleanup(base.CloseIdleConnections)
	client, err := bindings.New(settings.Configs(eps), &bo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	s.client = client
	ho := c.handler
	ho.Hubs, ho.Standalone, ho.Logger, ho.DrainTimeout = []string{hub}, true, log, 5*time.Second
	h, err := handler.New(client, &ho)
	if err != nil {
		t.Fatal(err)
	}
	s.handler = h
	var served http.Handler = h
	if c.wrap != nil {
		served = c.wrap(h)
	}
	srv := httptest.NewServer(served)
	t.Cleanup(srv.Close)
	s.url = srv.URL
	// A hang must fail the test, not stall it.
	s.caller = &http.Client{Timeout: 20 * time.Second}
	return s
}

// entraEndpoint is an Entra endpoint whose credential is a real
// ManagedIdentityCredential of a new user-assigned identity holding roles,
// served by the stand-in's managed identity endpoint.
func (s *stack) entraEndpoint(t *testing.T, roles ...emulator.Role) settings.Endpoint {
	t.Helper()
	p, err := s.emu.AddUserIdentity(emulator.UserIdentity{Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
	return settings.Endpoint{
		Setting:    "AzureSignalRConnectionString",
		ServiceURI: mustURL(t, s.emu.URL),
		Type:       settings.Primary,
		Credential: managedIdentity(t, s.emu, p.ClientID),
		Auth:       settings.Auth{Kind: "ManagedIdentityCredential", UserAssigned: true, ClientID: p.ClientID},
		Scope:      settings.DefaultScope,
	}
}

// accessKeyEndpoint is an endpoint in access-key mode.
func (s *stack) accessKeyEndpoint(t *testing.T) settings.Endpoint {
	t.Helper()
	kv, err := settings.ParseConnectionString(s.emu.ConnectionString())
	if err != nil {
		t.Fatal(err)
	}
	return settings.Endpoint{
		Setting:    "AzureSignalRConnectionString",
		ServiceURI: mustURL(t, s.emu.URL),
		Type:       settings.Primary,
		AccessKey:  settings.Secret(kv["accesskey"]),
		Auth:       settings.Auth{Kind: "AccessKey"},
	}
}

// result is a reply of the handler.
type result struct {
	status int
	body   string
	// of a messages or groups reply, or of a failure
	Error         string    `json:"error"`
	CorrelationID string    `json:"correlationId"`
	Accepted      []int     `json:"accepted"`
	Failed        []failure `json:"failed"`
}

type failure struct {
	Index int    `json:"index"`
	Error string `json:"error"`
	State string `json:"state"`
}

// call sends a request to the handler as a caller does.
func (s *stack) call(t *testing.T, ctx context.Context, method, path, body string) result {
	t.Helper()
	return s.callWith(t, ctx, method, path, body, nil)
}

// callWith is call with more request headers.
func (s *stack) callWith(t *testing.T, ctx context.Context, method, path, body string, header http.Header) result {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.caller.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the reply: %v", method, path, err)
	}
	r := result{status: resp.StatusCode, body: string(b)}
	if resp.StatusCode != http.StatusOK {
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("%s %s: reply %d is not JSON: %q", method, path, resp.StatusCode, b)
		}
	}
	return r
}

// negotiate calls the negotiate function; on success it returns the
// connection info too, and remembers its token as a secret.
func (s *stack) negotiate(t *testing.T) (result, bindings.ConnectionInfo) {
	t.Helper()
	r := s.call(t, context.Background(), http.MethodPost, "/api/negotiate?hub="+hub, "")
	var info bindings.ConnectionInfo
	if r.status == http.StatusOK {
		if err := json.Unmarshal([]byte(r.body), &info); err != nil || info.AccessToken == "" || info.URL == "" {
			t.Fatalf("negotiate reply %q: %v", r.body, err)
		}
		s.secrets.add("a client access token", info.AccessToken)
	}
	return r, info
}

// send posts messages (a JSON object or array) to the messages function.
func (s *stack) send(t *testing.T, body string) result {
	t.Helper()
	return s.call(t, context.Background(), http.MethodPost, "/api/messages?hub="+hub, body)
}

// broadcasts builds a JSON array of broadcasts, one per target.
func broadcasts(targets ...string) string {
	var b strings.Builder
	b.WriteString("[")
	for i, target := range targets {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"target":"` + target + `","arguments":["x"]}`)
	}
	b.WriteString("]")
	return b.String()
}

// restCalls counts the stand-in's REST calls of an operation id.
func (s *stack) restCalls(op string) int { return s.emu.Counts().REST[op] }

// checkLogs fails the test when a log line holds a secret the test used (an
// access key, a temporary key, a bearer or client token, a JWT of any kind)
// or tells of a panic the handler recovered from: nothing may crash.
func (s *stack) checkLogs(t *testing.T) {
	logs := s.logs.String()
	if line := s.logs.find(`"msg":"panic`); line != "" {
		t.Errorf("the handler panicked:\n%s", line)
	}
	for v, what := range s.secrets.snapshot() {
		if strings.Contains(logs, v) {
			t.Errorf("the log holds %s:\n%s", what, s.logs.find(v))
		}
	}
	// Every JWT starts with the base64 of `{"`.
	if strings.Contains(logs, "eyJ") {
		t.Errorf("the log holds a JWT:\n%s", s.logs.find("eyJ"))
	}
}

// logSink collects the JSON log lines of the handler and the bindings.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// find returns the first line holding every part, or "".
func (l *logSink) find(parts ...string) string {
	for _, line := range strings.Split(l.String(), "\n") {
		ok := line != ""
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			return line
		}
	}
	return ""
}

// wantLog fails the test unless a log line holds every part.
func (s *stack) wantLog(t *testing.T, parts ...string) {
	t.Helper()
	if s.logs.find(parts...) == "" {
		t.Errorf("no log line holds all of %q; the log:\n%s", parts, s.logs.String())
	}
}

// secrets are the secret values a test used, each with what it is.
type secrets struct {
	mu   sync.Mutex
	vals map[string]string
}

func (s *secrets) add(what, v string) {
	// Short values would match by chance.
	if len(v) < 8 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vals[v] = what
}

func (s *secrets) snapshot() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.vals))
	for k, v := range s.vals {
		out[k] = v
	}
	return out
}

// recorder is the bindings' transport: it notes the bearer tokens sent and
// the temporary keys the auth API hands out, so that checkLogs can look
// for them, and the most sends in flight at once.
type recorder struct {
	base    http.RoundTripper
	secrets *secrets

	mu          sync.Mutex
	sending     int
	maxInFlight int
}

// maxSends returns the most sends that were in flight at once.
func (r *recorder) maxSends() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.maxInFlight
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if a, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer "); ok {
		r.secrets.add("a bearer token", a)
	}
	if strings.HasSuffix(req.URL.Path, "/:send") {
		r.mu.Lock()
		r.sending++
		r.maxInFlight = max(r.maxInFlight, r.sending)
		r.mu.Unlock()
		defer func() {
			r.mu.Lock()
			r.sending--
			r.mu.Unlock()
		}()
	}
	resp, err := r.base.RoundTrip(req)
	if err != nil || !strings.HasSuffix(req.URL.Path, "/auth/accessKey") {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var k struct{ AccessKey string }
	if json.Unmarshal(body, &k) == nil {
		r.secrets.add("a temporary access key", k.AccessKey)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

func randomSecret() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
