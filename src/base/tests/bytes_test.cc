#include "base/bytes.h"

#include <gtest/gtest.h>

#include <limits>

namespace floe {
namespace {

TEST(Bytes, FixedWidthRoundTripIsBigEndian) {
    byte_vector buf;
    byte_writer w(buf);
    w.write_int16(0x0102);
    w.write_int32(-2);
    w.write_int64(0x0102030405060708LL);
    w.write_float64(1.5);
    ASSERT_EQ(buf[0], 0x01);
    ASSERT_EQ(buf[1], 0x02);
    byte_reader r(buf);
    EXPECT_EQ(r.read_int16(), 0x0102);
    EXPECT_EQ(r.read_int32(), -2);
    EXPECT_EQ(r.read_int64(), 0x0102030405060708LL);
    EXPECT_EQ(r.read_float64(), 1.5);
    EXPECT_TRUE(r.ok());
    EXPECT_TRUE(r.at_end());
}

TEST(Bytes, VarintsRoundTripAtTheEdges) {
    byte_vector buf;
    byte_writer w(buf);
    const int64_t values[] = {0, 1, -1, 63, -64, 64, 300, std::numeric_limits<int32_t>::max(),
                              std::numeric_limits<int32_t>::min()};
    for (int64_t v : values) w.write_varint32(static_cast<int32_t>(v));
    w.write_varint64(std::numeric_limits<int64_t>::min());
    w.write_varint64(std::numeric_limits<int64_t>::max());
    w.write_uvarint(std::numeric_limits<uint64_t>::max());
    byte_reader r(buf);
    for (int64_t v : values) EXPECT_EQ(r.read_varint32(), v);
    EXPECT_EQ(r.read_varint64(), std::numeric_limits<int64_t>::min());
    EXPECT_EQ(r.read_varint64(), std::numeric_limits<int64_t>::max());
    EXPECT_EQ(r.read_uvarint64(), std::numeric_limits<uint64_t>::max());
    EXPECT_TRUE(r.ok());
    EXPECT_TRUE(r.at_end());
}

TEST(Bytes, ZigZagMatchesKafkaEncoding) {
    // -1 encodes as 0x01, 1 as 0x02, 300 as 0xd8 0x04 (zig-zag 600).
    byte_vector buf;
    byte_writer w(buf);
    w.write_varint32(-1);
    w.write_varint32(1);
    w.write_varint32(300);
    EXPECT_EQ(buf, (byte_vector{0x01, 0x02, 0xd8, 0x04}));
}

TEST(Bytes, TruncatedReadIsStickyError) {
    byte_vector buf{0x00, 0x01, 0x02};
    byte_reader r(buf);
    EXPECT_EQ(r.read_int32(), 0);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.failure().code, errc::truncated);
    EXPECT_EQ(r.read_int8(), 0);  // later reads keep failing
    EXPECT_FALSE(r.to_status().has_value());
}

TEST(Bytes, OverlongVarintIsCorrupt) {
    byte_vector eleven(11, 0x80);
    byte_reader r(eleven);
    r.read_uvarint64();
    EXPECT_EQ(r.failure().code, errc::corrupt);

    byte_vector too_big_for_32{0xff, 0xff, 0xff, 0xff, 0x7f};
    byte_reader r32(too_big_for_32);
    r32.read_uvarint32();
    EXPECT_EQ(r32.failure().code, errc::corrupt);

    byte_vector unterminated{0x80, 0x80};
    byte_reader rt(unterminated);
    rt.read_uvarint32();
    EXPECT_EQ(rt.failure().code, errc::truncated);
}

TEST(Bytes, SpanLargerThanInputDoesNotAllocate) {
    byte_vector buf{1, 2, 3};
    byte_reader r(buf);
    EXPECT_TRUE(r.read_span(1u << 30).empty());
    EXPECT_EQ(r.failure().code, errc::truncated);
}

}  // namespace
}  // namespace floe
