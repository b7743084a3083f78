package emulator

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// UpstreamRule is one upstream setting of the service (the resource's
// properties.upstream.templates): events whose hub, category and event
// match its patterns are posted to its URL.
type UpstreamRule struct {
	// URLTemplate is where events go: an absolute http or https URL on a
	// loopback host, in which {hub}, {category} and {event} are replaced by
	// the event's, percent-encoded.
	URLTemplate string `json:"urlTemplate"`
	// HubPattern, CategoryPattern and EventPattern each list exact,
	// case-sensitive names separated by commas, or "*" (anywhere in the
	// list) for all. Each defaults to "*". Categories are "connections"
	// and "messages"; events are "connected", "disconnected" and the
	// targets clients invoke.
	HubPattern      string `json:"hubPattern,omitempty"`
	CategoryPattern string `json:"categoryPattern,omitempty"`
	EventPattern    string `json:"eventPattern,omitempty"`
	// Auth, with Type "ManagedIdentity", makes each request carry a bearer
	// token of the resource's managed identity (ServiceIdentity) for
	// ManagedIdentity.Resource. Defaults to none.
	Auth *UpstreamAuth `json:"auth,omitempty"`
}

// UpstreamAuth is a rule's authentication, as the service's settings
// spell it.
type UpstreamAuth struct {
	// Type is "None" or "ManagedIdentity".
	Type            string                   `json:"type"`
	ManagedIdentity *UpstreamManagedIdentity `json:"managedIdentity,omitempty"`
}

// UpstreamManagedIdentity names the resource (the audience) of the tokens.
type UpstreamManagedIdentity struct {
	// Resource is the app id or app id URI of the app receiving events.
	Resource string `json:"resource"`
}

// Upstream authentication types.
const (
	UpstreamAuthNone            = "None"
	UpstreamAuthManagedIdentity = "ManagedIdentity"
)

// TokenFlaw spoils the bearer tokens of upstream requests, to test that
// an app refuses them.
type TokenFlaw string

// Flaws of upstream tokens.
const (
	// TokenExpired: the token expired an hour ago.
	TokenExpired TokenFlaw = "expired"
	// TokenUnknownKey: signed with a key the authority never published.
	TokenUnknownKey TokenFlaw = "unknown-key"
	// TokenOtherTenant: issued by another tenant (its iss and tid), as
	// from a SignalR resource of someone else's.
	TokenOtherTenant TokenFlaw = "other-tenant"
)

// OtherTenantID is the tenant of TokenOtherTenant tokens.
const OtherTenantID = "0e7e0000-5e1f-4c0d-9a11-00000000000f"

// Categories and connection events of upstream requests.
const (
	categoryConnections = "connections"
	categoryMessages    = "messages"
	eventConnected      = "connected"
	eventDisconnected   = "disconnected"
)

// Content types of upstream bodies.
const (
	contentTypeJSON    = "application/json"
	contentTypeMsgPack = "application/x-msgpack"
)

// maxUpstreamReply is the largest reply body passed to a client; the
// service refuses larger ones.
const maxUpstreamReply = 16 << 20

// upstreamTimeout bounds one upstream request, as the service's HTTP
// client does (100 seconds).
const upstreamTimeout = 100 * time.Second

// rule is an UpstreamRule ready to match.
type rule struct {
	UpstreamRule
	hubs, categories, events []string
	resource                 string // managed identity resource; "" for none
}

// pattern splits a pattern into its names; nil matches all.
func pattern(p string) []string {
	if strings.TrimSpace(p) == "" {
		return nil
	}
	var names []string
	for _, n := range strings.Split(p, ",") {
		n = strings.TrimSpace(n)
		if n == "*" {
			return nil
		}
		names = append(names, n)
	}
	return names
}

func matches(names []string, v string) bool {
	if names == nil {
		return true
	}
	for _, n := range names {
		if n == v {
			return true
		}
	}
	return false
}

