package stack

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Binaries are the programs Build produced.
type Binaries struct {
	Handler, Emulator, Minimal string
}

// Build compiles the handler, the stand-in and the minimal net/http server
// into dir, from the module root root, as make build does (no debug info).
func Build(root, dir string) (Binaries, error) {
	b := Binaries{
		Handler:  filepath.Join(dir, "handler"),
		Emulator: filepath.Join(dir, "emulator"),
		Minimal:  filepath.Join(dir, "minimal"),
	}
	for pkg, out := range map[string]string{
		"./cmd/handler":           b.Handler,
		"./cmd/emulator":          b.Emulator,
		"./scripts/bench/minimal": b.Minimal,
	} {
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("go build %s: %w\n%s", pkg, err, msg)
		}
	}
	return b, nil
}
