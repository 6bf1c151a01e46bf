// group_log: a coordinator_log (coordinator/coordinator_log.h) kept in one
// partition of Floe's internal offsets topic, as Kafka keeps group state in
// __consumer_offsets: each append() is one record batch of key/value records
// (a tombstone is a record with a null value), durable when the partition's
// append is; read_all() returns every record in log order for replay.
//
//   group_log log(offsets_partition, post_to_coordinator, post_to_pool);
//   auto stored = group_log::read_all(*offsets_partition);
//   log.loaded(*stored);
//   coordinator.replay(*stored);
//
// Compaction (Kafka's cleanup.policy=compact, done as a snapshot): the log
// knows the last value of every live key (from loaded() and every append).
// When the partition holds more than `compact_min_records` records and more
// than twice as many records as live keys (Kafka's default
// min.cleanable.dirty.ratio, 0.5), it appends a snapshot -- every live
// record, in the order of their last writes, in batches of at most
// `snapshot_batch_bytes` -- and once the whole snapshot is durable, moves the
// partition's start offset to the snapshot's first offset. Replaying from
// there gives the same state as replaying everything: the snapshot holds
// every key's last value as of every append called before it, appends called
// after it come after it in the log, and tombstoned keys are simply absent.
// A failed snapshot append leaves the log as it was (no trim); the next
// append retries. When no key is live there is nothing to snapshot: the start
// offset moves to the high watermark read before the live keys were looked
// at (every record below it was applied by then, so all are superseded).
//
// Worked example (compact_min_records 4): commits of k1, k1, k2, k1, k1 ->
// 5 records, 2 live keys -> snapshot [k2, k1] appended at offsets 5-6 ->
// start offset 5: read_all() returns k2, k1 (their last values).
//
// Threading: append() and loaded() are called on the coordinator's owner
// thread; `done` is handed to `post`, which must run it there. Snapshot
// completions run on WAL threads, the trim (a blocking metadata update) on
// `blocking`; the compaction state is guarded by a mutex. read_all() blocks
// (reads the stream); call it from the blocking pool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "coordinator/coordinator_log.h"
#include "kafka/broker/partition.h"

namespace floe::kafka {

struct group_log_options {
    size_t compact_min_records = 10000;
    size_t snapshot_batch_bytes = 512 << 10;
};

class group_log final : public coordinator::coordinator_log {
public:
    using poster = std::function<void(std::function<void()>)>;

    // `blocking` runs the trim after a snapshot; without it the trim runs on
    // the WAL thread that completed the snapshot (tests).
    group_log(std::shared_ptr<partition> target, poster post, poster blocking = {},
              group_log_options options = {});

    void append(std::vector<coordinator::log_record> records,
                std::function<void(status)> done) override;

    // The records read back at load (read_all()), so that compaction knows
    // every live key. Call once, before the first append.
    void loaded(const std::vector<coordinator::log_record>& records);

    // Every record of `p` from its start offset, oldest first.
    static result<std::vector<coordinator::log_record>> read_all(partition& p);

    // For tests and logs: records in the partition (from its start offset,
    // snapshots included) and live keys.
    size_t log_records() const;
    size_t live_keys() const;
    // Snapshots completed (appended and trimmed).
    uint64_t compactions() const;

private:
    struct state;
    void write_batch(const std::vector<coordinator::log_record>& records,
                     std::function<void(produce_outcome)> done);
    void maybe_compact();

    std::shared_ptr<partition> _target;
    poster _post;
    poster _blocking;
    const group_log_options _options;
    std::shared_ptr<state> _state;
};

}  // namespace floe::kafka
