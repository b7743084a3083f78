package emulator

import (
	"bytes"
	"context"
	"io"
	"maps"
	"net/http"
	"strconv"
	"time"
)

// Kind names a sort of call, for fault injection.
type Kind string

// Kinds of calls that faults and delays apply to.
const (
	IdentityToken   Kind = "IdentityToken"   // the managed identity endpoint
	AuthorityToken  Kind = "AuthorityToken"  // the authority's token endpoint
	CredentialToken Kind = "CredentialToken" // Server.Credential
	AccessKey       Kind = "AccessKey"       // the auth API
	GenerateToken   Kind = "GenerateToken"   // :generateToken
	RESTSend        Kind = "RESTSend"        // the REST sends
	RESTOther       Kind = "RESTOther"       // the other REST operations
	Health          Kind = "Health"          // HEAD /api/health
	Negotiate       Kind = "Negotiate"       // client negotiate
)

// Fault replaces the next Times replies of a kind.
type Fault struct {
	// Times is how many of the next replies are replaced; Status is the
	// HTTP status they get.
	Times  int
	Status int
	// RetryAfter, when set, is sent as a Retry-After header in seconds.
	RetryAfter time.Duration
	// Body replaces the reply body; with Status 200 it can play malformed
	// replies, such as an auth API answer without KeyId.
	Body string
}

// Counts are the calls the server has seen, by kind.
type Counts struct {
	IdentityTokens   int // managed identity endpoint requests
	AuthorityTokens  int // authority token endpoint requests
	CredentialTokens int // Server.Credential GetToken calls
	AccessKeys       int // auth API requests
	GenerateTokens   int // :generateToken requests
	Negotiations     int // client negotiate requests
	Connections      int // WebSocket connections accepted
	Upstream         int // upstream requests posted
	UpstreamTokens   int // upstream tokens minted (the others came from the cache)
	// REST counts REST requests by operation id of the service's REST
	// API description, such as "SignalR_Broadcast".
	REST map[string]int
}

// Counts returns a copy of the counters.
func (s *Server) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.counts
	c.REST = maps.Clone(s.counts.REST)
	if c.REST == nil {
		c.REST = map[string]int{}
	}
	return c
}

func (s *Server) count(f func(*Counts)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.counts)
}

// Fail makes the next n calls of the kind answer status, with Retry-After
// when retryAfter is positive.
func (s *Server) Fail(kind Kind, n, status int, retryAfter time.Duration) {
	s.Inject(kind, Fault{Times: n, Status: status, RetryAfter: retryAfter})
}

// Inject queues a fault for the kind, replacing any queued before.
func (s *Server) Inject(kind Kind, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[kind] = f
}

// Delay makes every call of the kind wait d (real time) before it is
// answered; zero removes the delay.
func (s *Server) Delay(kind Kind, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delays[kind] = d
}

// takeFault waits out the kind's delay, then consumes one queued fault.
func (s *Server) takeFault(ctx context.Context, kind Kind) (Fault, bool) {
	s.mu.Lock()
	d := s.delays[kind]
	s.mu.Unlock()
	if d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faults[kind]
	if f.Times <= 0 {
		return Fault{}, false
	}
	f.Times--
	s.faults[kind] = f
	return f, true
}

// injected answers with a queued fault of the kind, if any. A request whose
// caller hung up during a delay is dropped, as the service drops it.
func (s *Server) injected(w http.ResponseWriter, r *http.Request, kind Kind) bool {
	// Read the body first: only then does net/http watch the connection
	// and end the request's context when the caller goes away.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return true
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	f, ok := s.takeFault(r.Context(), kind)
	if r.Context().Err() != nil {
		return true
	}
	if !ok {
		return false
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((f.RetryAfter+time.Second-1)/time.Second)))
	}
	if f.Body == "" {
		writeError(w, f.Status, "", "Injected", "injected failure for "+string(kind))
		return true
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.Status)
	_, _ = w.Write([]byte(f.Body))
	return true
}
