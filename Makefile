# Thin wrapper over CMake/CTest for the README's two commands.
#   make demo   build, then run the main job (synack demo)
#   make test   build and run every test, then again under ASan+UBSan
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)
BUILD  ?= build
ASAN   ?= build-asan
RELEASE ?= build-release
ARGS   ?=

.PHONY: all deps build demo test test-plain test-asan bench install clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@./$(BUILD)/tools/synack/synack demo $(ARGS)

test-plain: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: deps
	@cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DSYNACK_SANITIZE=ON -DSYNACK_BUILD_BENCH=OFF >/dev/null
	@cmake --build $(ASAN) -j $(JOBS)
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j $(JOBS)

test: test-plain test-asan

# Benchmarks use the Release build (-O3), warning-free under -Werror like every other.
bench: deps
	@cmake -S . -B $(RELEASE) -DCMAKE_BUILD_TYPE=Release -DSYNACK_BUILD_TESTS=OFF >/dev/null
	@cmake --build $(RELEASE) -j $(JOBS)
	@bash bench/run.sh $(RELEASE)

# make install PREFIX=/usr/local DESTDIR=/tmp/stage: library (static and
# shared), headers, synack.pc, the synack tool, its man pages, the examples.
PREFIX ?= /usr/local
install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(ASAN) $(RELEASE)
