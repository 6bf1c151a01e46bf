#include "base/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace floe {
namespace {

constexpr uint32_t kPolynomial = 0x82F63B78u;  // reflected Castagnoli

// Slicing-by-8 tables: table[k][b] is the CRC of byte b followed by k zero bytes.
struct crc_tables {
    std::array<std::array<uint32_t, 256>, 8> t{};
    constexpr crc_tables() {
        for (uint32_t b = 0; b < 256; ++b) {
            uint32_t crc = b;
            for (int i = 0; i < 8; ++i) {
                crc = (crc >> 1) ^ ((crc & 1) ? kPolynomial : 0);
            }
            t[0][b] = crc;
        }
        for (uint32_t b = 0; b < 256; ++b) {
            for (size_t k = 1; k < 8; ++k) {
                t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
            }
        }
    }
};
constexpr crc_tables kTables;

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t crc32c_sse42(uint32_t crc, const uint8_t* p,
                                                         size_t n) {
    uint64_t c = ~crc;
    while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
        c = _mm_crc32_u8(static_cast<uint32_t>(c), *p++);
        --n;
    }
    while (n >= 8) {
        uint64_t word;
        std::memcpy(&word, p, 8);
        c = _mm_crc32_u64(c, word);
        p += 8;
        n -= 8;
    }
    while (n > 0) {
        c = _mm_crc32_u8(static_cast<uint32_t>(c), *p++);
        --n;
    }
    return ~static_cast<uint32_t>(c);
}

bool detect_hardware() { return __builtin_cpu_supports("sse4.2"); }
#else
bool detect_hardware() { return false; }
#endif

const bool kHardware = detect_hardware();

}  // namespace

uint32_t crc32c_portable(uint32_t crc, const uint8_t* p, size_t n) {
    uint32_t c = ~crc;
    while (n >= 8) {
        uint32_t lo = (static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
                       (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24)) ^
                      c;
        c = kTables.t[7][lo & 0xff] ^ kTables.t[6][(lo >> 8) & 0xff] ^
            kTables.t[5][(lo >> 16) & 0xff] ^ kTables.t[4][lo >> 24] ^ kTables.t[3][p[4]] ^
            kTables.t[2][p[5]] ^ kTables.t[1][p[6]] ^ kTables.t[0][p[7]];
        p += 8;
        n -= 8;
    }
    while (n > 0) {
        c = (c >> 8) ^ kTables.t[0][(c ^ *p++) & 0xff];
        --n;
    }
    return ~c;
}

uint32_t crc32c_extend(uint32_t crc, const uint8_t* data, size_t length) {
#if defined(__x86_64__)
    if (kHardware) {
        return crc32c_sse42(crc, data, length);
    }
#endif
    return crc32c_portable(crc, data, length);
}

bool crc32c_hardware_available() { return kHardware; }

}  // namespace floe
