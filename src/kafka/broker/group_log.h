// group_log: a coordinator_log (coordinator/coordinator_log.h) kept in one
// partition of Floe's internal offsets topic, as Kafka keeps group state in
// __consumer_offsets: each append() is one record batch of key/value records
// (a tombstone is a record with a null value), durable when the partition's
// append is; read_all() returns every record in log order for replay.
//
//   group_log log(offsets_partition, [shard](auto fn) { asio::post(shard, fn); });
//   coordinator.replay(*group_log::read_all(*offsets_partition));
//
// Compaction by key is logical: replay keeps the last record of each key. The
// log itself is not compacted yet (it grows with commits until retention).
//
// Threading: append() may be called from any thread; `done` is handed to
// `post`, which must run it on the coordinator's owner thread. read_all()
// blocks (reads the stream); call it from the blocking pool.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "coordinator/coordinator_log.h"
#include "kafka/broker/partition.h"

namespace floe::kafka {

class group_log final : public coordinator::coordinator_log {
public:
    using poster = std::function<void(std::function<void()>)>;

    group_log(std::shared_ptr<partition> target, poster post);

    void append(std::vector<coordinator::log_record> records,
                std::function<void(status)> done) override;

    // Every record of `p`, oldest first.
    static result<std::vector<coordinator::log_record>> read_all(partition& p);

private:
    std::shared_ptr<partition> _target;
    poster _post;
};

}  // namespace floe::kafka
