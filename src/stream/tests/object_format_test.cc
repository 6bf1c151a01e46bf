#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

#include "base/crc32c.h"
#include "stream/object.h"

namespace floe::stream {
namespace {

namespace layout = object_layout;

byte_span span_of(const std::string& s) {
    return byte_span(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// The fixed object of the golden test: two streams, block size 64 so that
// stream 1 spans two blocks.
// `builder` is object 42 with block size 64.
page_aligned_bytes build_golden(object_builder& builder) {
    static const std::string payloads[] = {"alpha", "bravo-bravo", "charlie", "delta", "echo"};
    EXPECT_TRUE(builder.add(stream_id(1), {offset(100), 2, 1000, span_of(payloads[0])}));
    EXPECT_TRUE(builder.add(stream_id(1), {offset(102), 1, 1001, span_of(payloads[1])}));
    EXPECT_TRUE(builder.add(stream_id(1), {offset(103), 5, 999, span_of(payloads[2])}));
    EXPECT_TRUE(builder.add(stream_id(7), {offset(0), 1, 2000, span_of(payloads[3])}));
    EXPECT_TRUE(builder.add(stream_id(7), {offset(1), 3, 2005, span_of(payloads[4])}));
    return builder.finish();
}

byte_vector golden_object() {
    object_builder builder(object_id(42), 64);
    page_aligned_bytes built = build_golden(builder);
    return byte_vector(built.begin(), built.end());
}

byte_vector read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return byte_vector((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A format change must be deliberate: the committed file is the format.
// Regenerate with FLOE_WRITE_GOLDEN=1 after bumping kObjectFormatVersion and
// updating docs/format/object.md.
TEST(ObjectFormat, GoldenFileMatches) {
    const char* source = std::getenv("FLOE_SOURCE_DIR");
    ASSERT_NE(source, nullptr);
    auto path = std::filesystem::path(source) / "src/stream/tests/golden/object_v1.bin";
    byte_vector built = golden_object();
    if (std::getenv("FLOE_WRITE_GOLDEN") != nullptr) {
        std::ofstream out(path, std::ios::binary);
        out.write(reinterpret_cast<const char*>(built.data()),
                  static_cast<std::streamsize>(built.size()));
    }
    byte_vector committed = read_file(path);
    ASSERT_FALSE(committed.empty()) << path;
    EXPECT_EQ(built, committed) << "the object format changed";

    // Spot checks written from the spec, independent of the builder: the
    // magic closes the object, the footer says where the index is.
    byte_reader tail(byte_span(committed).last(8));
    EXPECT_EQ(tail.read_uint64(), 0x464C4F454F424A31ULL);
    byte_reader footer(byte_span(committed).last(layout::kFooterSize));
    uint64_t index_position = footer.read_uint64();
    uint64_t index_length = footer.read_uint64();
    EXPECT_EQ(index_position + index_length + layout::kFooterSize, committed.size());
    EXPECT_EQ(index_length, 3 * layout::kIndexEntrySize);  // stream 1: 2 blocks, stream 7: 1
    // The first entry header starts the object: base offset 100, 2 records, 5 bytes.
    byte_reader first(committed);
    EXPECT_EQ(first.read_int64(), 100);
    EXPECT_EQ(first.read_int32(), 2);
    EXPECT_EQ(first.read_uint32(), 5u);
    EXPECT_EQ(first.read_int64(), 1000);
}

TEST(ObjectFormat, RoundTripIndexAndBlocks) {
    byte_vector object = golden_object();
    auto view = parse_object(object);
    ASSERT_TRUE(view.has_value()) << view.error_value().to_string();
    EXPECT_EQ(view->footer.id, object_id(42));
    ASSERT_EQ(view->blocks.size(), 3u);
    const auto& b0 = view->blocks[0];
    EXPECT_EQ(b0.stream, stream_id(1));
    EXPECT_EQ(b0.start_offset, offset(100));
    EXPECT_EQ(b0.end_offset, offset(103));  // 64-byte blocks close after two entries
    EXPECT_EQ(b0.min_timestamp, 1000);
    EXPECT_EQ(b0.max_timestamp, 1001);
    EXPECT_EQ(view->blocks[1].start_offset, offset(103));
    EXPECT_EQ(view->blocks[1].end_offset, offset(108));
    EXPECT_EQ(view->blocks[2].stream, stream_id(7));
    EXPECT_EQ(view->blocks[2].end_offset, offset(4));

    auto entries = parse_block(byte_span(object).subspan(b0.position, b0.size), b0, object_id(42));
    ASSERT_TRUE(entries.has_value()) << entries.error_value().to_string();
    ASSERT_EQ(entries->size(), 2u);
    EXPECT_EQ(std::string((*entries)[1].payload.begin(), (*entries)[1].payload.end()),
              "bravo-bravo");
    EXPECT_EQ((*entries)[1].base_offset, offset(102));
}

TEST(ObjectFormat, FindBlockByOffset) {
    byte_vector object = golden_object();
    auto view = parse_object(object);
    ASSERT_TRUE(view.has_value());
    const auto& blocks = view->blocks;
    EXPECT_EQ(find_block(blocks, stream_id(1), offset(0)), blocks.begin());
    EXPECT_EQ(find_block(blocks, stream_id(1), offset(102)), blocks.begin());
    EXPECT_EQ(find_block(blocks, stream_id(1), offset(103)), blocks.begin() + 1);
    EXPECT_EQ(find_block(blocks, stream_id(1), offset(107)), blocks.begin() + 1);
    EXPECT_EQ(find_block(blocks, stream_id(1), offset(108)), blocks.end());
    EXPECT_EQ(find_block(blocks, stream_id(7), offset(3)), blocks.begin() + 2);
    EXPECT_EQ(find_block(blocks, stream_id(5), offset(0)), blocks.end());
    EXPECT_EQ(find_block(blocks, stream_id(9), offset(0)), blocks.end());
}

TEST(ObjectFormat, BuilderRefusesOutOfOrderEntries) {
    std::string p = "x";
    object_builder builder(object_id(1));
    ASSERT_TRUE(builder.add(stream_id(5), {offset(10), 1, 0, span_of(p)}));
    EXPECT_EQ(builder.add(stream_id(5), {offset(12), 1, 0, span_of(p)}).error_value().code,
              errc::invalid_argument);  // gap
    EXPECT_EQ(builder.add(stream_id(4), {offset(0), 1, 0, span_of(p)}).error_value().code,
              errc::invalid_argument);  // stream order
    EXPECT_EQ(builder.add(stream_id(5), {offset(11), 0, 0, span_of(p)}).error_value().code,
              errc::invalid_argument);  // empty entry
    EXPECT_TRUE(builder.add(stream_id(5), {offset(11), 1, 0, span_of(p)}));
    auto view = parse_object(builder.finish());
    ASSERT_TRUE(view.has_value());
    EXPECT_EQ(view->blocks.at(0).end_offset, offset(12));
}

TEST(ObjectFormat, EveryTruncationIsReportedNotCrashed) {
    byte_vector object = golden_object();
    for (size_t keep = 0; keep < object.size(); ++keep) {
        auto view = parse_object(byte_span(object).first(keep));
        EXPECT_FALSE(view.has_value()) << "accepted a prefix of " << keep << " bytes";
    }
}

TEST(ObjectFormat, EveryFlippedByteIsDetected) {
    byte_vector object = golden_object();
    for (size_t i = 0; i < object.size(); ++i) {
        byte_vector damaged = object;
        damaged[i] ^= 0x40;
        auto view = parse_object(damaged);
        bool detected = !view.has_value();
        if (view.has_value()) {
            // The damage is in a data block: its CRC must catch it.
            for (const auto& b : view->blocks) {
                auto entries =
                    parse_block(byte_span(damaged).subspan(b.position, b.size), b, view->footer.id);
                detected = detected || !entries.has_value();
            }
        }
        EXPECT_TRUE(detected) << "flipped byte " << i << " went unnoticed";
    }
}

TEST(ObjectFormat, ForeignBytesAreNotAnObject) {
    std::mt19937 rng(7);
    for (int round = 0; round < 200; ++round) {
        byte_vector junk(static_cast<size_t>(rng() % 300));
        for (auto& b : junk)
            b = static_cast<uint8_t>(rng());
        auto view = parse_object(junk);
        EXPECT_FALSE(view.has_value());
    }
    byte_vector object = golden_object();
    auto message = parse_object(byte_span(object).first(object.size() - 1)).error_value().message;
    EXPECT_NE(message.find("magic"), std::string::npos) << message;
}

TEST(ObjectFormat, ManyBlocksOfOneStream) {
    std::string payload(1000, 'p');
    object_builder builder(object_id(3), 4096);
    for (int i = 0; i < 100; ++i) {
        ASSERT_TRUE(builder.add(stream_id(2), {offset(i * 10), 10, i, span_of(payload)}));
    }
    page_aligned_bytes object = builder.finish();
    auto view = parse_object(object);
    ASSERT_TRUE(view.has_value());
    EXPECT_EQ(view->blocks.size(), 25u);  // 4 entries of 1024 bytes reach 4096
    auto it = find_block(view->blocks, stream_id(2), offset(555));
    ASSERT_NE(it, view->blocks.end());
    auto entries =
        parse_block(byte_span(object).subspan(it->position, it->size), *it, object_id(3));
    ASSERT_TRUE(entries.has_value());
    bool found = false;
    for (const auto& e : *entries) {
        found = found || (e.base_offset <= offset(555) && offset(555) < e.end_offset());
    }
    EXPECT_TRUE(found);
}

// reserve() bounds the whole object (data, index, footer): built into the
// reserved buffer, the object never grows it, even when every entry is a
// block of its own (the largest index), and it parses as without reserve().
TEST(ObjectFormat, ReservedBuilderNeverGrowsItsBuffer) {
    std::string payload(300, 'r');
    for (size_t block_size : {size_t{1}, size_t{4096}}) {
        object_builder builder(object_id(5), block_size);
        builder.reserve(40, 40 * payload.size());
        for (int i = 0; i < 40; ++i) {
            ASSERT_TRUE(builder.add(stream_id(1 + i / 10), {offset(i), 1, i, span_of(payload)}));
        }
        page_aligned_bytes object = builder.finish();
        EXPECT_EQ(object.capacity(),
                  40 * (payload.size() + layout::kEntryHeaderSize + layout::kIndexEntrySize) +
                      layout::kFooterSize)
            << "block size " << block_size;
        EXPECT_LE(object.size(), object.capacity());
        // Page-aligned storage: an O_DIRECT put writes it without a bounce copy.
        EXPECT_EQ(reinterpret_cast<uintptr_t>(object.data()) % 4096, 0u);
        auto view = parse_object(object);
        ASSERT_TRUE(view.has_value());
        EXPECT_EQ(view->blocks.size(), block_size == 1 ? 40u : 4u);
    }
}

// A buffer from an earlier finish() is built into in place (no new
// allocation when it is large enough), and the object is byte-identical to
// one built from scratch.
TEST(ObjectFormat, AdoptedBufferIsReusedAndChangesNothing) {
    object_builder first(object_id(9), 64);
    first.reserve(5, 1000);
    ASSERT_TRUE(first.add(stream_id(1), {offset(0), 1, 1, span_of(std::string(900, 'x'))}));
    page_aligned_bytes used = first.finish();
    size_t capacity = used.capacity();
    const uint8_t* storage = used.data();

    object_builder reused(object_id(42), 64);
    reused.adopt_buffer(std::move(used));
    page_aligned_bytes again = build_golden(reused);
    EXPECT_EQ(byte_vector(again.begin(), again.end()), golden_object());
    EXPECT_EQ(again.data(), storage);
    EXPECT_EQ(again.capacity(), capacity);
}

}  // namespace
}  // namespace floe::stream
