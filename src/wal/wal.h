// wal: the writer of one broker's write-ahead log.
//
// What it does: appends records (opaque payloads, each one or more Kafka
// record batches of one stream) to a fixed-capacity circular log on a wal_file,
// and acknowledges each append only once its bytes are durable.
//
//   auto w = wal::open(file, {.owner = node_id(1), .owner_epoch = epoch(7),
//                             .capacity = 1 << 30});
//   w->append(stream_id(3), epoch(2), offset(100), 10, payload,
//             [](result<wal_position> r) { /* durable, or an error */ });
//   w->trim(position);   // everything below `position` is in object storage
//
// Contracts:
//   - Every append's callback runs exactly once. For accepted appends the
//     callbacks run in append order (per wal, across threads: the order in
//     which append() took the queue lock), one at a time on one of the WAL's
//     I/O threads, and
//     with a position only after the record's bytes were written and synced.
//     An append rejected up front (record too large, queue full beyond
//     append_timeout, WAL closed) gets its error inline, on the caller's
//     thread, before append() returns.
//   - Group commit: appends queued while earlier groups are being written form
//     the next group -- one aligned write of many records, of any streams --
//     bounded by max_group_bytes; up to max_in_flight groups are written
//     concurrently by I/O threads, and one sync at a time makes durable every
//     group whose write returned before that sync started (the file's sync is
//     a barrier over all completed writes, wal_file's contract); completions
//     are released strictly in WAL order.
//   - Capacity and back-pressure: a group is started only while
//     (end - scan_start) + group size <= capacity, i.e. data not yet trimmed is
//     never overwritten. While the ring is full, appends wait in the queue; the
//     queue is bounded by max_queued_bytes, and append() blocks its caller for
//     at most append_timeout when the queue is full, then fails that append
//     with errc::too_large. (A caller that must not block sets append_timeout
//     to zero.) trim() frees space.
//   - Fencing: open() refuses an epoch lower than the header's
//     (errc::conflict); otherwise it writes the new owner, epoch and a new
//     writer generation into the header and syncs it before any append.
//   - Fail-stop: after any write or sync error the WAL stops for good: the
//     group that failed and every later one (in flight or queued) complete
//     with errc::io, later appends and trims fail with errc::io, and nothing
//     more is written. Recovery (recovery.h) then finds the durable prefix.
//   - close() (and the destructor) wait for every accepted append to complete.
//
// Threads: max_in_flight I/O threads. An idle I/O thread takes the queued
// appends as one group (fixing its place in the ring and in WAL order under
// the lock), copies and checksums them into an aligned buffer and writes it.
// If no sync is running it becomes the sync leader: it syncs, releases every
// group that sync covered at the front of WAL order by running their
// callbacks, and syncs again while groups written meanwhile wait; otherwise it
// goes back to form the next group and the running leader covers its write
// with its next sync. So an append costs one thread hand-off (caller -> I/O
// thread) and its callback none, and writes go on while a sync runs. trim()
// writes the header on the caller's thread. Callbacks must be short and must
// not call append(), trim() or close() (post a message instead). append(),
// trim(), read(), and the observers may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "base/shared_buffer.h"
#include "base/strong_id.h"
#include "wal/file.h"
#include "wal/recovery.h"
#include "wal/wal_format.h"

namespace floe {

struct wal_options {
    node_id owner{};
    epoch owner_epoch{};
    // Data ring size in bytes when creating (a multiple of 4096); when opening
    // an existing WAL, 0 or the same value.
    uint64_t capacity = 0;
    // Upper bound on one group's padded size (a single larger record still
    // forms a group of its own).
    size_t max_group_bytes = 1 << 20;
    // I/O threads: groups being written at once (one sync runs at a time).
    size_t max_in_flight = 4;
    // How long the writer lets the oldest queued append wait for more company
    // before writing a group that is smaller than max_group_bytes. Zero: write
    // as soon as an I/O slot is free (batching then comes from the slots being
    // busy).
    std::chrono::microseconds group_delay{0};
    // Bytes of appends queued but not yet in a group.
    size_t max_queued_bytes = 64 << 20;
    // How long append() may block while the queue is full.
    std::chrono::milliseconds append_timeout{10000};
};

using append_callback = std::function<void(result<wal_position>)>;

class wal {
public:
    struct stats {
        uint64_t groups = 0;   // groups written
        uint64_t records = 0;  // records acknowledged
        uint64_t bytes = 0;    // padded bytes written
    };

    // Creates a WAL on a never-initialised file, or takes over an existing one
    // (scanning it to find the tail). See the fencing contract above.
    static result<std::unique_ptr<wal>> open(std::shared_ptr<wal_file> file, wal_options options);
    ~wal();
    wal(const wal&) = delete;
    wal& operator=(const wal&) = delete;

