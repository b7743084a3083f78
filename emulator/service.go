package emulator

import (
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

func (s *Server) serviceHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("HEAD /api/health", s.health)
	mux.HandleFunc("GET /api/v1/auth/accessKey", s.accessKey)
	mux.HandleFunc("GET /api/auth/accessKey", s.accessKey)
	s.routeREST(mux)
	mux.HandleFunc("POST /client/negotiate", s.negotiate)
	mux.HandleFunc("OPTIONS /client/negotiate", s.negotiate)
	mux.HandleFunc("GET /client/{$}", s.connect)
	mux.HandleFunc("GET /client", s.connect)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.down.Load() {
			writeError(w, http.StatusServiceUnavailable, "", "ServiceUnavailable", "the service is down (Server.SetDown)")
			return
		}
		// The mux would redirect an unclean path (empty, "." or ".."
		// segments) to another operation; the service has none there.
		if p := r.URL.EscapedPath(); strings.HasPrefix(p, "/api/hubs/") && path.Clean(p) != p {
			noOperation(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// SetDown takes the service down, or brings it back: while down, every
// request to it, the health check among them, answers 503, as a resource
// in an outage does. Connected clients stay connected.
func (s *Server) SetDown(down bool) { s.down.Store(down) }

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	s.count(func(c *Counts) { c.REST["HealthApi_GetServiceStatus"]++ })
	if s.injected(w, r, Health) {
		return
	}
	w.WriteHeader(http.StatusOK)
}

// accessKeyReply is the auth API's reply.
type accessKeyReply struct {
	KeyID     string `json:"KeyId"`
	AccessKey string `json:"AccessKey"`
}

// accessKey hands out a temporary key to an Entra principal allowed to
// sign client tokens.
func (s *Server) accessKey(w http.ResponseWriter, r *http.Request) {
	s.count(func(c *Counts) { c.AccessKeys++ })
	if s.injected(w, r, AccessKey) {
		return
	}
	if status, err := s.authorize(r, actionAccessKey, false); err != nil {
		writeError(w, status, "", http.StatusText(status), err.Error())
		return
	}
	id, key := s.keys.issue(s.opts.KeyLifetime)
	writeJSON(w, http.StatusOK, accessKeyReply{KeyID: id, AccessKey: key})
}

// authorize checks the request's bearer token for the data action: an
// Entra token whose principal holds a role granting it, or (when
// accessKeyOK and local auth is on) an HS256 token for this URL.
func (s *Server) authorize(r *http.Request, action string, accessKeyOK bool) (int, error) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		return http.StatusUnauthorized, errors.New("no bearer token in the Authorization header")
	}
	t, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	if err != nil {
		return http.StatusUnauthorized, fmt.Errorf("the bearer token is not a JWT: %w", err)
	}
	if t.Method.Alg() == "HS256" {
		if !accessKeyOK {
			return http.StatusUnauthorized, errors.New("this API takes an Entra ID token only, not one signed with an access key")
		}
		return s.authorizeAccessKey(r, token)
	}
	c, err := s.verifyEntra(token)
	if err != nil {
		return http.StatusUnauthorized, fmt.Errorf("the Entra ID token is not accepted: %w", err)
	}
	if !s.dir.allowed(c.objectID, action, s.Now()) {
		return http.StatusForbidden, fmt.Errorf("the principal with object id %s (client id %s) may not perform %s%s on this SignalR resource; "+
			"assign one of the roles %s to it on the resource (or its resource group or subscription). "+
			"Role assignments can take up to 30 minutes to take effect",
			c.objectID, c.appID, actionPrefix, action, strings.Join(rolesAllowing(action), ", "))
	}
	return 0, nil
}

// authorizeAccessKey checks an access-key token: signature, lifetime and
// aud = the request URL without its query (port or not).
func (s *Server) authorizeAccessKey(r *http.Request, token string) (int, error) {
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(token, claims, s.hmacKey, jwt.WithValidMethods([]string{"HS256"}),
		jwt.WithTimeFunc(s.Now), jwt.WithExpirationRequired()); err != nil {
		return http.StatusUnauthorized, fmt.Errorf("the access token is not valid: %w", err)
	}
	auds, _ := claims.GetAudience()
	want := scheme(r) + "://" + r.Host + r.URL.Path
	wantNoPort := scheme(r) + "://" + hostname(r) + r.URL.Path
	for _, a := range auds {
		if strings.EqualFold(a, want) || strings.EqualFold(a, wantNoPort) {
			return 0, nil
		}
	}
	return http.StatusUnauthorized, fmt.Errorf("the access token's audience %q is not the request URL %q", []string(auds), want)
}

// rest serves a REST operation.
func (s *Server) rest(w http.ResponseWriter, r *http.Request, op *restOp) {
	rt, ok := routeOf(r, op)
	if !ok {
		noOperation(w, r)
		return
	}
	s.count(func(c *Counts) {
		if op.kind == GenerateToken {
			c.GenerateTokens++
		} else {
			c.REST[op.op]++
		}
	})
	if s.injected(w, r, op.kind) {
		return
	}
	q := r.URL.Query()
	if msg := validate(rt, q.Get("application"), q.Get("api-version")); msg != "" {
		writeError(w, http.StatusBadRequest, "", "BadRequest", msg)
		return
	}
	if status, err := s.authorize(r, op.action, true); err != nil {
		writeError(w, status, "", http.StatusText(status), err.Error())
		return
	}
	if app := q.Get("application"); app != "" {
		rt.hub = app + "_" + rt.hub
	}
	rt.hub = strings.ToLower(rt.hub)
	s.execute(w, r, rt, op)
}

// validate checks names the way the service does; it returns a message
// for a 400, or "".
func validate(rt route, application, apiVersion string) string {
	switch {
	case apiVersion == "":
		return "the api-version query parameter is missing; use 2022-06-01 or later"
	case !hubPattern.MatchString(rt.hub):
		return fmt.Sprintf("invalid hub %q; a hub starts with a letter and has at most 128 letters, digits and _`,.[]", rt.hub)
	case application != "" && !hubPattern.MatchString(application):
		return fmt.Sprintf("invalid application %q; it starts with a letter and has at most 128 letters, digits and _`,.[]", application)
	case rt.group != "" && (len(rt.group) > 1024 || strings.TrimSpace(rt.group) == ""):
		return fmt.Sprintf("invalid group name of %d characters; use 1 to 1024 characters, not only white space", len(rt.group))
	}
	return ""
}
