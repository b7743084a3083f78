package handler

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/google/go-cmp/cmp"
	"github.com/signalr-entra/handler/bindings"
	"github.com/signalr-entra/handler/emulator"
	"github.com/signalr-entra/handler/upstream"
)

const signInAudience = "api://chat"

// newSignInHandler serves negotiate for users of the stand-in's sign-in
// authority; its log goes to logs.
func newSignInHandler(t *testing.T, srv *emulator.Server, svc *fakeService, logs *bytes.Buffer, change func(*Options)) *Handler {
	t.Helper()
	o := &Options{
		Logger:                   slog.New(slog.NewJSONHandler(logs, nil)),
		AppServiceAuthentication: true,
		ClaimTypes:               []string{"NAME", "roles", "tid"},
		SignIn:                   SignInOptions{Authority: srv.SignInAuthority(), Audiences: []string{"api://other", signInAudience}, HTTPClient: srv.Client(), Now: srv.Now},
	}
	if change != nil {
		change(o)
	}
	return newTestHandler(t, svc, o)
}

func userToken(t *testing.T, srv *emulator.Server, user string, claims map[string]any) string {
	t.Helper()
	tok, _, err := srv.UserToken(emulator.UserSignIn{User: user, Audience: signInAudience, Claims: claims})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func negotiateWith(h http.Handler, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/api/negotiate?negotiateVersion=1", nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestSignInNegotiate(t *testing.T) {
	srv, err := emulator.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	svc := &fakeService{}
	var logs bytes.Buffer
	h := newSignInHandler(t, srv, svc, &logs, nil)
	alice := userToken(t, srv, "alice", map[string]any{"roles": []string{"reader", "writer"}})
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(alice, claims); err != nil {
		t.Fatal(err)
	}
	// App Service's principal headers name someone else: the token decides.
	rec := negotiateWith(h, http.Header{"Authorization": {"Bearer " + alice}, "X-Ms-Client-Principal-Id": {"mallory"}})
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s\n%s", rec.Code, rec.Body, logs.String())
	}
	want := negotiation{"chat", claims["sub"].(string), []bindings.Claim{
		{Type: "name", Value: "alice"}, {Type: "roles", Value: "reader"}, {Type: "roles", Value: "writer"}, {Type: "tid", Value: srv.TenantID}}}
	if diff := cmp.Diff([]negotiation{want}, svc.negs); diff != "" {
		t.Errorf("negotiation (-want +got):\n%s", diff)
	}
	// The user id claim is a setting.
	svc2 := &fakeService{}
	h2 := newSignInHandler(t, srv, svc2, &bytes.Buffer{}, func(o *Options) { o.SignIn.UserIDClaim = "oid" })
	if rec := negotiateWith(h2, http.Header{"Authorization": {"bearer  " + alice}}); rec.Code != http.StatusOK || svc2.negs[0].UserID != claims["oid"] {
		t.Errorf("oid as the user: status %d, negotiations %+v", rec.Code, svc2.negs)
	}
}

