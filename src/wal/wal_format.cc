#include "wal/wal_format.h"

#include <algorithm>
#include <string>

#include "base/crc32c.h"

namespace floe::wal_format {
namespace {

void put32(uint8_t* out, uint32_t v) {
    for (int i = 3; i >= 0; --i) {
        out[i] = static_cast<uint8_t>(v);
        v >>= 8;
    }
}

void put64(uint8_t* out, uint64_t v) {
    for (int i = 7; i >= 0; --i) {
        out[i] = static_cast<uint8_t>(v);
        v >>= 8;
    }
}

void put16(uint8_t* out, uint16_t v) {
    out[0] = static_cast<uint8_t>(v >> 8);
    out[1] = static_cast<uint8_t>(v);
}

}  // namespace

void patch_crc(uint8_t* out, uint32_t crc) {
    put32(out + 4, crc);
}

// Header block layout (offsets in bytes):
//   0 magic u32 | 4 crc u32 (over [8, 80)) | 8 version u16 | 10 reserved u16
//   12 block_size u32 | 16 sequence u64 | 24 owner node i32 | 28 reserved u32
//   32 owner epoch i64 | 40 generation u64 | 48 capacity u64
//   56 trim_position u64 | 64 scan_start u64 | 72 data_offset u64 | 80.. zero
byte_vector encode_header(const header& h) {
    byte_vector block(k_block_size, 0);
    uint8_t* p = block.data();
    put32(p, k_header_magic);
    put16(p + 8, k_version);
    put32(p + 12, k_block_size);
    put64(p + 16, h.sequence);
    put32(p + 24, static_cast<uint32_t>(h.owner.value()));
    put64(p + 32, static_cast<uint64_t>(h.owner_epoch.value()));
    put64(p + 40, h.generation);
    put64(p + 48, h.capacity);
    put64(p + 56, h.trim_position);
    put64(p + 64, h.scan_start);
    put64(p + 72, k_data_offset);
    patch_crc(p, crc32c_extend(0, p + k_header_crc_start, k_header_size - k_header_crc_start));
    return block;
}

result<header> decode_header(byte_span block) {
    if (block.size() < k_header_size) {
        return error(errc::truncated, "WAL header block too short");
    }
    if (std::all_of(block.begin(), block.end(), [](uint8_t b) { return b == 0; })) {
        return error(errc::not_found, "WAL header block never written");
    }
    byte_reader r(block.first(k_header_size));
    uint32_t magic = r.read_uint32();
    uint32_t crc = r.read_uint32();
    if (magic != k_header_magic) {
        return error(errc::corrupt, "WAL header: bad magic");
    }
    if (crc !=
        crc32c_extend(0, block.data() + k_header_crc_start, k_header_size - k_header_crc_start)) {
        return error(errc::corrupt, "WAL header: CRC mismatch");
    }
    uint16_t version = r.read_uint16();
    r.skip(2);
    uint32_t block_size = r.read_uint32();
    if (version != k_version) {
        return error(errc::unsupported, "WAL header: version " + std::to_string(version));
    }
    if (block_size != k_block_size) {
        return error(errc::unsupported, "WAL header: block size " + std::to_string(block_size));
    }
    header h;
    h.sequence = r.read_uint64();
    h.owner = node_id(r.read_int32());
    r.skip(4);
    h.owner_epoch = epoch(r.read_int64());
    h.generation = r.read_uint64();
    h.capacity = r.read_uint64();
    h.trim_position = r.read_uint64();
    h.scan_start = r.read_uint64();
    uint64_t data_offset = r.read_uint64();
    if (!r.ok() || data_offset != k_data_offset || h.capacity == 0 ||
        h.capacity % k_block_size != 0 || h.scan_start > h.trim_position ||
        h.scan_start % k_block_size != 0) {
        return error(errc::corrupt, "WAL header: fields out of range");
    }
    return h;
}

// Group header layout:
//   0 magic u32 | 4 crc u32 (over [8, data_length)) | 8 version u16 | 10 reserved u16
//   12 data_length u32 | 16 position u64 | 24 generation u64 | 32 epoch i64
//   40 record_count u32 | 44 reserved u32
void encode_group_header(const group_header& g, uint32_t crc, uint8_t* out) {
    std::fill(out, out + k_group_header_size, uint8_t{0});
    put32(out, k_group_magic);
    put32(out + 4, crc);
    put16(out + 8, k_version);
    put32(out + 12, g.data_length);
    put64(out + 16, g.position);
    put64(out + 24, g.generation);
    put64(out + 32, static_cast<uint64_t>(g.writer_epoch.value()));
    put32(out + 40, g.record_count);
}

std::optional<decoded_group_header> decode_group_header(byte_span bytes) {
    if (bytes.size() < k_group_header_size) {
        return std::nullopt;
    }
    byte_reader r(bytes.first(k_group_header_size));
    if (r.read_uint32() != k_group_magic) {
        return std::nullopt;
    }
    decoded_group_header d;
    d.crc = r.read_uint32();
    if (r.read_uint16() != k_version) {
        return std::nullopt;
    }
    r.skip(2);
    d.fields.data_length = r.read_uint32();
    d.fields.position = r.read_uint64();
    d.fields.generation = r.read_uint64();
    d.fields.writer_epoch = epoch(r.read_int64());
    d.fields.record_count = r.read_uint32();
    return d;
}

// Record header layout:
//   0 magic u32 | 4 crc u32 (over [8, length)) | 8 length u32 | 12 reserved u32
//   16 position u64 | 24 stream id u64 | 32 epoch i64 | 40 base offset i64
//   48 record count u32 | 52 reserved u32 | 56 payload
uint32_t encode_record_header(const record_header& rec, uint8_t* out) {
    std::fill(out, out + k_record_header_size, uint8_t{0});
    put32(out, k_record_magic);
    put32(out + 8, rec.length);
    put64(out + 16, rec.position);
    put64(out + 24, rec.stream.value());
    put64(out + 32, static_cast<uint64_t>(rec.stream_epoch.value()));
    put64(out + 40, static_cast<uint64_t>(rec.base_offset.value()));
    put32(out + 48, rec.record_count);
    return crc32c_extend(0, out + k_crc_start, k_record_header_size - k_crc_start);
}

result<record_view> decode_record(byte_span bytes, uint64_t expected_position) {
    auto where = [&] { return " at WAL position " + std::to_string(expected_position); };
    if (bytes.size() < k_record_header_size) {
        return error(errc::corrupt, "record header truncated" + where());
    }
    byte_reader r(bytes.first(k_record_header_size));
    if (r.read_uint32() != k_record_magic) {
        return error(errc::corrupt, "no record magic" + where());
    }
    uint32_t crc = r.read_uint32();
    record_view v;
    v.fields.length = r.read_uint32();
    r.skip(4);
    v.fields.position = r.read_uint64();
    v.fields.stream = stream_id(r.read_uint64());
    v.fields.stream_epoch = epoch(r.read_int64());
    v.fields.base_offset = offset(r.read_int64());
    v.fields.record_count = r.read_uint32();
    if (v.fields.length < k_record_header_size || v.fields.length > bytes.size()) {
        return error(errc::corrupt, "record length " + std::to_string(v.fields.length) +
                                        " out of range" + where());
    }
    if (v.fields.position != expected_position) {
        return error(errc::corrupt,
                     "record claims position " + std::to_string(v.fields.position) + where());
    }
    if (crc != crc32c_extend(0, bytes.data() + k_crc_start, v.fields.length - k_crc_start)) {
        return error(errc::corrupt, "record CRC mismatch" + where());
    }
    v.payload = bytes.subspan(k_record_header_size, v.fields.length - k_record_header_size);
    return v;
}

}  // namespace floe::wal_format
