// group_records: the key/value records the group coordinator writes to its
// log so that committed offsets and group metadata survive a restart. The
// byte layout is Kafka's __consumer_offsets layout (classic groups), so the
// records read like Kafka's; the spec is docs/format/consumer_offsets.md.
//
// Every key starts with an int16 that says what the key is:
//
//   0, 1  offset commit key   (group, topic, partition)    Floe writes 1
//   2     group metadata key  (group)
//   3-8   consumer group keys (KIP-848 groups): group metadata (epoch),
//         partition metadata (subscribed topics), member metadata (member's
//         subscription), target assignment metadata (assignment epoch),
//         target assignment member, current member assignment; the member
//         keys are (group, member), the others (group).
//
// A value is the state of its key; an absent value (a tombstone) deletes the
// key. The log has compacted semantics: replaying the records in log order,
// the last value of a key wins and a tombstone removes it.
//
//   offset commit value   v0: offset, metadata, commit ts
//                         v1: offset, metadata, commit ts, expire ts
//                         v2: offset, metadata, commit ts
//                         v3: offset, leader epoch, metadata, commit ts
//   Floe writes v3, or v1 when the commit carries an explicit expiry
//   (OffsetCommit v2-v4 RetentionTimeMs).
//
//   group metadata value  v0-v3 (Floe writes v3): protocol type, generation,
//                         protocol, leader, state timestamp (v2+), members
//                         (member id, instance id (v3+), client id, client
//                         host, rebalance timeout (v1+), session timeout,
//                         subscription, assignment).
//
// Flexible versions (v4 of both values, with tagged fields) are refused as
// unsupported: Floe never writes them.
//
// Consumer group values (key types 3-8) use Kafka's flexible encoding, as
// Kafka's records of the same types do: value version 0, compact strings and
// arrays (unsigned varint length + 1, 0 for null), 16-byte UUIDs, and a
// tagged-field section (Floe's own fields use tags >= 100; unknown tags are
// skipped).
//
// Integers are big-endian; a string is an int16 length then UTF-8 bytes
// (length -1: null, only where nullable); bytes are an int32 length then the
// bytes.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"

