#!/usr/bin/env bash
# Installs e2e/node_modules (the real @microsoft/signalr client for the
# end-to-end tests and the demo page) with npm ci, unless it was installed
# from this very e2e/package-lock.json: e2e/node_modules/.lock-sha256 holds
# the lock file's hash from the last install. npm ci starts by deleting
# node_modules, so the stamp is written only after it succeeded.
set -euo pipefail
cd "$(dirname "$0")/../e2e"
stamp=node_modules/.lock-sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ -f $stamp && $(<"$stamp") == "$want" ]]; then
	echo "e2e/node_modules is installed from this package-lock.json; npm ci skipped"
	exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
printf '%s\n' "$want" >"$stamp"