func TestSignInRefusals(t *testing.T) {
	srv, err := emulator.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	svc := &fakeService{}
	var logs bytes.Buffer
	h := newSignInHandler(t, srv, svc, &logs, func(o *Options) { o.SignIn.UserIDClaim = "email" })
	withEmail := map[string]any{"email": "bob@contoso.example"}
	good := userToken(t, srv, "bob", withEmail)
	if rec := negotiateWith(h, http.Header{"Authorization": {"Bearer " + good}}); rec.Code != http.StatusOK {
		t.Fatalf("a sound token: status %d %s\n%s", rec.Code, rec.Body, logs.String())
	}
	other, _, err := srv.UserToken(emulator.UserSignIn{User: "bob", Audience: "api://someone-else", Claims: withEmail})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	forged := parts[0] + "." + strings.Split(userToken(t, srv, "admin", withEmail), ".")[1] + "." + parts[2]
	for _, tt := range []struct {
		name, authorization, challenge, reason string
	}{
		{"no token", "", "Bearer", "token missing"},
		{"another scheme", "Basic Ym9iOnB3", "Bearer", "token missing"},
		{"expired", "Bearer " + userToken(t, srv, "bob", map[string]any{"email": "b", "exp": srv.Now().Add(-time.Hour).Unix()}), `Bearer error="invalid_token"`, "token expired"},
		{"not valid yet", "Bearer " + userToken(t, srv, "bob", map[string]any{"email": "b", "nbf": srv.Now().Add(time.Hour).Unix()}), `Bearer error="invalid_token"`, "token not valid yet"},
		{"another audience", "Bearer " + other, `Bearer error="invalid_token"`, "token audience"},
		{"another issuer", "Bearer " + userToken(t, srv, "bob", map[string]any{"email": "b", "iss": "https://evil.example/v2.0"}), `Bearer error="invalid_token"`, "token issuer"},
		{"changed claims", "Bearer " + forged, `Bearer error="invalid_token"`, "token signature"},
		{"no user id claim", "Bearer " + userToken(t, srv, "bob", nil), `Bearer error="invalid_token"`, "token user id claim"},
		{"not a token", "Bearer abc", `Bearer error="invalid_token"`, "token malformed"},
	} {
		for range 2 {
			header := http.Header{"X-Ms-Client-Principal-Id": {"bob"}}
			if tt.authorization != "" {
				header.Set("Authorization", tt.authorization)
			}
			rec := negotiateWith(h, header)
			if rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") != tt.challenge {
				t.Errorf("%s: status %d, WWW-Authenticate %q; want 401, %q", tt.name, rec.Code, rec.Header().Get("WWW-Authenticate"), tt.challenge)
			}
			if body := rec.Body.String(); strings.Contains(body, tt.reason) || strings.Contains(body, "token\"") || strings.Contains(body, "accessToken") {
				t.Errorf("%s: the reply says more than that a token is needed: %s", tt.name, body)
			}
		}
		if n := strings.Count(logs.String(), `"reason":"`+tt.reason+`"`); n != 1 {
			t.Errorf("%s: %d log records of %q, want 1 (once per kind):\n%s", tt.name, n, tt.reason, logs.String())
		}
	}
	if len(svc.negs) != 1 {
		t.Errorf("%d negotiations reached the service, want the one sound token's", len(svc.negs))
	}
	for _, tok := range []string{good, other, forged} {
		if strings.Contains(logs.String(), strings.Split(tok, ".")[2]) {
			t.Error("the log holds a token")
		}
	}
}

// TestSignInPayload: under the host's payload mode, the token comes from
// the trigger's headers.
func TestSignInPayload(t *testing.T) {
	srv, err := emulator.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	svc := &fakeService{}
	h := newSignInHandler(t, srv, svc, &bytes.Buffer{}, nil)
	tok := userToken(t, srv, "carol", nil)
	payload := `{"Data":{"req":{"Method":"POST","Url":"http://x/api/negotiate","Query":{},"Headers":{"Authorization":["Bearer ` + tok + `"]}}}}`
	status, res := payloadOutput(t, h, fnNegotiate, payload)
	if status != http.StatusOK || res["statusCode"] != float64(200) || len(svc.negs) != 1 || svc.negs[0].UserID == "" {
		t.Fatalf("status %d, res %v, negotiations %+v", status, res, svc.negs)
	}
	status, res = payloadOutput(t, h, fnNegotiate, `{"Data":{"req":{"Method":"POST","Url":"http://x/api/negotiate","Query":{},"Headers":{}}}}`)
	if status != http.StatusOK || res["statusCode"] != float64(401) {
		t.Fatalf("without a token: status %d, res %v", status, res)
	}
}

