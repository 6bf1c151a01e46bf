// Helpers shared by the WAL tests: deterministic payloads, blocking appends,
// and a collector of completions.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <future>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "wal/fault_file.h"
#include "wal/recovery.h"
#include "wal/wal.h"

namespace floe::wal_test {

// Payload bytes derived from (stream, base offset, size): tests can rebuild
// the expected bytes of any record from its identity.
inline byte_vector make_payload(uint64_t stream, int64_t base_offset, size_t size) {
    byte_vector out(size);
    uint64_t x = stream * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(base_offset) + 1;
    for (auto& b : out) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b = static_cast<uint8_t>(x);
    }
    return out;
}

inline result<wal_position> append_wait(wal& w, uint64_t stream, int64_t base_offset,
                                        const byte_vector& payload, uint32_t count = 1) {
    std::promise<result<wal_position>> promise;
    auto future = promise.get_future();
    w.append(stream_id(stream), epoch(1), offset(base_offset), count, payload,
             [&](result<wal_position> r) { promise.set_value(std::move(r)); });
    return future.get();
}

inline wal_options small_options(uint64_t capacity = 64 * 1024) {
    wal_options o;
    o.owner = node_id(1);
    o.owner_epoch = epoch(1);
    o.capacity = capacity;
    return o;
}

inline uint64_t file_size_for(uint64_t capacity) {
    return wal_format::k_data_offset + capacity;
}

// Collects completions from the WAL's I/O threads; wait() blocks until `n` arrived.
struct completion_log {
    struct entry {
        uint64_t tag;
        result<wal_position> outcome;
    };
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<entry> entries;

    append_callback callback(uint64_t tag) {
        return [this, tag](result<wal_position> r) {
            std::lock_guard lock(mutex);
            entries.push_back({tag, std::move(r)});
            cv.notify_all();
        };
    }
    void wait(size_t n) {
        std::unique_lock lock(mutex);
        cv.wait(lock, [&] { return entries.size() >= n; });
    }
};

}  // namespace floe::wal_test

namespace floe::wal_test {

// Wraps a wal_file; each write and each sync sleeps a random 0..max_delay (so
// later groups can finish before earlier ones) and the wrapper records how
// many writes and how many syncs ran at once.
class slow_file final : public wal_file {
public:
    slow_file(std::shared_ptr<wal_file> inner, std::chrono::microseconds max_delay)
        : _inner(std::move(inner)), _max_delay(max_delay) {}
    status write(uint64_t offset, byte_span data) override {
        counted busy(_writes, _max_writes);
        pause();
        return _inner->write(offset, data);
    }
    status read(uint64_t offset, std::span<uint8_t> out) override {
        return _inner->read(offset, out);
    }
    status sync() override {
        counted busy(_syncs, _max_syncs);
        pause();
        return _inner->sync();
    }
    uint64_t size() const override { return _inner->size(); }
    int max_concurrent_writes() const { return _max_writes.load(); }
    int max_concurrent_syncs() const { return _max_syncs.load(); }

private:
    // Counts a call in progress and keeps the highest count seen.
    struct counted {
        counted(std::atomic<int>& now, std::atomic<int>& max) : _now(now) {
            int mine = ++_now;
            int seen = max.load();
            while (mine > seen && !max.compare_exchange_weak(seen, mine)) {
            }
        }
        ~counted() { --_now; }
        std::atomic<int>& _now;
    };
    void pause() {
        std::chrono::microseconds delay{0};
        {
            std::lock_guard lock(_mutex);
            if (_max_delay.count() > 0) {
                delay = std::chrono::microseconds(_rng() % _max_delay.count());
            }
        }
        std::this_thread::sleep_for(delay);
    }

    std::shared_ptr<wal_file> _inner;
    std::chrono::microseconds _max_delay;
    std::mutex _mutex;
    std::mt19937 _rng{12345};
    std::atomic<int> _writes{0};
    std::atomic<int> _max_writes{0};
    std::atomic<int> _syncs{0};
    std::atomic<int> _max_syncs{0};
};

}  // namespace floe::wal_test
