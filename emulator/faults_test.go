package emulator

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFaults(t *testing.T) {
	s := newTestServer(t, &Options{SystemIdentityRoles: []Role{ServiceOwner}})
	tok := entraToken(t, s, s.SystemIdentity().ObjectID)
	key := s.URL + "/api/v1/auth/accessKey"
	s.Fail(AccessKey, 2, http.StatusServiceUnavailable, 3_500_000_000)
	var got []any
	for range 3 {
		resp := call(t, http.MethodGet, key, tok, "")
		got = append(got, resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if d := cmp.Diff([]any{503, "4", 503, "4", 200, ""}, got); d != "" {
		t.Errorf("statuses (-want +got):\n%s", d)
	}
	s.Inject(AccessKey, Fault{Times: 1, Status: 200, Body: `{"AccessKey":"k"}`})
	var reply map[string]string
	if err := json.NewDecoder(call(t, http.MethodGet, key, tok, "").Body).Decode(&reply); err != nil || reply["KeyId"] != "" {
		t.Errorf("malformed reply = %v, %v; want one without KeyId", reply, err)
	}
	s.Fail(Health, 1, http.StatusInternalServerError, 0)
	health := []int{call(t, http.MethodHead, s.URL+"/api/health", "", "").StatusCode, call(t, http.MethodHead, s.URL+"/api/health", "", "").StatusCode}
	if d := cmp.Diff([]int{500, 200}, health); d != "" {
		t.Errorf("health (-want +got):\n%s", d)
	}
	s.Fail(RESTSend, 1, http.StatusInternalServerError, 0)
	send := s.URL + "/api/hubs/chat/:send?api-version=2022-06-01"
	sends := []int{call(t, http.MethodPost, send, tok, `{"target":"t"}`).StatusCode, call(t, http.MethodPost, send, tok, `{"target":"t"}`).StatusCode}
	if d := cmp.Diff([]int{500, 202}, sends); d != "" {
		t.Errorf("sends (-want +got):\n%s", d)
	}
	c := s.Counts()
	if c.AccessKeys != 4 || c.REST["HealthApi_GetServiceStatus"] != 2 || c.REST["SignalR_Broadcast"] != 2 || c.CredentialTokens != 1 {
		t.Errorf("Counts = %+v", c)
	}
}
