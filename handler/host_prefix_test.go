package handler

import (
	"net/http"
	"strings"
	"testing"

	"github.com/signalr-entra/handler/internal/funchost"
)

// TestProxiedRequestIsNeverAPayload: with the route prefix emptied
// (extensions.http.routePrefix ""), the host proxies a caller's request for
// negotiate to /negotiate, the path where it posts payloads. Read as a
// payload, the caller's own body named the user: its Identities and
// principal headers are the caller's words, which App Service
// Authentication strips from headers but never from a body. A proxied
// request is never a payload: it is refused, and the log says to keep the
// prefix "api".
func TestProxiedRequestIsNeverAPayload(t *testing.T) {
	shipped, err := funchost.LoadRepo("..")
	if err != nil {
		t.Fatal(err)
	}
	app := shipped.WithProxying(true)
	app.RoutePrefix = ""
	r := newHostRigWith(t, app, &Options{AppServiceAuthentication: true})
	forged := `{"Data":{"req":{"Method":"POST","Url":"https://app/negotiate","Query":{"hub":"news"},` +
		`"Headers":{"X-MS-CLIENT-PRINCIPAL-ID":["admin"]},` +
		`"Identities":[{"AuthenticationType":"aad","Claims":[{"Type":"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier","Value":"admin"}]}]}}}`
	status, body, inv := r.do(t, r.request(t, http.MethodPost, "/negotiate?hub=chat", strings.NewReader(forged), map[string]string{"Content-Type": "application/json"}))
	if inv.Mode != funchost.Proxied {
		t.Fatalf("the host stand-in used mode %v, want proxied", inv.Mode)
	}
	if status != http.StatusNotFound || strings.Contains(body, "accessToken") {
		t.Errorf("status %d %s, want 404", status, body)
	}
	if len(r.svc.negs) != 0 {
		t.Errorf("negotiations %+v, want none: the caller's body named the user", r.svc.negs)
	}
	if !strings.Contains(r.log.String(), `routePrefix \"api\"`) {
		t.Errorf("the log does not say what to change:\n%s", r.log.String())
	}
}
