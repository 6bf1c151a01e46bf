// Floe's object format: the layout of stream-set objects (many streams) and
// stream objects (one stream) in the object store. Spec: docs/format/object.md.
// Changing anything here changes the format: bump kObjectFormatVersion and
// update the golden file test (src/stream/tests/object_format_test.cc).
//
//   +---------------------------+
//   | data block 0              |  entries of one stream, ascending offsets
//   | data block 1              |
//   | ...                       |
//   +---------------------------+
//   | index                     |  one 64-byte entry per data block
//   +---------------------------+
//   | footer (48 bytes)         |  where the index is, its CRC, magic, version
//   +---------------------------+
//
// All integers are big-endian.
#pragma once

#include <cstddef>
#include <cstdint>

namespace floe::stream::object_layout {

// Footer, the last kFooterSize bytes of every object.
inline constexpr uint64_t kMagic = 0x464C4F454F424A31ULL;  // "FLOEOBJ1"
inline constexpr uint16_t kObjectFormatVersion = 1;
inline constexpr size_t kFooterSize = 48;
// Footer fields, by offset from the start of the footer.
inline constexpr size_t kFooterIndexPosition = 0;  // uint64: index start
inline constexpr size_t kFooterIndexLength = 8;    // uint64: index bytes
inline constexpr size_t kFooterIndexCrc = 16;      // uint32: CRC-32C of the index
inline constexpr size_t kFooterBlockCount = 20;    // uint32: number of index entries
inline constexpr size_t kFooterObjectId = 24;      // uint64: the object's id
inline constexpr size_t kFooterVersion = 32;       // uint16: kObjectFormatVersion
inline constexpr size_t kFooterReserved = 34;      // 2 zero bytes
inline constexpr size_t kFooterCrc = 36;           // uint32: CRC-32C of footer bytes [0, 36)
inline constexpr size_t kFooterMagic = 40;         // uint64: kMagic

// Index entry, one per data block, sorted by (stream id, start offset).
inline constexpr size_t kIndexEntrySize = 64;
inline constexpr size_t kIndexStreamId = 0;       // uint64
inline constexpr size_t kIndexStartOffset = 8;    // int64: first offset in the block
inline constexpr size_t kIndexEndOffset = 16;     // int64: one past the last offset
inline constexpr size_t kIndexPosition = 24;      // uint64: block start in the object
inline constexpr size_t kIndexSize = 32;          // uint32: block bytes
inline constexpr size_t kIndexBlockCrc = 36;      // uint32: CRC-32C of the block bytes
inline constexpr size_t kIndexMinTimestamp = 40;  // int64: smallest entry max timestamp
inline constexpr size_t kIndexMaxTimestamp = 48;  // int64: largest entry max timestamp
inline constexpr size_t kIndexEntryCount = 56;    // uint32: entries in the block
inline constexpr size_t kIndexReserved = 60;      // 4 zero bytes

// Entry header inside a data block, followed by `length` payload bytes.
inline constexpr size_t kEntryHeaderSize = 24;
inline constexpr size_t kEntryBaseOffset = 0;     // int64
inline constexpr size_t kEntryRecordCount = 8;    // int32: offsets covered, >= 1
inline constexpr size_t kEntryLength = 12;        // uint32: payload bytes
inline constexpr size_t kEntryMaxTimestamp = 16;  // int64

// A writer closes a data block once it holds at least this many bytes, so a
// reader fetches about this much per ranged GET.
inline constexpr size_t kDefaultBlockSize = 1 << 20;

}  // namespace floe::stream::object_layout
