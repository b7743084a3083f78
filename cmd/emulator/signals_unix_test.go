//go:build unix

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/signalr-entra/handler/emulator"
)

// TestRunUpstream: a managed identity rule puts the handler's upstream
// settings in the env file, and SIGUSR1 rotates the authority's key.
func TestRunUpstream(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, "env")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out syncBuffer
	go func() {
		done <- run(ctx, []string{"-env-file", envFile, "-upstream", `{"urlTemplate":"http://127.0.0.1:1/api/upstream","eventPattern":"connected"}`,
			"-upstream", `{"urlTemplate":"http://127.0.0.1:1/api/upstream","auth":{"type":"ManagedIdentity","managedIdentity":{"resource":"api://app"}}}`}, &out)
	}()
	var data []byte
	for i := 0; i < 100 && data == nil; i++ {
		data, _ = os.ReadFile(envFile)
		time.Sleep(20 * time.Millisecond)
	}
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		env[k] = strings.Trim(v, "'")
	}
	if env["SIGNALR_UPSTREAM_AUDIENCE"] != "api://app" || env["SIGNALR_UPSTREAM_TENANT"] != emulator.DefaultTenantID || len(env["SIGNALR_UPSTREAM_IDENTITY"]) != 36 {
		t.Errorf("upstream settings in the env file: %q", data)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "authority signing key rotated") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
	if s := out.String(); !strings.Contains(s, "authority signing key rotated") || !strings.Contains(s, "Upstream         http://127.0.0.1:1/api/upstream") {
		t.Errorf("output lacks the rotation or the upstream banner:\n%s", s)
	}
}
