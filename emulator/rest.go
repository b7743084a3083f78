package emulator

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// payload is the body of a REST send.
type payload struct {
	Target    string            `json:"target"`
	Arguments []json.RawMessage `json:"arguments"`
}

// maxPayload bounds REST bodies, as the service limits message size.
const maxPayload = 1 << 20

// noTTL is how long a user stays in a group when no ttl is given.
const noTTL = 365 * 24 * time.Hour

// Error codes the service puts in x-ms-error-code on a 404 that means "no".
const (
	codeConnectionNotExisted = "Warning.Connection.NotExisted"
	codeUserNotExisted       = "Warning.User.NotExisted"
	codeGroupNotExisted      = "Warning.Group.NotExisted"
	codeUserNotInGroup       = "Info.User.NotInGroup"
	// codeAddUnknownConnection answers adding an unknown connection to a
	// group: an error code, which the Management SDK still counts as done.
	codeAddUnknownConnection = "Error.Connection.NotExisted"
)

// execute carries out an authorized REST operation.
func (s *Server) execute(w http.ResponseWriter, r *http.Request, rt route, op *restOp) {
	q := r.URL.Query()
	now := s.Now()
	excluded := q["excluded"]
	switch op.kind {
	case RESTSend:
		p, err := readPayload(r)
		if err != nil {
			writeError(w, http.StatusBadRequest, "", "BadRequest", err.Error())
			return
		}
		frames := map[hubProtocol][]byte{}
		for _, c := range s.hubs.pick(rt.hub, selection{all: rt.user == "" && rt.group == "" && rt.connection == "",
			user: rt.user, group: rt.group, connection: rt.connection, excluded: excluded}, now) {
			// Written once per protocol, not once per connection.
			f, ok := frames[c.proto]
			if !ok {
				if f, err = c.proto.invocation("", p.Target, p.Arguments); err != nil {
					s.log.Warn("a message cannot be written in a client's protocol", "connectionId", c.id, "err", err)
				}
				frames[c.proto] = f
			}
			if f != nil {
				c.send(f)
			}
		}
	case GenerateToken:
		s.generateToken(w, r, rt)
		return
	}
	h := s.hubs
	switch op.op {
	case "HubProxyV20241201_InvokeClientConnection":
		s.invokeClient(w, r, rt)
		return
	case "HubProxyV20241201_ListConnectionsInGroup":
		s.listConnections(w, r, rt)
		return
	case "SignalR_CloseConnection":
		// An unknown connection is a 404 with an error code, which the
		// Management SDK counts as closed.
		cs := s.hubs.pick(rt.hub, selection{connection: rt.connection}, now)
		if len(cs) == 0 {
			notFound(w, codeConnectionNotExisted)
			return
		}
		cs[0].close(q.Get("reason"))
	case "SignalR_CloseConnections", "SignalR_CloseUserConnections", "SignalR_CloseGroupConnections":
		for _, c := range s.hubs.pick(rt.hub, selection{all: rt.user == "" && rt.group == "" && rt.connection == "",
			user: rt.user, group: rt.group, connection: rt.connection, excluded: excluded}, now) {
			c.close(q.Get("reason"))
		}
	case "SignalR_CheckConnectionExistence", "SignalR_CheckUserExistence", "SignalR_CheckGroupExistence":
		code := map[string]string{"SignalR_CheckConnectionExistence": codeConnectionNotExisted,
			"SignalR_CheckUserExistence": codeUserNotExisted, "SignalR_CheckGroupExistence": codeGroupNotExisted}[op.op]
		if len(s.hubs.pick(rt.hub, selection{user: rt.user, group: rt.group, connection: rt.connection}, now)) == 0 {
			notFound(w, code)
			return
		}
	case "SignalR_CheckUserExistenceInGroup":
		h.mu.Lock()
		in := h.get(rt.hub).userInGroup(rt.user, rt.group, now)
		h.mu.Unlock()
		if !in {
			notFound(w, codeUserNotInGroup)
			return
		}
	case "SignalR_AddConnectionToGroup", "SignalR_RemoveConnectionFromGroup":
		h.mu.Lock()
		b := h.get(rt.hub)
		_, ok := b.conns[rt.connection]
		if ok && op.method == http.MethodPut {
			if b.groups[rt.group] == nil {
				b.groups[rt.group] = map[string]bool{}
			}
			b.groups[rt.group][rt.connection] = true
		} else if ok {
			delete(b.groups[rt.group], rt.connection)
		}
		h.mu.Unlock()
		switch {
		case !ok && op.method == http.MethodPut:
			notFound(w, codeAddUnknownConnection)
			return
		case !ok:
			notFound(w, codeConnectionNotExisted)
			return
		}
	case "SignalR_RemoveConnectionFromAllGroups":
		h.mu.Lock()
		for _, ids := range h.get(rt.hub).groups {
			delete(ids, rt.connection)
		}
		h.mu.Unlock()
	case "SignalR_AddUserToGroup":
		if err := s.addUserToGroup(rt, q.Get("ttl"), now); err != nil {
			writeError(w, http.StatusBadRequest, "", "BadRequest", err.Error())
			return
		}
	case "SignalR_RemoveUserFromGroup", "SignalR_RemoveUserFromAllGroups":
		h.mu.Lock()
		b := h.get(rt.hub)
		for g, ids := range b.groups {
			if rt.group != "" && g != rt.group {
				continue
			}
			for id := range ids {
				if c := b.conns[id]; c != nil && c.user == rt.user {
					delete(ids, id)
				}
			}
		}
		if rt.group == "" {
			delete(b.members, rt.user)
		} else {
			delete(b.members[rt.user], rt.group)
		}
		h.mu.Unlock()
	}
	w.WriteHeader(op.status)
}

