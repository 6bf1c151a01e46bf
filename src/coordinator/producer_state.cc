#include "coordinator/producer_state.h"

#include <limits>

namespace floe::coordinator {

int32_t producer_state::last_sequence(int32_t first, int32_t record_count) {
    int64_t last = static_cast<int64_t>(first) + record_count - 1;
    constexpr int64_t wrap = static_cast<int64_t>(std::numeric_limits<int32_t>::max()) + 1;
    return static_cast<int32_t>(last % wrap);
}

sequence_check producer_state::check(int64_t producer_id, int16_t epoch, int32_t first_sequence,
                                     int32_t record_count) const {
    auto it = _producers.find(producer_id);
    if (it == _producers.end() || it->second.epoch < 0) {
        return {};
    }
    const producer_entry& entry = it->second;
    if (epoch < entry.epoch) {
        return {sequence_verdict::invalid_epoch, std::nullopt};
    }
    if (epoch > entry.epoch) {
        if (first_sequence != 0) {
            return {sequence_verdict::out_of_order, std::nullopt};
        }
        return {};
    }
    int32_t last = last_sequence(first_sequence, record_count);
    for (const auto& b : entry.batches) {
        if (b.first_sequence == first_sequence && b.last_sequence == last) {
            return {sequence_verdict::duplicate, b};
        }
    }
    if (entry.batches.empty()) {
        return {};
    }
    int32_t previous = entry.batches.back().last_sequence;
    bool in_sequence =
        first_sequence == (previous == std::numeric_limits<int32_t>::max() ? 0 : previous + 1);
    if (!in_sequence) {
        return {sequence_verdict::out_of_order, std::nullopt};
    }
    return {};
}

void producer_state::record(int64_t producer_id, int16_t epoch, const batch_metadata& batch) {
    producer_entry& entry = _producers[producer_id];
    if (epoch != entry.epoch) {
        entry.epoch = epoch;
        entry.batches.clear();
    }
    entry.batches.push_back(batch);
    while (entry.batches.size() > k_cached_batches) {
        entry.batches.pop_front();
    }
}

void producer_state::forget_below(int64_t start_offset) {
    for (auto it = _producers.begin(); it != _producers.end();) {
        if (it->second.batches.empty() || it->second.batches.back().last_offset < start_offset) {
            it = _producers.erase(it);
        } else {
            ++it;
        }
    }
}

}  // namespace floe::coordinator
