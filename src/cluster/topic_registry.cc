#include "cluster/topic_registry.h"

#include <functional>
#include <random>

#include "base/bytes.h"
#include "metadata/registry_keys.h"

namespace floe::cluster {

namespace {

constexpr uint8_t k_format_version = 1;

topic_uuid random_uuid() {
    std::random_device device;
    topic_uuid id{};
    for (;;) {
        for (size_t i = 0; i < id.size(); i += 4) {
            uint32_t v = device();
            for (size_t j = 0; j < 4; ++j) {
                id[i + j] = static_cast<uint8_t>(v >> (8 * j));
            }
        }
        // Kafka reserves the all-zero id and the id with only the last bit set.
        topic_uuid one{};
        one[15] = 1;
        if (id != topic_uuid{} && id != one) {
            return id;
        }
    }
}

result<std::vector<stream_id>> allocate_streams(metadata::store& store, int32_t count) {
    if (count == 0) {
        return std::vector<stream_id>{};
    }
    auto first =
        metadata::allocate_id(store, metadata::stream_id_counter, static_cast<uint64_t>(count));
    if (!first) {
        return first.error_value();
    }
    std::vector<stream_id> out;
    for (int32_t i = 0; i < count; ++i) {
        out.push_back(stream_id(*first + static_cast<uint64_t>(i)));
    }
    return out;
}

}  // namespace

std::optional<std::string> invalid_topic_name(std::string_view name) {
    if (name.empty()) {
        return "topic name is empty";
    }
    if (name == "." || name == "..") {
        return "topic name cannot be \".\" or \"..\"";
    }
    if (name.size() > 249) {
        return "topic name is longer than 249 characters";
    }
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) {
            return "topic name \"" + std::string(name) +
                   "\" has characters other than ASCII letters, digits, '.', '_' and '-'";
        }
    }
    return std::nullopt;
}

std::string topic_key(std::string_view name) {
    return std::string(topics_prefix) + std::string(name);
}

std::string topic_uuid_to_string(const topic_uuid& id) {
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    uint32_t buffer = 0;
    int bits = 0;
    for (uint8_t b : id) {
        buffer = (buffer << 8) | b;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out.push_back(alphabet[(buffer >> bits) & 0x3f]);
        }
    }
    if (bits > 0) {
        out.push_back(alphabet[(buffer << (6 - bits)) & 0x3f]);
    }
    return out;
}

