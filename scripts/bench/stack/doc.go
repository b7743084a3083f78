// Package stack builds and runs the stand-in (cmd/emulator) and the handler
// (cmd/handler) as real processes on loopback, for the benchmark
// (scripts/bench) and the soak test (scripts/soak). Every wait is bounded
// and every process it starts is stopped by its Stop.
package stack