// compileRules checks the rules and readies them for matching.
func compileRules(rules []UpstreamRule) ([]rule, error) {
	var out []rule
	for i, r := range rules {
		u, err := url.Parse(upstreamURL(r.URLTemplate, "hub", "category", "event"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("emulator: invalid Options.Upstream[%d].URLTemplate %q; give an absolute http or https URL such as http://127.0.0.1:7071/api/upstream/{event}", i, r.URLTemplate)
		}
		if !loopbackHost(u.Hostname()) {
			return nil, fmt.Errorf("emulator: invalid Options.Upstream[%d].URLTemplate %q; the stand-in posts only to loopback (127.0.0.1, ::1 or localhost)", i, r.URLTemplate)
		}
		c := rule{UpstreamRule: r, hubs: pattern(r.HubPattern), categories: pattern(r.CategoryPattern), events: pattern(r.EventPattern)}
		if r.Auth != nil {
			switch {
			case r.Auth.Type == "" || strings.EqualFold(r.Auth.Type, UpstreamAuthNone):
			case strings.EqualFold(r.Auth.Type, UpstreamAuthManagedIdentity):
				if r.Auth.ManagedIdentity == nil || strings.TrimSpace(r.Auth.ManagedIdentity.Resource) == "" {
					return nil, fmt.Errorf("emulator: Options.Upstream[%d].Auth has type ManagedIdentity but no ManagedIdentity.Resource; give the app id or app id URI the tokens are for", i)
				}
				c.resource = strings.TrimSpace(r.Auth.ManagedIdentity.Resource)
			default:
				return nil, fmt.Errorf("emulator: invalid Options.Upstream[%d].Auth.Type %q; use %q or %q", i, r.Auth.Type, UpstreamAuthNone, UpstreamAuthManagedIdentity)
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// loopbackHost reports whether a host name is a loopback IP or localhost.
func loopbackHost(h string) bool {
	return strings.EqualFold(h, "localhost") || loopbackIP(strings.Trim(h, "[]"))
}

// loopbackIP reports whether host is a loopback IP address. Listening and
// dialling take no names, which could resolve beyond loopback.
func loopbackIP(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// match returns the first rule for the event, or nil.
func (s *Server) match(hub, category, event string) *rule {
	for i := range s.rules {
		r := &s.rules[i]
		if matches(r.hubs, hub) && matches(r.categories, category) && matches(r.events, event) {
			return r
		}
	}
	return nil
}

// upstreamURL fills a URL template.
func upstreamURL(template, hub, category, event string) string {
	return strings.NewReplacer("{hub}", escapeData(hub), "{category}", escapeData(category), "{event}", escapeData(event)).Replace(template)
}

// escapeData percent-encodes all but the unreserved characters of RFC
// 3986, as .NET's Uri.EscapeDataString does for the service.
func escapeData(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// signatures is the X-ASRS-Signature value: for each access key,
// sha256=<hex HMAC-SHA256 of the connection id>, joined by ", " as the
// service's HTTP client joins a header's values. Hex is upper case, as .NET
// writes it.
func signatures(connectionID string, keys []string) string {
	var parts []string
	for _, k := range keys {
		m := hmac.New(sha256.New, []byte(k))
		m.Write([]byte(connectionID))
		parts = append(parts, "sha256="+strings.ToUpper(hex.EncodeToString(m.Sum(nil))))
	}
	return strings.Join(parts, ", ")
}

// upstreamReply is what an upstream request came back with.
type upstreamReply struct {
	status int
	body   []byte
	// tooLarge says the body was over maxUpstreamReply and not read.
	tooLarge bool
}

// upstreamEvent is one request to post.
type upstreamEvent struct {
	category, event string
	contentType     string
	body            []byte
}

// post sends an event of the connection upstream. ok is false when no rule
// matches, and nothing is sent. A request that fails to get a reply counts
// as a 500, as the service counts it.
func (s *Server) post(ctx context.Context, c *conn, ev upstreamEvent) (reply upstreamReply, ok bool) {
	r := s.match(c.hub, ev.category, ev.event)
	if r == nil {
		return upstreamReply{}, false
	}
	s.count(func(n *Counts) { n.Upstream++ })
	target := upstreamURL(r.URLTemplate, c.hub, ev.category, ev.event)
	// The URL may carry a function key in its query: log only its path.
	logURL := target
	if i := strings.IndexByte(logURL, '?'); i >= 0 {
		logURL = logURL[:i]
	}
	reply, err := s.send(ctx, r, c, ev, target)
	if err != nil {
		s.log.Warn("upstream request failed", "hub", c.hub, "category", ev.category, "event", ev.event, "url", logURL, "err", err)
		return upstreamReply{status: http.StatusInternalServerError}, true
	}
	level := s.log.Info
	if reply.status != http.StatusOK && reply.status != http.StatusNoContent {
		level = s.log.Warn
	}
	level("upstream", "hub", c.hub, "category", ev.category, "event", ev.event, "url", logURL, "status", reply.status)
	return reply, true
}

func (s *Server) send(ctx context.Context, r *rule, c *conn, ev upstreamEvent, target string) (upstreamReply, error) {
	ctx, cancel := context.WithTimeout(ctx, upstreamTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(ev.body))
	if err != nil {
		return upstreamReply{}, err
	}
	h := req.Header
	h.Set("Content-Type", ev.contentType)
	h.Set("X-ASRS-Connection-Id", c.id)
	h.Set("X-ASRS-Hub", c.hub)
	h.Set("X-ASRS-Category", ev.category)
	h.Set("X-ASRS-Event", ev.event)
	if c.user != "" {
		h.Set("X-ASRS-User-Id", c.user)
	}
	if len(c.claims) > 0 {
		h.Set("X-ASRS-User-Claims", strings.Join(c.claims, ", "))
	}
	if c.query != "" {
		h.Set("X-ASRS-Client-Query", c.query)
	}
	if keys := s.accessKeys(); len(keys) > 0 {
		h.Set("X-ASRS-Signature", signatures(c.id, keys))
	}
	if r.resource != "" {
		tok, err := s.upstreamToken(r.resource)
		if err != nil {
			return upstreamReply{}, err
		}
		h.Set("Authorization", "Bearer "+tok)
	}
	resp, err := s.upstreamClient.Do(req)
	if err != nil {
		return upstreamReply{}, err
	}
	defer resp.Body.Close()
	reply := upstreamReply{status: resp.StatusCode}
	if resp.ContentLength > maxUpstreamReply {
		reply.tooLarge = true
		return reply, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxUpstreamReply+1))
	if err != nil {
		return upstreamReply{}, fmt.Errorf("reading the reply: %w", err)
	}
	if len(body) > maxUpstreamReply {
		reply.tooLarge = true
		return reply, nil
	}
	reply.body = body
	return reply, nil
}

// newUpstreamClient posts upstream and refuses to reach beyond loopback,
// whatever a host name resolves to. Redirects are not followed.
func newUpstreamClient() *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil || !loopbackIP(host) {
			return fmt.Errorf("the stand-in posts upstream only to loopback, not to %s", address)
		}
		return nil
	}}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = d.DialContext
	return &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// upstreamTokenCache holds the service's managed identity tokens by
// resource, as the service reuses a token until it nears its expiry.
type upstreamTokenCache struct {
	mu    sync.Mutex
	byAud map[string]cachedToken
}

type cachedToken struct {
	token string
	exp   time.Time
}

func (t *upstreamTokenCache) clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.byAud = nil
}

// upstreamToken returns a token of the resource's identity for the
// audience, spoiled as Options.UpstreamTokenFlaw says.
func (s *Server) upstreamToken(audience string) (string, error) {
	now := s.Now()
	c := &s.upstreamTokens
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.byAud[audience]; ok && now.Add(5*time.Minute).Before(t.exp) {
		return t.token, nil
	}
	tok, exp, err := s.mintUpstream(audience, now)
	if err != nil {
		return "", err
	}
	if c.byAud == nil {
		c.byAud = map[string]cachedToken{}
	}
	c.byAud[audience] = cachedToken{token: tok, exp: exp}
	s.count(func(n *Counts) { n.UpstreamTokens++ })
	return tok, nil
}

// mintUpstream signs a v1.0 access token of the resource's managed identity
// for the audience, with the claims Entra ID gives an app-only token.
func (s *Server) mintUpstream(audience string, now time.Time) (string, time.Time, error) {
	p := s.dir.service
	tenant := s.TenantID
	iat, exp := now, now.Add(s.opts.TokenLifetime)
	key := s.signing.current()
	switch s.opts.UpstreamTokenFlaw {
	case TokenExpired:
		iat, exp = now.Add(-2*time.Hour), now.Add(-time.Hour)
	case TokenUnknownKey:
		key = s.unpublishedKey
	case TokenOtherTenant:
		tenant = OtherTenantID
	}
	claims := jwt.MapClaims{
		"aud":      audience,
		"iss":      s.issuerV1(tenant),
		"idp":      s.issuerV1(tenant),
		"iat":      iat.Unix(),
		"nbf":      iat.Unix(),
		"exp":      exp.Unix(),
		"tid":      tenant,
		"oid":      p.ObjectID,
		"sub":      p.ObjectID,
		"appid":    p.ClientID,
		"appidacr": "2",
		"idtyp":    "app",
		"ver":      "1.0",
	}
	tok, err := signRS256(claims, key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("signing the upstream token: %w", err)
	}
	return tok, exp, nil
}

// ServiceIdentity returns the SignalR resource's own system-assigned
// managed identity, whose tokens upstream requests carry.
func (s *Server) ServiceIdentity() Principal { return s.dir.service }

// accessKeys are the resource's keys, primary first; none with local auth
// disabled.
func (s *Server) accessKeys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.LocalAuthDisabled {
		return nil
	}
	return []string{s.opts.AccessKey, s.opts.SecondaryAccessKey}
}

// RegenerateAccessKey gives the resource a new random primary or secondary
// access key, as the portal's "Regenerate" does: tokens signed with the old
// key stop working, and upstream signatures use the new one. It returns the
// new key. SetAccessKey sets the primary to a key of the caller's.
func (s *Server) RegenerateAccessKey(secondary bool) string {
	k := randomKey()
	if !secondary {
		s.SetAccessKey(k)
		return k
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.SecondaryAccessKey = k
	return k
}

// noUpstream is what a client awaiting an invocation is told when no rule
// takes it: nothing could run it.
const noUpstream = "No server available: the hub is in serverless mode and no upstream rule matches this invocation."
