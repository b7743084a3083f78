#!/usr/bin/env bash
# End-to-end tests: builds the handler and the stand-in, installs the real
# @microsoft/signalr client from the lock file, and runs the Node test suite
# (e2e/*.test.mjs, one file at a time: each test starts its own processes).
# Everything listens and talks on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/handler" ./cmd/handler
go build -o "$bin/emulator" ./cmd/emulator
go build -o "$bin/chat" ./examples/chat
go build -o "$bin/funchost" ./scripts/funchost
bash scripts/npm_ci.sh
flags=(--test --test-concurrency=1)
# A test that times out leaves its clients open; force-exit ends the file
# anyway, and the harness kills the processes the file started on exit.
if [[ $(node --help) == *--test-force-exit* ]]; then
	flags+=(--test-force-exit)
fi
# Files, not the directory: newer Node versions read arguments as globs.
E2E_BIN="$bin" node "${flags[@]}" e2e/*.test.mjs
