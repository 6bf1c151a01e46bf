#include "kafka/protocol/frame.h"

#include <gtest/gtest.h>

namespace floe::kafka {
namespace {

byte_vector framed(const byte_vector& payload) {
    byte_vector out;
    byte_writer writer(out);
    size_t start = begin_frame(writer);
    writer.write_bytes(payload);
    finish_frame(writer, start);
    return out;
}

TEST(Frame, BuildAndParseRoundTrip) {
    byte_vector bytes = framed({1, 2, 3});
    ASSERT_EQ(bytes, (byte_vector{0, 0, 0, 3, 1, 2, 3}));
    auto frame = parse_frame(bytes, 100);
    ASSERT_TRUE(frame.has_value());
    EXPECT_EQ(frame->consumed, 7u);
    EXPECT_EQ(byte_vector(frame->payload.begin(), frame->payload.end()), (byte_vector{1, 2, 3}));
}

TEST(Frame, PeekWaitsForTheWholeFrame) {
    byte_vector bytes = framed({9, 8, 7, 6});
    for (size_t have = 0; have < bytes.size(); ++have) {
        auto peeked = peek_frame(byte_span(bytes).first(have), 100);
        ASSERT_TRUE(peeked.has_value()) << have;
        EXPECT_FALSE(peeked->has_value())
            << "complete frame reported with only " << have << " bytes";
    }
    auto whole = peek_frame(bytes, 100);
    ASSERT_TRUE(whole.has_value() && whole->has_value());
    EXPECT_EQ((*whole)->payload.size(), 4u);
}

TEST(Frame, PeekLeavesFollowingFramesAlone) {
    byte_vector bytes = framed({1});
    byte_vector second = framed({2, 2});
    bytes.insert(bytes.end(), second.begin(), second.end());
    auto first = peek_frame(bytes, 100);
    ASSERT_TRUE(first.has_value() && first->has_value());
    EXPECT_EQ((*first)->consumed, 5u);
    auto next = peek_frame(byte_span(bytes).subspan(5), 100);
    ASSERT_TRUE(next.has_value() && next->has_value());
    EXPECT_EQ((*next)->payload.size(), 2u);
}

TEST(Frame, OversizedFrameIsAnErrorBeforeItsBodyArrives) {
    // Only the 4-byte prefix is present: the size alone decides.
    byte_vector prefix{0x7f, 0xff, 0xff, 0xff};
    auto peeked = peek_frame(prefix, default_max_frame_size);
    ASSERT_FALSE(peeked.has_value());
    EXPECT_EQ(peeked.error_value().code, errc::too_large);

    byte_vector just_over{0, 0, 0, 11};
    just_over.resize(4 + 11);
    EXPECT_EQ(parse_frame(just_over, 10).error_value().code, errc::too_large);
    EXPECT_TRUE(parse_frame(byte_span(just_over), 11).has_value());
}

TEST(Frame, NegativeSizeIsCorrupt) {
    byte_vector bytes{0xff, 0xff, 0xff, 0xff};
    EXPECT_EQ(peek_frame(bytes, 100).error_value().code, errc::corrupt);
}

TEST(Frame, WholeBufferRulesAreStrict) {
    byte_vector bytes = framed({1, 2, 3});
    EXPECT_EQ(parse_frame(byte_span(bytes).first(5), 100).error_value().code, errc::truncated);
    EXPECT_EQ(parse_frame(byte_span(bytes).first(2), 100).error_value().code, errc::truncated);
    bytes.push_back(0);
    EXPECT_EQ(parse_frame(bytes, 100).error_value().code, errc::corrupt);
}

TEST(Frame, EmptyFrameIsValid) {
    byte_vector bytes = framed({});
    auto frame = parse_frame(bytes, 0);
    ASSERT_TRUE(frame.has_value());
    EXPECT_TRUE(frame->payload.empty());
}

}  // namespace
}  // namespace floe::kafka
