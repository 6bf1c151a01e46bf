#include "coordinator/producer_state.h"

#include <gtest/gtest.h>

#include <limits>

using namespace floe::coordinator;

namespace {

batch_metadata batch(int32_t first_seq, int32_t count, int64_t first_offset) {
    return {first_seq, producer_state::last_sequence(first_seq, count), first_offset,
            first_offset + count - 1, 0};
}

}  // namespace

TEST(ProducerState, UnknownProducerAcceptsAnySequence) {
    producer_state s;
    EXPECT_EQ(s.check(7, 0, 0, 5).verdict, sequence_verdict::accept);
    EXPECT_EQ(s.check(7, 0, 42, 5).verdict, sequence_verdict::accept);
}

TEST(ProducerState, TheWorkedExampleOfTheHeader) {
    producer_state s;
    s.record(7, 0, batch(0, 5, 100));
    auto dup = s.check(7, 0, 0, 5);
    ASSERT_EQ(dup.verdict, sequence_verdict::duplicate);
    EXPECT_EQ(dup.original->first_offset, 100);
    EXPECT_EQ(dup.original->last_offset, 104);
    EXPECT_EQ(s.check(7, 0, 6, 4).verdict, sequence_verdict::out_of_order);
    EXPECT_EQ(s.check(7, 0, 5, 5).verdict, sequence_verdict::accept);
    // A partial overlap is not a duplicate: out of order.
    EXPECT_EQ(s.check(7, 0, 2, 3).verdict, sequence_verdict::out_of_order);
}

TEST(ProducerState, OnlyTheLastFiveBatchesAreRemembered) {
    producer_state s;
    for (int i = 0; i < 7; ++i) {
        s.record(1, 3, batch(i * 10, 10, 1000 + i * 10));
    }
    EXPECT_EQ(s.check(1, 3, 0, 10).verdict, sequence_verdict::out_of_order);
    EXPECT_EQ(s.check(1, 3, 10, 10).verdict, sequence_verdict::out_of_order);
    for (int i = 2; i < 7; ++i) {
        auto c = s.check(1, 3, i * 10, 10);
        ASSERT_EQ(c.verdict, sequence_verdict::duplicate) << i;
        EXPECT_EQ(c.original->first_offset, 1000 + i * 10);
    }
    EXPECT_EQ(s.check(1, 3, 70, 1).verdict, sequence_verdict::accept);
}

TEST(ProducerState, EpochRules) {
    producer_state s;
    s.record(9, 5, batch(0, 3, 0));
    EXPECT_EQ(s.check(9, 4, 3, 1).verdict, sequence_verdict::invalid_epoch);
    EXPECT_EQ(s.check(9, 6, 3, 1).verdict, sequence_verdict::out_of_order);
    EXPECT_EQ(s.check(9, 6, 0, 1).verdict, sequence_verdict::accept);
    s.record(9, 6, batch(0, 1, 3));
    // The old epoch's batches are gone: its retry is now a stale epoch.
    EXPECT_EQ(s.check(9, 5, 0, 3).verdict, sequence_verdict::invalid_epoch);
    EXPECT_EQ(s.check(9, 6, 1, 1).verdict, sequence_verdict::accept);
}

TEST(ProducerState, SequencesWrapAtInt32Max) {
    constexpr int32_t max = std::numeric_limits<int32_t>::max();
    EXPECT_EQ(producer_state::last_sequence(max, 1), max);
    EXPECT_EQ(producer_state::last_sequence(max, 3), 1);
    producer_state s;
    s.record(2, 0, batch(max - 1, 2, 50));
    EXPECT_EQ(s.check(2, 0, 0, 4).verdict, sequence_verdict::accept);
    EXPECT_EQ(s.check(2, 0, max, 1).verdict, sequence_verdict::out_of_order);
}

TEST(ProducerState, ForgetBelowDropsProducersWhoseBatchesAreGone) {
    producer_state s;
    s.record(1, 0, batch(0, 10, 0));
    s.record(2, 0, batch(0, 10, 10));
    s.forget_below(10);
    EXPECT_EQ(s.producers().count(1), 0u);
    EXPECT_EQ(s.producers().count(2), 1u);
}
