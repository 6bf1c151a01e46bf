// stream_crash_child: appends under load to several streams of a stream_store
// until killed, for stream_crash_test.cc.
//
//   stream_crash_child <directory> <epoch> <seed>
//
// Opens (recovering) the store under <directory> with WAL epoch <epoch>, opens
// streams 1..k_streams at that epoch, and appends from two threads with small
// upload thresholds so that uploads, WAL trims and reads of evicted data all
// happen. After each append's callback reports success it writes one line to
// stdout with one write(2):
//
//   ack <stream> <base offset> <record count> <payload size> <fnv1a-64 of payload>
//
// Exit status 2 when the store cannot be opened.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

#include "stream/tests/stream_crash_common.h"

int main(int argc, char** argv) {
    using namespace floe;
    using namespace floe::stream;
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s <directory> <epoch> <seed>\n", argv[0]);
        return 1;
    }
    std::filesystem::path dir = argv[1];
    int64_t owner_epoch = std::strtoll(argv[2], nullptr, 10);
    uint64_t seed = std::strtoull(argv[3], nullptr, 10);
    auto store = crash::open_store(dir, owner_epoch);
    if (!store) {
        std::fprintf(stderr, "open: %s\n", store.error_value().to_string().c_str());
        return 2;
    }
    stream_store& s = **store;
    std::vector<offset> next(crash::k_streams + 1);
    for (int id = 1; id <= crash::k_streams; ++id) {
        auto pos = s.open_stream(stream_id(id), epoch(owner_epoch));
        if (!pos) {
            std::fprintf(stderr, "open_stream: %s\n", pos.error_value().to_string().c_str());
            return 2;
        }
        next[id] = pos->next;
    }
    std::counting_semaphore<256> in_flight(256);
    std::vector<std::thread> producers;
    for (int t = 0; t < 2; ++t) {
        producers.emplace_back([&, t] {
            std::mt19937_64 rng(seed * 31 + static_cast<uint64_t>(t));
            for (;;) {
                int id = 1 + t + 2 * static_cast<int>(rng() % 2);  // thread t owns 2 streams
                size_t size = 16 + rng() % 2000;
                int32_t count = 1 + static_cast<int32_t>(rng() % 5);
                offset base = next[id];
                byte_vector data = crash::payload(static_cast<uint64_t>(id), base.value(), size);
                uint64_t hash = crash::fnv1a(data);
                in_flight.acquire();
                status accepted = s.append(
                    stream_id(id), epoch(owner_epoch), base, count, base.value(), data,
                    [&in_flight, id, base, count, size, hash](status done) {
                        if (done) {
                            char line[160];
                            int n = std::snprintf(line, sizeof(line), "ack %d %lld %d %zu %llu\n",
                                                  id, static_cast<long long>(base.value()), count,
                                                  size, static_cast<unsigned long long>(hash));
                            if (::write(1, line, static_cast<size_t>(n)) != n) {
                                std::abort();
                            }
                        }
                        in_flight.release();
                    });
                if (!accepted) {
                    std::fprintf(stderr, "append: %s\n",
                                 accepted.error_value().to_string().c_str());
                    std::_Exit(3);
                }
                next[id] = base + count;
            }
        });
    }
    for (auto& p : producers) {
        p.join();
    }
    return 0;
}
