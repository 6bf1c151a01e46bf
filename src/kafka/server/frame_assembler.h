// frame_assembler: turns the bytes one connection receives into whole request
// frames, without ever reserving memory on the strength of a size prefix.
//
//   frame_assembler in(max_request_bytes);
//   for (;;) {
//       auto frame = in.next();           // error: close the connection
//       if (frame && *frame) { handle(**frame); continue; }
//       auto space = in.prepare();        // receive into this...
//       in.commit(recv(space));           // ...and say how much arrived
//   }
//
// Memory contract: prepare() allocates the receive buffer, at
// initial_buffer_bytes, when none is held. It grows only while a partial
// frame fills it completely, and then at most to twice the bytes of that frame
// received so far (never beyond the frame's declared size), so a peer that
// declares 100 MiB and sends 10 bytes costs nothing extra. A frame that needed
// a grown buffer is handed out as that buffer (shared, no copy); a frame that
// fits the initial buffer is copied out, so the buffer is reused. After a
// large frame the buffer returns to its initial size. release() frees the
// buffer while nothing is pending, so an idle connection holds no receive
// memory at all.
//
// Threading: a plain value owned by the connection's shard.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "base/result.h"
#include "base/shared_buffer.h"

namespace floe::kafka {

class frame_assembler {
public:
    static constexpr size_t initial_buffer_bytes = 16 * 1024;

    // Frames whose payload is larger than `max_frame_size` (or negative) are
    // errors; see frame.h.
    explicit frame_assembler(int32_t max_frame_size) : _max_frame_size(max_frame_size) {}

    // The next complete frame's payload (the bytes after the size prefix);
    // nullopt when more bytes are needed; an error when the size prefix is
    // invalid (the stream cannot be resynchronised: close the connection).
    result<std::optional<shared_buffer>> next();

    // Space to receive into (never empty). Call only after next() returned
    // nullopt; the span is valid until the next call of any member.
    std::span<uint8_t> prepare();
    // `count` bytes (<= the last prepare()'s size) were written at its start.
    void commit(size_t count);

    // Frees the receive buffer when no bytes are pending (else does nothing);
    // the next prepare() allocates initial_buffer_bytes again.
    void release();

    // Bytes received and not yet handed out as frames.
    size_t buffered() const { return _end - _begin; }
    // Current receive buffer size, 0 after release() (tests check the memory
    // contract with it).
    size_t buffer_capacity() const { return _buffer.size(); }

private:
    int32_t _max_frame_size;
    byte_vector _buffer;  // empty until the first prepare(), and after release()
    size_t _begin = 0;    // first byte not yet handed out
    size_t _end = 0;      // one past the last received byte
};

}  // namespace floe::kafka
