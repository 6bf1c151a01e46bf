// fault_store: an object_store that forwards to another one and fails chosen
// calls with errc::io, for other modules' tests (uploader, compaction, GC).
//
// Failures are deterministic: "the Nth put" (1-based, counting every put
// since construction or the last reset), or each call with a probability
// drawn from a generator seeded by the test. A failed call does not reach
// the inner store, so a failed put leaves nothing behind.
//
//   fault_store store(inner, /*seed=*/42);
//   store.fail_nth(fault_store::op::put, 3);   // the 3rd put fails
//   store.set_probability(fault_store::op::get, 0.1);
//
// Operations: put, get (get and get_range), head, remove, list.
//
// Thread-safety: all methods may be called concurrently; counters, rules and
// the generator are guarded by one mutex, not held while the inner store
// runs. With concurrent callers which call is "the Nth" is decided by the
// order in which they reach the mutex.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <random>
#include <set>

#include "objstore/object_store.h"

namespace floe::objstore {

class fault_store final : public object_store {
public:
    enum class op : uint8_t { put, get, head, remove, list };
    static constexpr size_t op_count = 5;

    // `inner` must outlive this store.
    explicit fault_store(object_store& inner, uint64_t seed = 0);

    // Fails the nth call of `operation` (1-based; may be called repeatedly to
    // fail several). 0 does nothing.
    void fail_nth(op operation, uint64_t nth);
    // Fails each call of `operation` with this probability (0 disables).
    void set_probability(op operation, double probability);
    // Fails every call of every operation until cleared.
    void fail_all(bool enabled);
    // Clears rules and counters (the generator keeps its state).
    void reset();

    uint64_t calls(op operation) const;     // calls seen, failed or not
    uint64_t failures(op operation) const;  // calls failed

    status put(std::string_view key, byte_span data) override;
    result<byte_vector> get(std::string_view key) override;
    result<byte_vector> get_range(std::string_view key, uint64_t offset, uint64_t length) override;
    result<object_info> head(std::string_view key) override;
    status remove(std::string_view key) override;
    result<std::vector<object_info>> list(std::string_view prefix) override;

private:
    // Counts the call and decides whether it fails.
    bool should_fail(op operation);
    static error injected(op operation, std::string_view key);

    object_store& _inner;
    mutable std::mutex _mutex;
    std::mt19937_64 _rng;                           // guarded by _mutex
    std::array<std::set<uint64_t>, op_count> _nth;  // guarded by _mutex
    std::array<double, op_count> _probability{};    // guarded by _mutex
    std::array<uint64_t, op_count> _calls{};        // guarded by _mutex
    std::array<uint64_t, op_count> _failures{};     // guarded by _mutex
    bool _fail_all = false;                         // guarded by _mutex
};

}  // namespace floe::objstore
