// libFuzzer target: arbitrary bytes as a Produce/Fetch `records` field.
// Splits (both modes), validates and decodes every batch with a 1 MiB
// decompression bound, and exercises the in-place rewrites. Each batch is
// checked twice: as given, and with its CRC recomputed, so mutations reach
// the record and decompression code instead of stopping at the checksum.
// Any crash, sanitizer report, or a decode that disagrees with validation is
// a finding.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "kafka/protocol/record_batch.h"

using namespace floe;
using namespace floe::kafka;

namespace {

void check_batch(const batch_view& batch) {
    for (offset_rule rule : {offset_rule::contiguous, offset_rule::increasing}) {
        const batch_limits limits{.max_uncompressed_bytes = 1 << 20, .offsets = rule};
        status valid = validate_batch(batch, limits);
        auto records = decode_records(batch, limits);
        if (valid.has_value() != records.has_value()) {
            std::abort();  // validation and decoding must agree
        }
        if (records && records->size() != static_cast<size_t>(batch.header.record_count)) {
            std::abort();
        }
        if (rule == offset_rule::increasing) {
            std::vector<uint8_t> copy(batch.bytes.begin(), batch.bytes.end());
            (void)set_base_offset(copy, 1);
            (void)set_partition_leader_epoch(copy, 2);
            (void)set_max_timestamp(copy, timestamp_type::log_append_time, 3);
            auto header = parse_batch_header(copy);
            if (!header) {
                std::abort();
            }
            // The rewrites keep a valid batch valid (incremental CRC update).
            status after = validate_batch(batch_view{*header, copy}, limits);
            if (valid.has_value() && !after.has_value()) {
                std::abort();
            }
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const byte_span input(data, size);
    (void)split_batches(input, split_mode::fetch);
    auto split = split_batches(input, split_mode::produce);
    if (!split) {
        return 0;
    }
    for (const batch_view& batch : split->batches) {
        check_batch(batch);
        std::vector<uint8_t> fixed(batch.bytes.begin(), batch.bytes.end());
        if (!recompute_crc(fixed)) {
            std::abort();
        }
        check_batch(batch_view{batch.header, fixed});
    }
    return 0;
}
