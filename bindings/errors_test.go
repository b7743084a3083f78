package bindings

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
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
			[]string{"refused the Microsoft Entra ID token of user-assigned managed identity with client id cid, and its reply does not say why", "configured in AzureSignalRConnectionString", "A new token from the credential was refused too"}},
		{"auth API 401 naming the tenant", false, authKey, reply{status: 401, body: `{"code":"Unauthorized","message":"The token was issued by tenant 'a', but the resource belongs to tenant 'b'."}`}, entra,
			[]string{"the service says it comes from another tenant than the resource's", "authority host", "configured in AzureSignalRConnectionString"}},
		{"auth API 404", false, authKey, reply{status: 404}, entra,
			[]string{"no SignalR Service answers", "check the service URI and server endpoint of AzureSignalRConnectionString"}},
		{"REST 403 write", false, sendKey, reply{status: 403}, send,
			[]string{"lacks the SignalR REST API Owner or SignalR Service Owner role", "needed to send to all", "30 minutes"}},
		{"REST 403 read", false, headKey, reply{status: 403}, read,
			[]string{"SignalR REST API Reader, SignalR REST API Owner or SignalR Service Owner", "check user"}},
		{"REST 401 Entra", false, sendKey, reply{status: 401}, send,
			[]string{"refused the Microsoft Entra ID token", "does not say why", "refused too"}},
		{"access key refused", true, sendKey, reply{status: 401}, send,
			[]string{"the key is wrong (regenerated, or copied wrong), or local authentication is disabled", "Keys page"}},
		{"local auth disabled", true, sendKey, reply{status: 401, body: `{"code":"Unauthorized","message":"Local auth is disabled for this resource"}`}, send,
			[]string{"local authentication is disabled on the resource", "Switch to Microsoft Entra ID"}},
		{"wrong access key", true, sendKey, reply{status: 401, body: `{"code":"Unauthorized","message":"token signature is invalid"}`}, send,
			[]string{"the key is not one of the resource's current keys", "Copy the current connection string"}},
		{"REST 403 access key", true, sendKey, reply{status: 403}, send,
			[]string{"an access key needs no role", "Networking"}},
		{"REST 429", true, sendKey, reply{status: 429, code: "Throttled"}, send, []string{"throttles"}},
		{"REST 429 from a gateway", true, sendKey, reply{status: 429, body: "Too many requests"}, send, []string{"without the service's error code", "may have taken"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeService(t)
			f.on(tt.route, tt.reply)
			clock := newClock()
			ep := entraEndpoint(t, f, &fakeCred{clock: clock})
			ep.Identity = "user-assigned managed identity with client id cid"
			if tt.accessKey {
				ep = keyEndpoint(t, f)
			}
			c, _ := newTestClient(t, []EndpointConfig{ep}, Options{Now: clock.Now, Negotiate: NegotiateLocal})
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
			// A tenant is blamed only when the reply names it.
			if strings.Contains(err.Error(), "says it comes from another tenant") != strings.Contains(tt.reply.body, "tenant") {
				t.Errorf("error %q blames the tenant, or does not, against the reply %q", err, tt.reply.body)
			}
		})
	}
}

// TestRetries: sends and group actions are repeated only when the service
// cannot have taken them (its own throttling answer); every other failure
// after the request was written is Unknown. Reads and the auth API keep
// azcore's retries.
func TestRetries(t *testing.T) {
	const sendKey, putKey, headKey = "POST /api/hubs/chat/:send", "PUT /api/hubs/chat/groups/g/connections/c", "HEAD /api/hubs/chat/users/u"
	send := func(e *Endpoint) error { return e.Broadcast(ctx(), "chat", hello) }
	add := func(e *Endpoint) error { return e.AddConnectionToGroup(ctx(), "chat", "g", "c") }
	read := func(e *Endpoint) error { _, err := e.UserExists(ctx(), "chat", "u"); return err }
	throttled := reply{status: 429, code: "Error.Throttled", body: `{"code":"Throttled","message":"too many requests"}`}
	tests := []struct {
		name        string
		route       string
		replies     []reply
		call        func(*Endpoint) error
		wantTries   int
		wantOutcome Outcome // "" for success
	}{
		{"send 500 not retried", sendKey, []reply{{status: 500}}, send, 1, Unknown},
		{"send 502 not retried", sendKey, []reply{{status: 502}, {status: 202}}, send, 1, Unknown},
		{"send 503 not retried", sendKey, []reply{{status: 503}, {status: 202}}, send, 1, Unknown},
		{"send 504 not retried", sendKey, []reply{{status: 504}, {status: 202}}, send, 1, Unknown},
		{"send 429 without the service's code not retried", sendKey, []reply{{status: 429, body: "<html>busy</html>"}, {status: 202}}, send, 1, Unknown},
		{"send 429 of the service retried", sendKey, []reply{throttled, {status: 202}}, send, 2, ""},
		{"send 429 of the service, code in the body only", sendKey, []reply{{status: 429, body: `{"code":"Throttled"}`}, {status: 202}}, send, 2, ""},
		{"send 429 of the service three tries", sendKey, []reply{throttled}, send, 4, Refused},
		{"send 400 not retried", sendKey, []reply{{status: 400}}, send, 1, Refused},
		{"write 503 not retried", putKey, []reply{{status: 503}, {status: 200}}, add, 1, Unknown},
		{"write 429 of the service retried", putKey, []reply{throttled, {status: 200}}, add, 2, ""},
		{"write 403 not retried", putKey, []reply{{status: 403}}, add, 1, Refused},
		{"read 503 retried", headKey, []reply{{status: 503}, {status: 200}}, read, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeService(t)
			f.on(tt.route, tt.replies...)
			c, _ := newTestClient(t, []EndpointConfig{keyEndpoint(t, f)}, Options{})
			err := tt.call(c.Endpoints()[0])
			if got := OutcomeOf(err); got != tt.wantOutcome {
				t.Errorf("outcome %q (error %v), want %q", got, err, tt.wantOutcome)
			}
			if got := len(f.requests()); got != tt.wantTries {
				t.Errorf("%d tries, want %d", got, tt.wantTries)
			}
		})
	}
}

