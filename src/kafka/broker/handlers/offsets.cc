// ListOffsets, OffsetForLeaderEpoch and DeleteRecords.
//
// Every partition here has one leader epoch, 0, that started at the log
// start offset; the log end is the high watermark (what is durable). Kafka's
// answers for a leader whose epoch cache holds the single entry (0, start):
//
//   ListOffsets timestamp          offset                    timestamp  epoch
//   -2 EARLIEST, -4 EARLIEST_LOCAL log start                 -1         0
//   -1 LATEST                      high watermark            -1         0
//   -3 MAX_TIMESTAMP               offset of the largest     that       0
//                                  timestamp (-1 if empty)   (-1)       (-1)
//   -5 LATEST_TIERED               -1 (remote storage is off for every topic,
//                                  remote.storage.enable = false)
//   >= 0                           first record at or after  its        0
//                                  the timestamp, else -1    (-1)       (-1)
//   other negative values          searched as timestamps (every record
//                                  matches), as Kafka 4.0 does
//
//   OffsetForLeaderEpoch epoch     end offset                epoch
//   0 (current)                    high watermark            0
//   > 0, or -1                     -1                        -1
//   < -1 (older than any)          log start                 the requested one
//
// Fencing (ListOffsets v4+, OffsetForLeaderEpoch v2+): a current_leader_epoch
// other than -1 that is below ours (0) is FENCED_LEADER_EPOCH, above ours
// UNKNOWN_LEADER_EPOCH.
//
// MAX_TIMESTAMP answers partition::max_timestamp(): the last offset of the
// batch holding the largest timestamp (Kafka 3.8+ names the record itself;
// the two differ only when that record is not its batch's last).
//
// read_committed reads are answered like read_uncommitted: Floe has no
// transactions, so the last stable offset is the high watermark.
#include <algorithm>
#include <map>

#include "kafka/broker/broker.h"
#include "kafka/broker/handlers/admin.h"
#include "kafka/broker/handlers/codec.h"
#include "kafka/broker/handlers/handlers.h"
#include "kafka/protocol/errors.h"
#include "kafka/protocol/generated/delete_records_request.h"
#include "kafka/protocol/generated/delete_records_response.h"
#include "kafka/protocol/generated/list_offsets_request.h"
#include "kafka/protocol/generated/list_offsets_response.h"
#include "kafka/protocol/generated/offset_for_leader_epoch_request.h"
#include "kafka/protocol/generated/offset_for_leader_epoch_response.h"
#include "kafka/protocol/record_batch.h"

