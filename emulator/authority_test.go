package emulator

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

const (
	tenantB  = "b0000000-0000-0000-0000-00000000000b"
	clientID = "c1000000-0000-0000-0000-000000000001"
)

func clientOptions(s *Server) azcore.ClientOptions {
	return azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: s.AuthorityURL}, Transport: s.Client()}
}

// newCert makes a self-signed RSA certificate, as an app registration holds.
func newCert(t *testing.T) (*x509.Certificate, crypto.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "app"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func TestClientCredentials(t *testing.T) {
	s := newTestServer(t, nil)
	cert, key := newCert(t)
	otherCert, otherKey := newCert(t)
	home, err := s.AddApplication(App{ClientID: clientID, Secret: "s3cret", Certificate: cert, Roles: []Role{ServiceOwner}})
	if err != nil {
		t.Fatal(err)
	}
	// The same app provisioned in tenant B: same client id, its own object id.
	guest, err := s.AddApplication(App{TenantID: tenantB, ClientID: clientID, Secret: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	secret := func(tenant, client, secret string) (azcore.TokenCredential, error) {
		return azidentity.NewClientSecretCredential(tenant, client, secret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: clientOptions(s), DisableInstanceDiscovery: true})
	}
	certificate := func(c *x509.Certificate, k crypto.PrivateKey) func(string, string, string) (azcore.TokenCredential, error) {
		return func(tenant, client, _ string) (azcore.TokenCredential, error) {
			return azidentity.NewClientCertificateCredential(tenant, client, []*x509.Certificate{c}, k,
				&azidentity.ClientCertificateCredentialOptions{ClientOptions: clientOptions(s), DisableInstanceDiscovery: true})
		}
	}
	tests := []struct {
		name           string
		newCred        func(tenant, client, secret string) (azcore.TokenCredential, error)
		tenant, secret string
		client         string
		wantOID        string
		wantErr        string
		wantStatus     int // of the auth API with the token
	}{
		{"secret", secret, s.TenantID, "s3cret", clientID, home.ObjectID, "", http.StatusOK},
		{"certificate", certificate(cert, key), s.TenantID, "", clientID, home.ObjectID, "", http.StatusOK},
		{"wrong secret", secret, s.TenantID, "wrong", clientID, "", "AADSTS7000215", 0},
		{"wrong certificate", certificate(otherCert, otherKey), s.TenantID, "", clientID, "", "AADSTS700027", 0},
		{"unknown client", secret, s.TenantID, "s3cret", "c2000000-0000-0000-0000-000000000002", "", "AADSTS700016", 0},
		{"unknown tenant", secret, "f0000000-0000-0000-0000-00000000000f", "s3cret", clientID, "", "AADSTS90002", 0},
		{"other tenant's token refused", secret, tenantB, "s3cret", clientID, guest.ObjectID, "", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cred, err := tt.newCred(tt.tenant, tt.client, tt.secret)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := cred.GetToken(context.Background(), scopeOpts)
			if tt.wantErr != "" {
				var authErr *azidentity.AuthenticationFailedError
				if !errors.As(err, &authErr) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("GetToken error = %v, want an AuthenticationFailedError with %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("GetToken: %v", err)
			}
			if oid := claimsOf(t, tok.Token)["oid"]; oid != tt.wantOID {
				t.Errorf("oid = %v, want %s", oid, tt.wantOID)
			}
			if time.Until(tok.ExpiresOn) < 50*time.Minute {
				t.Errorf("token expires on %v, want about an hour", tok.ExpiresOn)
			}
			resp := call(t, http.MethodGet, s.URL+"/api/v1/auth/accessKey", tok.Token, "")
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("auth API status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
		})
	}
}

func TestOpenIDConfiguration(t *testing.T) {
	s := newTestServer(t, nil)
	resp, err := s.Client().Get(s.AuthorityURL + s.TenantID + "/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	resp, err = s.Client().Get(s.AuthorityURL + "nobody/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown tenant status = %d, want 400", resp.StatusCode)
	}
	if !strings.Contains(string(s.CACertPEM()), "BEGIN CERTIFICATE") {
		t.Error("CACertPEM is not PEM")
	}
}
