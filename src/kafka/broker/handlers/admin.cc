#include "kafka/broker/handlers/admin.h"

#include <algorithm>

#include "kafka/broker/broker.h"

namespace floe::kafka {

namespace {

// Kafka's default of message.max.bytes (and of the topic's max.message.bytes).
constexpr int32_t k_kafka_message_max_bytes = 1048588;

config_view broker_setting(std::string name, std::string value, std::string_view kafka_default,
                           config_type type, std::string_view doc, bool always_set = false) {
    config_view v;
    v.name = std::move(name);
    v.value = std::move(value);
    v.source = always_set || v.value != kafka_default ? config_source::static_broker
                                                      : config_source::default_config;
    v.read_only = true;
    v.type = type;
    v.doc = doc;
    v.synonyms.push_back({v.name, v.value, v.source});
    return v;
}

}  // namespace

std::string client_host(const request& r) {
    std::string_view peer = r.peer;
    if (auto colon = peer.rfind(':'); colon != std::string_view::npos) {
        peer = peer.substr(0, colon);
    }
    if (peer.size() >= 2 && peer.front() == '[' && peer.back() == ']') {
        peer = peer.substr(1, peer.size() - 2);
    }
    return "/" + std::string(peer);
}

std::string bounded(std::string message, size_t limit) {
    if (message.size() <= limit) {
        return message;
    }
    size_t cut = limit - 3;
    // Back off to the start of a UTF-8 character (continuation bytes are
    // 10xxxxxx).
    while (cut > 0 && (static_cast<uint8_t>(message[cut]) & 0xC0) == 0x80) {
        --cut;
    }
    message.resize(cut);
    message += "...";
    return message;
}

topic_lookup lookup_topic(broker& b, std::string_view name) {
    topic_lookup out;
    if (auto why = cluster::invalid_topic_name(name)) {
        out.code = error_code::invalid_topic_exception;
        out.message = bounded(*why);
        return out;
    }
    out.topic = b.topics().find(name);
    if (!out.topic) {
        out.code = error_code::unknown_topic_or_partition;
        out.message = "Topic '" + std::string(name) + "' does not exist.";
    }
    return out;
}

std::vector<config_view> topic_config_views(const broker& b, const cluster::topic_info& topic) {
    const broker_options& options = b.options();
    std::vector<config_view> out;
    for (const topic_config_def& def : topic_config_defs()) {
        config_view v;
        v.name = std::string(def.name);
        v.value = b.topic_config_value(topic, def.name);
        v.type = def.type;
        v.doc = def.doc;
        const std::string broker_name =
            def.broker_synonym.empty() ? std::string(def.name) : std::string(def.broker_synonym);
        auto override_it = topic.configs.find(v.name);
        if (override_it != topic.configs.end()) {
            v.synonyms.push_back({v.name, override_it->second, config_source::dynamic_topic});
        }
        std::optional<std::string> broker_value;
        if (auto it = options.topic_defaults.find(v.name); it != options.topic_defaults.end()) {
            broker_value = it->second;
        } else if (def.name == "max.message.bytes" &&
                   options.message_max_bytes != k_kafka_message_max_bytes) {
            broker_value = std::to_string(options.message_max_bytes);
        }
        if (broker_value) {
            v.synonyms.push_back({broker_name, *broker_value, config_source::static_broker});
        }
        v.synonyms.push_back(
            {broker_name, std::string(def.default_value), config_source::default_config});
        v.source = v.synonyms.front().source;
        out.push_back(std::move(v));
    }
    for (const auto& [name, value] : topic.configs) {
        if (find_topic_config(name) == nullptr) {
            config_view v;
            v.name = name;
            v.value = value;
            v.source = config_source::dynamic_topic;
            v.type = config_type::string;
            v.synonyms.push_back({name, value, config_source::dynamic_topic});
            out.push_back(std::move(v));
        }
    }
    std::sort(out.begin(), out.end(),
              [](const config_view& a, const config_view& c) { return a.name < c.name; });
    return out;
}

std::vector<config_view> broker_config_views(const broker& b) {
    const broker_options& options = b.options();
    const std::string node = std::to_string(options.node_id);
    std::vector<config_view> out;
    out.push_back(broker_setting("broker.id", node, "-1", config_type::int32,
                                 "This node's id (the same as node.id).", true));
    out.push_back(
        broker_setting("node.id", node, "-1", config_type::int32, "This node's id.", true));
    out.push_back(broker_setting(
        "advertised.listeners",
        "PLAINTEXT://" + options.advertised_host + ":" + std::to_string(options.advertised_port),
        "", config_type::list, "The address clients are told to connect to.", true));
    out.push_back(broker_setting(
        "auto.create.topics.enable", options.auto_create_topics ? "true" : "false", "true",
        config_type::boolean, "Whether Metadata requests create the topics they name."));
    out.push_back(broker_setting("num.partitions", std::to_string(options.default_partitions), "1",
                                 config_type::int32,
                                 "Partitions of a topic created without a count."));
    out.push_back(broker_setting("default.replication.factor", "1", "1", config_type::int16,
                                 "Floe keeps durability in shared storage; every partition has "
                                 "one replica."));
    out.push_back(broker_setting("message.max.bytes", std::to_string(options.message_max_bytes),
                                 std::to_string(k_kafka_message_max_bytes), config_type::int32,
                                 "Largest record batch accepted when the topic does not set "
                                 "max.message.bytes."));
    out.push_back(broker_setting("log.dirs", options.log_dir, "/tmp/kraft-combined-logs",
                                 config_type::list, "Where this node keeps its write-ahead log.",
                                 true));
    // The broker-level defaults of topic configs, under their broker names.
    for (const topic_config_def& def : topic_config_defs()) {
        if (def.broker_synonym.empty() || def.name == "max.message.bytes") {
            continue;
        }
        std::string value(def.default_value);
        bool set = false;
        if (auto it = options.topic_defaults.find(std::string(def.name));
            it != options.topic_defaults.end()) {
            value = it->second;
            set = true;
        }
        out.push_back(broker_setting(std::string(def.broker_synonym), value, def.default_value,
                                     def.type, def.doc, set));
    }
    std::sort(out.begin(), out.end(),
              [](const config_view& a, const config_view& c) { return a.name < c.name; });
    out.erase(
        std::unique(out.begin(), out.end(),
                    [](const config_view& a, const config_view& c) { return a.name == c.name; }),
        out.end());
    return out;
}

}  // namespace floe::kafka
