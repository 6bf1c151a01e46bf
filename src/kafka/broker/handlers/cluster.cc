// DescribeCluster, DescribeLogDirs, DescribeTopicPartitions and
// FindCoordinator: the cluster as a single node that is the only broker, the
// controller, the leader of every partition (leader epoch 0, replicas and ISR
// [this node]) and every coordinator.
//
// DescribeLogDirs reports one log dir, broker_options::log_dir (where the WAL
// lives). Partition sizes are estimates: the stream store keeps no byte
// count per stream, so a partition's size is its offset count (high
// watermark - log start) times the bytes per offset of its newest stored
// entry (usually in the log cache). offset_lag is 0 and is_future_key false
// (there are no replicas to catch up and no future replicas).
#include <sys/statvfs.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "kafka/broker/broker.h"
#include "kafka/broker/handlers/admin.h"
#include "kafka/broker/handlers/codec.h"
#include "kafka/broker/handlers/handlers.h"
#include "kafka/protocol/errors.h"
#include "kafka/protocol/generated/describe_cluster_request.h"
#include "kafka/protocol/generated/describe_cluster_response.h"
#include "kafka/protocol/generated/describe_log_dirs_request.h"
#include "kafka/protocol/generated/describe_log_dirs_response.h"
#include "kafka/protocol/generated/describe_topic_partitions_request.h"
#include "kafka/protocol/generated/describe_topic_partitions_response.h"
#include "kafka/protocol/generated/find_coordinator_request.h"
#include "kafka/protocol/generated/find_coordinator_response.h"

