#!/usr/bin/env bash
# End-to-end tests: builds the handler and the stand-in, installs the real
# @microsoft/signalr client from the lock file, and runs the Node test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/handler" ./cmd/handler
go build -o "$bin/emulator" ./cmd/emulator
(cd e2e && npm ci --no-audit --no-fund --loglevel=error)
E2E_BIN="$bin" node --test --test-concurrency=1 e2e/
