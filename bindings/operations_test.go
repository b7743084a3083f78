package bindings

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var hello = Payload{Target: "hello", Arguments: json.RawMessage(`["x", 1]`)}

// operations lists every REST call with the request it must make.
var operations = []struct {
	name string
	call func(e *Endpoint) error
	want seen // Auth and Body unchecked here
}{
	{"broadcast", func(e *Endpoint) error { return e.Broadcast(ctx(), "Chat", hello, "c1", "c2") },
		seen{Method: "POST", Path: "/api/hubs/chat/:send", Query: q("excluded", "c1", "excluded", "c2")}},
	{"user", func(e *Endpoint) error { return e.SendToUser(ctx(), "chat", "a/b c", hello) },
		seen{Method: "POST", Path: "/api/hubs/chat/users/a%2Fb%20c/:send", Query: q()}},
	{"group", func(e *Endpoint) error { return e.SendToGroup(ctx(), "chat", "g", hello, "c1") },
		seen{Method: "POST", Path: "/api/hubs/chat/groups/g/:send", Query: q("excluded", "c1")}},
	{"connection", func(e *Endpoint) error { return e.SendToConnection(ctx(), "chat", "c1", hello) },
		seen{Method: "POST", Path: "/api/hubs/chat/connections/c1/:send", Query: q()}},
	{"add connection", func(e *Endpoint) error { return e.AddConnectionToGroup(ctx(), "chat", "g", "c1") },
		seen{Method: "PUT", Path: "/api/hubs/chat/groups/g/connections/c1", Query: q()}},
	{"remove connection", func(e *Endpoint) error { return e.RemoveConnectionFromGroup(ctx(), "chat", "g", "c1") },
		seen{Method: "DELETE", Path: "/api/hubs/chat/groups/g/connections/c1", Query: q()}},
	{"connection from all", func(e *Endpoint) error { return e.RemoveConnectionFromAllGroups(ctx(), "chat", "c1") },
		seen{Method: "DELETE", Path: "/api/hubs/chat/connections/c1/groups", Query: q()}},
	{"add user ttl", func(e *Endpoint) error { return e.AddUserToGroup(ctx(), "chat", "g", "u", 90*time.Second) },
		seen{Method: "PUT", Path: "/api/hubs/chat/users/u/groups/g", Query: q("ttl", "90")}},
	{"add user", func(e *Endpoint) error { return e.AddUserToGroup(ctx(), "chat", "g", "u", 0) },
		seen{Method: "PUT", Path: "/api/hubs/chat/users/u/groups/g", Query: q()}},
	{"remove user", func(e *Endpoint) error { return e.RemoveUserFromGroup(ctx(), "chat", "g", "u") },
		seen{Method: "DELETE", Path: "/api/hubs/chat/users/u/groups/g", Query: q()}},
	{"user from all", func(e *Endpoint) error { return e.RemoveUserFromAllGroups(ctx(), "chat", "u") },
		seen{Method: "DELETE", Path: "/api/hubs/chat/users/u/groups", Query: q()}},
	{"connection exists", func(e *Endpoint) error { return mustTrue(e.ConnectionExists(ctx(), "chat", "c1")) },
		seen{Method: "HEAD", Path: "/api/hubs/chat/connections/c1", Query: q()}},
	{"user exists", func(e *Endpoint) error { return mustTrue(e.UserExists(ctx(), "chat", "u")) },
		seen{Method: "HEAD", Path: "/api/hubs/chat/users/u", Query: q()}},
	{"group exists", func(e *Endpoint) error { return mustTrue(e.GroupExists(ctx(), "chat", "g")) },
		seen{Method: "HEAD", Path: "/api/hubs/chat/groups/g", Query: q()}},
	{"user in group", func(e *Endpoint) error { return mustTrue(e.UserInGroup(ctx(), "chat", "g", "u")) },
		seen{Method: "HEAD", Path: "/api/hubs/chat/users/u/groups/g", Query: q()}},
	{"close connection", func(e *Endpoint) error { return e.CloseConnection(ctx(), "chat", "c1", "bye") },
		seen{Method: "DELETE", Path: "/api/hubs/chat/connections/c1", Query: q("reason", "bye")}},
	{"close all", func(e *Endpoint) error { return e.CloseConnections(ctx(), "chat", "bye", "c1") },
		seen{Method: "POST", Path: "/api/hubs/chat/:closeConnections", Query: q("reason", "bye", "excluded", "c1")}},
	{"close group", func(e *Endpoint) error { return e.CloseGroupConnections(ctx(), "chat", "g", "", "c1") },
		seen{Method: "POST", Path: "/api/hubs/chat/groups/g/:closeConnections", Query: q("excluded", "c1")}},
	{"close user", func(e *Endpoint) error { return e.CloseUserConnections(ctx(), "chat", "u", "bye") },
		seen{Method: "POST", Path: "/api/hubs/chat/users/u/:closeConnections", Query: q("reason", "bye")}},
	{"health", func(e *Endpoint) error { return e.Health(ctx()) },
		seen{Method: "HEAD", Path: "/api/health", Query: q()}},
}

