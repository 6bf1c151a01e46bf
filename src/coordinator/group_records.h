// group_records: the key/value records the group coordinator writes to its
// log so that committed offsets and group metadata survive a restart. The
// byte layout is Kafka's __consumer_offsets layout (classic groups), so the
// records read like Kafka's; the spec is docs/format/consumer_offsets.md.
//
// Every key starts with an int16 that says what the key is:
//
//   0, 1  offset commit key   (group, topic, partition)    Floe writes 1
//   2     group metadata key  (group)
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
// Integers are big-endian; a string is an int16 length then UTF-8 bytes
// (length -1: null, only where nullable); bytes are an int32 length then the
// bytes.
#pragma once

#include <cstdint>
#include <optional>
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

using record_key = std::variant<offset_commit_key, group_metadata_key>;

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

byte_vector encode_key(const offset_commit_key& key);
byte_vector encode_key(const group_metadata_key& key);
byte_vector encode_value(const offset_commit_value& value);
byte_vector encode_value(const group_metadata_value& value);

// Decoders refuse trailing bytes (corrupt), unknown key versions and value
// versions above the *_max constants (unsupported).
result<record_key> decode_key(byte_span bytes);
result<offset_commit_value> decode_offset_commit_value(byte_span bytes);
result<group_metadata_value> decode_group_metadata_value(byte_span bytes);

}  // namespace floe::coordinator::group_records