// TestSendNeverWrittenIsRetried: a send whose connection fails before the
// request is written is repeated, and reported NotSent when every try
// fails so; one reset after it was written is Unknown and not repeated.
func TestSendNeverWrittenIsRetried(t *testing.T) {
	var dials atomic.Int32
	refuse := &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) {
		dials.Add(1)
		return nil, errors.New("connection refused")
	}}
	ep := EndpointConfig{ServiceURI: mustURL(t, "http://127.0.0.1:1"), AccessKey: "k"}
	c, _ := newTestClient(t, []EndpointConfig{ep}, Options{ClientOptions: azcore.ClientOptions{Transport: &http.Client{Transport: refuse}}})
	err := c.Endpoints()[0].Broadcast(ctx(), "chat", hello)
	if got := OutcomeOf(err); got != NotSent || dials.Load() != 4 {
		t.Errorf("outcome %q after %d dials (error %v), want notSent after 4", got, dials.Load(), err)
	}

	var taken atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The whole request is read, as the service reads a message
		// before it acts on it.
		io.ReadAll(r.Body)
		taken.Add(1)
		conn, _, _ := http.NewResponseController(w).Hijack()
		conn.Close()
	}))
	t.Cleanup(srv.Close)
	ep = EndpointConfig{ServiceURI: mustURL(t, srv.URL), AccessKey: "k"}
	c, _ = newTestClient(t, []EndpointConfig{ep}, Options{})
	err = c.Endpoints()[0].Broadcast(ctx(), "chat", hello)
	if got := OutcomeOf(err); got != Unknown || taken.Load() != 1 {
		t.Errorf("outcome %q after %d requests (error %v), want unknown after 1", got, taken.Load(), err)
	}
}

func TestRetryAfterBeyondDeadlineStops(t *testing.T) {
	f := newFakeService(t)
	f.on("POST /api/hubs/chat/:send", reply{status: 429, code: "Throttled", retryAfter: "120"})
	c, _ := newTestClient(t, []EndpointConfig{keyEndpoint(t, f)}, Options{})
	cx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := c.Endpoints()[0].Broadcast(cx, "chat", hello)
	if e := asError(t, err); e.Status != 429 || e.RetryAfter != 120*time.Second {
		t.Errorf("error %+v, want the 429 with its Retry-After", e)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("%d tries, want 1: waiting 120s would pass the deadline", n)
	}
}

func TestFailureLoggedOncePerState(t *testing.T) {
	f := newFakeService(t)
	c, logs := newTestClient(t, []EndpointConfig{keyEndpoint(t, f)}, Options{})
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
		mod  func(*EndpointConfig)
		want string
	}{
		{"service", func(e *EndpointConfig) { e.ServiceURI = mustURL(t, "http://example.com") }, `ServiceURI "http://example.com" uses plain http`},
		{"server", func(e *EndpointConfig) { e.ServerEndpoint = mustURL(t, "http://10.0.0.1:8080") }, "ServerEndpoint"},
		{"client", func(e *EndpointConfig) { e.ClientEndpoint = mustURL(t, "ftp://x") }, `scheme "ftp"`},
	} {
		ep := EndpointConfig{Label: "S", ServiceURI: mustURL(t, "https://x.service.signalr.net"), AccessKey: "k"}
		tt.mod(&ep)
		_, err := New([]EndpointConfig{ep}, &Options{manual: true})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
	ep := EndpointConfig{Label: "S", ServiceURI: mustURL(t, "http://[::1]:8080"), AccessKey: "k"}
	if c, err := New([]EndpointConfig{ep}, &Options{manual: true}); err != nil {
		t.Errorf("loopback http refused: %v", err)
	} else {
		c.Close()
	}
}

