package emulator

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
)

// negotiateReply is the reply to a client's negotiate.
type negotiateReply struct {
	NegotiateVersion    int         `json:"negotiateVersion"`
	ConnectionID        string      `json:"connectionId"`
	ConnectionToken     string      `json:"connectionToken,omitempty"`
	AvailableTransports []transport `json:"availableTransports"`
}

type transport struct {
	Transport       string   `json:"transport"`
	TransferFormats []string `json:"transferFormats"`
}

// pendingTTL is how long a negotiated connection waits for its WebSocket.
const pendingTTL = 5 * time.Minute

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// cors lets browser clients negotiate from any origin, with credentials
// and any headers, as the service does: Microsoft's own emulator allows any
// header and method (ASP.NET Core echoes what a preflight asks for), so a
// browser client's own headers pass the preflight.
func cors(w http.ResponseWriter, r *http.Request) {
	o := r.Header.Get("Origin")
	if o == "" {
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", o)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Add("Vary", "Origin")
	if r.Method != http.MethodOptions {
		return
	}
	if v := r.Header.Get("Access-Control-Request-Headers"); v != "" {
		h.Set("Access-Control-Allow-Headers", v)
	}
	if v := r.Header.Get("Access-Control-Request-Method"); v != "" {
		h.Set("Access-Control-Allow-Methods", v)
	}
}

func (s *Server) negotiate(w http.ResponseWriter, r *http.Request) {
	cors(w, r)
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	s.count(func(c *Counts) { c.Negotiations++ })
	if s.injected(w, r, Negotiate) {
		return
	}
	hubName := r.URL.Query().Get("hub")
	user, _, err := s.verifyClientToken(r, hubName)
	if err != nil {
		unauthorized(w, err)
		return
	}
	reply := negotiateReply{
		ConnectionID:        randomID(),
		AvailableTransports: []transport{{Transport: "WebSockets", TransferFormats: []string{"Text", "Binary"}}},
	}
	token := reply.ConnectionID
	if r.URL.Query().Get("negotiateVersion") == "1" {
		reply.NegotiateVersion = 1
		reply.ConnectionToken = randomID()
		token = reply.ConnectionToken
	}
	now := s.Now()
	h := s.hubs
	h.mu.Lock()
	for k, p := range h.pending {
		if now.Sub(p.at) > pendingTTL {
			delete(h.pending, k)
		}
	}
	h.pending[token] = pendingConn{id: reply.ConnectionID, hub: strings.ToLower(hubName), user: user, at: now}
	h.mu.Unlock()
	writeJSON(w, http.StatusOK, reply)
}

// connect upgrades a client to a WebSocket and serves it.
func (s *Server) connect(w http.ResponseWriter, r *http.Request) {
	cors(w, r)
	q := r.URL.Query()
	hubName := q.Get("hub")
	user, claims, err := s.verifyClientToken(r, hubName)
	if err != nil {
		unauthorized(w, err)
		return
	}
	id := randomID()
	if token := q.Get("id"); token != "" {
		h := s.hubs
		h.mu.Lock()
		p, ok := h.pending[token]
		delete(h.pending, token)
		h.mu.Unlock()
		if !ok || p.hub != strings.ToLower(hubName) {
			writeError(w, http.StatusNotFound, "", "NotFound", "No connection with that id is waiting; negotiate again.")
			return
		}
		id = p.id
	}
	s.wg.Add(1)
	defer s.wg.Done()
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	ws.SetReadLimit(1 << 20)
	s.serve(s.ctx, &conn{id: id, hub: strings.ToLower(hubName), user: user, claims: claims,
		query: clientQuery(r.URL.RawQuery), ws: ws, out: make(chan outMsg, outBuffer)})
}

// clientQuery is the connect request's query as upstream gets it: raw,
// with its "?", less the access_token a browser puts there, which must not
// travel on to apps and their logs.
func clientQuery(raw string) string {
	var kept []string
	for _, part := range strings.Split(raw, "&") {
		if part != "" && !strings.HasPrefix(part, "access_token=") && part != "access_token" {
			kept = append(kept, part)
		}
	}
	if len(kept) == 0 {
		return ""
	}
	return "?" + strings.Join(kept, "&")
}

// bearer returns the request's bearer token from the Authorization header,
// or else from the access_token query parameter that browsers use.
func bearer(r *http.Request) string {
	if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(v)
	}
	return r.URL.Query().Get("access_token")
}

func unauthorized(w http.ResponseWriter, err error) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	writeError(w, http.StatusUnauthorized, "", "Unauthorized", err.Error())
}

// verifyClientToken checks a client access token: HS256 with a key the
// service has, lifetime, and aud {scheme}://{host}/client/?hub={hub} with
// no port. It returns the user id and the token's claims.
func (s *Server) verifyClientToken(r *http.Request, hubName string) (user string, claims []string, err error) {
	if !hubPattern.MatchString(hubName) {
		return "", nil, fmt.Errorf("invalid hub %q; a hub starts with a letter and has at most 128 letters, digits and _`,.[]", hubName)
	}
	token := bearer(r)
	if token == "" {
		return "", nil, errors.New("no access token; send it as a Bearer token or in access_token")
	}
	mc := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(token, mc, s.hmacKey, jwt.WithValidMethods([]string{"HS256"}),
		jwt.WithTimeFunc(s.Now), jwt.WithExpirationRequired(), jwt.WithJSONNumber()); err != nil {
		return "", nil, fmt.Errorf("the access token is not valid: %w", err)
	}
	auds, _ := mc.GetAudience()
	if !s.clientAudienceOK(r, auds, hubName) {
		return "", nil, fmt.Errorf("the access token's audience %q is not %s://%s/client/?hub=%s (no port)", []string(auds), scheme(r), hostname(r), strings.ToLower(hubName))
	}
	user, ok := mc["asrs.s.uid"].(string)
	if !ok {
		user, _ = mc["nameid"].(string)
	}
	return user, claimStrings(mc), nil
}

// claimStrings lists claims as .NET writes a Claim, "type: value", one per
// value of an array, sorted by type for a stable order.
func claimStrings(mc jwt.MapClaims) []string {
	types := make([]string, 0, len(mc))
	for t := range mc {
		types = append(types, t)
	}
	slices.Sort(types)
	var out []string
	for _, t := range types {
		values, ok := mc[t].([]any)
		if !ok {
			values = []any{mc[t]}
		}
		for _, v := range values {
			out = append(out, fmt.Sprintf("%s: %v", t, v))
		}
	}
	return out
}

func (s *Server) clientAudienceOK(r *http.Request, auds []string, hubName string) bool {
	for _, a := range auds {
		u, err := url.Parse(a)
		if err == nil && u.Scheme == scheme(r) && u.Port() == "" && sameHost(u.Hostname(), hostname(r)) &&
			u.Path == "/client/" && strings.EqualFold(u.Query().Get("hub"), hubName) {
			return true
		}
	}
	return false
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

func hostname(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.Host); err == nil {
		return h
	}
	return r.Host
}

// sameHost compares host names; all loopback names are one host, since a
// client may reach 127.0.0.1 through "localhost".
func sameHost(a, b string) bool {
	return strings.EqualFold(a, b) || (loopbackHost(a) && loopbackHost(b))
}
