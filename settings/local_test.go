package settings

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), LocalSettingsFile)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestUseLocalSettingsEnvironmentWins(t *testing.T) {
	cleanEnv(t, map[string]string{"AzureSignalRConnectionString__serviceUri": "https://env.service.signalr.net"})
	t.Setenv("AZURE_TENANT_ID", "") // restored after the test; set by the file
	os.Unsetenv("AZURE_TENANT_ID")
	path := writeFile(t, `{"IsEncrypted": false, "Values": {
		"AzureSignalRConnectionString:serviceUri": "https://file.service.signalr.net",
		"AzureSignalRConnectionString:credential": "managedidentity",
		"AZURE_TENANT_ID": "tenant-from-file"}, "Host": {"LocalHttpPort": 7071}}`)
	set, err := UseLocalSettings(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"AZURE_TENANT_ID", "AzureSignalRConnectionString:credential"}, set); diff != "" {
		t.Errorf("exported (-want +got):\n%s", diff)
	}
	if got := os.Getenv("AZURE_TENANT_ID"); got != "tenant-from-file" {
		t.Errorf("AZURE_TENANT_ID = %q, want it exported for azidentity", got)
	}
	e := loadOne(t, nil)
	if got := e.ServiceURI.String(); got != "https://env.service.signalr.net" {
		t.Errorf("service URI = %s, want the environment's", got)
	}
	if e.Auth.Kind != "ManagedIdentityCredential" {
		t.Errorf("credential = %s, want the file's managedidentity", e.Auth.Kind)
	}
}

func TestReadLocalSettings(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    map[string]string
		wantErr string
	}{
		{"values", `{"Values": {"A:b": "1", "C__d": ""}}`, map[string]string{"A:b": "1", "C__d": ""}, ""},
		{"encrypted", `{"IsEncrypted": true, "Values": {"A": "xyz"}}`, nil, "is encrypted (IsEncrypted is true)"},
		{"not JSON", `{"Values": `, nil, "is not valid local.settings.json"},
		{"value not a string", `{"Values": {"A": 1}}`, nil, "Values must be an object of strings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadLocalSettings(writeFile(t, tt.content))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUseLocalSettingsMissingFile(t *testing.T) {
	set, err := UseLocalSettings(filepath.Join(t.TempDir(), LocalSettingsFile))
	if err != nil || set != nil {
		t.Errorf("UseLocalSettings = %v, %v; want nothing for a missing file", set, err)
	}
}

// TestFindLocalSettings looks in the working directory first, as func start
// does, then beside the executable: dist/handler run from the repository
// root finds dist/local.settings.json.
func TestFindLocalSettings(t *testing.T) {
	root := t.TempDir()
	dist := filepath.Join(root, "dist")
	if err := os.Mkdir(dist, 0o755); err != nil {
		t.Fatal(err)
	}
	put := func(dir string) {
		if err := os.WriteFile(filepath.Join(dir, LocalSettingsFile), []byte(`{"Values": {}}`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(root)
	inRoot, inDist := filepath.Join(root, LocalSettingsFile), filepath.Join(dist, LocalSettingsFile)

	path, looked := FindLocalSettings(".", dist)
	if path != "" || !cmp.Equal(looked, []string{inRoot, inDist}) {
		t.Errorf("none: FindLocalSettings = %q, %q; want none, looked at %q", path, looked, []string{inRoot, inDist})
	}
	put(dist)
	if path, _ := FindLocalSettings(".", dist); path != inDist {
		t.Errorf("beside the executable: FindLocalSettings = %q, want %q", path, inDist)
	}
	put(root)
	if path, _ := FindLocalSettings(".", dist); path != inRoot {
		t.Errorf("both: FindLocalSettings = %q, want the working directory's %q", path, inRoot)
	}
	// The executable in the working directory: one place, looked at once.
	if _, looked := FindLocalSettings(".", root); len(looked) != 1 {
		t.Errorf("same directory twice: looked at %q", looked)
	}
}

// TestUseLocalSettingsSkipsComments keeps the example's "#" keys out of the
// environment: they document settings and are read by nothing.
func TestUseLocalSettingsSkipsComments(t *testing.T) {
	cleanEnv(t, nil)
	path := writeFile(t, `{"Values": {"#AZURE_CLIENT_SECRET": "", "#AzureSignalRConnectionString (access key)": "Endpoint=https://<name>.service.signalr.net;AccessKey=<key>;Version=1.0;", "SIGNALR_HUBS": "chat"}}`)
	t.Setenv("SIGNALR_HUBS", "")
	os.Unsetenv("SIGNALR_HUBS")
	set, err := UseLocalSettings(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"SIGNALR_HUBS"}, set); diff != "" {
		t.Errorf("exported (-want +got):\n%s", diff)
	}
	if _, ok := os.LookupEnv("#AZURE_CLIENT_SECRET"); ok {
		t.Error("a comment key reached the environment")
	}
}
