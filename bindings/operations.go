package bindings

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Payload is what a client receives: the method to call and its arguments,
// a JSON array (none when empty).
type Payload struct {
	Target    string          `json:"target"`
	Arguments json.RawMessage `json:"arguments"`
}

// hubPath validates the hub and the names, and returns the escaped path of
// the hub followed by segments; a segment in names is path-escaped.
func (e *Endpoint) hubPath(hub string, segs ...string) (string, error) {
	if err := ValidateHub(hub); err != nil {
		return "", err
	}
	// The application, when set, goes in the query, not the path.
	p := "/api/hubs/" + url.PathEscape(strings.ToLower(hub))
	for _, s := range segs {
		p += "/" + s
	}
	return p, nil
}

// name validates and escapes one name for a path.
func name(kind, v string) (string, error) {
	if err := validateName(kind, v); err != nil {
		return "", err
	}
	return url.PathEscape(v), nil
}

// hubQuery is the query of a hub operation: the application when set,
// lower-cased as the Management SDK sends it.
func (e *Endpoint) hubQuery() url.Values {
	q := url.Values{}
	if e.opts.Application != "" {
		q.Set("application", strings.ToLower(e.opts.Application))
	}
	return q
}

// call runs one operation on a hub; segs follow the hub in the path, q
// defaults to hubQuery.
func (e *Endpoint) call(ctx context.Context, op string, k reqKind, method, hub string, q url.Values, body []byte, notFound bool, segs ...string) (int, error) {
	p, err := e.hubPath(hub, segs...)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	if q == nil {
		q = e.hubQuery()
	}
	status, _, err := e.do(ctx, request{op: op, kind: k, method: method, path: p, query: q, body: body, notFound: notFound})
	return status, err
}

func (e *Endpoint) send(ctx context.Context, op, hub string, p Payload, excluded []string, segs ...string) error {
	if p.Target == "" {
		return fmt.Errorf("%s: the target is empty: name the client method to call", op)
	}
	switch args := bytes.TrimSpace(p.Arguments); {
	case len(args) == 0:
		p.Arguments = json.RawMessage("[]")
	case args[0] != '[':
		return fmt.Errorf("%s: the arguments are not a JSON array: put them in [ ]", op)
	}
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("%s: the arguments are not valid JSON: %w", op, err)
	}
	q := e.hubQuery()
	for _, x := range excluded {
		q.Add("excluded", x)
	}
	_, err = e.call(ctx, op, kindSend, http.MethodPost, hub, q, body, false, segs...)
	return err
}

// Broadcast sends p to every connection of the hub but the excluded ones.
func (e *Endpoint) Broadcast(ctx context.Context, hub string, p Payload, excluded ...string) error {
	return e.send(ctx, "send to all", hub, p, excluded, ":send")
}

// SendToUser sends p to every connection of the user.
func (e *Endpoint) SendToUser(ctx context.Context, hub, user string, p Payload) error {
	u, err := name("user id", user)
	if err != nil {
		return err
	}
	return e.send(ctx, "send to user", hub, p, nil, "users", u, ":send")
}

// SendToGroup sends p to every connection in the group but the excluded ones.
func (e *Endpoint) SendToGroup(ctx context.Context, hub, group string, p Payload, excluded ...string) error {
	g, err := name("group name", group)
	if err != nil {
		return err
	}
	return e.send(ctx, "send to group", hub, p, excluded, "groups", g, ":send")
}

// SendToConnection sends p to one connection.
func (e *Endpoint) SendToConnection(ctx context.Context, hub, connection string, p Payload) error {
	c, err := name("connection id", connection)
	if err != nil {
		return err
	}
	return e.send(ctx, "send to connection", hub, p, nil, "connections", c, ":send")
}

// member runs a membership change or close on the given path names.
func (e *Endpoint) member(ctx context.Context, op, method, hub string, q url.Values, notFound bool, names [][2]string, segs func(esc []string) []string) error {
	esc := make([]string, len(names))
	for i, n := range names {
		v, err := name(n[0], n[1])
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		esc[i] = v
	}
	_, err := e.call(ctx, op, kindWrite, method, hub, q, nil, notFound, segs(esc)...)
	return err
}

// AddConnectionToGroup adds a connection to a group. A connection the
// service does not know (404 Error.Connection.NotExisted: it has just gone)
// is no error, as in the Management SDK.
func (e *Endpoint) AddConnectionToGroup(ctx context.Context, hub, group, connection string) error {
	err := e.member(ctx, "add connection to group", http.MethodPut, hub, nil, false,
		[][2]string{{"group name", group}, {"connection id", connection}},
		func(s []string) []string { return []string{"groups", s[0], "connections", s[1]} })
	var be *Error
	if errors.As(err, &be) && be.Status == http.StatusNotFound && strings.EqualFold(be.Code, codeConnectionNotExisted) {
		return nil
	}
	return err
}

// codeConnectionNotExisted is the service's x-ms-error-code for adding a
// connection it does not know to a group.
const codeConnectionNotExisted = "Error.Connection.NotExisted"

// RemoveConnectionFromGroup removes a connection from a group; a connection
// that is not there is no error.
func (e *Endpoint) RemoveConnectionFromGroup(ctx context.Context, hub, group, connection string) error {
	return e.member(ctx, "remove connection from group", http.MethodDelete, hub, nil, true,
		[][2]string{{"group name", group}, {"connection id", connection}},
		func(s []string) []string { return []string{"groups", s[0], "connections", s[1]} })
}

