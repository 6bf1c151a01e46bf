// Bounded readers and growable writers for wire and disk formats.
//
// byte_reader is a cursor over borrowed bytes with a sticky error: the first
// read past the end (or a malformed varint) records an error, every later read
// returns zero/empty, and the caller checks ok() once at the end of a unit of
// decoding. It never allocates and never reads outside its span.
//
// byte_writer appends to a std::vector<uint8_t> (its own, or one it is
// given); basic_byte_writer does the same for another byte vector type, such
// as page_aligned_bytes.
//
// page_aligned_bytes is a byte vector whose storage starts on a 4096-byte
// boundary, for buffers written with O_DIRECT without a bounce copy.
//
// Integers are big-endian (Kafka's and Floe's on-disk byte order). Varints are
// the protobuf encoding: unsigned LEB128, and zig-zag for signed values.
//
// Threading: both are plain values owned by one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace floe {

using byte_span = std::span<const uint8_t>;
using byte_vector = std::vector<uint8_t>;

// Allocates storage aligned to 4096 bytes (see page_aligned_bytes).
template <typename T>
struct page_aligned_allocator {
    using value_type = T;
    static constexpr std::align_val_t alignment{4096};

    page_aligned_allocator() = default;
    template <typename U>
    page_aligned_allocator(const page_aligned_allocator<U>&) noexcept {}

    T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), alignment)); }
    void deallocate(T* p, size_t) noexcept { ::operator delete(p, alignment); }
    template <typename U>
    bool operator==(const page_aligned_allocator<U>&) const noexcept {
        return true;
    }
};
using page_aligned_bytes = std::vector<uint8_t, page_aligned_allocator<uint8_t>>;

class byte_reader {
public:
    byte_reader() = default;
    explicit byte_reader(byte_span data) : _data(data) {}

    size_t position() const { return _pos; }
    size_t remaining() const { return _data.size() - _pos; }
    bool ok() const { return !_error.has_value(); }
    bool at_end() const { return _pos == _data.size(); }
    // The error recorded by the first failed read; errc::ok when none failed.
    const error& failure() const {
        static const error none{};
        return _error ? *_error : none;
    }
    // Records an error found by the caller (for example an out-of-range value);
    // only the first error is kept.
    void fail(errc code, std::string message) {
        if (!_error) {
            _error = error(code, std::move(message));
            _pos = _data.size();
        }
    }
    status to_status() const {
        if (_error) {
            return *_error;
        }
        return ok_status();
    }

    int8_t read_int8() { return static_cast<int8_t>(read_be<uint8_t>()); }
    uint8_t read_uint8() { return read_be<uint8_t>(); }
    int16_t read_int16() { return static_cast<int16_t>(read_be<uint16_t>()); }
    uint16_t read_uint16() { return read_be<uint16_t>(); }
    int32_t read_int32() { return static_cast<int32_t>(read_be<uint32_t>()); }
    uint32_t read_uint32() { return read_be<uint32_t>(); }
    int64_t read_int64() { return static_cast<int64_t>(read_be<uint64_t>()); }
    uint64_t read_uint64() { return read_be<uint64_t>(); }
    double read_float64() {
        uint64_t bits = read_be<uint64_t>();
        double out;
        std::memcpy(&out, &bits, sizeof(out));
        return out;
    }
    bool read_bool() { return read_be<uint8_t>() != 0; }

    // Unsigned LEB128 of at most 5 bytes whose value fits 32 bits.
    uint32_t read_uvarint32() {
        if (_pos < _data.size() && _data[_pos] < 0x80) {  // one byte: inline fast path
            return _data[_pos++];
        }
        return read_uvarint32_slow();
    }
    // Unsigned LEB128 of at most 10 bytes.
    uint64_t read_uvarint64() {
        if (_pos < _data.size() && _data[_pos] < 0x80) {
            return _data[_pos++];
        }
        return read_uvarint64_slow();
    }
    int32_t read_varint32() {
        uint32_t raw = read_uvarint32();
        return static_cast<int32_t>((raw >> 1) ^ (~(raw & 1) + 1));
    }
    int64_t read_varint64() {
        uint64_t raw = read_uvarint64();
        return static_cast<int64_t>((raw >> 1) ^ (~(raw & 1) + 1));
    }

