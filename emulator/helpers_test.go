package emulator

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/golang-jwt/jwt/v5"
)

func newTestServer(t *testing.T, opts *Options) *Server {
	t.Helper()
	s, err := NewServer(opts)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// entraToken mints a token for the principal through Server.Credential.
func entraToken(t *testing.T, s *Server, id string) string {
	t.Helper()
	tok, err := s.Credential(id).GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{SignalRResource + "/.default"}})
	if err != nil {
		t.Fatalf("GetToken(%s): %v", id, err)
	}
	return tok.Token
}

// sign makes an HS256 token with the key and kid.
func sign(t testing.TB, key, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// clientToken signs a client token for the hub the way an app server does.
func clientToken(t testing.TB, s *Server, key, kid, hub, user string) string {
	now := s.Now()
	return sign(t, key, kid, jwt.MapClaims{
		"aud": "http://127.0.0.1/client/?hub=" + strings.ToLower(hub), "asrs.s.uid": user,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})
}

// restToken signs an access-key REST token for the URL (without query).
func restToken(t *testing.T, s *Server, rawURL string) string {
	now := s.Now()
	return sign(t, s.opts.AccessKey, "", jwt.MapClaims{"aud": rawURL, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
}

// call sends a request with a bearer token and returns the response.
func call(t *testing.T, method, url, token, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}
