// On-disk format of Floe's WAL, version 1. The prose specification, with a
// worked example, is docs/format/wal.md; this header holds the constants and
// the encoders/decoders, and the golden-file test (tests/format_test.cc) pins
// the bytes.
//
// Layout of the file (all integers big-endian):
//
//   [0, 4096)        header copy A
//   [4096, 8192)     header copy B
//   [8192, 8192+C)   data ring of capacity C (a multiple of 4096)
//
// Data is addressed by a *logical position*: a byte count from the creation of
// the WAL that only grows and never wraps; its physical offset is
// 8192 + (position % C). A *group* (one group commit) starts on a 4096-byte
// boundary, is a 48-byte group header followed by records back to back, and is
// zero-padded to the next 4096 boundary. Groups and records may wrap around the
// end of the ring (their bytes simply continue at the start of the data area).
//
// Threading: pure functions; callable from any thread.
#pragma once

#include <cstdint>
#include <optional>

#include "base/bytes.h"
#include "base/result.h"
#include "base/strong_id.h"

namespace floe::wal_format {

constexpr uint32_t k_header_magic = 0x464c5748;  // "FLWH"
constexpr uint32_t k_group_magic = 0x464c5747;   // "FLWG"
constexpr uint32_t k_record_magic = 0x464c5752;  // "FLWR"
constexpr uint16_t k_version = 1;

constexpr uint32_t k_block_size = 4096;
constexpr uint64_t k_header_copies = 2;
constexpr uint64_t k_data_offset = k_header_copies * k_block_size;  // 8192
// Bytes of the header covered by its CRC, from k_header_crc_start.
constexpr size_t k_header_size = 80;
constexpr size_t k_header_crc_start = 8;
constexpr size_t k_group_header_size = 48;
constexpr size_t k_record_header_size = 56;
// The CRC of a group or record covers its bytes from this offset (after magic
// and crc) to its end (excluding a group's padding).
constexpr size_t k_crc_start = 8;

// Largest payload one record may carry.
constexpr uint64_t k_max_payload = 64ull << 20;

constexpr uint64_t round_up(uint64_t v) {
    return (v + k_block_size - 1) / k_block_size * k_block_size;
}

// The WAL header (either copy). `sequence` grows by one at every header write;
// copy (sequence % 2) is the one written, so a torn header write can only
// damage the older of the two.
struct header {
    uint64_t sequence = 0;
    node_id owner{};
    epoch owner_epoch{};
    // Grows by one every time a writer opens the WAL; every group carries it.
    uint64_t generation = 0;
    uint64_t capacity = 0;  // bytes in the data ring
    // Data below trim_position is no longer needed (it is in object storage).
    uint64_t trim_position = 0;
    // Where recovery starts: the start of the group containing trim_position
    // (<= trim_position).
    uint64_t scan_start = 0;

    bool operator==(const header&) const = default;
};

// One 4096-byte header block.
byte_vector encode_header(const header& h);
// Decodes one header block: the header, or errc::corrupt (bad magic or CRC),
// errc::not_found (an all-zero block, never written) or errc::unsupported.
result<header> decode_header(byte_span block);

struct group_header {
    uint32_t data_length = 0;  // group header + records, excluding padding
    uint32_t record_count = 0;
    uint64_t position = 0;  // logical position of the group (block-aligned)
    uint64_t generation = 0;
    epoch writer_epoch{};
};
// Writes the 48-byte group header with crc = `crc` at out[0..48).
void encode_group_header(const group_header& g, uint32_t crc, uint8_t* out);
struct decoded_group_header {
    group_header fields;
    uint32_t crc = 0;
};
// Structural decode only (magic, version); the CRC is checked by the caller.
std::optional<decoded_group_header> decode_group_header(byte_span bytes);

struct record_header {
    uint32_t length = 0;  // record header + payload
    uint64_t position = 0;
    stream_id stream{};
    epoch stream_epoch{};
    offset base_offset{};
    uint32_t record_count = 0;
};
// Writes the 56-byte record header with crc = 0 at out[0..56) and returns the
// CRC of bytes [8, 56) (to be combined with the payload's CRC).
uint32_t encode_record_header(const record_header& r, uint8_t* out);
// Patches the crc field of an encoded record or group header.
void patch_crc(uint8_t* out, uint32_t crc);

// A decoded, CRC-checked record borrowed from a buffer.
struct record_view {
    record_header fields;
    byte_span payload;
};
// Decodes and verifies the record at the start of `bytes`, which must claim to
// be at logical position `expected_position`. errc::corrupt names what failed.
result<record_view> decode_record(byte_span bytes, uint64_t expected_position);

}  // namespace floe::wal_format
