// Building and parsing Floe objects (format: object_format.h and
// docs/format/object.md).
//
// object_builder assembles one object in memory from entries added in
// (stream id, offset) order. The parse_* functions check every length, offset
// and CRC against the bytes actually present and return errc::corrupt with
// the object id and byte position for anything inconsistent; they never
// trust a length to allocate.
//
// Threading: plain values; object_builder is owned by one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "base/strong_id.h"
#include "stream/object_format.h"

namespace floe::stream {

// One appended unit of a stream: `record_count` offsets starting at
// `base_offset`, carried by an opaque payload (Kafka record batches).
struct entry {
    offset base_offset;
    int32_t record_count = 0;
    int64_t max_timestamp = -1;
    byte_span payload;

    offset end_offset() const { return base_offset + record_count; }
};

// One data block's index entry.
struct block_index {
    stream_id stream;
    offset start_offset;
    offset end_offset;  // exclusive
    uint64_t position = 0;
    uint32_t size = 0;
    uint32_t crc = 0;
    int64_t min_timestamp = -1;
    int64_t max_timestamp = -1;
    uint32_t entry_count = 0;

    bool operator==(const block_index&) const = default;
};

struct object_footer {
    uint64_t index_position = 0;
    uint64_t index_length = 0;
    uint32_t index_crc = 0;
    uint32_t block_count = 0;
    object_id id;
};

class object_builder {
public:
    explicit object_builder(object_id id, size_t block_size = object_layout::kDefaultBlockSize);

    // Adds an entry. Streams come in ascending id order; within a stream,
    // entries are contiguous (base_offset == previous end offset) and
    // record_count >= 1. Violations are errc::invalid_argument and leave the
    // builder unchanged.
    status add(stream_id stream, const entry& e);

    // Sizes the object's buffer for `entries` entries of `payload_bytes` in
    // all (an upper bound of the object, index and footer included), so
    // building it neither copies it to grow nor faults in pages twice.
    void reserve(size_t entries, size_t payload_bytes);
    // Builds into `buffer` (its contents dropped, its capacity kept): a
    // buffer returned by an earlier finish() spares faulting in fresh pages.
    // Only while the builder is empty.
    void adopt_buffer(page_aligned_bytes buffer);

    bool empty() const { return _blocks.empty() && _open_entries == 0; }
    // Bytes of data blocks so far (the object is this plus index and footer).
    size_t data_size() const { return _data.size(); }

    // Closes the last block and returns the object's bytes, in page-aligned
    // storage (an O_DIRECT put then needs no bounce copy). The builder is
    // left empty for reuse with the same id.
    page_aligned_bytes finish();

private:
    void close_block();

    object_id _id;
    size_t _block_size;
    page_aligned_bytes _data;
    std::vector<block_index> _blocks;
    // The block being filled.
    block_index _open;
    uint32_t _open_entries = 0;
    size_t _open_start = 0;
    // The last stream and end offset added, for ordering checks.
    std::optional<stream_id> _last_stream;
    offset _last_end;
};

// Parses the footer from the last object_layout::kFooterSize bytes of an
// object of `object_size` bytes.
result<object_footer> parse_footer(byte_span tail, uint64_t object_size);

// Parses the index (bytes [index_position, index_position + index_length)).
result<std::vector<block_index>> parse_index(byte_span index, const object_footer& footer);

// An entry read back from a block; `payload` borrows from the block bytes.
struct stored_entry {
    offset base_offset;
    int32_t record_count = 0;
    int64_t max_timestamp = -1;
    byte_span payload;

    offset end_offset() const { return base_offset + record_count; }
};

// Checks a block's CRC and splits it into entries, which must cover exactly
// [start_offset, end_offset) of the index entry, contiguously.
result<std::vector<stored_entry>> parse_block(byte_span block, const block_index& index,
                                              object_id id);

// A whole object in memory: footer and index parsed (blocks are not).
struct object_view {
    object_footer footer;
    std::vector<block_index> blocks;
};
result<object_view> parse_object(byte_span object);

// The first block of `stream` whose end offset is above `target`, or
// blocks.end() when none holds offsets >= target.
std::vector<block_index>::const_iterator find_block(const std::vector<block_index>& blocks,
                                                    stream_id stream, offset target);

}  // namespace floe::stream