namespace floe::coordinator::group_records {

constexpr int16_t k_offset_commit_key_v0 = 0;
constexpr int16_t k_offset_commit_key_v1 = 1;
constexpr int16_t k_group_metadata_key_v2 = 2;

constexpr int16_t k_offset_commit_value_written = 3;
constexpr int16_t k_offset_commit_value_with_expiry = 1;
constexpr int16_t k_offset_commit_value_max = 3;

constexpr int16_t k_group_metadata_value_written = 3;
constexpr int16_t k_group_metadata_value_max = 3;

struct offset_commit_key {
    std::string group_id;
    std::string topic;
    int32_t partition = 0;
    bool operator==(const offset_commit_key&) const = default;
};

struct group_metadata_key {
    std::string group_id;
    bool operator==(const group_metadata_key&) const = default;
};

// Key types 3-8 (k_consumer_*): member_id is set only for 5, 7 and 8.
constexpr int16_t k_consumer_group_metadata_key = 3;
constexpr int16_t k_consumer_partition_metadata_key = 4;
constexpr int16_t k_consumer_member_metadata_key = 5;
constexpr int16_t k_consumer_target_metadata_key = 6;
constexpr int16_t k_consumer_target_member_key = 7;
constexpr int16_t k_consumer_current_assignment_key = 8;
constexpr int16_t k_consumer_value_version = 0;

struct consumer_group_key {
    int16_t type = k_consumer_group_metadata_key;
    std::string group_id;
    std::string member_id;
    bool operator==(const consumer_group_key&) const = default;
    bool has_member() const {
        return type == k_consumer_member_metadata_key || type == k_consumer_target_member_key ||
               type == k_consumer_current_assignment_key;
    }
};

using record_key = std::variant<offset_commit_key, group_metadata_key, consumer_group_key>;

struct offset_commit_value {
    int64_t offset = 0;
    int32_t leader_epoch = -1;  // -1: unknown
    std::string metadata;
    int64_t commit_timestamp_ms = 0;
    // Set only by commits that asked for their own retention (OffsetCommit
    // v2-v4); written as value v1, which has no leader epoch.
    std::optional<int64_t> expire_timestamp_ms;
    bool operator==(const offset_commit_value&) const = default;
};

struct member_value {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::string client_id;
    std::string client_host;
    int32_t rebalance_timeout_ms = 0;
    int32_t session_timeout_ms = 0;
    byte_vector subscription;  // the member's metadata for the group's protocol
    byte_vector assignment;
    bool operator==(const member_value&) const = default;
};

struct group_metadata_value {
    std::string protocol_type;  // empty: none
    int32_t generation = 0;
    std::optional<std::string> protocol;
    std::optional<std::string> leader;
    int64_t current_state_timestamp_ms = -1;  // -1: unknown
    std::vector<member_value> members;
    bool operator==(const group_metadata_value&) const = default;
};

// ---- consumer group values ------------------------------------------------------

using uuid = std::array<uint8_t, 16>;
// Partitions by topic id; written sorted.
using topic_partitions = std::map<uuid, std::set<int32_t>>;

struct consumer_group_metadata_value {  // key 3
    int32_t epoch = 0;
    bool operator==(const consumer_group_metadata_value&) const = default;
};

struct consumer_topic_metadata {
    uuid topic_id{};
    std::string topic_name;
    int32_t partition_count = 0;
    bool operator==(const consumer_topic_metadata&) const = default;
};

struct consumer_partition_metadata_value {  // key 4
    std::vector<consumer_topic_metadata> topics;
    bool operator==(const consumer_partition_metadata_value&) const = default;
};

struct consumer_member_metadata_value {  // key 5
    std::optional<std::string> instance_id;
    std::optional<std::string> rack_id;
    std::string client_id;
    std::string client_host;
    std::vector<std::string> subscribed_topic_names;
    std::optional<std::string> subscribed_topic_regex;
    std::optional<std::string> server_assignor;
    int32_t rebalance_timeout_ms = -1;
    bool operator==(const consumer_member_metadata_value&) const = default;
};

struct consumer_target_metadata_value {  // key 6
    int32_t assignment_epoch = 0;
    bool operator==(const consumer_target_metadata_value&) const = default;
};

struct consumer_target_member_value {  // key 7
    topic_partitions partitions;
    bool operator==(const consumer_target_member_value&) const = default;
};

struct consumer_current_assignment_value {  // key 8
    int32_t member_epoch = 0;
    int32_t previous_member_epoch = -1;
    int8_t state = 0;
    topic_partitions assigned;
    topic_partitions pending_revocation;
    // Floe's tag 100: the member epoch at which each assigned partition was
    // assigned (OffsetCommit with an older member epoch is checked against
    // it). Missing entries read as the member epoch.
    std::map<std::pair<uuid, int32_t>, int32_t> assigned_epochs;
    bool operator==(const consumer_current_assignment_value&) const = default;
};

byte_vector encode_key(const offset_commit_key& key);
byte_vector encode_key(const group_metadata_key& key);
byte_vector encode_value(const offset_commit_value& value);
byte_vector encode_value(const group_metadata_value& value);
byte_vector encode_key(const consumer_group_key& key);
byte_vector encode_value(const consumer_group_metadata_value& value);
byte_vector encode_value(const consumer_partition_metadata_value& value);
byte_vector encode_value(const consumer_member_metadata_value& value);
byte_vector encode_value(const consumer_target_metadata_value& value);
byte_vector encode_value(const consumer_target_member_value& value);
byte_vector encode_value(const consumer_current_assignment_value& value);

// Decoders refuse trailing bytes (corrupt), unknown key versions and value
// versions above the *_max constants (unsupported).
result<record_key> decode_key(byte_span bytes);
result<offset_commit_value> decode_offset_commit_value(byte_span bytes);
result<group_metadata_value> decode_group_metadata_value(byte_span bytes);
result<consumer_group_metadata_value> decode_consumer_group_metadata_value(byte_span bytes);
result<consumer_partition_metadata_value> decode_consumer_partition_metadata_value(byte_span bytes);
result<consumer_member_metadata_value> decode_consumer_member_metadata_value(byte_span bytes);
result<consumer_target_metadata_value> decode_consumer_target_metadata_value(byte_span bytes);
result<consumer_target_member_value> decode_consumer_target_member_value(byte_span bytes);
result<consumer_current_assignment_value> decode_consumer_current_assignment_value(byte_span bytes);

}  // namespace floe::coordinator::group_records
