#include "kafka/broker/group_log.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "base/log.h"
#include "kafka/protocol/record_batch.h"

namespace floe::kafka {

namespace {

status to_status(const produce_outcome& o) {
    switch (o.error) {
        case error_code::none:
            return ok();
        case error_code::not_leader_or_follower:
            return error(errc::conflict, "offsets partition is fenced: " + o.message);
        case error_code::message_too_large:
        case error_code::record_list_too_large:
            return error(errc::too_large, o.message);
        default:
            return error(errc::io, "offsets partition append failed: " + o.message);
    }
}

// Runs `work` on `blocking`, or on the calling thread when there is none.
void run_blocking(const group_log::poster& blocking, std::function<void()> work) {
    if (blocking) {
        blocking(std::move(work));
    } else {
        work();
    }
}

}  // namespace

// The compaction state, shared with snapshot completions (which may outlive
// the group_log when the broker stops).
struct group_log::state {
    mutable std::mutex mutex;
    struct live_value {
        uint64_t written = 0;  // order of the last write of the key
        byte_vector value;
    };
    // Keys as strings: GCC 12's -O3 warns (-Wstringop-overread) inside the
    // comparison of byte-vector keys.
    std::map<std::string, live_value> live;  // guarded by mutex
    uint64_t next_write = 0;                 // guarded by mutex
    size_t log_records = 0;                  // guarded by mutex
    bool compacting = false;                 // guarded by mutex
    uint64_t compactions = 0;                // guarded by mutex

    // Ends a compaction: moves the partition start to `to` (nothing when
    // empty) and, once that is durable, forgets the `before` records it
    // covered (approximately, when appends were in flight: they are counted
    // in `before` but stay in the log). A blocking metadata update.
    void finish_compaction(partition& target, std::optional<int64_t> to, size_t before) {
        bool trimmed = false;
        if (to) {
            status s = target.trim(*to);
            trimmed = s.has_value();
            if (!s) {
                FLOE_LOG(warn, "groups", "compacting ", target.topic(), "-", target.index(),
                         ": trim failed: ", s.error_value().to_string());
            }
        }
        std::lock_guard lock(mutex);
        if (trimmed) {
            log_records -= std::min(log_records, before);
            ++compactions;
        }
        compacting = false;
    }

