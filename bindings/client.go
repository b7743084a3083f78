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

	"github.com/signalr-entra/handler/settings"
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
// Endpoints from settings.Load carry the app setting they were read from:
// messages then name the app settings (serviceUri in
// AzureSignalRConnectionString, SIGNALR_KEY_WAIT). Endpoints without one,
// as NewFromCredential and NewFromConnectionString make, get messages that
// name the service URI and the Options fields instead.
func New(endpoints []settings.Endpoint, opts *Options) (*Client, error) {
	if len(endpoints) == 0 {
		return nil, errors.New("no SignalR endpoint given: pass at least one, or use NewFromCredential or NewFromConnectionString")
	}
	// settings.Load names each endpoint's setting; endpoints built in Go
	// need not, and then messages name the Go API instead.
	appSettings := false
	for _, e := range endpoints {
		appSettings = appSettings || e.Setting != ""
	}
	o, err := opts.withDefaults(appSettings)
	if err != nil {
		return nil, err
	}
	base, cancel := context.WithCancel(context.Background())
	c := &Client{opts: o, cancel: cancel}
	names := map[string]bool{}
	for _, s := range endpoints {
		if names[s.Name] {
			cancel()
			return nil, fmt.Errorf("endpoint name %q is used twice: give every endpoint its own name", s.Name)
		}
		names[s.Name] = true
		e, err := newEndpoint(base, s, &c.opts)
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
// first keys) and, with several endpoints, checks their health for
// negotiate to choose from; it waits for the health checks only.
func (c *Client) tick(ctx context.Context) {
	var wg sync.WaitGroup
	for _, e := range c.endpoints {
		if e.key != nil {
			e.key.refreshIfDue()
		}
		if len(c.endpoints) == 1 {
			break
		}
		wg.Go(func() {
			hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			err := e.Health(hctx)
			if ctx.Err() != nil {
				return
			}
			e.logChange("health", err)
			if err != nil {
				e.health.Store(unhealthy)
			} else {
				e.health.Store(healthy)
			}
		})
	}
	wg.Wait()
}

// ConnectionInfo answers negotiate: a random healthy primary endpoint signs
// (one whose health is not known yet counts as healthy), else a healthy
// secondary, else any endpoint.
func (c *Client) ConnectionInfo(ctx context.Context, hub, userID string, claims []Claim) (*ConnectionInfo, error) {
	return c.pick().ConnectionInfo(ctx, hub, userID, claims)
}

func (c *Client) pick() *Endpoint {
	if len(c.endpoints) == 1 {
		return c.endpoints[0]
	}
	for _, typ := range []settings.EndpointType{settings.Primary, settings.Secondary, ""} {
		var ok []*Endpoint
		for _, e := range c.endpoints {
			if typ == "" || e.typ == typ && e.Healthy() {
				ok = append(ok, e)
			}
		}
		if len(ok) > 0 {
			return ok[rand.IntN(len(ok))]
		}
	}
	return nil // unreachable: New needs one endpoint
}

// Send delivers m to every endpoint, or to those named in m.Endpoints.
func (c *Client) Send(ctx context.Context, hub string, m Message) error {
	if err := m.validate(); err != nil {
		return fmt.Errorf("invalid message: %w", err)
	}
	targets, err := c.targets(m.Endpoints)
	if err != nil {
		return err
	}
	p := Payload{Target: m.Target, Arguments: m.Arguments}
	return fanOut(ctx, "send", targets, func(ctx context.Context, e *Endpoint) error {
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

// Apply changes group membership on every endpoint: of the connection when
// a.ConnectionID is set, else of the user (C# SignalRGroupAction's rules).
func (c *Client) Apply(ctx context.Context, hub string, a GroupAction) error {
	if err := a.validate(); err != nil {
		return fmt.Errorf("invalid group action: %w", err)
	}
	return fanOut(ctx, "group "+string(a.Action), c.endpoints, func(ctx context.Context, e *Endpoint) error {
		conn := a.ConnectionID != ""
		switch {
		case a.Action == ActionAdd && conn:
			return e.AddConnectionToGroup(ctx, hub, a.GroupName, a.ConnectionID)
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

// targets returns the endpoints with the given names or service URIs, all
// when none.
func (c *Client) targets(names []string) ([]*Endpoint, error) {
	if len(names) == 0 {
		return c.endpoints, nil
	}
	var out []*Endpoint
	for _, n := range names {
		i := slices.IndexFunc(c.endpoints, func(e *Endpoint) bool { return e.name == n || e.uri == strings.TrimSuffix(n, "/") })
		if i < 0 {
			var known []string
			for _, e := range c.endpoints {
				known = append(known, fmt.Sprintf("%q", e.name))
			}
			return nil, fmt.Errorf("message names endpoint %q, which is not configured; configured endpoints: %v", n, known)
		}
		out = append(out, c.endpoints[i])
	}
	return out, nil
}

// fanOut runs f on every endpoint at once. With one endpoint its error is
// returned as is; with several, an *EndpointsError lists every result.
func fanOut(ctx context.Context, op string, eps []*Endpoint, f func(context.Context, *Endpoint) error) error {
	if len(eps) == 1 {
		err := f(ctx, eps[0])
		eps[0].logChange("rest", err)
		return err
	}
	res := make([]EndpointResult, len(eps))
	var wg sync.WaitGroup
	for i, e := range eps {
		wg.Go(func() {
			err := f(ctx, e)
			e.logChange("rest", err)
			res[i] = EndpointResult{Endpoint: e.uri, Err: err}
		})
	}
	wg.Wait()
	for _, r := range res {
		if r.Err != nil {
			return &EndpointsError{Op: op, Results: res}
		}
	}
	return nil
}
