// One function per Kafka API, and the table that declares which versions
// each serves (advertised by ApiVersions; anything else is refused by
// broker::accepts()).
//
// Versions: Kafka 4.0's ranges, except Produce, advertised from version 0
// (Debian's librdkafka 2.0.2 enables compression only when it sees Produce
// versions 0-2 advertised; a client that then sends a v0-v2 request with a
// legacy message set gets UNSUPPORTED_FOR_MESSAGE_FORMAT), and maxima capped
// at what the generated codecs know.
//
// Threading: every handler runs on the connection's shard (handler.h).
#pragma once

#include <asio/awaitable.hpp>
#include <cstdint>
#include <span>

#include "kafka/server/handler.h"

namespace floe::kafka {

class broker;

using api_handler = asio::awaitable<response> (*)(broker&, request&);

struct api_entry {
    int16_t key;
    int16_t min_version;
    int16_t max_version;
    api_handler handler;
};

// Sorted by key.
std::span<const api_entry> api_table();
const api_entry* find_api_entry(int16_t key);

asio::awaitable<response> handle_api_versions(broker&, request&);
asio::awaitable<response> handle_metadata(broker&, request&);
asio::awaitable<response> handle_produce(broker&, request&);
asio::awaitable<response> handle_fetch(broker&, request&);
asio::awaitable<response> handle_list_offsets(broker&, request&);
asio::awaitable<response> handle_offset_for_leader_epoch(broker&, request&);
asio::awaitable<response> handle_delete_records(broker&, request&);
asio::awaitable<response> handle_create_topics(broker&, request&);
asio::awaitable<response> handle_delete_topics(broker&, request&);
asio::awaitable<response> handle_create_partitions(broker&, request&);
asio::awaitable<response> handle_init_producer_id(broker&, request&);
asio::awaitable<response> handle_describe_producers(broker&, request&);
asio::awaitable<response> handle_describe_configs(broker&, request&);
asio::awaitable<response> handle_alter_configs(broker&, request&);
asio::awaitable<response> handle_incremental_alter_configs(broker&, request&);
asio::awaitable<response> handle_describe_cluster(broker&, request&);
asio::awaitable<response> handle_describe_log_dirs(broker&, request&);
asio::awaitable<response> handle_describe_topic_partitions(broker&, request&);
asio::awaitable<response> handle_find_coordinator(broker&, request&);
asio::awaitable<response> handle_join_group(broker&, request&);
asio::awaitable<response> handle_sync_group(broker&, request&);
asio::awaitable<response> handle_heartbeat(broker&, request&);
asio::awaitable<response> handle_leave_group(broker&, request&);
asio::awaitable<response> handle_offset_commit(broker&, request&);
asio::awaitable<response> handle_offset_fetch(broker&, request&);
asio::awaitable<response> handle_offset_delete(broker&, request&);
asio::awaitable<response> handle_describe_groups(broker&, request&);
asio::awaitable<response> handle_list_groups(broker&, request&);
asio::awaitable<response> handle_delete_groups(broker&, request&);
asio::awaitable<response> handle_consumer_group_heartbeat(broker&, request&);
asio::awaitable<response> handle_consumer_group_describe(broker&, request&);

}  // namespace floe::kafka
