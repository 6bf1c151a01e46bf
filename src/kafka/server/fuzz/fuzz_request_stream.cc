// Fuzz target: the bytes a connection receives, in arbitrary pieces, through
// frame_assembler and parse_request_header — exactly what a connection does
// before it calls a handler.
//
// Input layout: byte 0 picks the receive size pattern; the rest is the stream.
//
// Properties: no crash or undefined behaviour for any stream and any split;
// frames come out in order and their sizes add up to the bytes consumed; the
// receive buffer never exceeds twice the bytes received (plus its initial
// size); a stream that is cut into different pieces yields the same frames.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kafka/server/frame_assembler.h"
#include "kafka/server/request_parser.h"

namespace {

constexpr int32_t kMaxFrame = 1 << 20;

[[noreturn]] void finding(const char* what) {
    std::fprintf(stderr, "fuzz_request_stream: %s\n", what);
    std::abort();
}

// Feeds `stream` in pieces of sizes cycling through `pattern`; returns the
// frames seen before the first error (or the end) and whether it failed.
struct outcome {
    std::vector<std::vector<uint8_t>> frames;
    bool failed = false;
};

outcome run(const uint8_t* stream, size_t size, const std::vector<size_t>& pattern) {
    using namespace floe;
    outcome out;
    kafka::frame_assembler in(kMaxFrame);
    size_t offset = 0;
    size_t step = 0;
    size_t received = 0;
    // Bounded: every pass hands out a frame or consumes at least one byte.
    for (;;) {
        auto frame = in.next();
        if (!frame) {
            out.failed = true;
            return out;
        }
        if (frame->has_value()) {
            const shared_buffer& payload = **frame;
            out.frames.emplace_back(payload.span().begin(), payload.span().end());
            (void)kafka::parse_request_header(payload.span());
            continue;
        }
        if (offset == size) {
            return out;
        }
        if (step % 3 == 0) {
            in.release();  // what a connection does before waiting for input
        }
        auto space = in.prepare();
        if (space.empty()) {
            finding("prepare() returned no space");
        }
        size_t want = pattern[step++ % pattern.size()];
        size_t count = std::min({want, space.size(), size - offset});
        std::memcpy(space.data(), stream + offset, count);
        in.commit(count);
        offset += count;
        received += count;
        if (in.buffer_capacity() > 2 * received + kafka::frame_assembler::initial_buffer_bytes) {
            finding("receive buffer grew beyond twice the bytes received");
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) {
        return 0;
    }
    uint8_t selector = data[0];
    const uint8_t* stream = data + 1;
    size_t length = size - 1;
    std::vector<size_t> pattern = {static_cast<size_t>(selector % 7) + 1, 4096, 3,
                                   static_cast<size_t>(selector) * 17 + 1};
    outcome pieces = run(stream, length, pattern);
    outcome whole = run(stream, length, {length == 0 ? 1 : length});
    if (pieces.frames != whole.frames || pieces.failed != whole.failed) {
        finding("the same stream split differently gave different frames");
    }
    return 0;
}
