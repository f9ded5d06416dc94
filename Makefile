# Tessera — developer entry points (GNU make). The build itself is CMake; see CMakeLists.txt.
#
#   make test          normal build + all tests, then the ASan/UBSan build + all tests
#   make test-fast     normal build + tests only          (build/)
#   make test-asan     sanitizer build + tests only       (build-asan/, gcc)
#   make demo          build, then scripts/demo.sh
#   make fuzz          libFuzzer run of every tests/fuzz/fuzz_*.c (build-fuzz/, clang),
#                      FUZZ_SECONDS each (default 60); crashes land in build-fuzz/artifacts/
#   make fuzz-merge    merge coverage-increasing finds of the last `make fuzz` back into
#                      tests/fuzz/corpus/<stem>/ (libFuzzer -merge=1); review and commit them
#   make bench         build, then the benchmarks (bench/CMakeLists.txt defines target run-bench)
#   make install       build, then install into PREFIX (default /usr/local): the programs,
#                      libtessera.so.0 + .a, headers, tessera.pc, CMake package, man page
#                      (DESTDIR=... stages it for packaging)
#   make format        clang-format -i on all our .c/.h files
#   make clean         remove all build directories

SHELL := /bin/bash
MAKEFLAGS += --no-print-directory
JOBS ?= 2
FUZZ_SECONDS ?= 60
BUILD_TYPE ?= RelWithDebInfo
PREFIX ?= /usr/local

FUZZ_STEMS := $(basename $(notdir $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_FLAGS := -rss_limit_mb=2048 -max_len=65536

.PHONY: deps build install test test-fast test-asan demo fuzz fuzz-merge bench format clean

deps:
	bash scripts/deps.sh

build: deps
	cmake -S . -B build -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)
	cmake --build build -j$(JOBS)

install: build
	DESTDIR=$(DESTDIR) cmake --install build --prefix $(PREFIX)

# The README's test command: everything, in both configurations, in this order.
test:
	$(MAKE) test-fast
	$(MAKE) test-asan

test-fast: build
	ctest --test-dir build --output-on-failure -j$(JOBS)

# gcc's sanitizers need no extra runtime package; Debug keeps assert() active.
test-asan: deps
	cmake -S . -B build-asan -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Debug -DTES_SANITIZE=ON
	cmake --build build-asan -j$(JOBS)
	ctest --test-dir build-asan --output-on-failure -j$(JOBS)

demo:
	@if [ ! -f scripts/demo.sh ]; then echo "make demo: scripts/demo.sh does not exist yet" >&2; exit 1; fi
	$(MAKE) build
	bash scripts/demo.sh

# Fuzz each target over a working corpus outside the tree, seeded from the checked-in one.
# New finds stay in build-fuzz/corpus/<stem>/ until `make fuzz-merge`.
fuzz: deps
	@if [ -z "$(FUZZ_STEMS)" ]; then echo "make fuzz: no tests/fuzz/fuzz_*.c targets" >&2; exit 1; fi
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DTES_FUZZ=ON
	cmake --build build-fuzz -j$(JOBS) --target fuzzers
	@status=0; \
	for t in $(FUZZ_STEMS); do \
	    mkdir -p build-fuzz/corpus/$$t build-fuzz/artifacts/$$t; \
	    if [ -d tests/fuzz/corpus/$$t ]; then cp -rn tests/fuzz/corpus/$$t/. build-fuzz/corpus/$$t/; fi; \
	    echo "== fuzzing $$t for $(FUZZ_SECONDS)s"; \
	    build-fuzz/$$t $(FUZZ_FLAGS) -max_total_time=$(FUZZ_SECONDS) \
	        -artifact_prefix=build-fuzz/artifacts/$$t/ build-fuzz/corpus/$$t || { \
	        status=1; \
	        echo "== $$t FAILED: reproducer in build-fuzz/artifacts/$$t/; replay with" \
	             "build-fuzz/$$t <file>, fix, then copy it into tests/fuzz/corpus/$$t/"; }; \
	done; \
	exit $$status

# Adds to the checked-in corpus only the inputs that reach new coverage; by hand, per target:
#   build-fuzz/<stem> -merge=1 tests/fuzz/corpus/<stem> build-fuzz/corpus/<stem>
fuzz-merge:
	@for t in $(FUZZ_STEMS); do \
	    [ -x build-fuzz/$$t ] || { echo "make fuzz-merge: run make fuzz first" >&2; exit 1; }; \
	    mkdir -p tests/fuzz/corpus/$$t; \
	    build-fuzz/$$t -merge=1 $(FUZZ_FLAGS) tests/fuzz/corpus/$$t build-fuzz/corpus/$$t || exit 1; \
	done

bench:
	@if [ ! -f bench/CMakeLists.txt ]; then echo "make bench: no bench/CMakeLists.txt yet" >&2; exit 1; fi
	$(MAKE) build
	cmake --build build -j$(JOBS) --target run-bench

format:
	find include src tools tests bench -name node_modules -prune -o \
	    -type f \( -name '*.c' -o -name '*.h' \) -print 2>/dev/null | xargs -r clang-format -i

clean:
	rm -rf build build-asan build-fuzz
