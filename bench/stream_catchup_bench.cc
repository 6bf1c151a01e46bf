// Catch-up read throughput from objects: a consumer far behind reads streams
// from offset 0, every byte coming from objects in the local directory backend
// through a COLD block cache (a fresh stream_store instance).
//
//   FLOE_BENCH_DIR=/path build-s3fault-rel/bench/stream_catchup_bench
//
// Environment: FLOE_BENCH_DIR (default /tmp), FLOE_BENCH_MIB (data written,
// default 1024), FLOE_BENCH_STREAMS (default 4), FLOE_BENCH_ENTRY_KIB (bytes
// per append, default 64).
//
// The data is written through the store (WAL, uploader), every object file is
// synced and then dropped from the OS page cache with
// posix_fadvise(POSIX_FADV_DONTNEED), so the "cold" pass reads from the device
// as well as through a cold block cache. A second fresh instance then reads
// again with the page cache warm. A plain main(): one timed pass each.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "base/shared_buffer.h"
#include "metadata/embedded_store.h"
#include "objstore/local_store.h"
#include "stream/stream_store.h"
#include "wal/file.h"

namespace {

using namespace floe;
using namespace floe::stream;
using clock_type = std::chrono::steady_clock;

constexpr uint64_t k_wal_capacity = 512ull << 20;

uint64_t env_or(const char* name, uint64_t fallback) {
    const char* v = std::getenv(name);
    return v ? std::strtoull(v, nullptr, 10) : fallback;
}

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "stream_catchup_bench: %s\n", what.c_str());
    std::exit(1);
}

std::unique_ptr<stream_store> open_store(const std::filesystem::path& dir, bool fresh_wal) {
    stream_store_options o;
    o.wal.owner = node_id(1);
    o.wal.owner_epoch = epoch(1);
    o.wal.capacity = fresh_wal ? k_wal_capacity : 0;
    o.log_cache_bytes = 64 << 20;
    o.block_cache_bytes = 64 << 20;
    o.upload_bytes = 64 << 20;
    o.upload_age = std::chrono::milliseconds(500);
    o.max_object_bytes = 64 << 20;
    auto file =
        posix_file::open((dir / "wal").string(), wal_format::k_data_offset + k_wal_capacity);
    auto objects = objstore::local_store::open((dir / "objects").string());
    auto meta = metadata::embedded_store::open({.directory = dir / "meta"});
    if (!file || !objects || !meta) {
        die("cannot open the storage under " + dir.string());
    }
    auto opened = stream_store::open(o, std::shared_ptr<wal_file>(std::move(*file)),
                                     std::shared_ptr<objstore::object_store>(std::move(*objects)),
                                     std::shared_ptr<metadata::store>(std::move(*meta)));
    if (!opened) {
        die("open: " + opened.error_value().to_string());
    }
    return std::move(*opened);
}

void write_data(stream_store& store, uint64_t streams, uint64_t total, size_t entry) {
    for (uint64_t s = 1; s <= streams; ++s) {
        if (!store.open_stream(stream_id(s), epoch(1))) {
            die("open_stream");
        }
    }
    byte_vector payload(entry);
    for (size_t i = 0; i < entry; ++i) {
        payload[i] = static_cast<uint8_t>(i * 131 + 7);
    }
    std::mutex mutex;
    std::condition_variable changed;
    int outstanding = 0;
    std::atomic<bool> failed{false};
    uint64_t entries = total / entry;
    for (uint64_t i = 0; i < entries; ++i) {
        uint64_t s = 1 + i % streams;
        {
            std::unique_lock lock(mutex);
            changed.wait(lock, [&] { return outstanding < 64; });
            ++outstanding;
        }
        status accepted =
            store.append(stream_id(s), epoch(1), offset(static_cast<int64_t>(i / streams)), 1, 0,
                         payload, [&](status r) {
                             if (!r) {
                                 failed = true;
                             }
                             std::lock_guard lock(mutex);
                             --outstanding;
                             changed.notify_all();
                         });
        if (!accepted) {
            die("append: " + accepted.error_value().to_string());
        }
    }
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return outstanding == 0; });
    if (failed) {
        die("an append failed");
    }
}