    // Borrows the next `length` bytes; empty span (and an error) if fewer remain.
    byte_span read_span(size_t length) {
        if (length > remaining()) {
            fail(errc::truncated, "need " + std::to_string(length) + " bytes at offset " +
                                      std::to_string(_pos) + ", have " +
                                      std::to_string(remaining()));
            return {};
        }
        byte_span out = _data.subspan(_pos, length);
        _pos += length;
        return out;
    }
    void skip(size_t length) { (void)read_span(length); }

private:
    static status ok_status() { return {}; }
    uint32_t read_uvarint32_slow();
    uint64_t read_uvarint64_slow();

    template <typename U>
    U read_be() {
        if (sizeof(U) > remaining()) {
            fail(errc::truncated, "need " + std::to_string(sizeof(U)) + " bytes at offset " +
                                      std::to_string(_pos) + ", have " +
                                      std::to_string(remaining()));
            return 0;
        }
        U out = 0;
        for (size_t i = 0; i < sizeof(U); ++i) {
            out = static_cast<U>((static_cast<uint64_t>(out) << 8) | _data[_pos + i]);
        }
        _pos += sizeof(U);
        return out;
    }

    byte_span _data;
    size_t _pos = 0;
    std::optional<error> _error;
};

template <typename Buffer>
class basic_byte_writer {
public:
    basic_byte_writer() = default;
    explicit basic_byte_writer(Buffer& out) : _out(&out) {}

    Buffer& buffer() { return *_out; }
    size_t size() const { return _out->size(); }

    void write_int8(int8_t v) { _out->push_back(static_cast<uint8_t>(v)); }
    void write_uint8(uint8_t v) { _out->push_back(v); }
    void write_bool(bool v) { _out->push_back(v ? 1 : 0); }
    void write_int16(int16_t v) { write_be(static_cast<uint16_t>(v)); }
    void write_uint16(uint16_t v) { write_be(v); }
    void write_int32(int32_t v) { write_be(static_cast<uint32_t>(v)); }
    void write_uint32(uint32_t v) { write_be(v); }
    void write_int64(int64_t v) { write_be(static_cast<uint64_t>(v)); }
    void write_uint64(uint64_t v) { write_be(v); }
    void write_float64(double v) {
        uint64_t bits;
        std::memcpy(&bits, &v, sizeof(bits));
        write_be(bits);
    }
    void write_uvarint(uint64_t v) {
        while (v >= 0x80) {
            _out->push_back(static_cast<uint8_t>(v | 0x80));
            v >>= 7;
        }
        _out->push_back(static_cast<uint8_t>(v));
    }
    void write_varint32(int32_t v) {
        write_uvarint(static_cast<uint32_t>((static_cast<uint32_t>(v) << 1) ^
                                            static_cast<uint32_t>(v >> 31)));
    }
    void write_varint64(int64_t v) {
        write_uvarint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
    }
    void write_bytes(byte_span data) { _out->insert(_out->end(), data.begin(), data.end()); }
    void write_bytes(std::string_view data) { _out->insert(_out->end(), data.begin(), data.end()); }
    // Overwrites 4 bytes at `position` (already written) with a big-endian value.
    void patch_int32(size_t position, int32_t v) {
        auto u = static_cast<uint32_t>(v);
        for (int i = 3; i >= 0; --i) {
            (*_out)[position + static_cast<size_t>(i)] = static_cast<uint8_t>(u);
            u >>= 8;
        }
    }

private:
    template <typename U>
    void write_be(U v) {
        uint8_t tmp[sizeof(U)];
        for (int i = static_cast<int>(sizeof(U)) - 1; i >= 0; --i) {
            tmp[i] = static_cast<uint8_t>(v);
            v = static_cast<U>(static_cast<uint64_t>(v) >> 8);
        }
        _out->insert(_out->end(), tmp, tmp + sizeof(U));
    }

    Buffer _owned;
    Buffer* _out = &_owned;
};
using byte_writer = basic_byte_writer<byte_vector>;

// Number of bytes write_uvarint(v) emits.
constexpr size_t uvarint_size(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        ++n;
    }
    return n;
}

}  // namespace floe
