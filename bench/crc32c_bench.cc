// CRC-32C throughput: the dispatching entry point (SSE4.2, three streams when
// the CPU has it) against the portable slicing-by-8 code, over buffers that
// fit L1, L2 and beyond.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "base/crc32c.h"

namespace {

std::vector<uint8_t> buffer(size_t n) {
    std::vector<uint8_t> data(n);
    for (size_t i = 0; i < n; ++i)
        data[i] = static_cast<uint8_t>(i * 31 + 7);
    return data;
}

void BM_Crc32cHardware(benchmark::State& state) {
    if (!floe::crc32c_hardware_available()) {
        state.SkipWithError("no SSE4.2 on this CPU");
        return;
    }
    auto data = buffer(static_cast<size_t>(state.range(0)));
    for (auto _ : state) {
        benchmark::DoNotOptimize(floe::crc32c_extend(0, data.data(), data.size()));
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

void BM_Crc32cPortable(benchmark::State& state) {
    auto data = buffer(static_cast<size_t>(state.range(0)));
    for (auto _ : state) {
        benchmark::DoNotOptimize(floe::crc32c_portable(0, data.data(), data.size()));
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

// crc(A ++ B) from crc(A), crc(B) and |B|: what the WAL pays per record
// whose payload CRC was computed on the caller's thread.
void BM_Crc32cCombine(benchmark::State& state) {
    const size_t length = static_cast<size_t>(state.range(0));
    uint32_t a = 0x12345678u;
    for (auto _ : state) {
        a = floe::crc32c_combine(a, 0x9abcdef0u, length);
        benchmark::DoNotOptimize(a);
    }
}

BENCHMARK(BM_Crc32cHardware)->Arg(4 << 10)->Arg(64 << 10)->Arg(1 << 20);
BENCHMARK(BM_Crc32cCombine)->Arg(100)->Arg(4 << 10)->Arg(16 << 10)->Arg(1 << 20);
BENCHMARK(BM_Crc32cPortable)->Arg(4 << 10)->Arg(64 << 10)->Arg(1 << 20);

}  // namespace

BENCHMARK_MAIN();
