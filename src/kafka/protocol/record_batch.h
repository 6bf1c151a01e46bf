// Kafka record batches, magic v2: parsing, validation, decoding, building and
// in-place rewriting.
//
// Layout of one batch (big-endian; offsets in bytes from the batch start):
//
//    0 base offset            int64     ┐ "log overhead": not covered by the CRC
//    8 batch length           int32     ┘ (bytes after this field)
//   12 partition leader epoch int32       not covered by the CRC
//   16 magic                  int8  = 2   (at 16 in every magic version)
//   17 crc                    uint32      CRC-32C of bytes 21 .. end
//   21 attributes             int16       bits 0-2 codec, 3 timestamp type,
//                                         4 transactional, 5 control, 6 delete horizon
//   23 last offset delta      int32
//   27 base timestamp         int64
//   35 max timestamp          int64
//   43 producer id            int64
//   51 producer epoch         int16
//   53 base sequence          int32
//   57 record count           int32
//   61 records                            compressed as one stream unless codec none
//
// Each record: length varint (of what follows), attributes int8, timestamp
// delta varint64, offset delta varint32, key length varint (-1 = null), key,
// value length varint (-1 = null), value, header count varint, headers (key
// length varint >= 0, key, value length varint (-1 = null), value).
//
// Worked example (the golden test builds it byte by byte): one record, key
// null, value "hi", no headers, base offset 0, timestamp 0, no compression:
// record = 10 00 00 00 01 04 68 69 00 (length 8, attrs, ts delta 0, offset
// delta 0, key -1, value length 2, "hi", 0 headers); batch length 49 + 9 = 58.
//
// Ownership: batch_view and record_view borrow the caller's bytes (and, for
// compressed batches, a decompression buffer that lives for the duration of
// a for_each_record call). decode_records() returns `record`s that own copies
// of their keys, values and headers, so they outlive the input.
//
// Threading: free functions are pure; a record_batch_builder is a plain value
// owned by one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "kafka/protocol/compression.h"

namespace floe::kafka {

namespace batch_layout {
inline constexpr size_t base_offset = 0;
inline constexpr size_t batch_length = 8;
inline constexpr size_t partition_leader_epoch = 12;
inline constexpr size_t magic = 16;
inline constexpr size_t crc = 17;
inline constexpr size_t attributes = 21;
inline constexpr size_t last_offset_delta = 23;
inline constexpr size_t base_timestamp = 27;
inline constexpr size_t max_timestamp = 35;
inline constexpr size_t producer_id = 43;
inline constexpr size_t producer_epoch = 51;
inline constexpr size_t base_sequence = 53;
inline constexpr size_t record_count = 57;
inline constexpr size_t header_size = 61;   // also the smallest possible batch
inline constexpr size_t log_overhead = 12;  // base offset + batch length
// Smallest legal value of the batch length field.
inline constexpr int32_t min_batch_length = static_cast<int32_t>(header_size - log_overhead);
}  // namespace batch_layout

inline constexpr int8_t current_magic = 2;

namespace batch_attribute {
inline constexpr int16_t compression_mask = 0x07;
inline constexpr int16_t log_append_time = 0x08;
inline constexpr int16_t transactional = 0x10;
inline constexpr int16_t control = 0x20;
inline constexpr int16_t delete_horizon = 0x40;
}  // namespace batch_attribute

enum class timestamp_type : uint8_t { create_time = 0, log_append_time = 1 };

// Kafka's "no value" for producer id/epoch, sequence, leader epoch, timestamp.
inline constexpr int64_t no_producer_id = -1;
inline constexpr int16_t no_producer_epoch = -1;
inline constexpr int32_t no_sequence = -1;
inline constexpr int32_t no_partition_leader_epoch = -1;
inline constexpr int64_t no_timestamp = -1;

struct batch_header {
    int64_t base_offset = 0;
    int32_t batch_length = 0;
    int32_t partition_leader_epoch = no_partition_leader_epoch;
    int8_t magic = current_magic;
    uint32_t crc = 0;
    int16_t attributes = 0;
    int32_t last_offset_delta = 0;
    int64_t base_timestamp = no_timestamp;
    int64_t max_timestamp = no_timestamp;
    int64_t producer_id = no_producer_id;
    int16_t producer_epoch = no_producer_epoch;
    int32_t base_sequence = no_sequence;
    int32_t record_count = 0;

