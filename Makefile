# annal — build, run, test.
GO      ?= go
PKGS    ?= ./...
BIN     := bin/annal
SEEDS   ?= 1000
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build run test test-memory race lint bench bench-go bench-log bench-s3 bench-fuse fuzz sim sim-soak rewrite clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/annal

## run: build and start a single-node server with zero configuration
## (data in ./annal-data, S3 on 127.0.0.1:9000, admin on 127.0.0.1:9090).
run: build
	./$(BIN) server

## test: the whole suite, with the race detector and invariant checks.
test:
	$(GO) test -race -tags invariants -timeout 20m $(PKGS)

race: test

## lint: formatting, vet, staticcheck, tidy go.mod.
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)
	$(GO) mod tidy -diff

## bench: Go benchmarks of the log, chunk pipeline and stores, then the
## S3 load test (bench-s3) and the mount benchmark (bench-fuse).
## test-memory: a 5 GiB S3 upload and download through a child server
## must not raise its RSS by more than 96 MiB (plus the read cache on the
## download). Minutes and ~8 GiB of disk, so outside make test; no race
## detector (its shadow memory would be what is measured).
LARGE_UPLOAD_BYTES ?= 5368709120
test-memory:
	ANNAL_S3_LARGE_UPLOAD_BYTES=$(LARGE_UPLOAD_BYTES) $(GO) test ./gateways/s3 -run TestLargeUploadMemory -count=1 -v -timeout 60m

bench: bench-go bench-log bench-s3 bench-fuse

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./log/... ./commands/...
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s -cpu 1,2 ./chunks/...

## bench-log: events/s committed and applied (1 node, 3 loopback replicas;
## 1, 16, 64 proposers) beside raw dragonboat, and replay events/s.
bench-log: build
	./$(BIN) bench log --duration 5s

## bench-s3: PUT and GET throughput and latency percentiles for 4 KiB and
## 1 MiB objects against a zero-config server started in a temporary
## directory (annal bench s3 --local).
BENCH_SIZES       ?= 4KiB,1MiB
BENCH_CONCURRENCY ?= 16
BENCH_DURATION    ?= 20s
bench-s3: build
	./$(BIN) bench s3 --local --size $(BENCH_SIZES) --concurrency $(BENCH_CONCURRENCY) --duration $(BENCH_DURATION)

## bench-fuse: through a FUSE mount of a zero-config server started in a
## temporary directory (needs root and /dev/fuse; default ports):
## sequential write/read of a 1 GiB file in 1 MiB blocks, and
## create/stat/unlink of 10,000 small files.
FUSE_BENCH_MIB   ?= 1024
FUSE_BENCH_FILES ?= 10000
bench-fuse: build
	$(GO) build -o bin/fusebench ./gateways/fuse/fusebench
	@set -e; work=$$(mktemp -d); bin=$$PWD/bin; spid=; mpid=; \
	trap 'test -n "$$mpid" && kill -INT $$mpid && wait $$mpid; test -n "$$spid" && kill $$spid && wait $$spid; rm -rf $$work' EXIT; \
	cd $$work; $$bin/annal server >server.log 2>&1 & spid=$$!; \
	for i in $$(seq 300); do curl -sf http://127.0.0.1:9090/healthz >/dev/null && break; sleep 0.2; done; \
	mkdir mnt; $$bin/annal mount --create bench mnt >mount.log 2>&1 & mpid=$$!; \
	for i in $$(seq 100); do mountpoint -q mnt && break; sleep 0.2; done; \
	$$bin/fusebench -dir mnt -size-mib $(FUSE_BENCH_MIB) -files $(FUSE_BENCH_FILES)

## fuzz: a short run of every fuzz target (FUZZTIME each).
FUZZTIME ?= 20s
fuzz:
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' .); do \
	  d=./$$(dirname $$f); \
	  for t in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' $$f | cut -d' ' -f2); do \
	    echo "== $$d $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$d; \
	  done; \
	done

## sim: one simulator run, reproducible by seed (SEED, STEPS, NODES, FAULTS).
SEED   ?= 1
STEPS  ?= 20000
NODES  ?= 3
FAULTS ?= all
sim: build
	./$(BIN) sim --seed $(SEED) --steps $(STEPS) --nodes $(NODES) --faults $(FAULTS)

## sim-soak: a long sweep of SEEDS seeds (a count, A-B or a list); prints
## failing seeds with the command that replays each, and simulated steps
## per second.
sim-soak: build
	./$(BIN) sim --seeds $(SEEDS) --steps $(STEPS) --nodes $(NODES) --faults $(FAULTS)

## rewrite: regenerate golden files (read the diff before committing).
rewrite:
	$(GO) test ./log/event -rewrite

clean:
	rm -rf bin
