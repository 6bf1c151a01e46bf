// partition: one Kafka partition served by this broker -- a stream in the
// stream store plus what Kafka keeps beside the log: offset assignment,
// idempotent producer state, the high watermark and fetch waiters.
//
// Produce path (append()):
//   1. the handler has validated the batches (CRC, records, timestamps);
//   2. under the partition lock: idempotence checks (producer_state), offsets
//      assigned from next_offset (each batch's base offset and leader epoch
//      rewritten in place; LogAppendTime topics get the append time), and the
//      whole records blob handed to stream_store::append as one entry -- no
//      system call is made under the lock (the WAL queue never blocks:
//      append_timeout is zero) and appends reach the WAL in offset order;
//   3. when the WAL has synced the entry, `done` runs with the base offset and
//      the high watermark moves past it; fetch waiters are woken.
//
// Worked example: next_offset 40; a blob of two batches with 3 and 2 records
// gets base offsets 40 and 43, is one stream entry [40, 45), and the
// response says base offset 40. A retry of the same idempotent batch (same
// producer, epoch and sequences) is answered with 40 again and not appended.
//
// Threading: every method is thread-safe. _mutex guards the in-memory state
// and is held only for in-memory work (never across a system call or a
// callback); append completions run on a WAL I/O thread and call `done`
// there, which must only post to the caller's executor. load() blocks (reads
// the stream); call it from the blocking pool.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/shared_buffer.h"
#include "base/strong_id.h"
#include "coordinator/producer_state.h"
#include "kafka/protocol/errors.h"
#include "kafka/protocol/record_batch.h"
#include "stream/stream_store.h"

namespace floe::kafka {

// Milliseconds since the Unix epoch: the clock of record timestamps
// (LogAppendTime, timestamp checks, the records Floe writes itself).
inline int64_t wall_clock_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

struct produce_outcome {
    error_code error = error_code::none;
    std::string message;  // for error_message (Produce v8+)
    int64_t base_offset = -1;
    int64_t log_append_time = -1;  // -1 unless the topic uses LogAppendTime
    int64_t log_start_offset = -1;
};

struct partition_offsets {
    int64_t log_start_offset = 0;
    int64_t high_watermark = 0;
};

class partition {
public:
    partition(std::string topic, int32_t index, stream_id stream, int32_t leader_epoch,
              stream::stream_store& store);

    const std::string& topic() const { return _topic; }
    int32_t index() const { return _index; }
    stream_id stream() const { return _stream; }
    int32_t leader_epoch() const { return _leader_epoch; }

    // Opens (or takes over) the stream at `stream_epoch` and rebuilds the
    // producer state from every stored batch. Blocking.
    status load(epoch stream_epoch);

    // Appends `records` (whole, validated magic-2 batches of one produce
    // request partition; `batches` are views into it). `log_append_time`:
    // >= 0 to stamp the batches with that time (LogAppendTime topics).
    // `done` runs exactly once, possibly before append() returns.
    void append(shared_buffer records, const std::vector<batch_view>& batches,
                int64_t log_append_time, std::function<void(produce_outcome)> done);

    // Entries from the one holding `start`, at most `max_bytes` (the first
    // entry always). Blocking (may read the WAL or objects).
    result<std::vector<stream::stream_entry>> read(int64_t start, size_t max_bytes);
    // First offset whose entry has max timestamp >= `timestamp`. Blocking.
    result<std::optional<int64_t>> offset_for_timestamp(int64_t timestamp);
    // Moves the log start offset (DeleteRecords, retention). Blocking.
    status trim(int64_t new_start);

    partition_offsets offsets() const;
    // Largest max-timestamp of any appended entry, with its offset (for
    // ListOffsets MAX_TIMESTAMP); offset -1 when empty.
    std::pair<int64_t, int64_t> max_timestamp() const;

    // Calls `wake` once, the next time the high watermark moves (or at once
    // if it is already past `seen_high_watermark`). Returns a token for
    // cancel_wait. `wake` runs on a WAL thread or the caller's: it must only
    // post.
    uint64_t wait_for_data(int64_t seen_high_watermark, std::function<void()> wake);
    void cancel_wait(uint64_t token);

    // A copy of the producer state (DescribeProducers).
    coordinator::producer_state producers() const;

private:
    void on_durable(int64_t end_offset);

    const std::string _topic;
    const int32_t _index;
    const stream_id _stream;
    const int32_t _leader_epoch;
    stream::stream_store& _store;

    mutable std::mutex _mutex;
    epoch _stream_epoch{};                   // guarded by _mutex
    int64_t _next_offset = 0;                // guarded by _mutex; next offset to assign
    int64_t _high_watermark = 0;             // guarded by _mutex; end of the synced prefix
    int64_t _log_start = 0;                  // guarded by _mutex
    int64_t _max_timestamp = -1;             // guarded by _mutex
    int64_t _max_timestamp_offset = -1;      // guarded by _mutex
    bool _failed = false;                    // guarded by _mutex; the stream refused an append
    coordinator::producer_state _producers;  // guarded by _mutex
    // Retries of batches appended but not yet durable: answered (with the
    // original offsets) only when the high watermark passes last_offset, or
    // failed with the original's error.
    struct pending_retry {
        int64_t last_offset;
        produce_outcome outcome;
        std::function<void(produce_outcome)> done;
    };
    std::vector<pending_retry> _retries;                               // guarded by _mutex
    uint64_t _next_token = 1;                                          // guarded by _mutex
    std::vector<std::pair<uint64_t, std::function<void()>>> _waiters;  // guarded by _mutex
};

}  // namespace floe::kafka
