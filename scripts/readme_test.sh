#!/usr/bin/env bash
# Runs the README's commands as written: the quick start's curl lines against
# `make run`, the Functions Core Tools block up to `func start` (which needs
# Core Tools: `handler check -offline` stands in for it), and the deploy
# block with its dry run. Prints "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
passed=0 failed=0
ok() { echo "ok: $1"; passed=$((passed + 1)); }
fail() { echo "FAIL: $1" >&2; failed=$((failed + 1)); }

# block HEADING prints the first ```sh block under a "## HEADING" line.
block() {
	awk -v h="## $1" '
		$0 == h { in_section = 1; next }
		in_section && /^## / { exit }
		in_section && /^```sh$/ { in_code = 1; next }
		in_code && /^```$/ { exit }
		in_code { print }
	' README.md
}

work=$(mktemp -d)
run_pid=
cleanup() {
	[[ -n $run_pid ]] && kill -INT "$run_pid" 2>/dev/null && wait "$run_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# The first lines of the README name the two commands.
head -5 README.md | grep -q '^make run' && head -5 README.md | grep -q '^make test' &&
	ok "README opens with make run and make test" || fail "README does not open with make run and make test"

# Quick start: make run, then the curl lines exactly as printed.
setsid make run >"$work/run.log" 2>&1 &
run_pid=$!
for _ in $(seq 300); do grep -q '^Ready' "$work/run.log" && break; sleep 0.2; done
if grep -q '^Ready' "$work/run.log"; then
	ok "make run is ready"
	curls=$(block "Quick start")
	[[ $curls == curl* ]] || fail "no curl lines in the quick start"
	# Each command spans two lines (a trailing backslash).
	n=0
	while IFS= read -r cmd; do
		n=$((n + 1))
		status=$(eval "${cmd/curl -i/curl -s -o /dev/null -w %\{http_code\}}")
		[[ $status == 202 ]] && ok "quick start curl $n answers 202" || fail "quick start curl $n answered $status: $cmd"
	done < <(printf '%s\n' "$curls" | sed -e ':a' -e '/\\$/N; s/\\\n//; ta')
	grep -q 'curl -i -X POST http://127.0.0.1:7071/api/messages' "$work/run.log" &&
		ok "make run prints the README's curl lines" || fail "make run's banner differs from the README"
else
	fail "make run did not get ready; its output:"; cat "$work/run.log" >&2
fi
kill -INT -- -"$run_pid" 2>/dev/null; wait "$run_pid" 2>/dev/null; run_pid=

# Local development: every line before `func start`, then the handler's own
# check in the same folder, since Core Tools are not installed here.
dev=$(block "Local development with Functions Core Tools" | sed 's/ *#.*//')
printf '%s\n' "$dev" | grep -q '^cd dist && func start$' || fail "the local development block changed; update this test"
if (set -e; eval "$(printf '%s\n' "$dev" | grep -v 'func start')"
	cd dist
	sed -i 's|https://<name>.service.signalr.net|https://contoso.service.signalr.net|' local.settings.json
	env -i PATH="$PATH" ./handler check -offline >"$work/check.log"); then
	ok "make build, the example settings and handler check -offline"
else
	fail "local development block"; cat "$work/check.log" >&2
fi
[[ -x dist/handler && -f dist/host.json && -f dist/negotiate/function.json ]] && ok "dist is an app root" || fail "dist is not an app root"

# Deploy: make package and the dry run, as written.
if (set -e; eval "$(block "Deploy" | sed 's/ *#.*//')" >"$work/deploy.log"); then
	grep -q 'az signalr create' "$work/deploy.log" && ok "make package and the deploy dry run" || fail "the dry run printed no az signalr create"
else
	fail "deploy block"; cat "$work/deploy.log" >&2
fi

# The stand-in's flags the quick start names.
help=$(go run ./cmd/emulator -h 2>&1)
for flag in $(grep -o '`-[a-z-]*`' README.md | tr -d '`' | sort -u); do
	case $flag in -identity | -app | -app-cert | -access-key | -local-auth-disabled | -key-lifetime | -propagation | -upstream | -upstream-token-flaw) ;; *) continue ;; esac
	grep -qE -- "^  $flag( |$)" <<<"$help" && ok "emulator -h lists $flag" || fail "emulator -h does not list $flag, which README.md names"
done

echo "$passed passed, $failed failed"
((failed == 0))
