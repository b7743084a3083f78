GO ?= go
DIST ?= dist

.PHONY: build run test e2e package bench soak clean

# DURATION is how long make soak runs.
DURATION ?= 2m

# build assembles the deployable app root: host.json, the function folders
# beside it (the host does not look deeper), and the linux/amd64 handler.
# It replaces everything in $(DIST) but local.settings.json, the user's own
# settings (docs/LOCAL.md).
build:
	mkdir -p $(DIST)
	find $(DIST) -mindepth 1 -maxdepth 1 ! -name local.settings.json -exec rm -rf {} +
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags='-s -w' -o $(DIST)/handler ./cmd/handler
	chmod 0755 $(DIST)/handler
	cp host.json .funcignore $(DIST)/
	cp -R functions/. $(DIST)/

# run starts the local stand-in of SignalR Service and Entra ID, then the
# handler standalone on 127.0.0.1:7071. Nothing leaves loopback.
run:
	bash scripts/run.sh

# test runs every suite, even after one fails, and ends with one line
# summing them up.
test:
	GO=$(GO) bash scripts/test.sh

e2e:
	bash scripts/e2e.sh

# bench measures the targets of docs/PERFORMANCE.md on loopback and
# rewrites its tables.
bench:
	$(GO) run ./scripts/bench -out docs/PERFORMANCE.md

# soak runs clients, sends and key rotations for DURATION and counts what
# was lost.
soak:
	$(GO) run ./scripts/soak -duration $(DURATION) -out docs/PERFORMANCE.md

package: build
	$(GO) run ./scripts/zipapp $(DIST) handler.zip

# clean keeps $(DIST)/local.settings.json, as build does.
clean:
	[ ! -d $(DIST) ] || find $(DIST) -mindepth 1 -maxdepth 1 ! -name local.settings.json -exec rm -rf {} +
	rm -f handler.zip