    // nullopt for the undefined codec values 5-7.
    std::optional<compression_codec> codec() const { return codec_from_attributes(attributes); }
    timestamp_type ts_type() const {
        return (attributes & batch_attribute::log_append_time) ? timestamp_type::log_append_time
                                                               : timestamp_type::create_time;
    }
    bool is_transactional() const { return (attributes & batch_attribute::transactional) != 0; }
    bool is_control() const { return (attributes & batch_attribute::control) != 0; }
    bool has_delete_horizon() const { return (attributes & batch_attribute::delete_horizon) != 0; }
    // Offset of the batch's last record (computed in wrapping arithmetic).
    int64_t last_offset() const {
        return static_cast<int64_t>(static_cast<uint64_t>(base_offset) +
                                    static_cast<uint64_t>(static_cast<int64_t>(last_offset_delta)));
    }
    // 12 + batch_length: the whole batch.
    size_t size_in_bytes() const {
        return batch_layout::log_overhead + static_cast<size_t>(batch_length);
    }
};

// Reads the 61 header bytes at the front of `bytes` (which may be longer).
// errc::truncated if fewer than 61 bytes; errc::unsupported for magic 0 or 1
// (legacy message sets); errc::corrupt for any other magic or a batch length
// below 49. Checks nothing else (CRC, counts: see validate_batch).
result<batch_header> parse_batch_header(byte_span bytes);

// One batch inside a records blob. `bytes` is exactly header.size_in_bytes()
// bytes, borrowed from the blob.
struct batch_view {
    batch_header header;
    byte_span bytes;

    // The bytes after the header: the (possibly compressed) records.
    byte_span records_payload() const { return bytes.subspan(batch_layout::header_size); }
};

// produce: the blob must be whole batches; anything left over is an error.
// fetch: a trailing partial batch (a broker may cut a Fetch response at
// max_bytes mid-batch) is reported in partial_tail_bytes, not as an error.
enum class split_mode { produce, fetch };

struct split_result {
    std::vector<batch_view> batches;
    size_t partial_tail_bytes = 0;  // fetch mode only: bytes of the cut-off last batch
};

// Splits a `records` field (Produce request, Fetch response) into batch
// views without copying. Each batch's header is parsed (parse_batch_header
// rules); nothing deeper is checked.
result<split_result> split_batches(byte_span records, split_mode mode);

// How strictly record offset deltas are checked.
enum class offset_rule {
    // As a producer must send them (Kafka's produce validation): at least one
    // record, record i has offset delta i, last offset delta == count - 1.
    contiguous,
    // As compaction may leave them (fetched or stored data): deltas strictly
    // increasing from >= 0, all <= last offset delta; empty batches allowed.
    increasing,
};

struct batch_limits {
    // Bound on the decompressed size of a compressed batch's records.
    size_t max_uncompressed_bytes = 64 * 1024 * 1024;
    offset_rule offsets = offset_rule::contiguous;
};

// Full validation of one batch: CRC (errc::corrupt), codec (errc::unsupported
// for 5-7), record count >= 0 and equal to the records present, offset deltas
// per `limits.offsets`, each record's length equal to the bytes its fields
// take, varints in range, lengths >= -1 (-1 only where null is allowed),
// no bytes after the last record, decompressed size within the limit
// (errc::too_large). Compressed batches are decompressed to check.
status validate_batch(const batch_view& batch, const batch_limits& limits);

struct header_view {
    std::string_view key;
    std::optional<byte_span> value;
};

// A record as stored: deltas relative to the batch header. Spans are valid
// only during the callback.
struct record_view {
    int8_t attributes = 0;
    int64_t timestamp_delta = 0;
    int32_t offset_delta = 0;
    std::optional<byte_span> key;
    std::optional<byte_span> value;
    std::span<const header_view> headers;
};

// Validates like validate_batch and calls `visit` for each record in order;
// the first error returned by `visit` stops the walk and is returned.
status for_each_record(const batch_view& batch, const batch_limits& limits,
                       const std::function<status(const record_view&)>& visit);

struct record_header {
    std::string key;
    std::optional<byte_vector> value;
    bool operator==(const record_header&) const = default;
};

// A decoded record with absolute offset and timestamp, owning its bytes.
// timestamp is base timestamp + delta for CreateTime batches and the batch's
// max timestamp for LogAppendTime batches (as Kafka's clients report it).
struct record {
    int64_t offset = 0;
    int64_t timestamp = 0;
    int8_t attributes = 0;
    std::optional<byte_vector> key;
    std::optional<byte_vector> value;
    std::vector<record_header> headers;
    bool operator==(const record&) const = default;
};

result<std::vector<record>> decode_records(const batch_view& batch, const batch_limits& limits);

struct header_input {
    std::string_view key;
    std::optional<byte_span> value;
};

// Builds one v2 batch. Records are appended in offset order; build() encodes
// the records, compresses them with the chosen codec and fills in the count,
// offset delta, timestamps, length and CRC.
//
//   record_batch_builder b({.codec = compression_codec::lz4});
//   b.append(1700000000000, std::nullopt, value_bytes);
//   result<byte_vector> batch = b.build();
class record_batch_builder {
public:
    struct options {
        int64_t base_offset = 0;
        int32_t partition_leader_epoch = no_partition_leader_epoch;
        compression_codec codec = compression_codec::none;
        timestamp_type ts_type = timestamp_type::create_time;
        bool transactional = false;
        bool control = false;
        int64_t producer_id = no_producer_id;
        int16_t producer_epoch = no_producer_epoch;
        int32_t base_sequence = no_sequence;
        // Overrides the computed max timestamp (LogAppendTime batches carry the
        // append time here).
        std::optional<int64_t> max_timestamp = std::nullopt;
        // Overrides the last offset delta (compacted batches keep the original).
        std::optional<int32_t> last_offset_delta = std::nullopt;
    };

