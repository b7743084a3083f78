package handler

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/signalr-entra/handler/bindings"
)

// fakeService records what the handler asks of SignalR Service. fail, when
// set, decides the error of each call by its operation and its order.
type fakeService struct {
	mu      sync.Mutex
	negs    []negotiation
	sent    []bindings.Message
	applied []bindings.GroupAction
	hubs    []string
	calls   int
	fail    func(op string, n int) error
	onCall  func()
	// invokeResult, when set, is what every invocation returns.
	invokeResult json.RawMessage
}

type negotiation struct {
	Hub, UserID string
	Claims      []bindings.Claim
}

func (f *fakeService) next(op, hub string) error {
	if f.onCall != nil {
		f.onCall()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.calls
	f.calls++
	f.hubs = append(f.hubs, hub)
	if f.fail != nil {
		return f.fail(op, n)
	}
	return nil
}

func (f *fakeService) ConnectionInfo(ctx context.Context, hub, userID string, claims []bindings.Claim) (*bindings.ConnectionInfo, error) {
	if err := f.next("negotiate", hub); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.negs = append(f.negs, negotiation{hub, userID, claims})
	return &bindings.ConnectionInfo{
		URL:         "https://contoso.service.signalr.net/client/?hub=" + strings.ToLower(hub),
		AccessToken: "token-for-" + userID,
	}, nil
}

func (f *fakeService) SendRouted(ctx context.Context, hub string, m bindings.Message) (bindings.Route, error) {
	if err := f.next("send", hub); err != nil {
		return bindings.Route{Failed: []string{fakeEndpoint}}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, m)
	return bindings.Route{Took: []string{fakeEndpoint}}, nil
}

func (f *fakeService) ApplyRouted(ctx context.Context, hub string, a bindings.GroupAction) (bindings.Route, error) {
	if err := f.next("apply", hub); err != nil {
		return bindings.Route{Failed: []string{fakeEndpoint}}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = append(f.applied, a)
	return bindings.Route{Took: []string{fakeEndpoint}}, nil
}

// fakeEndpoint is the one endpoint fakeService routes to.
const fakeEndpoint = "https://contoso.service.signalr.net"

// errorWanted fails the test unless err contains wantErr; with wantErr ""
// it checks nothing. It reports whether an error was wanted, which ends the
// case.
func errorWanted(t *testing.T, err error, wantErr string) bool {
	t.Helper()
	if wantErr == "" {
		return false
	}
	if err == nil || !strings.Contains(err.Error(), wantErr) {
		t.Fatalf("error %v, want %q", err, wantErr)
	}
	return true
}
