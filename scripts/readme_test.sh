#!/usr/bin/env bash
# Runs the commands of the README and of docs/ as written: the quick start's
# curl lines against `make run` and its Ctrl-C, the Functions Core Tools
# block of docs/LOCAL.md up to `func start` (which needs Core Tools:
# `handler check -offline` stands in for it), and the deploy block with its
# dry run. The last two run in a copy of the repository, so that they leave
# the user's dist/ and handler.zip alone. It also checks that every relative
# link of README.md and docs/ leads to a file and heading that exist. Prints
# "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
passed=0 failed=0
ok() { echo "ok: $1"; passed=$((passed + 1)); }
fail() { echo "FAIL: $1" >&2; failed=$((failed + 1)); }

# block FILE HEADING prints the first ```sh block under the heading HEADING
# (of any level) of FILE.
block() {
	awk -v h="$2" '
		/^#+ / && !in_code { title = $0; sub(/^#+ /, "", title) }
		/^#+ / && !in_code && title == h { in_section = 1; next }
		in_section && /^#+ / && !in_code { exit }
		in_section && /^```sh$/ { in_code = 1; next }
		in_code && /^```$/ { exit }
		in_code { print }
	' "$1"
}

# anchors FILE prints the anchors GitHub gives the headings of FILE: lower
# case, punctuation dropped, spaces made hyphens.
anchors() {
	awk '/^```/ { code = !code } !code && /^#+ / { sub(/^#+ +/, ""); print }' "$1" |
		tr '[:upper:]' '[:lower:]' | sed -E 's/[^a-z0-9 _-]//g; s/ /-/g'
}

