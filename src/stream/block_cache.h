// block_cache: data blocks of objects read from the object store, kept in
// memory up to a byte budget and evicted least-recently-used. Objects are
// immutable, so a cached block never goes stale; erase_object() frees the
// blocks of an object that was deleted (compaction, retention).
//
// Threading: all methods are thread-safe (one mutex, no system call held).
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "base/shared_buffer.h"
#include "base/strong_id.h"

namespace floe::stream {

class block_cache {
public:
    static constexpr size_t kBlockOverhead = 96;

    explicit block_cache(size_t capacity_bytes) : _capacity(capacity_bytes) {}

    // The cached block of `object` at byte `position`, marked most recently used.
    std::optional<shared_buffer> get(object_id object, uint64_t position);
    // Caches a block (replacing an existing one at the same key) and evicts
    // least-recently-used blocks beyond capacity.
    void put(object_id object, uint64_t position, shared_buffer block);
    void erase_object(object_id object);

    size_t size_bytes() const;
    size_t capacity_bytes() const { return _capacity; }
    uint64_t hits() const;
    uint64_t misses() const;

private:
    struct key {
        object_id object;
        uint64_t position;
        bool operator==(const key&) const = default;
    };
    struct key_hash {
        size_t operator()(const key& k) const noexcept {
            return std::hash<uint64_t>{}(k.object.value() * 0x9E3779B97F4A7C15ULL ^ k.position);
        }
    };
    struct slot {
        key k;
        shared_buffer block;
    };

    void evict_locked();

    const size_t _capacity;
    mutable std::mutex _mutex;
    // Guarded by _mutex: most recently used at the front.
    std::list<slot> _lru;
    std::unordered_map<key, std::list<slot>::iterator, key_hash> _index;
    size_t _bytes = 0;
    uint64_t _hits = 0;
    uint64_t _misses = 0;
};

}  // namespace floe::stream
