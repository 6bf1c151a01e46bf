// CRC-32C, hand-written (see src/base/README.md for why).
//
// Hardware path (x86-64 SSE4.2 crc32 instruction): the instruction has a
// latency of about 3 cycles and a throughput of one per cycle, so a single
// dependency chain runs at a third of the achievable speed. Large inputs are
// therefore cut into blocks of three equal lanes whose CRCs are computed as
// three independent chains and then combined:
//
//   crc(A ++ B) = shift_|B|(crc(A)) ^ crc_from_zero(B)
//
// where shift_n is the (linear) effect of appending n zero bytes to the CRC
// register, i.e. multiplication by x^(8n) modulo the polynomial. For the two
// fixed lane lengths used here shift_n is precomputed at compile time as four
// 256-entry tables (one per byte of the register), so a combine costs four
// table lookups.
//
// Portable path: slicing-by-8 tables, used when the CPU lacks SSE4.2 and
// exposed as crc32c_portable() so tests can check both paths agree.
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

// GF(2) polynomial arithmetic modulo the CRC polynomial, in the reflected bit
// order of the CRC register (bit 31 holds the x^0 coefficient).
constexpr uint32_t multiply_mod_p(uint32_t a, uint32_t b) {
    uint32_t product = 0;
    for (uint32_t m = 1u << 31; m != 0; m >>= 1) {
        if (a & m) {
            product ^= b;
        }
        b = (b & 1) ? (b >> 1) ^ kPolynomial : b >> 1;
    }
    return product;
}

// x^(8 * n) modulo P: the operator "append n zero bytes".
constexpr uint32_t x_pow_8n_mod_p(uint64_t n) {
    uint32_t result = 1u << 31;        // x^0
    uint32_t square = 1u << (31 - 8);  // x^8
    while (n != 0) {
        if (n & 1) {
            result = multiply_mod_p(square, result);
        }
        square = multiply_mod_p(square, square);
        n >>= 1;
    }
    return result;
}

// shift[k][b] = the register after appending `zeros` zero bytes to a register
// holding b << (8k). By linearity shift(r) is the xor over the four bytes of r.
struct shift_table {
    std::array<std::array<uint32_t, 256>, 4> t{};
    constexpr explicit shift_table(uint64_t zeros) {
        const uint32_t op = x_pow_8n_mod_p(zeros);
        for (uint32_t k = 0; k < 4; ++k) {
            for (uint32_t b = 0; b < 256; ++b) {
                t[k][b] = multiply_mod_p(op, b << (8 * k));
            }
        }
    }
    uint32_t shift(uint32_t crc) const {
        return t[0][crc & 0xff] ^ t[1][(crc >> 8) & 0xff] ^ t[2][(crc >> 16) & 0xff] ^
               t[3][crc >> 24];
    }
};

// The same product without data-dependent branches (for crc32c_combine at run
// time, where the branches of multiply_mod_p mispredict half the time).
inline uint32_t multiply_mod_p_branchless(uint32_t a, uint32_t b) {
    uint32_t product = 0;
    for (int bit = 31; bit >= 0; --bit) {
        product ^= b & (0u - ((a >> bit) & 1u));
        b = (b >> 1) ^ (kPolynomial & (0u - (b & 1u)));
    }
    return product;
}

// x^(8 * 2^k) modulo P for k = 0..63: the operators "append 2^k zero bytes",
// so that appending n zero bytes is one product per set bit of n.
struct zero_powers {
    std::array<uint32_t, 64> t{};
    constexpr zero_powers() {
        uint32_t power = 1u << (31 - 8);  // x^8
        for (auto& entry : t) {
            entry = power;
            power = multiply_mod_p(power, power);
        }
    }
};
constexpr zero_powers kZeroPowers;

// Lane lengths: each block is three lanes. Long lanes amortise the combine on
// big buffers; short lanes keep small buffers (a few hundred bytes and up) on
// the three-chain path. Both are multiples of 8.
constexpr size_t kLongLane = 8192;
constexpr size_t kShortLane = 256;
constexpr shift_table kShiftLong(kLongLane);
constexpr shift_table kShiftShort(kShortLane);

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) inline uint64_t load64(const uint8_t* p) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    return word;
}

// Runs whole three-lane blocks of `lane` bytes per lane while they fit.
__attribute__((target("sse4.2"))) inline void three_lanes(uint32_t& crc, const uint8_t*& p,
                                                          size_t& n, size_t lane,
                                                          const shift_table& shift) {
    while (n >= 3 * lane) {
        uint64_t c0 = crc, c1 = 0, c2 = 0;
        const uint8_t* end = p + lane;
        // Unrolled by two words per lane so the loop overhead stays off the
        // critical path; three independent chains keep the unit busy.
        do {
            c0 = _mm_crc32_u64(c0, load64(p));
            c1 = _mm_crc32_u64(c1, load64(p + lane));
            c2 = _mm_crc32_u64(c2, load64(p + 2 * lane));
            c0 = _mm_crc32_u64(c0, load64(p + 8));
            c1 = _mm_crc32_u64(c1, load64(p + lane + 8));
            c2 = _mm_crc32_u64(c2, load64(p + 2 * lane + 8));
            p += 16;
        } while (p < end);
        crc = shift.shift(static_cast<uint32_t>(c0)) ^ static_cast<uint32_t>(c1);
        crc = shift.shift(crc) ^ static_cast<uint32_t>(c2);
        p += 2 * lane;
        n -= 3 * lane;
    }
}

__attribute__((target("sse4.2"))) uint32_t crc32c_sse42(uint32_t crc, const uint8_t* p, size_t n) {
    uint32_t c = ~crc;
    while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
        c = _mm_crc32_u8(c, *p++);
        --n;
    }
    three_lanes(c, p, n, kLongLane, kShiftLong);
    three_lanes(c, p, n, kShortLane, kShiftShort);
    uint64_t c64 = c;
    while (n >= 8) {
        c64 = _mm_crc32_u64(c64, load64(p));
        p += 8;
        n -= 8;
    }
    c = static_cast<uint32_t>(c64);
    while (n > 0) {
        c = _mm_crc32_u8(c, *p++);
        --n;
    }
    return ~c;
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

uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, size_t length_b) {
    // crc_a shifted by length_b zero bytes, one table operator per set bit.
    uint32_t shifted = crc_a;
    for (size_t k = 0; length_b != 0; ++k, length_b >>= 1) {
        if (length_b & 1) {
            shifted = multiply_mod_p_branchless(kZeroPowers.t[k], shifted);
        }
    }
    return shifted ^ crc_b;
}

bool crc32c_hardware_available() { return kHardware; }

}  // namespace floe
