// stream_metadata: the records the stream layer keeps in the metadata store,
// and their encoding.
//
//   /floe/streams/<id>  stream_record: owner epoch, owning node, start offset
//                       (trim point) and committed end offset (every offset
//                       below it is in committed objects).
//   /floe/objects/<id>  object_record: where the object is in the object
//                       store, its size, which (stream, [start, end)) ranges it
//                       holds, and its state.
//
// Encoding, version 1 (all integers big-endian, as byte_writer writes them):
//
//   stream record (30 bytes):
//     u8  kind = 'S'   u8 version = 1
//     i64 epoch        i64 start_offset   i64 committed_end   i32 owner node
//   object record (variable):
//     u8  kind = 'O'   u8 version = 1
//     u8  state (0 committed, 1 marked for deletion)
//     u64 size in bytes
//     u16 key length, key bytes (the object store key)
//     u32 range count, then per range: u64 stream, i64 start, i64 end (exclusive)
//
// Worked example: stream_record{epoch 3, start 10, committed_end 42, owner 1}
// encodes as 53 01 | 00..03 | 00..0a | 00..2a | 00 00 00 01.
//
// Decoding checks the kind, the version, every length and that nothing
// trails; anything else is errc::corrupt (errc::unsupported for a newer
// version).
//
// Threading: plain values and pure functions; callable from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/strong_id.h"

namespace floe::stream {

inline constexpr uint8_t kStreamRecordKind = 'S';
inline constexpr uint8_t kObjectRecordKind = 'O';
inline constexpr uint8_t kRecordVersion = 1;

struct stream_record {
    epoch owner_epoch{};
    offset start_offset{};
    offset committed_end{};
    node_id owner{};

    bool operator==(const stream_record&) const = default;
};

enum class object_state : uint8_t { committed = 0, marked_for_deletion = 1 };

struct object_range {
    stream_id stream{};
    offset start{};
    offset end{};  // exclusive

    bool operator==(const object_range&) const = default;
};

struct object_record {
    std::string key;  // in the object store
    uint64_t size = 0;
    object_state state = object_state::committed;
    std::vector<object_range> ranges;

    bool operator==(const object_record&) const = default;
};

std::string encode_stream_record(const stream_record& record);
result<stream_record> decode_stream_record(std::string_view bytes);

std::string encode_object_record(const object_record& record);
result<object_record> decode_object_record(std::string_view bytes);

}  // namespace floe::stream
