#include "kafka/protocol/compression.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace floe::kafka {
namespace {

constexpr compression_codec kAllCodecs[] = {compression_codec::none, compression_codec::gzip,
                                            compression_codec::snappy, compression_codec::lz4,
                                            compression_codec::zstd};
constexpr compression_codec kRealCodecs[] = {compression_codec::gzip, compression_codec::snappy,
                                             compression_codec::lz4, compression_codec::zstd};

byte_vector bytes_of(std::string_view s) {
    return byte_vector(s.begin(), s.end());
}

byte_vector sample(size_t n, uint32_t seed) {
    // Half random, half repetitive, so every codec has something to do.
    std::mt19937 rng(seed);
    byte_vector out(n);
    for (size_t i = 0; i < n; ++i) {
        out[i] = (i / 1024) % 2 == 0 ? static_cast<uint8_t>(rng()) : static_cast<uint8_t>(i % 13);
    }
    return out;
}

TEST(Compression, RoundTripEveryCodecAndSize) {
    for (compression_codec codec : kAllCodecs) {
        for (size_t n : {size_t{0}, size_t{1}, size_t{100}, size_t{32 * 1024},
                         size_t{32 * 1024 + 1}, size_t{64 * 1024 + 7}, size_t{1 << 20}}) {
            byte_vector input = sample(n, static_cast<uint32_t>(n));
            auto packed = compress(codec, input);
            ASSERT_TRUE(packed) << codec_name(codec) << " " << n;
            auto unpacked = decompress(codec, *packed, n);
            ASSERT_TRUE(unpacked) << codec_name(codec) << " " << n << ": "
                                  << unpacked.error_value().to_string();
            EXPECT_EQ(*unpacked, input) << codec_name(codec) << " " << n;
        }
    }
}

TEST(Compression, OutputOneByteOverTheLimitIsTooLarge) {
    byte_vector input = sample(100000, 3);
    for (compression_codec codec : kAllCodecs) {
        auto packed = compress(codec, input);
        ASSERT_TRUE(packed);
        auto exact = decompress(codec, *packed, input.size());
        ASSERT_TRUE(exact) << codec_name(codec);
        auto over = decompress(codec, *packed, input.size() - 1);
        ASSERT_FALSE(over) << codec_name(codec);
        EXPECT_EQ(over.error_value().code, errc::too_large) << codec_name(codec);
    }
}

// 64 MiB of zeros compress to a few KiB (or less); decompressing with a
// 1 MiB limit must stop at the limit instead of inflating it all.
TEST(Compression, DecompressionBombIsRefusedAtTheLimit) {
    byte_vector zeros(64u << 20, 0);
    for (compression_codec codec : kRealCodecs) {
        auto packed = compress(codec, zeros);
        ASSERT_TRUE(packed);
        EXPECT_LT(packed->size(), zeros.size() / 20) << codec_name(codec);
        auto out = decompress(codec, *packed, 1u << 20);
        ASSERT_FALSE(out) << codec_name(codec);
        EXPECT_EQ(out.error_value().code, errc::too_large) << codec_name(codec);
    }
}

// A raw snappy block is a varint length then elements. Declaring 4 GiB in five
// bytes must not allocate 4 GiB: it is over the limit, or (with no limit)
// impossible for a block that small.
TEST(Compression, SnappyDeclaredLengthIsNotTrusted) {
    byte_vector lie = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x00};
    auto limited = decompress(compression_codec::snappy, lie, 1u << 20);
    ASSERT_FALSE(limited);
    EXPECT_EQ(limited.error_value().code, errc::too_large);
    auto unlimited = decompress(compression_codec::snappy, lie, SIZE_MAX);
    ASSERT_FALSE(unlimited);
    EXPECT_EQ(unlimited.error_value().code, errc::corrupt);
}

// Raw snappy for "hello": varint length 5, then a literal tag ((5-1) << 2 =
// 0x10) and the 5 bytes; " world": length 6, tag 0x14, 6 bytes.
const byte_vector kRawHello = {0x05, 0x10, 'h', 'e', 'l', 'l', 'o'};
const byte_vector kRawWorld = {0x06, 0x14, ' ', 'w', 'o', 'r', 'l', 'd'};

byte_vector xerial_header() {
    return {0x82, 'S',  'N',  'A',  'P', 'P', 'Y', 0x00,  // magic
            0x00, 0x00, 0x00, 0x01,                       // version 1
            0x00, 0x00, 0x00, 0x01};                      // minimum compatible version 1
}

TEST(Compression, SnappyRawBlockByHand) {
    auto out = decompress(compression_codec::snappy, kRawHello, 100);
    ASSERT_TRUE(out) << out.error_value().to_string();
    EXPECT_EQ(*out, bytes_of("hello"));
}

