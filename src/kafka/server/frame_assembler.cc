#include "kafka/server/frame_assembler.h"

#include <algorithm>
#include <cstring>

#include "kafka/protocol/frame.h"

namespace floe::kafka {

result<std::optional<shared_buffer>> frame_assembler::next() {
    byte_span pending(_buffer.data() + _begin, _end - _begin);
    auto peeked = peek_frame(pending, _max_frame_size);
    if (!peeked) {
        return peeked.error_value();
    }
    if (!peeked->has_value()) {
        return std::optional<shared_buffer>{};
    }
    const frame_view& frame = **peeked;
    if (_begin == 0 && _buffer.size() > initial_buffer_bytes) {
        // The buffer was grown for this frame, which therefore ends exactly
        // at the buffer's end (growth never passes the declared size): hand
        // the whole buffer out without copying.
        size_t leftover = _end - frame.consumed;
        byte_vector fresh(std::max(initial_buffer_bytes, leftover));
        if (leftover > 0) {
            std::memcpy(fresh.data(), _buffer.data() + frame.consumed, leftover);
        }
        size_t payload_size = frame.payload.size();
        shared_buffer whole = shared_buffer::adopt(std::move(_buffer));
        _buffer = std::move(fresh);
        _begin = 0;
        _end = leftover;
        return std::optional<shared_buffer>{whole.slice(4, payload_size)};
    }
    shared_buffer copy = shared_buffer::copy_of(frame.payload);
    _begin += frame.consumed;
    if (_begin == _end) {
        _begin = _end = 0;
    }
    return std::optional<shared_buffer>{std::move(copy)};
}

void frame_assembler::release() {
    if (_begin == _end) {
        _buffer = byte_vector();
        _begin = _end = 0;
    }
}

std::span<uint8_t> frame_assembler::prepare() {
    if (_begin == _end) {
        _begin = _end = 0;
    }
    if (_buffer.empty()) {
        _buffer.resize(initial_buffer_bytes);
    }
    constexpr size_t kMinRead = 4096;
    if (_buffer.size() - _end < kMinRead && _begin > 0) {
        // Move the partial frame to the front; it is at most one frame's
        // prefix, and a frame is moved at most once before it completes.
        size_t pending = _end - _begin;
        std::memmove(_buffer.data(), _buffer.data() + _begin, pending);
        _begin = 0;
        _end = pending;
    }
    if (_end == _buffer.size()) {
        // Full of one partial frame starting at 0 (its size prefix was valid,
        // or next() would have failed): grow towards its declared size, at
        // most doubling what has been received of it.
        size_t declared = 4;
        if (_end >= 4) {
            byte_reader reader(byte_span(_buffer.data(), 4));
            declared = 4 + static_cast<size_t>(reader.read_int32());
        }
        size_t grown = std::min(declared, std::max(2 * _buffer.size(), initial_buffer_bytes));
        if (grown <= _buffer.size()) {
            abort_with("frame_assembler::prepare called with a complete frame pending");
        }
        byte_vector bigger(grown);
        std::memcpy(bigger.data(), _buffer.data(), _end);
        _buffer = std::move(bigger);
    }
    return {_buffer.data() + _end, _buffer.size() - _end};
}

void frame_assembler::commit(size_t count) {
    if (count > _buffer.size() - _end) {
        abort_with("frame_assembler::commit past the prepared space");
    }
    _end += count;
}

}  // namespace floe::kafka
