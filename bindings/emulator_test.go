package bindings

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/signalr-entra/handler/emulator"
)

// TestAgainstEmulator runs negotiate and a send against the local stand-in
// of the service, with the roles a user might assign.
func TestAgainstEmulator(t *testing.T) {
	tests := []struct {
		name      string
		roles     []emulator.Role
		wantToken bool   // negotiate succeeds
		wantSend  bool   // REST succeeds
		wantErr   string // in the negotiate error
	}{
		{"service owner", []emulator.Role{emulator.ServiceOwner}, true, true, ""},
		{"app server", []emulator.Role{emulator.AppServer}, true, false, ""},
		{"REST API owner alone", []emulator.Role{emulator.RESTAPIOwner}, true, true, ""},
		{"no role", nil, false, false, "SignalR REST API Owner"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := emulator.NewServer(&emulator.Options{SystemIdentityRoles: tt.roles})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.Close)
			ep := EndpointConfig{
				Label:      "AzureSignalRConnectionString",
				ServiceURI: mustURL(t, srv.URL),
				Credential: srv.Credential(srv.SystemIdentity().ObjectID),
			}
			c, _ := newTestClient(t, []EndpointConfig{ep}, Options{})
			info, err := c.ConnectionInfo(ctx(), "Chat", "ada", nil)
			if tt.wantToken != (err == nil) {
				t.Fatalf("negotiate: %v", err)
			}
			if err != nil && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("negotiate error %q lacks %q", err, tt.wantErr)
			}
			if err == nil && (info.AccessToken == "" || info.URL != srv.URL+"/client/?hub=chat") {
				t.Errorf("info %+v", info)
			}
			err = c.Send(ctx(), "Chat", Message{Target: "t", Arguments: raw(`1`)})
			if tt.wantSend != (err == nil) {
				t.Fatalf("send: %v", err)
			}
			var be *Error
			if err != nil && (!errors.As(err, &be) || be.Status != http.StatusForbidden || !strings.Contains(err.Error(), "SignalR REST API Owner")) {
				t.Errorf("send error %v, want a 403 naming the role", err)
			}
			if tt.wantSend {
				// The service answers 404 Error.Connection.NotExisted: the
				// connection left before it was added, which is no failure.
				if err := c.Apply(ctx(), "Chat", GroupAction{Action: ActionAdd, ConnectionID: "gone", GroupName: "g"}); err != nil {
					t.Errorf("adding a connection that has left: %v", err)
				}
			}
		})
	}
}

func TestEmulatorLocalAuthDisabled(t *testing.T) {
	srv, err := emulator.NewServer(&emulator.Options{AccessKey: "k", LocalAuthDisabled: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	ep := EndpointConfig{Label: "AzureSignalRConnectionString", ServiceURI: mustURL(t, srv.URL), AccessKey: "k"}
	c, _ := newTestClient(t, []EndpointConfig{ep}, Options{})
	err = c.Send(ctx(), "chat", Message{Target: "t"})
	if e := asError(t, err); e.Status != http.StatusUnauthorized || !strings.Contains(e.Message, "local authentication is disabled on the resource") {
		t.Errorf("error %v", err)
	}
}

// TestEmulatorEndpointDownAndBack runs two stand-ins as two endpoints: while
// one is down, sends and negotiate use the other without failing, and once
// it is back it is used again.
func TestEmulatorEndpointDownAndBack(t *testing.T) {
	var eps []EndpointConfig
	var srvs []*emulator.Server
	for _, name := range []string{"east", "west"} {
		srv, err := emulator.NewServer(&emulator.Options{SystemIdentityRoles: []emulator.Role{emulator.ServiceOwner}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Close)
		srvs = append(srvs, srv)
		eps = append(eps, EndpointConfig{Name: name, Label: "Azure__SignalR__Endpoints__" + name, Type: Primary,
			ServiceURI: mustURL(t, srv.URL), Credential: srv.Credential(srv.SystemIdentity().ObjectID)})
	}
	c, logs := newTestClient(t, eps, Options{})
	sends := func(s *emulator.Server) int { return s.Counts().REST["SignalR_Broadcast"] }
	srvs[0].SetDown(true)
	c.tick(ctx())
	for range 5 {
		if err := c.Send(ctx(), "chat", Message{Target: "t"}); err != nil {
			t.Fatalf("send with east down: %v", err)
		}
		info, err := c.ConnectionInfo(ctx(), "chat", "", nil)
		if err != nil || !strings.HasPrefix(info.URL, srvs[1].URL) {
			t.Fatalf("negotiate with east down: %+v, %v; want west", info, err)
		}
	}
	if sends(srvs[0]) != 0 || sends(srvs[1]) != 5 {
		t.Errorf("sends east/west = %d/%d, want 0/5", sends(srvs[0]), sends(srvs[1]))
	}
	srvs[0].SetDown(false)
	c.tick(ctx())
	if err := c.Send(ctx(), "chat", Message{Target: "t"}); err != nil {
		t.Fatal(err)
	}
	if sends(srvs[0]) != 1 {
		t.Errorf("east took %d sends after it came back, want 1", sends(srvs[0]))
	}
	if l := logs.String(); !strings.Contains(l, "SignalR endpoint recovered") {
		t.Errorf("log does not say east recovered:\n%s", l)
	}
}
