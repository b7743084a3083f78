package stack

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Hub is the hub the handler serves.
const Hub = "chat"

// UserIDHeader is the header the handler trusts for the user id.
const UserIDHeader = "x-ms-signalr-userid"

// Stack is the stand-in and the handler, running.
type Stack struct {
	Emulator *Process
	Handler  *Process
	// EmulatorEnv is what the stand-in wrote to its env file: the handler's
	// environment in Entra mode with the system-assigned managed identity.
	EmulatorEnv map[string]string
	// HandlerURL is http://127.0.0.1:port of the handler.
	HandlerURL string
}

// Options say how to start a Stack.
type Options struct {
	// Dir holds the env file, the logs and the handler's (empty) app root.
	Dir string
	// EmulatorArgs are extra flags of the stand-in, such as -key-lifetime.
	EmulatorArgs []string
	// HandlerEnv are extra settings of the handler, such as
	// SIGNALR_KEY_REFRESH.
	HandlerEnv map[string]string
	// HandlerPort is where the handler listens, for an upstream rule that
	// names it before the handler starts. Defaults to a free port.
	HandlerPort int
	// CPUs pin the handler to CPUs.Server and the stand-in to CPUs.Rest.
	// Defaults to no pinning.
	CPUs CPUs
}

// Start runs the stand-in with its system-assigned identity as SignalR
// Service Owner, then the handler in Entra mode against it, and waits until
// the handler answers GET /.
func Start(bins Binaries, o Options) (*Stack, error) {
	envFile := filepath.Join(o.Dir, "emulator.env")
	args := append([]string{"-identity", "system=ServiceOwner", "-env-file", envFile}, o.EmulatorArgs...)
	emuBin, args := OnCPUs(o.CPUs.Rest, bins.Emulator, args)
	emu, err := StartProcess(emuBin, args, nil, o.Dir, filepath.Join(o.Dir, "emulator.log"))
	if err != nil {
		return nil, err
	}
	s := &Stack{Emulator: emu}
	// The stand-in writes its env file atomically once it listens.
	for i := 0; i < 200 && s.EmulatorEnv == nil; i++ {
		if emu.Exited() {
			return nil, fmt.Errorf("the stand-in exited; see %s", filepath.Join(o.Dir, "emulator.log"))
		}
		if data, err := os.ReadFile(envFile); err == nil {
			s.EmulatorEnv = parseEnvFile(string(data))
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s.EmulatorEnv == nil {
		emu.Stop()
		return nil, fmt.Errorf("the stand-in wrote no %s within 10s", envFile)
	}
	env := HandlerEnv(s.EmulatorEnv, o.HandlerEnv)
	port := o.HandlerPort
	if port == 0 {
		if port, err = FreePort(); err != nil {
			emu.Stop()
			return nil, err
		}
	}
	env["FUNCTIONS_CUSTOMHANDLER_PORT"] = strconv.Itoa(port)
	app := filepath.Join(o.Dir, "app")
	if err := os.MkdirAll(app, 0o755); err != nil {
		emu.Stop()
		return nil, err
	}
	handlerBin, handlerArgs := OnCPUs(o.CPUs.Server, bins.Handler, nil)
	h, err := StartProcess(handlerBin, handlerArgs, env, app, filepath.Join(o.Dir, "handler.log"))
	if err != nil {
		emu.Stop()
		return nil, err
	}
	s.Handler = h
	s.HandlerURL = "http://127.0.0.1:" + strconv.Itoa(port)
	if _, err := h.WaitReady(s.HandlerURL+"/", 30*time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// HandlerEnv is the handler's environment: the stand-in's, the hub, the
// trusted user id header, then extra. FUNCTIONS_CUSTOMHANDLER_PORT is left
// to the caller; it is how the host passes the port, and it keeps the
// handler off 7071, where make run may be listening.
func HandlerEnv(emulatorEnv, extra map[string]string) map[string]string {
	env := map[string]string{"SIGNALR_HUBS": Hub, "SIGNALR_USERID_HEADER": UserIDHeader}
	for k, v := range emulatorEnv {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// Stop stops the handler, then the stand-in.
func (s *Stack) Stop() error {
	var herr error
	if s.Handler != nil {
		herr = s.Handler.Stop()
	}
	eerr := s.Emulator.Stop()
	if herr != nil {
		return fmt.Errorf("handler: %w", herr)
	}
	if eerr != nil {
		return fmt.Errorf("stand-in: %w", eerr)
	}
	return nil
}

// parseEnvFile reads the KEY='value' lines the stand-in writes, where a
// quote inside a value is written '\”.
func parseEnvFile(data string) map[string]string {
	env := map[string]string{}
	for _, line := range strings.Split(data, "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.TrimSuffix(strings.TrimPrefix(v, "'"), "'")
		env[k] = strings.ReplaceAll(v, `'\''`, "'")
	}
	return env
}
