// Format tests: the golden file pins the on-disk bytes of version 1; header
// copies survive a torn header write.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "wal/tests/test_util.h"
#include "wal/wal_format.h"

namespace floe {
namespace {

using namespace wal_test;
namespace fmt = wal_format;

std::string golden_path() {
    const char* root = std::getenv("FLOE_SOURCE_DIR");
    return std::string(root ? root : ".") + "/src/wal/tests/golden/wal_v1.bin";
}

// Builds a small WAL from fixed inputs. Group composition is made
// deterministic with a huge group_delay: queued appends form one group only
// when close() flushes them.
byte_vector build_golden_image() {
    constexpr uint64_t capacity = 16 * 1024;
    auto file = std::make_shared<fault_file>(file_size_for(capacity));
    wal_options options = small_options(capacity);
    options.owner = node_id(7);
    options.owner_epoch = epoch(3);
    options.group_delay = std::chrono::hours(1);
    {
        auto w = wal::open(file, options);
        EXPECT_TRUE(w.has_value());
        completion_log log;
        (*w)->append(stream_id(1), epoch(2), offset(0), 3, make_payload(1, 0, 100),
                     log.callback(0));
        (*w)->append(stream_id(2), epoch(5), offset(40), 1, make_payload(2, 40, 10),
                     log.callback(1));
        (*w)->append(stream_id(1), epoch(2), offset(3), 2, byte_vector{}, log.callback(2));
        EXPECT_TRUE((*w)->close().has_value());
        EXPECT_EQ(log.entries.size(), 3u);
    }
    // A second writer (same node, higher epoch) takes over, appends one group
    // and trims past the first record.
    options.owner_epoch = epoch(4);
    options.group_delay = std::chrono::microseconds(0);
    {
        auto w = wal::open(file, options);
        EXPECT_TRUE(w.has_value());
        auto p = append_wait(**w, 3, 1000, make_payload(3, 1000, 5000), 7);
        EXPECT_TRUE(p.has_value());
        EXPECT_TRUE(
            (*w)->trim(fmt::k_group_header_size + fmt::k_record_header_size + 100).has_value());
        EXPECT_TRUE((*w)->close().has_value());
    }
    return file->durable_image();
}

TEST(WalFormat, GoldenFileMatchesByteForByte) {
    byte_vector image = build_golden_image();
    if (std::getenv("FLOE_WRITE_GOLDEN") != nullptr) {
        std::ofstream out(golden_path(), std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(image.data()),
                  static_cast<std::streamsize>(image.size()));
        ASSERT_TRUE(out.good());
        GTEST_SKIP() << "wrote " << golden_path();
    }
    std::ifstream in(golden_path(), std::ios::binary);
    ASSERT_TRUE(in.good()) << "missing " << golden_path()
                           << " (regenerate with FLOE_WRITE_GOLDEN=1)";
    byte_vector golden((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_EQ(golden.size(), image.size());
    for (size_t i = 0; i < golden.size(); ++i) {
        ASSERT_EQ(golden[i], image[i]) << "first difference at byte " << i
                                       << "; if the format changed on purpose, bump "
                                          "k_version and regenerate with FLOE_WRITE_GOLDEN=1";
    }
}

// The committed file must stay readable: this is what a reader of version 1
// sees, independently of today's writer.
TEST(WalFormat, GoldenFileRecovers) {
    std::ifstream in(golden_path(), std::ios::binary);
    ASSERT_TRUE(in.good());
    byte_vector golden((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    fault_file file(golden);
    auto rec = recover(file);
    ASSERT_TRUE(rec.has_value()) << rec.error_value().to_string();
    const auto& h = rec->scan.header;
    EXPECT_EQ(h.owner, node_id(7));
    EXPECT_EQ(h.owner_epoch, epoch(4));
    EXPECT_EQ(h.generation, 2u);
    EXPECT_EQ(h.capacity, 16u * 1024);
    EXPECT_EQ(h.sequence, 3u);
    EXPECT_EQ(h.trim_position, 204u);
    EXPECT_EQ(h.scan_start, 0u);
    // Trimmed: the first record (position 48) is not reported.
    ASSERT_EQ(rec->records.size(), 3u);
    EXPECT_EQ(rec->records[0].stream, stream_id(2));
    EXPECT_EQ(rec->records[0].stream_epoch, epoch(5));
    EXPECT_EQ(rec->records[0].base_offset, offset(40));
    EXPECT_EQ(rec->records[0].where, (wal_position{204, 66}));
    EXPECT_EQ(rec->records[0].payload, make_payload(2, 40, 10));
    EXPECT_EQ(rec->records[1].base_offset, offset(3));
    EXPECT_EQ(rec->records[1].record_count, 2u);
    EXPECT_TRUE(rec->records[1].payload.empty());
    EXPECT_EQ(rec->records[2].stream, stream_id(3));
    EXPECT_EQ(rec->records[2].where, (wal_position{4096 + 48, 5056}));
    EXPECT_EQ(rec->records[2].record_count, 7u);
    EXPECT_EQ(rec->records[2].payload, make_payload(3, 1000, 5000));
    EXPECT_EQ(rec->scan.tail, 4096u + 8192u);
    EXPECT_EQ(rec->scan.groups.size(), 2u);
}

TEST(WalFormat, HeaderRoundTripsAndRejectsDamage) {
    fmt::header h;
    h.sequence = 5;
    h.owner = node_id(-3);
    h.owner_epoch = epoch(1LL << 40);
    h.generation = 9;
    h.capacity = 1 << 20;
    h.trim_position = 12345;
    h.scan_start = 8192;
    auto block = fmt::encode_header(h);
    ASSERT_EQ(block.size(), fmt::k_block_size);
    auto back = fmt::decode_header(block);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, h);
    for (size_t i = 0; i < fmt::k_header_size; ++i) {
        auto damaged = block;
        damaged[i] ^= 0x01;
        EXPECT_FALSE(fmt::decode_header(damaged).has_value()) << "byte " << i;
    }
    EXPECT_EQ(fmt::decode_header(byte_vector(4096, 0)).error_value().code, errc::not_found);
}

TEST(WalFormat, TornHeaderWriteKeepsThePreviousCopy) {
    auto file = std::make_shared<fault_file>(file_size_for(64 * 1024));
    {
        auto w = wal::open(file, small_options());
        ASSERT_TRUE(w.has_value());
        ASSERT_TRUE(append_wait(**w, 1, 0, make_payload(1, 0, 10)).has_value());
        ASSERT_TRUE((*w)->close().has_value());
    }
    auto before = read_wal_header(*file);
    ASSERT_TRUE(before.has_value());
    // The next header write (a takeover) is torn after 20 bytes.
    file->tear_write(file->write_count() + 1, 20);
    wal_options o = small_options();
    o.owner_epoch = epoch(2);
    auto w = wal::open(file, o);
    ASSERT_FALSE(w.has_value());
    EXPECT_EQ(w.error_value().code, errc::io);
    fault_file rebooted(file->durable_image());
    auto after = read_wal_header(rebooted);
    ASSERT_TRUE(after.has_value()) << after.error_value().to_string();
    EXPECT_EQ(*after, *before);
    auto rec = recover(rebooted);
    ASSERT_TRUE(rec.has_value());
    EXPECT_EQ(rec->records.size(), 1u);
}

TEST(WalFormat, BothHeaderCopiesCorruptIsAnErrorNotACrash) {
    auto file = std::make_shared<fault_file>(file_size_for(64 * 1024));
    {
        auto w = wal::open(file, small_options());
        ASSERT_TRUE(w.has_value());
        ASSERT_TRUE((*w)->trim(0).has_value());
        ASSERT_TRUE(append_wait(**w, 1, 0, make_payload(1, 0, 10)).has_value());
        ASSERT_TRUE((*w)->trim(4096).has_value());  // writes the second copy
        ASSERT_TRUE((*w)->close().has_value());
    }
    auto image = file->durable_image();
    image[30] ^= 0xFF;
    image[4096 + 30] ^= 0xFF;
    fault_file broken(image);
    auto rec = recover(broken);
    ASSERT_FALSE(rec.has_value());
    EXPECT_EQ(rec.error_value().code, errc::corrupt);
    auto w = wal::open(std::make_shared<fault_file>(image), small_options());
    ASSERT_FALSE(w.has_value());
    EXPECT_EQ(w.error_value().code, errc::corrupt);
}

}  // namespace
}  // namespace floe
