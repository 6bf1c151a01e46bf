// group_coordinator: Kafka's classic consumer-group protocol (JoinGroup,
// SyncGroup, Heartbeat, LeaveGroup) and committed offsets (OffsetCommit,
// OffsetFetch, OffsetDelete), plus DescribeGroups, ListGroups and
// DeleteGroups, for the groups of one coordinator log. A pure state machine:
// no I/O, no threads, no wire structs; the Kafka handlers translate.
//
// Group states (Kafka's names):
//
//          first join            all members joined, or rebalance timeout
//   Empty ───────────► PreparingRebalance ─────────────► CompletingRebalance
//     ▲  ◄───────────────────┘  ▲   (no member left: Empty)       │ leader's
//     │                         │                                  │ SyncGroup
//     │ last member leaves      │ join of a new member / changed   ▼ durable
//     │ or expires (through     └──── metadata / leader rejoins ─ Stable
//     │ PreparingRebalance)           member leaves or expires
//   Dead: deleted (DeleteGroups, or offsets expired from an Empty group);
//         only ever reported by describe_group for an unknown group.
//
// A rebalance: each member's JoinGroup waits until every known member has
// rejoined (or the rebalance timeout, the largest of the members', drops
// the dynamic members that did not); then the generation id is bumped, a
// protocol supported by every member is chosen by vote, and all JoinGroups
// are answered, the leader's with every member's metadata. Followers'
// SyncGroups wait for the leader's, whose assignments are made durable
// (a group metadata record) before anyone gets one; then Stable.
//
// Worked example (3 members, defaults: initial delay 3 s):
//   t=0    A joins with no member id      -> MEMBER_ID_REQUIRED, id "A-1"
//   t=0    A joins as "A-1"               -> waits; Empty -> PreparingRebalance,
//                                            initial delay until t=3000
//   t=1000 B, C join (same two steps)     -> wait; delay extended to t=6000
//   t=6000 delay over                     -> generation 1, protocol chosen,
//                                            A (first joiner) is leader and gets
//                                            the metadata of A, B and C
//   B, C SyncGroup                        -> wait
//   A SyncGroup with 3 assignments        -> record appended; when durable,
//                                            all three get theirs, Stable
//   C stops heartbeating; session timeout -> C removed, PreparingRebalance;
//                                            A, B heartbeats get
//                                            REBALANCE_IN_PROGRESS, they rejoin
//                                            -> generation 2 at once (all joined)
//
// Asynchrony: JoinGroup, SyncGroup, OffsetCommit, OffsetDelete and
// DeleteGroups answer through callbacks, which the coordinator calls once,
// possibly later (when a rebalance completes, a timer fires or an append
// becomes durable). Callbacks are never called while the coordinator is in
// the middle of an update: they run at the end of the public call that
// completed them, and may call the coordinator again. They must not throw.
//
// Time: every public call first reads the injected clock and fires, in
// deadline order and each at its own deadline, every timer due by then
// (session expiry, pending-member expiry, initial delay, rebalance and
// SyncGroup timeouts, offset retention). tick() does only that; the owner
// calls it when next_deadline() has passed.
//
// Durability: committed offsets and group metadata are appended to the
// coordinator_log as group_records; replay() rebuilds the state from them.
// OffsetCommit, the leader's SyncGroup, a static member's rejoin that skips
// the rebalance, OffsetDelete and DeleteGroups answer only once their
// records are durable (or with an error if the append failed).
//
// Threading: not thread-safe; one owner thread makes every call, and the
// log's completions are delivered on that thread.
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "coordinator/coordinator_log.h"

