#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <atomic>
#include <chrono>

#include "kafka/broker/broker.h"
#include "kafka/broker/handlers/codec.h"
#include "kafka/broker/handlers/fetch_encoding.h"
#include "kafka/broker/handlers/handlers.h"
#include "kafka/protocol/errors.h"
#include "kafka/protocol/generated/fetch_request.h"
#include "kafka/protocol/generated/fetch_response.h"

namespace floe::kafka {

namespace {

struct wanted_partition {
    size_t topic_slot;  // index into the response's topics
    std::shared_ptr<partition> target;
    int32_t index;
    int64_t fetch_offset;
    int32_t max_bytes;
    int32_t current_leader_epoch;
    // The error when `target` is null: an unknown topic id (version 13+)
    // or an unknown topic name or partition.
    error_code missing;
};

// The stored buffers holding each partition's records, by topic slot and
// partition (parallel to fetch_response::responses).
using record_segments = std::vector<std::vector<std::vector<shared_buffer>>>;

// One pass over every wanted partition: fills `out` (watermarks, errors and
// empty records) and `segments` (the records), and returns the bytes of
// records gathered.
asio::awaitable<size_t> read_once(broker& b, const std::vector<wanted_partition>& wanted,
                                  fetch_response& out, record_segments& segments,
                                  int32_t response_max_bytes) {
    size_t total = 0;
    for (const auto& w : wanted) {
        auto& pd = out.responses[w.topic_slot].partitions.emplace_back();
        auto& parts = segments[w.topic_slot].emplace_back();
        pd.partition_index = w.index;
        pd.aborted_transactions = std::vector<fetch_response::aborted_transaction>{};
        if (!w.target) {
            pd.error_code = code(w.missing);
            pd.high_watermark = -1;
            pd.last_stable_offset = -1;
            pd.log_start_offset = -1;
            pd.records = byte_vector{};
            continue;
        }
        auto offsets = w.target->offsets();
        pd.high_watermark = offsets.high_watermark;
        pd.last_stable_offset = offsets.high_watermark;  // no transactions
        pd.log_start_offset = offsets.log_start_offset;
        pd.records = byte_vector{};
        if (w.current_leader_epoch > w.target->leader_epoch()) {
            pd.error_code = code(error_code::unknown_leader_epoch);
            continue;
        }
        if (w.current_leader_epoch >= 0 && w.current_leader_epoch < w.target->leader_epoch()) {
            pd.error_code = code(error_code::fenced_leader_epoch);
            continue;
        }
        if (w.fetch_offset < offsets.log_start_offset || w.fetch_offset > offsets.high_watermark) {
            pd.error_code = code(error_code::offset_out_of_range);
            continue;
        }
        if (w.fetch_offset == offsets.high_watermark || w.max_bytes <= 0) {
            continue;
        }
        // KIP-74: the first batch is returned even when larger than the
        // limits, so a consumer always makes progress.
        size_t budget = static_cast<size_t>(w.max_bytes);
        if (response_max_bytes >= 0) {
            size_t left = total >= static_cast<size_t>(response_max_bytes)
                              ? 0
                              : static_cast<size_t>(response_max_bytes) - total;
            budget = std::min(budget, left);
        }
        if (budget == 0 && total > 0) {
            continue;
        }
        auto target = w.target;
        int64_t from = w.fetch_offset;
        auto read = [target, from, budget] { return target->read(from, budget); };
        auto entries = co_await on_pool(b.pool(), std::move(read));
        if (!entries) {
            const error& e = entries.error_value();
            pd.error_code = code(e.code == errc::not_found ? error_code::offset_out_of_range
                                                           : error_code::kafka_storage_error);
            continue;
        }
        // The read returns its first entry whatever its size; only the first
        // partition with data may exceed the limits.
        if (total > 0 && !entries->empty() && entries->front().payload.size() > budget) {
            entries->clear();
        }
        size_t bytes = 0;
        for (const auto& entry : *entries) {
            bytes += entry.payload.size();
        }
        for (const auto& entry : *entries) {
            parts.push_back(entry.payload);  // shared, not copied
        }
        total += bytes;
    }
    co_return total;
}

}  // namespace

asio::awaitable<response> handle_fetch(broker& b, request& r) {
    auto req = decode_request<fetch_request>(r);
    const int16_t version = r.api_version();
    fetch_response out;
    if (req.session_id != 0) {
        // Floe declines fetch sessions (it always answers with session id 0),
        // so a client never has one to refer to.
        out.error_code = code(error_code::fetch_session_id_not_found);
        co_return encode_response(out, version);
    }
    out.session_id = 0;
    std::vector<wanted_partition> wanted;
    for (const auto& t : req.topics) {
        std::optional<cluster::topic_info> topic;
        fetch_response::fetchable_topic_response tr;
        if (version >= 13) {
            topic = b.topics().find(t.topic_id.bytes);
            tr.topic_id = t.topic_id;
        } else {
            topic = b.topics().find(t.topic);
            tr.topic = t.topic;
        }
        out.responses.push_back(std::move(tr));
        for (const auto& p : t.partitions) {
            std::shared_ptr<partition> target =
                topic ? b.find_partition(topic->name, p.partition) : nullptr;
            wanted.push_back({out.responses.size() - 1, target, p.partition, p.fetch_offset,
                              p.partition_max_bytes, p.current_leader_epoch,
                              topic || version < 13 ? error_code::unknown_topic_or_partition
                                                    : error_code::unknown_topic_id});
        }
    }
    const int32_t max_bytes = version >= 3 ? req.max_bytes : INT32_MAX;
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(0, req.max_wait_ms));
    auto executor = co_await asio::this_coro::executor;
    record_segments segments;
    for (;;) {
        // Register for wake-ups before reading, so data arriving during the
        // read is not missed.
        auto timer = std::make_shared<asio::steady_timer>(executor);
        auto woken = std::make_shared<std::atomic<bool>>(false);
        std::vector<std::pair<std::shared_ptr<partition>, uint64_t>> waits;
        bool may_wait = req.max_wait_ms > 0 && req.min_bytes > 0;
        if (may_wait) {
            for (const auto& w : wanted) {
                if (!w.target) {
                    continue;
                }
                auto seen = w.target->offsets().high_watermark;
                std::weak_ptr<asio::steady_timer> weak = timer;
                uint64_t token = w.target->wait_for_data(seen, [executor, weak, woken] {
                    woken->store(true);
                    asio::post(executor, [weak] {
                        if (auto t = weak.lock()) {
                            t->cancel();
                        }
                    });
                });
                waits.emplace_back(w.target, token);
            }
        }
        for (auto& tr : out.responses) {
            tr.partitions.clear();
        }
        segments.assign(out.responses.size(), {});
        size_t bytes = co_await read_once(b, wanted, out, segments, max_bytes);
        bool errors = false;
        for (const auto& tr : out.responses) {
            for (const auto& pd : tr.partitions) {
                errors = errors || pd.error_code != 0;
            }
        }
        const bool done = !may_wait || errors || bytes >= static_cast<size_t>(req.min_bytes) ||
                          std::chrono::steady_clock::now() >= deadline;
        if (!done && !woken->load()) {
            timer->expires_at(deadline);
            asio::error_code ec;
            co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        for (auto& [p, token] : waits) {
            p->cancel_wait(token);
        }
        if (done) {
            break;
        }
    }
    co_return encode_fetch_response(out, segments, version);
}

}  // namespace floe::kafka
