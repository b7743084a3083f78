package bindings

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/signalr-entra/handler/emulator"
)

// failingCredential is a credential that never gets a token.
type failingCredential struct{}

func (failingCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, errors.New("no token today")
}

// handlerWords are what a Go program using the package never configured:
// the handler's app settings and its check.
var handlerWords = []string{"SIGNALR_", "AzureSignalRConnectionString", "Azure__SignalR", "handler check", "serviceUri", "tenantId", `"setting":""`, "()", " ( "}

func checkNoHandlerWords(t *testing.T, what, text string) {
	t.Helper()
	for _, w := range handlerWords {
		if strings.Contains(text, w) {
			t.Errorf("%s mentions %q:\n%s", what, w, text)
		}
	}
}

// TestNewFromCredentialMessages: a client built from a URI and a
// credential names the credential's type and the URI in its errors and
// logs, and the Options fields, never the handler's settings.
func TestNewFromCredentialMessages(t *testing.T) {
	srv, err := emulator.NewServer(nil) // the system identity holds no role
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))

	c, err := NewFromCredential(srv.URL, srv.Credential(srv.SystemIdentity().ObjectID), &Options{Logger: log, KeyWait: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Send(ctx(), "chat", Message{Target: "t"})
	var be *Error
	if !errors.As(err, &be) || be.Status != http.StatusForbidden {
		t.Fatalf("send: %v, want a 403", err)
	}
	if want := "emulator.credential lacks the SignalR REST API Owner or SignalR Service Owner role on " + srv.URL; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q\nlacks %q", err, want)
	}
	_, err = c.ConnectionInfo(ctx(), "chat", "ada", nil)
	if err == nil {
		t.Fatal("negotiate worked without a role")
	}
	checkNoHandlerWords(t, "the errors", err.Error()+"\n"+c.Send(ctx(), "chat", Message{Target: "t"}).Error())

	c2, err := NewFromCredential(srv.URL, failingCredential{}, &Options{Logger: log, KeyWait: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	_, err = c2.ConnectionInfo(ctx(), "chat", "ada", nil)
	if want := "the credential of bindings.failingCredential (" + srv.URL + ") could not get a token for scope https://signalr.azure.com/.default. Cause: no token today"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v\nlacks %q", err, want)
	}
	checkNoHandlerWords(t, "the error", err.Error())
	if !strings.Contains(logs.String(), `"endpoint":"`+srv.URL+`"`) {
		t.Errorf("the log does not name the endpoint:\n%s", logs.String())
	}
	checkNoHandlerWords(t, "the log", logs.String())

	_, err = NewFromCredential(srv.URL, failingCredential{}, &Options{KeyWait: -time.Second})
	if err == nil || !strings.Contains(err.Error(), "(Options.KeyWait)") {
		t.Errorf("invalid options: %v, want it to name Options.KeyWait", err)
	}
}

// TestNewFromCredentialArguments refuses what cannot work, naming it.
func TestNewFromCredentialArguments(t *testing.T) {
	tests := []struct {
		uri  string
		cred azcore.TokenCredential
		want string
	}{
		{"https://contoso.service.signalr.net", nil, "the credential is nil"},
		{"contoso.service.signalr.net", failingCredential{}, `invalid service URI "contoso.service.signalr.net"`},
		{"https://contoso.service.signalr.net/api", failingCredential{}, "scheme and host only"},
		{"https://user:TOPSECRET@contoso.service.signalr.net/x", failingCredential{}, "https://user:xxxxx@contoso.service.signalr.net/x"},
		{"http://contoso.service.signalr.net", failingCredential{}, "bindings.EndpointConfig: ServiceURI \"http://contoso.service.signalr.net\" uses plain http to a host that is not loopback"},
	}
	for _, tt := range tests {
		_, err := NewFromCredential(tt.uri, tt.cred, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "TOPSECRET") {
			t.Errorf("NewFromCredential(%q): %v, want %q", tt.uri, err, tt.want)
		}
	}
}

// TestNewNamesEveryEndpoint: endpoints built by hand without Setting or
// Auth still name the identity and the endpoint.
func TestNewNamesEveryEndpoint(t *testing.T) {
	c, err := New([]EndpointConfig{{ServiceURI: mustURL(t, "https://contoso.service.signalr.net"), AccessKey: "k"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	e := c.Endpoints()[0]
	_, err = e.GetAccessKey(ctx())
	if got, want := err.Error(), "https://contoso.service.signalr.net uses an access key"; !strings.HasPrefix(got, want) {
		t.Errorf("error %q, want it to start %q", got, want)
	}
	if e.identity != "access key" {
		t.Errorf("identity %q, want access key", e.identity)
	}
	_, err = New([]EndpointConfig{{Name: "east"}}, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "bindings.EndpointConfig east: the service URI is missing; set ServiceURI") {
		t.Errorf("error %v", err)
	}
}
