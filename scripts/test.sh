#!/usr/bin/env bash
# make test: go vet, the Go tests with the race detector, the deploy
# script's checks, the README's commands and the end-to-end tests. Every
# suite runs even when one before it failed; the last line sums them up.
set -uo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
results=() failed=0

# suite NAME SUMMARY CMD... runs CMD, showing its output, and records NAME
# with what SUMMARY (a function of the output file) says about it.
suite() {
	local name=$1 summary=$2 out="$log/$1"
	shift 2
	echo "=== $name"
	"$@" 2>&1 | tee "$out"
	local status=${PIPESTATUS[0]}
	local said
	said=$("$summary" "$out")
	if ((status != 0)); then
		failed=$((failed + 1))
		results+=("$name FAILED${said:+ ($said)}")
	else
		results+=("$name ${said:-ok}")
	fi
}

# Each suite's own count, from its output.
# go vet prints nothing when it passes: "ok" or "FAILED" says it all.
vet_summary() { :; }
go_summary() {
	local ok fail
	ok=$(grep -c '^ok ' "$1")
	fail=$(grep -cE '^FAIL\s' "$1")
	echo "$ok packages ok, $fail failed"
}
script_summary() { tail -n 1 "$1" | grep -E '^[0-9]+ passed, [0-9]+ failed$'; }
node_summary() {
	local pass fail
	pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$1" | tail -n 1)
	fail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$1" | tail -n 1)
	[[ -n $pass ]] && echo "${pass} passed, ${fail:-0} failed"
}

suite "go vet" vet_summary "$GO" vet ./...
suite "go test" go_summary "$GO" test -race ./...
suite "deploy" script_summary bash scripts/deploy_test.sh
suite "README" script_summary bash scripts/readme_test.sh
suite "e2e" node_summary bash scripts/e2e.sh

summary=$(IFS=';'; echo "${results[*]}")
if ((failed == 0)); then
	echo "make test: all passed: ${summary//;/; }"
else
	echo "make test: $failed of ${#results[@]} suites FAILED: ${summary//;/; }"
fi
((failed == 0))
