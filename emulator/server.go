package emulator

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultTenantID is the resource tenant when Options.TenantID is empty.
const DefaultTenantID = "7a1e0000-5e1f-4c0d-9a11-000000000001"

// Options configure a Server. The zero value is valid.
type Options struct {
	// TenantID is the tenant of the SignalR resource and of its managed
	// identities; the service accepts only tokens from it. Defaults to
	// DefaultTenantID.
	TenantID string
	// SystemIdentityRoles are assigned to the system-assigned identity.
	// Defaults to none.
	SystemIdentityRoles []Role
	// AccessKey is the resource's primary access key, as in its connection
	// string. Defaults to a random key.
	AccessKey string
	// SecondaryAccessKey is the resource's secondary access key; tokens
	// signed with either key are accepted. Defaults to a random key.
	SecondaryAccessKey string
	// LocalAuthDisabled refuses tokens signed with the access key, as
	// "disable local auth" does. Entra ID keeps working.
	LocalAuthDisabled bool
	// KeyLifetime is how long a temporary key from the auth API is valid.
	// Defaults to 90 minutes.
	KeyLifetime time.Duration
	// TokenLifetime is the lifetime of Entra tokens. Defaults to 1 hour;
	// at least 5 minutes, since shorter tokens are never cached.
	TokenLifetime time.Duration
	// Propagation is how long a new role assignment takes to take effect,
	// on the server's clock. Defaults to 0.
	Propagation time.Duration
	// PingInterval is how often clients get a ping. Defaults to 15 seconds.
	PingInterval time.Duration
	// Now is the base clock; Server.Advance moves the server ahead of it.
	// Defaults to time.Now.
	Now func() time.Time
	// ServiceAddr, IdentityAddr and AuthorityAddr are the loopback
	// addresses to listen on. Each defaults to 127.0.0.1:0.
	ServiceAddr, IdentityAddr, AuthorityAddr string
	// Logger receives request logs. Defaults to discarding them.
	Logger *slog.Logger
	// Upstream are the service's upstream rules, in order: each client
	// connection, disconnection and invocation goes to the first rule
	// matching its hub, category and event. Defaults to none: events go
	// nowhere, and a client awaiting an invocation gets an error.
	Upstream []UpstreamRule
	// UpstreamTokenFlaw spoils the bearer tokens of upstream requests, to
	// test that an app refuses them. Defaults to sound tokens.
	UpstreamTokenFlaw TokenFlaw
}

