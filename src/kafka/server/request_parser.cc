#include "kafka/server/request_parser.h"

#include <string>

#include "kafka/protocol/generated/api_registry.h"

namespace floe::kafka {

namespace {
constexpr int16_t kApiVersionsKey = static_cast<int16_t>(api_key::api_versions);
}

result<parsed_request_header> parse_request_header(byte_span payload) {
    byte_reader peek(payload);
    int16_t key = peek.read_int16();
    int16_t version = peek.read_int16();
    if (!peek.ok()) {
        return error(errc::truncated, "request of " + std::to_string(payload.size()) +
                                          " bytes is too short for a request header");
    }
    const api_info* api = find_api(key);
    if (api == nullptr) {
        return error(errc::unsupported, "unknown api key " + std::to_string(key));
    }
    int16_t header_version = request_header_version(key, version);
    if (header_version < 0 && key == kApiVersionsKey && version > api->max_version) {
        header_version = request_header_version(key, api->max_version);
    }
    if (header_version < 0) {
        return error(errc::unsupported, std::string(api->name) + " version " +
                                            std::to_string(version) + " is outside " +
                                            std::to_string(api->min_version) + "-" +
                                            std::to_string(api->max_version));
    }
    parsed_request_header out;
    out.header_version = header_version;
    byte_reader reader(payload);
    auto decoded = out.header.decode(reader, header_version);
    if (!decoded) {
        return error(decoded.error_value().code, std::string(api->name) + " request header v" +
                                                     std::to_string(header_version) + ": " +
                                                     decoded.error_value().message);
    }
    out.body_offset = reader.position();
    return out;
}

int16_t response_header_version(int16_t key, int16_t version) {
    if (key == kApiVersionsKey) {
        return 0;
    }
    const api_info* api = find_api(key);
    if (api == nullptr || version < api->flexible_min_version) {
        return 0;
    }
    return 1;
}

}  // namespace floe::kafka
