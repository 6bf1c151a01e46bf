// Resident memory of a stream_store under a long mixed load: paced appends to
// several streams, a tail reader per stream (log cache), and a catch-up
// reader that reads the streams from offset 0 over and over (objects through
// the block cache). VmRSS (/proc/self/status) is sampled every second; the
// target is max RSS <= log cache + block cache + 64 MiB.
//
//   FLOE_BENCH_SECONDS=120 build-streammem-rel/bench/stream_memory_bench
//
// Environment: FLOE_BENCH_SECONDS (default 600), FLOE_BENCH_MBPS (offered
// append load in MB/s, default 20), FLOE_BENCH_DIR (default /tmp),
// FLOE_BENCH_LOG_CACHE_MIB / FLOE_BENCH_BLOCK_CACHE_MIB (default 64 each),
// FLOE_BENCH_UPLOAD_MIB (upload threshold, default 16; objects up to twice it),
// FLOE_BENCH_READAHEAD (most blocks per ranged GET, default the store's),
// FLOE_BENCH_BUILD_MIB (build_memory_bytes: upload / compaction buffers,
// default the store's 48 MiB; it must fit in the 64 MiB over the caches),
// FLOE_BENCH_TUNE_ALLOCATOR (0 = leave glibc malloc's dynamic mmap threshold).
// The catch-up reader copies every payload into a 1 MiB scratch buffer, as a
// fetch response would.
// Storage: WAL file, local object store, embedded metadata in a temp dir
// (removed at exit). A plain main(): a time-based multi-threaded run.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/shared_buffer.h"
#include "metadata/embedded_store.h"
#include "objstore/local_store.h"
#include "stream/stream_store.h"
#include "wal/file.h"

namespace {

using namespace floe;
using namespace floe::stream;
using clock_type = std::chrono::steady_clock;

constexpr uint64_t k_wal_capacity = 256ull << 20;
constexpr uint64_t k_streams = 4;
constexpr size_t k_entry = 16 << 10;

uint64_t env_or(const char* name, uint64_t fallback) {
    const char* v = std::getenv(name);
    return v ? std::strtoull(v, nullptr, 10) : fallback;
}

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "stream_memory_bench: %s\n", what.c_str());
    std::exit(1);
}

uint64_t resident_bytes() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) {
            return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
        }
    }
    return 0;
}

}  // namespace

