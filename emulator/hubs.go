package emulator

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// hubs is the service's bookkeeping: connections, groups and the users'
// group memberships, per hub. Hub names are case-insensitive.
type hubs struct {
	mu      sync.Mutex
	byName  map[string]*hub
	pending map[string]pendingConn // by connection token
}

type hub struct {
	conns map[string]*conn
	// groups holds connections added to a group directly.
	groups map[string]map[string]bool
	// members holds user memberships: user → group → expiry.
	members map[string]map[string]time.Time
}

// pendingConn is a negotiated connection waiting for its WebSocket.
type pendingConn struct {
	id, hub, user string
	at            time.Time
}

func newHubs() *hubs {
	return &hubs{byName: map[string]*hub{}, pending: map[string]pendingConn{}}
}

// get returns the hub, creating it; h.mu must be held.
func (h *hubs) get(name string) *hub {
	name = strings.ToLower(name)
	b := h.byName[name]
	if b == nil {
		b = &hub{conns: map[string]*conn{}, groups: map[string]map[string]bool{}, members: map[string]map[string]time.Time{}}
		h.byName[name] = b
	}
	return b
}

// inGroup reports whether the connection is in the group, directly or
// through its user's membership.
func (b *hub) inGroup(c *conn, group string, now time.Time) bool {
	if b.groups[group][c.id] {
		return true
	}
	exp, ok := b.members[c.user][group]
	return ok && c.user != "" && now.Before(exp)
}

// userInGroup reports whether the user is a member of the group.
func (b *hub) userInGroup(user, group string, now time.Time) bool {
	if exp, ok := b.members[user][group]; ok && now.Before(exp) {
		return true
	}
	for id := range b.groups[group] {
		if c := b.conns[id]; c != nil && c.user == user {
			return true
		}
	}
	return false
}

// selection picks connections of a hub.
type selection struct {
	user, group, connection string
	all                     bool
	excluded                []string
}

// pick returns the selected connections.
func (h *hubs) pick(hubName string, sel selection, now time.Time) []*conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.get(hubName)
	var out []*conn
	for _, c := range b.conns {
		if slices.Contains(sel.excluded, c.id) {
			continue
		}
		switch {
		case sel.all,
			sel.connection != "" && c.id == sel.connection,
			sel.user != "" && c.user == sel.user,
			sel.group != "" && b.inGroup(c, sel.group, now):
			out = append(out, c)
		}
	}
	return out
}

// ConnectionInfo describes a connected client.
type ConnectionInfo struct {
	ID     string
	UserID string
}

// Connections lists the clients connected to a hub, by connection id.
func (s *Server) Connections(hubName string) []ConnectionInfo {
	h := s.hubs
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []ConnectionInfo
	for _, c := range h.get(hubName).conns {
		out = append(out, ConnectionInfo{ID: c.id, UserID: c.user})
	}
	slices.SortFunc(out, func(a, b ConnectionInfo) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// DropConnections closes every client WebSocket abruptly, with no close
// message, as a network failure would.
func (s *Server) DropConnections() {
	h := s.hubs
	h.mu.Lock()
	var all []*conn
	for _, b := range h.byName {
		for _, c := range b.conns {
			all = append(all, c)
		}
	}
	h.mu.Unlock()
	for _, c := range all {
		c.drop()
	}
}
