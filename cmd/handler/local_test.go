package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// copyExecutable copies this test binary, which runs main (TestMain), into
// dir, as make build puts the handler in dist.
func copyExecutable(t *testing.T, dir string) string {
	t.Helper()
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	exe := filepath.Join(dir, "handler")
	dst, err := os.OpenFile(exe, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return exe
}

// TestCheckFindsLocalSettingsBesideExecutable runs dist/handler check from
// the directory above, as after make build: it reads dist/local.settings.json
// and says so.
func TestCheckFindsLocalSettingsBesideExecutable(t *testing.T) {
	checkEnv(t, nil, "")
	root := t.TempDir()
	dist := filepath.Join(root, "dist")
	if err := os.Mkdir(dist, 0o755); err != nil {
		t.Fatal(err)
	}
	exe := copyExecutable(t, dist)
	settingsFile := filepath.Join(dist, "local.settings.json")
	if err := os.WriteFile(settingsFile, []byte(`{"Values": {
		"AzureSignalRConnectionString:serviceUri": "https://contoso.service.signalr.net",
		"AzureSignalRConnectionString:credential": "managedidentity",
		"AzureSignalRConnectionString:clientId": "",
		"#AzureSignalRConnectionString (access key)": "Endpoint=https://<name>.service.signalr.net;AccessKey=<key>;Version=1.0;"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, int) {
		cmd := exec.Command(exe, args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "HANDLER_TEST_RUN_MAIN=1")
		out, err := cmd.Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	out, code := run("check", "-offline", "-json")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	var r checkReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	want := &localSettingsReport{
		File:      settingsFile,
		LookedFor: []string{filepath.Join(root, "local.settings.json"), settingsFile},
		Count:     2,
		Set:       []string{"AzureSignalRConnectionString:credential", "AzureSignalRConnectionString:serviceUri"},
		Empty:     1,
		Comments:  1,
	}
	if diff := cmp.Diff(want, r.LocalSettings); diff != "" {
		t.Errorf("local settings (-want +got):\n%s", diff)
	}
	out, _ = run("check", "-offline")
	if !strings.HasPrefix(out, "local settings: read "+settingsFile+" (2 values set: AzureSignalRConnectionString:credential, AzureSignalRConnectionString:serviceUri; 1 empty; 1 \"#\" comments skipped)\n") {
		t.Errorf("report:\n%s", out)
	}
	// The file named must exist.
	if _, code := run("check", "-offline", "-local-settings", "missing.json"); code != 2 {
		t.Errorf("-local-settings missing.json: exit %d, want 2", code)
	}
}

// TestCheckSaysWhereItLookedForLocalSettings names the places looked at.
func TestCheckSaysWhereItLookedForLocalSettings(t *testing.T) {
	checkEnv(t, nil, "")
	var stdout, stderr bytes.Buffer
	if code := runCheck([]string{"-offline"}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d\n%s", code, stdout.String())
	}
	wd, _ := os.Getwd()
	want := "local settings: no local.settings.json at " + filepath.Join(wd, "local.settings.json") + " or "
	if !strings.HasPrefix(stdout.String(), want) || !strings.Contains(stdout.String(), "(-local-settings names another)") {
		t.Errorf("report:\n%s\nwant it to start %q", stdout.String(), want)
	}
}

// TestServeLogsLocalSettingsBriefly: the start-up record gives the file, the
// settings that hold a value and their count, and counts the empty keys and
// "#" comment keys apart without naming them.
func TestServeLogsLocalSettingsBriefly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	checkEnv(t, map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": port}, `{"Values": {
		"AzureSignalRConnectionString": "Endpoint=http://127.0.0.1:1;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdef;Version=1.0;",
		"AzureSignalRConnectionString:clientId": "",
		"SIGNALR_HUBS": "chat",
		"#AZURE_CLIENT_SECRET": "",
		"#AzureSignalRConnectionString (managed identity)": "Endpoint=https://<name>.service.signalr.net;AuthType=azure.msi;Version=1.0;"}}`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // start, log, and stop at once
	var stdout, stderr bytes.Buffer
	if code := serve(ctx, &stdout, &stderr, nil); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var first struct {
		Msg                    string
		Count, Empty, Comments int
		Set                    []string
	}
	line, _, _ := strings.Cut(stdout.String(), "\n")
	if err := json.Unmarshal([]byte(line), &first); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if first.Msg != "read settings from "+filepath.Join(wd, "local.settings.json") || first.Count != 2 || first.Empty != 1 || first.Comments != 2 ||
		!cmp.Equal(first.Set, []string{"AzureSignalRConnectionString", "SIGNALR_HUBS"}) {
		t.Errorf("start-up record %s", line)
	}
	if strings.Contains(stdout.String(), "#AZURE") {
		t.Errorf("the log names a comment key:\n%s", stdout.String())
	}
}
