package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/signalr-entra/handler/emulator"
)

// syncBuffer is a bytes.Buffer safe to write from the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// startRun runs the command with args and an env file until the test ends or
// stop is called, and returns the env file's variables once it is written,
// the command's output, and stop, which ends run and returns its error.
func startRun(t *testing.T, args ...string) (env map[string]string, out *syncBuffer, stop func() error) {
	t.Helper()
	envFile := filepath.Join(t.TempDir(), "env")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	out = &syncBuffer{}
	go func() { done <- run(ctx, append(args, "-env-file", envFile), out, out) }()
	stop = sync.OnceValue(func() error {
		cancel()
		return <-done
	})
	t.Cleanup(func() { stop() })
	return readEnvFile(t, envFile), out, stop
}

// readEnvFile waits for run's env file and reads its KEY='value' lines.
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	var data []byte
	for i := 0; i < 250 && data == nil; i++ {
		data, _ = os.ReadFile(path)
		time.Sleep(20 * time.Millisecond)
	}
	if data == nil {
		t.Fatalf("no env file at %s after 5s", path)
	}
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		env[k] = strings.Trim(v, "'")
	}
	return env
}

func TestRunWritesEnvironment(t *testing.T) {
	env, out, stop := startRun(t, "-identity", "system=AppServer", "-identity", "user:u1=RESTAPIOwner",
		"-app", "t1/c1:secret=ServiceOwner")
	got := []string{env["AzureSignalRConnectionString__credential"], filepath.Base(env["SSL_CERT_FILE"])}
	if d := cmp.Diff([]string{"managedidentity", "emulator-ca.pem"}, got); d != "" {
		t.Errorf("env (-want +got):\n%s", d)
	}
	req, _ := http.NewRequest(http.MethodGet, env["IDENTITY_ENDPOINT"]+"?api-version=2019-08-01&resource=https://signalr.azure.com&client_id=u1", nil)
	req.Header.Set("X-IDENTITY-HEADER", env["IDENTITY_HEADER"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("identity endpoint for user:u1: %d", resp.StatusCode)
	}
	if err := stop(); err != nil {
		t.Errorf("run: %v", err)
	}
	if !strings.Contains(out.String(), "SignalR Service") {
		t.Errorf("no banner in %q", out.String())
	}
}

func TestFlagErrors(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"-identity", "system=Boss"}, `invalid role "Boss"`},
		{[]string{"-identity", "someone=ServiceOwner"}, `invalid identity "someone"`},
		{[]string{"-app", "t/c=ServiceOwner"}, "invalid -app"},
		{[]string{"-app", "t/c:hush=Boss"}, `-app for client "c": invalid role "Boss"`},
		{[]string{"-app-cert", "c1=ServiceOwner"}, `invalid -app-cert "c1=ServiceOwner"`},
		{[]string{"-service-addr", "0.0.0.0:0"}, "loopback"},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"-upstream", `{"url":"http://127.0.0.1/"}`}, `unknown field "url"`},
		{[]string{"-upstream", `{"urlTemplate":"https://contoso.example/api/upstream"}`}, "only to loopback"},
		{[]string{"-upstream-token-flaw", "stale"}, `UpstreamTokenFlaw "stale"`},
	}
	for _, tt := range tests {
		err := run(context.Background(), tt.args, &syncBuffer{}, &syncBuffer{})
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "hush") {
			t.Errorf("run(%q) = %v, want an error with %q", tt.args, err, tt.wantErr)
		}
	}
}

func TestParseRoles(t *testing.T) {
	got, err := parseRoles("ServiceOwner, SignalR REST API Owner,fd53cd77-2268-407a-8f46-7e7863d0f521")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]emulator.Role{emulator.ServiceOwner, emulator.RESTAPIOwner, emulator.RESTAPIOwner}, got); d != "" {
		t.Errorf("roles (-want +got):\n%s", d)
	}
}

// TestHelp: -h prints the usage, every flag and every role to stdout, and
// is no error; a wrong flag's message and the usage go to stderr.
func TestHelp(t *testing.T) {
	var stdout, stderr syncBuffer
	if err := run(context.Background(), []string{"-h"}, &stdout, &stderr); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run(-h) = %v, want flag.ErrHelp", err)
	}
	if stderr.String() != "" {
		t.Errorf("run(-h) wrote to stderr:\n%s", stderr.String())
	}
	help := stdout.String()
	for _, want := range []string{"usage: emulator", "\n  -identity ", "\n  -upstream rule", "\n  none "} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
	for _, r := range emulator.Roles() {
		if want := "\n  " + string(r) + " "; !strings.Contains(help, want) || !strings.Contains(help, r.String()) {
			t.Errorf("help does not list the role %s (%s):\n%s", string(r), r, help)
		}
	}
	if len(emulator.Roles()) != 5 {
		t.Errorf("emulator.Roles() = %v, want the five built-in roles", emulator.Roles())
	}

	stdout, stderr = syncBuffer{}, syncBuffer{}
	err := run(context.Background(), []string{"-bogus"}, &stdout, &stderr)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run(-bogus) = %v, want a usage error", err)
	}
	if stdout.String() != "" || !strings.Contains(stderr.String(), "flag provided but not defined: -bogus") || !strings.Contains(stderr.String(), "usage: emulator") {
		t.Errorf("run(-bogus): stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}
