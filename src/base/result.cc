#include "base/result.h"

#include <cstdio>

namespace floe {

std::string_view errc_name(errc code) {
    switch (code) {
        case errc::ok: return "ok";
        case errc::truncated: return "truncated";
        case errc::invalid_argument: return "invalid_argument";
        case errc::corrupt: return "corrupt";
        case errc::too_large: return "too_large";
        case errc::unsupported: return "unsupported";
        case errc::io: return "io";
        case errc::not_found: return "not_found";
        case errc::conflict: return "conflict";
    }
    return "unknown";
}

std::string error::to_string() const {
    std::string out(errc_name(code));
    if (!message.empty()) {
        out += ": ";
        out += message;
    }
    return out;
}

void abort_with(std::string_view what) {
    std::fprintf(stderr, "floe: fatal: %.*s\n", static_cast<int>(what.size()), what.data());
    std::abort();
}

}  // namespace floe