// RemoveConnectionFromAllGroups removes a connection from every group.
func (e *Endpoint) RemoveConnectionFromAllGroups(ctx context.Context, hub, connection string) error {
	return e.member(ctx, "remove connection from all groups", http.MethodDelete, hub, nil, true,
		[][2]string{{"connection id", connection}},
		func(s []string) []string { return []string{"connections", s[0], "groups"} })
}

// AddUserToGroup adds a user to a group, for ttl when positive (whole
// seconds), else for good.
func (e *Endpoint) AddUserToGroup(ctx context.Context, hub, group, user string, ttl time.Duration) error {
	q := e.hubQuery()
	if ttl > 0 {
		secs, err := ttlSeconds(ttl)
		if err != nil {
			return err
		}
		q.Set("ttl", secs)
	}
	return e.member(ctx, "add user to group", http.MethodPut, hub, q, false,
		[][2]string{{"user id", user}, {"group name", group}},
		func(s []string) []string { return []string{"users", s[0], "groups", s[1]} })
}

// RemoveUserFromGroup removes a user from a group.
func (e *Endpoint) RemoveUserFromGroup(ctx context.Context, hub, group, user string) error {
	return e.member(ctx, "remove user from group", http.MethodDelete, hub, nil, true,
		[][2]string{{"user id", user}, {"group name", group}},
		func(s []string) []string { return []string{"users", s[0], "groups", s[1]} })
}

// RemoveUserFromAllGroups removes a user from every group.
func (e *Endpoint) RemoveUserFromAllGroups(ctx context.Context, hub, user string) error {
	return e.member(ctx, "remove user from all groups", http.MethodDelete, hub, nil, true,
		[][2]string{{"user id", user}},
		func(s []string) []string { return []string{"users", s[0], "groups"} })
}

// closeQuery is the query of the close operations.
func (e *Endpoint) closeQuery(reason string, excluded []string) url.Values {
	q := e.hubQuery()
	if reason != "" {
		q.Set("reason", reason)
	}
	for _, x := range excluded {
		q.Add("excluded", x)
	}
	return q
}

// CloseConnection closes one connection, telling the client reason. A
// connection the service does not know (404 Warning.Connection.NotExisted:
// gone already, or on another endpoint) is no error, as in the Management
// SDK.
func (e *Endpoint) CloseConnection(ctx context.Context, hub, connection, reason string) error {
	return e.member(ctx, "close connection", http.MethodDelete, hub, e.closeQuery(reason, nil), true,
		[][2]string{{"connection id", connection}},
		func(s []string) []string { return []string{"connections", s[0]} })
}

// CloseConnections closes every connection of the hub but the excluded ones.
func (e *Endpoint) CloseConnections(ctx context.Context, hub, reason string, excluded ...string) error {
	return e.member(ctx, "close all connections", http.MethodPost, hub, e.closeQuery(reason, excluded), false,
		nil, func([]string) []string { return []string{":closeConnections"} })
}

// CloseGroupConnections closes every connection in the group but the
// excluded ones.
func (e *Endpoint) CloseGroupConnections(ctx context.Context, hub, group, reason string, excluded ...string) error {
	return e.member(ctx, "close group connections", http.MethodPost, hub, e.closeQuery(reason, excluded), false,
		[][2]string{{"group name", group}},
		func(s []string) []string { return []string{"groups", s[0], ":closeConnections"} })
}

// CloseUserConnections closes every connection of the user but the
// excluded ones.
func (e *Endpoint) CloseUserConnections(ctx context.Context, hub, user, reason string, excluded ...string) error {
	return e.member(ctx, "close user connections", http.MethodPost, hub, e.closeQuery(reason, excluded), false,
		[][2]string{{"user id", user}},
		func(s []string) []string { return []string{"users", s[0], ":closeConnections"} })
}

// exists runs a HEAD check: 200 is true, a 404 with an error code false.
func (e *Endpoint) exists(ctx context.Context, op, hub string, names [][2]string, segs func([]string) []string) (bool, error) {
	esc := make([]string, len(names))
	for i, n := range names {
		v, err := name(n[0], n[1])
		if err != nil {
			return false, fmt.Errorf("%s: %w", op, err)
		}
		esc[i] = v
	}
	status, err := e.call(ctx, op, kindRead, http.MethodHead, hub, nil, nil, true, segs(esc)...)
	return err == nil && status != http.StatusNotFound, err
}

// ConnectionExists reports whether the connection is connected.
func (e *Endpoint) ConnectionExists(ctx context.Context, hub, connection string) (bool, error) {
	return e.exists(ctx, "check connection", hub, [][2]string{{"connection id", connection}},
		func(s []string) []string { return []string{"connections", s[0]} })
}

// UserExists reports whether the user has a connection.
func (e *Endpoint) UserExists(ctx context.Context, hub, user string) (bool, error) {
	return e.exists(ctx, "check user", hub, [][2]string{{"user id", user}},
		func(s []string) []string { return []string{"users", s[0]} })
}

// GroupExists reports whether the group has a connection.
func (e *Endpoint) GroupExists(ctx context.Context, hub, group string) (bool, error) {
	return e.exists(ctx, "check group", hub, [][2]string{{"group name", group}},
		func(s []string) []string { return []string{"groups", s[0]} })
}

// UserInGroup reports whether the user is in the group.
func (e *Endpoint) UserInGroup(ctx context.Context, hub, group, user string) (bool, error) {
	return e.exists(ctx, "check user in group", hub, [][2]string{{"user id", user}, {"group name", group}},
		func(s []string) []string { return []string{"users", s[0], "groups", s[1]} })
}

// Health checks that the service is up (HEAD /api/health, no token).
func (e *Endpoint) Health(ctx context.Context) error {
	_, _, err := e.do(ctx, request{op: "check health", kind: kindHealth, method: http.MethodHead, path: "/api/health"})
	return err
}
