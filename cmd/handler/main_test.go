package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/signalr-entra/handler/emulator"
)

func TestServeUnderHostAndShutdown(t *testing.T) {
	for _, tt := range []struct {
		name, runtime  string
		wantStandalone bool
	}{
		{"under the host", "custom", false},
		{"standalone on a port of its own", "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("FUNCTIONS_WORKER_RUNTIME", tt.runtime)
			testServe(t, tt.wantStandalone)
		})
	}
}

func testServe(t *testing.T, wantStandalone bool) {
	emu, err := emulator.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	// Other tests in this process may leave settings behind (a
	// local.settings.json copied into the environment): start clean.
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if l := strings.ToLower(k); strings.HasPrefix(l, "azure") || strings.HasPrefix(l, "signalr_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	// Settings refuse port 0: take a free port and hand it over.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	t.Setenv("FUNCTIONS_CUSTOMHANDLER_PORT", port)
	t.Setenv("AzureSignalRConnectionString", emu.ConnectionString())
	t.Setenv("SIGNALR_HUBS", "chat")
	// Never let a credential probe IMDS.
	t.Setenv("IDENTITY_ENDPOINT", emu.IdentityEndpoint)
	t.Setenv("IDENTITY_HEADER", emu.IdentityHeader)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- serve(ctx, &stdout, &stderr, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case code := <-done:
		t.Fatalf("serve exited %d: %s", code, stderr.String())
	}
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET / status %d, want 200", resp.StatusCode)
	}
	resp, err = http.Post("http://"+addr+"/api/messages", "application/json", strings.NewReader(`{"target":"a"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Errorf("messages status %d, want 202", resp.StatusCode)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit code %d, want 0; stderr %s", code, stderr.String())
	}
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Errorf("listening on %s, want loopback", addr)
	}
	if want := `"standalone":` + strconv.FormatBool(wantStandalone); !strings.Contains(stdout.String(), want) {
		t.Errorf("log lacks %s:\n%s", want, stdout.String())
	}
}

func TestRunUsage(t *testing.T) {
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"bogus"}, 2},
		{[]string{"serve", "extra"}, 2},
		{[]string{"help"}, 0},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		if got := run(tt.args, &out, &errb); got != tt.want {
			t.Errorf("run(%q) = %d, want %d", tt.args, got, tt.want)
		}
	}
}
