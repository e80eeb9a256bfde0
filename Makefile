# Convenience wrapper around CMake. `make demo` and `make test` are all a new user needs.
BUILD    ?= build
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
DEB_PKGS := build-essential cmake pkg-config libdnnl-dev libyaml-dev libcjson-dev
DEB_CHECK := cmake pkg-config
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all build deps test test-sanitize demo demo-toy bench bench-train clean

all: build

# Install the Debian packages the build needs when any is missing (root only; others get the command).
deps:
	@missing=""; \
	for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "mgsd: installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "mgsd: missing Debian packages. Run:"; \
	    echo "  sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

$(BUILD)/CMakeCache.txt:
	@$(MAKE) --no-print-directory deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The same tests under AddressSanitizer + UndefinedBehaviorSanitizer (debug build).
test-sanitize:
	@$(MAKE) --no-print-directory deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMGSD_SANITIZE=ON -DMGSD_NATIVE=OFF
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 MGSD_TEST_QUICK=1 ctest --output-on-failure -j $(JOBS)

# SASRec and MGSD on the default synthetic data (generated in memory), 20 epochs each: test
# metrics clean and with injected noise, MGSD's noise detection, one explained history.
# OpenMP's default wait policy (spin briefly, then sleep) is the fastest on a machine of
# one's own: `mgsd demo --epochs=3` took 15.0 s with it and 31.7 s with
# OMP_WAIT_POLICY=passive. On a machine shared with other busy jobs, spinning threads make
# 2-thread training up to ~10x slower: run `OMP_WAIT_POLICY=passive make demo` there.

demo: build
	./$(BUILD)/mgsd demo

# The engine demo: loss curve of a 2-layer transformer on a toy next-item task.
demo-toy: build
	./$(BUILD)/mgsd demo --toy

# Seconds per SASRec epoch / full evaluation and peak RSS on ml-100k and Beauty.
bench-train: build
	./$(BUILD)/bench_train

bench: build
	./$(BUILD)/bench_ops

clean:
	rm -rf $(BUILD) build-asan
