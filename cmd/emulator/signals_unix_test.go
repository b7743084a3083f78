//go:build unix

package main

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/signalr-entra/handler/emulator"
)

// TestRunUpstream: a managed identity rule puts the handler's upstream
// settings in the env file, and SIGUSR1 rotates the authority's key.
func TestRunUpstream(t *testing.T) {
	env, out, stop := startRun(t, "-upstream", `{"urlTemplate":"http://127.0.0.1:1/api/upstream","eventPattern":"connected"}`,
		"-upstream", `{"urlTemplate":"http://127.0.0.1:1/api/upstream","auth":{"type":"ManagedIdentity","managedIdentity":{"resource":"api://app"}}}`)
	if env["SIGNALR_UPSTREAM_AUDIENCE"] != "api://app" || env["SIGNALR_UPSTREAM_TENANT"] != emulator.DefaultTenantID || len(env["SIGNALR_UPSTREAM_IDENTITY"]) != 36 {
		t.Errorf("upstream settings in the env file: %q", env)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "authority signing key rotated") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Errorf("run: %v", err)
	}
	if s := out.String(); !strings.Contains(s, "authority signing key rotated") || !strings.Contains(s, "Upstream         http://127.0.0.1:1/api/upstream") {
		t.Errorf("output lacks the rotation or the upstream banner:\n%s", s)
	}
}
