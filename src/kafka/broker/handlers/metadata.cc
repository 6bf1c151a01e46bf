#include <climits>
#include <set>
#include <string>

#include "kafka/broker/broker.h"
#include "kafka/broker/handlers/codec.h"
#include "kafka/broker/handlers/handlers.h"
#include "kafka/protocol/errors.h"
#include "kafka/protocol/generated/metadata_request.h"
#include "kafka/protocol/generated/metadata_response.h"

namespace floe::kafka {

namespace {

// Topic operations a client may perform (no ACLs yet: all of them), as
// Kafka's AclOperation bit positions: READ 3, WRITE 4, CREATE 5, DELETE 6,
// ALTER 7, DESCRIBE 8, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11.
constexpr int32_t k_topic_operations =
    (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);

uuid to_wire(const cluster::topic_uuid& id) {
    uuid u;
    u.bytes = id;
    return u;
}

metadata_response::metadata_response_topic describe(broker& b, const cluster::topic_info& t,
                                                    bool operations) {
    metadata_response::metadata_response_topic out;
    out.name = t.name;
    out.topic_id = to_wire(t.id);
    out.is_internal = is_internal_topic(t.name);
    out.topic_authorized_operations = operations ? k_topic_operations : INT32_MIN;
    const int32_t node = b.options().node_id;
    for (int32_t i = 0; i < static_cast<int32_t>(t.partitions.size()); ++i) {
        metadata_response::metadata_response_partition p;
        p.partition_index = i;
        p.leader_id = node;
        p.leader_epoch = 0;
        p.replica_nodes = {node};
        p.isr_nodes = {node};
        if (!b.find_partition(t.name, i)) {
            p.error_code = code(error_code::leader_not_available);
            p.leader_id = -1;
        }
        out.partitions.push_back(std::move(p));
    }
    return out;
}

}  // namespace

asio::awaitable<response> handle_metadata(broker& b, request& r) {
    auto req = decode_request<metadata_request>(r);
    const int16_t version = r.api_version();
    metadata_response out;
    out.brokers.push_back({b.options().node_id,
                           b.options().advertised_host,
                           b.options().advertised_port,
                           std::nullopt,
                           {}});
    out.cluster_id = b.cluster_id();
    out.controller_id = b.options().node_id;
    const bool operations = req.include_topic_authorized_operations;
    // Version 0 has no null topics array: an empty one means all topics.
    const bool all = !req.topics.has_value() || (version == 0 && req.topics->empty());
    if (all) {
        for (const auto& t : b.topics().list()) {
            out.topics.push_back(describe(b, t, operations));
        }
        co_return encode_response(out, version);
    }
    const bool auto_create =
        b.options().auto_create_topics && (version < 4 || req.allow_auto_topic_creation);
    std::set<std::string> seen;  // a topic named twice is answered once
    for (const auto& wanted : *req.topics) {
        if (wanted.name.has_value() && !seen.insert(*wanted.name).second) {
            continue;
        }
        std::optional<cluster::topic_info> topic;
        if (!wanted.name.has_value()) {
            // By id (version 10+).
            topic = b.topics().find(wanted.topic_id.bytes);
            if (!topic) {
                metadata_response::metadata_response_topic missing;
                missing.name = std::nullopt;
                missing.topic_id = wanted.topic_id;
                missing.error_code = code(error_code::unknown_topic_id);
                out.topics.push_back(std::move(missing));
                continue;
            }
            out.topics.push_back(describe(b, *topic, operations));
            continue;
        }
        const std::string& name = *wanted.name;
        topic = b.topics().find(name);
        if (!topic && auto_create && !cluster::invalid_topic_name(name)) {
            auto create = [&b, name] {
                return b.create_topic(name, b.options().default_partitions, {});
            };
            auto created = co_await on_pool(b.pool(), std::move(create));
            if (created) {
                topic = std::move(*created);
            } else {
                topic = b.topics().find(name);  // created meanwhile by someone else
            }
        }
        if (!topic) {
            metadata_response::metadata_response_topic missing;
            missing.name = name;
            missing.error_code =
                code(cluster::invalid_topic_name(name) ? error_code::invalid_topic_exception
                                                       : error_code::unknown_topic_or_partition);
            out.topics.push_back(std::move(missing));
            continue;
        }
        out.topics.push_back(describe(b, *topic, operations));
    }
    co_return encode_response(out, version);
}

}  // namespace floe::kafka
