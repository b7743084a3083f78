//go:build unix

package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/signalr-entra/handler/emulator"
)

// onSignals rotates the signing key on SIGUSR1 and regenerates the primary
// access key on SIGUSR2, until ctx ends.
func onSignals(ctx context.Context, srv *emulator.Server, log *slog.Logger) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		defer signal.Stop(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case sig := <-ch:
				if sig == syscall.SIGUSR2 {
					srv.RegenerateAccessKey(false)
					log.Info("primary access key regenerated")
					continue
				}
				if _, err := srv.RotateSigningKey(); err != nil {
					log.Error("rotating the signing key failed", "err", err)
				}
			}
		}
	}()
}
