#include "kafka/broker/topic_config.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <string>

namespace floe::kafka {

namespace {

constexpr std::string_view k_long_max = "9223372036854775807";
constexpr std::string_view k_unused = "Accepted for compatibility; Floe does not use it.";

// Sorted by name (find_topic_config uses binary search).
constexpr std::array k_defs = {
    topic_config_def{"cleanup.policy", config_type::list, "delete", "log.cleanup.policy",
                     "delete: old data is removed by retention.ms / retention.bytes. Floe "
                     "does not support compact."},
    topic_config_def{"compression.gzip.level", config_type::int32, "-1", "", k_unused},
    topic_config_def{"compression.lz4.level", config_type::int32, "9", "", k_unused},
    topic_config_def{"compression.type", config_type::string, "producer", "compression.type",
                     "Codec of stored batches; producer keeps the producer's codec."},
    topic_config_def{"compression.zstd.level", config_type::int32, "3", "", k_unused},
    topic_config_def{"delete.retention.ms", config_type::int64, "86400000",
                     "log.cleaner.delete.retention.ms", k_unused},
    topic_config_def{"file.delete.delay.ms", config_type::int64, "60000",
                     "log.segment.delete.delay.ms", k_unused},
    topic_config_def{"flush.messages", config_type::int64, k_long_max,
                     "log.flush.interval.messages",
                     "Floe syncs every acknowledged batch; accepted for compatibility."},
    topic_config_def{"flush.ms", config_type::int64, k_long_max, "log.flush.interval.ms",
                     "Floe syncs every acknowledged batch; accepted for compatibility."},
    topic_config_def{"follower.replication.throttled.replicas", config_type::list, "",
                     "follower.replication.throttled.replicas", k_unused},
    topic_config_def{"index.interval.bytes", config_type::int32, "4096", "log.index.interval.bytes",
                     k_unused},
    topic_config_def{"leader.replication.throttled.replicas", config_type::list, "",
                     "leader.replication.throttled.replicas", k_unused},
    topic_config_def{"local.retention.bytes", config_type::int64, "-2", "log.local.retention.bytes",
                     k_unused},
    topic_config_def{"local.retention.ms", config_type::int64, "-2", "log.local.retention.ms",
                     k_unused},
    topic_config_def{"max.compaction.lag.ms", config_type::int64, k_long_max,
                     "log.cleaner.max.compaction.lag.ms", k_unused},
    topic_config_def{"max.message.bytes", config_type::int32, "1048588", "message.max.bytes",
                     "Largest record batch accepted (after compression)."},
    topic_config_def{"message.timestamp.after.max.ms", config_type::int64, "3600000",
                     "log.message.timestamp.after.max.ms",
                     "How far in the future a CreateTime timestamp may be."},
    topic_config_def{"message.timestamp.before.max.ms", config_type::int64, k_long_max,
                     "log.message.timestamp.before.max.ms",
                     "How far in the past a CreateTime timestamp may be."},
    topic_config_def{"message.timestamp.type", config_type::string, "CreateTime",
                     "log.message.timestamp.type",
                     "CreateTime keeps the producer's timestamps; LogAppendTime stamps "
                     "batches with the broker's time."},
    topic_config_def{"min.cleanable.dirty.ratio", config_type::float64, "0.5",
                     "log.cleaner.min.cleanable.ratio", k_unused},
    topic_config_def{"min.compaction.lag.ms", config_type::int64, "0",
                     "log.cleaner.min.compaction.lag.ms", k_unused},
    topic_config_def{"min.insync.replicas", config_type::int32, "1", "min.insync.replicas",
                     "Floe keeps durability in shared storage; accepted for compatibility."},
    topic_config_def{"preallocate", config_type::boolean, "false", "log.preallocate", k_unused},
    topic_config_def{"remote.log.copy.disable", config_type::boolean, "false", "", k_unused},
    topic_config_def{"remote.log.delete.on.disable", config_type::boolean, "false", "", k_unused},
    topic_config_def{"remote.storage.enable", config_type::boolean, "false", "",
                     "Floe always keeps the log in object storage; accepted for "
                     "compatibility."},
    topic_config_def{"retention.bytes", config_type::int64, "-1", "log.retention.bytes",
                     "Bytes kept per partition; -1: no limit."},
    topic_config_def{"retention.ms", config_type::int64, "604800000", "log.retention.ms",
                     "How long data is kept; -1: forever."},
    topic_config_def{"segment.bytes", config_type::int32, "1073741824", "log.segment.bytes",
                     k_unused},
    topic_config_def{"segment.index.bytes", config_type::int32, "10485760",
                     "log.index.size.max.bytes", k_unused},
    topic_config_def{"segment.jitter.ms", config_type::int64, "0", "log.roll.jitter.ms", k_unused},
    topic_config_def{"segment.ms", config_type::int64, "604800000", "log.roll.ms", k_unused},
    topic_config_def{"unclean.leader.election.enable", config_type::boolean, "false",
                     "unclean.leader.election.enable", k_unused},
};

template <typename T>
std::optional<T> parse_number(std::string_view v) {
    T out{};
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (ec != std::errc() || end != v.data() + v.size() || v.empty()) {
        return std::nullopt;
    }
    return out;
}

std::string trimmed(std::string_view v) {
    size_t a = v.find_first_not_of(" \t");
    size_t b = v.find_last_not_of(" \t");
    return a == std::string_view::npos ? std::string() : std::string(v.substr(a, b - a + 1));
}

}  // namespace

std::span<const topic_config_def> topic_config_defs() {
    return k_defs;
}

const topic_config_def* find_topic_config(std::string_view name) {
    auto it =
        std::lower_bound(k_defs.begin(), k_defs.end(), name,
                         [](const topic_config_def& d, std::string_view n) { return d.name < n; });
    if (it == k_defs.end() || it->name != name) {
        return nullptr;
    }
    return &*it;
}

std::optional<std::string> invalid_topic_config(std::string_view name, std::string_view value) {
    const topic_config_def* def = find_topic_config(name);
    if (def == nullptr) {
        return "Unknown topic config name: " + std::string(name);
    }
    std::string v = trimmed(value);
    auto bad = [&](std::string_view why) {
        return "Invalid value " + std::string(value) + " for configuration " + std::string(name) +
               ": " + std::string(why);
    };
    switch (def->type) {
        case config_type::boolean:
            if (v != "true" && v != "false") {
                return bad("Expected value to be either true or false");
            }
            break;
        case config_type::int32: {
            auto n = parse_number<int32_t>(v);
            if (!n) {
                return bad("Not a number of type INT");
            }
            if (name == "max.message.bytes" && *n < 0) {
                return bad("Value must be at least 0");
            }
            if ((name == "min.insync.replicas" || name == "segment.bytes" ||
                 name == "segment.index.bytes") &&
                *n < 1) {
                return bad("Value must be at least 1");
            }
            break;
        }
        case config_type::int64: {
            auto n = parse_number<int64_t>(v);
            if (!n) {
                return bad("Not a number of type LONG");
            }
            if ((name == "retention.ms" || name == "retention.bytes") && *n < -1) {
                return bad("Value must be at least -1");
            }
            if ((name == "message.timestamp.after.max.ms" ||
                 name == "message.timestamp.before.max.ms" || name == "segment.ms" ||
                 name == "flush.ms" || name == "flush.messages" || name == "delete.retention.ms" ||
                 name == "file.delete.delay.ms" || name == "min.compaction.lag.ms" ||
                 name == "max.compaction.lag.ms" || name == "segment.jitter.ms") &&
                *n < 0) {
                return bad("Value must be at least 0");
            }
            break;
        }
        case config_type::float64: {
            char* end = nullptr;
            std::string copy = v;
            double d = std::strtod(copy.c_str(), &end);
            if (copy.empty() || end != copy.c_str() + copy.size()) {
                return bad("Not a number of type DOUBLE");
            }
            if (d < 0 || d > 1) {
                return bad("Value must be between 0 and 1");
            }
            break;
        }
        case config_type::string:
            if (name == "compression.type" && v != "uncompressed" && v != "zstd" && v != "lz4" &&
                v != "snappy" && v != "gzip" && v != "producer") {
                return bad(
                    "String must be one of: uncompressed, zstd, lz4, snappy, gzip, "
                    "producer");
            }
            if (name == "message.timestamp.type" && v != "CreateTime" && v != "LogAppendTime") {
                return bad("String must be one of: CreateTime, LogAppendTime");
            }
            break;
        case config_type::list:
            if (name == "cleanup.policy") {
                if (v == "compact" || v == "compact,delete" || v == "delete,compact") {
                    return bad("Floe does not support log compaction (cleanup.policy=compact)");
                }
                if (v != "delete") {
                    return bad("Value must be delete");
                }
            }
            break;
        default:
            break;
    }
    return std::nullopt;
}

}  // namespace floe::kafka
