#include "stream/stream_metadata.h"

#include "base/bytes.h"

namespace floe::stream {
namespace {

byte_span as_bytes(std::string_view s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string to_string(const byte_vector& v) {
    return std::string(v.begin(), v.end());
}

status check_head(byte_reader& in, uint8_t kind, const char* what) {
    uint8_t got_kind = in.read_uint8();
    uint8_t version = in.read_uint8();
    if (!in.ok()) {
        return error(errc::corrupt, std::string(what) + " record truncated");
    }
    if (got_kind != kind) {
        return error(errc::corrupt, std::string(what) + " record has wrong kind byte");
    }
    if (version != kRecordVersion) {
        return error(errc::unsupported,
                     std::string(what) + " record version " + std::to_string(version));
    }
    return ok();
}

}  // namespace

std::string encode_stream_record(const stream_record& record) {
    byte_vector out;
    byte_writer w(out);
    w.write_uint8(kStreamRecordKind);
    w.write_uint8(kRecordVersion);
    w.write_int64(record.owner_epoch.value());
    w.write_int64(record.start_offset.value());
    w.write_int64(record.committed_end.value());
    w.write_int32(record.owner.value());
    return to_string(out);
}

result<stream_record> decode_stream_record(std::string_view bytes) {
    byte_reader in(as_bytes(bytes));
    FLOE_TRY(check_head(in, kStreamRecordKind, "stream"));
    stream_record r;
    r.owner_epoch = epoch(in.read_int64());
    r.start_offset = offset(in.read_int64());
    r.committed_end = offset(in.read_int64());
    r.owner = node_id(in.read_int32());
    if (!in.ok() || !in.at_end()) {
        return error(errc::corrupt, "stream record has the wrong length");
    }
    if (r.start_offset.value() < 0 || r.committed_end.value() < 0) {
        return error(errc::corrupt, "stream record has a negative offset");
    }
    return r;
}

std::string encode_object_record(const object_record& record) {
    byte_vector out;
    byte_writer w(out);
    w.write_uint8(kObjectRecordKind);
    w.write_uint8(kRecordVersion);
    w.write_uint8(static_cast<uint8_t>(record.state));
    w.write_uint64(record.size);
    w.write_uint16(static_cast<uint16_t>(record.key.size()));
    w.write_bytes(std::string_view(record.key));
    w.write_uint32(static_cast<uint32_t>(record.ranges.size()));
    for (const auto& r : record.ranges) {
        w.write_uint64(r.stream.value());
        w.write_int64(r.start.value());
        w.write_int64(r.end.value());
    }
    return to_string(out);
}

result<object_record> decode_object_record(std::string_view bytes) {
    byte_reader in(as_bytes(bytes));
    FLOE_TRY(check_head(in, kObjectRecordKind, "object"));
    object_record r;
    uint8_t state = in.read_uint8();
    if (state > 1) {
        return error(errc::corrupt, "object record has unknown state " + std::to_string(state));
    }
    r.state = static_cast<object_state>(state);
    r.size = in.read_uint64();
    uint16_t key_length = in.read_uint16();
    byte_span key = in.read_span(key_length);
    r.key.assign(key.begin(), key.end());
    uint32_t count = in.read_uint32();
    if (!in.ok() || static_cast<uint64_t>(count) * 24 != in.remaining()) {
        return error(errc::corrupt, "object record has the wrong length");
    }
    r.ranges.reserve(count);
    for (uint32_t i = 0; i < count; ++i) {
        object_range range;
        range.stream = stream_id(in.read_uint64());
        range.start = offset(in.read_int64());
        range.end = offset(in.read_int64());
        if (range.end <= range.start) {
            return error(errc::corrupt, "object record has an empty or inverted range");
        }
        r.ranges.push_back(range);
    }
    if (!in.ok() || !in.at_end()) {
        return error(errc::corrupt, "object record has the wrong length");
    }
    return r;
}

}  // namespace floe::stream
