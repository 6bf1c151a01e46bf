// consumer_assignment: the pure pieces of the KIP-848 consumer group
// protocol, with no group state of their own: the server-side assignors
// ("uniform" and "range") that compute a group's target assignment, and the
// reconciliation step (Kafka's CurrentAssignmentBuilder) that moves one
// member from its current assignment towards its target.
//
// Partitions are named by topic id (Kafka's 16-byte topic UUID), as in the
// ConsumerGroupHeartbeat API; topic names only matter for subscriptions.
//
// Reconciliation, worked example (member A owns t0-p0, p1 at epoch 4; the
// target at epoch 5 gives A only p0, and B gets p1):
//   A heartbeats at 4        -> A: unrevoked_partitions, epoch 4, assigned
//                               {p0}, pending revocation {p1}: A must drop p1
//   B heartbeats             -> B: unreleased_partitions, epoch 5, p1 withheld
//                               (A still owns it)
//   A heartbeats owning {p0} -> A: stable at epoch 5; p1 is free
//   B heartbeats             -> B: stable at epoch 5, assigned {p1}
// A partition is therefore never owned by two members at once.
//
// Threading: plain functions, no shared state.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace floe::coordinator {

using topic_id = std::array<uint8_t, 16>;  // Kafka's topic UUID
using partition_assignment = std::map<topic_id, std::set<int32_t>>;

inline constexpr std::string_view k_uniform_assignor = "uniform";
inline constexpr std::string_view k_range_assignor = "range";

// Whether `name` is an assignor this module implements.
bool is_known_assignor(std::string_view name);

struct assignor_member {
    std::string member_id;
    std::set<topic_id> subscribed;        // subscribed topics that exist
    partition_assignment current_target;  // the previous target, for stickiness
};

// The target assignment: every member of `members` gets an entry (maybe
// empty); every partition of a topic someone subscribes to is assigned to
// exactly one of its subscribers. `topics` maps a topic id to its partition
// count. Deterministic: the same input gives the same output.
//
// uniform: as balanced as the subscriptions allow (partition counts differ
//   by at most one between members that subscribe to the same topics), and
//   sticky: a partition stays with its previous owner unless balance needs
//   it to move.
// range: per topic, the subscribers in member id order each get a
//   contiguous range; the first (partitions % subscribers) get one more.
std::map<std::string, partition_assignment> compute_assignment(
    std::string_view assignor, const std::vector<assignor_member>& members,
    const std::map<topic_id, int32_t>& topics);

// Kafka's MemberState of the consumer protocol; the values are Floe's (they
// are written in the current assignment records).
enum class member_state : int8_t {
    stable = 0,                 // owns its target at the target's epoch
    unrevoked_partitions = 1,   // must first give up partitions_pending_revocation
    unreleased_partitions = 2,  // waits for partitions other members still own
    unknown = 127,
};

struct member_assignment_state {
    int32_t member_epoch = 0;
    int32_t previous_member_epoch = -1;
    member_state state = member_state::stable;
    partition_assignment assigned;
    partition_assignment pending_revocation;
    bool operator==(const member_assignment_state&) const = default;
};

// Whether partition `partition` of `topic` is owned (assigned or pending
// revocation) by a member other than the one being reconciled.
using owned_elsewhere_fn = std::function<bool(const topic_id& topic, int32_t partition)>;

// One reconciliation step of a member towards `target` (computed at
// `target_epoch`), given the partitions the member reported owning in this
// heartbeat (nullopt: not reported). A member waiting for a revocation stays
// as it is until it reports owning none of the revoked partitions.
member_assignment_state reconcile(const member_assignment_state& current,
                                  const partition_assignment& target, int32_t target_epoch,
                                  const std::optional<partition_assignment>& owned,
                                  const owned_elsewhere_fn& owned_elsewhere);

// a ⊆ b
bool is_subset(const partition_assignment& a, const partition_assignment& b);
size_t partition_count(const partition_assignment& a);

}  // namespace floe::coordinator
