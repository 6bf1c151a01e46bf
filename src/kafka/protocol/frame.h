// Kafka framing: every request and response is a big-endian int32 size N
// followed by N bytes.
//
// Contract: nothing here allocates. A declared size that is negative or above
// the configured maximum is an error value (errc::too_large / errc::corrupt)
// before any byte of the body is looked at, so a hostile size prefix can never
// make the caller reserve memory.
#pragma once

#include <cstdint>
#include <optional>

#include "base/bytes.h"
#include "base/result.h"

namespace floe::kafka {

// Default request size limit (Kafka's socket.request.max.bytes default).
inline constexpr int32_t default_max_frame_size = 100 * 1024 * 1024;

struct frame_view {
    byte_span payload;  // the N bytes after the size prefix
    size_t consumed;    // 4 + N: bytes to drop from the front of the input
};

// Streaming form: looks at the front of `buffered` (bytes received so far).
// Returns nullopt when more bytes are needed, a frame when one is complete,
// and an error when the size prefix is invalid (the connection must close).
result<std::optional<frame_view>> peek_frame(byte_span buffered, int32_t max_frame_size);

// Whole-buffer form: `data` must hold exactly one frame; a short buffer is
// errc::truncated and trailing bytes are errc::corrupt.
result<frame_view> parse_frame(byte_span data, int32_t max_frame_size);

// Appends the 4-byte size prefix placeholder; finish_frame() patches it.
size_t begin_frame(byte_writer& out);
void finish_frame(byte_writer& out, size_t frame_start);

}  // namespace floe::kafka
