#include "kafka/broker/group_log.h"

#include <chrono>

#include "kafka/protocol/record_batch.h"

namespace floe::kafka {

namespace {

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

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

}  // namespace

group_log::group_log(std::shared_ptr<partition> target, poster post)
    : _target(std::move(target)), _post(std::move(post)) {}

void group_log::append(std::vector<coordinator::log_record> records,
                       std::function<void(status)> done) {
    auto finish = [post = _post, done = std::move(done)](status outcome) {
        post([done, outcome]() { done(outcome); });
    };
    if (records.empty()) {
        finish(ok());
        return;
    }
    record_batch_builder builder({});
    const int64_t timestamp = now_ms();
    for (const auto& r : records) {
        builder.append(timestamp, byte_span(r.key),
                       r.value ? std::optional<byte_span>(*r.value) : std::nullopt);
    }
    auto built = builder.build();
    if (!built) {
        finish(built.error_value());
        return;
    }
    auto split = split_batches(*built, split_mode::produce);
    if (!split) {
        finish(split.error_value());
        return;
    }
    auto batches = split->batches;  // views into the vector's buffer, kept by adopt()
    _target->append(shared_buffer::adopt(std::move(*built)), batches, -1,
                    [finish](produce_outcome o) { finish(to_status(o)); });
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
