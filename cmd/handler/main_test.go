package main

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
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

// TestMain lets a test run this binary as the handler itself, so that real
// signals reach main.
func TestMain(m *testing.M) {
	if os.Getenv("HANDLER_TEST_RUN_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

// TestSignalDrainsAndExitsZero starts the handler as its own process, sends
// it a signal while a send to the service is in flight, and expects the send
// to finish with 202 and the process to exit 0.
func TestSignalDrainsAndExitsZero(t *testing.T) {
	for _, sig := range []os.Signal{syscall.SIGTERM, os.Interrupt} {
		t.Run(sig.String(), func(t *testing.T) { testSignalDrain(t, sig) })
	}
}

func testSignalDrain(t *testing.T, sig os.Signal) {
	entered, release := make(chan struct{}, 1), make(chan struct{})
	service := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		w.WriteHeader(http.StatusAccepted)
	}))
	defer service.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var env []string
	for _, kv := range os.Environ() {
		if l := strings.ToLower(kv); !strings.HasPrefix(l, "azure") && !strings.HasPrefix(l, "signalr_") && !strings.HasPrefix(l, "functions_") {
			env = append(env, kv)
		}
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(env,
		"HANDLER_TEST_RUN_MAIN=1",
		"FUNCTIONS_WORKER_RUNTIME=custom",
		"FUNCTIONS_CUSTOMHANDLER_PORT="+addr[strings.LastIndex(addr, ":")+1:],
		"AzureSignalRConnectionString=Endpoint="+service.URL+";AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdef;Version=1.0;",
		"SIGNALR_HUBS=chat",
		// Never let a credential probe IMDS.
		"IDENTITY_ENDPOINT="+service.URL, "IDENTITY_HEADER=test",
	)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitFor := func(what string) {
		t.Helper()
		for l := range lines {
			if strings.Contains(l, what) {
				return
			}
		}
		_ = cmd.Wait() // stderr is complete once the process is gone
		t.Fatalf("the handler ended without logging %q; stderr: %s", what, stderr.String())
	}
	waitFor(`"msg":"listening"`)

	type result struct {
		status int
		err    error
	}
	resc := make(chan result, 1)
	go func() {
		resp, err := http.Post("http://"+addr+"/api/messages?hub=chat", "application/json", strings.NewReader(`{"target":"a"}`))
		if err != nil {
			resc <- result{err: err}
			return
		}
		resp.Body.Close()
		resc <- result{status: resp.StatusCode}
	}()
	<-entered
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	waitFor("shutting down")
	close(release)
	if r := <-resc; r.err != nil || r.status != http.StatusAccepted {
		t.Errorf("in-flight send: status %d, err %v; want 202", r.status, r.err)
	}
	for range lines {
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("the handler exited with %v, want 0; stderr: %s", err, stderr.String())
	}
}
