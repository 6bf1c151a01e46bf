#include <algorithm>
#include <array>

#include "kafka/broker/broker.h"
#include "kafka/broker/handlers/codec.h"
#include "kafka/broker/handlers/handlers.h"
#include "kafka/protocol/errors.h"
#include "kafka/protocol/generated/api_versions_request.h"
#include "kafka/protocol/generated/api_versions_response.h"

namespace floe::kafka {

namespace {

// Sorted by key. Minima are Kafka 4.0's (KIP-896 removed older versions),
// except Produce (see handlers.h).
constexpr std::array k_table = {
    api_entry{0, 0, 11, &handle_produce},
    api_entry{1, 4, 17, &handle_fetch},
    api_entry{2, 1, 10, &handle_list_offsets},
    api_entry{3, 0, 12, &handle_metadata},
    api_entry{8, 2, 9, &handle_offset_commit},
    api_entry{9, 1, 9, &handle_offset_fetch},
    api_entry{10, 0, 6, &handle_find_coordinator},
    api_entry{11, 0, 9, &handle_join_group},
    api_entry{12, 0, 4, &handle_heartbeat},
    api_entry{13, 0, 5, &handle_leave_group},
    api_entry{14, 0, 5, &handle_sync_group},
    api_entry{15, 0, 5, &handle_describe_groups},
    api_entry{16, 0, 5, &handle_list_groups},
    api_entry{18, 0, 4, &handle_api_versions},
    api_entry{19, 2, 7, &handle_create_topics},
    api_entry{20, 1, 6, &handle_delete_topics},
    api_entry{21, 0, 2, &handle_delete_records},
    api_entry{22, 0, 5, &handle_init_producer_id},
    api_entry{23, 2, 4, &handle_offset_for_leader_epoch},
    api_entry{32, 1, 4, &handle_describe_configs},
    api_entry{33, 0, 2, &handle_alter_configs},
    api_entry{35, 1, 4, &handle_describe_log_dirs},
    api_entry{37, 0, 3, &handle_create_partitions},
    api_entry{42, 0, 2, &handle_delete_groups},
    api_entry{44, 0, 1, &handle_incremental_alter_configs},
    api_entry{47, 0, 0, &handle_offset_delete},
    api_entry{60, 0, 1, &handle_describe_cluster},
    api_entry{61, 0, 0, &handle_describe_producers},
    api_entry{68, 0, 1, &handle_consumer_group_heartbeat},
    api_entry{69, 0, 0, &handle_consumer_group_describe},
    api_entry{75, 0, 0, &handle_describe_topic_partitions},
};

}  // namespace

std::span<const api_entry> api_table() {
    return k_table;
}

const api_entry* find_api_entry(int16_t key) {
    auto it = std::lower_bound(k_table.begin(), k_table.end(), key,
                               [](const api_entry& e, int16_t k) { return e.key < k; });
    if (it == k_table.end() || it->key != key) {
        return nullptr;
    }
    return &*it;
}

asio::awaitable<response> handle_api_versions(broker& /*b*/, request& r) {
    api_versions_response out;
    for (const auto& e : k_table) {
        out.api_keys.push_back({e.key, e.min_version, e.max_version, {}});
    }
    const api_entry* self = find_api_entry(18);
    if (r.api_version() > self->max_version) {
        // A newer client: tell it what we speak, in a version-0 body it can
        // always read, and it retries with a version we serve.
        out.error_code = code(error_code::unsupported_version);
        co_return encode_response(out, 0);
    }
    // The body carries only the client's software name and version (v3+).
    (void)decode_request<api_versions_request>(r);
    co_return encode_response(out, r.api_version());
}

}  // namespace floe::kafka
