// log_cache: the most recent appends of every stream, in memory, bounded in
// bytes. Tailing reads are served from here; when an entry is evicted its data
// is still in the WAL (until uploaded) or in objects (after), so eviction
// never loses data — the cache holds only copies of durable entries.
//
// Eviction is oldest-appended first, across all streams. A stream's cached
// entries are always one contiguous run of offsets: putting an entry that does
// not follow the stream's last cached one replaces the run.
//
//   put(s, [10,12)) put(s, [12,15))     cache for s: [10,15)
//   read(s, 13, ...)                    -> entry [12,15) (it holds offset 13)
//   read(s, 9, ...)                     -> {} (not cached: read the WAL or objects)
//
// Threading: all methods are thread-safe (one mutex; no system call is made
// while it is held).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/shared_buffer.h"
#include "base/strong_id.h"

namespace floe::stream {

struct cached_entry {
    offset base_offset;
    int32_t record_count = 0;
    int64_t max_timestamp = -1;
    shared_buffer payload;

    offset end_offset() const { return base_offset + record_count; }
};

class log_cache {
public:
    // Accounting overhead per entry, on top of its payload bytes.
    static constexpr size_t kEntryOverhead = 64;

    explicit log_cache(size_t capacity_bytes) : _capacity(capacity_bytes) {}

    // Caches the next entry of `stream` and evicts the oldest entries beyond
    // capacity (possibly this one, if it alone exceeds the capacity).
    void put(stream_id stream, cached_entry entry);

    // Contiguous entries of `stream` starting with the one that holds `from`,
    // adding entries while the total payload stays within `max_bytes` (the
    // first entry is returned even if larger). Empty if `from` is not cached.
    std::vector<cached_entry> read(stream_id stream, offset from, size_t max_bytes) const;

    // Offsets cached for `stream` as [first, end), if any.
    std::optional<std::pair<offset, offset>> cached_range(stream_id stream) const;

    // Drops entries of `stream` that lie entirely below `before`.
    void trim(stream_id stream, offset before);
    void drop_stream(stream_id stream);

    size_t size_bytes() const;
    size_t capacity_bytes() const { return _capacity; }
    // Items in the internal eviction order (diagnostics and tests): at most
    // about twice the number of cached entries.
    size_t eviction_order_length() const {
        std::lock_guard lock(_mutex);
        return _order.size();
    }

private:
    struct stream_entries {
        std::deque<cached_entry> entries;
    };

    static size_t cost(const cached_entry& e) { return e.payload.size() + kEntryOverhead; }
    void evict_locked();
    void compact_order_locked();

    const size_t _capacity;
    mutable std::mutex _mutex;
    // Guarded by _mutex.
    std::unordered_map<stream_id, stream_entries> _streams;
    // Guarded by _mutex: (stream, base offset) in append order; entries already
    // removed by trim/drop are skipped when reached, and the queue is compacted
    // when such stale items outnumber live entries.
    std::deque<std::pair<stream_id, offset>> _order;
    size_t _bytes = 0;
    size_t _live_entries = 0;
};

}  // namespace floe::stream
