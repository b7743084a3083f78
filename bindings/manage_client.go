package bindings

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
)

// CloseConnection closes one connection on every online endpoint (a
// connection id names one client, on whichever endpoint holds it), telling
// the client reason. Closing is safe to repeat, so it fails when any
// endpoint failed it.
func (c *Client) CloseConnection(ctx context.Context, hub, connection, reason string) (Route, error) {
	return c.fanOut(ctx, "close connection", nil, true, func(ctx context.Context, e *Endpoint) error {
		return e.CloseConnection(ctx, hub, connection, reason)
	})
}

// CloseConnections closes, on every online endpoint, the connections of
// the user when userID is set, else of the group when groupName is set,
// else of the whole hub, but the excluded ones, telling each client reason.
func (c *Client) CloseConnections(ctx context.Context, hub, userID, groupName, reason string, excluded []string) (Route, error) {
	return c.fanOut(ctx, "close connections", nil, true, func(ctx context.Context, e *Endpoint) error {
		switch {
		case userID != "":
			return e.CloseUserConnections(ctx, hub, userID, reason, excluded...)
		case groupName != "":
			return e.CloseGroupConnections(ctx, hub, groupName, reason, excluded...)
		default:
			return e.CloseConnections(ctx, hub, reason, excluded...)
		}
	})
}

// Existence names what Exists checks: a connection, a user, a group, or a
// user in a group (UserID and GroupName).
type Existence struct {
	ConnectionID, UserID, GroupName string
}

// Exists reports whether what q names exists on any online endpoint. It is
// an error only when no endpoint said yes and some endpoint failed to
// answer: then the answer is unknown.
func (c *Client) Exists(ctx context.Context, hub string, q Existence) (bool, error) {
	check := func(ctx context.Context, e *Endpoint) (bool, error) {
		switch {
		case q.ConnectionID != "":
			return e.ConnectionExists(ctx, hub, q.ConnectionID)
		case q.UserID != "" && q.GroupName != "":
			return e.UserInGroup(ctx, hub, q.GroupName, q.UserID)
		case q.UserID != "":
			return e.UserExists(ctx, hub, q.UserID)
		default:
			return e.GroupExists(ctx, hub, q.GroupName)
		}
	}
	var (
		mu    sync.Mutex
		found bool
	)
	_, err := c.fanOut(ctx, "check existence", nil, true, func(ctx context.Context, e *Endpoint) error {
		ok, err := check(ctx, e)
		mu.Lock()
		found = found || ok
		mu.Unlock()
		return err
	})
	if found {
		return true, nil
	}
	return false, err
}

// ListConnectionsInGroup lists the group's connections on every online
// endpoint, one after the other, following each one's pages, top in all
// when top is positive. It refuses to gather more than limit connections
// (when positive): the caller then names a top.
func (c *Client) ListConnectionsInGroup(ctx context.Context, hub, group string, top, limit int) ([]GroupMember, error) {
	var out []GroupMember
	_, err := c.fanOutInTurn(ctx, "list connections in group", func(ctx context.Context, e *Endpoint) error {
		want := 0
		if top > 0 {
			if want = top - len(out); want <= 0 {
				return nil
			}
		}
		pager := e.NewListConnectionsInGroupPager(hub, group, &ListConnectionsOptions{Top: want})
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return err
			}
			out = append(out, page.Value...)
			if top > 0 && len(out) >= top {
				out = out[:top]
				return nil
			}
			if limit > 0 && len(out) > limit {
				return &InputError{fmt.Sprintf("the group has more than %d connections, more than one reply holds: set top to list at most that many", limit)}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []GroupMember{}
	}
	return out, nil
}

// fanOutInTurn runs f on every online endpoint one after the other, for
// operations whose results add up in order; it fails when any endpoint
// failed.
func (c *Client) fanOutInTurn(ctx context.Context, op string, f func(context.Context, *Endpoint) error) (Route, error) {
	var mu sync.Mutex
	return c.fanOut(ctx, op, nil, true, func(ctx context.Context, e *Endpoint) error {
		mu.Lock()
		defer mu.Unlock()
		return f(ctx, e)
	})
}

// Invoke calls a method on one client connection and returns what the
// client's handler returned. With several endpoints it asks the online ones
// in turn, moving on only when one answers that it does not know the
// connection or was never reached: asked at once, two endpoints that are
// one service by two addresses would each run the client's handler. Any
// other failure ends the call, as the endpoint may hold the connection.
func (c *Client) Invoke(ctx context.Context, hub, connection string, p Payload) (json.RawMessage, error) {
	var first error
	for _, e := range c.endpoints {
		if len(c.endpoints) > 1 && !e.Healthy() {
			continue
		}
		res, err := e.Invoke(ctx, hub, connection, p)
		switch {
		case err == nil:
			return res, nil
		case !IsNotFound(err) && OutcomeOf(err) != NotSent:
			return nil, err
		case first == nil || IsNotFound(first):
			// A failure to reach an endpoint says more than its silence.
			first = err
		}
	}
	if first == nil {
		return nil, c.noneOnline("invoke")
	}
	return nil, first
}

// IsNotFound reports whether err is the service's answer that the named
// connection, user or group does not exist.
func IsNotFound(err error) bool {
	var be *Error
	return errors.As(err, &be) && be.Status == http.StatusNotFound && be.Code != ""
}
