package bindings

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// apiVersion20241201 is the REST API version that adds invoking a client
// method and listing a group's connections (Azure/azure-signalr
// docs/swagger/v20241201.json).
const apiVersion20241201 = "2024-12-01"

// query20241201 is hubQuery with the 2024-12-01 API version.
func (e *Endpoint) query20241201() url.Values {
	q := e.hubQuery()
	q.Set("api-version", apiVersion20241201)
	return q
}

// AddUserToGroupWithTTL adds a user to a group for ttl, in whole seconds
// rounded up. A ttl of 0 adds only the user's connections of the moment:
// a connection the user opens later is not in the group.
func (e *Endpoint) AddUserToGroupWithTTL(ctx context.Context, hub, group, user string, ttl time.Duration) error {
	secs, err := ttlSeconds(ttl)
	if err != nil {
		return err
	}
	q := e.hubQuery()
	q.Set("ttl", secs)
	return e.member(ctx, "add user to group", http.MethodPut, hub, q, false,
		[][2]string{{"user id", user}, {"group name", group}},
		func(s []string) []string { return []string{"users", s[0], "groups", s[1]} })
}

// ttlSeconds is ttl in whole seconds rounded up, as the REST API's ttl
// query parameter (an int32) takes it.
func ttlSeconds(ttl time.Duration) (string, error) {
	if ttl < 0 || ttl > math.MaxInt32*time.Second {
		return "", &InputError{fmt.Sprintf("invalid ttl %s: use 0 to %d seconds", ttl, math.MaxInt32)}
	}
	return strconv.FormatInt(int64((ttl+time.Second-1)/time.Second), 10), nil
}

// invocationReply is the service's ClientInvocationResponse.
type invocationReply struct {
	Result json.RawMessage `json:"result"`
}

// Invoke calls a method on one client connection and returns what the
// client's handler returned, as JSON ("null" for no value). It waits for
// the client as long as ctx allows. The call is never repeated: the client
// would run its handler twice. A client that fails the invocation gives an
// *Error whose Message carries the client's error.
func (e *Endpoint) Invoke(ctx context.Context, hub, connection string, p Payload) (json.RawMessage, error) {
	const op = "invoke a client method"
	c, err := name("connection id", connection)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if p.Target == "" {
		return nil, fmt.Errorf("%s: the target is empty: name the client method to call", op)
	}
	if args := bytes.TrimSpace(p.Arguments); len(args) == 0 || string(args) == "null" {
		p.Arguments = json.RawMessage("[]")
	}
	body, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("%s: the arguments are not valid JSON: %w", op, err)
	}
	path, err := e.hubPath(hub, "connections", c, ":invoke")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	status, data, err := e.do(ctx, request{op: op, kind: kindSend, method: http.MethodPost, path: path, query: e.query20241201(), body: body})
	var be *Error
	if errors.As(err, &be) && status >= 400 && status < 500 && status != http.StatusUnauthorized && status != http.StatusForbidden {
		// The service's message is the client's error, or says why the
		// call could not reach it.
		var detail struct{ Message string }
		if json.Unmarshal(data, &detail) == nil && detail.Message != "" {
			be.Message = clientMessage(detail.Message)
		}
	}
	if err != nil {
		return nil, err
	}
	var reply invocationReply
	if err := json.Unmarshal(data, &reply); err != nil {
		return nil, &Error{Op: op, Endpoint: e.uri, Status: status, Message: "the reply is not a ClientInvocationResponse", Err: err}
	}
	if reply.Result == nil {
		reply.Result = json.RawMessage("null")
	}
	return reply.Result, nil
}

// GroupMember is a connection in a group.
type GroupMember struct {
	ConnectionID string `json:"connectionId"`
	UserID       string `json:"userId,omitempty"`
}

// GroupMembersPage is one page of a group's connections.
type GroupMembersPage struct {
	Value []GroupMember `json:"value"`
	// NextLink is where the next page is, empty on the last page.
	NextLink string `json:"nextLink,omitempty"`
}

