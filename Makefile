# The whole test suite, as CI runs it (.ci/run). Packages that run
# goroutines of their own or are used concurrently (the storage engine, its
# WAL, files, cold tier's object store and filesystem seam, httpapi, and the
# cluster's coord, remote and the roles' wiring in cmd/soltix, replication's
# NATS subscribers, s3test's fault proxy) also
# run under the race detector; the codecs in storage/encoding are pure
# functions and skip it.
RACE_PKGS = ./storage ./storage/wal ./storage/colfile ./storage/cold ./storage/vfs/... ./httpapi/... ./coord ./remote/... ./cmd/soltix ./replication/... ./internal/s3test ./backup

.PHONY: test vet build fuzz

# -timeout bounds a package's run (go test's default of 10 minutes is
# near what e2e takes on two busy cores); it is a hang guard, not a target.
test: vet
	go test -count=1 -timeout 25m ./...
	go test -count=1 -timeout 25m -race $(RACE_PKGS)

vet:
	go vet ./...
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

build:
	go build -o soltix ./cmd/soltix

# Run every fuzz target (found with go test -list) for FUZZTIME each, in
# FUZZPKGS (default: every package); locally, not in CI.
FUZZTIME ?= 2m
FUZZPKGS ?= ./...
fuzz:
	@set -e; for pkg in $$(go list $(FUZZPKGS)); do \
		for f in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$f"; \
			go test -run='^$$' -fuzz="^$$f\$$" -fuzztime=$(FUZZTIME) $$pkg; \
		done; \
	done
