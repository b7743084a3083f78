package emulator

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"
)

// TestRoles checks each role against each data action the handler needs.
func TestRoles(t *testing.T) {
	s := newTestServer(t, nil)
	statuses := func(role Role) []int {
		var roles []Role
		if role != "" {
			roles = []Role{role}
		}
		p, err := s.AddUserIdentity(UserIdentity{Roles: roles})
		if err != nil {
			t.Fatal(err)
		}
		tok := entraToken(t, s, p.ObjectID)
		hub := s.URL + "/api/hubs/chat"
		var got []int
		for _, c := range []struct{ method, url string }{
			{http.MethodGet, s.URL + "/api/v1/auth/accessKey"},
			{http.MethodGet, s.URL + "/api/auth/accessKey?api-version=2023-07-01"},
			{http.MethodPost, hub + "/:generateToken?api-version=2023-07-01&userId=u"},
			{http.MethodPost, hub + "/:send?api-version=2022-06-01"},
			{http.MethodPut, hub + "/users/u/groups/g?api-version=2022-06-01"},
			{http.MethodHead, hub + "/users/u?api-version=2022-06-01"},
			{http.MethodGet, hub + "/groups/g/connections?api-version=2024-12-01"},
			{http.MethodPost, hub + "/connections/gone/:invoke?api-version=2024-12-01"},
			{http.MethodDelete, hub + "/connections/gone?api-version=2024-12-01"},
		} {
			got = append(got, call(t, c.method, c.url, tok, `{"target":"t","arguments":[]}`).StatusCode)
		}
		return got
	}
	tests := []struct {
		role Role
		// accessKey v1, accessKey 2023, generateToken, send, add user to
		// group, user exists, list a group, invoke, close a connection
		want []int
	}{
		{"", []int{403, 403, 403, 403, 403, 403, 403, 403, 403}},
		{AppServer, []int{200, 200, 403, 403, 403, 403, 403, 403, 404}},
		{ServiceOwner, []int{200, 200, 200, 202, 200, 404, 200, 404, 404}},
		{RESTAPIOwner, []int{403, 403, 200, 202, 200, 404, 200, 404, 404}},
		{RESTAPIReader, []int{403, 403, 403, 403, 403, 404, 200, 403, 403}},
		{AccessKeyReader, []int{403, 403, 403, 403, 403, 403, 403, 403, 403}},
	}
	for _, tt := range tests {
		t.Run(string(tt.role), func(t *testing.T) {
			if d := cmp.Diff(tt.want, statuses(tt.role)); d != "" {
				t.Errorf("statuses (-want +got):\n%s", d)
			}
		})
	}
}

func TestForbiddenMessageNamesRoles(t *testing.T) {
	s := newTestServer(t, nil)
	resp := call(t, http.MethodGet, s.URL+"/api/v1/auth/accessKey", entraToken(t, s, s.SystemIdentity().ObjectID), "")
	var body errorDetail
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"auth/accessKey/action", "SignalR App Server", "SignalR Service Owner", "30 minutes", s.SystemIdentity().ObjectID} {
		if !strings.Contains(body.Message, want) {
			t.Errorf("403 message %q lacks %q", body.Message, want)
		}
	}
}

func TestPropagation(t *testing.T) {
	s := newTestServer(t, &Options{Propagation: 10 * time.Minute})
	p, _ := s.AddUserIdentity(UserIdentity{Roles: []Role{AppServer}})
	url := s.URL + "/api/v1/auth/accessKey"
	if got := call(t, http.MethodGet, url, entraToken(t, s, p.ObjectID), "").StatusCode; got != 403 {
		t.Errorf("before propagation: %d, want 403", got)
	}
	s.Advance(10 * time.Minute)
	if got := call(t, http.MethodGet, url, entraToken(t, s, p.ObjectID), "").StatusCode; got != 200 {
		t.Errorf("after propagation: %d, want 200", got)
	}
	s.Unassign(p.ObjectID)
	if got := call(t, http.MethodGet, url, entraToken(t, s, p.ObjectID), "").StatusCode; got != 403 {
		t.Errorf("after Unassign: %d, want 403", got)
	}
}

