// producer_state: what an idempotent producer has written to one partition,
// enough to refuse a batch out of order and to answer a retried batch with
// the offset it got the first time (Kafka's producer state).
//
// Per producer id it keeps the producer epoch and the metadata of its last
// five batches (first/last sequence, first/last offset, max timestamp).
// check() decides a new batch's fate; record() stores an appended one:
//
//   epoch  < current epoch              -> invalid_epoch
//   same epoch, same first and last sequence as a cached batch
//                                       -> duplicate (answer with its offsets)
//   same epoch, first seq != last seq + 1 (wrapping INT32_MAX -> 0)
//                                       -> out_of_order
//   newer epoch, first seq != 0          -> out_of_order
//   unknown producer                    -> accepted with any sequence (its
//                                          state may have been trimmed away)
//
// Worked example: producer 7 epoch 0 appends seqs 0-4 at offsets 100-104;
// a retry of seqs 0-4 is a duplicate answered with base offset 100; seqs 6-9
// are out of order; seqs 5-9 are accepted.
//
// The state is rebuilt after a restart by replaying the partition's stored
// batches through record() (their headers carry producer id, epoch and
// sequence), so it survives a restart without a store of its own.
//
// Threading: a plain value; the owner of the partition serializes access.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>

namespace floe::coordinator {

struct batch_metadata {
    int32_t first_sequence = 0;
    int32_t last_sequence = 0;
    int64_t first_offset = 0;
    int64_t last_offset = 0;
    int64_t max_timestamp = -1;
};

enum class sequence_verdict { accept, duplicate, out_of_order, invalid_epoch };

struct sequence_check {
    sequence_verdict verdict = sequence_verdict::accept;
    std::optional<batch_metadata> original;  // for duplicate
};

class producer_state {
public:
    static constexpr size_t k_cached_batches = 5;

    // The fate of a batch from `producer_id` with `epoch` carrying sequences
    // [first_sequence, first_sequence + record_count - 1].
    sequence_check check(int64_t producer_id, int16_t epoch, int32_t first_sequence,
                         int32_t record_count) const;
    // Records an appended batch (after check() accepted it, or when
    // replaying stored batches).
    void record(int64_t producer_id, int16_t epoch, const batch_metadata& batch);
    // Forgets producers whose last batch ends below `start_offset` (their
    // batches were trimmed away), as Kafka does when the log start moves.
    void forget_below(int64_t start_offset);

    struct producer_entry {
        int16_t epoch = -1;
        std::deque<batch_metadata> batches;  // oldest first, at most k_cached_batches
    };
    const std::unordered_map<int64_t, producer_entry>& producers() const { return _producers; }

    // Last sequence of a batch of `record_count` records starting at `first`
    // (wrapping past INT32_MAX to 0, as Kafka's sequences do).
    static int32_t last_sequence(int32_t first, int32_t record_count);

private:
    std::unordered_map<int64_t, producer_entry> _producers;
};

}  // namespace floe::coordinator
