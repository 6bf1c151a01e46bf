// coordinator_log: where the group coordinator makes its state durable. It
// appends key/value records (group_records.h) and learns when they are
// durable; after a restart its owner reads the records back and hands them
// to group_coordinator::replay().
//
// Contract of an implementation:
//   - append() stores all records of one call or none of them (one batch);
//   - appends are ordered: records of a successful append come, on replay,
//     after those of every append called before it;
//   - `done` is called exactly once: ok() once the records are durable (they
//     will be replayed after any crash), an error otherwise. It may be called
//     from inside append(). It must run on the coordinator's owner thread
//     (an implementation completing elsewhere posts it there), and never
//     after the coordinator is destroyed (group_coordinator ignores such
//     late calls, but the owner must keep the log alive until they stop);
//   - replay has compacted semantics: the last record of a key wins, a record
//     without a value (a tombstone) deletes the key; an implementation may
//     compact, keeping only the last record of each key and dropping
//     tombstones once everything older is gone.
//
// Errors: errc::conflict means the log is fenced (another broker owns it:
// the coordinator answers NOT_COORDINATOR); errc::too_large that the batch
// exceeds a size bound; anything else is treated as temporarily unavailable.
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"

namespace floe::coordinator {

struct log_record {
    byte_vector key;
    std::optional<byte_vector> value;  // nullopt: tombstone
    bool operator==(const log_record&) const = default;
};

class coordinator_log {
public:
    virtual ~coordinator_log() = default;
    virtual void append(std::vector<log_record> records, std::function<void(status)> done) = 0;
};

}  // namespace floe::coordinator