int main() {
    const uint64_t seconds = env_or("FLOE_BENCH_SECONDS", 600);
    const double rate = static_cast<double>(env_or("FLOE_BENCH_MBPS", 20)) * 1e6;
    const uint64_t log_cache = env_or("FLOE_BENCH_LOG_CACHE_MIB", 64) << 20;
    const uint64_t block_cache = env_or("FLOE_BENCH_BLOCK_CACHE_MIB", 64) << 20;
    const uint64_t budget = log_cache + block_cache + (64ull << 20);

    const char* base = std::getenv("FLOE_BENCH_DIR");
    std::string templ =
        (std::filesystem::path(base ? base : "/tmp") / "floe-membench-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) {
        die("mkdtemp");
    }
    std::filesystem::path dir = templ;

    stream_store_options o;
    o.wal.owner = node_id(1);
    o.wal.owner_epoch = epoch(1);
    o.wal.capacity = k_wal_capacity;
    o.wal.max_queued_bytes = 8 << 20;
    o.log_cache_bytes = log_cache;
    o.block_cache_bytes = block_cache;
    o.upload_bytes = env_or("FLOE_BENCH_UPLOAD_MIB", 16) << 20;
    o.upload_age = std::chrono::milliseconds(1000);
    o.max_object_bytes = 2 * o.upload_bytes;
    o.max_readahead_blocks = env_or("FLOE_BENCH_READAHEAD", o.max_readahead_blocks);
    o.build_memory_bytes = env_or("FLOE_BENCH_BUILD_MIB", o.build_memory_bytes >> 20) << 20;
    o.tune_allocator = env_or("FLOE_BENCH_TUNE_ALLOCATOR", 1) != 0;
    const uint64_t rss_before_store = resident_bytes();
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
    std::unique_ptr<stream_store> store = std::move(*opened);
    for (uint64_t s = 1; s <= k_streams; ++s) {
        if (!store->open_stream(stream_id(s), epoch(1))) {
            die("open_stream");
        }
    }

    std::atomic<bool> stop{false};
    std::atomic<uint64_t> appended{0}, tail_read{0}, catchup_read{0}, catchup_laps{0},
        early_ends{0};

    // Appender: round-robin over the streams, paced, up to 64 in flight.
    std::thread appender([&] {
        byte_vector payload(k_entry, 0x5a);
        std::mutex mutex;
        std::condition_variable changed;
        int outstanding = 0;
        std::vector<int64_t> next(k_streams + 1, 0);
        uint64_t issued = 0;
        auto start = clock_type::now();
        for (uint64_t i = 0; !stop.load(); ++i) {
            double elapsed = std::chrono::duration<double>(clock_type::now() - start).count();
            if (static_cast<double>(issued) > rate * elapsed) {
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
                continue;
            }
            uint64_t s = 1 + i % k_streams;
            {
                std::unique_lock lock(mutex);
                changed.wait(lock, [&] { return outstanding < 64; });
                ++outstanding;
            }
            status accepted = store->append(
                stream_id(s), epoch(1), offset(next[s]), 1, 0, payload, [&](status r) {
                    if (!r) {
                        die("append failed: " + r.error_value().to_string());
                    }
                    appended += k_entry;
                    std::lock_guard lock(mutex);
                    --outstanding;
                    changed.notify_all();
                });
            if (!accepted) {
                std::lock_guard lock(mutex);
                --outstanding;
                continue;  // back-pressure: retry the same offset
            }
            next[s] += 1;
            issued += k_entry;
        }
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return outstanding == 0; });
    });

    // Tail reader: follows every stream's high watermark.
    std::thread tail([&] {
        std::vector<offset> cursor(k_streams + 1, offset(0));
        while (!stop.load()) {
            bool any = false;
            for (uint64_t s = 1; s <= k_streams; ++s) {
                auto entries = store->read(stream_id(s), cursor[s], 1 << 20);
                if (!entries) {
                    die("tail read: " + entries.error_value().to_string());
                }
                for (const auto& e : *entries) {
                    tail_read += e.payload.size();
                }
                if (!entries->empty()) {
                    cursor[s] = entries->back().end_offset();
                    any = true;
                }
            }
            if (!any) {
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
        }
    });

    // Catch-up reader: stream by stream from offset 0 to the high watermark,
    // then again (objects and block cache, some WAL / log cache at the end).
    std::thread catchup([&] {
        byte_vector scratch(1 << 20);  // where a fetch response would gather the bytes
        while (!stop.load()) {
            for (uint64_t s = 1; s <= k_streams && !stop.load(); ++s) {
                offset cursor(0);
                while (!stop.load()) {
                    auto entries = store->read(stream_id(s), cursor, 1 << 20);
                    if (!entries) {
                        die("catch-up read: " + entries.error_value().to_string());
                    }
                    if (entries->empty()) {
                        auto info = store->info(stream_id(s));
                        if (info && info->high_watermark.value() - cursor.value() > 1000) {
                            ++early_ends;  // empty although far below the high watermark
                            if (early_ends.load() <= 3) {
                                std::fprintf(
                                    stderr,
                                    "early end: stream %llu at %lld, hw %lld, committed end %lld\n",
                                    static_cast<unsigned long long>(s),
                                    static_cast<long long>(cursor.value()),
                                    static_cast<long long>(info->high_watermark.value()),
                                    static_cast<long long>(info->record.committed_end.value()));
                            }
                        }
                        break;
                    }
                    for (const auto& e : *entries) {
                        std::memcpy(scratch.data(), e.payload.data(),
                                    std::min(e.payload.size(), scratch.size()));
                        catchup_read += e.payload.size();
                    }
                    cursor = entries->back().end_offset();
                }
            }
            ++catchup_laps;
        }
    });

    std::printf(
        "upload threshold %llu MiB, max object %llu MiB, build memory %llu MiB, "
        "read-ahead %llu blocks, allocator tuned: %s\n",
        static_cast<unsigned long long>(o.upload_bytes >> 20),
        static_cast<unsigned long long>(o.max_object_bytes >> 20),
        static_cast<unsigned long long>(o.build_memory_bytes >> 20),
        static_cast<unsigned long long>(o.max_readahead_blocks), o.tune_allocator ? "yes" : "no");
    std::printf("t(s)  RSS(MiB)  appended(MiB)  tail(MiB)  catch-up(MiB)  pending(MiB)\n");
    uint64_t max_rss = 0;
    uint64_t max_at = 0;
    auto start = clock_type::now();
    for (uint64_t t = 1; t <= seconds; ++t) {
        std::this_thread::sleep_until(start + std::chrono::seconds(t));
        uint64_t rss = resident_bytes();
        if (rss > max_rss) {
            max_rss = rss;
            max_at = t;
        }
        if (t % 10 == 0 || t == seconds) {
            std::printf("%4llu  %8.1f  %13.1f  %9.1f  %13.1f  %12.1f\n",
                        static_cast<unsigned long long>(t), static_cast<double>(rss) / (1 << 20),
                        static_cast<double>(appended.load()) / (1 << 20),
                        static_cast<double>(tail_read.load()) / (1 << 20),
                        static_cast<double>(catchup_read.load()) / (1 << 20),
                        static_cast<double>(store->statistics().pending_bytes) / (1 << 20));
            std::fflush(stdout);
        }
    }
    stop = true;
    appender.join();
    tail.join();
    catchup.join();
    auto stats = store->statistics();
    store.reset();
    std::filesystem::remove_all(dir);

    const double mib = 1 << 20;
    std::printf(
        "\n| run | appended | tail read | catch-up read (laps) | objects | max RSS (at t) | "
        "budget (log + block cache + 64 MiB) | within |\n|---|---|---|---|---|---|---|---|\n");
    std::printf(
        "| %llu s, %.0f MB/s offered | %.0f MiB | %.0f MiB | %.0f MiB (%llu) | %llu | "
        "%.1f MiB (%llu s) | %.0f MiB | %s |\n",
        static_cast<unsigned long long>(seconds), rate / 1e6,
        static_cast<double>(appended.load()) / mib, static_cast<double>(tail_read.load()) / mib,
        static_cast<double>(catchup_read.load()) / mib,
        static_cast<unsigned long long>(catchup_laps.load()),
        static_cast<unsigned long long>(stats.objects_uploaded), static_cast<double>(max_rss) / mib,
        static_cast<unsigned long long>(max_at), static_cast<double>(budget) / mib,
        max_rss <= budget ? "yes" : "NO");
    std::printf(
        "RSS before opening the store: %.1f MiB; catch-up reads that ended empty far "
        "below the high watermark: %llu\n",
        static_cast<double>(rss_before_store) / mib,
        static_cast<unsigned long long>(early_ends.load()));
    return max_rss <= budget ? 0 : 2;
}
