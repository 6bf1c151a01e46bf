// wal_crash_child: appends under load to a WAL until killed, for
// crash_test.cc.
//
//   wal_crash_child <wal file> <owner epoch> <seed>
//
// Creates the WAL file when absent (capacity k_capacity), takes it over with
// the given epoch, and appends from three producer threads. After each
// append's callback reports success it writes one line to stdout:
//
//   ack <stream> <base offset> <position> <length> <fnv1a-64 of payload>
//
// Lines are written with one write(2) each (atomic on a pipe). A trimmer
// thread trims to half a ring behind the durable end so the run never stalls
// on a full ring. Exit status 2 when the WAL cannot be opened.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "wal/file.h"
#include "wal/wal.h"

namespace {

constexpr uint64_t k_capacity = 16 << 20;

uint64_t fnv1a(floe::byte_span data) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint8_t b : data) {
        h = (h ^ b) * 0x100000001b3ull;
    }
    return h;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s <wal file> <epoch> <seed>\n", argv[0]);
        return 1;
    }
    std::string path = argv[1];
    int64_t owner_epoch = std::strtoll(argv[2], nullptr, 10);
    uint64_t seed = std::strtoull(argv[3], nullptr, 10);
    auto file = floe::posix_file::open(path, floe::wal_format::k_data_offset + k_capacity);
    if (!file) {
        std::fprintf(stderr, "open: %s\n", file.error_value().to_string().c_str());
        return 2;
    }
    floe::wal_options options;
    options.owner = floe::node_id(1);
    options.owner_epoch = floe::epoch(owner_epoch);
    options.capacity = k_capacity;
    options.max_in_flight = 3;
    options.max_group_bytes = 256 * 1024;
    auto w = floe::wal::open(std::shared_ptr<floe::wal_file>(std::move(*file)), options);
    if (!w) {
        std::fprintf(stderr, "wal: %s\n", w.error_value().to_string().c_str());
        return 2;
    }
    floe::wal& log = **w;
    // Tells the test that the new epoch is in the (synced) header.
    ssize_t announced = ::write(1, "opened\n", 7);
    (void)announced;
    std::atomic<bool> stop{false};
    std::thread trimmer([&] {
        while (!stop.load()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            uint64_t end = log.durable_end();
            if (end > k_capacity / 2) {
                (void)log.trim(end - k_capacity / 2);
            }
        }
    });
    std::vector<std::thread> producers;
    for (uint64_t t = 0; t < 3; ++t) {
        producers.emplace_back([&, t] {
            std::mt19937_64 rng(seed * 31 + t);
            uint64_t stream = seed * 10 + t;
            for (int64_t base = 0; !stop.load(); ++base) {
                size_t size = 1 + rng() % (16 * 1024);
                floe::byte_vector payload(size);
                for (auto& b : payload) {
                    b = static_cast<uint8_t>(rng());
                }
                uint64_t hash = fnv1a(payload);
                log.append(floe::stream_id(stream), floe::epoch(1), floe::offset(base), 1, payload,
                           [stream, base, hash](floe::result<floe::wal_position> r) {
                               if (!r) {
                                   return;
                               }
                               char line[160];
                               int n = std::snprintf(line, sizeof(line),
                                                     "ack %" PRIu64 " %" PRId64 " %" PRIu64
                                                     " %u %" PRIu64 "\n",
                                                     stream, base, r->position, r->length, hash);
                               ssize_t ignored = ::write(1, line, static_cast<size_t>(n));
                               (void)ignored;
                           });
            }
        });
    }
    for (auto& p : producers) {
        p.join();  // never: the test kills the process
    }
    stop = true;
    trimmer.join();
    return 0;
}
