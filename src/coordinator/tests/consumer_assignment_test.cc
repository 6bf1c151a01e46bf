// The server-side assignors and the reconciliation step of the consumer
// group protocol (consumer_assignment.h).
#include "coordinator/consumer_assignment.h"

#include <gtest/gtest.h>

using namespace floe::coordinator;

namespace {

topic_id tid(uint8_t n) {
    topic_id id{};
    id[15] = n;
    return id;
}

std::vector<assignor_member> homogeneous(int n, std::set<topic_id> topics) {
    std::vector<assignor_member> out;
    for (int i = 0; i < n; ++i) {
        out.push_back({"m" + std::to_string(i), topics, {}});
    }
    return out;
}

void expect_complete(const std::map<std::string, partition_assignment>& result,
                     const std::map<topic_id, int32_t>& topics) {
    std::map<topic_id, std::multiset<int32_t>> seen;
    for (const auto& [m, a] : result) {
        for (const auto& [t, ps] : a) {
            seen[t].insert(ps.begin(), ps.end());
        }
    }
    for (const auto& [t, count] : topics) {
        ASSERT_EQ(seen[t].size(), static_cast<size_t>(count));
        for (int32_t p = 0; p < count; ++p) {
            EXPECT_EQ(seen[t].count(p), 1u) << "partition " << p;
        }
    }
}

}  // namespace

TEST(ConsumerAssignment, UniformIsBalanced) {
    std::map<topic_id, int32_t> topics{{tid(1), 7}, {tid(2), 4}};
    auto result = compute_assignment("uniform", homogeneous(3, {tid(1), tid(2)}), topics);
    expect_complete(result, topics);
    for (const auto& [m, a] : result) {
        size_t n = partition_count(a);
        EXPECT_TRUE(n == 3 || n == 4) << m << " has " << n;
    }
}

TEST(ConsumerAssignment, UniformIsStickyWhenAMemberJoins) {
    std::map<topic_id, int32_t> topics{{tid(1), 12}};
    auto members = homogeneous(3, {tid(1)});
    auto first = compute_assignment("uniform", members, topics);
    for (auto& m : members) {
        m.current_target = first[m.member_id];
    }
    members.push_back({"m3", {tid(1)}, {}});
    auto second = compute_assignment("uniform", members, topics);
    expect_complete(second, topics);
    size_t moved = 0;
    for (const auto& [m, a] : second) {
        EXPECT_EQ(partition_count(a), 3u);
        if (m != "m3") {
            EXPECT_TRUE(is_subset(a, first[m]));  // nobody gets someone else's partition
        } else {
            moved = partition_count(a);
        }
    }
    EXPECT_EQ(moved, 3u);  // only what the new member needs moves
}

TEST(ConsumerAssignment, UniformWithDifferentSubscriptions) {
    std::map<topic_id, int32_t> topics{{tid(1), 4}, {tid(2), 4}};
    std::vector<assignor_member> members{
        {"a", {tid(1)}, {}}, {"b", {tid(1), tid(2)}, {}}, {"c", {tid(2)}, {}}};
    auto result = compute_assignment("uniform", members, topics);
    expect_complete(result, topics);
    EXPECT_EQ(result["a"].count(tid(2)), 0u);
    EXPECT_EQ(result["c"].count(tid(1)), 0u);
    for (const auto& [m, a] : result) {
        EXPECT_TRUE(partition_count(a) >= 2 && partition_count(a) <= 3) << m;
    }
}

TEST(ConsumerAssignment, RangeGivesContiguousRangesInMemberOrder) {
    std::map<topic_id, int32_t> topics{{tid(1), 5}};
    auto result = compute_assignment("range", homogeneous(2, {tid(1)}), topics);
    EXPECT_EQ(result["m0"][tid(1)], (std::set<int32_t>{0, 1, 2}));
    EXPECT_EQ(result["m1"][tid(1)], (std::set<int32_t>{3, 4}));
}

TEST(ConsumerAssignment, UnknownTopicsAndNoSubscribersAreSkipped) {
    std::map<topic_id, int32_t> topics{{tid(1), 2}};
    std::vector<assignor_member> members{{"a", {tid(9)}, {}}};
    auto result = compute_assignment("uniform", members, topics);
    ASSERT_EQ(result.size(), 1u);
    EXPECT_TRUE(result["a"].empty());
}

TEST(ConsumerAssignment, ReconcileRevokesBeforeAssigning) {
    member_assignment_state a{4, 3, member_state::stable, {{tid(1), {0, 1}}}, {}};
    partition_assignment target{{tid(1), {0, 2}}};
    auto none_elsewhere = [](const topic_id&, int32_t) { return false; };
    auto step = reconcile(a, target, 5, std::nullopt, none_elsewhere);
    EXPECT_EQ(step.state, member_state::unrevoked_partitions);
    EXPECT_EQ(step.member_epoch, 4);
    EXPECT_EQ(step.assigned, (partition_assignment{{tid(1), {0}}}));
    EXPECT_EQ(step.pending_revocation, (partition_assignment{{tid(1), {1}}}));
    // Still owning p1: no progress.
    EXPECT_EQ(reconcile(step, target, 5, partition_assignment{{tid(1), {0, 1}}}, none_elsewhere),
              step);
    // p1 given up, p2 owned by someone else: epoch 5, waiting for p2.
    auto p2_elsewhere = [](const topic_id&, int32_t p) { return p == 2; };
    auto next = reconcile(step, target, 5, partition_assignment{{tid(1), {0}}}, p2_elsewhere);
    EXPECT_EQ(next.state, member_state::unreleased_partitions);
    EXPECT_EQ(next.member_epoch, 5);
    EXPECT_EQ(next.previous_member_epoch, 4);
    EXPECT_EQ(next.assigned, (partition_assignment{{tid(1), {0}}}));
    // p2 released.
    auto done = reconcile(next, target, 5, std::nullopt, none_elsewhere);
    EXPECT_EQ(done.state, member_state::stable);
    EXPECT_EQ(done.assigned, target);
}