std::string encode_topic(const topic_info& topic) {
    byte_vector out;
    byte_writer w(out);
    w.write_uint8(k_format_version);
    w.write_bytes(byte_span(topic.id.data(), topic.id.size()));
    w.write_int32(static_cast<int32_t>(topic.partitions.size()));
    for (stream_id s : topic.partitions) {
        w.write_uint64(s.value());
    }
    w.write_int32(static_cast<int32_t>(topic.configs.size()));
    for (const auto& [key, value] : topic.configs) {
        w.write_int16(static_cast<int16_t>(key.size()));
        w.write_bytes(byte_span(reinterpret_cast<const uint8_t*>(key.data()), key.size()));
        w.write_int32(static_cast<int32_t>(value.size()));
        w.write_bytes(byte_span(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
    }
    return std::string(out.begin(), out.end());
}

result<topic_info> decode_topic(std::string_view name, std::string_view bytes) {
    byte_reader r(byte_span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    auto bad = [&](const std::string& what) {
        return error(errc::corrupt, "topic record of \"" + std::string(name) + "\": " + what);
    };
    topic_info t;
    t.name = std::string(name);
    uint8_t version = r.read_uint8();
    if (r.ok() && version != k_format_version) {
        return bad("unknown format version " + std::to_string(version));
    }
    byte_span id = r.read_span(t.id.size());
    if (r.ok()) {
        std::copy(id.begin(), id.end(), t.id.begin());
    }
    int32_t count = r.read_int32();
    if (r.ok() && (count < 0 || count > max_partitions)) {
        return bad("partition count " + std::to_string(count));
    }
    for (int32_t i = 0; r.ok() && i < count; ++i) {
        t.partitions.push_back(stream_id(r.read_uint64()));
    }
    int32_t configs = r.read_int32();
    if (r.ok() && (configs < 0 || configs > 10000)) {
        return bad("config count " + std::to_string(configs));
    }
    for (int32_t i = 0; r.ok() && i < configs; ++i) {
        int16_t klen = r.read_int16();
        if (klen < 0) {
            return bad("negative key length");
        }
        byte_span key = r.read_span(static_cast<size_t>(klen));
        int32_t vlen = r.read_int32();
        if (vlen < 0) {
            return bad("negative value length");
        }
        byte_span value = r.read_span(static_cast<size_t>(vlen));
        if (r.ok()) {
            t.configs.emplace(std::string(key.begin(), key.end()),
                              std::string(value.begin(), value.end()));
        }
    }
    if (!r.ok()) {
        return bad("truncated");
    }
    if (!r.at_end()) {
        return bad("trailing bytes");
    }
    return t;
}

topic_registry::topic_registry(std::shared_ptr<metadata::store> store) : _store(std::move(store)) {}

result<std::unique_ptr<topic_registry>> topic_registry::open(
    std::shared_ptr<metadata::store> store) {
    std::unique_ptr<topic_registry> registry(new topic_registry(std::move(store)));
    FLOE_TRY(registry->refresh());
    return registry;
}

status topic_registry::refresh() {
    auto all = _store->range({metadata::key_range::with_prefix(topics_prefix)});
    if (!all) {
        return all.error_value();
    }
    std::map<std::string, topic_info, std::less<>> topics;
    for (const auto& kv : all->kvs) {
        std::string name = kv.key.substr(topics_prefix.size());
        auto t = decode_topic(name, kv.value);
        if (!t) {
            return t.error_value();
        }
        topics.emplace(name, std::move(*t));
    }
    std::lock_guard lock(_mutex);
    _topics = std::move(topics);
    return ok();
}

void topic_registry::remember(const topic_info& topic) {
    std::lock_guard lock(_mutex);
    _topics[topic.name] = topic;
}

result<topic_info> topic_registry::create(std::string_view name, int32_t partitions,
                                          std::map<std::string, std::string> configs) {
    if (auto why = invalid_topic_name(name)) {
        return error(errc::invalid_argument, *why);
    }
    if (partitions < 1 || partitions > max_partitions) {
        return error(errc::invalid_argument,
                     "partition count must be between 1 and " + std::to_string(max_partitions));
    }
    if (find(name)) {
        return error(errc::conflict, "topic \"" + std::string(name) + "\" already exists");
    }
    auto streams = allocate_streams(*_store, partitions);
    if (!streams) {
        return streams.error_value();
    }
    topic_info t;
    t.name = std::string(name);
    t.id = random_uuid();
    t.partitions = std::move(*streams);
    t.configs = std::move(configs);
    metadata::txn_request txn;
    txn.compares.push_back(metadata::compare::absent(topic_key(name)));
    txn.success.push_back(metadata::op::put(topic_key(name), encode_topic(t)));
    auto outcome = _store->txn(txn);
    if (!outcome) {
        return outcome.error_value();
    }
    if (!outcome->succeeded) {
        (void)refresh();
        return error(errc::conflict, "topic \"" + std::string(name) + "\" already exists");
    }
    remember(t);
    return t;
}

result<topic_info> topic_registry::update(std::string_view name,
                                          const std::function<status(topic_info&)>& change) {
    for (int attempt = 0; attempt < 100; ++attempt) {
        auto current = _store->get(topic_key(name));
        if (!current) {
            return current.error_value();
        }
        if (!*current) {
            std::lock_guard lock(_mutex);
            _topics.erase(std::string(name));
            return error(errc::not_found, "no topic \"" + std::string(name) + "\"");
        }
        auto t = decode_topic(name, (*current)->value);
        if (!t) {
            return t.error_value();
        }
        FLOE_TRY(change(*t));
        metadata::txn_request txn;
        txn.compares.push_back(metadata::compare::mod_revision_is(
            topic_key(name), metadata::compare_op::equal, (*current)->mod_revision));
        txn.success.push_back(metadata::op::put(topic_key(name), encode_topic(*t)));
        auto outcome = _store->txn(txn);
        if (!outcome) {
            return outcome.error_value();
        }
        if (outcome->succeeded) {
            remember(*t);
            return *t;
        }
    }
    return error(errc::conflict, "topic \"" + std::string(name) + "\" kept changing");
}

result<topic_info> topic_registry::remove(std::string_view name) {
    for (int attempt = 0; attempt < 100; ++attempt) {
        auto current = _store->get(topic_key(name));
        if (!current) {
            return current.error_value();
        }
        if (!*current) {
            std::lock_guard lock(_mutex);
            _topics.erase(std::string(name));
            return error(errc::not_found, "no topic \"" + std::string(name) + "\"");
        }
        auto t = decode_topic(name, (*current)->value);
        if (!t) {
            return t.error_value();
        }
        metadata::txn_request txn;
        txn.compares.push_back(metadata::compare::mod_revision_is(
            topic_key(name), metadata::compare_op::equal, (*current)->mod_revision));
        txn.success.push_back(metadata::op::remove(topic_key(name)));
        auto outcome = _store->txn(txn);
        if (!outcome) {
            return outcome.error_value();
        }
        if (outcome->succeeded) {
            std::lock_guard lock(_mutex);
            _topics.erase(std::string(name));
            return *t;
        }
    }
    return error(errc::conflict, "topic \"" + std::string(name) + "\" kept changing");
}

result<topic_info> topic_registry::add_partitions(std::string_view name, int32_t total) {
    auto existing = find(name);
    if (!existing) {
        return error(errc::not_found, "no topic \"" + std::string(name) + "\"");
    }
    if (total <= static_cast<int32_t>(existing->partitions.size())) {
        return error(errc::invalid_argument, "topic \"" + std::string(name) + "\" has " +
                                                 std::to_string(existing->partitions.size()) +
                                                 " partitions; the new count must be larger");
    }
    if (total > max_partitions) {
        return error(errc::invalid_argument,
                     "at most " + std::to_string(max_partitions) + " partitions");
    }
    auto streams =
        allocate_streams(*_store, total - static_cast<int32_t>(existing->partitions.size()));
    if (!streams) {
        return streams.error_value();
    }
    return update(name, [&](topic_info& t) -> status {
        if (static_cast<int32_t>(t.partitions.size()) + static_cast<int32_t>(streams->size()) !=
            total) {
            return error(errc::conflict, "topic \"" + t.name + "\" changed meanwhile");
        }
        t.partitions.insert(t.partitions.end(), streams->begin(), streams->end());
        return ok();
    });
}

result<topic_info> topic_registry::set_configs(std::string_view name,
                                               std::map<std::string, std::string> configs) {
    return update(name, [&](topic_info& t) -> status {
        t.configs = configs;
        return ok();
    });
}

std::optional<topic_info> topic_registry::find(std::string_view name) const {
    std::lock_guard lock(_mutex);
    auto it = _topics.find(name);
    if (it == _topics.end()) {
        return std::nullopt;
    }
    return it->second;
}

std::optional<topic_info> topic_registry::find(const topic_uuid& id) const {
    std::lock_guard lock(_mutex);
    for (const auto& [name, t] : _topics) {
        if (t.id == id) {
            return t;
        }
    }
    return std::nullopt;
}

std::vector<topic_info> topic_registry::list() const {
    std::lock_guard lock(_mutex);
    std::vector<topic_info> out;
    for (const auto& [name, t] : _topics) {
        out.push_back(t);
    }
    return out;
}

}  // namespace floe::cluster
