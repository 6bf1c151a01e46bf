#include "kafka/protocol/record_batch.h"

#include <cstring>
#include <limits>

#include "base/crc32c.h"

namespace floe::kafka {
namespace {

namespace layout = batch_layout;

// Smallest encoded record: length, attributes, timestamp delta, offset delta,
// key length, value length, header count — one byte each.
constexpr size_t kMinRecordSize = 7;

int64_t wrapping_add(int64_t a, int64_t b) {
    return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

uint32_t load_be32(const uint8_t* p) {
    return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
           (static_cast<uint32_t>(p[2]) << 8) | static_cast<uint32_t>(p[3]);
}

void store_be(uint8_t* p, uint64_t value, size_t width) {
    for (size_t i = width; i-- > 0;) {
        p[i] = static_cast<uint8_t>(value);
        value >>= 8;
    }
}

error legacy_magic(int8_t magic) {
    return error(errc::unsupported,
                 "record batch magic " + std::to_string(magic) +
                     " (legacy message set) is not supported; clients must use magic 2 "
                     "(Kafka 0.11+ record batches)");
}

// Checks the magic byte at offset 16 of something at least 17 bytes long.
status check_magic(int8_t magic) {
    if (magic == current_magic) {
        return {};
    }
    if (magic == 0 || magic == 1) {
        return legacy_magic(magic);
    }
    return error(errc::corrupt, "unknown record batch magic " + std::to_string(magic));
}

status check_rewritable(std::span<uint8_t> batch) {
    if (batch.size() < layout::header_size) {
        return error(errc::truncated, "record batch shorter than its 61-byte header");
    }
    return check_magic(static_cast<int8_t>(batch[layout::magic]));
}

// Reads a nullable length and its bytes: -1 is null, other negatives are an
// error recorded in `body`. Hot path: no allocation unless it fails.
inline void read_nullable(byte_reader& body, std::optional<byte_span>& out, const char* what) {
    const int32_t n = body.read_varint32();
    if (n == -1) {
        out.reset();
        return;
    }
    if (n < -1) {
        body.fail(errc::corrupt, std::string(what) + " length " + std::to_string(n));
        return;
    }
    out = body.read_span(static_cast<size_t>(n));
}

// Parses one record from `reader` (positioned at its length varint).
// `headers` is scratch storage reused across records.
status parse_record(byte_reader& reader, size_t index, record_view& out,
                    std::vector<header_view>& headers) {
    auto fail = [index](const std::string& what) {
        return error(errc::corrupt, "record " + std::to_string(index) + ": " + what);
    };
    const int32_t length = reader.read_varint32();
    if (!reader.ok()) {
        return fail("length: " + reader.failure().message);
    }
    if (length < 0) {
        return fail("negative length " + std::to_string(length));
    }
    const byte_span body_bytes = reader.read_span(static_cast<size_t>(length));
    if (!reader.ok()) {
        return fail("length " + std::to_string(length) + " runs past the end of the batch");
    }
    byte_reader body(body_bytes);
    out.attributes = body.read_int8();
    out.timestamp_delta = body.read_varint64();
    out.offset_delta = body.read_varint32();
    read_nullable(body, out.key, "key");
    read_nullable(body, out.value, "value");
    const int32_t header_count = body.read_varint32();
    if (!body.ok()) {
        return fail(body.failure().message);
    }
    // Each header takes at least two bytes, so this bounds the scratch growth.
    if (header_count < 0 || static_cast<size_t>(header_count) > body.remaining() / 2) {
        return fail("invalid header count " + std::to_string(header_count));
    }
    headers.clear();
    for (int32_t h = 0; h < header_count; ++h) {
        const int32_t key_length = body.read_varint32();
        if (key_length < 0) {
            return fail("header " + std::to_string(h) + " has key length " +
                        std::to_string(key_length));
        }
        const byte_span header_key = body.read_span(static_cast<size_t>(key_length));
        std::optional<byte_span> header_value;
        read_nullable(body, header_value, "header value");
        if (!body.ok()) {
            return fail("header " + std::to_string(h) + ": " + body.failure().message);
        }
        headers.push_back(header_view{
            std::string_view(reinterpret_cast<const char*>(header_key.data()), header_key.size()),
            header_value});
    }
    if (!body.at_end()) {
        return fail("length " + std::to_string(length) + " but fields take " +
                    std::to_string(body.position()) + " bytes");
    }
    out.headers = headers;
    return {};
}

// The one walk behind validate_batch, for_each_record and decode_records.
template <typename Visit>
status walk(const batch_view& batch, const batch_limits& limits, Visit&& visit) {
    const batch_header& h = batch.header;
    if (batch.bytes.size() != h.size_in_bytes() || batch.bytes.size() < layout::header_size) {
        return error(errc::invalid_argument, "batch view bytes do not match its length field");
    }
    FLOE_TRY(check_magic(h.magic));
    const uint32_t actual_crc = crc32c(batch.bytes.subspan(layout::attributes));
    if (actual_crc != h.crc) {
        return error(errc::corrupt, "record batch at offset " + std::to_string(h.base_offset) +
                                        ": CRC mismatch (stored " + std::to_string(h.crc) +
                                        ", computed " + std::to_string(actual_crc) + ")");
    }
    std::optional<compression_codec> codec = h.codec();
    if (!codec) {
        return error(errc::unsupported,
                     "unknown compression codec " + std::to_string(h.attributes & 7));
    }
    if (h.record_count < 0) {
        return error(errc::corrupt, "negative record count " + std::to_string(h.record_count));
    }
    if (limits.offsets == offset_rule::contiguous) {
        if (h.record_count == 0) {
            return error(errc::corrupt, "record batch has no records");
        }
        if (h.last_offset_delta != h.record_count - 1) {
            return error(errc::corrupt, "last offset delta " + std::to_string(h.last_offset_delta) +
                                            " does not match record count " +
                                            std::to_string(h.record_count));
        }
    } else if (h.record_count > 0 && h.last_offset_delta < h.record_count - 1) {
        return error(errc::corrupt, "last offset delta " + std::to_string(h.last_offset_delta) +
                                        " too small for " + std::to_string(h.record_count) +
                                        " records");
    }

    byte_vector decompressed;
    byte_span payload = batch.records_payload();
    if (*codec != compression_codec::none) {
        auto out = decompress(*codec, payload, limits.max_uncompressed_bytes);
        if (!out) {
            const error& e = out.error_value();
            return error(e.code, "record batch at offset " + std::to_string(h.base_offset) + ": " +
                                     e.message);
        }
        decompressed = std::move(out).value();
        payload = decompressed;
    }
    if (static_cast<size_t>(h.record_count) > payload.size() / kMinRecordSize) {
        return error(errc::corrupt, "record count " + std::to_string(h.record_count) +
                                        " cannot fit in " + std::to_string(payload.size()) +
                                        " bytes of records");
    }

    byte_reader reader(payload);
    std::vector<header_view> headers;
    record_view record;
    int64_t previous_delta = -1;
    for (int32_t i = 0; i < h.record_count; ++i) {
        FLOE_TRY(parse_record(reader, static_cast<size_t>(i), record, headers));
        if (limits.offsets == offset_rule::contiguous) {
            if (record.offset_delta != i) {
                return error(errc::corrupt, "record " + std::to_string(i) + " has offset delta " +
                                                std::to_string(record.offset_delta));
            }
        } else if (record.offset_delta <= previous_delta ||
                   record.offset_delta > h.last_offset_delta) {
            return error(errc::corrupt, "record " + std::to_string(i) + " has offset delta " +
                                            std::to_string(record.offset_delta) +
                                            " out of order or beyond the last offset delta");
        }
        previous_delta = record.offset_delta;
        FLOE_TRY(visit(record));
    }
    if (!reader.at_end()) {
        return error(errc::corrupt, std::to_string(reader.remaining()) +
                                        " bytes left after the declared " +
                                        std::to_string(h.record_count) + " records");
    }
    return {};
}

std::optional<byte_vector> copy(const std::optional<byte_span>& bytes) {
    if (!bytes) {
        return std::nullopt;
    }
    return byte_vector(bytes->begin(), bytes->end());
}

}  // namespace

result<batch_header> parse_batch_header(byte_span bytes) {
    if (bytes.size() > layout::magic) {
        FLOE_TRY(check_magic(static_cast<int8_t>(bytes[layout::magic])));
    }
    if (bytes.size() < layout::header_size) {
        return error(errc::truncated,
                     "record batch header needs 61 bytes, have " + std::to_string(bytes.size()));
    }
    byte_reader r(bytes.first(layout::header_size));
    batch_header h;
    h.base_offset = r.read_int64();
    h.batch_length = r.read_int32();
    h.partition_leader_epoch = r.read_int32();
    h.magic = r.read_int8();
    h.crc = r.read_uint32();
    h.attributes = r.read_int16();
    h.last_offset_delta = r.read_int32();
    h.base_timestamp = r.read_int64();
    h.max_timestamp = r.read_int64();
    h.producer_id = r.read_int64();
    h.producer_epoch = r.read_int16();
    h.base_sequence = r.read_int32();
    h.record_count = r.read_int32();
    if (h.batch_length < layout::min_batch_length) {
        return error(errc::corrupt, "record batch length " + std::to_string(h.batch_length) +
                                        " below the minimum of " +
                                        std::to_string(layout::min_batch_length));
    }
    return h;
}

result<split_result> split_batches(byte_span records, split_mode mode) {
    split_result out;
    size_t pos = 0;
    while (pos < records.size()) {
        byte_span rest = records.subspan(pos);
        auto partial = [&]() -> result<split_result> {
            if (mode == split_mode::fetch) {
                out.partial_tail_bytes = rest.size();
                return std::move(out);
            }
            return error(errc::truncated, "records end inside a batch at byte " +
                                              std::to_string(pos) + " (" +
                                              std::to_string(rest.size()) + " bytes left)");
        };
        if (rest.size() < layout::log_overhead) {
            return partial();
        }
        const int32_t length = static_cast<int32_t>(load_be32(rest.data() + layout::batch_length));
        if (rest.size() > layout::magic) {
            FLOE_TRY(check_magic(static_cast<int8_t>(rest[layout::magic])));
        }
        if (length < layout::min_batch_length) {
            return error(errc::corrupt, "record batch at byte " + std::to_string(pos) +
                                            " has length " + std::to_string(length));
        }
        const size_t total = layout::log_overhead + static_cast<size_t>(length);
        if (total > rest.size()) {
            return partial();
        }
        auto header = parse_batch_header(rest);
        if (!header) {
            return header.error_value();
        }
        out.batches.push_back(batch_view{*header, rest.first(total)});
        pos += total;
    }
    return out;
}

status validate_batch(const batch_view& batch, const batch_limits& limits) {
    return walk(batch, limits, [](const record_view&) -> status { return {}; });
}

status for_each_record(const batch_view& batch, const batch_limits& limits,
                       const std::function<status(const record_view&)>& visit) {
    return walk(batch, limits, visit);
}

result<std::vector<record>> decode_records(const batch_view& batch, const batch_limits& limits) {
    std::vector<record> out;
    const batch_header& h = batch.header;
    const bool log_append = h.ts_type() == timestamp_type::log_append_time;
    status st = walk(batch, limits, [&](const record_view& view) -> status {
        if (out.empty()) {
            // The walk has checked record_count against the payload size.
            out.reserve(static_cast<size_t>(h.record_count));
        }
        record r;
        r.offset = wrapping_add(h.base_offset, view.offset_delta);
        r.timestamp =
            log_append ? h.max_timestamp : wrapping_add(h.base_timestamp, view.timestamp_delta);
        r.attributes = view.attributes;
        r.key = copy(view.key);
        r.value = copy(view.value);
        r.headers.reserve(view.headers.size());
        for (const header_view& hv : view.headers) {
            r.headers.push_back(record_header{std::string(hv.key), copy(hv.value)});
        }
        out.push_back(std::move(r));
        return {};
    });
    if (!st) {
        return st.error_value();
    }
    return out;
}

// ---- builder --------------------------------------------------------------

record_batch_builder::record_batch_builder(options opts) : _options(opts) {}

void record_batch_builder::append(int64_t timestamp, std::optional<byte_span> key,
                                  std::optional<byte_span> value,
                                  std::span<const header_input> headers) {
    append_at(_last_delta + 1, timestamp, key, value, headers);
}

void record_batch_builder::append_at(int32_t offset_delta, int64_t timestamp,
                                     std::optional<byte_span> key, std::optional<byte_span> value,
                                     std::span<const header_input> headers) {
    if (offset_delta <= _last_delta) {
        abort_with("record_batch_builder: offset deltas must increase");
    }
    if (_count == 0) {
        _first_timestamp = timestamp;
        _max_timestamp = timestamp;
    } else if (timestamp > _max_timestamp) {
        _max_timestamp = timestamp;
    }
    _body.clear();
    byte_writer body(_body);
    body.write_int8(0);  // record attributes: unused by Kafka
    body.write_varint64(static_cast<int64_t>(static_cast<uint64_t>(timestamp) -
                                             static_cast<uint64_t>(_first_timestamp)));
    body.write_varint32(offset_delta);
    auto write_nullable = [&body](const std::optional<byte_span>& bytes) {
        if (!bytes) {
            body.write_varint32(-1);
            return;
        }
        body.write_varint32(static_cast<int32_t>(bytes->size()));
        body.write_bytes(*bytes);
    };
    write_nullable(key);
    write_nullable(value);
    body.write_varint32(static_cast<int32_t>(headers.size()));
    for (const header_input& h : headers) {
        body.write_varint32(static_cast<int32_t>(h.key.size()));
        body.write_bytes(h.key);
        write_nullable(h.value);
    }
    byte_writer records(_records);
    records.write_varint32(static_cast<int32_t>(_body.size()));
    records.write_bytes(_body);
    _last_delta = offset_delta;
    ++_count;
}

result<byte_vector> record_batch_builder::build() const {
    byte_span payload = _records;
    byte_vector compressed;
    if (_options.codec != compression_codec::none) {
        auto out = compress(_options.codec, _records);
        if (!out) {
            return out.error_value();
        }
        compressed = std::move(out).value();
        payload = compressed;
    }
    const size_t total = layout::header_size + payload.size();
    if (total - layout::log_overhead > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
        return error(errc::too_large, "record batch larger than 2 GiB");
    }
    int16_t attributes = static_cast<int16_t>(_options.codec);
    if (_options.ts_type == timestamp_type::log_append_time) {
        attributes |= batch_attribute::log_append_time;
    }
    if (_options.transactional) {
        attributes |= batch_attribute::transactional;
    }
    if (_options.control) {
        attributes |= batch_attribute::control;
    }
    byte_vector out;
    out.reserve(total);
    byte_writer w(out);
    w.write_int64(_options.base_offset);
    w.write_int32(static_cast<int32_t>(total - layout::log_overhead));
    w.write_int32(_options.partition_leader_epoch);
    w.write_int8(current_magic);
    w.write_uint32(0);  // CRC, patched below
    w.write_int16(attributes);
    w.write_int32(_options.last_offset_delta.value_or(_last_delta));
    w.write_int64(_first_timestamp);
    w.write_int64(_options.max_timestamp.value_or(_max_timestamp));
    w.write_int64(_options.producer_id);
    w.write_int16(_options.producer_epoch);
    w.write_int32(_options.base_sequence);
    w.write_int32(_count);
    w.write_bytes(payload);
    const uint32_t crc = crc32c(byte_span(out).subspan(layout::attributes));
    store_be(out.data() + layout::crc, crc, 4);
    return out;
}

// ---- in-place rewrites ----------------------------------------------------

status set_base_offset(std::span<uint8_t> batch, int64_t base_offset) {
    FLOE_TRY(check_rewritable(batch));
    store_be(batch.data() + layout::base_offset, static_cast<uint64_t>(base_offset), 8);
    return {};
}

status set_partition_leader_epoch(std::span<uint8_t> batch, int32_t epoch) {
    FLOE_TRY(check_rewritable(batch));
    store_be(batch.data() + layout::partition_leader_epoch, static_cast<uint32_t>(epoch), 4);
    return {};
}

status set_max_timestamp(std::span<uint8_t> batch, timestamp_type type, int64_t max_timestamp) {
    FLOE_TRY(check_rewritable(batch));
    // The CRC covers [attributes, end). Only bytes in [attributes, 61) change,
    // so with H = crc of that header part and R = the rest (length n):
    //   crc = shift_n(H) ^ crc(R)  =>  crc' = crc ^ shift_n(H ^ H').
    uint8_t* head = batch.data() + layout::attributes;
    const size_t head_size = layout::header_size - layout::attributes;
    const size_t rest_size = batch.size() - layout::header_size;
    const uint32_t before = crc32c_extend(0, head, head_size);

    uint16_t attributes = static_cast<uint16_t>((head[0] << 8) | head[1]);
    attributes = static_cast<uint16_t>(attributes &
                                       ~static_cast<uint16_t>(batch_attribute::log_append_time));
    if (type == timestamp_type::log_append_time) {
        attributes = static_cast<uint16_t>(attributes | batch_attribute::log_append_time);
    }
    store_be(batch.data() + layout::attributes, attributes, 2);
    store_be(batch.data() + layout::max_timestamp, static_cast<uint64_t>(max_timestamp), 8);

    const uint32_t after = crc32c_extend(0, head, head_size);
    const uint32_t old_crc = load_be32(batch.data() + layout::crc);
    const uint32_t new_crc = crc32c_combine(before ^ after, old_crc, rest_size);
    store_be(batch.data() + layout::crc, new_crc, 4);
    return {};
}

status recompute_crc(std::span<uint8_t> batch) {
    FLOE_TRY(check_rewritable(batch));
    const uint32_t crc = crc32c(byte_span(batch).subspan(layout::attributes));
    store_be(batch.data() + layout::crc, crc, 4);
    return {};
}

}  // namespace floe::kafka