# Every relative link of the README and docs/ leads somewhere: the file
# exists and, with a #fragment, one of its headings has that anchor.
docs=(README.md docs/*.md)
broken=0
for file in "${docs[@]}"; do
	while IFS= read -r target; do
		path=${target%%#*} fragment=
		[[ $target == *#* ]] && fragment=${target#*#}
		resolved=$file
		[[ -n $path ]] && resolved=$(dirname "$file")/$path
		if [[ ! -e $resolved ]]; then
			fail "$file links to $target: $resolved does not exist"; broken=1
		elif [[ -n $fragment ]] && ! anchors "$resolved" | grep -qxF -- "$fragment"; then
			fail "$file links to $target: $resolved has no heading #$fragment"; broken=1
		fi
	done < <(grep -o '](\([^)]*\))' "$file" | sed -E 's/^\]\(//; s/\)$//' | grep -Ev '^(https?|mailto):')
done
((broken)) || ok "every relative link of README.md and docs/ resolves"
# Every page of docs/ is reachable from the README.
for page in docs/*.md; do
	grep -qF "]($page)" README.md && ok "README.md links to $page" || fail "README.md does not link to $page"
done

# The quick start names what to install: every tool the scripts and tests
# run, the Debian packages .ci/run installs among them.
prerequisites=$(awk '/^## Quick start$/ { in_section = 1; next } in_section && /^```/ { exit } in_section' README.md)
for tool in go make node npm func $(sed -n 's/.*need+=(\([a-z]*\)).*/\1/p' .ci/run); do
	grep -qiw -- "$tool" <<<"$prerequisites" && ok "the quick start names $tool" || fail "the quick start does not name $tool among what to install"
done
grep -q 'azure-functions-core-tools' <<<"$prerequisites" && grep -qE 'version [0-9]+\.[0-9]+\.[0-9]+' <<<"$prerequisites" &&
	ok "the quick start says where func comes from and which version was read" ||
	fail "the quick start does not say where Functions Core Tools come from, or which version was read"

# go doc prints no example functions: docs/GO.md links the files that hold them.
examples=$(grep -o '](\.\./[^)]*example[^)]*_test\.go)' docs/GO.md | sed -E 's/^\]\(\.\.\///; s/\)$//')
[[ -n $examples ]] || fail "docs/GO.md links no example file"
for f in $examples; do
	grep -q '^func Example' "$f" && ok "docs/GO.md links $f, which holds examples" || fail "docs/GO.md links $f, which holds no Example function"
done

work=$(mktemp -d)
run_pid=
bg_pid=
cleanup() {
	[[ -n $run_pid ]] && kill -INT "$run_pid" 2>/dev/null && wait "$run_pid" 2>/dev/null
	[[ -n $bg_pid ]] && kill -TERM -- -"$bg_pid" 2>/dev/null
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
	curls=$(block README.md "Quick start")
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
# Ctrl-C, as a terminal sends it to the whole process group: a clean stop
# is a success.
kill -INT -- -"$run_pid" 2>/dev/null
wait "$run_pid" 2>/dev/null
status=$?
run_pid=
if ((status == 0)) && grep -q '^run: stopped$' "$work/run.log" && ! grep -q '^make: \*\*\*' "$work/run.log"; then
	ok "Ctrl-C stops make run with status 0"
else
	fail "Ctrl-C: make run ended with status $status; its last lines:"; tail -n 3 "$work/run.log" >&2
fi

# bg_run NAME SCRIPT runs a recipe in a process group of its own, so that
# everything it starts in the background can be stopped with it (stop_run).
bg_run() {
	setsid bash -c "$2" >"$work/$1.log" 2>&1 &
	bg_pid=$!
}
stop_run() {
	kill -TERM -- -"$bg_pid" 2>/dev/null
	wait "$bg_pid" 2>/dev/null
	bg_pid=
}

# docs/EMULATOR.md: your own program, here handler check, against the
# stand-in, with its env file: online, every function works.
recipe=$(block docs/EMULATOR.md "Your own program, or \`handler check\`, against the stand-in")
[[ $recipe == *"handler check"* ]] || fail "docs/EMULATOR.md has no recipe for handler check against the stand-in"
bg_run check-recipe "set -e; $recipe"
wait "$bg_pid"
status=$?
stop_run
if ((status == 0)) && grep -q '^online check passed' "$work/check-recipe.log" &&
	grep -q '^  ok   Entra token     ManagedIdentityCredential got' "$work/check-recipe.log"; then
	ok "docs/EMULATOR.md's recipe: handler check passes online against the stand-in"
else
	fail "docs/EMULATOR.md's recipe ended with status $status:"; tail -n 20 "$work/check-recipe.log" >&2
fi

# examples/chat: the recipe in its doc comment; the demo page's origin may
# negotiate through it.
recipe=$(sed -n '/^\/\/ To run it against the local stand-in/,/^package /p' examples/chat/main.go |
	sed -n 's/^\/\/\t//p' | sed -e ':a' -e '/\\$/N; s/\\\n//; ta')
[[ $recipe == *"go run ./examples/chat"* ]] || fail "examples/chat's doc has no recipe"
bg_run chat-recipe "$recipe"
for _ in $(seq 300); do
	grep -q '"msg":"chat: serving hub chat; point a SignalR client at http://127.0.0.1:7071/api"' "$work/chat-recipe.log" &&
		curl -fsS -o /dev/null http://127.0.0.1:8080/ 2>/dev/null && break
	sleep 0.2
done
allowed=$(curl -s -o /dev/null -D - -X OPTIONS -H 'Origin: http://127.0.0.1:8080' -H 'Access-Control-Request-Method: POST' \
	'http://127.0.0.1:7071/api/negotiate?hub=chat' | tr -d '\r' | sed -n 's/^[Aa]ccess-[Cc]ontrol-[Aa]llow-[Oo]rigin: //p')
negotiated=$(curl -s -X POST -H 'x-ms-signalr-userid: ada' 'http://127.0.0.1:7071/api/negotiate?hub=chat')
stop_run
if [[ $allowed == http://127.0.0.1:8080 && $negotiated == *'"accessToken"'* ]]; then
	ok "examples/chat's recipe starts it, says where clients go, and the demo page may negotiate through it"
else
	fail "examples/chat's recipe: CORS allowed \"$allowed\", negotiate answered $negotiated; its output:"; tail -n 20 "$work/chat-recipe.log" >&2
fi

# The rest runs in a copy, as a fresh clone would, with the user's dist/,
# handler.zip and node_modules left out and left alone.
repo=$(pwd)
mkdir "$work/repo"
tar -C "$repo" --exclude=./.git --exclude=./dist --exclude=./handler.zip --exclude=./e2e/node_modules -cf - . | tar -C "$work/repo" -xf -
cd "$work/repo"

# Local development: every line before `func start`, then the handler's own
# check in the same folder, since Core Tools are not installed here.
dev=$(block docs/LOCAL.md "Local development with Functions Core Tools" | sed 's/ *#.*//')
printf '%s\n' "$dev" | grep -q '^cd dist && func start$' || fail "the local development block changed; update this test"
(set -e; eval "$(printf '%s\n' "$dev" | grep -v 'func start')") >"$work/build.log" 2>&1 || { fail "local development block"; cat "$work/build.log" >&2; }
[[ -x dist/handler && -f dist/host.json && -f dist/negotiate/function.json ]] && ok "dist is an app root" || fail "dist is not an app root"
# The example copied unchanged still holds placeholders: the check names the
# setting to fill in, and which local.settings.json it read, from the
# repository root as well.
env -i PATH="$PATH" dist/handler check -offline >"$work/check.log" 2>&1
status=$?
if ((status == 1)) && grep -q "^local settings: read $PWD/dist/local.settings.json " "$work/check.log" &&
	grep -q '^error: AzureSignalRConnectionString:serviceUri: value "https://<name>.service.signalr.net" holds the placeholder <name>' "$work/check.log"; then
	ok "dist/handler check from the repository root reads dist/local.settings.json and refuses its placeholder"
else
	fail "dist/handler check -offline with the example unchanged (status $status):"; cat "$work/check.log" >&2
fi
sed -i 's|https://<name>.service.signalr.net"|https://contoso.service.signalr.net"|' dist/local.settings.json
if (cd dist && env -i PATH="$PATH" ./handler check -offline >"$work/check.log" 2>&1); then
	ok "make build, the example settings filled in and handler check -offline"
else
	fail "handler check -offline with the example filled in"; cat "$work/check.log" >&2
fi
cp dist/local.settings.json "$work/settings.json"
make build >"$work/build.log" 2>&1 || { fail "make build"; cat "$work/build.log" >&2; }
cmp -s dist/local.settings.json "$work/settings.json" && ok "make build keeps dist/local.settings.json" || fail "make build lost dist/local.settings.json"

# Deploy: make package and the dry run, as written.
if (set -e; eval "$(block README.md "Deploy" | sed 's/ *#.*//')" >"$work/deploy.log"); then
	grep -q 'az signalr create' "$work/deploy.log" && ok "make package and the deploy dry run" || fail "the dry run printed no az signalr create"
else
	fail "deploy block"; cat "$work/deploy.log" >&2
fi
cmp -s dist/local.settings.json "$work/settings.json" && ok "make package keeps dist/local.settings.json" || fail "make package lost dist/local.settings.json"
# Zip entry names are stored as plain text.
[[ -s handler.zip ]] && ! grep -aq 'local\.settings\.json' handler.zip &&
	ok "handler.zip leaves local.settings.json out" || fail "handler.zip is missing or holds local.settings.json"
make clean >/dev/null 2>&1
[[ ! -e dist/handler ]] && cmp -s dist/local.settings.json "$work/settings.json" &&
	ok "make clean keeps dist/local.settings.json" || fail "make clean removed dist/local.settings.json or left dist/handler"

# make test installs the client for the end-to-end tests once per lock file.
mkdir "$work/npm"
cat >"$work/npm/npm" <<EOF
#!/usr/bin/env bash
echo "npm \$*" >>"$work/npm.calls"
mkdir -p node_modules
EOF
chmod +x "$work/npm/npm"
for _ in 1 2; do PATH="$work/npm:$PATH" bash scripts/npm_ci.sh >/dev/null; done
echo >>e2e/package-lock.json
PATH="$work/npm:$PATH" bash scripts/npm_ci.sh >/dev/null
calls=$(wc -l <"$work/npm.calls" 2>/dev/null || echo 0)
((calls == 2)) && ok "npm ci runs again only when e2e/package-lock.json changed" || fail "npm ci ran $calls times for two lock files"

# make test runs every suite and sums them up in its last line: here with
# stand-ins for the suites (this copy is thrown away), one of them failing.
cat >"$work/go" <<'EOF'
#!/usr/bin/env bash
[[ $1 == test ]] && printf 'ok  \tgithub.com/signalr-entra/handler/bindings\t1.0s\nok  \tgithub.com/signalr-entra/handler/settings\t1.0s\n'
exit 0
EOF
printf '#!/usr/bin/env bash\necho "3 passed, 0 failed"\n' >scripts/deploy_test.sh
printf '#!/usr/bin/env bash\necho "1 passed, 1 failed"\nexit 1\n' >scripts/readme_test.sh
printf '#!/usr/bin/env bash\nprintf "# pass 40\\n# fail 0\\n"\n' >scripts/e2e.sh
chmod +x "$work/go"
make test GO="$work/go" >"$work/test.log" 2>&1
status=$?
want="make test: 1 of 5 suites FAILED: go vet ok; go test 2 packages ok, 0 failed; deploy 3 passed, 0 failed; README FAILED (1 passed, 1 failed); e2e 40 passed, 0 failed"
# After a failure make adds its own "make: *** … Error 1", and under another
# make "make[1]: Leaving directory …".
last=$(grep -Ev '^make(\[[0-9]+\])?: ' "$work/test.log" | tail -n 1)
if ((status != 0)) && [[ $last == "$want" ]]; then
	ok "make test runs every suite and ends with one summary line"
else
	fail "make test (status $status) ended with \"$last\", want \"$want\""
fi

# The stand-in's help: asked for, it is no failure; it lists the flags
# docs/EMULATOR.md names and every role.
help=$(go run ./cmd/emulator -h 2>&1)
status=$?
((status == 0)) && ok "go run ./cmd/emulator -h ends with status 0" || fail "go run ./cmd/emulator -h ended with status $status"
for role in AppServer ServiceOwner RESTAPIOwner RESTAPIReader AccessKeyReader; do
	grep -qE "^  $role " <<<"$help" && ok "emulator -h lists the role $role" || fail "emulator -h does not list the role $role"
done
for flag in $(grep -o '`-[a-z-]*`' docs/EMULATOR.md | tr -d '`' | sort -u); do
	case $flag in -identity | -app | -app-cert | -access-key | -local-auth-disabled | -key-lifetime | -propagation | -upstream | -upstream-token-flaw) ;; *) continue ;; esac
	grep -qE -- "^  $flag( |$)" <<<"$help" && ok "emulator -h lists $flag" || fail "emulator -h does not list $flag, which docs/EMULATOR.md names"
done

echo "$passed passed, $failed failed"
((failed == 0))
