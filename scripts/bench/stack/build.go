package stack

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Binaries are the programs Build produced: the handler, the stand-in, and
// the baselines they are compared with.
type Binaries struct {
	Handler, Emulator string
	// Minimal is the smallest net/http server (start-up baseline).
	Minimal string
	// DepsFloor is Minimal linking the handler's required dependencies
	// (start-up floor).
	DepsFloor string
	// StdNegotiate is a negotiate server written with the standard library
	// only (negotiate baseline).
	StdNegotiate string
	// Proxy is a bare httputil reverse proxy (send baseline).
	Proxy string
}

// Build compiles the handler, the stand-in and the baselines into dir, from
// the module root root, as make build does (no debug info).
func Build(root, dir string) (Binaries, error) {
	b := Binaries{
		Handler:      filepath.Join(dir, "handler"),
		Emulator:     filepath.Join(dir, "emulator"),
		Minimal:      filepath.Join(dir, "minimal"),
		DepsFloor:    filepath.Join(dir, "depsfloor"),
		StdNegotiate: filepath.Join(dir, "stdnegotiate"),
		Proxy:        filepath.Join(dir, "proxy"),
	}
	for pkg, out := range map[string]string{
		"./cmd/handler":                b.Handler,
		"./cmd/emulator":               b.Emulator,
		"./scripts/bench/minimal":      b.Minimal,
		"./scripts/bench/depsfloor":    b.DepsFloor,
		"./scripts/bench/stdnegotiate": b.StdNegotiate,
		"./scripts/bench/proxy":        b.Proxy,
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
