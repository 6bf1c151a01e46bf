// stream_store benchmarks: acknowledged appends (WAL-bound) and reads served
// from the log cache, the WAL and objects. Storage lives in a temp directory
// (WAL file, local object store, embedded metadata).
//
//   build/bench/stream_store_bench --benchmark_filter=Append
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <memory>
#include <string>

#include "base/shared_buffer.h"
#include "metadata/embedded_store.h"
#include "objstore/local_store.h"
#include "stream/stream_store.h"
#include "wal/file.h"

namespace {

using namespace floe;
using namespace floe::stream;

constexpr uint64_t k_capacity = 64 << 20;

struct fixture {
    std::filesystem::path dir;
    std::unique_ptr<stream_store> store;

    explicit fixture(size_t log_cache_bytes) {
        std::string templ = (std::filesystem::temp_directory_path() / "floe-sbench-XXXXXX");
        dir = ::mkdtemp(templ.data());
        stream_store_options o;
        o.wal.owner = node_id(1);
        o.wal.owner_epoch = epoch(1);
        o.wal.capacity = k_capacity;
        o.log_cache_bytes = log_cache_bytes;
        o.upload_bytes = 1ull << 40;
        o.upload_age = std::chrono::hours(1);
        auto file =
            posix_file::open((dir / "wal").string(), wal_format::k_data_offset + k_capacity);
        auto objects = objstore::local_store::open((dir / "objects").string());
        auto meta = metadata::embedded_store::open({.directory = dir / "meta"});
        if (!file || !objects || !meta) {
            std::abort();
        }
        auto opened =
            stream_store::open(o, std::shared_ptr<wal_file>(std::move(*file)),
                               std::shared_ptr<objstore::object_store>(std::move(*objects)),
                               std::shared_ptr<metadata::store>(std::move(*meta)));
        if (!opened) {
            std::abort();
        }
        store = std::move(*opened);
        (void)store->open_stream(stream_id(1), epoch(1));
    }
    ~fixture() {
        store.reset();
        std::filesystem::remove_all(dir);
    }
    offset append_n(offset next, int n, size_t size) {
        byte_vector payload(size, 0x5a);
        std::promise<void> last;
        auto done = last.get_future();
        for (int i = 0; i < n; ++i) {
            bool final_one = i == n - 1;
            status s = store->append(stream_id(1), epoch(1), next, 1, 0, payload,
                                     [&last, final_one](status) {
                                         if (final_one) {
                                             last.set_value();
                                         }
                                     });
            if (!s) {
                std::abort();
            }
            next = next + 1;
        }
        done.wait();
        return next;
    }
};

// Pipelined appends of `size` bytes, 64 per wait.
void BM_AppendAcknowledged(benchmark::State& state) {
    fixture f(64 << 20);
    size_t size = static_cast<size_t>(state.range(0));
    offset next(0);
    for (auto _ : state) {
        next = f.append_n(next, 64, size);
        if (f.store->statistics().pending_bytes > (16u << 20)) {
            state.PauseTiming();
            (void)f.store->upload_now();
            state.ResumeTiming();
        }
    }
    state.SetItemsProcessed(state.iterations() * 64);
    state.SetBytesProcessed(state.iterations() * 64 * static_cast<int64_t>(size));
}
BENCHMARK(BM_AppendAcknowledged)->Arg(1024)->Arg(16 << 10)->UseRealTime();

// Sequential reads of 1 MiB: arg 0 from the log cache, 1 from the WAL,
// 2 from objects (block cache cold at the start of each pass).
void BM_ReadSequential(benchmark::State& state) {
    int source = static_cast<int>(state.range(0));
    fixture f(source == 0 ? (256 << 20) : 0);
    offset end = f.append_n(offset(0), 8192, 4096);  // 32 MiB
    if (source == 2) {
        (void)f.store->upload_now();
    }
    int64_t bytes = 0;
    offset cursor(0);
    for (auto _ : state) {
        if (cursor == end) {
            cursor = offset(0);
        }
        auto entries = f.store->read(stream_id(1), cursor, 1 << 20);
        if (!entries || entries->empty()) {
            std::abort();
        }
        for (const auto& e : *entries) {
            bytes += static_cast<int64_t>(e.payload.size());
        }
        cursor = entries->back().end_offset();
    }
    state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_ReadSequential)->Arg(0)->Arg(1)->Arg(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