    explicit record_batch_builder(options opts);

    // Appends a record with the next offset delta (previous + 1, first 0).
    void append(int64_t timestamp, std::optional<byte_span> key, std::optional<byte_span> value,
                std::span<const header_input> headers = {});
    // Appends with an explicit offset delta; it must exceed the previous one
    // (compacted batches have gaps). Aborts otherwise (a caller bug).
    void append_at(int32_t offset_delta, int64_t timestamp, std::optional<byte_span> key,
                   std::optional<byte_span> value, std::span<const header_input> headers = {});

    int32_t record_count() const { return _count; }
    // Uncompressed size of the records appended so far.
    size_t records_size() const { return _records.size(); }

    // errc::too_large if the batch would exceed 2 GiB.
    result<byte_vector> build() const;

private:
    options _options;
    byte_vector _records;  // encoded records, uncompressed
    byte_vector _body;     // scratch for one record's body
    int32_t _count = 0;
    int32_t _last_delta = -1;
    int64_t _first_timestamp = no_timestamp;
    int64_t _max_timestamp = no_timestamp;
};

// In-place rewrites of a whole batch (`batch` spans exactly one batch, as a
// batch_view's bytes). Base offset and partition leader epoch are outside the
// CRC; the others update the CRC incrementally from the old one, so a batch
// whose CRC was wrong stays detectably wrong. errc::truncated if the span is
// shorter than a header, errc::unsupported if its magic is not 2.
status set_base_offset(std::span<uint8_t> batch, int64_t base_offset);
status set_partition_leader_epoch(std::span<uint8_t> batch, int32_t epoch);
// Sets the timestamp type bit and the max timestamp (Kafka's setMaxTimestamp):
// for LogAppendTime, `max_timestamp` is the broker's append time.
status set_max_timestamp(std::span<uint8_t> batch, timestamp_type type, int64_t max_timestamp);
// Recomputes the CRC from the bytes (for batches assembled by hand).
status recompute_crc(std::span<uint8_t> batch);

}  // namespace floe::kafka
