package main

import (
	"archive/zip"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestZipDirKeepsModes(t *testing.T) {
	dir := t.TempDir()
	files := map[string]os.FileMode{"handler": 0o755, "host.json": 0o644, "negotiate/function.json": 0o644}
	for name, mode := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(name), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	// Local settings, secrets among them, stay out of the package.
	if err := os.WriteFile(filepath.Join(dir, "local.settings.json"), []byte(`{"Values": {}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "app.zip")
	if err := zipDir(dir, out); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	got := map[string]os.FileMode{}
	for _, f := range zr.File {
		got[f.Name] = f.Mode().Perm()
	}
	if diff := cmp.Diff(files, got); diff != "" {
		t.Errorf("modes in the zip (-want +got):\n%s", diff)
	}
}