func TestOptionsInvalid(t *testing.T) {
	ep := EndpointConfig{Label: "S", ServiceURI: mustURL(t, "https://x.service.signalr.net"), AccessKey: "k"}
	for _, tt := range []struct {
		opts Options
		want string
	}{
		{Options{TokenLifetime: 48 * time.Hour}, "Options.TokenLifetime"},
		{Options{Negotiate: "remote"}, `invalid negotiate mode "remote"`},
		{Options{KeyWait: -time.Second, OptionNames: map[string]string{"KeyWait": "SIGNALR_KEY_WAIT"}}, "SIGNALR_KEY_WAIT"},
		{Options{Application: "my app"}, `invalid application name "my app"`},
	} {
		_, err := New([]EndpointConfig{ep}, &tt.opts)
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
	c, err := New([]EndpointConfig{{Label: "AzureSignalRConnectionString", ServiceURI: u, AccessKey: key}}, nil)
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

// TestRequestsCarryAzureSDKHeaders: REST calls go through azcore's
// pipeline, which names the client in User-Agent and gives each request an
// id.
func TestRequestsCarryAzureSDKHeaders(t *testing.T) {
	var ua, id string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ua, id = r.Header.Get("User-Agent"), r.Header.Get("x-ms-client-request-id")
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	c, _ := newTestClient(t, []EndpointConfig{{ServiceURI: mustURL(t, srv.URL), AccessKey: "k"}}, Options{})
	if err := c.Send(ctx(), "chat", Message{Target: "t"}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ua, "azsdk-go-signalr-bindings/") || id == "" {
		t.Errorf("User-Agent %q, x-ms-client-request-id %q: want azcore's", ua, id)
	}
}

// TestDeadlineDuringRetriesKeepsOutcome: when the caller's deadline passes
// while a send waits for its next try, or while a try is still dialing,
// azcore's retry policy answers with the context's error. What the last
// try got still says what became of the send: never written is NotSent,
// and the service's own 429 is Refused, not Unknown.
func TestDeadlineDuringRetriesKeepsOutcome(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	hang := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	f := newFakeService(t)
	f.on("POST /api/hubs/chat/:send", reply{status: 429, code: "Error.Throttled"})
	tests := []struct {
		name      string
		uri       string
		transport policy.Transporter
		want      Outcome
		status    int
	}{
		{"refused connection, deadline in the wait", closed, nil, NotSent, 0},
		{"dial outlasts the deadline", closed, &http.Client{Transport: hang}, NotSent, 0},
		{"service throttles, deadline in the wait", f.URL, nil, Refused, 429},
		{"deadline passed before the send", f.URL, nil, NotSent, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := EndpointConfig{ServiceURI: mustURL(t, tt.uri), AccessKey: "k"}
			o := Options{}
			o.Transport = tt.transport
			o.Retry.RetryDelay = 5 * time.Second
			c, _ := newTestClient(t, []EndpointConfig{ep}, o)
			limit := 300 * time.Millisecond
			if tt.name == "deadline passed before the send" {
				limit = -time.Second
			}
			cx, cancel := context.WithTimeout(context.Background(), limit)
			defer cancel()
			before := len(f.requests())
			err := c.Endpoints()[0].Broadcast(cx, "chat", hello)
			if limit < 0 && len(f.requests()) != before {
				t.Errorf("a send whose deadline had passed reached the service")
			}
			var status int
			if e := new(Error); errors.As(err, &e) {
				status = e.Status
			}
			if got := OutcomeOf(err); got != tt.want || status != tt.status {
				t.Errorf("outcome %q, status %d (error %v), want %q, %d", got, status, err, tt.want, tt.status)
			}
		})
	}
}

// TestTryTimeoutAfterWriteNotResent: a per-try timeout of the caller's
// Options.Retry that fires while the service works on a send it has read
// ends the send as Unknown, with no second try.
func TestTryTimeoutAfterWriteNotResent(t *testing.T) {
	var taken atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		taken.Add(1)
		time.Sleep(300 * time.Millisecond)
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	o := Options{}
	o.Retry.TryTimeout = 50 * time.Millisecond
	c, _ := newTestClient(t, []EndpointConfig{{ServiceURI: mustURL(t, srv.URL), AccessKey: "k"}}, o)
	err := c.Endpoints()[0].Broadcast(ctx(), "chat", hello)
	if got := OutcomeOf(err); got != Unknown || taken.Load() != 1 {
		t.Errorf("outcome %q after %d requests (error %v), want unknown after 1", got, taken.Load(), err)
	}
}

// resendOn503 is a caller's own policy that sends a request again after a
// 503, as a generic retry policy from elsewhere might.
type resendOn503 struct{}

func (resendOn503) Do(req *policy.Request) (*http.Response, error) {
	resp, err := req.Next()
	if err == nil && resp.StatusCode == http.StatusServiceUnavailable {
		if err := req.RewindBody(); err != nil {
			return nil, err
		}
		return req.Next()
	}
	return resp, err
}

// TestCallersPolicyCannotResend: policies of the caller's own
// (PerCallPolicies, PerRetryPolicies) run around the transport; one that
// sends a send again after an ambiguous answer is refused the second
// write, and the send is Unknown. The service's own 429 is still retried.
func TestCallersPolicyCannotResend(t *testing.T) {
	for _, where := range []string{"per call", "per retry"} {
		t.Run(where, func(t *testing.T) {
			f := newFakeService(t)
			f.on("POST /api/hubs/chat/:send", reply{status: 503}, reply{status: 202})
			o := Options{}
			if where == "per call" {
				o.PerCallPolicies = []policy.Policy{resendOn503{}}
			} else {
				o.PerRetryPolicies = []policy.Policy{resendOn503{}}
			}
			c, _ := newTestClient(t, []EndpointConfig{keyEndpoint(t, f)}, o)
			err := c.Endpoints()[0].Broadcast(ctx(), "chat", hello)
			if got, n := OutcomeOf(err), len(f.requests()); got != Unknown || n != 1 {
				t.Errorf("outcome %q after %d requests (error %v), want unknown after 1", got, n, err)
			}
			f.on("POST /api/hubs/chat/:send", reply{status: 429, code: "Throttled"}, reply{status: 202})
			before := len(f.requests())
			if err := c.Endpoints()[0].Broadcast(ctx(), "chat", hello); err != nil || len(f.requests())-before != 2 {
				t.Errorf("after the service's 429: %v after %d requests, want success after 2", err, len(f.requests())-before)
			}
		})
	}
}

// untracedTransport stands for a transport that is not net/http's (an
// HTTP/3 one, a test double, a bridge): it reports nothing through
// httptrace. This one delivers the request, then loses the answer.
type untracedTransport struct{ inner http.RoundTripper }

func (u untracedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := u.inner.RoundTrip(r.WithContext(context.Background()))
	if err == nil {
		resp.Body.Close()
		err = errors.New("stream reset after the request was sent")
	}
	return nil, err
}

// TestUntracedTransportFailureUnknown: a transport that says nothing of
// its writes (no httptrace GetConn) has every failed request counted as
// written: a send it fails is Unknown and not repeated.
func TestUntracedTransportFailureUnknown(t *testing.T) {
	f := newFakeService(t)
	tr := &http.Client{Transport: untracedTransport{inner: http.DefaultTransport}}
	c, _ := newTestClient(t, []EndpointConfig{keyEndpoint(t, f)}, Options{ClientOptions: azcore.ClientOptions{Transport: tr}})
	err := c.Endpoints()[0].Broadcast(ctx(), "chat", hello)
	if got, n := OutcomeOf(err), len(f.requests()); got != Unknown || n != 1 {
		t.Errorf("outcome %q after %d requests (error %v), want unknown after 1", got, n, err)
	}
}

// TestOutcomeOfSeveralEndpoints: an item some endpoints took is Partial,
// never NotSent or Refused (sending it again to all would deliver it twice
// through those), unless one may have taken it without saying so.
func TestOutcomeOfSeveralEndpoints(t *testing.T) {
	notSent := &Error{Outcome: NotSent}
	refused := &Error{Outcome: Refused}
	unknown := &Error{Outcome: Unknown}
	tests := []struct {
		name string
		errs []error
		want Outcome
	}{
		{"took and not sent", []error{nil, notSent}, Partial},
		{"took and refused", []error{refused, nil}, Partial},
		{"took and unknown", []error{nil, unknown}, Unknown},
		{"not sent anywhere", []error{notSent, notSent}, NotSent},
		{"refused and not sent", []error{notSent, refused}, Refused},
		{"refused and unknown", []error{refused, unknown}, Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ee := &EndpointsError{Op: "send"}
			for i, err := range tt.errs {
				ee.Results = append(ee.Results, EndpointResult{Endpoint: fmt.Sprintf("https://%d.example", i), Err: err})
			}
			if got := OutcomeOf(ee); got != tt.want {
				t.Errorf("OutcomeOf = %q, want %q", got, tt.want)
			}
		})
	}
}
