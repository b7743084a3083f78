package handler

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signalr-entra/handler/internal/funchost"
	"github.com/signalr-entra/handler/settings"
	"github.com/signalr-entra/handler/upstream"
)

// These tests put internal/funchost, which plays the Functions host's rule,
// between the caller and the handler: it reads the repository's host.json
// and functions/*/function.json, as make build assembles them, decides each
// function's mode as DefaultHttpWorkerService.InvokeAsync does, and hands
// requests on as payload, forwarded or proxied. Every shipped function must
// work in the mode it gets, with host.json as shipped and with
// enableProxyingHttpRequest turned on and off.

// hostVariants are the app as shipped and as a user may set it.
func hostVariants(t testing.TB) []struct {
	name string
	app  *funchost.App
} {
	t.Helper()
	app, err := funchost.LoadRepo("..")
	if err != nil {
		t.Fatal(err)
	}
	return []struct {
		name string
		app  *funchost.App
	}{
		{"host.json as shipped", app},
		{"proxying on", app.WithProxying(true)},
		{"proxying off", app.WithProxying(false)},
	}
}

// syncBuffer is a log destination the handler writes from many requests.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// hostRig is the handler behind the host stand-in.
type hostRig struct {
	svc  *fakeService
	host *funchost.Host
	url  string
	log  *syncBuffer
}

func newHostRig(t *testing.T, app *funchost.App) *hostRig {
	return newHostRigWith(t, app, &Options{UserIDHeader: "x-ms-signalr-userid"})
}

// newHostRigWith is newHostRig with the handler's options (its logger and
// upstream checks are the rig's).
func newHostRigWith(t *testing.T, app *funchost.App, opts *Options) *hostRig {
	t.Helper()
	r := &hostRig{svc: &fakeService{}, log: &syncBuffer{}}
	o := *opts
	o.Logger = slog.New(slog.NewJSONHandler(r.log, nil))
	o.Upstream = upstream.Options{AccessKeys: []settings.Secret{testAccessKey}}
	h := newTestHandler(t, r.svc, &o)
	worker := httptest.NewServer(h)
	t.Cleanup(worker.Close)
	var err error
	if r.host, err = funchost.New(app, worker.URL); err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(r.host)
	t.Cleanup(front.Close)
	r.url = front.URL
	return r
}

// do sends req to the host and returns the status, the body and the
// host's record of the invocation.
func (r *hostRig) do(t *testing.T, req *http.Request) (int, string, funchost.Invocation) {
	t.Helper()
	before := len(r.host.Invocations())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// A proxied reply reaches the caller before the host's record of it.
	deadline := time.Now().Add(5 * time.Second)
	invs := r.host.Invocations()
	for len(invs) == before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
		invs = r.host.Invocations()
	}
	if len(invs) != before+1 {
		t.Fatalf("%s %s: the host recorded %d invocations, want 1", req.Method, req.URL.Path, len(invs)-before)
	}
	return resp.StatusCode, string(b), invs[before]
}

func (r *hostRig) request(t *testing.T, method, path string, body io.Reader, header map[string]string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, r.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return req
}

