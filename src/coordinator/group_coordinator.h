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

#include <array>
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
    // The consumer protocol (KIP-848).
    unsupported_version = 35,
    invalid_request = 42,
    fenced_member_epoch = 110,
    unreleased_instance_id = 111,
    unsupported_assignor = 112,
    stale_member_epoch = 113,
    invalid_regular_expression = 128,
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
    // The shortest wait of each of those rounds, when initial_rebalance_delay
    // is below it (typically 0, as test and development setups configure):
    // classic consumers started together then still land in one generation
    // instead of joining a group that just became Stable one by one (each
    // latecomer costing the others a heartbeat interval, 3 s). Kafka's rounds
    // take about as long because of its 5 ms coordinator append linger.
    std::chrono::milliseconds min_initial_round{5};
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

    // The consumer protocol (KIP-848):
    // group.consumer.session.timeout.ms and group.consumer.heartbeat.interval.ms.
    std::chrono::milliseconds consumer_session_timeout{45000};
    std::chrono::milliseconds consumer_heartbeat_interval{5000};
    // group.consumer.max.size.
    uint32_t consumer_max_group_size = UINT32_MAX;
    // group.consumer.assignors: the first is the default; each must be
    // "uniform" or "range".
    std::vector<std::string> consumer_assignors{"uniform", "range"};
    // How long a resolved SubscribedTopicRegex is trusted before the topic
    // list is matched again (Floe's; new regexes are resolved at once).
    std::chrono::milliseconds consumer_regex_refresh_interval{10000};
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
    // GenerationIdOrMemberEpoch: the member epoch for a consumer group.
    // -1 with an empty member id: a simple commit (only to an empty group).
    int32_t generation_id = -1;
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::vector<offset_commit_partition> partitions;
    // The OffsetCommit version, when known: members of a consumer group must
    // commit with v9+ (else UNSUPPORTED_VERSION).
    std::optional<int16_t> api_version;
};

// OffsetFetch v9+ MemberId/MemberEpoch, checked for consumer groups: a
// request without member id and with a negative epoch is not checked.
struct offset_fetch_member {
    std::optional<std::string> member_id;
    int32_t member_epoch = -1;
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
    // The state as Kafka names it, for classic ("PreparingRebalance", ...)
    // and consumer groups ("Assigning", "Reconciling", ...) alike; the
    // handler sends this one.
    std::string_view state_name = "Dead";
    std::string protocol_type;
    std::string protocol_data;  // the chosen protocol, Stable groups only
    std::vector<described_member> members;
};

struct listed_group {
    std::string group_id;
    std::string protocol_type;
    group_state state = group_state::empty;  // classic groups; see state_name
    // GroupState as Kafka names it, for both kinds of group.
    std::string_view state_name = "Empty";
    // ListGroups v5 GroupType: "classic" or "consumer".
    std::string_view type = "classic";
};

// ---- The consumer group protocol (KIP-848) ---------------------------------------
//
// A group id is either a classic group or a consumer group. A consumer
// group is created by a ConsumerGroupHeartbeat with member epoch 0 (an empty
// classic group, or one that only stores offsets, is converted; a classic
// group with members is not: GROUP_ID_NOT_FOUND). A JoinGroup to an empty
// consumer group converts it back to classic; to one with members, it gets
// INCONSISTENT_GROUP_PROTOCOL. Offsets belong to the group id and survive
// both conversions.
//
// Group epoch: bumped when a member joins, leaves or is fenced, changes its
// subscription or assignor, or when the metadata of a subscribed topic
// changes (created, deleted, partitions added). The target assignment is
// recomputed (at the group epoch, which becomes the assignment epoch) on the
// next heartbeat of any member; each member then moves to it by
// reconciliation (consumer_assignment.h), revoking before anyone else is
// given what it owned. Group states (Kafka's): Empty (no members),
// Assigning (group epoch > assignment epoch), Reconciling (a member is not
// yet stable at the assignment epoch), Stable.
//
// Every heartbeat answer that follows a state change waits until its
// records are durable, and so does one that follows a change still in
// flight; a failed append answers NOT_COORDINATOR (log fenced) or
// COORDINATOR_NOT_AVAILABLE.

using topic_id = std::array<uint8_t, 16>;  // Kafka's topic UUID

struct topic_metadata {
    topic_id id{};
    int32_t partition_count = 0;
};

// What the coordinator knows of the cluster's topics, from the broker's
// metadata. Both are called on the coordinator's thread, during heartbeats.
struct topic_metadata_source {
    // The topic's id and partition count; nullopt when it does not exist.
    std::function<std::optional<topic_metadata>(std::string_view name)> lookup;
    // Every topic name (for SubscribedTopicRegex).
    std::function<std::vector<std::string>()> list;
};