namespace floe::kafka {

namespace {

constexpr int64_t k_latest = -1;
constexpr int64_t k_earliest = -2;
constexpr int64_t k_max_timestamp = -3;
constexpr int64_t k_earliest_local = -4;
constexpr int64_t k_latest_tiered = -5;

// Reads made by one timestamp search before it gives up (each reads at most
// k_search_read_bytes, and the first entry it reads normally holds the
// answer).
constexpr int k_search_reads = 16;
constexpr size_t k_search_read_bytes = 1 << 20;

// The error of a current_leader_epoch check against epoch 0, or none.
error_code check_current_epoch(int32_t current_leader_epoch, int32_t ours) {
    if (current_leader_epoch == -1) {
        return error_code::none;
    }
    if (current_leader_epoch < ours) {
        return error_code::fenced_leader_epoch;
    }
    if (current_leader_epoch > ours) {
        return error_code::unknown_leader_epoch;
    }
    return error_code::none;
}

struct timestamp_hit {
    int64_t offset = -1;
    int64_t timestamp = -1;
};

// The first record at or after the log start whose timestamp is >= `target`
// (offset -1 when there is none). Blocking.
result<timestamp_hit> search_timestamp(partition& p, int64_t target,
                                       size_t max_uncompressed_bytes) {
    auto found = p.offset_for_timestamp(target);
    if (!found) {
        return found.error_value();
    }
    if (!*found) {
        return timestamp_hit{};
    }
    const partition_offsets bounds = p.offsets();
    int64_t at = std::max(**found, bounds.log_start_offset);
    batch_limits limits;
    limits.max_uncompressed_bytes = max_uncompressed_bytes;
    limits.offsets = offset_rule::increasing;
    for (int reads = 0; reads < k_search_reads && at < bounds.high_watermark; ++reads) {
        auto entries = p.read(at, k_search_read_bytes);
        if (!entries) {
            return entries.error_value();
        }
        if (entries->empty()) {
            break;
        }
        for (const auto& entry : *entries) {
            if (entry.max_timestamp < target) {
                at = std::max(at, entry.end_offset().value());
                continue;
            }
            auto split = split_batches(entry.payload.span(), split_mode::fetch);
            if (!split) {
                return split.error_value();
            }
            for (const auto& batch : split->batches) {
                const batch_header& h = batch.header;
                if (h.last_offset() < at || h.max_timestamp < target) {
                    continue;
                }
                if (h.ts_type() == timestamp_type::log_append_time) {
                    // Every record carries the append time.
                    return timestamp_hit{std::max(h.base_offset, at), h.max_timestamp};
                }
                timestamp_hit hit;
                status walked = for_each_record(batch, limits, [&](const record_view& rec) {
                    const int64_t record_offset = h.base_offset + rec.offset_delta;
                    const int64_t record_timestamp = h.base_timestamp + rec.timestamp_delta;
                    if (hit.offset < 0 && record_offset >= at && record_timestamp >= target) {
                        hit = {record_offset, record_timestamp};
                    }
                    return ok();
                });
                if (!walked) {
                    return walked.error_value();
                }
                if (hit.offset >= 0) {
                    return hit;
                }
            }
            at = std::max(at, entry.end_offset().value());
        }
    }
    return timestamp_hit{};
}

}  // namespace

asio::awaitable<response> handle_list_offsets(broker& b, request& r) {
    auto req = decode_request<list_offsets_request>(r);
    const int16_t version = r.api_version();
    list_offsets_response out;
    // A partition named twice in one request: INVALID_REQUEST for each
    // mention, as Kafka answers.
    std::map<std::pair<std::string_view, int32_t>, int> mentions;
    for (const auto& t : req.topics) {
        for (const auto& p : t.partitions) {
            ++mentions[{t.name, p.partition_index}];
        }
    }
    const bool isolation_ok = req.isolation_level == 0 || req.isolation_level == 1;
    for (const auto& t : req.topics) {
        list_offsets_response::list_offsets_topic_response topic_out;
        topic_out.name = t.name;
        for (const auto& p : t.partitions) {
            list_offsets_response::list_offsets_partition_response po;
            po.partition_index = p.partition_index;
            std::shared_ptr<partition> part = b.find_partition(t.name, p.partition_index);
            error_code failed = error_code::none;
            if (mentions[{t.name, p.partition_index}] > 1 || !isolation_ok) {
                failed = error_code::invalid_request;
            } else if (!part) {
                failed = error_code::unknown_topic_or_partition;
            } else {
                failed = check_current_epoch(p.current_leader_epoch, part->leader_epoch());
            }
            if (failed != error_code::none) {
                po.error_code = code(failed);
                topic_out.partitions.push_back(std::move(po));
                continue;
            }
            const partition_offsets bounds = part->offsets();
            const int32_t epoch = part->leader_epoch();
            if (p.timestamp == k_earliest || p.timestamp == k_earliest_local) {
                po.offset = bounds.log_start_offset;
                po.leader_epoch = epoch;
            } else if (p.timestamp == k_latest) {
                po.offset = bounds.high_watermark;
                po.leader_epoch = epoch;
            } else if (p.timestamp == k_latest_tiered) {
                // Remote (tiered) storage is off for every topic: nothing is
                // tiered.
            } else if (p.timestamp == k_max_timestamp) {
                auto [max_ts, max_ts_offset] = part->max_timestamp();
                if (max_ts_offset >= 0) {
                    po.timestamp = max_ts;
                    po.offset = max_ts_offset;
                    po.leader_epoch = epoch;
                }
            } else {
                const int64_t target = p.timestamp;
                const size_t limit = b.options().max_uncompressed_batch_bytes;
                auto work = [part, target, limit] {
                    return search_timestamp(*part, target, limit);
                };
                auto operation = on_pool(b.pool(), std::move(work));
                auto hit = co_await std::move(operation);
                if (!hit) {
                    po.error_code = code(hit.error_value().code == errc::not_found
                                             ? error_code::offset_not_available
                                             : to_kafka_error(hit.error_value()));
                } else if (hit->offset >= 0) {
                    po.offset = hit->offset;
                    po.timestamp = hit->timestamp;
                    po.leader_epoch = epoch;
                }
            }
            topic_out.partitions.push_back(std::move(po));
        }
        out.topics.push_back(std::move(topic_out));
    }
    co_return encode_response(out, version);
}

asio::awaitable<response> handle_offset_for_leader_epoch(broker& b, request& r) {
    auto req = decode_request<offset_for_leader_epoch_request>(r);
    const int16_t version = r.api_version();
    offset_for_leader_epoch_response out;
    for (const auto& t : req.topics) {
        offset_for_leader_epoch_response::offset_for_leader_topic_result topic_out;
        topic_out.topic = t.topic;
        for (const auto& p : t.partitions) {
            offset_for_leader_epoch_response::epoch_end_offset po;
            po.partition = p.partition;
            std::shared_ptr<partition> part = b.find_partition(t.topic, p.partition);
            if (!part) {
                po.error_code = code(error_code::unknown_topic_or_partition);
                topic_out.partitions.push_back(std::move(po));
                continue;
            }
            const int32_t ours = part->leader_epoch();
            error_code fenced = check_current_epoch(p.current_leader_epoch, ours);
            if (fenced != error_code::none) {
                po.error_code = code(fenced);
                topic_out.partitions.push_back(std::move(po));
                continue;
            }
            const partition_offsets bounds = part->offsets();
            if (p.leader_epoch == ours) {
                po.leader_epoch = ours;
                po.end_offset = bounds.high_watermark;
            } else if (p.leader_epoch < -1) {
                // Older than the first epoch: it ended where ours started.
                po.leader_epoch = p.leader_epoch;
                po.end_offset = bounds.log_start_offset;
            }
            // Otherwise (a later epoch, or -1): undefined, -1 / -1.
            topic_out.partitions.push_back(std::move(po));
        }
        out.topics.push_back(std::move(topic_out));
    }
    co_return encode_response(out, version);
}

asio::awaitable<response> handle_delete_records(broker& b, request& r) {
    auto req = decode_request<delete_records_request>(r);
    const int16_t version = r.api_version();
    delete_records_response out;
    for (const auto& t : req.topics) {
        delete_records_response::delete_records_topic_result topic_out;
        topic_out.name = t.name;
        for (const auto& p : t.partitions) {
            delete_records_response::delete_records_partition_result po;
            po.partition_index = p.partition_index;
            po.low_watermark = -1;
            std::shared_ptr<partition> part = b.find_partition(t.name, p.partition_index);
            if (!part) {
                po.error_code = code(error_code::unknown_topic_or_partition);
                topic_out.partitions.push_back(std::move(po));
                continue;
            }
            if (is_internal_topic(t.name)) {
                // Committed offsets live there; only the coordinators trim it.
                po.error_code = code(error_code::invalid_topic_exception);
                topic_out.partitions.push_back(std::move(po));
                continue;
            }
            const partition_offsets bounds = part->offsets();
            // -1: everything up to the high watermark.
            const int64_t target = p.offset == -1 ? bounds.high_watermark : p.offset;
            if (target < 0 || target > bounds.high_watermark) {
                po.error_code = code(error_code::offset_out_of_range);
                topic_out.partitions.push_back(std::move(po));
                continue;
            }
            if (target > bounds.log_start_offset) {
                auto work = [part, target] { return part->trim(target); };
                auto operation = on_pool(b.pool(), std::move(work));
                status trimmed = co_await std::move(operation);
                if (!trimmed) {
                    po.error_code = code(to_kafka_error(trimmed.error_value()));
                    topic_out.partitions.push_back(std::move(po));
                    continue;
                }
            }
            po.low_watermark = part->offsets().log_start_offset;
            topic_out.partitions.push_back(std::move(po));
        }
        out.topics.push_back(std::move(topic_out));
    }
    co_return encode_response(out, version);
}

}  // namespace floe::kafka
