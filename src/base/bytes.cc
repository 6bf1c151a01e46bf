#include "base/bytes.h"

namespace floe {

uint32_t byte_reader::read_uvarint32_slow() {
    uint64_t value = read_uvarint64_slow();
    if (value > 0xffffffffULL) {
        fail(errc::corrupt, "varint at offset " + std::to_string(_pos) + " exceeds 32 bits");
        return 0;
    }
    return static_cast<uint32_t>(value);
}

uint64_t byte_reader::read_uvarint64_slow() {
    uint64_t value = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (_pos >= _data.size()) {
            fail(errc::truncated, "varint runs past the end at offset " + std::to_string(_pos));
            return 0;
        }
        uint8_t b = _data[_pos++];
        if (shift == 63 && (b & 0x7e) != 0) {
            fail(errc::corrupt, "varint overflows 64 bits at offset " + std::to_string(_pos));
            return 0;
        }
        value |= static_cast<uint64_t>(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            return value;
        }
    }
    fail(errc::corrupt, "varint longer than 10 bytes at offset " + std::to_string(_pos));
    return 0;
}

}  // namespace floe
