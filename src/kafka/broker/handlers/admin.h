// Helpers shared by the admin handlers (topics.cc, configs.cc, offsets.cc,
// producers.cc, cluster.cc): topic ids on the wire, bounded error messages,
// and the effective config view that DescribeConfigs and CreateTopics (v5+)
// both report.
//
// Threading: pure functions over their arguments; the config views read the
// broker's constant options only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/topic_registry.h"
#include "kafka/broker/topic_config.h"
#include "kafka/protocol/errors.h"
#include "kafka/protocol/types.h"
#include "kafka/server/handler.h"

namespace floe::kafka {

class broker;

// Kafka's AclOperation bit positions, for the *_authorized_operations
// bitfields (Floe has no ACLs: every operation a resource supports is
// allowed).
namespace acl_operation {
inline constexpr int32_t read = 1 << 3;
inline constexpr int32_t write = 1 << 4;
inline constexpr int32_t create = 1 << 5;
inline constexpr int32_t remove = 1 << 6;
inline constexpr int32_t alter = 1 << 7;
inline constexpr int32_t describe = 1 << 8;
inline constexpr int32_t cluster_action = 1 << 9;
inline constexpr int32_t describe_configs = 1 << 10;
inline constexpr int32_t alter_configs = 1 << 11;
inline constexpr int32_t idempotent_write = 1 << 12;
inline constexpr int32_t topic_all =
    read | write | create | remove | alter | describe | describe_configs | alter_configs;
// What a group allows (DescribeGroups, ConsumerGroupDescribe).
inline constexpr int32_t group_all = read | describe | remove;
inline constexpr int32_t cluster_all = create | cluster_action | describe_configs | alter_configs |
                                       idempotent_write | alter | describe;
}  // namespace acl_operation

// ConfigResource types of DescribeConfigs / AlterConfigs /
// IncrementalAlterConfigs.
namespace config_resource {
inline constexpr int8_t topic = 2;
inline constexpr int8_t broker = 4;
}  // namespace config_resource

// Longest error message a handler writes. Messages quote client input (topic
// names, config values) and a non-flexible response cannot carry a string of
// more than 32767 bytes, so every composed message goes through bounded().
inline constexpr size_t max_error_message_bytes = 1024;
// Longest config value accepted from a client, for the same reason (a stored
// value is echoed by DescribeConfigs in non-flexible versions).
inline constexpr size_t max_config_value_bytes = 4096;

// A client's host as Kafka reports it (DescribeGroups, ConsumerGroupDescribe):
// "/" and the IP address of the connection's peer.
std::string client_host(const request& r);

// `message` cut to `limit` bytes (at a UTF-8 character boundary, ending in
// "..." when cut). `limit` >= 4.
std::string bounded(std::string message, size_t limit = max_error_message_bytes);

inline uuid to_wire(const cluster::topic_uuid& id) {
    uuid out;
    out.bytes = id;
    return out;
}

// A topic looked up by name: `topic` when it exists, else the Kafka error
// (INVALID_TOPIC_EXCEPTION for a name Kafka refuses, UNKNOWN_TOPIC_OR_PARTITION
// for one that does not exist) and a message.
struct topic_lookup {
    std::optional<cluster::topic_info> topic;
    error_code code = error_code::none;
    std::string message;
};
topic_lookup lookup_topic(broker& b, std::string_view name);

// One config as DescribeConfigs reports it.
struct config_synonym_view {
    std::string name;
    std::string value;
    config_source source = config_source::default_config;
};

struct config_view {
    std::string name;
    std::string value;
    config_source source = config_source::default_config;
    bool read_only = false;
    bool sensitive = false;
    config_type type = config_type::unknown;
    std::string_view doc;
    // Most specific first: the topic override, the broker's setting, Kafka's
    // default (each present only when it applies).
    std::vector<config_synonym_view> synonyms;
};

// Every topic config of topic_config_defs() with its effective value and
// source: DYNAMIC_TOPIC_CONFIG for an override, STATIC_BROKER_CONFIG when
// the broker sets the default (broker_options::topic_defaults, or
// message_max_bytes for max.message.bytes), DEFAULT_CONFIG otherwise.
// Sorted by name. Overrides of names Floe does not know (none are accepted,
// but a registry may hold them) are listed too, as DYNAMIC_TOPIC_CONFIG.
std::vector<config_view> topic_config_views(const broker& b, const cluster::topic_info& topic);

// The broker settings Floe has, under Kafka's broker config names, all
// read-only (Floe changes none at runtime). Sorted by name.
std::vector<config_view> broker_config_views(const broker& b);

}  // namespace floe::kafka