func notFound(w http.ResponseWriter, code string) {
	w.Header().Set("x-ms-error-code", code)
	w.WriteHeader(http.StatusNotFound)
}

// readPayload reads a send's body.
func readPayload(r *http.Request) (payload, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
	if err != nil {
		return payload{}, fmt.Errorf("reading the body: %w", err)
	}
	if len(body) > maxPayload {
		return payload{}, fmt.Errorf("the body is over %d bytes", maxPayload)
	}
	var p payload
	if err := json.Unmarshal(body, &p); err != nil {
		return payload{}, fmt.Errorf("the body is not a JSON message {\"target\", \"arguments\"}: %w", err)
	}
	if p.Target == "" {
		return payload{}, fmt.Errorf("the message has no target; set \"target\" to the client method to invoke")
	}
	return p, nil
}

// addUserToGroup records a membership: ttl seconds long, a year without
// ttl, and with ttl 0 only the user's connections of the moment join.
func (s *Server) addUserToGroup(rt route, ttl string, now time.Time) error {
	d := noTTL
	if ttl != "" {
		n, err := strconv.Atoi(ttl)
		if err != nil || n < 0 || n > math.MaxInt32 {
			return fmt.Errorf("invalid ttl %q; use a whole number of seconds, 0 to %d", ttl, math.MaxInt32)
		}
		d = time.Duration(n) * time.Second
	}
	h := s.hubs
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.get(rt.hub)
	if d == 0 {
		for id, c := range b.conns {
			if c.user == rt.user {
				if b.groups[rt.group] == nil {
					b.groups[rt.group] = map[string]bool{}
				}
				b.groups[rt.group][id] = true
			}
		}
		return nil
	}
	if b.members[rt.user] == nil {
		b.members[rt.user] = map[string]time.Time{}
	}
	b.members[rt.user][rt.group] = now.Add(d)
	return nil
}

// generateToken signs a client token with the service's own key.
func (s *Server) generateToken(w http.ResponseWriter, r *http.Request, rt route) {
	q := r.URL.Query()
	minutes := 60
	if v := q.Get("minutesToExpire"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "", "BadRequest", fmt.Sprintf("invalid minutesToExpire %q; use a whole number of minutes, 1 or more", v))
			return
		}
		minutes = n
	}
	now := s.Now()
	claims := jwt.MapClaims{
		"aud": scheme(r) + "://" + hostname(r) + "/client/?hub=" + rt.hub,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Duration(minutes) * time.Minute).Unix(),
	}
	if u := q.Get("userId"); u != "" {
		claims["asrs.s.uid"] = u
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	t.Header["kid"] = serviceKeyID
	signed, err := t.SignedString([]byte(s.keys.serviceKey()))
	if err != nil {
		writeError(w, http.StatusInternalServerError, "", "InternalServerError", "signing the token failed")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"token": signed})
}
