# The same commands for people and CI.
GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: build run deps test test-short fuzz bench flood lint check clean man package package-test

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/dnslb ./cmd/dnslb

# Serve the built-in example on 127.0.0.1:5353 (UDP and TCP).
run:
	$(GO) run ./cmd/dnslb

# Install the tools the tests use (dig, nsd, knot, dnsperf, gdnsd, chromium) if missing.
deps:
	.ci/deps

# The whole suite, with the race detector, then a short bounded fuzz run.
# deps has installed every tool the tests use, so CI=1: a test that finds
# one missing fails instead of skipping.
test: deps
	$(GO) vet ./...
	CI=1 $(GO) test -race -count=1 ./...
	$(MAKE) fuzz

test-short:
	$(GO) test -short ./...

# Counts, not durations: with a duration, Go 1.26's fuzz coordinator can
# fail a target with "context deadline exceeded" when the time runs out
# while a worker is busy (golang/go#75804, fixed in Go 1.27); a count has
# no deadline to race. About 5-10 s per target here (zone parsing is the
# slowest per run).
FUZZTIME ?= 50000x
FUZZTIME_ZONES ?= 15000x
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecide$$' -fuzztime $(FUZZTIME) ./dnslb
	$(GO) test -run '^$$' -fuzz '^FuzzServeUDPPacket$$' -fuzztime $(FUZZTIME) ./dnslb
	$(GO) test -run '^$$' -fuzz '^FuzzUnpackQuery$$' -fuzztime $(FUZZTIME) ./dnslb/answer
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME_ZONES) ./zones

# Go micro-benchmarks, then the dnsperf comparison against NSD, Knot and
# gdnsd in every scenario, then memory and load time for 1,000,000 records.
# About 30 minutes (signed: about 5); `SCENARIOS=static make bench` for a quick one.
SCENARIOS ?= static tcp nxdomain geo-ecs geo-subnets geo-sources health latency signed
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	SCENARIOS="$(SCENARIOS)" bench/run.sh
	bench/memory.sh
	bench/flood.sh

# Response rate limiting under a reflection-style flood from 1 and 10,000
# loopback sources: dnslb without and with [rrl], and NSD's RRL, on the
# same zone and traffic (bench/README.md). About 80 s a round (ROUNDS=1).
flood:
	bench/flood.sh

# staticcheck is a tool, not a module dependency: installed on first use
# into bin/tools (one folder per version), or taken from $(STATICCHECK).
# 2026.2.2 (v0.8.2) reads go1.26 code.
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK ?= bin/tools/staticcheck-$(STATICCHECK_VERSION)/staticcheck

lint: $(STATICCHECK)
	@test -z "$$(gofmt -l .)" || (gofmt -l . && exit 1)
	$(GO) vet ./...
	$(GO) mod tidy -diff
	$(STATICCHECK) ./...

bin/tools/staticcheck-$(STATICCHECK_VERSION)/staticcheck:
	GOBIN=$(CURDIR)/$(@D) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# Validate the example config and zones.
check: build
	bin/dnslb check -config example/dnslb.toml

# The man page dnslb(8) and the bash and zsh completions, made from what
# dnslb -h and dnslb COMMAND -h print (cmd/dnslb/manpage.go).
man: build
	bin/dnslb man > bin/dnslb.8
	bin/dnslb completion bash > bin/dnslb.bash
	bin/dnslb completion zsh > bin/_dnslb

# The .deb, in bin/: the binary with its version, the systemd unit (the
# one in contrib/, run as the packaged system user dnslb from /usr/sbin),
# the default config in /etc/dnslb/, the man page and completions. nfpm is
# a Go tool of this module (go.mod), so nothing is fetched once the module
# cache has it.
GOARCH  ?= $(shell $(GO) env GOARCH)
# A Debian version starts with a digit: a bare commit becomes 0~gitHASH.
DEBVERSION ?= $(shell echo '$(VERSION)' | sed -E 's/^v//; s/-dirty$$//; /^[0-9]/!s/^/0~git/')
package: man
	sed -e 's|/usr/local/bin/dnslb|/usr/sbin/dnslb|g' -e 's|^DynamicUser=yes|User=dnslb\nGroup=dnslb|' \
		contrib/systemd/dnslb.service > bin/dnslb.service
	VERSION=$(DEBVERSION) GOARCH=$(GOARCH) $(GO) tool nfpm package -p deb -f packaging/nfpm.yaml -t bin/

# TestDebianPackage installs and purges the .deb: a throwaway machine, as root.
package-test:
	DNSLB_PACKAGE_TEST=1 $(GO) test -count=1 -run TestDebianPackage ./cmd/dnslb/

clean:
	rm -rf bin
