// broker: Floe's Kafka broker logic -- the request_handler behind the network
// server. It owns the partitions this node serves and answers every API it
// declares in its handler table (handlers/handlers.h), one function per API.
//
//   broker b(options, store, topics, metadata, pool);
//   FLOE_TRY(b.start());              // loads topics, opens their streams
//   server s(server_options, b);      // kafka/server/server.h
//
// Topics and partitions: the topic registry (cluster/topic_registry.h) is the
// source of truth; the broker keeps one `partition` per topic partition,
// created when the topic is created (or found at start) and dropped when it
// is deleted. Partition leader epochs are 0 on a single node (its leadership
// never changes); the stream epoch is the node's start epoch, so streams are
// fenced against an older incarnation of this broker.
//
// Threading: handle() runs on the connection's shard. Blocking work (metadata
// transactions, stream reads that may touch the WAL or objects, stream
// opens) goes to the blocking pool; a partition's append path is in-memory
// work under the partition's lock (partition.h). The partition map is
// guarded by _mutex (held for map operations only).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cluster/topic_registry.h"
#include "kafka/broker/group_service.h"
#include "kafka/broker/partition.h"
#include "kafka/broker/topic_config.h"
#include "kafka/server/async.h"
#include "kafka/server/handler.h"
#include "metadata/store.h"
#include "stream/stream_store.h"

namespace floe::kafka {

struct broker_options {
    int32_t node_id = 1;
    std::string advertised_host = "127.0.0.1";
    int32_t advertised_port = 9092;
    bool auto_create_topics = true;
    int32_t default_partitions = 1;
    // Broker-level defaults of topic configs (Kafka's log.retention.ms etc.),
    // by topic config name; what DescribeConfigs reports as the default.
    std::map<std::string, std::string> topic_defaults;
    // Largest record batch accepted when a topic does not set
    // max.message.bytes (Kafka's message.max.bytes).
    int32_t message_max_bytes = 1048588;
    // Directory reported by DescribeLogDirs (where the WAL lives).
    std::string log_dir = "./floe-data";
    // Bound on decompressed batch size while validating.
    size_t max_uncompressed_batch_bytes = 64 << 20;
    // Consumer-group coordinators (offsets topic partitions, Kafka's group.*
    // settings).
    group_service_options groups;
};

class broker final : public request_handler {
public:
    broker(broker_options options, stream::stream_store& store, cluster::topic_registry& topics,
           std::shared_ptr<metadata::store> metadata, blocking_pool& pool);
    ~broker() override;

    // Reads the cluster id and this start's epoch from metadata and opens
    // every topic's partitions. Blocking; call before serving.
    status start();

    bool accepts(int16_t api_key, int16_t api_version) const override;
    asio::awaitable<response> handle(request& r) override;

    // ---- for handlers ----------------------------------------------------
    const broker_options& options() const { return _options; }
    stream::stream_store& store() { return _store; }
    cluster::topic_registry& topics() { return _topics; }
    metadata::store& metadata() { return *_metadata; }
    blocking_pool& pool() { return _pool; }
    const std::string& cluster_id() const { return _cluster_id; }
    epoch start_epoch() const { return _start_epoch; }
    group_service& groups() { return *_groups; }

    std::shared_ptr<partition> find_partition(std::string_view topic, int32_t index) const;
    // Every partition of a topic, by index (empty when unknown).
    std::vector<std::shared_ptr<partition>> partitions_of(std::string_view topic) const;

    // Creates a topic and opens its partitions. Blocking. errc::conflict when
    // it exists, errc::invalid_argument for a bad name, count or config.
    result<cluster::topic_info> create_topic(std::string_view name, int32_t partitions,
                                             std::map<std::string, std::string> configs);
    // Deletes the topic and its data. Blocking.
    status delete_topic(std::string_view name);
    // Grows a topic to `total` partitions and opens the new ones. Blocking.
    status add_partitions(std::string_view name, int32_t total);
    // Replaces the topic's config overrides (validated by the caller) and
    // applies retention to its streams. Blocking.
    status set_topic_configs(std::string_view name, std::map<std::string, std::string> configs);

    // The effective value of a topic config: the topic's override, else the
    // broker default, else Kafka's default.
    std::string topic_config_value(const cluster::topic_info& topic, std::string_view name) const;
    // Effective typed values used on the produce path.
    struct produce_settings {
        int32_t max_message_bytes = 1048588;
        bool log_append_time = false;
        int64_t timestamp_before_max_ms = INT64_MAX;
        int64_t timestamp_after_max_ms = INT64_MAX;
        // compression.type other than "producer": stored batches use this
        // codec (none for "uncompressed").
        std::optional<compression_codec> compression;
    };
    produce_settings produce_settings_for(const cluster::topic_info& topic) const;

private:
    status open_partitions(const cluster::topic_info& topic, size_t from_index);
    void apply_retention(const cluster::topic_info& topic);

    const broker_options _options;
    stream::stream_store& _store;
    cluster::topic_registry& _topics;
    const std::shared_ptr<metadata::store> _metadata;
    blocking_pool& _pool;
    std::string _cluster_id;
    epoch _start_epoch{};

    mutable std::mutex _mutex;
    // guarded by _mutex: (topic, partition index) -> partition
    std::map<std::pair<std::string, int32_t>, std::shared_ptr<partition>, std::less<>> _partitions;
    // Last: stopped first, while the partitions it writes to still exist.
    std::unique_ptr<group_service> _groups;
};

}  // namespace floe::kafka