struct consumer_topic_partitions {
    std::array<uint8_t, 16> topic_id{};  // Kafka's topic UUID
    std::string topic_name;  // filled in answers (ConsumerGroupDescribe); ignored in requests
    std::vector<int32_t> partitions;  // ascending in answers
    bool operator==(const consumer_topic_partitions&) const = default;
};

// ConsumerGroupHeartbeat v0-1, field for field. Optional fields are null
// when the client left them out ("unchanged since the last heartbeat").
struct consumer_heartbeat_request {
    int16_t api_version = 1;  // v0: an empty MemberId on a join gets one from the server
    std::string group_id;
    std::string member_id;
    int32_t member_epoch = 0;  // 0: join; -1: leave; -2: a static member leaves for now
    std::optional<std::string> instance_id;
    std::optional<std::string> rack_id;
    int32_t rebalance_timeout_ms = -1;  // -1: unchanged
    std::optional<std::vector<std::string>> subscribed_topic_names;
    std::optional<std::string> subscribed_topic_regex;  // v1+ (RE2 syntax)
    std::optional<std::string> server_assignor;
    std::optional<std::vector<consumer_topic_partitions>> topic_partitions;  // owned now
    // From the request header and connection.
    std::string client_id;
    std::string client_host;
};

struct consumer_heartbeat_response {
    group_error error = group_error::none;
    std::optional<std::string> error_message;
    std::optional<std::string> member_id;  // set on success
    int32_t member_epoch = 0;
    int32_t heartbeat_interval_ms = 0;
    // Set on a full request (join, or all fields given) or when the
    // member's assignment changed; nullopt: null on the wire.
    std::optional<std::vector<consumer_topic_partitions>> assignment;
};
using consumer_heartbeat_callback = std::function<void(consumer_heartbeat_response)>;

struct consumer_member_description {
    std::string member_id;
    std::optional<std::string> instance_id;
    std::optional<std::string> rack_id;
    int32_t member_epoch = 0;
    std::string client_id;
    std::string client_host;
    std::vector<std::string> subscribed_topic_names;
    std::optional<std::string> subscribed_topic_regex;
    std::vector<consumer_topic_partitions> assignment;         // current
    std::vector<consumer_topic_partitions> target_assignment;  // target
};

// ConsumerGroupDescribe v0, one per requested group. An unknown group, or
// one that is a classic group: GROUP_ID_NOT_FOUND; an empty id:
// INVALID_GROUP_ID.
struct consumer_group_description {
    group_error error = group_error::none;
    std::optional<std::string> error_message;
    std::string group_id;
    std::string_view state = "Dead";  // "Empty", "Assigning", "Reconciling", "Stable"
    int32_t group_epoch = 0;
    int32_t assignment_epoch = 0;
    std::string assignor_name;
    std::vector<consumer_member_description> members;  // by member id
};

// Builds a member id from a prefix (the group instance id, else the client
// id): Kafka uses prefix + "-" + a random UUID.
using member_id_generator = std::function<std::string(std::string_view prefix)>;

class group_coordinator {
public:
    // `log` must outlive the coordinator. Without `ids`, member ids are the
    // prefix, "-" and a random UUID.
    // `topics` is what consumer groups assign (without it, no topic exists
    // for them).
    group_coordinator(group_config config, coordinator_log& log, clock_fn clock,
                      member_id_generator ids = {}, topic_metadata_source topics = {});
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
    // `member` (OffsetFetch v9+) is checked against a consumer group's
    // members: UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH in `error`.
    offset_fetch_response fetch_offsets(
        std::string_view group_id, const std::optional<std::vector<topic_partition>>& partitions,
        bool require_stable = false, const offset_fetch_member& member = {});
    void delete_offsets(std::string group_id, std::vector<topic_partition> partitions,
                        offset_delete_callback done);
    void delete_groups(std::vector<std::string> group_ids, delete_groups_callback done);

    group_description describe_group(std::string_view group_id);
    // Sorted by group id. Filters match case-insensitively; empty: all.
    std::vector<listed_group> list_groups(const std::vector<std::string>& states_filter = {},
                                          const std::vector<std::string>& types_filter = {});

    // ConsumerGroupHeartbeat (KIP-848). `done` is called once, possibly
    // later (when the state change it answers is durable).
    void consumer_group_heartbeat(consumer_heartbeat_request request,
                                  consumer_heartbeat_callback done);
    // ConsumerGroupDescribe, in request order.
    std::vector<consumer_group_description> describe_consumer_groups(
        const std::vector<std::string>& group_ids);

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
