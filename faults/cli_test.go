package faults

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/signalr-entra/handler/emulator"
	"github.com/signalr-entra/handler/settings"
)

// fakeAz puts an az command first on PATH that answers `az account
// get-access-token` with the token in its token file, as Azure CLI answers
// from its own cache, and notes each run.
type fakeAz struct {
	dir string
}

func newFakeAz(t *testing.T) *fakeAz {
	dir := t.TempDir()
	script := "#!/bin/sh\necho run >> " + filepath.Join(dir, "runs") + "\ncat " + filepath.Join(dir, "token.json") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "az"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return &fakeAz{dir: dir}
}

// hold makes az hand out tok.
func (a *fakeAz) hold(t *testing.T, tok string) {
	b, _ := json.Marshal(map[string]any{"accessToken": tok, "expires_on": time.Now().Add(time.Hour).Unix()})
	if err := os.WriteFile(filepath.Join(a.dir, "token.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func (a *fakeAz) runs() int {
	b, _ := os.ReadFile(filepath.Join(a.dir, "runs"))
	return strings.Count(string(b), "run")
}

// TestRevokedTokenWithAzureCLI: a real AzureCLICredential refuses a
// request with claims (it asks for an interactive login instead), so a
// renewal after a 401 falls back to a plain request, which Azure CLI
// answers from its cache with the refused token until it has a new one.
// Concurrent refused sends ask it once; the renewal backs off rather than
// runs az for every send; once az has a new token, sends get through.
func TestRevokedTokenWithAzureCLI(t *testing.T) {
	az := newFakeAz(t)
	var mint func() string
	s := newStack(t, config{endpoints: func(s *stack) []settings.Endpoint {
		p, err := s.emu.AddUserIdentity(emulator.UserIdentity{Roles: []emulator.Role{emulator.ServiceOwner}})
		if err != nil {
			t.Fatal(err)
		}
		mint = func() string {
			tok, err := s.emu.Credential(p.ObjectID).GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{settings.DefaultScope}})
			if err != nil {
				t.Fatal(err)
			}
			return tok.Token
		}
		az.hold(t, mint())
		cred, err := azidentity.NewAzureCLICredential(nil)
		if err != nil {
			t.Fatal(err)
		}
		return []settings.Endpoint{{
			Setting:    "AzureSignalRConnectionString",
			ServiceURI: mustURL(t, s.emu.URL),
			Type:       settings.Primary,
			Credential: cred,
			Auth:       settings.Auth{Kind: "AzureCLICredential"},
			Scope:      settings.DefaultScope,
		}}
	}})
	if r := s.send(t, broadcasts("before")); r.status != http.StatusAccepted {
		t.Fatalf("send before the revocation: %d %s", r.status, r.body)
	}
	before := az.runs()
	s.emu.RevokeTokens()
	var wg sync.WaitGroup
	statuses := make([]int, 20)
	for i := range statuses {
		wg.Go(func() { statuses[i] = s.send(t, broadcasts("refused")).status })
	}
	wg.Wait()
	for i, st := range statuses {
		if st != http.StatusBadGateway {
			t.Errorf("send %d while az holds the revoked token: %d, want 502", i, st)
		}
	}
	if n := az.runs() - before; n != 1 {
		t.Errorf("az ran %d times for 20 concurrent refused sends, want 1", n)
	}
	// A send every 100 ms for 2 s: the renewal waits out its back-off.
	for range 20 {
		s.send(t, broadcasts("refused"))
		time.Sleep(100 * time.Millisecond)
	}
	if n := az.runs() - before; n > 3 {
		t.Errorf("az ran %d times in 2 s of refused sends, want the renewal to back off", n)
	}
	az.hold(t, mint())
	start := time.Now()
	for {
		r := s.send(t, broadcasts("after"))
		if r.status == http.StatusAccepted {
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("no send went through within 30 s of az holding a new token: %d %s", r.status, r.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("through %s after az had a new token; az ran %d times after the revocation", time.Since(start).Round(time.Millisecond), az.runs()-before)
	s.wantLog(t, "AzureCLICredential", "refused (401) from its cache", "az login")
}
