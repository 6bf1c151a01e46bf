// WAL benchmark: the device's own limits, then the WAL on the same device.
//
//   FLOE_BENCH_DIR=/path/on/the/device build-release/bench/wal_bench
//
// (a) raw device: 16 KiB sequential O_DIRECT writes each followed by
//     fdatasync (latency p50/p99/p99.9), and sequential write bandwidth
//     (1 MiB O_DIRECT writes, one fdatasync at the end);
// (b) WAL sustained append throughput, 1 KiB..64 KiB appends from 4 producer
//     threads (each keeps up to 4 MiB of appends outstanding, at least 64
//     appends), a trimmer keeping the ring half free;
// (c) WAL append latency (append() to callback) p50/p99/p99.9 with producers
//     paced at about half of the throughput measured in (b), in slices that
//     alternate with (d) the device's write+fdatasync latency under the same
//     load (as many concurrent writers as the WAL has groups in flight, each
//     writing the WAL's mean group size of the slice before, the same bytes/s:
//     the device's own p99 at that throughput, the baseline of the latency
//     target), so that both sides see the same machine; the same device
//     writes are also timed from when each was due (open loop, as the WAL's
//     appends are), for reference;
// (e) the device's write+fdatasync latency alone (one write at a time) at the
//     WAL's mean group size in each (c) run; then each storage target with
//     "met" / "NOT met".
// WAL options: wal_options defaults, or FLOE_BENCH_GROUP_BYTES /
// FLOE_BENCH_IN_FLIGHT / FLOE_BENCH_GROUP_DELAY_US. Experiments: FLOE_BENCH_SIZES="4096,16384"
// (append sizes), FLOE_BENCH_ROUNDS=N (half-load rounds, default 5), FLOE_BENCH_HALF_RATE=N
// (half-load runs at N appends/s, skipping the maximum runs), FLOE_BENCH_TICK_US=N (producers wake
// at most every N us at half load and send what fell due). Throughput in (b) is bounded by the
// producers' window (4 x 4 MiB outstanding) divided by the append latency (Little's law). Files are
// zero-filled and written over once first, so writes overwrite allocated blocks, as a WAL ring does
// after its first lap; every WAL run reuses one file, as a broker keeps its WAL.
// A plain main() rather than Google Benchmark: these are multi-threaded, time-based runs with
// latency percentiles.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/thread_name.h"
#include "wal/file.h"
#include "wal/wal.h"

namespace {

using clock_type = std::chrono::steady_clock;

double micros(clock_type::duration d) {
    return std::chrono::duration<double, std::micro>(d).count();
}

// User + system CPU seconds of this process so far.
double cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    auto sec = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return sec(u.ru_utime) + sec(u.ru_stime);
}

struct percentiles {
    double p50, p99, p999;
};

percentiles summarize(std::vector<double>& v) {
    std::sort(v.begin(), v.end());
    auto at = [&](double q) {
        return v.empty() ? 0.0 : v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
    };
    return {at(0.50), at(0.99), at(0.999)};
}

std::string bench_dir() {
    const char* d = std::getenv("FLOE_BENCH_DIR");
    return d ? d : "/tmp/floe-wal-bench";
}

// Sequential O_DIRECT writes of `block_size` bytes, each followed by
// fdatasync, through the same posix_file the WAL uses.
percentiles raw_sync_latency(floe::posix_file& file, size_t block_size, int n) {
    floe::aligned_buffer block(block_size);
    std::fill_n(block.data(), block.size(), uint8_t{0xA5});
    std::vector<double> lat;
    uint64_t at = 0;
    for (int i = 0; i < n; ++i) {
        if (at + block.size() > file.size()) {
            at = 0;
        }
        auto t0 = clock_type::now();
        if (!file.write(at, {block.data(), block.size()}) || !file.sync()) {
            std::fprintf(stderr, "raw write failed\n");
            std::exit(1);
        }
        lat.push_back(micros(clock_type::now() - t0));
        at += block.size();
    }
    return summarize(lat);
}

