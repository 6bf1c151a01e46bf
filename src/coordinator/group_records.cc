#include "coordinator/group_records.h"

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

}  // namespace floe::coordinator::group_records