func TestSignInOptions(t *testing.T) {
	for _, tt := range []struct {
		name string
		o    Options
		want string
	}{
		{"audience alone", Options{SignIn: SignInOptions{Audiences: []string{"a"}}}, "SIGNALR_NEGOTIATE_AUDIENCE takes effect only with SIGNALR_NEGOTIATE_AUTHORITY"},
		{"no audience", Options{SignIn: SignInOptions{Authority: "https://login.example/t/v2.0", Audiences: []string{" "}}}, "SIGNALR_NEGOTIATE_AUDIENCE is not set"},
		{"user id header beside", Options{UserIDHeader: "x-user", SignIn: SignInOptions{Authority: "https://login.example/t/v2.0", Audiences: []string{"a"}}}, "SIGNALR_USERID_HEADER cannot be combined"},
	} {
		if _, err := New(&fakeService{}, &tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}

// TestSignInTokenIsNoUpstreamCredential: an app often signs its users in
// to the same app registration that the upstream rule's managed identity
// asks a token for. The token a browser holds for negotiate must not open
// the upstream function, which believes the X-ASRS-* headers it is sent:
// upstream takes app-only tokens alone, as the service's managed identity's
// are, whatever the audience.
func TestSignInTokenIsNoUpstreamCredential(t *testing.T) {
	srv, err := emulator.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var logs bytes.Buffer
	h := newSignInHandler(t, srv, &fakeService{}, &logs, func(o *Options) {
		o.Upstream = upstream.Options{Audience: signInAudience, Tenant: srv.TenantID, Identity: srv.ServiceIdentity().ObjectID, AuthorityHost: srv.AuthorityURL, HTTPClient: srv.Client(), Now: srv.Now}
	})
	alice := userToken(t, srv, "alice", nil)
	if rec := negotiateWith(h, http.Header{"Authorization": {"Bearer " + alice}}); rec.Code != http.StatusOK {
		t.Fatalf("negotiate with the user's token: status %d %s", rec.Code, rec.Body)
	}
	for _, path := range []string{"/api/upstream/chat/messages/broadcast", "/api/upstream-direct/chat/messages/broadcast"} {
		req := upstreamRequest(path, "chat", "messages", "broadcast", "application/json", []byte(`{"type":1,"target":"broadcast","arguments":["hi"]}`))
		req.Header.Del("X-ASRS-Signature")
		req.Header.Set("X-ASRS-User-Id", "admin")
		req.Header.Set("Authorization", "Bearer "+alice)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("%s with a user's sign-in token: status %d, want 401", path, rec.Code)
		}
	}
	if !strings.Contains(logs.String(), `"reason":"token delegated"`) {
		t.Errorf("the log does not say the token was a user's:\n%s", logs.String())
	}
}

// TestSignInNumericUserID: a numeric user id claim names the user by its
// digits exactly. Read as a float64, ids above 2^53 that differ in their
// last digits named the same user.
func TestSignInNumericUserID(t *testing.T) {
	srv, err := emulator.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	svc := &fakeService{}
	h := newSignInHandler(t, srv, svc, &bytes.Buffer{}, func(o *Options) {
		o.SignIn.UserIDClaim = "uid"
		o.ClaimTypes = []string{"uid"}
	})
	ids := []string{"9007199254740993", "9007199254740992", "12345678901234567890", "-7", "1.5"}
	for _, id := range ids {
		tok := userToken(t, srv, "u"+id, map[string]any{"uid": json.Number(id)})
		if rec := negotiateWith(h, http.Header{"Authorization": {"Bearer " + tok}}); rec.Code != http.StatusOK {
			t.Fatalf("uid %s: status %d %s", id, rec.Code, rec.Body)
		}
	}
	var got []negotiation
	for _, id := range ids {
		got = append(got, negotiation{"chat", id, []bindings.Claim{{Type: "uid", Value: id}}})
	}
	if diff := cmp.Diff(got, svc.negs); diff != "" {
		t.Errorf("negotiations (-want +got):\n%s", diff)
	}
}
