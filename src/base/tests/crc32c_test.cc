#include "base/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string_view>
#include <vector>

namespace floe {
namespace {

uint32_t crc_of(std::string_view s) {
    return crc32c_extend(0, reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// Check values from RFC 3720 (iSCSI), appendix B.4, and the common "123456789".
TEST(Crc32c, KnownVectors) {
    EXPECT_EQ(crc_of("123456789"), 0xE3069283u);
    EXPECT_EQ(crc_of(""), 0u);
    std::vector<uint8_t> zeros(32, 0x00);
    EXPECT_EQ(crc32c(zeros), 0x8A9136AAu);
    std::vector<uint8_t> ones(32, 0xFF);
    EXPECT_EQ(crc32c(ones), 0x62A8AB43u);
    std::vector<uint8_t> ascending(32);
    for (size_t i = 0; i < 32; ++i) ascending[i] = static_cast<uint8_t>(i);
    EXPECT_EQ(crc32c(ascending), 0x46DD794Eu);
    std::vector<uint8_t> descending(32);
    for (size_t i = 0; i < 32; ++i) descending[i] = static_cast<uint8_t>(31 - i);
    EXPECT_EQ(crc32c(descending), 0x113FDB5Cu);
}

TEST(Crc32c, HardwareAndPortableAgreeOnEveryLengthAndAlignment) {
    std::mt19937 rng(42);
    std::vector<uint8_t> data(4096 + 16);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    for (size_t offset = 0; offset < 16; ++offset) {
        for (size_t len : {0u, 1u, 7u, 8u, 9u, 63u, 64u, 255u, 256u, 1000u, 4096u}) {
            EXPECT_EQ(crc32c_extend(0, data.data() + offset, len),
                      crc32c_portable(0, data.data() + offset, len))
                << "offset " << offset << " len " << len;
        }
    }
}

TEST(Crc32c, ExtendIsConcatenation) {
    std::string_view a = "hello, ", b = "world";
    uint32_t first = crc_of(a);
    uint32_t whole =
        crc32c_extend(first, reinterpret_cast<const uint8_t*>(b.data()), b.size());
    EXPECT_EQ(whole, crc_of("hello, world"));
}

// Lengths straddling the three-lane block sizes of the hardware path (3 x 256
// and 3 x 8192 bytes) at every alignment of an 8-byte word and beyond.
TEST(Crc32c, HardwareAndPortableAgreeAroundBlockSizes) {
    std::mt19937 rng(7);
    std::vector<uint8_t> data(4 * 3 * 8192 + 64);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    std::vector<size_t> lengths;
    for (size_t block : {3u * 256u, 3u * 8192u}) {
        for (size_t multiple : {1u, 2u, 3u}) {
            for (int delta = -17; delta <= 17; ++delta) {
                lengths.push_back(static_cast<size_t>(static_cast<long>(block * multiple) + delta));
            }
        }
    }
    lengths.push_back(3 * 8192 + 3 * 256 + 5);
    lengths.push_back(3 * 8192 * 2 + 3 * 256 * 3 + 8 * 7 + 7);
    for (size_t offset = 0; offset < 24; ++offset) {
        for (size_t len : lengths) {
            ASSERT_LE(offset + len, data.size());
            ASSERT_EQ(crc32c_extend(0, data.data() + offset, len),
                      crc32c_portable(0, data.data() + offset, len))
                << "offset " << offset << " len " << len;
        }
    }
}

TEST(Crc32c, ExtendSplitAnywhereMatchesWhole) {
    std::mt19937 rng(9);
    std::vector<uint8_t> data(3 * 8192 + 3 * 256 + 100);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    const uint32_t whole = crc32c(data);
    for (size_t split = 0; split <= data.size(); split += 97) {
        uint32_t first = crc32c_extend(0, data.data(), split);
        EXPECT_EQ(crc32c_extend(first, data.data() + split, data.size() - split), whole)
            << "split " << split;
        uint32_t second = crc32c_extend(0, data.data() + split, data.size() - split);
        EXPECT_EQ(crc32c_combine(first, second, data.size() - split), whole) << "split " << split;
    }
}

// A large known value, independent of the implementation under test: the CRC
// of 1 MiB of bytes i * 7 mod 256, computed with a bit-at-a-time reference.
TEST(Crc32c, LargeBufferMatchesBitwiseReference) {
    std::vector<uint8_t> data(1 << 20);
    for (size_t i = 0; i < data.size(); ++i)
        data[i] = static_cast<uint8_t>(i * 7);
    uint32_t reference = 0xFFFFFFFFu;
    for (uint8_t b : data) {
        reference ^= b;
        for (int k = 0; k < 8; ++k)
            reference = (reference >> 1) ^ ((reference & 1) ? 0x82F63B78u : 0);
    }
    reference = ~reference;
    EXPECT_EQ(crc32c(data), reference);
    EXPECT_EQ(crc32c_portable(0, data.data(), data.size()), reference);
}

}  // namespace
}  // namespace floe
