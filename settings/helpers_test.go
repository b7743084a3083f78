package settings

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// cleanEnv unsets every variable that could change what Load or azidentity
// does, restoring them when the test ends, then sets env.
func cleanEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		n := key(name)
		for _, p := range []string{"azure", "signalr_", "identity_", "msi_", "imds_", "functions_", "website_", "mysignalr", "custom", "connectionstrings", "system_oidc"} {
			if strings.HasPrefix(n, p) || strings.Contains(n, "connstr_") {
				t.Setenv(name, "")
				os.Unsetenv(name)
			}
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

// identityEndpoint is an App Service managed identity endpoint on loopback
// (IDENTITY_ENDPOINT and X-IDENTITY-HEADER, api-version 2019-08-01: the REST
// endpoint reference of learn.microsoft.com/azure/app-service/overview-managed-identity).
// It records the query of each token request.
type identityEndpoint struct {
	*httptest.Server
	mu      sync.Mutex
	queries []string
}

func newIdentityEndpoint(t *testing.T, token string) *identityEndpoint {
	t.Helper()
	ie := &identityEndpoint{}
	ie.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-IDENTITY-HEADER") != "test-header" {
			http.Error(w, "missing header", http.StatusUnauthorized)
			return
		}
		ie.mu.Lock()
		ie.queries = append(ie.queries, r.URL.RawQuery)
		ie.mu.Unlock()
		writeJSON(w, map[string]any{"access_token": token, "token_type": "Bearer",
			"expires_on": time.Now().Add(time.Hour).Unix(), "resource": r.URL.Query().Get("resource")})
	}))
	t.Cleanup(ie.Close)
	t.Setenv("IDENTITY_ENDPOINT", ie.URL)
	t.Setenv("IDENTITY_HEADER", "test-header")
	return ie
}

func (ie *identityEndpoint) requests() []string {
	ie.mu.Lock()
	defer ie.mu.Unlock()
	return append([]string(nil), ie.queries...)
}

// authority is an https Entra ID authority on loopback serving the tenant's
// OpenID configuration and token endpoint (OpenID Connect Discovery 1.0 §4;
// learn.microsoft.com/entra/identity-platform/v2-protocols-oidc). It records the form of
// each token request.
type authority struct {
	*httptest.Server
	mu    sync.Mutex
	forms []map[string]string
}

func newAuthority(t *testing.T, token string) *authority {
	t.Helper()
	a := &authority{}
	a.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		tenant := parts[0]
		base := a.URL + "/" + tenant
		switch {
		case strings.HasSuffix(r.URL.Path, "/v2.0/.well-known/openid-configuration"):
			writeJSON(w, map[string]any{"token_endpoint": base + "/oauth2/v2.0/token",
				"authorization_endpoint": base + "/oauth2/v2.0/authorize", "issuer": base + "/v2.0"})
		case strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") && r.Method == http.MethodPost:
			if err := r.ParseForm(); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			form := map[string]string{"tenant": tenant}
			for k := range r.PostForm {
				form[k] = r.PostForm.Get(k)
			}
			a.mu.Lock()
			a.forms = append(a.forms, form)
			a.mu.Unlock()
			writeJSON(w, map[string]any{"access_token": token, "token_type": "Bearer", "expires_in": 3600})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *authority) requests() []map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]map[string]string(nil), a.forms...)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// writeCertificate writes a self-signed RSA certificate and its key as PEM
// into dir and returns the file's path.
func writeCertificate(t *testing.T, dir, name string) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test app"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	data = append(data, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})...)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// loopbackOnly returns a client for LoadOptions.Transport that refuses, and
// fails the test on, any address beyond loopback, such as the managed
// identity's IMDS at 169.254.169.254 when IDENTITY_ENDPOINT is missed.
// base is a test server's client, or nil.
func loopbackOnly(t *testing.T, base *http.Client) *http.Client {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if base != nil {
		tr = base.Transport.(*http.Transport).Clone()
	}
	var d net.Dialer
	tr.Proxy = nil
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			t.Errorf("a credential dialled %s, beyond loopback", addr)
			return nil, &net.OpError{Op: "dial", Net: network, Err: net.UnknownNetworkError("beyond loopback: " + addr)}
		}
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{Transport: tr}
}
