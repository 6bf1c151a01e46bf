#include "metadata/store.h"

namespace floe::metadata {

std::string prefix_end(std::string_view prefix) {
    std::string end(prefix);
    while (!end.empty()) {
        auto last = static_cast<unsigned char>(end.back());
        if (last < 0xff) {
            end.back() = static_cast<char>(last + 1);
            return end;
        }
        end.pop_back();
    }
    return std::string(1, '\0');
}

bool key_range::contains(std::string_view key) const {
    if (end.empty()) {
        return key == start;
    }
    if (key < std::string_view(start)) {
        return false;
    }
    if (end.size() == 1 && end[0] == '\0') {
        return true;
    }
    return key < std::string_view(end);
}

result<revision_t> store::current_revision() {
    range_request request;
    request.keys = key_range::single(std::string(1, '\0'));
    request.limit = 1;
    auto response = range(request);
    if (!response) {
        return response.error_value();
    }
    return response->revision;
}

}  // namespace floe::metadata
