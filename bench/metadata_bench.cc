// Embedded metadata store: latency of a durable put, a CAS txn, a get, and a
// 100-key prefix range. Each write is one fsynced SQLite transaction, so the
// write figures are bounded by the device's fsync latency.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "metadata/embedded_store.h"
#include "metadata/registry_keys.h"

namespace {

using namespace floe::metadata;

struct bench_store {
    bench_store() {
        std::string pattern = (std::filesystem::temp_directory_path() / "floe-meta-bench-XXXXXX");
        if (mkdtemp(pattern.data()) == nullptr) {
            abort();
        }
        dir = pattern;
        embedded_store_options options;
        options.directory = dir;
        store = embedded_store::open(options).value();
    }
    ~bench_store() {
        store.reset();
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    std::filesystem::path dir;
    std::unique_ptr<embedded_store> store;
};

void BM_metadata_put(benchmark::State& state) {
    bench_store s;
    std::string value(static_cast<size_t>(state.range(0)), 'v');
    int64_t i = 0;
    for (auto _ : state) {
        auto r = s.store->put("/bench/" + std::to_string(i++ % 1000), value);
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_metadata_put)->Arg(100)->Arg(4096)->UseRealTime();

void BM_metadata_allocate_id(benchmark::State& state) {
    bench_store s;
    for (auto _ : state) {
        auto r = allocate_id(*s.store, object_id_counter);
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_metadata_allocate_id)->UseRealTime();

void BM_metadata_get(benchmark::State& state) {
    bench_store s;
    for (int i = 0; i < 1000; ++i) {
        (void)s.store->put("/bench/" + std::to_string(i), std::string(100, 'v'));
    }
    int64_t i = 0;
    for (auto _ : state) {
        auto r = s.store->get("/bench/" + std::to_string(i++ % 1000));
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_metadata_get);

void BM_metadata_range_prefix_100(benchmark::State& state) {
    bench_store s;
    for (int i = 0; i < 1000; ++i) {
        (void)s.store->put("/bench/" + std::to_string(i), std::string(100, 'v'));
    }
    for (auto _ : state) {
        auto r = s.store->range({key_range::with_prefix("/bench/1"), 100, 0});
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(state.iterations() * 100);
}
BENCHMARK(BM_metadata_range_prefix_100);

}  // namespace
BENCHMARK_MAIN();
