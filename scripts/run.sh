#!/usr/bin/env bash
# make run: the local stand-in of SignalR Service and Entra ID, the
# handler standalone on 127.0.0.1:7071 (hub "chat", user id from the
# x-ms-signalr-userid header, the stand-in's system-assigned managed
# identity as SignalR Service Owner, upstream events posted to the handler
# with a managed identity token), and the demo chat page on
# 127.0.0.1:8080 (needs Node.js; e2e/node_modules is installed once).
# Ctrl-C stops them all, and the run ends with status 0: being stopped is
# how it is meant to end.
#
# Nothing leaves loopback: the handler starts from an empty environment
# plus the stand-in's env file, so IDENTITY_ENDPOINT always points at the
# stand-in (without it, managed identity would probe 169.254.169.254), and
# from an empty working directory, so no local.settings.json adds settings.
set -euo pipefail
cd "$(dirname "$0")/.."

port=7071
demo_port=8080

# answers says whether something listens on the loopback port.
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A process already on the port would answer our readiness probe and
# make this run look ready while its own handler failed to listen.
if answers "$port"; then
	echo "run: 127.0.0.1:$port already answers: another handler (an earlier make run?) is running there." >&2
	echo "run: stop it first; 'ss -ltnp sport = :$port' shows its process id." >&2
	exit 1
fi
demo=1
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "run: Node.js (node and npm) is not installed; starting without the demo chat page." >&2
	demo=
elif answers "$demo_port"; then
	echo "run: 127.0.0.1:$demo_port already answers: another demo page (an earlier make run?) is running there." >&2
	echo "run: stop it first; 'ss -ltnp sport = :$demo_port' shows its process id." >&2
	exit 1
fi

work=$(mktemp -d)
emulator_pid=
handler_pid=
demo_pid=

stop() {
	trap - EXIT INT TERM
	for pid in $demo_pid $handler_pid $emulator_pid; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in $demo_pid $handler_pid $emulator_pid; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap stop EXIT
trap 'echo "run: stopped" >&2; exit 0' INT TERM

# alive says whether a process we started still runs.
alive() { kill -0 "$1" 2>/dev/null; }

# await URL PID NAME SECONDS waits until URL answers, failing when the
# process PID (NAME) exits first or SECONDS pass.
await() {
	local url=$1 pid=$2 name=$3 seconds=$4
	for _ in $(seq $((seconds * 5))); do
		curl -fsS -o /dev/null "$url" 2>/dev/null && break
		alive "$pid" || { echo "run: $name exited; see its output above" >&2; exit 1; }
		sleep 0.2
	done
	curl -fsS -o /dev/null "$url" || { echo "run: $name did not answer at $url in ${seconds}s" >&2; exit 1; }
	alive "$pid" || { echo "run: $name exited; see its output above" >&2; exit 1; }
}

# The demo page serves the browser client from e2e/node_modules, installed
# once per lock file.
if [[ -n $demo ]]; then
	bash scripts/npm_ci.sh ||
		{ echo "run: npm ci in e2e failed; see its output above (it needs the npm registry once)" >&2; exit 1; }
fi

echo "building into $work ..."
go build -o "$work/emulator" ./cmd/emulator
go build -o "$work/handler" ./cmd/handler

# Upstream goes to the handler with a managed identity token for the
# resource below; the env file then names it, the tenant and the
# resource's identity in the SIGNALR_UPSTREAM_* settings the handler checks.
"$work/emulator" -identity system=ServiceOwner -env-file "$work/env" \
	-upstream '{"urlTemplate":"http://127.0.0.1:7071/api/upstream","auth":{"type":"ManagedIdentity","managedIdentity":{"resource":"api://signalr-upstream"}}}' &
emulator_pid=$!
# The stand-in writes its env file (atomically) once it listens.
for _ in $(seq 100); do
	[[ -s $work/env ]] && break
	alive "$emulator_pid" || { echo "run: the stand-in exited; see its output above" >&2; exit 1; }
	sleep 0.1
done
[[ -s $work/env ]] || { echo "run: the stand-in wrote no env file in 10s" >&2; exit 1; }

mkdir "$work/app"
(
	cd "$work/app"
	exec env -i PATH="$PATH" HOME="$HOME" \
		SIGNALR_HUBS=chat SIGNALR_USERID_HEADER=x-ms-signalr-userid \
		bash -c 'set -a; . "$1"; set +a; exec "$2"' run "$work/env" "$work/handler"
) &
handler_pid=$!

await "http://127.0.0.1:$port/" "$handler_pid" "the handler" 30

demo_line=
stopped="the handler and the stand-in"
if [[ -n $demo ]]; then
	node demo/serve.mjs --port "$demo_port" --api "http://127.0.0.1:$port/api" &
	demo_pid=$!
	await "http://127.0.0.1:$demo_port/" "$demo_pid" "the demo page" 10
	demo_line="Demo chat page: http://127.0.0.1:$demo_port/"
	stopped="the handler, the stand-in and the demo page"
fi

cat <<EOF

Ready. Point a SignalR client at
    http://127.0.0.1:$port/api
with the header  x-ms-signalr-userid: <a user id>  (hub "chat"). Its hub calls
(connection.invoke) go upstream to http://127.0.0.1:$port/api/upstream with a
managed identity token. Then try:

    curl -i -X POST http://127.0.0.1:$port/api/messages -H 'Content-Type: application/json' \\
        -d '{"target":"newMessage","arguments":["hello, everyone"]}'
    curl -i -X POST http://127.0.0.1:$port/api/messages -H 'Content-Type: application/json' \\
        -d '{"userId":"alice","target":"newMessage","arguments":["hello, alice"]}'

${demo_line:+$demo_line
}Ctrl-C stops $stopped.
EOF

# Any process ending ends the run; the trap stops the others. The handler
# and the stand-in end with 0 only when signalled: a Ctrl-C whose signal
# reached them before this script (or that this script may not trap, when
# started in the background) is a stop all the same.
status=0
wait -n "$emulator_pid" "$handler_pid" $demo_pid || status=$?
if ((status == 0)); then
	echo "run: stopped" >&2
	exit 0
fi
echo "run: a process exited with status $status; stopping the others" >&2
exit 1
