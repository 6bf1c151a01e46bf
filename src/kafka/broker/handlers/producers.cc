// InitProducerId and DescribeProducers.
//
// Producer ids come from the metadata store's "producer" counter (unique
// across the cluster and across restarts, never 0 or reused). Without a
// transactional id:
//
//   producer_id -1, epoch -1        a new id, epoch 0
//   an id and an epoch (v3+)        the same id, epoch + 1 (KIP-360 bump);
//                                   a new id, epoch 0, once the epoch would
//                                   reach 32767 (Short.MAX_VALUE, reserved)
//   only one of the two set         INVALID_REQUEST (as Kafka)
//
// (Kafka itself hands out a new id for every request without a transactional
// id; keeping the id on a bump is equally valid for the idempotent producer,
// whose partitions then see a newer epoch that restarts its sequences.)
//
// Transactions: Floe has no transaction coordinator yet. A request with a
// transactional id gets TRANSACTIONAL_ID_AUTHORIZATION_FAILED: it is
// non-retriable, so initTransactions() fails at once with
// TransactionalIdAuthorizationException in the Java client (and a fatal
// error in librdkafka) instead of retrying forever, as it would on
// COORDINATOR_NOT_AVAILABLE; and it is what Kafka answers a principal that
// may not use transactional ids, a path every client handles. The broker
// logs why. An empty transactional id is INVALID_REQUEST, as in Kafka.
#include <algorithm>

#include "base/log.h"
#include "kafka/broker/broker.h"
#include "kafka/broker/handlers/admin.h"
#include "kafka/broker/handlers/codec.h"
#include "kafka/broker/handlers/handlers.h"
#include "kafka/protocol/errors.h"
#include "kafka/protocol/generated/describe_producers_request.h"
#include "kafka/protocol/generated/describe_producers_response.h"
#include "kafka/protocol/generated/init_producer_id_request.h"
#include "kafka/protocol/generated/init_producer_id_response.h"
#include "metadata/registry_keys.h"

namespace floe::kafka {

namespace {

constexpr std::string_view k_producer_id_counter = "producer";
// An epoch bump that would reach this value takes a new producer id.
constexpr int16_t k_epoch_limit = 32767;

}  // namespace

asio::awaitable<response> handle_init_producer_id(broker& b, request& r) {
    auto req = decode_request<init_producer_id_request>(r);
    const int16_t version = r.api_version();
    init_producer_id_response out;
    auto fail = [&out](error_code e) {
        out.error_code = code(e);
        out.producer_id = -1;
        out.producer_epoch = -1;
    };
    if (req.transactional_id) {
        if (req.transactional_id->empty()) {
            fail(error_code::invalid_request);
        } else {
            FLOE_LOG(warn, "broker", "InitProducerId from ", r.peer, " for transactional id \"",
                     bounded(*req.transactional_id, 128),
                     "\" refused: Floe does not support transactions yet");
            fail(error_code::transactional_id_authorization_failed);
        }
        co_return encode_response(out, version);
    }
    const bool has_id = req.producer_id != -1;
    const bool has_epoch = req.producer_epoch != -1;
    if (has_id != has_epoch) {
        fail(error_code::invalid_request);
        co_return encode_response(out, version);
    }
    if (req.producer_id >= 0 && req.producer_epoch >= 0 && req.producer_epoch + 1 < k_epoch_limit) {
        out.producer_id = req.producer_id;
        out.producer_epoch = static_cast<int16_t>(req.producer_epoch + 1);
        co_return encode_response(out, version);
    }
    auto work = [&b] { return metadata::allocate_id(b.metadata(), k_producer_id_counter); };
    auto operation = on_pool(b.pool(), std::move(work));
    auto id = co_await std::move(operation);
    if (!id || *id > static_cast<uint64_t>(INT64_MAX)) {
        // Retriable: the client asks again (Kafka answers this when it has
        // no block of producer ids at hand).
        fail(error_code::coordinator_load_in_progress);
        co_return encode_response(out, version);
    }
    out.producer_id = static_cast<int64_t>(*id);
    out.producer_epoch = 0;
    co_return encode_response(out, version);
}

asio::awaitable<response> handle_describe_producers(broker& b, request& r) {
    auto req = decode_request<describe_producers_request>(r);
    const int16_t version = r.api_version();
    describe_producers_response out;
    for (const auto& t : req.topics) {
        describe_producers_response::topic_response topic_out;
        topic_out.name = t.name;
        for (int32_t index : t.partition_indexes) {
            describe_producers_response::partition_response po;
            po.partition_index = index;
            std::shared_ptr<partition> part = b.find_partition(t.name, index);
            if (!part) {
                po.error_code = code(error_code::unknown_topic_or_partition);
                po.error_message = bounded("This server does not host partition " +
                                           std::to_string(index) + " of topic '" + t.name + "'.");
                topic_out.partitions.push_back(std::move(po));
                continue;
            }
            coordinator::producer_state state = part->producers();
            for (const auto& [id, entry] : state.producers()) {
                describe_producers_response::producer_state p;
                p.producer_id = id;
                p.producer_epoch = entry.epoch;
                p.last_sequence = entry.batches.empty() ? -1 : entry.batches.back().last_sequence;
                p.last_timestamp = entry.batches.empty() ? -1 : entry.batches.back().max_timestamp;
                p.coordinator_epoch = -1;
                p.current_txn_start_offset = -1;
                po.active_producers.push_back(std::move(p));
            }
            std::sort(po.active_producers.begin(), po.active_producers.end(),
                      [](const auto& x, const auto& y) { return x.producer_id < y.producer_id; });
            topic_out.partitions.push_back(std::move(po));
        }
        out.topics.push_back(std::move(topic_out));
    }
    co_return encode_response(out, version);
}

}  // namespace floe::kafka