// Creates `path` with `size` bytes (zero-filled), then writes it over once
// with a pattern and syncs: every later write overwrites blocks the file
// system and the device already hold, as in a WAL ring after its first lap
// (the first lap through a new file is slower per sync; see
// docs/benchmarks.md). The WAL file and the device's file get the same
// treatment.
std::unique_ptr<floe::posix_file> create_written(const std::string& path, uint64_t size) {
    std::filesystem::remove(path);
    auto file = floe::posix_file::open(path, size, {.zero_fill = true});
    if (!file) {
        std::fprintf(stderr, "%s: %s\n", path.c_str(), file.error_value().to_string().c_str());
        std::exit(1);
    }
    floe::aligned_buffer block(1 << 20);
    std::fill_n(block.data(), block.size(), uint8_t{0x3C});
    for (uint64_t at = 0; at < size; at += block.size()) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(block.size(), size - at));
        if (!(*file)->write(at, {block.data(), n})) {
            std::exit(1);
        }
    }
    if (!(*file)->sync()) {
        std::exit(1);
    }
    return std::move(*file);
}

std::unique_ptr<floe::posix_file> open_raw(const std::string& dir) {
    return create_written(dir + "/raw.bin", 256ull << 20);
}

// Device write+fdatasync p99 for each block size in `sizes`, printed.
std::vector<double> raw_sync_table(const std::string& dir, const std::vector<size_t>& sizes) {
    auto file = open_raw(dir);
    std::vector<double> p99s;
    for (size_t size : sizes) {
        auto p = raw_sync_latency(*file, size, 2000);
        std::printf("raw %4zu KiB write+fdatasync: p50 %.0f us  p99 %.0f us  p99.9 %.0f us\n",
                    size / 1024, p.p50, p.p99, p.p999);
        p99s.push_back(p.p99);
    }
    std::filesystem::remove(dir + "/raw.bin");
    return p99s;
}

// The device under the WAL's own load: `writers` threads (the WAL's
// max_in_flight), each writing `block_size` bytes at the next place of one
// shared sequential cursor and then calling fdatasync -- the I/O pattern of
// the WAL's concurrent groups, without the WAL -- paced together at
// `bytes_per_s`. Latency from each write's start to its sync's return.
// Appends the latency samples (us) to `samples`: from each write's start to
// its sync's return. `from_due` gets each write's latency from the time it
// was due by the pacing instead: when a slow sync holds a writer back, the
// writes that fell due meanwhile count their wait, as the WAL's appends that
// arrive during a slow sync do (the plain samples leave that wait out).
void raw_loaded_latency(floe::posix_file& file, size_t block_size, int writers, double bytes_per_s,
                        std::chrono::milliseconds duration, std::vector<double>& samples,
                        std::vector<double>& from_due) {
    std::atomic<uint64_t> cursor{0};
    std::mutex samples_mutex;
    auto start = clock_type::now();
    auto end_at = start + duration;
    double per_writer = bytes_per_s / static_cast<double>(block_size) / writers;
    auto interval = std::chrono::duration_cast<clock_type::duration>(
        std::chrono::duration<double>(1.0 / per_writer));
    std::vector<std::thread> threads;
    for (int t = 0; t < writers; ++t) {
        threads.emplace_back([&, t] {
            floe::aligned_buffer block(block_size);
            std::fill_n(block.data(), block.size(), static_cast<uint8_t>(0xA0 + t));
            std::vector<double> mine;
            std::vector<double> mine_from_due;
            // Writers start spread over one interval, as groups do.
            auto next = start + interval * t / writers;
            while (clock_type::now() < end_at) {
                std::this_thread::sleep_until(next);
                auto due = next;
                next += interval;
                uint64_t at =
                    cursor.fetch_add(block_size) % (file.size() / block_size) * block_size;
                auto t0 = clock_type::now();
                if (!file.write(at, {block.data(), block.size()}) || !file.sync()) {
                    std::fprintf(stderr, "raw write failed\n");
                    std::exit(1);
                }
                auto t1 = clock_type::now();
                mine.push_back(micros(t1 - t0));
                mine_from_due.push_back(micros(t1 - due));
            }
            std::lock_guard lock(samples_mutex);
            samples.insert(samples.end(), mine.begin(), mine.end());
            from_due.insert(from_due.end(), mine_from_due.begin(), mine_from_due.end());
        });
    }
    for (auto& t : threads) {
        t.join();
    }
}