namespace floe::coordinator {

// Wall-clock milliseconds (commit timestamps are stored and compared across
// restarts, as Kafka's are).
using time_point = std::chrono::sys_time<std::chrono::milliseconds>;
using clock_fn = std::function<time_point()>;

// The Kafka errors the coordinator answers with; the values are Kafka's wire
// codes, so a handler converts with a cast.
enum class group_error : int16_t {
    unknown_server_error = -1,
    none = 0,
    offset_metadata_too_large = 12,
    coordinator_not_available = 15,
    not_coordinator = 16,
    illegal_generation = 22,
    inconsistent_group_protocol = 23,
    invalid_group_id = 24,
    unknown_member_id = 25,
    invalid_session_timeout = 26,
    rebalance_in_progress = 27,
    invalid_commit_offset_size = 28,
    non_empty_group = 68,
    group_id_not_found = 69,
    member_id_required = 79,
    group_max_size_reached = 81,
    fenced_instance_id = 82,
    group_subscribed_to_topic = 86,
};
std::string_view group_error_name(group_error e);

enum class group_state : uint8_t { empty, preparing_rebalance, completing_rebalance, stable, dead };
// "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead".
std::string_view group_state_name(group_state s);

struct group_config {
    // group.initial.rebalance.delay.ms: how long a rebalance of an Empty
    // group waits for more members, extended by the same again while new
    // members keep joining, up to the rebalance timeout in all.
    std::chrono::milliseconds initial_rebalance_delay{3000};
    // group.min.session.timeout.ms / group.max.session.timeout.ms.
    std::chrono::milliseconds min_session_timeout{6000};
    std::chrono::milliseconds max_session_timeout{1800000};
    // group.max.size (a restarted static member still gets its place back).
    uint32_t max_group_size = UINT32_MAX;
    // How long a new member's JoinGroup may wait (Kafka's fixed 5 minutes).
    std::chrono::milliseconds new_member_join_timeout{300000};
    // offset.metadata.max.bytes (Floe counts bytes; Kafka counts UTF-16
    // units, so it is never looser).
    size_t offset_metadata_max_bytes = 4096;
    // offsets.retention.minutes (7 days) and
    // offsets.retention.check.interval.ms (10 minutes).
    std::chrono::milliseconds offsets_retention{std::chrono::hours(24 * 7)};
    std::chrono::milliseconds offsets_retention_check_interval{600000};
};

struct topic_partition {
    std::string topic;
    int32_t partition = 0;
    auto operator<=>(const topic_partition&) const = default;
    bool operator==(const topic_partition&) const = default;
};

// ---- JoinGroup -------------------------------------------------------------

struct join_protocol {
    std::string name;
    byte_vector metadata;
    bool operator==(const join_protocol&) const = default;
};

struct join_group_request {
    std::string group_id;
    std::string member_id;                         // empty on a first join
    std::optional<std::string> group_instance_id;  // static membership (v5+)
    std::string client_id;
    std::string client_host;
    std::chrono::milliseconds session_timeout{10000};
    // v0 has none: the handler passes the session timeout.
    std::chrono::milliseconds rebalance_timeout{300000};
    std::string protocol_type;
    std::vector<join_protocol> protocols;  // in the member's order of preference
    // v4+: a first join without member id gets MEMBER_ID_REQUIRED and an id.
    bool require_known_member_id = true;
    // v9+: a static leader rejoining a Stable group is told it leads but
    // must skip the assignment.
    bool supports_skip_assignment = false;
};

struct join_group_member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    byte_vector metadata;
    bool operator==(const join_group_member&) const = default;
};

struct join_group_response {
    group_error error = group_error::none;
    int32_t generation_id = -1;
    std::optional<std::string> protocol_type;  // nullopt: null (v7+) / "" before
    std::optional<std::string> protocol_name;
    std::string leader_id;
    bool skip_assignment = false;
    std::string member_id;
    std::vector<join_group_member> members;  // the leader's only, in join order
};
using join_group_callback = std::function<void(join_group_response)>;

// ---- SyncGroup -------------------------------------------------------------

struct sync_group_assignment {
    std::string member_id;
    byte_vector assignment;
};

struct sync_group_request {
    std::string group_id;
    int32_t generation_id = -1;
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::optional<std::string> protocol_type;  // v5+, checked when present
    std::optional<std::string> protocol_name;
    std::vector<sync_group_assignment> assignments;  // the leader's only
};

struct sync_group_response {
    group_error error = group_error::none;
    std::optional<std::string> protocol_type;
    std::optional<std::string> protocol_name;
    byte_vector assignment;
};
using sync_group_callback = std::function<void(sync_group_response)>;

// ---- Heartbeat, LeaveGroup ---------------------------------------------------

struct heartbeat_request {
    std::string group_id;
    int32_t generation_id = -1;
    std::string member_id;
    std::optional<std::string> group_instance_id;
};

struct leave_group_member {
    std::string member_id;  // empty: remove the member with group_instance_id
    std::optional<std::string> group_instance_id;
};

struct leave_group_request {
    std::string group_id;
    std::vector<leave_group_member> members;  // v0-2: exactly one, by member id
};

struct leave_group_member_result {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    group_error error = group_error::none;
};

// For v0-2 the handler answers with `error`, or else the one member's error.
struct leave_group_response {
    group_error error = group_error::none;
    std::vector<leave_group_member_result> members;
};

