# The whole test suite is `make test`; .ci/run calls exactly this.
GO ?= go
FUZZTIME ?= 5s

.PHONY: test vet unit fuzz build run load

test: vet unit fuzz

build:
	$(GO) build -o bin/scimgate ./cmd/scimgate

run:
	$(GO) run ./cmd/scimgate serve

vet:
	@test -z "$$(gofmt -l .)" || (echo "gofmt needed on:"; gofmt -l .; exit 1)
	$(GO) vet ./...

unit:
	$(GO) test -count=1 -timeout 10m ./...

# Every FuzzXxx target runs for FUZZTIME on top of its seed corpus, which
# `make unit` already ran as ordinary tests.
fuzz:
	@./test/fuzz-smoke.sh $(FUZZTIME)

# The load run of the README's Performance section (not part of make test).
load:
	$(GO) run ./test/load
