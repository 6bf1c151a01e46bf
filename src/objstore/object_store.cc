#include "objstore/object_store.h"

namespace floe::objstore {

namespace {

status check_chars_and_segments(std::string_view text, std::string_view what) {
    if (text.size() > max_key_length) {
        return error(errc::invalid_argument, std::string(what) + " longer than " +
                                                 std::to_string(max_key_length) + " bytes");
    }
    for (char c : text) {
        if (c < 0x21 || c > 0x7e || c == '\\') {
            return error(
                errc::invalid_argument,
                std::string(what) + " has a byte outside printable ASCII: " + std::string(text));
        }
    }
    if (text.find(".floe-tmp") != std::string_view::npos) {
        return error(
            errc::invalid_argument,
            std::string(what) + " contains the reserved \".floe-tmp\": " + std::string(text));
    }
    if (text.front() == '/') {
        return error(errc::invalid_argument,
                     std::string(what) + " starts with '/': " + std::string(text));
    }
    // Segments: all but a trailing empty one (which only prefixes may have).
    size_t start = 0;
    while (start <= text.size()) {
        size_t end = text.find('/', start);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        std::string_view segment = text.substr(start, end - start);
        bool last = end == text.size();
        if (segment.empty() && !last) {
            return error(errc::invalid_argument,
                         std::string(what) + " has an empty segment: " + std::string(text));
        }
        if (segment == "." || segment == "..") {
            return error(errc::invalid_argument,
                         std::string(what) + " has a '.' or '..' segment: " + std::string(text));
        }
        start = end + 1;
    }
    return ok();
}

}  // namespace

status validate_key(std::string_view key) {
    if (key.empty()) {
        return error(errc::invalid_argument, "empty object key");
    }
    if (key.back() == '/') {
        return error(errc::invalid_argument, "object key ends with '/': " + std::string(key));
    }
    return check_chars_and_segments(key, "object key");
}

status validate_prefix(std::string_view prefix) {
    if (prefix.empty()) {
        return ok();
    }
    return check_chars_and_segments(prefix, "list prefix");
}

}  // namespace floe::objstore
