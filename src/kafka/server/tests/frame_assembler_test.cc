#include "kafka/server/frame_assembler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>

namespace floe::kafka {
namespace {

byte_vector framed(const byte_vector& payload) {
    byte_vector out;
    byte_writer writer(out);
    writer.write_int32(static_cast<int32_t>(payload.size()));
    writer.write_bytes(payload);
    return out;
}

byte_vector pattern(size_t size, uint8_t seed) {
    byte_vector out(size);
    for (size_t i = 0; i < size; ++i) {
        out[i] = static_cast<uint8_t>(seed + i * 31);
    }
    return out;
}

// Feeds `bytes` in pieces of at most `piece` and collects every frame.
std::vector<byte_vector> feed(frame_assembler& in, byte_span bytes, size_t piece) {
    std::vector<byte_vector> frames;
    size_t offset = 0;
    for (;;) {
        auto next = in.next();
        EXPECT_TRUE(next.has_value());
        if (!next) {
            return frames;
        }
        if (next->has_value()) {
            frames.emplace_back((*next)->span().begin(), (*next)->span().end());
            continue;
        }
        if (offset == bytes.size()) {
            return frames;
        }
        auto space = in.prepare();
        size_t count = std::min({piece, space.size(), bytes.size() - offset});
        std::memcpy(space.data(), bytes.data() + offset, count);
        in.commit(count);
        offset += count;
    }
}

TEST(FrameAssembler, SmallFramesInOneReceiveComeOutInOrder) {
    frame_assembler in(1 << 20);
    byte_vector stream;
    std::vector<byte_vector> payloads;
    for (size_t i = 0; i < 50; ++i) {
        payloads.push_back(pattern(i * 7, static_cast<uint8_t>(i)));
        auto f = framed(payloads.back());
        stream.insert(stream.end(), f.begin(), f.end());
    }
    EXPECT_EQ(feed(in, stream, stream.size()), payloads);
    EXPECT_EQ(in.buffered(), 0u);
    EXPECT_EQ(in.buffer_capacity(), frame_assembler::initial_buffer_bytes);
}

TEST(FrameAssembler, ReleaseFreesTheBufferOnlyWhenNothingIsPending) {
    frame_assembler in(1 << 20);
    auto frame = framed(pattern(10, 2));
    EXPECT_EQ(feed(in, byte_span(frame).first(6), 6).size(), 0u);
    in.release();  // 6 bytes pending: kept
    EXPECT_EQ(in.buffer_capacity(), frame_assembler::initial_buffer_bytes);
    auto frames = feed(in, byte_span(frame).subspan(6), 100);
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0], pattern(10, 2));
    in.release();  // nothing pending: freed
    EXPECT_EQ(in.buffer_capacity(), 0u);
    EXPECT_EQ(feed(in, frame, frame.size()).size(), 1u);
    EXPECT_EQ(in.buffer_capacity(), frame_assembler::initial_buffer_bytes);
}

TEST(FrameAssembler, ByteByByteEqualsAllAtOnce) {
    byte_vector stream;
    for (size_t i = 0; i < 5; ++i) {
        auto f = framed(pattern(100 + i, 3));
        stream.insert(stream.end(), f.begin(), f.end());
    }
    frame_assembler whole(1 << 20);
    frame_assembler bytes(1 << 20);
    auto expected = feed(whole, stream, stream.size());
    EXPECT_EQ(expected.size(), 5u);
    EXPECT_EQ(feed(bytes, stream, 1), expected);
}

TEST(FrameAssembler, EmptyFrameHasEmptyPayload) {
    frame_assembler in(100);
    auto frames = feed(in, framed({}), 4);
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_TRUE(frames[0].empty());
}

