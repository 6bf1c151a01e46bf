// group_service: the consumer-group coordinators this broker runs, one per
// partition of the internal offsets topic (Kafka's __consumer_offsets), each a
// coordinator::group_coordinator writing through a group_log into its
// partition.
//
// Which coordinator owns a group: partition_for(group id) = Kafka's rule,
// abs(Java String.hashCode(group id)) % number of offsets partitions, so a
// group maps to the same partition as in Kafka with the same partition count.
// FindCoordinator answers with the broker serving that partition (this node).
//
// Life cycle:
//   - start() (blocking, at broker start): if the offsets topic exists, every
//     partition's records are read back and replayed into its coordinator, so
//     committed offsets and groups are back before the first request;
//   - otherwise the topic is created on first use (FindCoordinator for a
//     group, or any group API), on the blocking pool, as Kafka does; until it
//     exists the group APIs answer COORDINATOR_NOT_AVAILABLE and clients retry.
//
// Threading: every coordinator is driven by one thread (the coordinator
// thread, an io_context of its own): handlers reach it with ask() and resume
// on their shard; log completions are posted to it; a timer per coordinator
// fires its next deadline (session expiry, rebalance timeouts, retention).
// One thread serves every group of the node: the coordinators are in-memory
// state machines whose durable work happens in the WAL, so the thread only
// does bookkeeping (docs/concurrency.md).
#pragma once

#include <asio/io_context.hpp>
#include <asio/system_timer.hpp>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/result.h"
#include "coordinator/group_coordinator.h"
#include "kafka/broker/group_log.h"
#include "kafka/server/async.h"

namespace floe::kafka {

class broker;

// Name of the internal topic that holds the coordinators' records.
inline constexpr std::string_view k_offsets_topic = "__consumer_offsets";

// Topics Floe keeps for itself: reported with is_internal, and closed to
// clients' writes, deletion, new partitions (which would move groups to
// other partitions) and DeleteRecords.
inline bool is_internal_topic(std::string_view name) {
    return name == k_offsets_topic;
}

struct group_service_options {
    // Kafka's offsets.topic.num.partitions; fixed once the topic exists (the
    // existing count wins over this setting).
    int32_t offsets_partitions = 16;
    coordinator::group_config config;
    // When each offsets partition is compacted (group_log.h).
    group_log_options log;
};

// Kafka's Java String.hashCode of `s` (UTF-8 decoded to UTF-16 code units).
int32_t java_string_hash(std::string_view s);

class group_service {
public:
    group_service(broker& owner, group_service_options options);
    ~group_service();
    group_service(const group_service&) = delete;
    group_service& operator=(const group_service&) = delete;

    // Loads the coordinators of an existing offsets topic and starts the
    // coordinator thread. Blocking; call after the broker opened its topics.
    status start();
    // Stops the coordinator thread; pending answers are abandoned. Idempotent.
    void stop();

    // True when the offsets topic exists and its coordinators are loaded.
    bool ready() const { return _ready.load(std::memory_order_acquire); }
    // ready(), or else starts creating the offsets topic in the background
    // (once) and returns false.
    bool ensure_ready();

    int32_t partition_for(std::string_view group_id) const;
    int32_t partition_count() const { return _partition_count.load(std::memory_order_acquire); }

    // Runs fn(group_coordinator&, reply) on the coordinator thread for the
    // coordinator of `group_id`; fn calls reply(T) once, now or later. The
    // caller resumes on its own executor with the value, or an error when the
    // coordinator is not available (not ready, or stopped).
    template <typename T, typename F>
    asio::awaitable<result<T>> ask(const std::string& group_id, F fn);
    // The same for every coordinator at once: fn(std::vector<group_coordinator*>&
    // indexed by offsets partition, reply) (ListGroups, DescribeGroups and
    // DeleteGroups across partitions).
    template <typename T, typename F>
    asio::awaitable<result<T>> ask_all(F fn);

    // Every coordinator, indexed by offsets partition. Coordinator thread
    // only.
    std::vector<coordinator::group_coordinator*> coordinators_locked();

private:
    struct shard {
        std::shared_ptr<partition> log_partition;
        std::unique_ptr<group_log> log;
        std::unique_ptr<coordinator::group_coordinator> coordinator;
        std::unique_ptr<asio::system_timer> timer;
    };

    // Builds the coordinators over the offsets topic's partitions, replaying
    // them. Blocking (reads the partitions).
    status load_shards();
    void create_offsets_topic();
    // Coordinator thread: the shard of a group, nullptr when not ready.
    shard* shard_for(std::string_view group_id);
    // Coordinator thread: re-arms the shard's timer at its next deadline.
    void arm(shard& s);
    void arm_all();

    broker& _owner;
    const group_service_options _options;
    // The io_context outlives stop(): log completions posted after it are
    // dropped with it, never run.
    std::shared_ptr<asio::io_context> _context;
    std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>> _work;
    std::thread _thread;
    std::atomic<bool> _ready{false};
    std::atomic<bool> _creating{false};
    std::atomic<bool> _stopped{false};
    std::atomic<int32_t> _partition_count{0};
    // Coordinator thread only (built before _ready is set).
    std::vector<shard> _shards;
};

template <typename T, typename F>
asio::awaitable<result<T>> group_service::ask(const std::string& group_id, F fn) {
    if (!ensure_ready()) {
        co_return error(errc::not_found, "the offsets topic is being created");
    }
    // `fn` and `group_id` live in this coroutine's frame until it resumes,
    // and the posted function only uses them before that.
    auto start = [this, &group_id, &fn](completion<result<T>> done) {
        asio::post(*_context, [this, &group_id, &fn, done] {
            shard* s = shard_for(group_id);
            if (s == nullptr) {
                done(error(errc::not_found, "no coordinator for the group"));
                return;
            }
            fn(*s->coordinator, [done](T value) { done(result<T>(std::move(value))); });
            arm(*s);
        });
    };
    co_return co_await await_callback<result<T>>(std::move(start));
}

template <typename T, typename F>
asio::awaitable<result<T>> group_service::ask_all(F fn) {
    if (!ready()) {
        co_return error(errc::not_found, "the offsets topic does not exist");
    }
    auto start = [this, &fn](completion<result<T>> done) {
        asio::post(*_context, [this, &fn, done] {
            auto all = coordinators_locked();
            fn(all, [done](T value) { done(result<T>(std::move(value))); });
            arm_all();
        });
    };
    co_return co_await await_callback<result<T>>(std::move(start));
}

}  // namespace floe::kafka