double raw_device(const std::string& dir) {
    std::string path = dir + "/raw.bin";
    auto file = open_raw(dir);
    constexpr uint64_t size = 256ull << 20;
    std::printf("file mode: %s\n", file->mode().c_str());
    constexpr int n = 3000;
    auto p = raw_sync_latency(*file, 16 * 1024, n);
    std::printf("raw 16 KiB write+fdatasync: p50 %.0f us  p99 %.0f us  p99.9 %.0f us  (%d ops)\n",
                p.p50, p.p99, p.p999, n);
    floe::aligned_buffer big(1 << 20);
    std::fill_n(big.data(), big.size(), uint8_t{0x5A});
    // Best of three passes (the device is shared; one pass is ~60 ms).
    double best = 0;
    for (int pass = 0; pass < 3; ++pass) {
        auto t0 = clock_type::now();
        for (uint64_t off = 0; off < size; off += big.size()) {
            if (!file->write(off, {big.data(), big.size()})) {
                std::exit(1);
            }
        }
        if (!file->sync()) {
            std::exit(1);
        }
        double seconds = micros(clock_type::now() - t0) / 1e6;
        best = std::max(best, 256 / seconds);
    }
    std::printf(
        "raw sequential write (1 MiB O_DIRECT, 256 MiB, one fdatasync; best of 3): "
        "%.0f MiB/s\n",
        best);
    file.reset();
    std::filesystem::remove(path);
    return best;
}

size_t env_size(const char* name, size_t fallback) {
    const char* v = std::getenv(name);
    return v ? static_cast<size_t>(std::strtoull(v, nullptr, 10)) : fallback;
}

// The WAL's options under test; the defaults are wal_options' defaults.
size_t group_bytes() {
    return env_size("FLOE_BENCH_GROUP_BYTES", floe::wal_options{}.max_group_bytes);
}
// Producers' pacing tick at half load, in microseconds (0: one wake-up per
// append).
std::chrono::microseconds pacing_tick() {
    return std::chrono::microseconds(env_size("FLOE_BENCH_TICK_US", 0));
}
size_t in_flight() {
    return env_size("FLOE_BENCH_IN_FLIGHT", floe::wal_options{}.max_in_flight);
}
std::chrono::microseconds group_delay() {
    return std::chrono::microseconds(
        env_size("FLOE_BENCH_GROUP_DELAY_US", floe::wal_options{}.group_delay.count()));
}

// Append sizes to run: FLOE_BENCH_SIZES="1024,16384" or all four.
std::vector<size_t> bench_sizes() {
    const char* v = std::getenv("FLOE_BENCH_SIZES");
    if (v == nullptr) {
        return {1024, 4096, 16384, 65536};
    }
    std::vector<size_t> out;
    for (const char* p = v; *p != '\0';) {
        char* end = nullptr;
        out.push_back(static_cast<size_t>(std::strtoull(p, &end, 10)));
        p = *end == ',' ? end + 1 : end;
        if (end == p && *p != '\0') {
            break;
        }
    }
    return out;
}

struct wal_run {
    double mean_group_bytes = 0;
    double mib_per_s = 0;
    double appends_per_s = 0;
    double records_per_group = 0;
    double cpu_cores = 0;            // process CPU time / wall time during the run
    double written_bytes_per_s = 0;  // padded group bytes written per second
    percentiles latency{};
    std::vector<double> samples;  // every append's latency (us)
};

