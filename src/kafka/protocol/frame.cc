#include "kafka/protocol/frame.h"

#include <string>

namespace floe::kafka {

result<std::optional<frame_view>> peek_frame(byte_span buffered, int32_t max_frame_size) {
    if (buffered.size() < 4) {
        return std::optional<frame_view>{};
    }
    byte_reader reader(buffered.first(4));
    int32_t size = reader.read_int32();
    if (size < 0) {
        return error(errc::corrupt, "negative frame size " + std::to_string(size));
    }
    if (size > max_frame_size) {
        return error(errc::too_large, "frame size " + std::to_string(size) +
                                          " exceeds the limit of " +
                                          std::to_string(max_frame_size));
    }
    size_t total = 4 + static_cast<size_t>(size);
    if (buffered.size() < total) {
        return std::optional<frame_view>{};
    }
    return std::optional<frame_view>{frame_view{buffered.subspan(4, static_cast<size_t>(size)), total}};
}

result<frame_view> parse_frame(byte_span data, int32_t max_frame_size) {
    auto peeked = peek_frame(data, max_frame_size);
    if (!peeked) {
        return peeked.error_value();
    }
    if (!peeked->has_value()) {
        return error(errc::truncated,
                     "frame truncated: have " + std::to_string(data.size()) + " bytes");
    }
    frame_view frame = **peeked;
    if (frame.consumed != data.size()) {
        return error(errc::corrupt, std::to_string(data.size() - frame.consumed) +
                                        " bytes after the end of the frame");
    }
    return frame;
}

size_t begin_frame(byte_writer& out) {
    size_t start = out.size();
    out.write_int32(0);
    return start;
}

void finish_frame(byte_writer& out, size_t frame_start) {
    out.patch_int32(frame_start, static_cast<int32_t>(out.size() - frame_start - 4));
}

}  // namespace floe::kafka
