package bindings

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
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
