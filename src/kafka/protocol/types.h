// Value types shared by the generated Kafka codecs (src/kafka/protocol/generated/).
//
// These are hand-written because every generated message uses them and their
// layout is part of the generated API: a UUID is 16 raw bytes in wire order, and
// a tagged field Floe does not know is kept as its tag and undecoded payload so
// it can be re-emitted unchanged.
//
// Threading: plain values.
#pragma once

#include <array>
#include <cstdint>

#include "base/bytes.h"

namespace floe::kafka {

// Kafka's UUID: 16 bytes, most significant byte first (as on the wire).
// The all-zero value is Kafka's "zero UUID" (no topic id).
struct uuid {
    std::array<uint8_t, 16> bytes{};

    bool is_zero() const {
        for (uint8_t b : bytes) {
            if (b != 0) {
                return false;
            }
        }
        return true;
    }
    bool operator==(const uuid&) const = default;
};

// A tagged field whose tag the decoding struct does not know at that version.
// `data` is the field's payload without the tag and size prefixes.
struct tagged_field {
    uint32_t tag;
    byte_vector data;

    bool operator==(const tagged_field&) const = default;
};

}  // namespace floe::kafka