// ---- Offsets -----------------------------------------------------------------

struct offset_commit_partition {
    topic_partition partition;
    int64_t offset = 0;
    int32_t leader_epoch = -1;
    std::string metadata;  // a null metadata is committed as ""
    // OffsetCommit v2-v4 with RetentionTimeMs != -1: commit time + retention.
    std::optional<time_point> expire_timestamp;
};

struct offset_commit_request {
    std::string group_id;
    int32_t generation_id = -1;  // -1 with an empty member id: a simple commit
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::vector<offset_commit_partition> partitions;
};

struct partition_result {
    topic_partition partition;
    group_error error = group_error::none;
    bool operator==(const partition_result&) const = default;
};
// One result per requested partition, in request order.
using offset_commit_callback = std::function<void(std::vector<partition_result>)>;

struct fetched_offset {
    topic_partition partition;
    int64_t offset = -1;  // -1: nothing committed
    int32_t leader_epoch = -1;
    std::string metadata;
    group_error error = group_error::none;
};

struct offset_fetch_response {
    group_error error = group_error::none;
    std::vector<fetched_offset> partitions;
};

struct offset_delete_response {
    group_error error = group_error::none;  // when set, partitions is empty
    std::vector<partition_result> partitions;
};
using offset_delete_callback = std::function<void(offset_delete_response)>;

struct delete_group_result {
    std::string group_id;
    group_error error = group_error::none;
    bool operator==(const delete_group_result&) const = default;
};
using delete_groups_callback = std::function<void(std::vector<delete_group_result>)>;

// ---- DescribeGroups, ListGroups ----------------------------------------------

struct described_member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::string client_id;
    std::string client_host;
    byte_vector metadata;    // Stable groups only (Kafka's rule)
    byte_vector assignment;  // Stable groups only
};

struct group_description {
    group_error error = group_error::none;
    std::string group_id;
    group_state state = group_state::dead;  // unknown group: Dead, no error
    std::string protocol_type;
    std::string protocol_data;  // the chosen protocol, Stable groups only
    std::vector<described_member> members;
};

struct listed_group {
    std::string group_id;
    std::string protocol_type;
    group_state state = group_state::empty;
    // ListGroups v5 GroupType: always "classic" here.
    std::string_view type = "classic";
};

// Builds a member id from a prefix (the group instance id, else the client
// id): Kafka uses prefix + "-" + a random UUID.
using member_id_generator = std::function<std::string(std::string_view prefix)>;

class group_coordinator {
public:
    // `log` must outlive the coordinator. Without `ids`, member ids are the
    // prefix, "-" and a random UUID.
    group_coordinator(group_config config, coordinator_log& log, clock_fn clock,
                      member_id_generator ids = {});
    ~group_coordinator();
    group_coordinator(const group_coordinator&) = delete;
    group_coordinator& operator=(const group_coordinator&) = delete;

    void join_group(join_group_request request, join_group_callback done);
    void sync_group(sync_group_request request, sync_group_callback done);
    group_error heartbeat(const heartbeat_request& request);
    leave_group_response leave_group(const leave_group_request& request);

    void commit_offsets(offset_commit_request request, offset_commit_callback done);
    // All committed offsets of the group (sorted) when `partitions` is
    // nullopt, else one entry per requested partition. `require_stable` has
    // no effect until transactional offset commits exist.
    offset_fetch_response fetch_offsets(
        std::string_view group_id, const std::optional<std::vector<topic_partition>>& partitions,
        bool require_stable = false);
    void delete_offsets(std::string group_id, std::vector<topic_partition> partitions,
                        offset_delete_callback done);
    void delete_groups(std::vector<std::string> group_ids, delete_groups_callback done);

    group_description describe_group(std::string_view group_id);
    // Sorted by group id. Filters match case-insensitively; empty: all.
    std::vector<listed_group> list_groups(const std::vector<std::string>& states_filter = {},
                                          const std::vector<std::string>& types_filter = {});

    // Fires the timers due by the clock's now.
    void tick();
    // The earliest pending timer, for the owner to schedule its next tick().
    std::optional<time_point> next_deadline() const;

    // Rebuilds state from records read back from the log, in log order (call
    // it before serving requests; it may be called several times with
    // consecutive slices). Groups with members come back Stable with their
    // assignments, and their members' session timers start now, as in Kafka.
    // Stops at the first undecodable record.
    status replay(std::span<const log_record> records);

private:
    struct impl;
    std::shared_ptr<impl> _impl;
};

}  // namespace floe::coordinator
