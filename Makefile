# Floe's entry points. `make run` and `make test` are the two commands a new
# user needs (see README.md); both install missing dependencies first.
.PHONY: all deps build run test debug release asan fuzz bench format tidy generate check-generated clean

BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60
CMAKE_COMMON = -G Ninja -DCMAKE_EXPORT_COMPILE_COMMANDS=ON

all: build

deps:
	@bash scripts/install-deps.sh

# build/: the main tree (GCC). Leaves the server binary at build/floe.
build: deps
	cmake -S . -B build $(CMAKE_COMMON) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DFLOE_FUZZ_BIN_DIR=$(CURDIR)/build-fuzz/fuzz -DFLOE_FUZZ_SECONDS=$(FUZZ_SECONDS)
	cmake --build build -j $(JOBS)

run: build
	./build/floe serve --listen 127.0.0.1:9092 --data-dir ./floe-data

# build-fuzz/: Clang with AddressSanitizer + UndefinedBehaviorSanitizer and
# libFuzzer; only the fuzz targets and what they link.
fuzz: deps
	CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz $(CMAKE_COMMON) \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFLOE_SANITIZE=ON -DFLOE_FUZZ=ON \
	  -DFLOE_TESTS=OFF -DFLOE_BENCH=OFF
	cmake --build build-fuzz -j $(JOBS) --target fuzz_targets

# The whole suite: unit tests, generated-code check, client golden vectors and
# fuzzers under sanitizers, in one ctest run whose summary is the last line.
test: fuzz build
	cd build && ctest --output-on-failure -j $(JOBS) --timeout 1800

debug: deps
	cmake -S . -B build-debug $(CMAKE_COMMON) -DCMAKE_BUILD_TYPE=Debug
	cmake --build build-debug -j $(JOBS)

release: deps
	cmake -S . -B build-release $(CMAKE_COMMON) -DCMAKE_BUILD_TYPE=Release
	cmake --build build-release -j $(JOBS)

# Unit tests built and run under ASan+UBSan (Clang).
asan: deps
	CC=clang-14 CXX=clang++-14 cmake -S . -B build-asan $(CMAKE_COMMON) \
	  -DCMAKE_BUILD_TYPE=Debug -DFLOE_SANITIZE=ON -DFLOE_BENCH=OFF
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS) -E '^fuzz\.'

bench: deps
	cmake -S . -B build-release $(CMAKE_COMMON) -DCMAKE_BUILD_TYPE=Release -DFLOE_TESTS=OFF
	cmake --build build-release -j $(JOBS) --target benchmarks floe
	bash bench/run.sh build-release
	.deps/venv/bin/python bench/broker/producer_bench.py build-release/floe
	.deps/venv/bin/python bench/broker/group_bench.py --floe-bin build-release/floe
	.deps/venv/bin/python bench/side_by_side/run.py --floe-bin build-release/floe

# Regenerates the Kafka protocol codecs from the reference message specs.
generate:
	python3 tools/kafka_codegen/generate.py --specs ../shared/reference/kafka/messages \
	  --out src/kafka/protocol/generated

check-generated:
	python3 tools/kafka_codegen/generate.py --specs ../shared/reference/kafka/messages \
	  --out src/kafka/protocol/generated --check

format:
	find src bench tests -name '*.h' -o -name '*.cc' | grep -v /generated/ | xargs clang-format -i

tidy: build
	find src -name '*.cc' | grep -v /generated/ | xargs clang-tidy -p build --quiet --extra-arg=-Wno-unknown-warning-option

clean:
	rm -rf build build-fuzz build-debug build-release build-asan
