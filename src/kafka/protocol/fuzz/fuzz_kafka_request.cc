// Fuzz target: one request frame as a broker receives it — size prefix,
// request header, body — decoded with the generated codecs.
//
// Properties: any byte sequence yields a value or an error value (no crash, no
// undefined behaviour, no allocation beyond the frame's bounded size); a body
// that decodes re-encodes to bytes that decode completely and re-encode to the
// same bytes (encode(decode(encode(x))) == encode(x)).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "base/bytes.h"
#include "kafka/protocol/frame.h"
#include "kafka/protocol/generated/api_registry.h"
#include "kafka/protocol/generated/request_header.h"

namespace {

constexpr int32_t kMaxFrame = 1 << 20;

[[noreturn]] void finding(const char* what, int16_t api_key, int16_t api_version) {
    std::fprintf(stderr, "fuzz_kafka_request: %s (api key %d, version %d)\n", what, api_key,
                 api_version);
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace floe;
    auto frame = kafka::parse_frame(byte_span(data, size), kMaxFrame);
    if (!frame) {
        return 0;
    }
    byte_reader peek(frame->payload);
    int16_t api_key = peek.read_int16();
    int16_t api_version = peek.read_int16();
    if (!peek.ok()) {
        return 0;
    }
    int16_t header_version = kafka::request_header_version(api_key, api_version);
    if (header_version < 0) {
        return 0;
    }
    byte_reader reader(frame->payload);
    kafka::request_header header;
    if (!header.decode(reader, header_version)) {
        return 0;
    }
    byte_vector first;
    if (!kafka::reencode_request_body(api_key, api_version, reader, first)) {
        return 0;
    }
    byte_vector second;
    byte_reader again(first);
    if (!kafka::reencode_request_body(api_key, api_version, again, second)) {
        finding("re-encoded body does not decode", api_key, api_version);
    }
    if (!again.at_end()) {
        finding("re-encoded body has trailing bytes", api_key, api_version);
    }
    if (first != second) {
        finding("encoding is not stable across a decode", api_key, api_version);
    }
    return 0;
}
