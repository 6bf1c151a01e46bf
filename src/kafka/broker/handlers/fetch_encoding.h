// Zero-copy encoding of a Fetch response: the records of each partition are
// written as the stored buffers themselves (shared_buffers from the log
// cache, WAL reads or object blocks), never copied into the response.
//
// The framing around them comes from the generated codec: each level (the
// response, each topic, each partition) is encoded with its child list (or
// its records) empty, and the empty list's count (or the records' length
// prefix) is replaced by the real one. Worked example, Fetch v4 partition
// with 150 bytes of records: the codec writes [... fields ...][00 00 00 00]
// for empty records; the last four bytes become [00 00 00 96] and the 150
// bytes follow as their own segments. Flexible versions end each level with
// the tagged-field section instead, which Floe always leaves empty (one 0x00
// byte): the encoder checks that and keeps it after the children.
//
// Threading: pure functions.
#pragma once

#include <cstdint>
#include <vector>

#include "base/shared_buffer.h"
#include "kafka/protocol/generated/fetch_response.h"
#include "kafka/server/handler.h"

namespace floe::kafka {

// records[t][p] holds the segments of responses[t].partitions[p], whose own
// `records` field must be an empty (non-null) vector. Encodes as
// fetch_response::encode(writer, version) would with those records filled in.
response encode_fetch_response(const fetch_response& skeleton,
                               const std::vector<std::vector<std::vector<shared_buffer>>>& records,
                               int16_t version);

}  // namespace floe::kafka