func TestBadEntraTokens(t *testing.T) {
	s := newTestServer(t, &Options{SystemIdentityRoles: []Role{ServiceOwner}})
	other := newTestServer(t, nil)
	good := entraToken(t, s, s.SystemIdentity().ObjectID)
	url := s.URL + "/api/v1/auth/accessKey"
	otherAud, err := s.Credential(s.SystemIdentity().ObjectID).GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	// An app of another tenant holding Service Owner: its token names
	// that tenant, so the resource's tenant refuses it.
	guest, err := s.AddApplication(App{TenantID: "b0000000-0000-0000-0000-0000000000bb", ClientID: "c0000000-0000-0000-0000-0000000000cc", Secret: "x", Roles: []Role{ServiceOwner}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, token string
		advance     time.Duration
		want        int
	}{
		{"good", good, 0, 200},
		{"none", "", 0, 401},
		{"garbage", "abc", 0, 401},
		{"signed by another authority", entraToken(t, other, other.SystemIdentity().ObjectID), 0, 401},
		{"access-key token to the auth API", restToken(t, s, url), 0, 401},
		{"wrong audience", otherAud.Token, 0, 401},
		{"wrong tenant", entraToken(t, s, guest.ObjectID), 0, 401},
		{"expired", good, 2 * time.Hour, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Advance(tt.advance)
			if got := call(t, http.MethodGet, url, tt.token, "").StatusCode; got != tt.want {
				t.Errorf("status = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestTemporaryKeys checks client tokens signed with auth API keys: by kid,
// several valid during rotation, refused once expired.
func TestTemporaryKeys(t *testing.T) {
	s := newTestServer(t, &Options{SystemIdentityRoles: []Role{AppServer}, LocalAuthDisabled: true})
	getKey := func() accessKeyReply {
		resp := call(t, http.MethodGet, s.URL+"/api/v1/auth/accessKey", entraToken(t, s, s.SystemIdentity().ObjectID), "")
		var k accessKeyReply
		if err := json.NewDecoder(resp.Body).Decode(&k); err != nil || k.KeyID == "" || k.AccessKey == "" {
			t.Fatalf("auth API reply %+v, %v", k, err)
		}
		return k
	}
	negotiate := func(k accessKeyReply) int {
		return call(t, http.MethodPost, s.URL+"/client/negotiate?hub=chat&negotiateVersion=1", clientToken(t, s, k.AccessKey, k.KeyID, "chat", "u"), "").StatusCode
	}
	first := getKey()
	s.Advance(60 * time.Minute)
	second := getKey()
	if d := cmp.Diff([]int{200, 200}, []int{negotiate(first), negotiate(second)}); d != "" {
		t.Errorf("both keys during rotation (-want +got):\n%s", d)
	}
	s.Advance(31 * time.Minute) // first is 91 minutes old
	if d := cmp.Diff([]int{401, 200}, []int{negotiate(first), negotiate(second)}); d != "" {
		t.Errorf("after the first key expired (-want +got):\n%s", d)
	}
	wrongKid := accessKeyReply{KeyID: second.KeyID, AccessKey: first.AccessKey}
	if got := negotiate(wrongKid); got != 401 {
		t.Errorf("token signed with another key under a kid: %d, want 401", got)
	}
	if got := negotiate(accessKeyReply{AccessKey: s.opts.AccessKey}); got != 401 {
		t.Errorf("access key with local auth disabled: %d, want 401", got)
	}
	if s.Counts().AccessKeys != 2 {
		t.Errorf("AccessKeys = %d, want 2", s.Counts().AccessKeys)
	}
}

func TestClientTokenAudience(t *testing.T) {
	s := newTestServer(t, nil)
	now := s.Now()
	for _, tt := range []struct {
		aud  string
		want int
	}{
		{"http://127.0.0.1/client/?hub=chat", 200},
		{"http://localhost/client/?hub=chat", 200},
		{"http://127.0.0.1/client/?hub=CHAT", 200},
		{"http://127.0.0.1:" + strings.Split(s.URL, ":")[2] + "/client/?hub=chat", 401},
		{"http://127.0.0.1/client/?hub=other", 401},
		{"https://127.0.0.1/client/?hub=chat", 401},
	} {
		tok := sign(t, s.opts.AccessKey, "whatever", map[string]any{"aud": tt.aud, "exp": now.Add(time.Hour).Unix()})
		if got := call(t, http.MethodPost, s.URL+"/client/negotiate?hub=Chat&negotiateVersion=1", tok, "").StatusCode; got != tt.want {
			t.Errorf("aud %s: %d, want %d", tt.aud, got, tt.want)
		}
	}
}