// upstreamCall is a signed upstream request as the service posts it,
// addressed to the host.
func (r *hostRig) upstreamCall(t *testing.T, function, event, contentType string, body []byte) *http.Request {
	t.Helper()
	path := "/api/" + function + "/chat/messages/" + event
	in := upstreamRequest(r.url+path, "chat", "messages", event, contentType, body)
	req, err := http.NewRequest(http.MethodPost, r.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = in.Header.Clone()
	return req
}

func TestEveryShippedFunctionInTheHostsMode(t *testing.T) {
	invocation := []byte(`{"type":1,"invocationId":"7","target":"broadcast","arguments":["hi"]}`)
	packed := readTestdata(t, "echo.msgpack")
	for _, v := range hostVariants(t) {
		t.Run(v.name, func(t *testing.T) {
			r := newHostRig(t, v.app)
			served := map[string]bool{}
			check := func(what string, req *http.Request, want int) funchost.Invocation {
				t.Helper()
				status, body, inv := r.do(t, req)
				if wantMode := v.app.Mode(v.app.Function(inv.Function)); inv.Mode != wantMode {
					t.Errorf("%s: the host used %v for %s, want %v", what, inv.Mode, inv.Function, wantMode)
				}
				if status != want {
					t.Errorf("%s (%s, %v): status %d, want %d; body %s; handler %v", what, inv.Function, inv.Mode, status, want, body, inv.Err)
				}
				served[inv.Function] = true
				return inv
			}

			check("negotiate", r.request(t, "POST", "/api/negotiate?hub=chat&negotiateVersion=1", nil, map[string]string{"x-ms-signalr-userid": "ada"}), 200)
			r.svc.mu.Lock()
			if len(r.svc.negs) != 1 || r.svc.negs[0].UserID != "ada" || r.svc.negs[0].Hub != "chat" {
				t.Errorf("negotiations %+v", r.svc.negs)
			}
			r.svc.mu.Unlock()
			check("messages", r.request(t, "POST", "/api/messages?hub=chat", strings.NewReader(`{"target":"t","arguments":[1]}`), map[string]string{"Content-Type": "application/json"}), 202)
			check("groups", r.request(t, "POST", "/api/groups", strings.NewReader(`{"action":"add","userId":"ada","groupName":"g"}`), map[string]string{"Content-Type": "application/json"}), 202)
			status, body, inv := r.do(t, r.request(t, "POST", "/api/manage?hub=chat", strings.NewReader(`[{"action":"exists","userId":"ada"},{"action":"invoke","connectionId":"c1","target":"t","arguments":[1,"x"]}]`), map[string]string{"Content-Type": "application/json"}))
			served[inv.Function] = true
			// A payload's http output comes back as the host writes it, indented.
			var compact bytes.Buffer
			_ = json.Compact(&compact, []byte(body))
			if want := `{"results":[{"index":0,"exists":true},{"index":1,"result":[1,"x"]}]}`; status != 200 || compact.String() != want || inv.Mode != v.app.Mode(v.app.Function("manage")) {
				t.Errorf("manage (%v): %d %s, want 200 %s", inv.Mode, status, body, want)
			}
			r.svc.mu.Lock()
			if len(r.svc.sent) != 1 || len(r.svc.applied) != 1 {
				t.Errorf("sent %+v, applied %+v", r.svc.sent, r.svc.applied)
			}
			r.svc.mu.Unlock()

			check("upstream-direct, JSON", r.upstreamCall(t, "upstream-direct", "broadcast", "application/json", invocation), 200)
			// A payload carries the body as text, which garbles MessagePack:
			// the handler answers 415.
			wantPacked := 200
			if v.app.Mode(v.app.Function("upstream-direct")) == funchost.Payload {
				wantPacked = 415
			}
			check("upstream-direct, MessagePack", r.upstreamCall(t, "upstream-direct", "Echo", "application/x-msgpack", packed), wantPacked)

			inv = check("upstream, JSON", r.upstreamCall(t, "upstream", "broadcast", "application/json", invocation), 200)
			if !strings.Contains(string(inv.Outputs["events"]), `\"event\":\"broadcast\"`) {
				t.Errorf("upstream wrote no event to its events output: %s", inv.Outputs)
			}
			check("upstream, MessagePack", r.upstreamCall(t, "upstream", "Echo", "application/x-msgpack", packed), 415)

			for _, f := range v.app.Functions {
				if !served[f.Name] {
					t.Errorf("the shipped function %s was not exercised", f.Name)
				}
			}
		})
	}
}

// A proxied function's information record goes to the handler's log with
// the host's invocation id, since the host takes no Logs from it; a
// payload's goes into the reply's Logs, which the host files under the
// invocation.
func TestInvocationRecordWhereTheHostKeepsIt(t *testing.T) {
	for _, v := range hostVariants(t) {
		t.Run(v.name, func(t *testing.T) {
			r := newHostRig(t, v.app)
			_, _, inv := r.do(t, r.request(t, "GET", "/api/negotiate?hub=chat", nil, nil))
			// The handler writes its record after the reply has gone.
			logged := func() bool { return strings.Contains(r.log.String(), `"invocationId":"`+inv.ID+`"`) }
			for deadline := time.Now().Add(2 * time.Second); !logged() && inv.Mode != funchost.Payload && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			inLog := logged()
			inLogs := len(inv.Logs) == 1 && strings.Contains(inv.Logs[0], "invocation done")
			if inv.Mode == funchost.Payload {
				if !inLogs || inLog {
					t.Errorf("payload: Logs %q, handler log %s", inv.Logs, r.log)
				}
				return
			}
			if inLogs || len(inv.Logs) != 0 || !inLog {
				t.Errorf("%v: Logs %q, handler log %s", inv.Mode, inv.Logs, r.log)
			}
		})
	}
}

// What the caller sent arrives as sent only when the host proxies: a body
// sent chunked, which payload and forwarding drop (the reply names the
// Content-Length header then), and a query naming hub twice, which the
// host's query dictionary joins into one value. A body that is truly empty
// gets 400 in every mode.
func TestWhatOnlyProxyingPassesOn(t *testing.T) {
	for _, v := range hostVariants(t) {
		t.Run(v.name, func(t *testing.T) {
			r := newHostRig(t, v.app)
			proxied := v.app.Mode(v.app.Function("messages")) == funchost.Proxied
			chunked := r.request(t, "POST", "/api/messages", io.NopCloser(strings.NewReader(`{"target":"t"}`)), map[string]string{"Content-Type": "application/json"})
			status, body, _ := r.do(t, chunked)
			if proxied && status != 202 || !proxied && (status != 400 || !strings.Contains(body, "Content-Length")) {
				t.Errorf("a chunked body: %d %s", status, body)
			}
			status, body, _ = r.do(t, r.request(t, "POST", "/api/groups", strings.NewReader(" "), nil))
			if status != 400 || !strings.Contains(body, "the body is empty") || proxied == strings.Contains(body, "Content-Length") {
				t.Errorf("an empty body: %d %s", status, body)
			}
			status, body, _ = r.do(t, r.request(t, "GET", "/api/negotiate?hub=chat&hub=news", nil, nil))
			if proxied && (status != 400 || !strings.Contains(body, "names hub 2 times")) || !proxied && status != 404 {
				t.Errorf("hub named twice: %d %s", status, body)
			}
		})
	}
}

// App Service Authentication's user reaches negotiate in every mode: by the
// X-MS-CLIENT-PRINCIPAL headers the platform sets (all a proxied or
// forwarded request has), and in a payload also by the Identities the host
// builds from them.
func TestAppServicePrincipalInEveryMode(t *testing.T) {
	principal := base64.StdEncoding.EncodeToString([]byte(`{"auth_typ":"aad","claims":[` +
		`{"typ":"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier","val":"00000000-0000-0000-0000-0000000000aa"},` +
		`{"typ":"name","val":"Ada Lovelace"}],"name_typ":"name","role_typ":"roles"}`))
	for _, v := range hostVariants(t) {
		t.Run(v.name, func(t *testing.T) {
			r := newHostRigWith(t, v.app, &Options{AppServiceAuthentication: true, ClaimTypes: []string{"name"}})
			r.host.AppServiceAuthentication = true
			status, body, inv := r.do(t, r.request(t, "POST", "/api/negotiate", nil, map[string]string{
				"X-MS-CLIENT-PRINCIPAL-ID":  "00000000-0000-0000-0000-0000000000aa",
				"X-MS-CLIENT-PRINCIPAL-IDP": "aad",
				"X-MS-CLIENT-PRINCIPAL":     principal,
			}))
			r.svc.mu.Lock()
			defer r.svc.mu.Unlock()
			if status != 200 || len(r.svc.negs) != 1 {
				t.Fatalf("%v: %d %s", inv.Mode, status, body)
			}
			n := r.svc.negs[0]
			if n.UserID != "00000000-0000-0000-0000-0000000000aa" || len(n.Claims) != 1 || n.Claims[0].Value != "Ada Lovelace" {
				t.Errorf("%v: negotiated %+v", inv.Mode, n)
			}
		})
	}
}

// The routes the host proxies or forwards to, as the caller spelled them.
func TestForwardedFunction(t *testing.T) {
	for path, want := range map[string]string{
		"/api/negotiate":                         fnNegotiate,
		"/API/Messages":                          fnMessages,
		"/api/upstream":                          fnUpstream,
		"/api/upstream/chat/messages/broadcast":  fnUpstream,
		"/api/Upstream-Direct":                   fnUpstream,
		"/api/upstream-direct/chat/messages/add": fnUpstream,
		"/api/upstream/":                         "",
		"/api/upstream-direct/":                  "",
		"/api/upstreamer":                        "",
		"/api/upstream-directly/x":               "",
		"/negotiate":                             "",
	} {
		if got := forwardedFunction(path); got != want {
			t.Errorf("forwardedFunction(%q) = %q, want %q", path, got, want)
		}
	}
}
