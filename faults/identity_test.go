package faults

import (
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/signalr-entra/handler/emulator"
)

// identities is the managed identity endpoint of the package: every
// ManagedIdentityCredential of the tests asks it (IDENTITY_ENDPOINT and
// IDENTITY_HEADER, set once in TestMain, as App Service sets them for an
// app), and it hands each request on to the stand-in that holds the
// identity the request names by client id. One endpoint for every test
// lets tests with real credentials run in parallel, each against its own
// stand-in, and keeps any credential from probing the instance metadata
// address.
var identities = &identityRouter{header: randomSecret(), servers: map[string]*emulator.Server{}}

func TestMain(m *testing.M) {
	srv := httptest.NewServer(identities)
	os.Setenv("IDENTITY_ENDPOINT", srv.URL+"/msi/token")
	os.Setenv("IDENTITY_HEADER", identities.header)
	// Nothing else may choose a credential's source.
	for _, k := range []string{"IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT", "MSI_ENDPOINT", "MSI_SECRET",
		"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE"} {
		os.Unsetenv(k)
	}
	code := m.Run()
	srv.Close()
	os.Exit(code)
}

// identityRouter serves App Service's managed identity protocol for the
// identities of every stand-in of the package.
type identityRouter struct {
	header string

	mu      sync.Mutex
	servers map[string]*emulator.Server // by client id
}

// add routes requests for the identity with clientID to emu until the
// test ends.
func (r *identityRouter) add(t testing.TB, clientID string, emu *emulator.Server) {
	r.mu.Lock()
	r.servers[clientID] = emu
	r.mu.Unlock()
	t.Cleanup(func() {
		r.mu.Lock()
		delete(r.servers, clientID)
		r.mu.Unlock()
	})
}

func (r *identityRouter) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if subtle.ConstantTimeCompare([]byte(req.Header.Get("X-IDENTITY-HEADER")), []byte(r.header)) != 1 {
		writeIdentityError(w, http.StatusUnauthorized, "The X-IDENTITY-HEADER header does not match; send the value of IDENTITY_HEADER.")
		return
	}
	id := req.URL.Query().Get("client_id")
	r.mu.Lock()
	emu := r.servers[id]
	r.mu.Unlock()
	if emu == nil {
		writeIdentityError(w, http.StatusBadRequest, "Unable to load the proper Managed Identity: "+id+" is not assigned to this app.")
		return
	}
	out, err := http.NewRequestWithContext(req.Context(), http.MethodGet, emu.IdentityEndpoint+"?"+req.URL.RawQuery, nil)
	if err != nil {
		writeIdentityError(w, http.StatusInternalServerError, err.Error())
		return
	}
	out.Header.Set("X-IDENTITY-HEADER", emu.IdentityHeader)
	resp, err := http.DefaultClient.Do(out)
	if err != nil {
		writeIdentityError(w, http.StatusBadGateway, "the stand-in did not answer")
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

func writeIdentityError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"statusCode": status, "message": msg})
}

// managedIdentity is a real ManagedIdentityCredential for the
// user-assigned identity with clientID of emu, as App Service gives an
// app, through the package's identity endpoint. Each identity has a client
// id of its own: azidentity caches managed identity tokens process-wide,
// by client id. Its retries are azidentity's, only closer together.
func managedIdentity(t testing.TB, emu *emulator.Server, clientID string) azcore.TokenCredential {
	t.Helper()
	identities.add(t, clientID, emu)
	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
		ID:            azidentity.ClientID(clientID),
		ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 20 * time.Millisecond}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}
