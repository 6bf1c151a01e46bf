#include "kafka/broker/broker.h"

#include <algorithm>
#include <random>

#include "base/log.h"
#include "kafka/broker/handlers/codec.h"
#include "kafka/broker/handlers/handlers.h"
#include "kafka/protocol/generated/api_versions_response.h"
#include "metadata/registry_keys.h"

namespace floe::kafka {

namespace {

constexpr std::string_view k_cluster_id_key = "/floe/cluster/id";
constexpr std::string_view k_start_epoch_counter = "node-start-epoch";

// Kafka cluster ids are 16 random bytes in URL-safe base64 (22 characters).
std::string random_cluster_id() {
    cluster::topic_uuid bytes{};
    std::random_device device;
    for (auto& b : bytes) {
        b = static_cast<uint8_t>(device());
    }
    return cluster::topic_uuid_to_string(bytes);
}

}  // namespace

broker::broker(broker_options options, stream::stream_store& store, cluster::topic_registry& topics,
               std::shared_ptr<metadata::store> metadata, blocking_pool& pool)
    : _options(std::move(options)),
      _store(store),
      _topics(topics),
      _metadata(std::move(metadata)),
      _pool(pool),
      _groups(std::make_unique<group_service>(*this, _options.groups)) {}

broker::~broker() {
    _groups->stop();
}

status broker::start() {
    // The cluster id: created once, by whoever gets there first.
    metadata::txn_request txn;
    txn.compares.push_back(metadata::compare::absent(std::string(k_cluster_id_key)));
    txn.success.push_back(metadata::op::put(std::string(k_cluster_id_key), random_cluster_id()));
    auto created = _metadata->txn(txn);
    if (!created) {
        return created.error_value();
    }
    auto id = _metadata->get(k_cluster_id_key);
    if (!id) {
        return id.error_value();
    }
    if (!*id) {
        return error(errc::corrupt, "cluster id missing from metadata after creating it");
    }
    _cluster_id = (*id)->value;
    // Each start of the node takes a new epoch: its streams are opened with
    // it, fencing any older incarnation still running.
    auto start_epoch = metadata::allocate_id(*_metadata, k_start_epoch_counter);
    if (!start_epoch) {
        return start_epoch.error_value();
    }
    _start_epoch = epoch(*start_epoch);
    for (const auto& topic : _topics.list()) {
        FLOE_TRY(open_partitions(topic, 0));
        apply_retention(topic);
    }
    return _groups->start();
}

status broker::open_partitions(const cluster::topic_info& topic, size_t from_index) {
    for (size_t i = from_index; i < topic.partitions.size(); ++i) {
        auto p = std::make_shared<partition>(topic.name, static_cast<int32_t>(i),
                                             topic.partitions[i], 0, _store);
        status loaded = p->load(_start_epoch);
        if (!loaded) {
            return error(loaded.error_value().code, "opening partition " + topic.name + "-" +
                                                        std::to_string(i) + ": " +
                                                        loaded.error_value().message);
        }
        std::lock_guard lock(_mutex);
        _partitions[{topic.name, static_cast<int32_t>(i)}] = std::move(p);
    }
    return ok();
}

void broker::apply_retention(const cluster::topic_info& topic) {
    stream::retention_policy policy;
    auto number = [&](std::string_view name) -> int64_t {
        try {
            return std::stoll(topic_config_value(topic, name));
        } catch (...) {
            return -1;
        }
    };
    policy.retention_ms = number("retention.ms");
    policy.retention_bytes = number("retention.bytes");
    for (stream_id s : topic.partitions) {
        _store.set_retention(s, policy);
    }
}

std::shared_ptr<partition> broker::find_partition(std::string_view topic, int32_t index) const {
    std::lock_guard lock(_mutex);
    auto it = _partitions.find(std::pair<std::string, int32_t>(std::string(topic), index));
    return it == _partitions.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<partition>> broker::partitions_of(std::string_view topic) const {
    std::vector<std::shared_ptr<partition>> out;
    std::lock_guard lock(_mutex);
    for (auto it = _partitions.lower_bound(std::pair<std::string, int32_t>(std::string(topic), 0));
         it != _partitions.end() && it->first.first == topic; ++it) {
        out.push_back(it->second);
    }
    return out;
}

result<cluster::topic_info> broker::create_topic(std::string_view name, int32_t partitions,
                                                 std::map<std::string, std::string> configs) {
    for (const auto& [key, value] : configs) {
        if (auto why = invalid_topic_config(key, value)) {
            return error(errc::invalid_argument, *why);
        }
    }
    auto topic = _topics.create(name, partitions, std::move(configs));
    if (!topic) {
        return topic.error_value();
    }
    FLOE_TRY(open_partitions(*topic, 0));
    apply_retention(*topic);
    FLOE_LOG(info, "broker", "created topic ", topic->name, " with ", partitions, " partitions");
    return topic;
}

status broker::delete_topic(std::string_view name) {
    auto removed = _topics.remove(name);
    if (!removed) {
        return removed.error_value();
    }
    std::vector<std::shared_ptr<partition>> gone;
    {
        std::lock_guard lock(_mutex);
        for (int32_t i = 0; i < static_cast<int32_t>(removed->partitions.size()); ++i) {
            auto it = _partitions.find(std::pair<std::string, int32_t>(std::string(name), i));
            if (it != _partitions.end()) {
                gone.push_back(it->second);
                _partitions.erase(it);
            }
        }
    }
    // The data goes with retention: everything below the end is trimmed, so
    // the stream's objects are marked and deleted after the grace period.
    for (const auto& p : gone) {
        auto offsets = p->offsets();
        (void)p->trim(offsets.high_watermark);
        (void)_store.close_stream(p->stream());
    }
    FLOE_LOG(info, "broker", "deleted topic ", name);
    return ok();
}

status broker::add_partitions(std::string_view name, int32_t total) {
    auto before = _topics.find(name);
    if (!before) {
        return error(errc::not_found, "no topic \"" + std::string(name) + "\"");
    }
    auto grown = _topics.add_partitions(name, total);
    if (!grown) {
        return grown.error_value();
    }
    FLOE_TRY(open_partitions(*grown, before->partitions.size()));
    apply_retention(*grown);
    return ok();
}

status broker::set_topic_configs(std::string_view name,
                                 std::map<std::string, std::string> configs) {
    auto updated = _topics.set_configs(name, std::move(configs));
    if (!updated) {
        return updated.error_value();
    }
    apply_retention(*updated);
    return ok();
}

std::string broker::topic_config_value(const cluster::topic_info& topic,
                                       std::string_view name) const {
    if (auto it = topic.configs.find(std::string(name)); it != topic.configs.end()) {
        return it->second;
    }
    if (auto it = _options.topic_defaults.find(std::string(name));
        it != _options.topic_defaults.end()) {
        return it->second;
    }
    if (name == "max.message.bytes") {
        return std::to_string(_options.message_max_bytes);
    }
    const topic_config_def* def = find_topic_config(name);
    return def ? std::string(def->default_value) : std::string();
}

broker::produce_settings broker::produce_settings_for(const cluster::topic_info& topic) const {
    produce_settings s;
    auto number = [&](std::string_view name, int64_t fallback) -> int64_t {
        try {
            return std::stoll(topic_config_value(topic, name));
        } catch (...) {
            return fallback;
        }
    };
    s.max_message_bytes = static_cast<int32_t>(number("max.message.bytes", 1048588));
    s.log_append_time = topic_config_value(topic, "message.timestamp.type") == "LogAppendTime";
    s.timestamp_before_max_ms = number("message.timestamp.before.max.ms", INT64_MAX);
    s.timestamp_after_max_ms = number("message.timestamp.after.max.ms", INT64_MAX);
    const std::string codec = topic_config_value(topic, "compression.type");
    if (codec == "uncompressed") {
        s.compression = compression_codec::none;
    } else if (codec == "gzip") {
        s.compression = compression_codec::gzip;
    } else if (codec == "snappy") {
        s.compression = compression_codec::snappy;
    } else if (codec == "lz4") {
        s.compression = compression_codec::lz4;
    } else if (codec == "zstd") {
        s.compression = compression_codec::zstd;
    }
    return s;
}

bool broker::accepts(int16_t api_key, int16_t api_version) const {
    const api_entry* e = find_api_entry(api_key);
    return e != nullptr && api_version >= e->min_version && api_version <= e->max_version;
}

asio::awaitable<response> broker::handle(request& r) {
    const api_entry* e = find_api_entry(r.api_key());
    if (e == nullptr) {
        throw malformed_request("no handler for API key " + std::to_string(r.api_key()));
    }
    co_return co_await e->handler(*this, r);
}

}  // namespace floe::kafka
