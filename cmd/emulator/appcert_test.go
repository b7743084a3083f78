package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/google/go-cmp/cmp"
	"github.com/signalr-entra/handler/emulator"
)

// writeCertPEM makes a self-signed certificate for key and writes the key,
// then the certificate, to one PEM file, as the handler's
// clientCertificatePath holds them (the key first proves the parser skips it).
func writeCertPEM(t *testing.T, dir, name string, key crypto.Signer) (string, *x509.Certificate) {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	data := append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	path := filepath.Join(dir, name+".pem")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, cert
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseAppCert(t *testing.T) {
	dir := t.TempDir()
	// A directory with ":" and "=" in its name: the path is cut by the
	// first ":" and the last "=".
	odd := filepath.Join(dir, "a:b=c")
	if err := os.Mkdir(odd, 0o700); err != nil {
		t.Fatal(err)
	}
	good, cert := writeCertPEM(t, odd, "app", rsaKey(t))
	type result struct {
		TenantID, ClientID string
		Roles              []emulator.Role
		Serial             string
	}
	tests := []struct {
		in   string
		want result
	}{
		{"c1:" + good + "=ServiceOwner", result{"", "c1", []emulator.Role{emulator.ServiceOwner}, cert.SerialNumber.String()}},
		{"t1/c1:" + good + "=AppServer,RESTAPIOwner", result{"t1", "c1", []emulator.Role{emulator.AppServer, emulator.RESTAPIOwner}, cert.SerialNumber.String()}},
		{"c1:" + good + "=none", result{"", "c1", nil, cert.SerialNumber.String()}},
		{"c1:" + good + "=", result{"", "c1", nil, cert.SerialNumber.String()}},
	}
	for _, tt := range tests {
		a, err := parseAppCert(tt.in)
		if err != nil {
			t.Errorf("parseAppCert(%q): %v", tt.in, err)
			continue
		}
		got := result{a.TenantID, a.ClientID, a.Roles, a.Certificate.SerialNumber.String()}
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("parseAppCert(%q) (-want +got):\n%s", tt.in, d)
		}
		if a.Secret != "" {
			t.Errorf("parseAppCert(%q) set a secret", tt.in)
		}
	}
}

func TestParseAppCertErrors(t *testing.T) {
	dir := t.TempDir()
	good, _ := writeCertPEM(t, dir, "app", rsaKey(t))
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec, _ := writeCertPEM(t, dir, "ec", ecKey)
	keyOnly := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyOnly, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("k")}), 0o600); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, "broken.pem")
	if err := os.WriteFile(broken, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not der")}), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in, want string
	}{
		{"c1", `invalid -app-cert "c1": use [tenant/]clientId:<PEM path>=Roles`},
		{":" + good + "=ServiceOwner", "invalid -app-cert"},
		{"/c1:" + good, "invalid -app-cert"},
		{"c1:=ServiceOwner", "invalid -app-cert"},
		{"c1:" + good + "=Boss", `-app-cert "c1:` + good + `=Boss": invalid role "Boss"`},
		{"c1:" + dir + "/missing.pem", "cannot read the certificate file"},
		{"c1:" + keyOnly, "has no PEM CERTIFICATE block"},
		{"c1:" + broken, "is not a valid certificate"},
		{"c1:" + ec, "has a ECDSA key; client assertions need an RSA key"},
	}
	for _, tt := range tests {
		_, err := parseAppCert(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseAppCert(%q) = %v, want an error with %q", tt.in, err, tt.want)
		}
		// Every error names the flag and quotes the value.
		if err != nil && !strings.Contains(err.Error(), "-app-cert "+strconv.Quote(tt.in)) {
			t.Errorf("parseAppCert(%q) = %v, want the flag and the quoted value", tt.in, err)
		}
	}
}

// TestRunAppCert registers an app by -app-cert and gets a token for it from
// the stand-in's authority with the certificate's key, as the handler's
// ClientCertificateCredential does.
func TestRunAppCert(t *testing.T) {
	dir := t.TempDir()
	key := rsaKey(t)
	pemPath, cert := writeCertPEM(t, dir, "app", key)
	const client = "a9900000-0000-4000-8000-00000000b001"
	env, _, stop := startRun(t, "-app-cert", client+":"+pemPath+"=ServiceOwner")
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("run: %v", err)
		}
	}()

	ca, err := os.ReadFile(env["SSL_CERT_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	opts := func() *azidentity.ClientCertificateCredentialOptions {
		return &azidentity.ClientCertificateCredentialOptions{
			ClientOptions: azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: env["AZURE_AUTHORITY_HOST"]}, Transport: hc},
			// Instance discovery would ask login.microsoftonline.com.
			DisableInstanceDiscovery: true,
		}
	}
	cred, err := azidentity.NewClientCertificateCredential(emulator.DefaultTenantID, client, []*x509.Certificate{cert}, key, opts())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{emulator.SignalRResource + "/.default"}})
	if err != nil {
		t.Fatalf("GetToken with the registered certificate: %v", err)
	}
	// ServiceOwner may fetch the temporary key.
	req, _ := http.NewRequest(http.MethodGet, env["AzureSignalRConnectionString__serviceUri"]+"/api/v1/auth/accessKey", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("auth API with the app's token: %d, want 200", resp.StatusCode)
	}

	// Another key is refused: the stand-in checks the registered certificate.
	otherKey := rsaKey(t)
	_, otherCert := writeCertPEM(t, dir, "other", otherKey)
	other, err := azidentity.NewClientCertificateCredential(emulator.DefaultTenantID, client, []*x509.Certificate{otherCert}, otherKey, opts())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{emulator.SignalRResource + "/.default"}}); err == nil || !strings.Contains(err.Error(), "AADSTS700027") {
		t.Errorf("GetToken with another certificate = %v, want AADSTS700027", err)
	}
}

func FuzzSplitAppCert(f *testing.F) {
	for _, s := range []string{"c1:/p.pem=ServiceOwner", "t/c:/a:b=c/p.pem=AppServer,RESTAPIOwner", "c1", ":x", "/c:x", "c:=R", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		tenant, client, path, roles, err := splitAppCert(v)
		if err != nil {
			if !strings.Contains(err.Error(), "invalid -app-cert") {
				t.Errorf("error %q does not name the flag", err)
			}
			return
		}
		if client == "" || path == "" || strings.Contains(client, ":") || strings.Contains(roles, "=") {
			t.Errorf("splitAppCert(%q) = %q %q %q %q", v, tenant, client, path, roles)
		}
		// The parts put back together give the value again.
		back := client + ":" + path
		if tenant != "" {
			back = tenant + "/" + back
		}
		if back != v && back+"="+roles != v {
			t.Errorf("splitAppCert(%q) parts %q %q %q %q do not make the value", v, tenant, client, path, roles)
		}
	})
}