// Runs producers against a fresh WAL for `duration`. rate_per_producer == 0:
// as fast as the outstanding limit allows.
wal_run run_wal(const std::string& dir, size_t payload_size, int producers,
                std::chrono::milliseconds duration, double rate_per_producer,
                int max_outstanding = 64) {
    // One WAL file for the whole bench, as a broker keeps its WAL: created
    // and written over once on first use, then each run starts a new WAL in
    // it (both header copies zeroed). Deleting and re-creating a 256 MiB file
    // per run made the file system free, discard (this machine mounts with
    // `discard`) and allocate blocks under the next run's writes.
    std::string path = dir + "/wal.bin";
    constexpr uint64_t capacity = 256ull << 20;
    constexpr uint64_t file_size = floe::wal_format::k_data_offset + capacity;
    std::unique_ptr<floe::posix_file> file;
    if (std::filesystem::exists(path)) {
        auto opened_file = floe::posix_file::open(path, file_size, {.create = false});
        if (!opened_file) {
            std::fprintf(stderr, "wal file: %s\n", opened_file.error_value().to_string().c_str());
            std::exit(1);
        }
        file = std::move(*opened_file);
    } else {
        file = create_written(path, file_size);
    }
    floe::aligned_buffer zeros(floe::wal_format::k_data_offset);
    if (!file->write(0, {zeros.data(), zeros.size()}) || !file->sync()) {
        std::exit(1);
    }
    floe::wal_options o;
    o.owner = floe::node_id(1);
    o.owner_epoch = floe::epoch(1);
    o.capacity = capacity;
    o.max_in_flight = in_flight();
    o.max_group_bytes = group_bytes();
    o.group_delay = group_delay();
    auto opened = floe::wal::open(std::shared_ptr<floe::wal_file>(std::move(file)), o);
    if (!opened) {
        std::fprintf(stderr, "wal: %s\n", opened.error_value().to_string().c_str());
        std::exit(1);
    }
    floe::wal& w = **opened;
    std::atomic<bool> stop{false};
    std::thread trimmer([&] {
        floe::set_thread_name("trimmer");
        while (!stop.load()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            uint64_t end = w.durable_end();
            if (end > capacity / 2) {
                (void)w.trim(end - capacity / 2);
            }
        }
    });
    std::mutex lat_mutex;
    std::vector<double> latencies;
    std::atomic<uint64_t> completed{0};
    std::atomic<uint64_t> failed{0};
    // One reference-counted buffer per append size, appended without copying
    // (as the broker appends a produce request's batch).
    auto payload = floe::shared_buffer::adopt(floe::byte_vector(payload_size, 0x42));
    auto start = clock_type::now();
    double cpu_start = cpu_seconds();
    auto end_at = start + duration;
    const auto tick = pacing_tick();
    std::vector<std::thread> threads;
    for (int t = 0; t < producers; ++t) {
        threads.emplace_back([&, t] {
            floe::set_thread_name("producer");
            std::mutex m;
            std::condition_variable cv;
            int outstanding = 0;
            std::vector<double> mine;
            auto next = clock_type::now();
            auto interval = rate_per_producer > 0
                                ? std::chrono::duration_cast<clock_type::duration>(
                                      std::chrono::duration<double>(1.0 / rate_per_producer))
                                : clock_type::duration::zero();
            auto woke = clock_type::now();
            for (int64_t i = 0; clock_type::now() < end_at; ++i) {
                if (rate_per_producer > 0) {
                    // Sleep only when ahead of the schedule, and then at
                    // least one pacing tick past the last wake-up: appends
                    // that fell due meanwhile go out together.
                    if (clock_type::now() < next) {
                        std::this_thread::sleep_until(std::max(next, woke + tick));
                        woke = clock_type::now();
                    }
                    next += interval;
                }
                {
                    std::unique_lock lock(m);
                    cv.wait(lock, [&] { return outstanding < max_outstanding; });
                    ++outstanding;
                }
                auto t0 = clock_type::now();
                w.append(floe::stream_id(static_cast<uint64_t>(t)), floe::epoch(1), floe::offset(i),
                         1, {}, payload, [&, t0](floe::result<floe::wal_position> r) {
                             double us = micros(clock_type::now() - t0);
                             if (r) {
                                 completed.fetch_add(1, std::memory_order_relaxed);
                             } else {
                                 failed.fetch_add(1, std::memory_order_relaxed);
                             }
                             std::lock_guard lock(m);
                             mine.push_back(us);
                             // Wake the producer only when it waits for a
                             // slot (or for the last completion).
                             if (outstanding-- == max_outstanding || outstanding == 0) {
                                 cv.notify_one();
                             }
                         });
            }
            std::unique_lock lock(m);
            cv.wait(lock, [&] { return outstanding == 0; });
            std::lock_guard l2(lat_mutex);
            latencies.insert(latencies.end(), mine.begin(), mine.end());
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    double seconds = micros(clock_type::now() - start) / 1e6;
    double cpu = cpu_seconds() - cpu_start;
    auto stats = w.statistics();
    stop = true;
    trimmer.join();
    (void)w.close();
    if (failed.load() != 0) {
        std::fprintf(stderr, "%llu appends failed\n", static_cast<unsigned long long>(failed));
    }
    wal_run out;
    out.appends_per_s = static_cast<double>(completed.load()) / seconds;
    out.mib_per_s = out.appends_per_s * static_cast<double>(payload_size) / (1 << 20);
    out.records_per_group =
        stats.groups ? static_cast<double>(stats.records) / static_cast<double>(stats.groups) : 0;
    out.mean_group_bytes =
        stats.groups ? static_cast<double>(stats.bytes) / static_cast<double>(stats.groups) : 0;
    out.latency = summarize(latencies);
    out.samples = std::move(latencies);
    out.cpu_cores = cpu / seconds;
    out.written_bytes_per_s = static_cast<double>(stats.bytes) / seconds;
    return out;
}

}  // namespace

int main() {
    std::string dir = bench_dir();
    std::filesystem::create_directories(dir);
    std::printf("bench dir: %s\n", dir.c_str());
    double sequential = raw_device(dir);
    constexpr int producers = 4;
    std::printf(
        "\nWAL sustained throughput (%d producers, <=4 MiB (>=64 appends) outstanding each, "
        "max_group_bytes %zu, "
        "max_in_flight %zu):\n",
        producers, group_bytes(), in_flight());
    std::vector<std::pair<size_t, wal_run>> max_runs;
    double best_mib = 0;
    size_t best_size = 0;
    // FLOE_BENCH_HALF_RATE (appends/s, all producers) fixes the half-load
    // rate, to compare builds or settings at the same load; the maximum and
    // lone-append runs are then skipped.
    const double fixed_rate = static_cast<double>(env_size("FLOE_BENCH_HALF_RATE", 0));
    for (size_t size : bench_sizes()) {
        if (fixed_rate > 0) {
            max_runs.emplace_back(size, wal_run{});
            continue;
        }
        // Each producer keeps up to 4 MiB of appends outstanding (at least
        // 64 appends), as a broker with many connections has many produces
        // in flight; a count-only window would cap large appends by the
        // window, not by the WAL (Little's law).
        int window = static_cast<int>(std::max<size_t>(64, (4u << 20) / size));
        auto r = run_wal(dir, size, producers, std::chrono::milliseconds(3000), 0, window);
        max_runs.emplace_back(size, r);
        if (r.mib_per_s > best_mib) {
            best_mib = r.mib_per_s;
            best_size = size;
        }
        std::printf(
            "  %5zu B appends: %8.0f appends/s  %7.1f MiB/s  %6.1f records/group  "
            "latency p50 %.0f us p99 %.0f us  %.2f cores\n",
            size, r.appends_per_s, r.mib_per_s, r.records_per_group, r.latency.p50, r.latency.p99,
            r.cpu_cores);
    }
    std::printf("\nWAL append latency, one producer, one append outstanding (the floor):\n");
    for (size_t size : {1024, 16384}) {
        if (fixed_rate > 0) {
            break;
        }
        auto r = run_wal(dir, size, 1, std::chrono::milliseconds(2000), 0, 1);
        std::printf("  %5zu B appends: p50 %.0f us  p99 %.0f us  p99.9 %.0f us  (%.0f appends/s)\n",
                    size, r.latency.p50, r.latency.p99, r.latency.p999, r.appends_per_s);
    }
    // Half load: the WAL and the device carrying the same load alternate in
    // slices (WAL, then the device at that slice's group size and bytes/s),
    // so both see the same machine; each side's percentiles are over all of
    // its slices.
    const int rounds = static_cast<int>(env_size("FLOE_BENCH_ROUNDS", 5));
    const auto slice = std::chrono::milliseconds(1000);
    std::printf(
        "\nWAL append latency at ~half of max throughput, alternating with the device under "
        "the same load (%zu writers, each write+fdatasync of the WAL's mean group size, paced at "
        "the bytes/s the WAL wrote), %d rounds of %lld ms each:\n",
        in_flight(), rounds, static_cast<long long>(slice.count()));
    std::vector<std::pair<size_t, wal_run>> half_runs;
    std::vector<percentiles> loaded_runs;
    {
        auto raw = open_raw(dir);
        for (auto& [size, max] : max_runs) {
            double rate = (fixed_rate > 0 ? fixed_rate : max.appends_per_s / 2) / producers;
            wal_run pooled;
            std::vector<double> device_samples;
            std::vector<double> device_from_due;
            for (int round = 0; round < rounds; ++round) {
                auto r = run_wal(dir, size, producers, slice, rate);
                pooled.samples.insert(pooled.samples.end(), r.samples.begin(), r.samples.end());
                pooled.appends_per_s += r.appends_per_s / rounds;
                pooled.mib_per_s += r.mib_per_s / rounds;
                pooled.records_per_group += r.records_per_group / rounds;
                pooled.mean_group_bytes += r.mean_group_bytes / rounds;
                pooled.cpu_cores += r.cpu_cores / rounds;
                pooled.written_bytes_per_s += r.written_bytes_per_s / rounds;
                size_t block = std::max<size_t>(
                    4096, (static_cast<size_t>(r.mean_group_bytes) + 4095) / 4096 * 4096);
                raw_loaded_latency(*raw, block, static_cast<int>(in_flight()),
                                   r.written_bytes_per_s, slice, device_samples, device_from_due);
            }
            pooled.latency = summarize(pooled.samples);
            auto device = summarize(device_samples);
            auto due = summarize(device_from_due);
            std::printf(
                "  %5zu B appends at %8.0f/s (%6.1f MiB/s): p50 %.0f us  p99 %.0f us  "
                "p99.9 %.0f us  %5.1f records/group  %4.0f KiB/group  %.2f cores\n"
                "        device under the same load (%6.1f MiB/s): p50 %.0f us  p99 %.0f us  "
                "p99.9 %.0f us\n"
                "        the same writes timed from when each was due: p50 %.0f us  p99 %.0f us  "
                "p99.9 %.0f us\n",
                size, pooled.appends_per_s, pooled.mib_per_s, pooled.latency.p50,
                pooled.latency.p99, pooled.latency.p999, pooled.records_per_group,
                pooled.mean_group_bytes / 1024, pooled.cpu_cores,
                pooled.written_bytes_per_s / (1 << 20), device.p50, device.p99, device.p999,
                due.p50, due.p99, due.p999);
            half_runs.emplace_back(size, std::move(pooled));
            loaded_runs.push_back(device);
        }
        raw.reset();
        std::filesystem::remove(dir + "/raw.bin");
        std::filesystem::remove(dir + "/wal.bin");
    }
    // The device's write+fdatasync latency alone (one write at a time) at the
    // sizes the WAL wrote at half load (its mean group size per append size,
    // rounded up to 4 KiB).
    std::printf(
        "\ndevice write+fdatasync alone at the WAL's half-load group sizes (O_DIRECT, same file "
        "system):\n");
    std::vector<size_t> sizes{16384};
    for (auto& [size, r] : half_runs) {
        sizes.push_back(
            std::max<size_t>(4096, (static_cast<size_t>(r.mean_group_bytes) + 4095) / 4096 * 4096));
    }
    auto raw_p99 = raw_sync_table(dir, sizes);
    std::printf("\ntargets:\n");
    for (size_t i = 0; i < half_runs.size(); ++i) {
        auto& [size, r] = half_runs[i];
        double device = raw_p99[i + 1];
        double loaded = loaded_runs[i].p99;
        std::printf(
            "  %5zu B appends, p99 at half load %5.0f us <= device p99 under the same load "
            "(%4.0f us) + 500 us = %5.0f us: %s  [device alone at %zu KiB: %4.0f us + 500: %s]\n",
            size, r.latency.p99, loaded, loaded + 500,
            r.latency.p99 <= loaded + 500 ? "met" : "NOT met", sizes[i + 1] / 1024, device,
            r.latency.p99 <= device + 500 ? "met" : "NOT met");
    }
    if (fixed_rate > 0) {
        std::printf("  throughput: not measured (FLOE_BENCH_HALF_RATE skips the maximum runs)\n");
        return 0;
    }
    std::printf(
        "  best WAL throughput %.0f MiB/s (%zu B appends) = %.0f%% of sequential %.0f "
        "MiB/s (target 80%%): %s\n",
        best_mib, best_size, 100 * best_mib / sequential, sequential,
        best_mib >= 0.8 * sequential ? "met" : "NOT met");
    return 0;
}