// ListConnectionsOptions bound a listing of a group's connections.
type ListConnectionsOptions struct {
	// Top is the most connections to list in all pages; 0 lists all.
	Top int
	// MaxPageSize is the most connections in a page, 1 to 200; 0 lets
	// the service choose (200).
	MaxPageSize int
}

// NewListConnectionsInGroupPager lists a group's connections page by page,
// following the service's nextLink. Only the query of a nextLink is used,
// on this endpoint and the list's own path: a reply cannot send the
// request, or its token, anywhere else.
func (e *Endpoint) NewListConnectionsInGroupPager(hub, group string, opts *ListConnectionsOptions) *runtime.Pager[GroupMembersPage] {
	const op = "list connections in group"
	var o ListConnectionsOptions
	if opts != nil {
		o = *opts
	}
	return runtime.NewPager(runtime.PagingHandler[GroupMembersPage]{
		More: func(p GroupMembersPage) bool { return p.NextLink != "" },
		Fetcher: func(ctx context.Context, prev *GroupMembersPage) (GroupMembersPage, error) {
			g, err := name("group name", group)
			if err != nil {
				return GroupMembersPage{}, fmt.Errorf("%s: %w", op, err)
			}
			path, err := e.hubPath(hub, "groups", g, "connections")
			if err != nil {
				return GroupMembersPage{}, fmt.Errorf("%s: %w", op, err)
			}
			var q url.Values
			if prev == nil {
				if q, err = o.query(e.query20241201()); err != nil {
					return GroupMembersPage{}, fmt.Errorf("%s: %w", op, err)
				}
			} else if q, err = e.nextQuery(prev.NextLink); err != nil {
				return GroupMembersPage{}, &Error{Op: op, Endpoint: e.uri, Message: err.Error()}
			}
			status, data, err := e.do(ctx, request{op: op, kind: kindRead, method: http.MethodGet, path: path, query: q})
			if err != nil {
				return GroupMembersPage{}, err
			}
			var page GroupMembersPage
			if err := json.Unmarshal(data, &page); err != nil {
				return GroupMembersPage{}, &Error{Op: op, Endpoint: e.uri, Status: status, Message: "the reply is not a page of group members", Err: err}
			}
			return page, nil
		},
	})
}

func (o ListConnectionsOptions) query(q url.Values) (url.Values, error) {
	if o.Top < 0 {
		return nil, &InputError{fmt.Sprintf("invalid top %d: use 1 or more, or 0 for all", o.Top)}
	}
	if o.MaxPageSize < 0 || o.MaxPageSize > 200 {
		return nil, &InputError{fmt.Sprintf("invalid page size %d: use 1 to 200, or 0 for the service's choice", o.MaxPageSize)}
	}
	if o.Top > 0 {
		q.Set("top", strconv.Itoa(o.Top))
	}
	if o.MaxPageSize > 0 {
		q.Set("maxpagesize", strconv.Itoa(o.MaxPageSize))
	}
	return q, nil
}

// nextQuery reads the query of a nextLink, keeping the API version and
// application of the first request when the link has none.
func (e *Endpoint) nextQuery(nextLink string) (url.Values, error) {
	u, err := url.Parse(nextLink)
	if err != nil {
		return nil, fmt.Errorf("the nextLink of the reply is not a URL: %v", err)
	}
	q := u.Query()
	for k, v := range e.query20241201() {
		if q.Get(k) == "" {
			q[k] = v
		}
	}
	return q, nil
}

// maxClientMessage bounds what of a client's error an invocation's Error
// carries: any connected client writes it, and it reaches the caller's
// reply and logs.
const maxClientMessage = 1 << 10

// clientMessage is the client's error, cut to maxClientMessage bytes on a
// character boundary.
func clientMessage(m string) string {
	if len(m) <= maxClientMessage {
		return m
	}
	return strings.ToValidUTF8(m[:maxClientMessage], "") + "…"
}
