package emulator

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// maxPageSize is the largest page of a list, and the default one.
const maxPageSize = 200

// groupMember is GroupMember of the REST API.
type groupMember struct {
	ConnectionID string `json:"connectionId"`
	UserID       string `json:"userId,omitempty"`
}

// groupMemberPage is GroupMemberPagedValues of the REST API.
type groupMemberPage struct {
	Value    []groupMember `json:"value"`
	NextLink string        `json:"nextLink,omitempty"`
}

// listConnections answers a page of a group's connections, in order of
// connection id. The continuation token is the last id of the page before;
// nextLink carries it, the page size and what is left of top, so that a
// caller following nextLink gets top connections in all.
func (s *Server) listConnections(w http.ResponseWriter, r *http.Request, rt route) {
	q := r.URL.Query()
	size, err := intParam(q.Get("maxpagesize"), "maxpagesize", maxPageSize, 1, maxPageSize)
	if err != nil {
		writeError(w, http.StatusBadRequest, "", "BadRequest", err.Error())
		return
	}
	top, err := intParam(q.Get("top"), "top", 0, 1, 1<<31-1)
	if err != nil {
		writeError(w, http.StatusBadRequest, "", "BadRequest", err.Error())
		return
	}
	after := ""
	if t := q.Get("continuationToken"); t != "" {
		b, err := base64.RawURLEncoding.DecodeString(t)
		if err != nil || len(b) == 0 {
			writeError(w, http.StatusBadRequest, "", "BadRequest", "invalid continuationToken; use the one in the previous page's nextLink")
			return
		}
		after = string(b)
	}
	var members []groupMember
	for _, c := range s.hubs.pick(rt.hub, selection{group: rt.group}, s.Now()) {
		if c.id > after {
			members = append(members, groupMember{ConnectionID: c.id, UserID: c.user})
		}
	}
	slices.SortFunc(members, func(a, b groupMember) int { return strings.Compare(a.ConnectionID, b.ConnectionID) })
	n := size
	if top > 0 && top < n {
		n = top
	}
	page := groupMemberPage{Value: members[:min(n, len(members))]}
	if page.Value == nil {
		page.Value = []groupMember{}
	}
	if len(members) > n && (top == 0 || top > n) {
		next := q
		next.Set("continuationToken", base64.RawURLEncoding.EncodeToString([]byte(page.Value[n-1].ConnectionID)))
		if top > 0 {
			next.Set("top", strconv.Itoa(top-n))
		}
		page.NextLink = scheme(r) + "://" + r.Host + r.URL.EscapedPath() + "?" + next.Encode()
	}
	writeJSON(w, http.StatusOK, page)
}

// intParam reads an optional whole-number query parameter in [lo, hi].
func intParam(v, name string, def, lo, hi int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("invalid %s %q; use a whole number from %d to %d", name, v, lo, hi)
	}
	return n, nil
}
