package handler

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/signalr-entra/handler/internal/hostproto"
	"github.com/signalr-entra/handler/internal/loopback"
)

// cors decides which browser origins may call the functions.
type cors struct {
	anyOrigin bool
	origins   map[string]bool
	// loopback allows every http(s) origin on a loopback host: the default
	// standalone, where pages are served from localhost on any port.
	loopback bool
}

func newCORS(origins []string, standalone bool) (*cors, error) {
	c := &cors{origins: map[string]bool{}, loopback: standalone && len(origins) == 0}
	for _, o := range origins {
		o = strings.TrimSpace(o)
		if o == "*" {
			c.anyOrigin = true
			continue
		}
		u, err := url.Parse(o)
		if o == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return nil, fmt.Errorf("invalid SIGNALR_CORS_ORIGINS entry %q: give origins as scheme://host[:port], such as \"http://localhost:5173\", separated by commas, or \"*\" for any origin", o)
		}
		c.origins[strings.ToLower(u.Scheme+"://"+u.Host)] = true
	}
	return c, nil
}

// allowed says whether a page from origin may call the functions.
func (c *cors) allowed(origin string) bool {
	if origin == "" {
		return false
	}
	if c.anyOrigin || c.origins[strings.ToLower(origin)] {
		return true
	}
	return c.loopback && isLoopbackOrigin(origin)
}

// credentialed says whether origin is allowed by name (not only by "*"), so
// that it may send cookies and see the reply.
func (c *cors) credentialed(origin string) bool {
	return c.origins[strings.ToLower(origin)] || (c.loopback && isLoopbackOrigin(origin))
}

// decorate adds the CORS headers for origin to rep.
func (c *cors) decorate(rep *reply, origin string) {
	if !c.allowed(origin) {
		return
	}
	for k, vs := range c.headers(origin) {
		for _, v := range vs {
			rep.setHeader(k, v)
		}
	}
}

func (c *cors) headers(origin string) http.Header {
	h := http.Header{}
	if c.credentialed(origin) {
		h.Set("Access-Control-Allow-Origin", origin)
		// @microsoft/signalr sends credentials (withCredentials) by default.
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Vary", "Origin")
	} else {
		h.Set("Access-Control-Allow-Origin", "*")
	}
	return h
}

// preflight answers an OPTIONS preflight request.
func (c *cors) preflight(w http.ResponseWriter, r *http.Request, id string) {
	origin := r.Header.Get("Origin")
	if !c.allowed(origin) {
		writeJSON(w, &reply{status: http.StatusForbidden, body: errorBody{
			Error:         "origin " + hostproto.Quote(origin) + " is not allowed; add it to SIGNALR_CORS_ORIGINS",
			CorrelationID: id,
		}})
		return
	}
	for k, vs := range c.headers(origin) {
		w.Header()[k] = vs
	}
	w.Header().Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
		// The origin is trusted; whatever headers its client sends
		// (X-SignalR-User-Agent, X-Requested-With, Authorization) are fine.
		w.Header().Set("Access-Control-Allow-Headers", rh)
	}
	w.Header().Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

func isLoopbackOrigin(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	return loopback.Is(u.Hostname())
}
