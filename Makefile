# Short commands (README). CMake does the real work in build/ (and build-asan/).
JOBS ?= $(shell nproc)
BUILD ?= build
CMAKE_FLAGS ?=

.PHONY: all build test test-fast test-asan demo bench bench-selection fixtures fuzz clean

all: build

build:
	@scripts/install-deps.sh build
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Every CTest test, then all of them again under AddressSanitizer + UBSan.
test:
	@scripts/install-deps.sh test
	@$(MAKE) --no-print-directory build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@$(MAKE) --no-print-directory test-asan

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# float-cast-overflow: GCC's "undefined" group leaves out the conversion of an out-of-range
# double to an integer or float, which untrusted JSON numbers reach (docs/SECURITY.md).
test-asan:
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DXFER_NATIVE=ON -DXFER_OPENMP=OFF \
	  "-DXFER_SANITIZE=address;undefined;float-cast-overflow" >/dev/null
	@cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 XF_SANITIZED=1 \
	  ctest --output-on-failure -j $(JOBS)

demo:
	@scripts/install-deps.sh demo
	@$(MAKE) --no-print-directory build
	@scripts/demo.sh

bench:
	@scripts/install-deps.sh bench
	@$(MAKE) --no-print-directory build
	@scripts/bench.sh

# The corpus model-selection benchmark behind `xfer rank --method default` (docs/SELECTION.md):
# expert bank, oracle, every estimator; resumable, minutes once the oracle is cached.
bench-selection:
	@scripts/install-deps.sh demo
	@$(MAKE) --no-print-directory build
	@bench/selection.sh

# Regenerate the committed reference fixtures (needs the Python stack; the tests do not).
fixtures:
	@scripts/install-deps.sh fixtures
	@for f in tests/ref/gen_*.py; do echo "== $$f"; /usr/bin/python3 $$f || exit 1; done

fuzz:
	@scripts/install-deps.sh test
	@CC=clang cmake -S . -B build-fuzz -DXFER_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug -DXFER_OPENMP=OFF >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target fuzz_targets

clean:
	rm -rf build build-asan build-fuzz