    // Appends one record; see the contracts above. `payload` is copied.
    void append(stream_id stream, epoch stream_epoch, offset base_offset, uint32_t record_count,
                byte_span payload, append_callback done);
    // The same without copying: the record's payload is `prefix` (at most
    // k_max_prefix bytes, copied) followed by `body`, which the WAL keeps a
    // reference to until the record is in a group buffer.
    static constexpr size_t k_max_prefix = 16;
    void append(stream_id stream, epoch stream_epoch, offset base_offset, uint32_t record_count,
                byte_span prefix, shared_buffer body, append_callback done);
    // Durably records that data below `position` is no longer needed and
    // frees its space. Blocks until the header is synced. `position` must be
    // at most durable_end(); a position below the current trim is a no-op.
    status trim(uint64_t position);
    // Re-reads an acknowledged record (e.g. evicted from memory, not uploaded).
    result<wal_record> read(wal_position where);
    // Waits for every accepted append, then stops the threads. Returns the
    // fail-stop error, if any. Idempotent.
    status close();

    // Logical end of the acknowledged prefix.
    uint64_t durable_end() const;
    uint64_t trim_position() const;
    // The tail found when the WAL was opened (where this writer started).
    uint64_t start_position() const { return _start_position; }
    uint64_t capacity() const { return _capacity; }
    wal_format::header header() const;
    stats statistics() const;

private:
    struct pending_append;
    struct group_job;

    wal(std::shared_ptr<wal_file> file, wal_options options, wal_format::header header,
        wal_scan_result scan);
    // Validates an append and fills `item`'s header fields and CRC; on
    // rejection runs `done` with the error and returns false.
    bool prepare(pending_append& item, stream_id stream, epoch stream_epoch, offset base_offset,
                 uint32_t record_count, byte_span prefix, byte_span body, append_callback& done);
    // Queues a prepared append (blocking for back-pressure; see contracts).
    void enqueue(pending_append item);
    // I/O thread body: forms a group from the queue, builds, writes and syncs
    // it, then releases every finished group at the front of WAL order.
    void io_loop();
    // Runs completions of finished groups in WAL order (and, after a failure,
    // fails the queue) unless another thread is doing so. _mutex held.
    void release_ready(std::unique_lock<std::mutex>& lock);
    // Whether the front of the queue fits in the ring now. _mutex held.
    bool can_form() const;
    void build_group(group_job& job, std::vector<pending_append>& items, uint64_t start,
                     uint64_t padded);
    status write_header(const wal_format::header& h);
    // Writes one group (two writes when it wraps); no lock held.
    status write_group(const group_job& job);
    // The sync leader: syncs while groups written since the last sync wait,
    // marks the groups each sync covered durable and releases them; clears
    // _syncing. _mutex held (released around each sync).
    void sync_written(std::unique_lock<std::mutex>& lock);
    // Returns a written group's buffer to the spare pool (or frees it);
    // _mutex held.
    void recycle(group_job& job);

    const std::shared_ptr<wal_file> _file;
    const wal_options _options;
    const uint64_t _capacity;
    const uint64_t _start_position;

    mutable std::mutex _mutex;
    std::condition_variable _io_wake;                   // I/O threads wait here
    std::condition_variable _caller_wake;               // append()/trim()/close() wait here
    std::deque<pending_append> _queue;                  // guarded by _mutex
    size_t _queued_bytes = 0;                           // guarded by _mutex
    std::deque<std::unique_ptr<group_job>> _in_flight;  // guarded by _mutex; WAL order
    size_t _idle_io = 0;                                // guarded by _mutex
    size_t _blocked_callers = 0;                        // guarded by _mutex
    bool _releasing = false;                            // guarded by _mutex
    bool _syncing = false;                   // guarded by _mutex; a sync leader is running
    uint64_t _writes_completed = 0;          // guarded by _mutex; group writes returned ok
    uint64_t _synced_seq = 0;                // guarded by _mutex; writes up to here are synced
    std::atomic<bool> _write_failed{false};  // set with _failed
    std::mutex _trim_mutex;                  // serializes trim()
    wal_format::header _header;              // guarded by _mutex
    uint64_t _end;                           // guarded by _mutex; end of dispatched groups
    uint64_t _durable_end;                   // guarded by _mutex
    std::optional<error> _failed;            // guarded by _mutex
    bool _closing = false;                   // guarded by _mutex
    bool _stopped = false;                   // guarded by _mutex
    stats _stats;                            // guarded by _mutex
    // [start, end) of groups from scan_start on; guarded by _mutex.
    std::deque<std::pair<uint64_t, uint64_t>> _groups;
    // Group buffers of _buffer_size bytes for reuse; guarded by _mutex.
    const uint64_t _buffer_size;
    std::vector<aligned_buffer> _spare_buffers;

    std::once_flag _join_once;
    std::vector<std::thread> _io_threads;
};

}  // namespace floe
