// strong_id<Tag, T>: an integer that carries what it counts in its type, so a
// stream id can never be passed where an offset is expected.
//
//   using stream_id = strong_id<struct stream_id_tag, uint64_t>;
//   stream_id s{7};  s.value() == 7;  s + 1 does not compile.
//
// Offsets, which are added to and subtracted from, have explicit helpers.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <ostream>

namespace floe {

template <typename Tag, typename T>
class strong_id {
public:
    using value_type = T;

    constexpr strong_id() = default;
    constexpr explicit strong_id(T v) : _value(v) {}

    constexpr T value() const { return _value; }
    constexpr auto operator<=>(const strong_id&) const = default;

    friend std::ostream& operator<<(std::ostream& out, strong_id id) { return out << id._value; }

private:
    T _value{};
};

// Identifies a stream (one per partition) across the cluster.
using stream_id = strong_id<struct stream_id_tag, uint64_t>;
// An object in the object store, allocated from metadata.
using object_id = strong_id<struct object_id_tag, uint64_t>;
// A broker.
using node_id = strong_id<struct node_id_tag, int32_t>;
// Ownership epoch of a stream or a WAL; a higher epoch fences lower ones.
using epoch = strong_id<struct epoch_tag, int64_t>;

// A Kafka offset within a stream (stream offsets are Kafka offsets).
using offset = strong_id<struct offset_tag, int64_t>;

constexpr offset operator+(offset o, int64_t delta) { return offset(o.value() + delta); }
constexpr int64_t operator-(offset a, offset b) { return a.value() - b.value(); }

}  // namespace floe

template <typename Tag, typename T>
struct std::hash<floe::strong_id<Tag, T>> {
    size_t operator()(floe::strong_id<Tag, T> id) const noexcept {
        return std::hash<T>{}(id.value());
    }
};
