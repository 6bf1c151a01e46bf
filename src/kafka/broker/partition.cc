#include "kafka/broker/partition.h"

#include <algorithm>

namespace floe::kafka {

partition::partition(std::string topic, int32_t index, stream_id stream, int32_t leader_epoch,
                     stream::stream_store& store)
    : _topic(std::move(topic)),
      _index(index),
      _stream(stream),
      _leader_epoch(leader_epoch),
      _store(store) {}

status partition::load(epoch stream_epoch) {
    auto position = _store.open_stream(_stream, stream_epoch);
    if (!position) {
        return position.error_value();
    }
    // Rebuild the producer state (and the max timestamp) from every stored
    // batch, oldest first.
    coordinator::producer_state producers;
    int64_t max_ts = -1;
    int64_t max_ts_offset = -1;
    int64_t at = position->start.value();
    const int64_t end = position->next.value();
    while (at < end) {
        auto entries = _store.read(_stream, offset(at), 4 << 20);
        if (!entries) {
            return error(entries.error_value().code,
                         "partition " + _topic + "-" + std::to_string(_index) +
                             ": reading offset " + std::to_string(at) +
                             " to rebuild producer state: " + entries.error_value().message);
        }
        if (entries->empty()) {
            break;
        }
        for (const auto& entry : *entries) {
            auto split = split_batches(entry.payload.span(), split_mode::fetch);
            if (!split) {
                return error(errc::corrupt, "partition " + _topic + "-" + std::to_string(_index) +
                                                ": stored entry at offset " +
                                                std::to_string(entry.base_offset.value()) + ": " +
                                                split.error_value().message);
            }
            for (const auto& b : split->batches) {
                const batch_header& h = b.header;
                if (h.max_timestamp > max_ts) {
                    max_ts = h.max_timestamp;
                    max_ts_offset = h.last_offset();
                }
                if (h.producer_id >= 0 && h.base_sequence >= 0) {
                    producers.record(h.producer_id, h.producer_epoch,
                                     {h.base_sequence,
                                      coordinator::producer_state::last_sequence(
                                          h.base_sequence, h.last_offset_delta + 1),
                                      h.base_offset, h.last_offset(), h.max_timestamp});
                }
            }
            at = std::max(at, entry.end_offset().value());
        }
    }
    std::lock_guard lock(_mutex);
    _stream_epoch = stream_epoch;
    _next_offset = end;
    _high_watermark = end;
    _log_start = position->start.value();
    _producers = std::move(producers);
    _max_timestamp = max_ts;
    _max_timestamp_offset = max_ts_offset;
    return ok();
}

void partition::append(shared_buffer records, const std::vector<batch_view>& batches,
                       int64_t log_append_time, std::function<void(produce_outcome)> done) {
    produce_outcome out;
    std::unique_lock lock(_mutex);
    out.log_start_offset = _log_start;
    if (_failed) {
        lock.unlock();
        out.error = error_code::not_leader_or_follower;
        out.message = "partition is no longer served by this broker";
        done(out);
        return;
    }
    // Idempotence: each batch is checked against the state as it will be
    // after the batches before it in the same blob.
    struct planned {
        int64_t producer_id;
        int16_t producer_epoch;
        coordinator::batch_metadata meta;
    };
    std::vector<planned> plan;
    coordinator::producer_state trial;  // only for blobs of several batches
    const coordinator::producer_state* state = &_producers;
    int64_t next = _next_offset;
    for (const auto& b : batches) {
        const batch_header& h = b.header;
        int32_t count = h.last_offset_delta + 1;
        if (h.producer_id >= 0) {
            auto verdict =
                state->check(h.producer_id, h.producer_epoch, h.base_sequence, h.record_count);
            if (verdict.verdict == coordinator::sequence_verdict::duplicate &&
                batches.size() == 1) {
                // A retry of an appended batch: answer with its offset (and,
                // on a LogAppendTime topic, the time it was stamped with).
                out.base_offset = verdict.original->first_offset;
                out.log_append_time = log_append_time >= 0 ? verdict.original->max_timestamp : -1;
                if (verdict.original->last_offset >= _high_watermark) {
                    // The original is not durable yet: answer when it is.
                    _retries.push_back({verdict.original->last_offset, out, std::move(done)});
                    return;
                }
                lock.unlock();
                done(out);
                return;
            }
            if (verdict.verdict != coordinator::sequence_verdict::accept) {
                switch (verdict.verdict) {
                    case coordinator::sequence_verdict::duplicate:
                        out.error = error_code::duplicate_sequence_number;
                        out.message = "a batch repeats an appended batch";
                        break;
                    case coordinator::sequence_verdict::invalid_epoch:
                        out.error = error_code::invalid_producer_epoch;
                        out.message = "producer epoch " + std::to_string(h.producer_epoch) +
                                      " is older than the current epoch of producer " +
                                      std::to_string(h.producer_id);
                        break;
                    default:
                        out.error = error_code::out_of_order_sequence_number;
                        out.message = "out of order sequence number " +
                                      std::to_string(h.base_sequence) + " for producer " +
                                      std::to_string(h.producer_id);
                        break;
                }
                lock.unlock();
                done(out);
                return;
            }
            coordinator::batch_metadata meta{
                h.base_sequence,
                coordinator::producer_state::last_sequence(h.base_sequence, h.record_count), next,
                next + count - 1, log_append_time >= 0 ? log_append_time : h.max_timestamp};
            if (batches.size() > 1) {
                if (state == &_producers) {
                    trial = _producers;
                    state = &trial;
                }
                trial.record(h.producer_id, h.producer_epoch, meta);
            }
            plan.push_back({h.producer_id, h.producer_epoch, meta});
        }
        next += count;
    }
    // Assign offsets: rewrite each batch in place. The buffer is ours (the
    // decoded request's records), not yet shared with any reader.
    auto* base = const_cast<uint8_t*>(records.data());
    int64_t at = _next_offset;
    int64_t max_ts = -1;
    int64_t max_ts_offset = -1;
    for (const auto& b : batches) {
        size_t pos = static_cast<size_t>(b.bytes.data() - records.data());
        std::span<uint8_t> bytes(base + pos, b.bytes.size());
        (void)set_base_offset(bytes, at);
        (void)set_partition_leader_epoch(bytes, _leader_epoch);
        int64_t batch_max_ts = b.header.max_timestamp;
        if (log_append_time >= 0) {
            (void)set_max_timestamp(bytes, timestamp_type::log_append_time, log_append_time);
            batch_max_ts = log_append_time;
        }
        int64_t last = at + b.header.last_offset_delta;
        if (batch_max_ts > max_ts) {
            max_ts = batch_max_ts;
            max_ts_offset = last;
        }
        at = last + 1;
    }
    const int64_t first = _next_offset;
    const int64_t count = at - first;
    auto st = _store.append(
        _stream, _stream_epoch, offset(first), static_cast<int32_t>(count), max_ts,
        std::move(records),
        [this, first, end = at, max_ts, max_ts_offset, log_append_time, done](status written) {
            produce_outcome result;
            if (!written) {
                result.error = to_kafka_error(written.error_value());
                result.message = written.error_value().message;
                std::vector<pending_retry> retries;
                {
                    std::lock_guard l(_mutex);
                    _failed = true;
                    retries.swap(_retries);
                }
                done(result);
                for (auto& r : retries) {
                    produce_outcome failed = r.outcome;
                    failed.error = result.error;
                    failed.message = result.message;
                    failed.base_offset = -1;
                    r.done(failed);
                }
                return;
            }
            {
                std::lock_guard l(_mutex);
                if (max_ts > _max_timestamp) {
                    _max_timestamp = max_ts;
                    _max_timestamp_offset = max_ts_offset;
                }
                result.log_start_offset = _log_start;
            }
            on_durable(end);
            result.base_offset = first;
            result.log_append_time = log_append_time;
            done(result);
        });
    if (!st) {
        // Not accepted (WAL queue full, stream fenced, store failed): nothing
        // was appended and the offsets stay free.
        const error& e = st.error_value();
        out.error = e.code == errc::too_large ? error_code::request_timed_out : to_kafka_error(e);
        out.message = e.message;
        if (e.code == errc::conflict || e.code == errc::not_found) {
            _failed = true;
        }
        lock.unlock();
        done(out);
        return;
    }
    // Accepted: the offsets are taken and the producer state moves on (a
    // retry sent before this append is durable is then seen as a duplicate).
    _next_offset = at;
    for (const auto& p : plan) {
        _producers.record(p.producer_id, p.producer_epoch, p.meta);
    }
}

void partition::on_durable(int64_t end_offset) {
    std::vector<std::pair<uint64_t, std::function<void()>>> wake;
    std::vector<pending_retry> answered;
    {
        std::lock_guard lock(_mutex);
        if (end_offset <= _high_watermark) {
            return;
        }
        _high_watermark = end_offset;
        wake.swap(_waiters);
        for (auto it = _retries.begin(); it != _retries.end();) {
            if (it->last_offset < _high_watermark) {
                answered.push_back(std::move(*it));
                it = _retries.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (auto& r : answered) {
        r.done(r.outcome);
    }
    for (auto& [token, fn] : wake) {
        fn();
    }
}

result<std::vector<stream::stream_entry>> partition::read(int64_t start, size_t max_bytes) {
    return _store.read(_stream, offset(start), max_bytes);
}

result<std::optional<int64_t>> partition::offset_for_timestamp(int64_t timestamp) {
    auto found = _store.find_offset_by_timestamp(_stream, timestamp);
    if (!found) {
        return found.error_value();
    }
    if (!*found) {
        return std::optional<int64_t>();
    }
    return std::optional<int64_t>((*found)->value());
}

status partition::trim(int64_t new_start) {
    FLOE_TRY(_store.trim(_stream, offset(new_start)));
    std::lock_guard lock(_mutex);
    _log_start = std::max(_log_start, new_start);
    _producers.forget_below(_log_start);
    return ok();
}

partition_offsets partition::offsets() const {
    std::lock_guard lock(_mutex);
    return {_log_start, _high_watermark};
}

std::pair<int64_t, int64_t> partition::max_timestamp() const {
    std::lock_guard lock(_mutex);
    return {_max_timestamp, _max_timestamp_offset};
}

uint64_t partition::wait_for_data(int64_t seen_high_watermark, std::function<void()> wake) {
    std::unique_lock lock(_mutex);
    uint64_t token = _next_token++;
    if (_high_watermark > seen_high_watermark) {
        lock.unlock();
        wake();
        return token;
    }
    _waiters.emplace_back(token, std::move(wake));
    return token;
}

void partition::cancel_wait(uint64_t token) {
    std::lock_guard lock(_mutex);
    std::erase_if(_waiters, [&](const auto& w) { return w.first == token; });
}

coordinator::producer_state partition::producers() const {
    std::lock_guard lock(_mutex);
    return _producers;
}

}  // namespace floe::kafka
