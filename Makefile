# The whole test suite is `make test`; .ci/run calls exactly this.
GO ?= go
FUZZTIME ?= 5s

.PHONY: test vet unit race fuzz build run load pgo

test: vet unit race fuzz

build:
	$(GO) build -o bin/scimgate ./cmd/scimgate

run:
	$(GO) run ./cmd/scimgate serve

vet:
	@test -z "$$(gofmt -l .)" || (echo "gofmt needed on:"; gofmt -l .; exit 1)
	$(GO) vet ./...

unit:
	$(GO) test -count=1 -timeout 10m ./...

# The packages where goroutines share state, again under the race detector.
RACE_PKGS = ./internal/store/... ./internal/h1server ./internal/credentials ./internal/grants ./internal/ratelimit \
	./internal/denylist ./internal/h1client ./internal/audit ./internal/app ./gateway ./authserver ./keys
race:
	$(GO) test -race -count=1 -timeout 10m $(RACE_PKGS)

# Every FuzzXxx target runs for FUZZTIME on top of its seed corpus, which
# `make unit` already ran as ordinary tests.
fuzz:
	@./test/fuzz-smoke.sh $(FUZZTIME)

# The load run of the README's Performance section (not part of make test).
load:
	$(GO) run ./test/load

# cmd/scimgate/default.pgo, the CPU profile `go build` optimizes scimgate
# with (profile-guided optimization): the load run's scimgate scenarios,
# profiled and merged. Regenerate it after large changes to the hot paths.
pgo:
	dir=$$(mktemp -d) && trap 'rm -rf "$$dir"' EXIT && \
	$(GO) run ./test/load -run 'token|get-direct|get-gateway|cycle' -profile $$dir && \
	$(GO) tool pprof -proto $$dir/*.cpu.pprof > cmd/scimgate/default.pgo.new && mv cmd/scimgate/default.pgo.new cmd/scimgate/default.pgo