func ctx() context.Context { return context.Background() }

// q builds a query with api-version 2022-06-01 and the given pairs.
func q(kv ...string) url.Values {
	v := url.Values{"api-version": {"2022-06-01"}}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func mustTrue(ok bool, err error) error {
	if err == nil && !ok {
		return errFalse
	}
	return err
}

var errFalse = &Error{Op: "exists", Message: "answered false"}

func TestOperationsRequests(t *testing.T) {
	for _, mode := range []string{"entra", "accesskey"} {
		for _, tt := range operations {
			t.Run(mode+"/"+tt.name, func(t *testing.T) {
				f := newFakeService(t)
				clock := newClock()
				ep := keyEndpoint(t, f)
				if mode == "entra" {
					ep = entraEndpoint(t, f, &fakeCred{clock: clock})
				}
				c, _ := newTestClient(t, []EndpointConfig{ep}, Options{Now: clock.Now})
				if err := tt.call(c.Endpoints()[0]); err != nil {
					t.Fatal(err)
				}
				reqs := f.requests()
				if len(reqs) != 1 {
					t.Fatalf("%d requests, want 1", len(reqs))
				}
				got := reqs[0]
				auth, body := got.Auth, got.Body
				got.Auth, got.Body = "", ""
				if d := cmp.Diff(tt.want, got); d != "" {
					t.Errorf("request (-want +got):\n%s", d)
				}
				switch {
				case tt.name == "health":
					if auth != "" {
						t.Errorf("health sent Authorization %q", auth)
					}
				case mode == "entra":
					if auth != "Bearer entra-token" {
						t.Errorf("Authorization = %q, want the Entra token", auth)
					}
				default:
					_, claims := parsed(t, strings.TrimPrefix(auth, "Bearer "), "the-access-key", clock.Now())
					if want := f.URL + got.Path; claims["aud"] != want {
						t.Errorf("aud = %v, want %q", claims["aud"], want)
					}
					if exp := int64(claims["exp"].(float64)); exp != clock.Now().Add(time.Hour).Unix() {
						t.Errorf("exp = %d, want now+1h", exp)
					}
				}
				if tt.want.Method == "POST" && strings.HasSuffix(tt.want.Path, ":send") && body != `{"target":"hello","arguments":["x",1]}` {
					t.Errorf("body = %s", body)
				}
			})
		}
	}
}

func TestOperationsApplication(t *testing.T) {
	f := newFakeService(t)
	c, _ := newTestClient(t, []EndpointConfig{keyEndpoint(t, f)}, Options{Application: "MyApp"})
	if err := c.Endpoints()[0].SendToGroup(ctx(), "Chat", "g", hello); err != nil {
		t.Fatal(err)
	}
	r := f.requests()[0]
	// The Management SDK lower-cases the application, as it does the hub.
	if r.Path != "/api/hubs/chat/groups/g/:send" || r.Query.Get("application") != "myapp" {
		t.Errorf("request %s?%s, want the hub in the path and the application, lower-cased, in the query", r.Path, r.Query.Encode())
	}
}

// TestAddConnectionNotExisted follows the Management SDK: adding a
// connection the service no longer knows is done, any other 404 is not.
func TestAddConnectionNotExisted(t *testing.T) {
	tests := []struct {
		name    string
		reply   reply
		wantErr bool
	}{
		{"Error.Connection.NotExisted", reply{status: 404, code: "Error.Connection.NotExisted"}, false},
		{"code in another case", reply{status: 404, code: "error.connection.notexisted"}, false},
		{"another code", reply{status: 404, code: "Warning.Group.NotExisted"}, true},
		{"no code", reply{status: 404}, true},
		{"403", reply{status: 403, code: "Error.Connection.NotExisted"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeService(t)
			f.on("PUT /api/hubs/chat/groups/g/connections/c", tt.reply)
			c, _ := newTestClient(t, []EndpointConfig{keyEndpoint(t, f)}, Options{})
			err := c.Apply(ctx(), "chat", GroupAction{Action: ActionAdd, ConnectionID: "c", GroupName: "g"})
			if (err != nil) != tt.wantErr {
				t.Errorf("Apply = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

// TestOperationsInSwagger checks every path, method and query parameter
// called against the service's REST API description.
func TestOperationsInSwagger(t *testing.T) {
	type param struct{ Name, In, Ref string }
	type operation struct {
		Parameters []struct {
			param
			Ref string `json:"$ref"`
		} `json:"parameters"`
	}
	type swagger struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Parameters map[string]param                      `json:"parameters"`
	}
	type route struct {
		re      *regexp.Regexp
		version string
		method  string
		query   map[string]bool
	}
	var routes []route
	for _, v := range []string{"2022-06-01", "2023-07-01"} {
		data, err := os.ReadFile("../../shared/reference/signalr-rest-api-" + v + ".json")
		if err != nil {
			t.Skipf("reference not found: %v", err)
		}
		var s swagger
		if err := json.Unmarshal(data, &s); err != nil {
			t.Fatal(err)
		}
		for p, ms := range s.Paths {
			pat := regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(p), `[^/]+`)
			for m, raw := range ms {
				var op operation
				if err := json.Unmarshal(raw, &op); err != nil {
					continue // not an operation
				}
				query := map[string]bool{}
				for _, prm := range op.Parameters {
					if prm.Ref != "" {
						prm.param = s.Parameters[prm.Ref[strings.LastIndexByte(prm.Ref, '/')+1:]]
					}
					if prm.In == "query" {
						query[prm.Name] = true
					}
				}
				routes = append(routes, route{regexp.MustCompile("^" + pat + "$"), v, strings.ToUpper(m), query})
			}
		}
	}
	check := func(method, path string, query url.Values) {
		t.Helper()
		for _, r := range routes {
			if r.method != method || !r.re.MatchString(path) || r.version != query.Get("api-version") {
				continue
			}
			for k := range query {
				if !r.query[k] {
					t.Errorf("%s %s: query parameter %q is not in the %s description", method, path, k, r.version)
				}
			}
			return
		}
		t.Errorf("%s %s (api-version %q) is not in the REST API description", method, path, query.Get("api-version"))
	}
	for _, tt := range operations {
		check(tt.want.Method, tt.want.Path, tt.want.Query)
	}
	app := q("application", "MyApp")
	check("POST", "/api/hubs/chat/:send", app)
	check("PUT", "/api/hubs/chat/users/u/groups/g", app)
	check("POST", "/api/hubs/chat/:generateToken", url.Values{"api-version": {"2023-07-01"}, "userId": {"u"}, "minutesToExpire": {"60"}})
	// The auth API's /api/v1/auth/accessKey is what the SDKs call; the
	// description lists its versioned twin.
	check("GET", "/api/auth/accessKey", url.Values{"api-version": {"2023-07-01"}})
}

func TestExistsAnswers(t *testing.T) {
	tests := []struct {
		name    string
		reply   reply
		want    bool
		wantErr bool
	}{
		{"200", reply{status: 200}, true, false},
		{"404 with code", reply{status: 404, code: "Warning.User.NotExisted"}, false, false},
		{"404 without code", reply{status: 404}, false, true},
		{"403", reply{status: 403}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeService(t)
			f.on("HEAD /api/hubs/chat/users/u", tt.reply)
			c, _ := newTestClient(t, []EndpointConfig{keyEndpoint(t, f)}, Options{})
			got, err := c.Endpoints()[0].UserExists(ctx(), "chat", "u")
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("UserExists = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestNamesValidated(t *testing.T) {
	f := newFakeService(t)
	c, _ := newTestClient(t, []EndpointConfig{keyEndpoint(t, f)}, Options{})
	e := c.Endpoints()[0]
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"hub digit", e.Broadcast(ctx(), "1chat", hello), `invalid hub name "1chat"`},
		{"hub slash", e.Broadcast(ctx(), "a/b", hello), `invalid hub name "a/b"`},
		{"blank group", e.SendToGroup(ctx(), "chat", "  ", hello), `invalid group name "  "`},
		{"long user", e.SendToUser(ctx(), "chat", strings.Repeat("u", 1025), hello), "1025 bytes"},
		{"empty connection", e.AddConnectionToGroup(ctx(), "chat", "g", ""), `invalid connection id ""`},
		{"no target", e.Broadcast(ctx(), "chat", Payload{}), "target is empty"},
		// A server that removes dot segments would turn these into a
		// broadcast or a send to the whole hub.
		{"dot-dot user", e.SendToUser(ctx(), "chat", "..", hello), `invalid user id ".."`},
		{"dot group", e.SendToGroup(ctx(), "chat", ".", hello), `invalid group name "."`},
		{"dot-dot connection", e.CloseConnection(ctx(), "chat", "..", ""), `invalid connection id ".."`},
	}
	for _, tt := range tests {
		if tt.err == nil || !strings.Contains(tt.err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, tt.err, tt.want)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests made with invalid names", n)
	}
}
