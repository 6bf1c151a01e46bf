// libFuzzer target: arbitrary bytes as the records of a __consumer_offsets
// partition, replayed into a group coordinator after a restart. The input is
// a sequence of records, each
//
//   key length (uint16 LE) | key | value length (uint16 LE, 0xFFFF: tombstone) | value
//
// whose keys and values reach the real decoders (group_records.h). After the
// replay (which may refuse the log, but must not crash), every group the
// coordinator knows is described, listed and its offsets fetched, the clock
// jumps forward so that every timer fires (session expiry, retention), and
// the coordinator must still answer. Any crash or sanitizer report is a
// finding.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "coordinator/group_coordinator.h"

using namespace floe;
using namespace floe::coordinator;

namespace {

// Appends succeed at once (the fuzzer looks for crashes, not durability).
class instant_log final : public coordinator_log {
public:
    void append(std::vector<log_record> records, std::function<void(status)> done) override {
        appended += records.size();
        done(ok());
    }
    size_t appended = 0;
};

uint16_t read_u16(const uint8_t*& at, const uint8_t* end, bool& truncated) {
    if (end - at < 2) {
        truncated = true;
        return 0;
    }
    uint16_t v = static_cast<uint16_t>(at[0] | (at[1] << 8));
    at += 2;
    return v;
}

std::vector<log_record> parse(const uint8_t* data, size_t size) {
    std::vector<log_record> out;
    const uint8_t* at = data;
    const uint8_t* end = data + size;
    bool truncated = false;
    while (at < end && out.size() < 4096) {
        log_record r;
        uint16_t key_length = read_u16(at, end, truncated);
        if (truncated || static_cast<size_t>(end - at) < key_length) {
            break;
        }
        r.key.assign(at, at + key_length);
        at += key_length;
        uint16_t value_length = read_u16(at, end, truncated);
        if (truncated) {
            break;
        }
        if (value_length != 0xFFFF) {
            if (static_cast<size_t>(end - at) < value_length) {
                break;
            }
            r.value = byte_vector(at, at + value_length);
            at += value_length;
        }
        out.push_back(std::move(r));
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto records = parse(data, size);
    instant_log log;
    time_point now(std::chrono::milliseconds(1'700'000'000'000));
    topic_metadata_source topics;
    topics.lookup = [](std::string_view name) -> std::optional<topic_metadata> {
        if (name.empty() || name.size() > 8) {
            return std::nullopt;
        }
        topic_metadata m;
        m.id[0] = static_cast<uint8_t>(name.size());
        m.partition_count = static_cast<int32_t>(name.size());
        return m;
    };
    topics.list = [] { return std::vector<std::string>{"t", "topic"}; };
    group_coordinator gc(
        group_config{}, log, [&now] { return now; },
        [](std::string_view prefix) { return std::string(prefix) + "-id"; }, topics);
    (void)gc.replay(records);
    auto check_all = [&] {
        for (const auto& g : gc.list_groups()) {
            auto d = gc.describe_group(g.group_id);
            if (d.group_id != g.group_id) {
                std::abort();
            }
            (void)gc.describe_consumer_groups({g.group_id});
            (void)gc.fetch_offsets(g.group_id, std::nullopt);
        }
    };
    check_all();
    now += std::chrono::hours(24 * 30);  // every session, rebalance and retention timer
    gc.tick();
    check_all();
    return 0;
}
