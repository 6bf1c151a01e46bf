#include "coordinator/consumer_protocol.h"

namespace floe::coordinator {

std::optional<std::vector<std::string>> consumer_subscription_topics(byte_span metadata) {
    byte_reader r(metadata);
    int16_t version = r.read_int16();
    int32_t count = r.read_int32();
    if (!r.ok() || version < 0 || count < 0) {
        return std::nullopt;
    }
    std::vector<std::string> topics;
    for (int32_t i = 0; i < count; ++i) {
        int16_t length = r.read_int16();
        if (!r.ok() || length < 0) {
            return std::nullopt;
        }
        byte_span name = r.read_span(static_cast<size_t>(length));
        if (!r.ok()) {
            return std::nullopt;
        }
        topics.emplace_back(name.begin(), name.end());
    }
    return topics;
}

}  // namespace floe::coordinator
