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

}  // namespace
}  // namespace floe