    void apply(const coordinator::log_record& r) {
        std::string key(r.key.begin(), r.key.end());
        if (r.value) {
            live[std::move(key)] = live_value{next_write++, *r.value};
        } else {
            live.erase(key);
        }
        ++log_records;
    }
};

group_log::group_log(std::shared_ptr<partition> target, poster post, poster blocking,
                     group_log_options options)
    : _target(std::move(target)),
      _post(std::move(post)),
      _blocking(std::move(blocking)),
      _options(options),
      _state(std::make_shared<state>()) {}

void group_log::loaded(const std::vector<coordinator::log_record>& records) {
    std::lock_guard lock(_state->mutex);
    for (const auto& r : records) {
        _state->apply(r);
    }
}

size_t group_log::log_records() const {
    std::lock_guard lock(_state->mutex);
    return _state->log_records;
}

size_t group_log::live_keys() const {
    std::lock_guard lock(_state->mutex);
    return _state->live.size();
}

uint64_t group_log::compactions() const {
    std::lock_guard lock(_state->mutex);
    return _state->compactions;
}

void group_log::write_batch(const std::vector<coordinator::log_record>& records,
                            std::function<void(produce_outcome)> done) {
    record_batch_builder builder({});
    const int64_t timestamp = wall_clock_ms();
    for (const auto& r : records) {
        builder.append(timestamp, byte_span(r.key),
                       r.value ? std::optional<byte_span>(*r.value) : std::nullopt);
    }
    auto built = builder.build();
    if (!built) {
        done(produce_outcome{error_code::unknown_server_error, built.error_value().message});
        return;
    }
    auto split = split_batches(*built, split_mode::produce);
    if (!split) {
        done(produce_outcome{error_code::corrupt_message, split.error_value().message});
        return;
    }
    auto batches = split->batches;  // views into the vector's buffer, kept by adopt()
    _target->append(shared_buffer::adopt(std::move(*built)), batches, -1, std::move(done));
}

void group_log::append(std::vector<coordinator::log_record> records,
                       std::function<void(status)> done) {
    auto finish = [post = _post, done = std::move(done)](status outcome) {
        post([done, outcome]() { done(outcome); });
    };
    if (records.empty()) {
        finish(ok());
        return;
    }
    {
        std::lock_guard lock(_state->mutex);
        for (const auto& r : records) {
            _state->apply(r);
        }
    }
    write_batch(records, [finish](produce_outcome o) { finish(to_status(o)); });
    maybe_compact();
}

void group_log::maybe_compact() {
    std::vector<std::vector<coordinator::log_record>> chunks;
    size_t before = 0;
    // Read before the live keys are looked at: every record below it was
    // applied to `live` before now, so if nothing is live below, nothing
    // below it is needed any more.
    const int64_t durable_end = _target->offsets().high_watermark;
    {
        std::lock_guard lock(_state->mutex);
        const size_t records = _state->log_records;
        if (_state->compacting || records < _options.compact_min_records ||
            records <= 2 * _state->live.size()) {
            return;
        }
        _state->compacting = true;
        before = records;
        // Every live record, in the order of its last write (as Kafka's
        // cleaner keeps the retained records in log order).
        std::vector<const std::pair<const std::string, state::live_value>*> order;
        order.reserve(_state->live.size());
        for (const auto& entry : _state->live) {
            order.push_back(&entry);
        }
        std::sort(order.begin(), order.end(),
                  [](auto* a, auto* b) { return a->second.written < b->second.written; });
        size_t bytes = 0;
        for (const auto* entry : order) {
            const size_t size = entry->first.size() + entry->second.value.size() + 32;
            if (chunks.empty() || bytes + size > _options.snapshot_batch_bytes) {
                chunks.emplace_back();
                bytes = 0;
            }
            chunks.back().push_back(
                {byte_vector(entry->first.begin(), entry->first.end()), entry->second.value});
            bytes += size;
        }
        for (const auto& chunk : chunks) {
            _state->log_records += chunk.size();
        }
    }
    if (chunks.empty()) {
        // Nothing is live: no snapshot is needed, and every durable record
        // (all superseded) goes; records still in flight stay.
        auto trim = [state = _state, target = _target, durable_end, before] {
            bool behind = durable_end > target->offsets().log_start_offset;
            state->finish_compaction(*target, behind ? std::optional(durable_end) : std::nullopt,
                                     before);
        };
        run_blocking(_blocking, std::move(trim));
        return;
    }
    // The snapshot's first offset, and how many of its batches are still
    // to become durable (or failed).
    struct progress {
        std::mutex mutex;
        size_t outstanding = 0;
        bool failed = false;
        int64_t first_offset = -1;
    };
    auto tracking = std::make_shared<progress>();
    tracking->outstanding = chunks.size();
    auto finished = [state = _state, target = _target, blocking = _blocking, tracking, before](
                        bool first, produce_outcome o) {
        bool last = false;
        {
            std::lock_guard lock(tracking->mutex);
            if (o.error != error_code::none) {
                tracking->failed = true;
            } else if (first) {
                tracking->first_offset = o.base_offset;
            }
            last = --tracking->outstanding == 0;
        }
        if (!last) {
            return;
        }
        auto trim = [state, target, tracking, before] {
            bool written = !tracking->failed && tracking->first_offset >= 0;
            state->finish_compaction(
                *target, written ? std::optional(tracking->first_offset) : std::nullopt, before);
        };
        run_blocking(blocking, std::move(trim));
    };
    for (size_t i = 0; i < chunks.size(); ++i) {
        const bool first = i == 0;
        write_batch(chunks[i], [finished, first](produce_outcome o) { finished(first, o); });
    }
}

result<std::vector<coordinator::log_record>> group_log::read_all(partition& p) {
    std::vector<coordinator::log_record> out;
    auto offsets = p.offsets();
    int64_t at = offsets.log_start_offset;
    batch_limits limits;
    limits.offsets = offset_rule::increasing;
    while (at < offsets.high_watermark) {
        auto entries = p.read(at, 4 << 20);
        if (!entries) {
            return entries.error_value();
        }
        if (entries->empty()) {
            break;
        }
        for (const auto& entry : *entries) {
            auto split = split_batches(entry.payload.span(), split_mode::fetch);
            if (!split) {
                return split.error_value();
            }
            for (const auto& batch : split->batches) {
                if (batch.header.last_offset() < at) {
                    continue;  // before the start (an entry may begin earlier)
                }
                FLOE_TRY(for_each_record(batch, limits, [&](const record_view& rec) -> status {
                    coordinator::log_record r;
                    if (rec.key) {
                        r.key.assign(rec.key->begin(), rec.key->end());
                    }
                    if (rec.value) {
                        r.value = byte_vector(rec.value->begin(), rec.value->end());
                    }
                    out.push_back(std::move(r));
                    return ok();
                }));
            }
            at = std::max(at, entry.end_offset().value());
        }
    }
    return out;
}

}  // namespace floe::kafka
