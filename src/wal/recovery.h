// Reading a WAL: choosing the valid header, scanning groups from the trim point
// to the tail after a crash, and positional reads of single records.
//
// Recovery contract: scan() returns every record of every complete, CRC-valid
// group from the header's scan_start forward, in WAL order, and stops cleanly
// at the first block that does not start such a group -- zeros, no group magic,
// a logical position that is not the expected one (data from an earlier lap of
// the ring), a generation older than the previous group's (data an earlier
// writer left beyond its tail), or a CRC mismatch (a torn or corrupt group).
// That block's position is the tail, where appends resume. Records whose
// position is below the header's trim_position are not reported. Because a
// group is accepted only whole, a group whose write was torn contributes no
// record, even if some of its records reached the disk intact.
//
// Errors (never a crash): both header copies unreadable -> errc::corrupt
// (errc::not_found if both are all zero: a never-initialised file); a group
// whose CRC is valid but whose records do not parse, or whose generation/epoch
// is newer than the header's, or a log that ends below the header's trim
// position (acknowledged data lost) -> errc::corrupt naming the position. Those can
// only come from a writer bug or tampering, so recovery refuses to guess.
//
// Threading: free functions; they only read the file, so they may run
// concurrently with each other and with a writer appending to the same file.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "base/strong_id.h"
#include "wal/file.h"
#include "wal/wal_format.h"

namespace floe {

// Where a record lives: its logical position and its total length in bytes
// (record header + payload).
struct wal_position {
    uint64_t position = 0;
    uint32_t length = 0;
    bool operator==(const wal_position&) const = default;
};

struct wal_record {
    stream_id stream{};
    epoch stream_epoch{};
    offset base_offset{};
    uint32_t record_count = 0;
    wal_position where;
    byte_vector payload;
};

struct wal_scan_result {
    wal_format::header header;
    // Logical position where the next group starts.
    uint64_t tail = 0;
    // [start, end) of each valid group from header.scan_start to tail.
    std::vector<std::pair<uint64_t, uint64_t>> groups;
    // Why the scan stopped at `tail` (for logs and tests).
    std::string tail_reason;
};

struct wal_recovery {
    wal_scan_result scan;
    std::vector<wal_record> records;
};

// The newest valid header copy.
result<wal_format::header> read_wal_header(wal_file& file);

// Scans as described above, calling `visit` for each record (a view valid only
// during the call). An error from `visit` stops the scan and is returned.
using wal_record_visitor = std::function<status(const wal_format::record_view&)>;
result<wal_scan_result> scan_wal(wal_file& file, const wal_record_visitor& visit);

// scan_wal() collecting the records.
result<wal_recovery> recover(wal_file& file);

// Reads `out.size()` bytes at logical `position` of a ring of `capacity` bytes,
// following the wrap.
status read_logical(wal_file& file, uint64_t capacity, uint64_t position, std::span<uint8_t> out);

// Reads and verifies the record at `where` (as returned by an append). Whether
// the position is still live (not trimmed and overwritten) is the caller's
// business: a position from an earlier lap fails with errc::corrupt.
result<wal_record> read_wal_record(wal_file& file, uint64_t capacity, wal_position where);

}  // namespace floe
