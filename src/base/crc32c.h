// CRC-32C (Castagnoli, polynomial 0x1EDC6F41, reflected 0x82F63B78), as used
// by Kafka record batches and Floe's WAL and object formats.
//
// Uses the CPU's crc32 instruction (SSE4.2) when present, detected once at
// start-up, running three independent streams over large inputs; otherwise a
// portable slicing-by-8 implementation. Both give identical results;
// crc32c_portable() is exposed for tests and benchmarks.
//
// Threading: pure functions over constant tables; callable from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace floe {

// Extends `crc` (the value returned for the preceding bytes; 0 to start) with
// `data`. crc32c_extend(crc32c_extend(0, a), b) == crc32c(a ++ b).
uint32_t crc32c_extend(uint32_t crc, const uint8_t* data, size_t length);
uint32_t crc32c_portable(uint32_t crc, const uint8_t* data, size_t length);
// The CRC of A ++ B given crc_a = crc32c(A), crc_b = crc32c(B) and B's length.
// O(log length_b); lets a caller patch a few bytes of a checksummed region
// without re-reading it.
uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, size_t length_b);
// True when the hardware path is in use.
bool crc32c_hardware_available();

inline uint32_t crc32c(std::span<const uint8_t> data) {
    return crc32c_extend(0, data.data(), data.size());
}

}  // namespace floe
