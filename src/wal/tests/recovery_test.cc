// Recovery tests: torn last group at every byte boundary, a corrupt byte
// anywhere in the tail, unacknowledged groups beyond a hole never resurrected,
// positional reads.
#include <gtest/gtest.h>

#include "wal/tests/test_util.h"

namespace floe {
namespace {

using namespace wal_test;
namespace fmt = wal_format;

constexpr uint64_t k_capacity = 64 * 1024;

struct two_images {
    byte_vector before;  // durable image before the last group was written
    byte_vector after;   // durable image with the last group synced
    uint64_t group_start = 0;
    uint64_t group_data_length = 0;
    size_t records_before = 0;
    size_t records_after = 0;
};

// Two single-record groups, then (from a second writer whose queued appends
// are flushed by close()) one two-block group of three records.
two_images build_images() {
    two_images out;
    auto file = std::make_shared<fault_file>(file_size_for(k_capacity));
    {
        auto w = wal::open(file, small_options(k_capacity));
        EXPECT_TRUE(w.has_value());
        EXPECT_TRUE(append_wait(**w, 1, 0, make_payload(1, 0, 1000)).has_value());
        EXPECT_TRUE(append_wait(**w, 2, 0, make_payload(2, 0, 2000)).has_value());
        EXPECT_TRUE((*w)->close().has_value());
    }
    wal_options o = small_options(k_capacity);
    o.group_delay = std::chrono::hours(1);
    auto w = wal::open(file, o);
    EXPECT_TRUE(w.has_value());
    out.before = file->durable_image();
    completion_log log;
    (*w)->append(stream_id(1), epoch(1), offset(1), 1, make_payload(1, 1, 3000), log.callback(0));
    (*w)->append(stream_id(3), epoch(1), offset(0), 1, make_payload(3, 0, 10), log.callback(1));
    (*w)->append(stream_id(2), epoch(1), offset(1), 1, make_payload(2, 1, 2500), log.callback(2));
    EXPECT_TRUE((*w)->close().has_value());
    out.after = file->durable_image();
    fault_file view(out.after);
    auto rec = recover(view);
    EXPECT_TRUE(rec.has_value());
    out.group_start = rec->scan.groups.back().first;
    EXPECT_EQ(rec->scan.groups.back().second - out.group_start, 8192u);
    byte_vector block(fmt::k_block_size);
    EXPECT_TRUE(read_logical(view, k_capacity, out.group_start, block).has_value());
    out.group_data_length = fmt::decode_group_header(block)->fields.data_length;
    out.records_after = rec->records.size();
    out.records_before = out.records_after - 3;
    return out;
}

void expect_exactly(const byte_vector& image, size_t records, uint64_t tail, const char* what,
                    size_t at) {
    fault_file file(image);
    auto rec = recover(file);
    ASSERT_TRUE(rec.has_value()) << what << " " << at << ": " << rec.error_value().to_string();
    ASSERT_EQ(rec->records.size(), records) << what << " " << at;
    ASSERT_EQ(rec->scan.tail, tail) << what << " " << at;
}

TEST(WalRecovery, TornLastGroupAtEveryByteBoundary) {
    auto images = build_images();
    ASSERT_EQ(images.records_before, 2u);
    uint64_t physical = fmt::k_data_offset + images.group_start;
    for (size_t prefix = 0; prefix <= 8192; ++prefix) {
        byte_vector image = images.before;
        std::copy_n(images.after.begin() + static_cast<std::ptrdiff_t>(physical), prefix,
                    image.begin() + static_cast<std::ptrdiff_t>(physical));
        bool whole = prefix >= images.group_data_length;  // the rest is zero padding
        expect_exactly(image, whole ? images.records_after : images.records_before,
                       whole ? images.group_start + 8192 : images.group_start, "prefix", prefix);
    }
}

TEST(WalRecovery, CorruptByteAnywhereInTheTailStopsThere) {
    auto images = build_images();
    uint64_t physical = fmt::k_data_offset + images.group_start;
    for (size_t i = 0; i < images.group_data_length; ++i) {
        byte_vector image = images.after;
        image[physical + i] ^= 0x40;
        expect_exactly(image, images.records_before, images.group_start, "flipped byte", i);
    }
    // A damaged earlier group ends the log there too (what follows it was
    // never acknowledged if writes are ordered, so it is not guessed at).
    byte_vector image = images.after;
    image[fmt::k_data_offset + 4096 + 100] ^= 0x01;
    expect_exactly(image, 1, 4096, "second group", 0);
}

// A crash left group B missing but group C (never acknowledged: B was not
// synced) intact. The next writer starts at B's position; if its first group
// ends exactly where C starts, C must still not come back.
TEST(WalRecovery, GroupBeyondAHoleIsNeverResurrected) {
    auto file = std::make_shared<fault_file>(file_size_for(k_capacity));
    {
        auto w = wal::open(file, small_options(k_capacity));
        ASSERT_TRUE(w.has_value());
        for (int64_t i = 0; i < 3; ++i) {
            ASSERT_TRUE(append_wait(**w, 1, i, make_payload(1, i, 1000)).has_value());
        }
        ASSERT_TRUE((*w)->close().has_value());
    }
    auto image = file->durable_image();
    std::fill_n(image.begin() + fmt::k_data_offset + 4096, 4096, uint8_t{0});  // lose B
    auto rebooted = std::make_shared<fault_file>(image);
    auto w = wal::open(rebooted, small_options(k_capacity));
    ASSERT_TRUE(w.has_value());
    EXPECT_EQ((*w)->start_position(), 4096u);
    ASSERT_TRUE(append_wait(**w, 2, 0, make_payload(2, 0, 1000)).has_value());
    ASSERT_TRUE((*w)->close().has_value());
    auto rec = recover(*rebooted);
    ASSERT_TRUE(rec.has_value());
    ASSERT_EQ(rec->records.size(), 2u);
    EXPECT_EQ(rec->records[1].stream, stream_id(2));
    EXPECT_EQ(rec->scan.tail, 8192u);
    EXPECT_EQ(rec->scan.tail_reason, "group of an older writer generation");
}

TEST(WalRecovery, MissingDataAboveTheTrimPointIsAnError) {
    auto file = std::make_shared<fault_file>(file_size_for(k_capacity));
    {
        auto w = wal::open(file, small_options(k_capacity));
        ASSERT_TRUE(w.has_value());
        ASSERT_TRUE(append_wait(**w, 1, 0, make_payload(1, 0, 1000)).has_value());
        auto b = append_wait(**w, 1, 1, make_payload(1, 1, 1000));
        ASSERT_TRUE(b.has_value());
        ASSERT_TRUE((*w)->trim(b->position).has_value());  // inside the second group
        ASSERT_TRUE((*w)->close().has_value());
    }
    auto image = file->durable_image();
    image[fmt::k_data_offset + 4096 + 200] ^= 0x01;  // rot in an acknowledged group
    fault_file broken(image);
    auto rec = recover(broken);
    ASSERT_FALSE(rec.has_value());
    EXPECT_EQ(rec.error_value().code, errc::corrupt);
    EXPECT_NE(rec.error_value().message.find("4096"), std::string::npos)
        << rec.error_value().message;
}

TEST(WalRecovery, PositionalReads) {
    auto file = std::make_shared<fault_file>(file_size_for(k_capacity));
    auto w = wal::open(file, small_options(k_capacity));
    ASSERT_TRUE(w.has_value());
    auto a = append_wait(**w, 1, 0, make_payload(1, 0, 300));
    auto b = append_wait(**w, 1, 1, make_payload(1, 1, 400));
    ASSERT_TRUE(a.has_value() && b.has_value());
    auto r = (*w)->read(*b);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->payload, make_payload(1, 1, 400));
    EXPECT_EQ(r->base_offset, offset(1));
    ASSERT_TRUE((*w)->trim(b->position).has_value());
    EXPECT_EQ((*w)->read(*a).error_value().code, errc::not_found);
    EXPECT_EQ((*w)->read({b->position + 8192, b->length}).error_value().code, errc::not_found);
    auto wrong = read_wal_record(*file, k_capacity, {b->position + 4, b->length});
    ASSERT_FALSE(wrong.has_value());
    EXPECT_EQ(wrong.error_value().code, errc::corrupt);
    EXPECT_NE(wrong.error_value().message.find(std::to_string(b->position + 4)), std::string::npos);
    ASSERT_TRUE((*w)->close().has_value());
}

TEST(WalRecovery, NeverInitialisedFileIsNotFound) {
    fault_file file(file_size_for(k_capacity));
    auto rec = recover(file);
    ASSERT_FALSE(rec.has_value());
    EXPECT_EQ(rec.error_value().code, errc::not_found);
}

}  // namespace
}  // namespace floe