namespace floe::kafka {

namespace {

// DescribeCluster endpoint types.
constexpr int8_t k_endpoint_brokers = 1;
constexpr int8_t k_endpoint_controllers = 2;

// FindCoordinator key types.
constexpr int8_t k_key_group = 0;
constexpr int8_t k_key_transaction = 1;

// Kafka's max.request.partition.size.limit default: the most partitions one
// DescribeTopicPartitions response carries.
constexpr int32_t k_max_response_partitions = 2000;

// The estimated stored bytes of a partition (see the header comment).
// Blocking: may read the newest entry from the WAL or objects.
int64_t estimate_size(partition& p) {
    const partition_offsets bounds = p.offsets();
    if (bounds.high_watermark <= bounds.log_start_offset) {
        return 0;
    }
    auto entries = p.read(bounds.high_watermark - 1, 1);
    if (!entries || entries->empty() || entries->front().record_count <= 0) {
        return 0;
    }
    const auto& newest = entries->front();
    const double per_offset =
        static_cast<double>(newest.payload.size()) / static_cast<double>(newest.record_count);
    return static_cast<int64_t>(std::llround(
        per_offset * static_cast<double>(bounds.high_watermark - bounds.log_start_offset)));
}

struct disk_space {
    int64_t total = -1;
    int64_t usable = -1;
};

disk_space space_of(const std::string& dir) {
    struct statvfs info {};
    if (::statvfs(dir.c_str(), &info) != 0) {
        return {};
    }
    return {static_cast<int64_t>(info.f_blocks) * static_cast<int64_t>(info.f_frsize),
            static_cast<int64_t>(info.f_bavail) * static_cast<int64_t>(info.f_frsize)};
}

}  // namespace

asio::awaitable<response> handle_describe_cluster(broker& b, request& r) {
    auto req = decode_request<describe_cluster_request>(r);
    const int16_t version = r.api_version();
    describe_cluster_response out;
    out.endpoint_type = req.endpoint_type;
    out.error_message = std::nullopt;
    if (req.endpoint_type != k_endpoint_brokers) {
        // Kafka's broker listener: a request for controller endpoints went to
        // a broker endpoint; anything else is not an endpoint type.
        const bool known = req.endpoint_type == k_endpoint_controllers;
        out.error_code = code(version == 0 ? error_code::invalid_request
                              : known      ? error_code::mismatched_endpoint_type
                                           : error_code::unsupported_endpoint_type);
        out.error_message = known ? "This listener serves broker endpoints (endpoint type 1)"
                                  : "Unknown endpoint type " + std::to_string(req.endpoint_type);
        co_return encode_response(out, version);
    }
    out.cluster_id = b.cluster_id();
    out.controller_id = b.options().node_id;
    out.brokers.push_back({b.options().node_id,
                           b.options().advertised_host,
                           b.options().advertised_port,
                           std::nullopt,
                           {}});
    if (req.include_cluster_authorized_operations) {
        out.cluster_authorized_operations = acl_operation::cluster_all;
    }
    co_return encode_response(out, version);
}

asio::awaitable<response> handle_describe_log_dirs(broker& b, request& r) {
    auto req = decode_request<describe_log_dirs_request>(r);
    const int16_t version = r.api_version();
    // The partitions to report, by topic in name order.
    std::map<std::string, std::vector<std::shared_ptr<partition>>> wanted;
    if (!req.topics) {
        for (const auto& t : b.topics().list()) {
            wanted[t.name] = b.partitions_of(t.name);
        }
    } else {
        for (const auto& t : *req.topics) {
            for (int32_t index : t.partitions) {
                if (auto p = b.find_partition(t.topic, index)) {
                    wanted[t.topic].push_back(std::move(p));
                }
            }
        }
    }
    std::error_code ec;
    std::string dir = std::filesystem::absolute(b.options().log_dir, ec).string();
    if (ec) {
        dir = b.options().log_dir;
    }
    struct measured {
        std::map<std::string, std::vector<std::pair<int32_t, int64_t>>> sizes;
        disk_space space;
    };
    auto work = [&wanted, &dir] {
        measured result;
        for (const auto& [topic, parts] : wanted) {
            std::set<int32_t> seen;
            auto& sizes = result.sizes[topic];
            for (const auto& p : parts) {
                if (seen.insert(p->index()).second) {
                    sizes.emplace_back(p->index(), estimate_size(*p));
                }
            }
        }
        result.space = space_of(dir);
        return result;
    };
    auto operation = on_pool(b.pool(), std::move(work));
    measured m = co_await std::move(operation);
    describe_log_dirs_response out;
    describe_log_dirs_response::describe_log_dirs_result result;
    result.log_dir = dir;
    result.total_bytes = m.space.total;
    result.usable_bytes = m.space.usable;
    for (auto& [topic, sizes] : m.sizes) {
        if (sizes.empty()) {
            continue;
        }
        describe_log_dirs_response::describe_log_dirs_topic topic_out;
        topic_out.name = topic;
        for (const auto& [index, size] : sizes) {
            describe_log_dirs_response::describe_log_dirs_partition p;
            p.partition_index = index;
            p.partition_size = size;
            p.offset_lag = 0;
            p.is_future_key = false;
            topic_out.partitions.push_back(std::move(p));
        }
        result.topics.push_back(std::move(topic_out));
    }
    out.results.push_back(std::move(result));
    co_return encode_response(out, version);
}

// Topics in name order from the cursor on; at most response_partition_limit
// partitions (clamped to 1..2000) per response, the rest behind next_cursor,
// which names the first topic and partition not returned. Requested topics
// that do not exist are listed with their error; a cursor that is not among
// the requested topics, or has a negative partition, is INVALID_REQUEST for
// every requested topic.
asio::awaitable<response> handle_describe_topic_partitions(broker& b, request& r) {
    auto req = decode_request<describe_topic_partitions_request>(r);
    const int16_t version = r.api_version();
    const int32_t node = b.options().node_id;
    describe_topic_partitions_response out;
    const bool all = req.topics.empty();
    const std::string cursor_topic = req.cursor ? req.cursor->topic_name : std::string();
    std::set<std::string> names;
    if (all) {
        for (const auto& t : b.topics().list()) {
            if (t.name >= cursor_topic) {
                names.insert(t.name);
            }
        }
    } else {
        for (const auto& t : req.topics) {
            if (t.name >= cursor_topic) {
                names.insert(t.name);
            }
        }
    }
    const bool bad_cursor = req.cursor && ((!all && !names.contains(req.cursor->topic_name)) ||
                                           req.cursor->partition_index < 0);
    if (bad_cursor) {
        for (const auto& t : req.topics) {
            describe_topic_partitions_response::describe_topic_partitions_response_topic topic_out;
            topic_out.name = t.name;
            topic_out.error_code = code(error_code::invalid_request);
            out.topics.push_back(std::move(topic_out));
        }
        co_return encode_response(out, version);
    }
    int64_t remaining =
        std::clamp(req.response_partition_limit, int32_t{1}, k_max_response_partitions);
    for (const auto& name : names) {
        if (remaining == 0) {
            out.next_cursor = describe_topic_partitions_response::cursor{name, 0, {}};
            break;
        }
        describe_topic_partitions_response::describe_topic_partitions_response_topic topic_out;
        topic_out.name = name;
        topic_out.is_internal = is_internal_topic(name);
        topic_out.topic_authorized_operations = acl_operation::topic_all;
        topic_lookup found = lookup_topic(b, name);
        if (!found.topic) {
            topic_out.error_code = code(found.code);
            topic_out.topic_authorized_operations = INT32_MIN;
            out.topics.push_back(std::move(topic_out));
            continue;
        }
        topic_out.topic_id = to_wire(found.topic->id);
        const int64_t count = static_cast<int64_t>(found.topic->partitions.size());
        const int64_t first =
            req.cursor && name == req.cursor->topic_name ? req.cursor->partition_index : 0;
        const int64_t end = std::min(count, first + remaining);
        for (int64_t i = first; i < end; ++i) {
            describe_topic_partitions_response::describe_topic_partitions_response_partition p;
            p.partition_index = static_cast<int32_t>(i);
            p.leader_id = node;
            p.leader_epoch = 0;
            p.replica_nodes = {node};
            p.isr_nodes = {node};
            // Empty, not null: the Java admin client reads these lists.
            p.eligible_leader_replicas.emplace();
            p.last_known_elr.emplace();
            topic_out.partitions.push_back(std::move(p));
        }
        out.topics.push_back(std::move(topic_out));
        if (end < count) {
            out.next_cursor =
                describe_topic_partitions_response::cursor{name, static_cast<int32_t>(end), {}};
            break;
        }
        remaining -= std::max<int64_t>(0, end - first);
    }
    co_return encode_response(out, version);
}

asio::awaitable<response> handle_find_coordinator(broker& b, request& r) {
    auto req = decode_request<find_coordinator_request>(r);
    const int16_t version = r.api_version();
    const broker_options& options = b.options();
    // Version 0 has no key type: it looks up groups.
    const int8_t key_type = version == 0 ? k_key_group : req.key_type;
    const bool served = key_type == k_key_group || key_type == k_key_transaction;
    // A group's coordinator is the owner of its offsets partition (this
    // node); until the offsets topic exists there is none, and the client
    // retries (the first lookup starts creating the topic).
    const bool available = key_type != k_key_group || b.groups().ensure_ready();
    const std::string refused =
        "Floe serves coordinators of key types 0 (group) and 1 "
        "(transaction), not " +
        std::to_string(key_type);
    const std::string not_available = "The coordinator is not available.";
    find_coordinator_response out;
    auto fill = [&](int16_t& err, std::optional<std::string>& message, int32_t& node_id,
                    std::string& host, int32_t& port) {
        if (!served) {
            err = code(error_code::invalid_request);
            message = refused;
            node_id = -1;
            port = -1;
        } else if (!available) {
            err = code(error_code::coordinator_not_available);
            message = not_available;
            node_id = -1;
            port = -1;
        } else {
            message = std::nullopt;
            node_id = options.node_id;
            host = options.advertised_host;
            port = options.advertised_port;
        }
    };
    if (version < 4) {
        fill(out.error_code, out.error_message, out.node_id, out.host, out.port);
        co_return encode_response(out, version);
    }
    for (const auto& key : req.coordinator_keys) {
        find_coordinator_response::coordinator c;
        c.key = key;
        fill(c.error_code, c.error_message, c.node_id, c.host, c.port);
        out.coordinators.push_back(std::move(c));
    }
    co_return encode_response(out, version);
}

}  // namespace floe::kafka