TEST(FrameAssembler, HostileSizePrefixReservesNothing) {
    frame_assembler in(100 << 20);
    byte_vector stream;
    byte_writer writer(stream);
    writer.write_int32(100 << 20);
    stream.resize(stream.size() + 10, 0x55);
    EXPECT_TRUE(feed(in, stream, stream.size()).empty());
    EXPECT_EQ(in.buffer_capacity(), frame_assembler::initial_buffer_bytes);
    // Keep sending: the buffer never holds more than twice what arrived.
    size_t received = stream.size();
    byte_vector chunk(64 << 10, 0x66);
    for (int i = 0; i < 40; ++i) {
        EXPECT_TRUE(feed(in, chunk, chunk.size()).empty());
        received += chunk.size();
        EXPECT_LE(in.buffer_capacity(), 2 * received);
    }
}

TEST(FrameAssembler, InvalidSizePrefixesAreErrors) {
    {
        frame_assembler in(1000);
        auto space = in.prepare();
        byte_vector big;
        byte_writer(big).write_int32(1001);
        std::memcpy(space.data(), big.data(), 4);
        in.commit(4);
        auto next = in.next();
        ASSERT_FALSE(next.has_value());
        EXPECT_EQ(next.error_value().code, errc::too_large);
    }
    {
        frame_assembler in(1000);
        auto space = in.prepare();
        std::memset(space.data(), 0xFF, 4);
        in.commit(4);
        auto next = in.next();
        ASSERT_FALSE(next.has_value());
        EXPECT_EQ(next.error_value().code, errc::corrupt);
    }
}

TEST(FrameAssembler, LargeFrameIsHandedOutWithoutCopyAndTheBufferShrinksBack) {
    frame_assembler in(8 << 20);
    auto payload = pattern(3 << 20, 9);
    auto small = pattern(10, 1);
    byte_vector stream = framed(payload);
    auto tail = framed(small);
    stream.insert(stream.end(), tail.begin(), tail.end());
    auto frames = feed(in, stream, 100'000);
    ASSERT_EQ(frames.size(), 2u);
    EXPECT_TRUE(frames[0] == payload);
    EXPECT_EQ(frames[1], small);
    EXPECT_EQ(in.buffer_capacity(), frame_assembler::initial_buffer_bytes);
}

TEST(FrameAssembler, LargeFrameSharesTheReceiveBuffer) {
    frame_assembler in(8 << 20);
    auto payload = pattern(1 << 20, 4);
    auto stream = framed(payload);
    size_t offset = 0;
    std::optional<shared_buffer> frame;
    for (int guard = 0; guard < 10'000 && !frame; ++guard) {
        auto next = in.next();
        ASSERT_TRUE(next.has_value());
        if (next->has_value()) {
            frame = **next;
            break;
        }
        auto space = in.prepare();
        size_t count = std::min(space.size(), stream.size() - offset);
        uint8_t* where = space.data();
        std::memcpy(where, stream.data() + offset, count);
        in.commit(count);
        offset += count;
        if (offset == stream.size()) {
            // The last receive landed in the buffer the frame will share.
            auto done = in.next();
            ASSERT_TRUE(done.has_value() && done->has_value());
            frame = **done;
            EXPECT_EQ(frame->data() + frame->size(), where + count);
        }
    }
    ASSERT_TRUE(frame.has_value());
    EXPECT_TRUE(std::equal(frame->span().begin(), frame->span().end(), payload.begin()));
}

TEST(FrameAssembler, RandomSplitsYieldTheSameFrames) {
    std::mt19937 random(12345);
    for (int round = 0; round < 30; ++round) {
        byte_vector stream;
        std::vector<byte_vector> payloads;
        size_t count = 1 + random() % 20;
        for (size_t i = 0; i < count; ++i) {
            size_t size = random() % 4 == 0 ? random() % 100'000 : random() % 300;
            payloads.push_back(pattern(size, static_cast<uint8_t>(random())));
            auto f = framed(payloads.back());
            stream.insert(stream.end(), f.begin(), f.end());
        }
        frame_assembler in(1 << 20);
        size_t piece = 1 + random() % 20'000;
        EXPECT_EQ(feed(in, stream, piece), payloads) << "round " << round << " piece " << piece;
    }
}

}  // namespace
}  // namespace floe::kafka