// Server plays SignalR Service and Entra ID on loopback.
type Server struct {
	// URL is the SignalR service endpoint, http://127.0.0.1:port.
	URL string
	// IdentityEndpoint and IdentityHeader are what App Service puts in
	// IDENTITY_ENDPOINT and IDENTITY_HEADER.
	IdentityEndpoint string
	IdentityHeader   string
	// AuthorityURL is the https authority host, ending in "/", for
	// AZURE_AUTHORITY_HOST or azcore's cloud configuration.
	AuthorityURL string
	// TenantID is the resource tenant.
	TenantID string

	opts    Options
	log     *slog.Logger
	signing signingKeys
	// unpublishedKey signs TokenUnknownKey tokens.
	unpublishedKey signingKey
	rules          []rule
	upstreamClient *http.Client
	upstreamTokens upstreamTokenCache
	servers        []*httptest.Server
	authority      *httptest.Server
	dir            directory
	keys           *keyRing
	hubs           *hubs

	mu     sync.Mutex
	offset time.Duration
	counts Counts
	faults map[Kind]Fault
	delays map[Kind]time.Duration
	down   atomic.Bool
	// tokenEpoch is stamped into Entra tokens; see RevokeTokens.
	tokenEpoch int

	ctx    context.Context // canceled by Close, ends client connections
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewServer starts a Server. Close it when done.
func NewServer(opts *Options) (*Server, error) {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.TenantID == "" {
		o.TenantID = DefaultTenantID
	}
	if o.AccessKey == "" {
		o.AccessKey = randomKey()
	}
	if o.SecondaryAccessKey == "" {
		o.SecondaryAccessKey = randomKey()
	}
	switch o.UpstreamTokenFlaw {
	case "", TokenExpired, TokenUnknownKey, TokenOtherTenant:
	default:
		return nil, fmt.Errorf("emulator: invalid Options.UpstreamTokenFlaw %q; use %q, %q, %q or none", o.UpstreamTokenFlaw, TokenExpired, TokenUnknownKey, TokenOtherTenant)
	}
	rules, err := compileRules(o.Upstream)
	if err != nil {
		return nil, err
	}
	if o.KeyLifetime <= 0 {
		o.KeyLifetime = 90 * time.Minute
	}
	if o.TokenLifetime == 0 {
		o.TokenLifetime = time.Hour
	}
	if o.TokenLifetime < 5*time.Minute {
		return nil, fmt.Errorf("emulator: invalid Options.TokenLifetime %s; use at least 5m, since shorter tokens are never cached", o.TokenLifetime)
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 15 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	key, err := newSigningKey()
	if err != nil {
		return nil, err
	}
	var unpublished signingKey
	if o.UpstreamTokenFlaw == TokenUnknownKey {
		if unpublished, err = newSigningKey(); err != nil {
			return nil, err
		}
	}
	s := &Server{
		TenantID:       o.TenantID,
		IdentityHeader: randomKey(),
		opts:           o,
		log:            o.Logger,
		faults:         map[Kind]Fault{},
		delays:         map[Kind]time.Duration{},
		hubs:           newHubs(),
		rules:          rules,
		upstreamClient: newUpstreamClient(),
		unpublishedKey: unpublished,
	}
	s.signing.add(key)
	s.keys = newKeyRing(s.Now)
	s.counts.REST = map[string]int{}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.dir.assignments = map[string][]assignment{}
	s.dir.system = Principal{Kind: SystemAssignedIdentity, TenantID: o.TenantID, ClientID: newUUID(), ObjectID: newUUID()}
	s.dir.service = Principal{Kind: SystemAssignedIdentity, TenantID: o.TenantID, ClientID: newUUID(), ObjectID: newUUID()}
	s.Assign(s.dir.system.ObjectID, o.SystemIdentityRoles...)

	service, err := s.start(o.ServiceAddr, s.serviceHandler(), false)
	if err != nil {
		return nil, err
	}
	identity, err := s.start(o.IdentityAddr, s.identityHandler(), false)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.authority, err = s.start(o.AuthorityAddr, s.authorityHandler(), true)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.URL = service.URL
	s.IdentityEndpoint = identity.URL + "/msi/token"
	s.AuthorityURL = s.authority.URL + "/"
	return s, nil
}

// start serves h on a loopback address, over TLS when tls is set.
func (s *Server) start(addr string, h http.Handler, tls bool) (*httptest.Server, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil || !loopbackIP(host) {
		return nil, fmt.Errorf("emulator: invalid listen address %q; use a loopback IP address such as 127.0.0.1:8888 (nothing may listen beyond loopback)", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("emulator: listening on %s: %w", addr, err)
	}
	ts := httptest.NewUnstartedServer(s.logRequests(h))
	_ = ts.Listener.Close()
	ts.Listener = l
	if tls {
		ts.StartTLS()
	} else {
		ts.Start()
	}
	s.servers = append(s.servers, ts)
	return ts, nil
}

// logRequests logs each request without its query, which may hold tokens.
func (s *Server) logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.log.Debug("request", "method", r.Method, "host", r.Host, "path", r.URL.Path)
		h.ServeHTTP(w, r)
	})
}

// Close ends client connections, stops the listeners and waits for all
// work to finish.
func (s *Server) Close() {
	s.cancel()
	for _, ts := range s.servers {
		ts.Close()
	}
	s.wg.Wait()
}

// Now is the server's clock: Options.Now moved ahead by Advance.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	off := s.offset
	s.mu.Unlock()
	return s.opts.Now().Add(off)
}

// Advance moves the server's clock ahead, for key and token expiry, group
// membership ttl and role propagation.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset += d
}

// Client returns an http.Client that trusts the authority's certificate.
func (s *Server) Client() *http.Client { return s.authority.Client() }

// CACertPEM returns the authority's certificate, PEM-encoded, for
// SSL_CERT_FILE.
func (s *Server) CACertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.authority.Certificate().Raw})
}

// WriteCACert writes CACertPEM to path.
func (s *Server) WriteCACert(path string) error {
	if err := os.WriteFile(path, s.CACertPEM(), 0o644); err != nil {
		return fmt.Errorf("emulator: writing the CA certificate: %w", err)
	}
	return nil
}

// ConnectionString returns an access-key connection string for the
// service, in the form local tools use.
func (s *Server) ConnectionString() string {
	u, _ := url.Parse(s.URL)
	key, _ := s.localAuth()
	return fmt.Sprintf("Endpoint=http://%s;Port=%s;AccessKey=%s;Version=1.0;", u.Hostname(), u.Port(), key)
}

func randomKey() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// errorDetail is the service's error body (ErrorDetail in its REST API).
type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError answers with the service's error body; errorCode, when set,
// goes in x-ms-error-code.
func writeError(w http.ResponseWriter, status int, errorCode, code, msg string) {
	if errorCode != "" {
		w.Header().Set("x-ms-error-code", errorCode)
	}
	writeJSON(w, status, errorDetail{Code: code, Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
