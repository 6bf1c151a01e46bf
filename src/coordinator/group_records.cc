#include "coordinator/group_records.h"

#include <algorithm>
#include <limits>

namespace floe::coordinator::group_records {

namespace {

void write_string(byte_writer& w, const std::string& s) {
    if (s.size() > static_cast<size_t>(std::numeric_limits<int16_t>::max())) {
        abort_with("group record string longer than 32767 bytes");
    }
    w.write_int16(static_cast<int16_t>(s.size()));
    w.write_bytes(std::string_view(s));
}

void write_nullable_string(byte_writer& w, const std::optional<std::string>& s) {
    if (!s) {
        w.write_int16(-1);
        return;
    }
    write_string(w, *s);
}

void write_bytes(byte_writer& w, const byte_vector& b) {
    if (b.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
        abort_with("group record bytes field longer than 2^31-1");
    }
    w.write_int32(static_cast<int32_t>(b.size()));
    w.write_bytes(byte_span(b));
}

std::optional<std::string> read_nullable_string(byte_reader& r) {
    int16_t length = r.read_int16();
    if (length == -1) {
        return std::nullopt;
    }
    if (length < 0) {
        r.fail(errc::corrupt, "negative string length " + std::to_string(length));
        return std::string();
    }
    byte_span bytes = r.read_span(static_cast<size_t>(length));
    return std::string(bytes.begin(), bytes.end());
}

std::string read_string(byte_reader& r) {
    auto s = read_nullable_string(r);
    if (!s) {
        r.fail(errc::corrupt, "null in a non-nullable string");
        return {};
    }
    return std::move(*s);
}

byte_vector read_bytes(byte_reader& r) {
    int32_t length = r.read_int32();
    if (length < 0) {
        // Kafka's bytes fields here are not nullable; a writer that sent
        // null meant "nothing".
        if (length != -1) {
            r.fail(errc::corrupt, "negative bytes length " + std::to_string(length));
        }
        return {};
    }
    byte_span bytes = r.read_span(static_cast<size_t>(length));
    return byte_vector(bytes.begin(), bytes.end());
}

template <typename T>
result<T> finish(const byte_reader& r, T value, const char* what) {
    if (!r.ok()) {
        return error(r.failure().code, std::string(what) + ": " + r.failure().message);
    }
    if (!r.at_end()) {
        return error(errc::corrupt,
                     std::string(what) + ": " + std::to_string(r.remaining()) + " trailing bytes");
    }
    return value;
}

// ---- Kafka's flexible encoding (consumer group values) ------------------------

void write_compact_string(byte_writer& w, const std::string& s) {
    w.write_uvarint(s.size() + 1);
    w.write_bytes(std::string_view(s));
}

void write_compact_nullable_string(byte_writer& w, const std::optional<std::string>& s) {
    if (!s) {
        w.write_uvarint(0);
        return;
    }
    write_compact_string(w, *s);
}

void write_uuid(byte_writer& w, const uuid& id) {
    w.write_bytes(byte_span(id.data(), id.size()));
}

void write_topic_partitions(byte_writer& w, const topic_partitions& tps) {
    w.write_uvarint(tps.size() + 1);
    for (const auto& [id, partitions] : tps) {
        write_uuid(w, id);
        w.write_uvarint(partitions.size() + 1);
        for (int32_t p : partitions) {
            w.write_int32(p);
        }
        w.write_uvarint(0);  // no tagged fields
    }
}

void write_no_tags(byte_writer& w) {
    w.write_uvarint(0);
}

// A compact length: nullopt for null (only where nullable). Lengths larger
// than what is left are refused before anything is allocated.
std::optional<size_t> read_compact_length(byte_reader& r, bool nullable, const char* what) {
    uint32_t raw = r.read_uvarint32();
    if (!r.ok()) {
        return 0;
    }
    if (raw == 0) {
        if (!nullable) {
            r.fail(errc::corrupt, std::string("null ") + what);
        }
        return std::nullopt;
    }
    size_t length = raw - 1;
    if (length > r.remaining()) {
        r.fail(errc::corrupt, std::string(what) + " longer than the record");
        return 0;
    }
    return length;
}

std::optional<std::string> read_compact_nullable_string(byte_reader& r) {
    auto length = read_compact_length(r, true, "string");
    if (!length) {
        return std::nullopt;
    }
    byte_span bytes = r.read_span(*length);
    return std::string(bytes.begin(), bytes.end());
}

std::string read_compact_string(byte_reader& r) {
    auto length = read_compact_length(r, false, "string");
    byte_span bytes = r.read_span(length.value_or(0));
    return std::string(bytes.begin(), bytes.end());
}

uuid read_uuid(byte_reader& r) {
    uuid id{};
    byte_span bytes = r.read_span(id.size());
    if (r.ok()) {
        std::copy(bytes.begin(), bytes.end(), id.begin());
    }
    return id;
}

// Skips a tagged-field section, handing each field to `on_tag` (which may
// read it and returns whether it did).
template <typename F>
void read_tags(byte_reader& r, F on_tag) {
    uint32_t count = r.read_uvarint32();
    for (uint32_t i = 0; r.ok() && i < count; ++i) {
        uint32_t tag = r.read_uvarint32();
        uint32_t size = r.read_uvarint32();
        if (!r.ok()) {
            return;
        }
        if (size > r.remaining()) {
            r.fail(errc::corrupt, "tagged field longer than the record");
            return;
        }
        byte_span field = r.read_span(size);
        byte_reader fr(field);
        if (on_tag(tag, fr)) {
            if (!fr.ok()) {
                r.fail(fr.failure().code,
                       "tagged field " + std::to_string(tag) + ": " + fr.failure().message);
            } else if (!fr.at_end()) {
                r.fail(errc::corrupt,
                       "tagged field " + std::to_string(tag) + " has trailing bytes");
            }
        }
    }
}

void skip_tags(byte_reader& r) {
    read_tags(r, [](uint32_t, byte_reader&) { return false; });
}

topic_partitions read_topic_partitions(byte_reader& r) {
    topic_partitions out;
    auto topics = read_compact_length(r, false, "topic array").value_or(0);
    for (size_t i = 0; r.ok() && i < topics; ++i) {
        uuid id = read_uuid(r);
        auto count = read_compact_length(r, false, "partition array").value_or(0);
        auto& partitions = out[id];
        for (size_t j = 0; r.ok() && j < count; ++j) {
            partitions.insert(r.read_int32());
        }
        skip_tags(r);
    }
    return out;
}

// Reads and checks the value version of a consumer group value.
bool read_consumer_version(byte_reader& r, const char* what) {
    int16_t version = r.read_int16();
    if (r.ok() && version != k_consumer_value_version) {
        r.fail(errc::unsupported, std::string(what) + " version " + std::to_string(version));
        return false;
    }
    return r.ok();
}

template <typename T>
result<T> finish_consumer(const byte_reader& r, T value, const char* what) {
    if (!r.ok() && r.failure().code == errc::unsupported) {
        return error(errc::unsupported, r.failure().message);
    }
    return finish(r, std::move(value), what);
}

}  // namespace

byte_vector encode_key(const offset_commit_key& key) {
    byte_writer w;
    w.write_int16(k_offset_commit_key_v1);
    write_string(w, key.group_id);
    write_string(w, key.topic);
    w.write_int32(key.partition);
    return std::move(w.buffer());
}

byte_vector encode_key(const group_metadata_key& key) {
    byte_writer w;
    w.write_int16(k_group_metadata_key_v2);
    write_string(w, key.group_id);
    return std::move(w.buffer());
}

byte_vector encode_value(const offset_commit_value& value) {
    byte_writer w;
    if (value.expire_timestamp_ms) {
        w.write_int16(k_offset_commit_value_with_expiry);
        w.write_int64(value.offset);
        write_string(w, value.metadata);
        w.write_int64(value.commit_timestamp_ms);
        w.write_int64(*value.expire_timestamp_ms);
    } else {
        w.write_int16(k_offset_commit_value_written);
        w.write_int64(value.offset);
        w.write_int32(value.leader_epoch);
        write_string(w, value.metadata);
        w.write_int64(value.commit_timestamp_ms);
    }
    return std::move(w.buffer());
}

byte_vector encode_value(const group_metadata_value& value) {
    byte_writer w;
    w.write_int16(k_group_metadata_value_written);
    write_string(w, value.protocol_type);
    w.write_int32(value.generation);
    write_nullable_string(w, value.protocol);
    write_nullable_string(w, value.leader);
    w.write_int64(value.current_state_timestamp_ms);
    w.write_int32(static_cast<int32_t>(value.members.size()));
    for (const member_value& m : value.members) {
        write_string(w, m.member_id);
        write_nullable_string(w, m.group_instance_id);
        write_string(w, m.client_id);
        write_string(w, m.client_host);
        w.write_int32(m.rebalance_timeout_ms);
        w.write_int32(m.session_timeout_ms);
        write_bytes(w, m.subscription);
        write_bytes(w, m.assignment);
    }
    return std::move(w.buffer());
}

result<record_key> decode_key(byte_span bytes) {
    byte_reader r(bytes);
    int16_t version = r.read_int16();
    if (!r.ok()) {
        return error(errc::truncated, "group record key: " + r.failure().message);
    }
    if (version == k_offset_commit_key_v0 || version == k_offset_commit_key_v1) {
        offset_commit_key key;
        key.group_id = read_string(r);
        key.topic = read_string(r);
        key.partition = r.read_int32();
        auto out = finish(r, std::move(key), "offset commit key");
        if (!out) {
            return out.error_value();
        }
        return record_key(std::move(*out));
    }
    if (version == k_group_metadata_key_v2) {
        group_metadata_key key;
        key.group_id = read_string(r);
        auto out = finish(r, std::move(key), "group metadata key");
        if (!out) {
            return out.error_value();
        }
        return record_key(std::move(*out));
    }
    if (version >= k_consumer_group_metadata_key && version <= k_consumer_current_assignment_key) {
        consumer_group_key key;
        key.type = version;
        key.group_id = read_string(r);
        if (key.has_member()) {
            key.member_id = read_string(r);
        }
        auto out = finish(r, std::move(key), "consumer group key");
        if (!out) {
            return out.error_value();
        }
        return record_key(std::move(*out));
    }
    return error(errc::unsupported, "group record key version " + std::to_string(version));
}

result<offset_commit_value> decode_offset_commit_value(byte_span bytes) {
    byte_reader r(bytes);
    int16_t version = r.read_int16();
    if (r.ok() && (version < 0 || version > k_offset_commit_value_max)) {
        return error(errc::unsupported, "offset commit value version " + std::to_string(version));
    }
    offset_commit_value v;
    v.offset = r.read_int64();
    if (version >= 3) {
        v.leader_epoch = r.read_int32();
    }
    v.metadata = read_string(r);
    v.commit_timestamp_ms = r.read_int64();
    if (version == 1) {
        int64_t expire = r.read_int64();
        if (expire >= 0) {
            v.expire_timestamp_ms = expire;
        }
    }
    return finish(r, std::move(v), "offset commit value");
}

result<group_metadata_value> decode_group_metadata_value(byte_span bytes) {
    byte_reader r(bytes);
    int16_t version = r.read_int16();
    if (r.ok() && (version < 0 || version > k_group_metadata_value_max)) {
        return error(errc::unsupported, "group metadata value version " + std::to_string(version));
    }
    group_metadata_value v;
    v.protocol_type = read_string(r);
    v.generation = r.read_int32();
    v.protocol = read_nullable_string(r);
    v.leader = read_nullable_string(r);
    if (version >= 2) {
        v.current_state_timestamp_ms = r.read_int64();
    }
    int32_t count = r.read_int32();
    if (count < 0) {
        r.fail(errc::corrupt, "negative member count");
    }
    for (int32_t i = 0; r.ok() && i < count; ++i) {
        member_value m;
        m.member_id = read_string(r);
        if (version >= 3) {
            m.group_instance_id = read_nullable_string(r);
        }
        m.client_id = read_string(r);
        m.client_host = read_string(r);
        if (version >= 1) {
            m.rebalance_timeout_ms = r.read_int32();
        }
        m.session_timeout_ms = r.read_int32();
        if (version == 0) {
            m.rebalance_timeout_ms = m.session_timeout_ms;  // v0 had one timeout for both
        }
        m.subscription = read_bytes(r);
        m.assignment = read_bytes(r);
        v.members.push_back(std::move(m));
    }
    return finish(r, std::move(v), "group metadata value");
}

// ---- consumer group records ---------------------------------------------------------

byte_vector encode_key(const consumer_group_key& key) {
    byte_writer w;
    w.write_int16(key.type);
    write_string(w, key.group_id);
    if (key.has_member()) {
        write_string(w, key.member_id);
    }
    return std::move(w.buffer());
}

byte_vector encode_value(const consumer_group_metadata_value& value) {
    byte_writer w;
    w.write_int16(k_consumer_value_version);
    w.write_int32(value.epoch);
    write_no_tags(w);
    return std::move(w.buffer());
}

byte_vector encode_value(const consumer_partition_metadata_value& value) {
    byte_writer w;
    w.write_int16(k_consumer_value_version);
    w.write_uvarint(value.topics.size() + 1);
    for (const auto& t : value.topics) {
        write_uuid(w, t.topic_id);
        write_compact_string(w, t.topic_name);
        w.write_int32(t.partition_count);
        write_no_tags(w);
    }
    write_no_tags(w);
    return std::move(w.buffer());
}

byte_vector encode_value(const consumer_member_metadata_value& value) {
    byte_writer w;
    w.write_int16(k_consumer_value_version);
    write_compact_nullable_string(w, value.instance_id);
    write_compact_nullable_string(w, value.rack_id);
    write_compact_string(w, value.client_id);
    write_compact_string(w, value.client_host);
    w.write_uvarint(value.subscribed_topic_names.size() + 1);
    for (const auto& name : value.subscribed_topic_names) {
        write_compact_string(w, name);
    }
    write_compact_nullable_string(w, value.subscribed_topic_regex);
    write_compact_nullable_string(w, value.server_assignor);
    w.write_int32(value.rebalance_timeout_ms);
    write_no_tags(w);
    return std::move(w.buffer());
}

byte_vector encode_value(const consumer_target_metadata_value& value) {
    byte_writer w;
    w.write_int16(k_consumer_value_version);
    w.write_int32(value.assignment_epoch);
    write_no_tags(w);
    return std::move(w.buffer());
}

byte_vector encode_value(const consumer_target_member_value& value) {
    byte_writer w;
    w.write_int16(k_consumer_value_version);
    write_topic_partitions(w, value.partitions);
    write_no_tags(w);
    return std::move(w.buffer());
}

constexpr uint32_t k_assigned_epochs_tag = 100;

byte_vector encode_value(const consumer_current_assignment_value& value) {
    byte_writer w;
    w.write_int16(k_consumer_value_version);
    w.write_int32(value.member_epoch);
    w.write_int32(value.previous_member_epoch);
    w.write_int8(value.state);
    write_topic_partitions(w, value.assigned);
    write_topic_partitions(w, value.pending_revocation);
    if (value.assigned_epochs.empty()) {
        write_no_tags(w);
    } else {
        byte_writer field;
        field.write_uvarint(value.assigned_epochs.size() + 1);
        for (const auto& [key, epoch] : value.assigned_epochs) {
            write_uuid(field, key.first);
            field.write_int32(key.second);
            field.write_int32(epoch);
        }
        w.write_uvarint(1);
        w.write_uvarint(k_assigned_epochs_tag);
        w.write_uvarint(field.buffer().size());
        w.write_bytes(byte_span(field.buffer()));
    }
    return std::move(w.buffer());
}

result<consumer_group_metadata_value> decode_consumer_group_metadata_value(byte_span bytes) {
    byte_reader r(bytes);
    consumer_group_metadata_value v;
    if (read_consumer_version(r, "consumer group metadata value")) {
        v.epoch = r.read_int32();
        skip_tags(r);
    }
    return finish_consumer(r, v, "consumer group metadata value");
}

result<consumer_partition_metadata_value> decode_consumer_partition_metadata_value(
    byte_span bytes) {
    byte_reader r(bytes);
    consumer_partition_metadata_value v;
    if (read_consumer_version(r, "consumer partition metadata value")) {
        auto count = read_compact_length(r, false, "topic array").value_or(0);
        for (size_t i = 0; r.ok() && i < count; ++i) {
            consumer_topic_metadata t;
            t.topic_id = read_uuid(r);
            t.topic_name = read_compact_string(r);
            t.partition_count = r.read_int32();
            skip_tags(r);
            v.topics.push_back(std::move(t));
        }
        skip_tags(r);
    }
    return finish_consumer(r, std::move(v), "consumer partition metadata value");
}

result<consumer_member_metadata_value> decode_consumer_member_metadata_value(byte_span bytes) {
    byte_reader r(bytes);
    consumer_member_metadata_value v;
    if (read_consumer_version(r, "consumer member metadata value")) {
        v.instance_id = read_compact_nullable_string(r);
        v.rack_id = read_compact_nullable_string(r);
        v.client_id = read_compact_string(r);
        v.client_host = read_compact_string(r);
        auto count = read_compact_length(r, false, "topic name array").value_or(0);
        for (size_t i = 0; r.ok() && i < count; ++i) {
            v.subscribed_topic_names.push_back(read_compact_string(r));
        }
        v.subscribed_topic_regex = read_compact_nullable_string(r);
        v.server_assignor = read_compact_nullable_string(r);
        v.rebalance_timeout_ms = r.read_int32();
        skip_tags(r);
    }
    return finish_consumer(r, std::move(v), "consumer member metadata value");
}

result<consumer_target_metadata_value> decode_consumer_target_metadata_value(byte_span bytes) {
    byte_reader r(bytes);
    consumer_target_metadata_value v;
    if (read_consumer_version(r, "consumer target assignment metadata value")) {
        v.assignment_epoch = r.read_int32();
        skip_tags(r);
    }
    return finish_consumer(r, v, "consumer target assignment metadata value");
}

result<consumer_target_member_value> decode_consumer_target_member_value(byte_span bytes) {
    byte_reader r(bytes);
    consumer_target_member_value v;
    if (read_consumer_version(r, "consumer target assignment member value")) {
        v.partitions = read_topic_partitions(r);
        skip_tags(r);
    }
    return finish_consumer(r, std::move(v), "consumer target assignment member value");
}

result<consumer_current_assignment_value> decode_consumer_current_assignment_value(
    byte_span bytes) {
    byte_reader r(bytes);
    consumer_current_assignment_value v;
    if (read_consumer_version(r, "consumer current assignment value")) {
        v.member_epoch = r.read_int32();
        v.previous_member_epoch = r.read_int32();
        v.state = r.read_int8();
        v.assigned = read_topic_partitions(r);
        v.pending_revocation = read_topic_partitions(r);
        read_tags(r, [&](uint32_t tag, byte_reader& fr) {
            if (tag != k_assigned_epochs_tag) {
                return false;
            }
            auto count = read_compact_length(fr, false, "assigned epochs").value_or(0);
            for (size_t i = 0; fr.ok() && i < count; ++i) {
                uuid id = read_uuid(fr);
                int32_t partition = fr.read_int32();
                int32_t epoch = fr.read_int32();
                v.assigned_epochs[{id, partition}] = epoch;
            }
            return true;
        });
    }
    return finish_consumer(r, std::move(v), "consumer current assignment value");
}

}  // namespace floe::coordinator::group_records
