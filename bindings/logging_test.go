package bindings

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	azlog "github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
)

// TestNoLoggerLogsNothing: a Client made without Options.Logger writes
// nothing, not to slog's default logger (stderr) either, though its
// credential fails.
func TestNoLoggerLogsNothing(t *testing.T) {
	var def bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&def, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })

	f := newFakeService(t)
	cred := &fakeCred{clock: newClock(), err: errors.New("no identity here")}
	c, err := NewFromCredential(f.URL, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ConnectionInfo(ctx(), "chat", "", nil); err == nil {
		t.Fatal("negotiate without a token succeeded")
	}
	if err := c.Send(ctx(), "chat", Message{Target: "t"}); err == nil {
		t.Fatal("send without a token succeeded")
	}
	c.Close()
	if def.Len() != 0 {
		t.Errorf("a client without a logger wrote to slog's default logger:\n%s", def.String())
	}
}

// TestCredentialFailureLoggedOnce: a credential that fails is logged once,
// naming the endpoint and the identity, not again for the auth API call or
// each send it fails; the error says whose token for which service.
func TestCredentialFailureLoggedOnce(t *testing.T) {
	f := newFakeService(t)
	clock := newClock()
	ep := entraEndpoint(t, f, &fakeCred{clock: clock, err: errors.New("no identity here")})
	c, logs := newTestClient(t, []EndpointConfig{ep}, Options{Now: clock.Now})
	c.tick(ctx()) // start-up: the first key
	var last error
	for range 3 {
		if _, last = c.ConnectionInfo(ctx(), "chat", "", nil); last == nil {
			t.Fatal("negotiate without a token succeeded")
		}
		if last = c.Send(ctx(), "chat", Message{Target: "t"}); last == nil {
			t.Fatal("send without a token succeeded")
		}
	}
	out := logs.String()
	if n := strings.Count(out, "SignalR endpoint failing"); n != 1 {
		t.Errorf("the failure was logged %d times, want once:\n%s", n, out)
	}
	for _, w := range []string{"endpoint=" + f.URL, `identity="system-assigned managed identity"`, "label=AzureSignalRConnectionString", "kind=credential"} {
		if !strings.Contains(out, w) {
			t.Errorf("the log lacks %s:\n%s", w, out)
		}
	}
	msg := last.Error()
	if !strings.HasPrefix(msg, "get a Microsoft Entra ID token for "+f.URL+" failed: the credential of system-assigned managed identity (AzureSignalRConnectionString)") ||
		strings.Contains(msg, "token at ") {
		t.Errorf("error %q: want the token for the service, from the credential, not one at the service", msg)
	}
}

// TestAzureSDKLogHoldsNoSecret: a program that listens to the Azure SDK's
// log (azcore/log) sees the requests and retries of every kind of call,
// with no token, key, or Authorization header value in it. The listener
// is process-wide and not safe to set while any pipeline runs, so the test
// runs alone in a process of its own.
func TestAzureSDKLogHoldsNoSecret(t *testing.T) {
	const child = "BINDINGS_TEST_AZLOG_CHILD"
	if os.Getenv(child) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestAzureSDKLogHoldsNoSecret$", "-test.count=1")
		cmd.Env = append(os.Environ(), child+"=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v:\n%s", err, out)
		}
		return
	}
	var mu sync.Mutex
	var out strings.Builder
	azlog.SetListener(func(ev azlog.Event, msg string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(&out, "%s: %s\n", ev, msg)
	})
	// Left set: the process ends with the test, and fetches of the key
	// may still run in the background when it does.

	f := newFakeService(t)
	f.on("POST /api/hubs/chat/:send", reply{status: 429, code: "Throttled", retryAfter: "0"}, reply{status: 401}, reply{status: 202})
	f.on("PUT /api/hubs/chat/groups/g/connections/c", reply{status: 503, body: "upstream busy"})
	cred := &fakeCred{clock: newClock(), distinct: true}
	entra, _ := newTestClient(t, []EndpointConfig{entraEndpoint(t, f, cred)}, Options{})
	key, _ := newTestClient(t, []EndpointConfig{keyEndpoint(t, f)}, Options{})
	for _, e := range append(entra.Endpoints(), key.Endpoints()...) {
		if _, err := e.ConnectionInfo(ctx(), "chat", "ada", nil); err != nil {
			t.Fatal(err)
		}
		_ = e.Broadcast(ctx(), "chat", hello)
		_ = e.AddConnectionToGroup(ctx(), "chat", "g", "c")
	}
	mu.Lock()
	logged := out.String()
	mu.Unlock()
	if !strings.Contains(logged, "Authorization: REDACTED") {
		t.Fatalf("the Azure SDK log shows no request headers; nothing was checked:\n%s", logged)
	}
	for _, secret := range []string{"entra-token", "secret-", "the-access-key", "Bearer", "eyJ"} {
		if strings.Contains(logged, secret) {
			t.Errorf("the Azure SDK log holds %q:\n%s", secret, logged)
		}
	}
}
