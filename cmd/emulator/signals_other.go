//go:build !unix

package main

import (
	"context"
	"log/slog"

	"github.com/signalr-entra/handler/emulator"
)

// onSignals does nothing where there are no SIGUSR1 and SIGUSR2.
func onSignals(context.Context, *emulator.Server, *slog.Logger) {}
