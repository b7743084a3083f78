package bindings

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
)

// tickEvery is how often the background loop checks health and keys.
const tickEvery = time.Minute

// Client serves negotiate, messages and group actions over one or more
// SignalR Service endpoints. It is safe for concurrent use.
type Client struct {
	opts      Options
	endpoints []*Endpoint
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

// New checks the endpoints and options and starts the background loop that
// checks health and rotates temporary keys. Call Close when done.
//
// Messages name each endpoint by its Label (such as the app setting it was
// read from), else its service URI, and options by Options.OptionNames,
// else their fields.
func New(endpoints []EndpointConfig, opts *Options) (*Client, error) {
	if len(endpoints) == 0 {
		return nil, errors.New("no SignalR endpoint given: pass at least one, or use NewFromCredential")
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	base, cancel := context.WithCancel(context.Background())
	c := &Client{opts: o, cancel: cancel}
	pl := newPipeline(&c.opts)
	// One name may hold a primary and a secondary endpoint, as in C#
	// (Azure__SignalR__Endpoints__<name>__primary and __secondary); the same
	// endpoint twice would receive every message twice.
	seen := map[[3]string]bool{}
	for _, s := range endpoints {
		typ := s.Type
		if typ == "" {
			typ = Primary
		}
		id := [3]string{s.Name, string(typ), ""}
		if s.ServiceURI != nil {
			id[2] = s.ServiceURI.String()
		}
		if seen[id] {
			cancel()
			return nil, fmt.Errorf("endpoint %q (%s, %s) is configured twice: every message would be sent to it twice; remove one", s.Name, id[1], id[2])
		}
		seen[id] = true
		e, err := newEndpoint(base, s, &c.opts, pl)
		if err != nil {
			cancel()
			return nil, err
		}
		c.endpoints = append(c.endpoints, e)
	}
	if !o.manual {
		c.wg.Add(1)
		go c.loop(base)
	}
	return c, nil
}

// Close stops the background loop and waits for it. Requests in flight
// fail once their context or the fetch they wait for ends.
func (c *Client) Close() error {
	c.cancel()
	c.wg.Wait()
	return nil
}

// Endpoints returns every endpoint, in the order given to New, for checks.
func (c *Client) Endpoints() []*Endpoint { return slices.Clone(c.endpoints) }

func (c *Client) loop(ctx context.Context) {
	defer c.wg.Done()
	// A refresh interval shorter than the tick would otherwise wait for
	// the next request to start the refresh.
	t := time.NewTicker(min(tickEvery, c.opts.KeyRefresh))
	defer t.Stop()
	for {
		c.tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// tick starts the key refreshes that are due (the first tick fetches the
// first keys) and, with several endpoints, checks their health, as the
// Management SDK's RestHealthCheckService does: an endpoint is offline
// after three failed checks in a row, and online again after one that
// passes. It waits for the health checks only.
func (c *Client) tick(ctx context.Context) {
	var wg sync.WaitGroup
	for _, e := range c.endpoints {
		if e.key != nil {
			e.key.refreshIfDue()
		}
		if len(c.endpoints) == 1 {
			break
		}
		wg.Go(func() { e.checkHealth(ctx, c.opts.healthRetry) })
	}
	wg.Wait()
}

// ConnectionInfo answers negotiate: a random online primary endpoint signs
// (one whose health is not known yet counts as online), else an online
// secondary. With several endpoints and none online it fails with
// ErrNoOnlineEndpoint, naming why each is offline.
func (c *Client) ConnectionInfo(ctx context.Context, hub, userID string, claims []Claim) (*ConnectionInfo, error) {
	e, err := c.pick()
	if err != nil {
		return nil, err
	}
	return e.ConnectionInfo(ctx, hub, userID, claims)
}

func (c *Client) pick() (*Endpoint, error) {
	if len(c.endpoints) == 1 {
		return c.endpoints[0], nil
	}
	for _, typ := range []EndpointType{Primary, Secondary} {
		var ok []*Endpoint
		for _, e := range c.endpoints {
			if e.typ == typ && e.Healthy() {
				ok = append(ok, e)
			}
		}
		if len(ok) > 0 {
			return ok[rand.IntN(len(ok))], nil
		}
	}
	return nil, c.noneOnline("negotiate")
}

// ErrNoOnlineEndpoint is the cause of a failure because every endpoint is
// offline: nothing was sent, so retrying later is safe.
var ErrNoOnlineEndpoint = errors.New("no SignalR endpoint is online")

// noneOnline explains ErrNoOnlineEndpoint with each endpoint's last health
// check.
func (c *Client) noneOnline(op string) error {
	var why []string
	for _, e := range c.endpoints {
		why = append(why, e.String()+": "+e.healthProblem())
	}
	return fmt.Errorf("%s: %w (%s); nothing was sent: retry later, and check the endpoints' network path and status", op, ErrNoOnlineEndpoint, strings.Join(why, "; "))
}

// Send delivers m to every online endpoint, or to those named in
// m.Endpoints, as the C# SDK's DefaultMessageRouter routes. An offline
// endpoint is skipped; the send fails only when no endpoint took it, so
// that a caller's retry cannot deliver the message twice. Which endpoints
// took it, and which skipped or failed it, is logged when there are
// several; SendRouted also returns it.
//
// A send is repeated (Options.Retry's schedule; its ShouldRetry is not
// used) only when the service cannot have taken it: the request was never
// written, or the service itself answered 429 with its error code. Any
// other failure after the request was written may have delivered the
// message: OutcomeOf(err) is then Unknown. Group actions follow the same
// rule.
func (c *Client) Send(ctx context.Context, hub string, m Message) error {
	_, err := c.SendRouted(ctx, hub, m)
	return err
}

// SendRouted is Send that also says which endpoints took m, skipped it or
// failed it, with or without an error: a send some endpoint took succeeds
// though another failed it.
func (c *Client) SendRouted(ctx context.Context, hub string, m Message) (Route, error) {
	if err := m.validate(); err != nil {
		return Route{}, fmt.Errorf("invalid message: %w", err)
	}
	targets, err := c.targets("message", m.Endpoints)
	if err != nil {
		return Route{}, err
	}
	p := Payload{Target: m.Target, Arguments: m.Arguments}
	return c.fanOut(ctx, "send", targets, false, func(ctx context.Context, e *Endpoint) error {
		switch {
		case m.ConnectionID != "":
			return e.SendToConnection(ctx, hub, m.ConnectionID, p)
		case m.UserID != "":
			return e.SendToUser(ctx, hub, m.UserID, p)
		case m.GroupName != "":
			return e.SendToGroup(ctx, hub, m.GroupName, p, m.Excluded...)
		default:
			return e.Broadcast(ctx, hub, p, m.Excluded...)
		}
	})
}

// Apply changes group membership on every online endpoint, or on those
// named in a.Endpoints: of the connection when a.ConnectionID is set, else
// of the user (C# SignalRGroupAction's rules). A membership change is safe
// to repeat, so it fails when any endpoint failed it. ApplyRouted also
// says which endpoints took it.
func (c *Client) Apply(ctx context.Context, hub string, a GroupAction) error {
	_, err := c.ApplyRouted(ctx, hub, a)
	return err
}

// ApplyRouted is Apply that also says which endpoints took a, skipped it
// or failed it, with or without an error.
func (c *Client) ApplyRouted(ctx context.Context, hub string, a GroupAction) (Route, error) {
	if err := a.validate(); err != nil {
		return Route{}, fmt.Errorf("invalid group action: %w", err)
	}
	targets, err := c.targets("group action", a.Endpoints)
	if err != nil {
		return Route{}, err
	}
	return c.fanOut(ctx, "group "+string(a.Action), targets, true, func(ctx context.Context, e *Endpoint) error {
		conn := a.ConnectionID != ""
		switch {
		case a.Action == ActionAdd && conn:
			return e.AddConnectionToGroup(ctx, hub, a.GroupName, a.ConnectionID)
		case a.Action == ActionAdd && a.TTL != nil:
			return e.AddUserToGroupWithTTL(ctx, hub, a.GroupName, a.UserID, time.Duration(*a.TTL)*time.Second)
		case a.Action == ActionAdd:
			return e.AddUserToGroup(ctx, hub, a.GroupName, a.UserID, 0)
		case a.Action == ActionRemove && conn:
			return e.RemoveConnectionFromGroup(ctx, hub, a.GroupName, a.ConnectionID)
		case a.Action == ActionRemove:
			return e.RemoveUserFromGroup(ctx, hub, a.GroupName, a.UserID)
		case conn:
			return e.RemoveConnectionFromAllGroups(ctx, hub, a.ConnectionID)
		default:
			return e.RemoveUserFromAllGroups(ctx, hub, a.UserID)
		}
	})
}

// Route says where one send or group action went, by the endpoints'
// service URIs, which carry no key.
type Route struct {
	// Took lists the endpoints that took it.
	Took []string
	// Failed lists the endpoints it was sent to that failed it.
	Failed []string
	// Unknown lists those of Failed that may have taken it nonetheless
	// (see Outcome): the answer was lost, not a refusal.
	Unknown []string
	// Skipped lists the endpoints left out because their health check
	// failed; none has been sent it.
	Skipped []string
}

// targets returns the endpoints with the given names or service URIs (a
// name may hold a primary and a secondary), nil when none are named. A
// name that matches none is the caller's input to fix; what names it is
// kind, such as "message".
func (c *Client) targets(kind string, names []string) ([]*Endpoint, error) {
	if len(names) == 0 {
		return nil, nil
	}
	var out []*Endpoint
	for _, n := range names {
		matched := false
		for _, e := range c.endpoints {
			if e.name == n || e.uri == strings.TrimSuffix(n, "/") {
				matched = true
				if !slices.Contains(out, e) {
					out = append(out, e)
				}
			}
		}
		if !matched {
			var known []string
			for _, e := range c.endpoints {
				if e.name == "" {
					known = append(known, e.uri+" (unnamed)")
				} else {
					known = append(known, fmt.Sprintf("%q (%s)", e.name, e.uri))
				}
			}
			return nil, &InputError{fmt.Sprintf("the %s's endpoints names %s, which matches no configured endpoint: name one by its name or service URI (%s), or leave endpoints out to use every online one",
				kind, abbreviate([]byte(n)), strings.Join(known, ", "))}
		}
	}
	return out, nil
}

// fanOut runs f on every target at once: the named ones, else every online
// endpoint, and says where the operation went. With one endpoint its error
// is returned as is. With several, an *EndpointsError lists every result
// when none took the operation, or, with strict, when any failed it;
// otherwise the failures are logged only.
func (c *Client) fanOut(ctx context.Context, op string, named []*Endpoint, strict bool, f func(context.Context, *Endpoint) error) (Route, error) {
	if len(c.endpoints) == 1 {
		e := c.endpoints[0]
		err := f(ctx, e)
		e.logChange("rest", err)
		if err != nil {
			r := Route{Failed: []string{e.uri}}
			if OutcomeOf(err) == Unknown {
				r.Unknown = r.Failed
			}
			return r, err
		}
		return Route{Took: []string{e.uri}}, nil
	}
	var route Route
	targets := named
	if targets == nil {
		for _, e := range c.endpoints {
			if e.Healthy() {
				targets = append(targets, e)
			} else {
				route.Skipped = append(route.Skipped, e.uri)
			}
		}
	}
	if len(targets) == 0 {
		return route, c.noneOnline(op)
	}
	res := make([]EndpointResult, len(targets))
	var wg sync.WaitGroup
	for i, e := range targets {
		wg.Go(func() {
			err := f(ctx, e)
			e.logChange("rest", err)
			res[i] = EndpointResult{Endpoint: e.uri, Err: err}
		})
	}
	wg.Wait()
	for _, r := range res {
		if r.Err == nil {
			route.Took = append(route.Took, r.Endpoint)
		} else {
			route.Failed = append(route.Failed, r.Endpoint)
			if OutcomeOf(r.Err) == Unknown {
				route.Unknown = append(route.Unknown, r.Endpoint)
			}
		}
	}
	if len(route.Failed) > 0 && (len(route.Took) == 0 || strict) {
		return route, &EndpointsError{Op: op, Results: res, Skipped: route.Skipped}
	}
	if len(route.Failed) > 0 {
		c.opts.Logger.Warn("SignalR "+op+" reached only some endpoints", "took", route.Took, "failed", route.Failed, "skipped", route.Skipped,
			"error", &EndpointsError{Op: op, Results: res, Skipped: route.Skipped})
		return route, nil
	}
	// An offline endpoint is logged once when its health changes; each
	// send only says where it went.
	attrs := []any{"took", route.Took}
	if len(route.Skipped) > 0 {
		attrs = append(attrs, "skipped", route.Skipped)
	}
	c.opts.Logger.Info("SignalR "+op+" routed", attrs...)
	return route, nil
}
