// topic_config: the topic-level configs Floe knows (Kafka's names, types and
// defaults), with validation. Used by CreateTopics, DescribeConfigs,
// AlterConfigs and IncrementalAlterConfigs, and by the produce path
// (max.message.bytes, message.timestamp.*), and retention (retention.ms,
// retention.bytes).
//
// Configs Floe acts on: cleanup.policy (delete only), compression.type,
// max.message.bytes, message.timestamp.type, message.timestamp.before.max.ms,
// message.timestamp.after.max.ms, retention.ms, retention.bytes. The others
// are accepted, stored and displayed as Kafka does, but change nothing in
// Floe (segment and flush settings, for instance, have no meaning for a log
// kept in a WAL and objects); their docs say so.
//
// Threading: pure functions over a constant table.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace floe::kafka {

// DescribeConfigs config_type values.
enum class config_type : int8_t {
    unknown = 0,
    boolean = 1,
    string = 2,
    int32 = 3,
    int16 = 4,
    int64 = 5,
    float64 = 6,
    list = 7,
    class_name = 8,
    password = 9,
};

// DescribeConfigs config_source values.
enum class config_source : int8_t {
    unknown = 0,
    dynamic_topic = 1,
    dynamic_broker = 2,
    dynamic_default_broker = 3,
    static_broker = 4,
    default_config = 5,
};

struct topic_config_def {
    std::string_view name;
    config_type type;
    std::string_view default_value;
    std::string_view broker_synonym;  // e.g. log.retention.ms; empty if none
    std::string_view doc;
};

// Every known topic config, sorted by name.
std::span<const topic_config_def> topic_config_defs();
const topic_config_def* find_topic_config(std::string_view name);

// Why `value` is not acceptable for config `name` (unknown name, wrong type,
// out of range, unsupported by Floe), or nullopt when it is.
std::optional<std::string> invalid_topic_config(std::string_view name, std::string_view value);

}  // namespace floe::kafka