TEST(Compression, SnappyXerialFramesByHand) {
    byte_vector framed = xerial_header();
    framed.insert(framed.end(), {0x00, 0x00, 0x00, 0x07});
    framed.insert(framed.end(), kRawHello.begin(), kRawHello.end());
    framed.insert(framed.end(), {0x00, 0x00, 0x00, 0x08});
    framed.insert(framed.end(), kRawWorld.begin(), kRawWorld.end());
    auto out = decompress(compression_codec::snappy, framed, 100);
    ASSERT_TRUE(out) << out.error_value().to_string();
    EXPECT_EQ(*out, bytes_of("hello world"));

    // Header only: zero chunks is an empty stream.
    auto empty = decompress(compression_codec::snappy, xerial_header(), 100);
    ASSERT_TRUE(empty);
    EXPECT_TRUE(empty->empty());

    // Limit applies across chunks.
    auto limited = decompress(compression_codec::snappy, framed, 10);
    ASSERT_FALSE(limited);
    EXPECT_EQ(limited.error_value().code, errc::too_large);

    // Every strict prefix longer than the header is an error (chunk cut).
    for (size_t n = xerial_header().size() + 1; n < framed.size(); ++n) {
        if (n == xerial_header().size() + 4 + kRawHello.size()) {
            continue;  // ends exactly after the first chunk: a valid stream
        }
        auto cut = decompress(compression_codec::snappy, byte_span(framed).first(n), 100);
        EXPECT_FALSE(cut) << "prefix " << n;
    }
    // Negative chunk length.
    byte_vector negative = xerial_header();
    negative.insert(negative.end(), {0xff, 0xff, 0xff, 0xff});
    auto bad = decompress(compression_codec::snappy, negative, 100);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error_value().code, errc::corrupt);
}

// What we emit is what snappy-java's SnappyOutputStream emits: the xerial
// header, then 32 KiB chunks each prefixed by its compressed length.
TEST(Compression, SnappyCompressEmitsXerialFraming) {
    byte_vector input = sample(70000, 5);
    auto packed = compress(compression_codec::snappy, input);
    ASSERT_TRUE(packed);
    ASSERT_GE(packed->size(), 16u);
    const byte_vector header = xerial_header();
    EXPECT_TRUE(std::equal(header.begin(), header.end(), packed->begin()));
    // Walk the chunks: 70000 = 32768 + 32768 + 4464.
    byte_reader r(byte_span(*packed).subspan(16));
    std::vector<size_t> chunk_sizes;
    while (!r.at_end()) {
        int32_t length = r.read_int32();
        ASSERT_TRUE(r.ok());
        byte_span block = r.read_span(static_cast<size_t>(length));
        ASSERT_TRUE(r.ok());
        auto raw = decompress(compression_codec::snappy, block, 1 << 20);
        ASSERT_TRUE(raw);
        chunk_sizes.push_back(raw->size());
    }
    EXPECT_EQ(chunk_sizes, (std::vector<size_t>{32768, 32768, 4464}));
}

TEST(Compression, GarbageAndTruncationAreCorrupt) {
    byte_vector input = sample(5000, 11);
    for (compression_codec codec : kRealCodecs) {
        auto packed = compress(codec, input);
        ASSERT_TRUE(packed);
        // Every strict prefix fails (snappy: cutting inside a chunk).
        for (size_t n = 0; n < packed->size(); n += (n < 64 ? 1 : 37)) {
            auto out = decompress(codec, byte_span(*packed).first(n), 1 << 20);
            if (codec == compression_codec::snappy && n == 16) {
                continue;  // xerial header alone is a valid empty stream
            }
            EXPECT_FALSE(out) << codec_name(codec) << " prefix " << n;
            if (!out) {
                EXPECT_EQ(out.error_value().code, errc::corrupt)
                    << codec_name(codec) << " prefix " << n;
            }
        }
        byte_vector garbage = sample(300, 12);
        auto out = decompress(codec, garbage, 1 << 20);
        EXPECT_FALSE(out) << codec_name(codec);
    }
}

TEST(Compression, ConcatenatedStreamsDecodeAsOne) {
    for (compression_codec codec :
         {compression_codec::gzip, compression_codec::lz4, compression_codec::zstd}) {
        auto a = compress(codec, bytes_of("first "));
        auto b = compress(codec, bytes_of("second"));
        ASSERT_TRUE(a && b);
        byte_vector both = *a;
        both.insert(both.end(), b->begin(), b->end());
        auto out = decompress(codec, both, 100);
        ASSERT_TRUE(out) << codec_name(codec) << ": " << out.error_value().to_string();
        EXPECT_EQ(*out, bytes_of("first second"));
    }
}

TEST(Compression, CodecFromAttributes) {
    EXPECT_EQ(codec_from_attributes(0x0), compression_codec::none);
    EXPECT_EQ(codec_from_attributes(0x4), compression_codec::zstd);
    EXPECT_EQ(codec_from_attributes(0x7C), compression_codec::zstd);  // other bits ignored
    EXPECT_EQ(codec_from_attributes(0x5), std::nullopt);
    EXPECT_EQ(codec_from_attributes(0x7), std::nullopt);
    auto out = decompress(static_cast<compression_codec>(6), bytes_of("x"), 10);
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error_value().code, errc::unsupported);
}

}  // namespace
}  // namespace floe::kafka