void drop_page_cache(const std::filesystem::path& dir) {
    for (const auto& f : std::filesystem::recursive_directory_iterator(dir)) {
        if (!f.is_regular_file()) {
            continue;
        }
        int fd = ::open(f.path().c_str(), O_RDONLY);
        if (fd < 0) {
            continue;
        }
        (void)::fdatasync(fd);
        (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        ::close(fd);
    }
}

struct pass_result {
    uint64_t bytes = 0;
    double seconds = 0;
    uint64_t fetches = 0;
};

pass_result read_all(stream_store& store, uint64_t streams) {
    pass_result r;
    auto start = clock_type::now();
    for (uint64_t s = 1; s <= streams; ++s) {
        offset cursor(0);
        for (;;) {
            auto entries = store.read(stream_id(s), cursor, 1 << 20);
            if (!entries) {
                die("read: " + entries.error_value().to_string());
            }
            if (entries->empty()) {
                break;
            }
            for (const auto& e : *entries) {
                r.bytes += e.payload.size();
            }
            cursor = entries->back().end_offset();
        }
    }
    r.seconds = std::chrono::duration<double>(clock_type::now() - start).count();
    r.fetches = store.statistics().object_block_fetches;
    return r;
}

}  // namespace

int main() {
    const char* base = std::getenv("FLOE_BENCH_DIR");
    std::string templ =
        (std::filesystem::path(base ? base : "/tmp") / "floe-catchup-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) {
        die("mkdtemp");
    }
    std::filesystem::path dir = templ;
    const uint64_t total = env_or("FLOE_BENCH_MIB", 1024) << 20;
    const uint64_t streams = env_or("FLOE_BENCH_STREAMS", 4);
    const size_t entry = env_or("FLOE_BENCH_ENTRY_KIB", 64) << 10;

    auto write_start = clock_type::now();
    {
        auto store = open_store(dir, true);
        write_data(*store, streams, total, entry);
        while (store->statistics().pending_bytes > 0) {
            if (!store->upload_now()) {
                die("upload_now failed");
            }
        }
    }
    double write_seconds = std::chrono::duration<double>(clock_type::now() - write_start).count();
    uint64_t object_files = 0;
    for (const auto& f : std::filesystem::recursive_directory_iterator(dir / "objects")) {
        object_files += f.is_regular_file() ? 1 : 0;
    }
    drop_page_cache(dir);

    pass_result cold;
    {
        auto store = open_store(dir, false);  // fresh instance: cold block cache
        cold = read_all(*store, streams);
    }
    pass_result warm;
    {
        auto store = open_store(dir, false);  // cold block cache, warm page cache
        warm = read_all(*store, streams);
    }
    std::filesystem::remove_all(dir);

    auto mbps = [](const pass_result& r) { return static_cast<double>(r.bytes) / r.seconds / 1e6; };
    std::printf("wrote %.0f MiB in %llu streams (%zu KiB appends, %llu object files) in %.1f s\n",
                static_cast<double>(total) / (1 << 20), static_cast<unsigned long long>(streams),
                entry >> 10, static_cast<unsigned long long>(object_files), write_seconds);
    std::printf("| pass | bytes read | seconds | MB/s | ranged GETs |\n|---|---|---|---|---|\n");
    std::printf("| cold block cache, page cache dropped (fadvise) | %llu | %.2f | %.0f | %llu |\n",
                static_cast<unsigned long long>(cold.bytes), cold.seconds, mbps(cold),
                static_cast<unsigned long long>(cold.fetches));
    std::printf("| cold block cache, page cache warm | %llu | %.2f | %.0f | %llu |\n",
                static_cast<unsigned long long>(warm.bytes), warm.seconds, mbps(warm),
                static_cast<unsigned long long>(warm.fetches));
    std::printf("target >= 300 MB/s (cold): %s\n", mbps(cold) >= 300 ? "met" : "NOT met");
    return 0;
}
