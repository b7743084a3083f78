package bindings

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/signalr-entra/handler/settings"
)

func TestStatusErrors(t *testing.T) {
	const authKey, sendKey, headKey = "GET /api/v1/auth/accessKey", "POST /api/hubs/chat/:send", "HEAD /api/hubs/chat/users/u"
	entra := func(e *Endpoint) error { _, err := e.ConnectionInfo(ctx(), "chat", "", nil); return err }
	send := func(e *Endpoint) error { return e.Broadcast(ctx(), "chat", hello) }
	read := func(e *Endpoint) error { _, err := e.UserExists(ctx(), "chat", "u"); return err }
	tests := []struct {
		name      string
		accessKey bool
		route     string
		reply     reply
		call      func(*Endpoint) error
		want      []string
	}{
		{"auth API 403", false, authKey, reply{status: 403, code: "Forbidden"}, entra,
			[]string{"user-assigned managed identity with client id cid lacks the SignalR App Server or SignalR Service Owner role on http://127.0.0.1", "30 minutes"}},
		{"auth API 401", false, authKey, reply{status: 401}, entra,
			[]string{"did not accept the Entra ID token", "tenant tid", "authority host https://login.chinacloudapi.cn/", "AzureSignalRConnectionString"}},
		{"auth API 404", false, authKey, reply{status: 404}, entra,
			[]string{"no SignalR Service answers", "check serviceUri and serverEndpoint in AzureSignalRConnectionString"}},
		{"REST 403 write", false, sendKey, reply{status: 403}, send,
			[]string{"lacks the SignalR REST API Owner or SignalR Service Owner role", "needed to send to all", "30 minutes"}},
		{"REST 403 read", false, headKey, reply{status: 403}, read,
			[]string{"SignalR REST API Reader, SignalR REST API Owner or SignalR Service Owner", "check user"}},
		{"REST 401 Entra", false, sendKey, reply{status: 401}, send,
			[]string{"wrong tenant or authority host"}},
		{"access key refused", true, sendKey, reply{status: 401}, send,
			[]string{"the key is wrong (regenerated, or copied wrong), or local authentication is disabled", "Keys page"}},
		{"local auth disabled", true, sendKey, reply{status: 401, body: `{"code":"Unauthorized","message":"Local auth is disabled for this resource"}`}, send,
			[]string{"local authentication is disabled on the resource", "Switch to Microsoft Entra ID"}},
		{"wrong access key", true, sendKey, reply{status: 401, body: `{"code":"Unauthorized","message":"token signature is invalid"}`}, send,
			[]string{"the key is not one of the resource's current keys", "Copy the current connection string"}},
		{"REST 403 access key", true, sendKey, reply{status: 403}, send,
			[]string{"an access key needs no role", "Networking"}},
		{"REST 429", true, sendKey, reply{status: 429, code: "Throttled"}, send, []string{"throttles"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeService(t)
			f.on(tt.route, tt.reply)
			clock := newClock()
			ep := entraEndpoint(t, f, &fakeCred{clock: clock})
			ep.Auth = settings.Auth{Kind: "ManagedIdentityCredential", ClientID: "cid", TenantID: "tid", AuthorityHost: "https://login.chinacloudapi.cn/"}
			if tt.accessKey {
				ep = keyEndpoint(t, f)
			}
			c, _ := newTestClient(t, []settings.Endpoint{ep}, Options{Now: clock.Now, Negotiate: NegotiateLocal})
			err := tt.call(c.Endpoints()[0])
			e := asError(t, err)
			if e.Status != tt.reply.status || e.Code != tt.reply.code || e.RequestID != "req-42" || e.Endpoint != f.URL {
				t.Errorf("error fields %+v", e)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestRetries(t *testing.T) {
	const sendKey, putKey = "POST /api/hubs/chat/:send", "PUT /api/hubs/chat/groups/g/connections/c"
	send := func(e *Endpoint) error { return e.Broadcast(ctx(), "chat", hello) }
	add := func(e *Endpoint) error { return e.AddConnectionToGroup(ctx(), "chat", "g", "c") }
	tests := []struct {
		name      string
		route     string
		replies   []reply
		call      func(*Endpoint) error
		wantTries int
		wantErr   bool
	}{
		{"send 500 not retried", sendKey, []reply{{status: 500}}, send, 1, true},
		{"send 503 retried", sendKey, []reply{{status: 503}, {status: 502}, {status: 202}}, send, 3, false},
		{"send 429 three tries", sendKey, []reply{{status: 429}}, send, 3, true},
		{"send 400 not retried", sendKey, []reply{{status: 400}}, send, 1, true},
		{"write 500 retried", putKey, []reply{{status: 500}, {status: 200}}, add, 2, false},
		{"write 408 retried", putKey, []reply{{status: 408}, {status: 200}}, add, 2, false},
		{"write 403 not retried", putKey, []reply{{status: 403}}, add, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeService(t)
			f.on(tt.route, tt.replies...)
			c, _ := newTestClient(t, []settings.Endpoint{keyEndpoint(t, f)}, Options{})
			err := tt.call(c.Endpoints()[0])
			if (err != nil) != tt.wantErr {
				t.Errorf("error %v, want error %v", err, tt.wantErr)
			}
			if got := len(f.requests()); got != tt.wantTries {
				t.Errorf("%d tries, want %d", got, tt.wantTries)
			}
		})
	}
}

func TestRetryAfterBeyondDeadlineStops(t *testing.T) {
	f := newFakeService(t)
	f.on("POST /api/hubs/chat/:send", reply{status: 503, retryAfter: "120"})
	c, _ := newTestClient(t, []settings.Endpoint{keyEndpoint(t, f)}, Options{})
	cx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := c.Endpoints()[0].Broadcast(cx, "chat", hello)
	if e := asError(t, err); e.Status != 503 || e.retryAfter != 120*time.Second {
		t.Errorf("error %+v, want the 503 with its Retry-After", e)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("%d tries, want 1: waiting 120s would pass the deadline", n)
	}
}

func TestFailureLoggedOncePerState(t *testing.T) {
	f := newFakeService(t)
	c, logs := newTestClient(t, []settings.Endpoint{keyEndpoint(t, f)}, Options{})
	send := func() error { return c.Send(ctx(), "chat", Message{Target: "t"}) }
	f.on("POST /api/hubs/chat/:send", reply{status: 401})
	for range 3 {
		if send() == nil {
			t.Fatal("send succeeded")
		}
	}
	f.on("POST /api/hubs/chat/:send", reply{status: 403})
	send()
	f.on("POST /api/hubs/chat/:send", reply{status: 202})
	for range 2 {
		if err := send(); err != nil {
			t.Fatal(err)
		}
	}
	out := logs.String()
	if n := strings.Count(out, "SignalR endpoint failing"); n != 2 {
		t.Errorf("failures logged %d times, want 2 (401 then 403):\n%s", n, out)
	}
	if n := strings.Count(out, "SignalR endpoint recovered"); n != 1 {
		t.Errorf("recovery logged %d times, want 1:\n%s", n, out)
	}
	if strings.Contains(out, "the-access-key") {
		t.Error("the access key reached the log")
	}
}

func TestPlainHTTPOnlyToLoopback(t *testing.T) {
	for _, tt := range []struct {
		name string
		mod  func(*settings.Endpoint)
		want string
	}{
		{"service", func(e *settings.Endpoint) { e.ServiceURI = mustURL(t, "http://example.com") }, `serviceUri "http://example.com" uses plain http`},
		{"server", func(e *settings.Endpoint) { e.ServerEndpoint = mustURL(t, "http://10.0.0.1:8080") }, "serverEndpoint"},
		{"client", func(e *settings.Endpoint) { e.ClientEndpoint = mustURL(t, "ftp://x") }, `scheme "ftp"`},
	} {
		ep := settings.Endpoint{Setting: "S", ServiceURI: mustURL(t, "https://x.service.signalr.net"), AccessKey: "k"}
		tt.mod(&ep)
		_, err := New([]settings.Endpoint{ep}, &Options{manual: true})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
	ep := settings.Endpoint{Setting: "S", ServiceURI: mustURL(t, "http://[::1]:8080"), AccessKey: "k"}
	if c, err := New([]settings.Endpoint{ep}, &Options{manual: true}); err != nil {
		t.Errorf("loopback http refused: %v", err)
	} else {
		c.Close()
	}
}

func TestOptionsInvalid(t *testing.T) {
	ep := settings.Endpoint{Setting: "S", ServiceURI: mustURL(t, "https://x.service.signalr.net"), AccessKey: "k"}
	for _, tt := range []struct {
		opts Options
		want string
	}{
		{Options{TokenLifetime: 48 * time.Hour}, "SIGNALR_TOKEN_LIFETIME"},
		{Options{Negotiate: "remote"}, `invalid negotiate mode "remote"`},
		{Options{KeyWait: -time.Second}, "SIGNALR_KEY_WAIT"},
		{Options{Application: "my app"}, `invalid application name "my app"`},
	} {
		_, err := New([]settings.Endpoint{ep}, &tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error %v, want %q", err, tt.want)
		}
	}
	if _, err := New(nil, nil); err == nil || !strings.Contains(err.Error(), "no SignalR endpoint given") {
		t.Errorf("no endpoints: error %v", err)
	}
}

// TestEndpointPrintsNoKey: an endpoint handed to fmt or slog by mistake
// must not print its access key.
func TestEndpointPrintsNoKey(t *testing.T) {
	const key = "TOPSECRET-ACCESS-KEY"
	u, _ := url.Parse("http://127.0.0.1:8080")
	c, err := New([]settings.Endpoint{{Setting: "AzureSignalRConnectionString", ServiceURI: u, AccessKey: key, Auth: settings.Auth{Kind: "AccessKey"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	e := c.Endpoints()[0]
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "endpoint", e)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "endpoint", e)
	for _, out := range []string{fmt.Sprint(e), fmt.Sprintf("%+v %#v", e, e), logs.String()} {
		asBytes := strings.Trim(fmt.Sprint([]byte(key)), "[]") // how fmt prints a []byte field
		if strings.Contains(out, key) || strings.Contains(out, asBytes) || !strings.Contains(out, "127.0.0.1:8080") {
			t.Errorf("printed %q: want the URI and no key", out)
		}
	}
}
