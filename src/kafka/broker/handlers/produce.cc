#include <chrono>
#include <mutex>

#include "kafka/broker/broker.h"
#include "kafka/broker/handlers/codec.h"
#include "kafka/broker/handlers/handlers.h"
#include "kafka/protocol/errors.h"
#include "kafka/protocol/generated/produce_request.h"
#include "kafka/protocol/generated/produce_response.h"

namespace floe::kafka {

namespace {

// Collects the outcomes of one request's partition appends (completed on WAL
// threads) and resumes the handler once all are in.
class produce_gather {
public:
    explicit produce_gather(size_t count) : _outcomes(count), _pending(count) {}

    void finish(size_t index, produce_outcome outcome) {
        std::unique_lock lock(_mutex);
        _outcomes[index] = std::move(outcome);
        if (--_pending == 0 && _waiter) {
            auto waiter = std::move(*_waiter);
            _waiter.reset();
            lock.unlock();
            waiter(ok());
        }
    }
    void when_done(completion<status> done) {
        std::unique_lock lock(_mutex);
        if (_pending == 0) {
            lock.unlock();
            done(ok());
            return;
        }
        _waiter = std::move(done);
    }
    const produce_outcome& outcome(size_t index) const { return _outcomes[index]; }

private:
    std::mutex _mutex;
    std::vector<produce_outcome> _outcomes;     // guarded by _mutex until all are in
    size_t _pending;                            // guarded by _mutex
    std::optional<completion<status>> _waiter;  // guarded by _mutex
};

struct checked_batches {
    error_code error = error_code::none;
    std::string message;
    std::vector<batch_view> batches;
};

// Kafka's produce-time validation of one partition's records.
checked_batches check_records(const byte_vector& records, const broker::produce_settings& settings,
                              size_t max_uncompressed, int64_t now) {
    checked_batches out;
    auto fail = [&](error_code e, std::string message) {
        out.error = e;
        out.message = std::move(message);
        out.batches.clear();
        return out;
    };
    auto split = split_batches(records, split_mode::produce);
    if (!split) {
        const error& e = split.error_value();
        if (e.code == errc::unsupported) {
            return fail(error_code::unsupported_for_message_format,
                        "only record batches of magic 2 are accepted: " + e.message);
        }
        return fail(error_code::corrupt_message, e.message);
    }
    if (split->batches.empty()) {
        return fail(error_code::invalid_record, "no record batch in the request");
    }
    batch_limits limits;
    limits.max_uncompressed_bytes = max_uncompressed;
    limits.offsets = offset_rule::contiguous;
    for (const auto& b : split->batches) {
        const batch_header& h = b.header;
        if (b.bytes.size() > static_cast<size_t>(settings.max_message_bytes)) {
            return fail(error_code::message_too_large,
                        "record batch of " + std::to_string(b.bytes.size()) +
                            " bytes exceeds max.message.bytes " +
                            std::to_string(settings.max_message_bytes));
        }
        if (h.is_control()) {
            return fail(error_code::invalid_record, "clients may not send control batches");
        }
        if (h.is_transactional()) {
            return fail(error_code::invalid_txn_state,
                        "transactional batches need a transaction; Floe does not support "
                        "transactions yet");
        }
        if (h.producer_id >= 0 && h.base_sequence < 0) {
            return fail(error_code::invalid_record,
                        "an idempotent batch must carry a base sequence");
        }
        if (h.ts_type() == timestamp_type::log_append_time) {
            return fail(error_code::invalid_timestamp,
                        "producers may not send LogAppendTime batches");
        }
        const bool check_time = !settings.log_append_time;
        status valid = for_each_record(b, limits, [&](const record_view& rec) -> status {
            if (!check_time) {
                return ok();
            }
            // Wrapping, as Kafka computes a record's timestamp; a record
            // without one (-1) is not judged, as in Kafka.
            const int64_t ts = static_cast<int64_t>(static_cast<uint64_t>(h.base_timestamp) +
                                                    static_cast<uint64_t>(rec.timestamp_delta));
            if (ts == no_timestamp) {
                return ok();
            }
            // x - y, saturated: INT64_MAX (the default bounds) means unbounded.
            auto minus = [](int64_t x, int64_t y) {
                int64_t d = 0;
                if (__builtin_sub_overflow(x, y, &d)) {
                    return x < y ? INT64_MIN : INT64_MAX;
                }
                return d;
            };
            if (minus(now, ts) > settings.timestamp_before_max_ms ||
                minus(ts, now) > settings.timestamp_after_max_ms) {
                return error(errc::invalid_argument,
                             "timestamp " + std::to_string(ts) +
                                 " of a record is out of the topic's accepted range "
                                 "(message.timestamp.before.max.ms / after.max.ms)");
            }
            return ok();
        });
        if (!valid) {
            const error& e = valid.error_value();
            if (e.message.find("timestamp ") == 0) {
                return fail(error_code::invalid_timestamp, e.message);
            }
            switch (e.code) {
                case errc::corrupt:
                    return fail(error_code::corrupt_message, e.message);
                case errc::unsupported:
                    return fail(error_code::unsupported_compression_type, e.message);
                case errc::too_large:
                    return fail(error_code::record_list_too_large, e.message);
                default:
                    return fail(error_code::invalid_record, e.message);
            }
        }
    }
    out.batches = std::move(split->batches);
    return out;
}

// Rebuilds every batch whose codec differs from `codec` (a topic with
// compression.type set to a codec), keeping offset deltas, timestamps and
// the producer fields; other batches are copied as they are.
result<byte_vector> recompress(const std::vector<batch_view>& batches, compression_codec codec,
                               size_t max_uncompressed) {
    byte_vector out;
    batch_limits limits;
    limits.max_uncompressed_bytes = max_uncompressed;
    for (const auto& b : batches) {
        const batch_header& h = b.header;
        if (h.codec() == codec) {
            out.insert(out.end(), b.bytes.begin(), b.bytes.end());
            continue;
        }
        auto records = decode_records(b, limits);
        if (!records) {
            return records.error_value();
        }
        record_batch_builder::options o;
        o.base_offset = h.base_offset;
        o.partition_leader_epoch = h.partition_leader_epoch;
        o.codec = codec;
        o.ts_type = h.ts_type();
        o.producer_id = h.producer_id;
        o.producer_epoch = h.producer_epoch;
        o.base_sequence = h.base_sequence;
        o.max_timestamp = h.max_timestamp;
        o.last_offset_delta = h.last_offset_delta;
        record_batch_builder builder(o);
        for (const auto& rec : *records) {
            std::vector<header_input> headers;
            for (const auto& hd : rec.headers) {
                headers.push_back({hd.key, hd.value ? std::optional<byte_span>(*hd.value)
                                                    : std::optional<byte_span>()});
            }
            auto opt_span = [](const std::optional<byte_vector>& v) {
                return v ? std::optional<byte_span>(*v) : std::optional<byte_span>();
            };
            builder.append_at(static_cast<int32_t>(rec.offset - h.base_offset), rec.timestamp,
                              opt_span(rec.key), opt_span(rec.value), headers);
        }
        auto built = builder.build();
        if (!built) {
            return built.error_value();
        }
        out.insert(out.end(), built->begin(), built->end());
    }
    return out;
}

}  // namespace

asio::awaitable<response> handle_produce(broker& b, request& r) {
    auto req = decode_request<produce_request>(r);
    const int16_t version = r.api_version();
    produce_response out;
    const int64_t now = wall_clock_ms();
    const bool valid_acks = req.acks == 0 || req.acks == 1 || req.acks == -1;

    // One slot per partition, in request order.
    struct slot {
        size_t topic;
        int32_t index;
        bool submitted = false;
        produce_outcome immediate;
    };
    std::vector<slot> slots;
    size_t partitions = 0;
    for (const auto& t : req.topic_data) {
        partitions += t.partition_data.size();
    }
    auto gather = std::make_shared<produce_gather>(partitions);
    size_t slot_index = 0;
    for (size_t ti = 0; ti < req.topic_data.size(); ++ti) {
        auto& t = req.topic_data[ti];
        auto topic = b.topics().find(t.name);
        for (auto& p : t.partition_data) {
            slot s{ti, p.index, false, {}};
            const size_t my_slot = slot_index++;
            auto reject = [&](error_code e, std::string message) {
                s.immediate.error = e;
                s.immediate.message = std::move(message);
                gather->finish(my_slot, s.immediate);
            };
            std::shared_ptr<partition> target = topic ? b.find_partition(t.name, p.index) : nullptr;
            if (!valid_acks) {
                reject(error_code::invalid_required_acks, "acks must be -1, 0 or 1");
            } else if (req.transactional_id.has_value()) {
                reject(error_code::transactional_id_authorization_failed,
                       "Floe does not support transactions yet");
            } else if (!target) {
                reject(error_code::unknown_topic_or_partition,
                       "unknown topic or partition " + t.name + "-" + std::to_string(p.index));
            } else if (is_internal_topic(t.name)) {
                reject(error_code::invalid_topic_exception,
                       "Cannot append to internal topic " + t.name);
            } else if (!p.records.has_value()) {
                reject(error_code::invalid_record, "records are null");
            } else {
                auto settings = b.produce_settings_for(*topic);
                auto checked = check_records(*p.records, settings,
                                             b.options().max_uncompressed_batch_bytes, now);
                if (checked.error == error_code::none && settings.compression) {
                    // The topic stores one codec: rebuild batches that differ.
                    auto rebuilt = recompress(checked.batches, *settings.compression,
                                              b.options().max_uncompressed_batch_bytes);
                    if (!rebuilt) {
                        checked.error = error_code::corrupt_message;
                        checked.message = rebuilt.error_value().message;
                    } else {
                        *p.records = std::move(*rebuilt);
                        auto again = split_batches(*p.records, split_mode::produce);
                        if (!again) {
                            checked.error = error_code::unknown_server_error;
                            checked.message = again.error_value().message;
                        } else {
                            checked.batches = std::move(again->batches);
                        }
                    }
                }
                if (checked.error != error_code::none) {
                    reject(checked.error, std::move(checked.message));
                } else {
                    // The views point into the vector's heap buffer, which the
                    // shared buffer takes over without moving the bytes.
                    shared_buffer records = shared_buffer::adopt(std::move(*p.records));
                    s.submitted = true;
                    target->append(std::move(records), checked.batches,
                                   settings.log_append_time ? now : -1,
                                   [gather, my_slot](produce_outcome o) {
                                       gather->finish(my_slot, std::move(o));
                                   });
                }
            }
            slots.push_back(std::move(s));
        }
    }
    if (req.acks == 0) {
        // No response; the appends complete on their own. A request the
        // broker refused outright closes the connection, as Kafka does, so
        // the producer notices (it gets no error code to read).
        response none;
        none.send = false;
        for (const auto& s : slots) {
            none.close_connection = none.close_connection || !s.submitted;
        }
        co_return none;
    }
    auto all_done = [gather](completion<status> done) { gather->when_done(done); };
    co_await await_callback<status>(std::move(all_done));
    for (size_t i = 0; i < slots.size(); ++i) {
        const produce_outcome& o = gather->outcome(i);
        auto& topic_name = req.topic_data[slots[i].topic].name;
        if (out.responses.empty() || out.responses.back().name != topic_name) {
            out.responses.push_back({topic_name, {}, {}});
        }
        produce_response::partition_produce_response pr;
        pr.index = slots[i].index;
        pr.error_code = code(o.error);
        pr.base_offset = o.error == error_code::none ? o.base_offset : -1;
        pr.log_append_time_ms = o.log_append_time;
        pr.log_start_offset = o.log_start_offset;
        if (o.error != error_code::none && !o.message.empty()) {
            pr.error_message = o.message;
        }
        out.responses.back().partition_responses.push_back(std::move(pr));
    }
    co_return encode_response(out, version);
}

}  // namespace floe::kafka
