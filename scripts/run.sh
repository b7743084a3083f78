#!/usr/bin/env bash
# make run: the local stand-in of SignalR Service and Entra ID, and the
# handler standalone on 127.0.0.1:7071 (hub "chat", user id from the
# x-ms-signalr-userid header, the stand-in's system-assigned managed
# identity as SignalR Service Owner). Ctrl-C stops both.
#
# Nothing leaves loopback: the handler starts from an empty environment
# plus the stand-in's env file, so IDENTITY_ENDPOINT always points at the
# stand-in (without it, managed identity would probe 169.254.169.254), and
# from an empty working directory, so no local.settings.json adds settings.
set -euo pipefail
cd "$(dirname "$0")/.."

port=7071
work=$(mktemp -d)
emulator_pid=
handler_pid=

stop() {
	trap - EXIT INT TERM
	for pid in $handler_pid $emulator_pid; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in $handler_pid $emulator_pid; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# alive says whether a process we started still runs.
alive() { kill -0 "$1" 2>/dev/null; }

echo "building into $work ..."
go build -o "$work/emulator" ./cmd/emulator
go build -o "$work/handler" ./cmd/handler

"$work/emulator" -identity system=ServiceOwner -env-file "$work/env" &
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

for _ in $(seq 150); do
	curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break
	alive "$handler_pid" || { echo "run: the handler exited; see its output above (is port $port taken?)" >&2; exit 1; }
	sleep 0.2
done
curl -fsS -o /dev/null "http://127.0.0.1:$port/" || { echo "run: the handler did not answer on 127.0.0.1:$port in 30s" >&2; exit 1; }

cat <<EOF

Ready. Point a SignalR client at
    http://127.0.0.1:$port/api
with the header  x-ms-signalr-userid: <a user id>  (hub "chat"), then try:

    curl -i -X POST http://127.0.0.1:$port/api/messages -H 'Content-Type: application/json' \\
        -d '{"target":"newMessage","arguments":["hello, everyone"]}'
    curl -i -X POST http://127.0.0.1:$port/api/messages -H 'Content-Type: application/json' \\
        -d '{"userId":"alice","target":"newMessage","arguments":["hello, alice"]}'

Ctrl-C stops the handler and the stand-in.
EOF

# Either process ending ends the run; the trap stops the other.
wait -n "$emulator_pid" "$handler_pid" || true
echo "run: a process exited; stopping" >&2
exit 1
