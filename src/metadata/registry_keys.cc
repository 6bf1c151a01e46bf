#include "metadata/registry_keys.h"

#include <algorithm>
#include <charconv>
#include <limits>

namespace floe::metadata {

namespace {

std::string padded(std::string_view prefix, uint64_t value, int width) {
    std::string digits = std::to_string(value);
    std::string out(prefix);
    if (static_cast<int>(digits.size()) < width) {
        out.append(static_cast<size_t>(width) - digits.size(), '0');
    }
    out += digits;
    return out;
}

std::optional<uint64_t> parse_padded(std::string_view key, std::string_view prefix, size_t width) {
    if (!key.starts_with(prefix) || key.size() != prefix.size() + width) {
        return std::nullopt;
    }
    std::string_view digits = key.substr(prefix.size());
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || end != digits.data() + digits.size()) {
        return std::nullopt;
    }
    return value;
}

constexpr int id_width = 20;    // digits of UINT64_MAX
constexpr int node_width = 10;  // digits of INT32_MAX

}  // namespace

std::string stream_key(stream_id id) {
    return padded(streams_prefix, id.value(), id_width);
}
std::string object_key(object_id id) {
    return padded(objects_prefix, id.value(), id_width);
}
std::string node_key(node_id id) {
    return padded(nodes_prefix, static_cast<uint64_t>(std::max(id.value(), 0)), node_width);
}
std::string id_counter_key(std::string_view counter_name) {
    return std::string(ids_prefix) + std::string(counter_name);
}

std::optional<stream_id> parse_stream_key(std::string_view key) {
    auto v = parse_padded(key, streams_prefix, id_width);
    return v ? std::optional(stream_id(*v)) : std::nullopt;
}
std::optional<object_id> parse_object_key(std::string_view key) {
    auto v = parse_padded(key, objects_prefix, id_width);
    return v ? std::optional(object_id(*v)) : std::nullopt;
}
std::optional<node_id> parse_node_key(std::string_view key) {
    auto v = parse_padded(key, nodes_prefix, node_width);
    if (!v || *v > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
        return std::nullopt;
    }
    return node_id(static_cast<int32_t>(*v));
}

result<uint64_t> allocate_id(store& metadata, std::string_view counter_name, uint64_t count,
                             int max_attempts) {
    if (count == 0 || counter_name.empty()) {
        return error(errc::invalid_argument, "allocate_id needs a counter name and count >= 1");
    }
    const std::string key = id_counter_key(counter_name);
    for (int attempt = 0; attempt < max_attempts; ++attempt) {
        auto current = metadata.get(key);
        if (!current) {
            return current.error_value();
        }
        uint64_t last = 0;
        txn_request request;
        if (current->has_value()) {
            const std::string& text = (*current)->value;
            auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), last);
            if (ec != std::errc() || end != text.data() + text.size()) {
                return error(errc::corrupt, "id counter " + key + " holds '" + text + "'");
            }
            request.compares.push_back(
                compare::mod_revision_is(key, compare_op::equal, (*current)->mod_revision));
        } else {
            request.compares.push_back(compare::absent(key));
        }
        if (last > std::numeric_limits<uint64_t>::max() - count) {
            return error(errc::too_large, "id counter " + key + " exhausted");
        }
        request.success.push_back(op::put(key, std::to_string(last + count)));
        auto response = metadata.txn(request);
        if (!response) {
            return response.error_value();
        }
        if (response->succeeded) {
            return last + 1;
        }
    }
    return error(errc::conflict, "allocate_id(" + key + ") lost " + std::to_string(max_attempts) +
                                     " races in a row");
}

}  // namespace floe::metadata
