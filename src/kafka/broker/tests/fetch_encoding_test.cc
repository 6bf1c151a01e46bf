// The zero-copy Fetch encoding equals the generated codec's, byte for byte,
// at every Fetch version, for random responses split into random segments.
#include "kafka/broker/handlers/fetch_encoding.h"

#include <gtest/gtest.h>

#include <random>

using namespace floe;
using namespace floe::kafka;

namespace {

byte_vector random_bytes(std::mt19937_64& rng, size_t n) {
    byte_vector out(n);
    for (auto& b : out) {
        b = static_cast<uint8_t>(rng());
    }
    return out;
}

}  // namespace

TEST(FetchEncoding, EqualsTheGeneratedCodecAtEveryVersion) {
    std::mt19937_64 rng(7);
    for (int16_t version = 4; version <= 17; ++version) {
        for (int round = 0; round < 40; ++round) {
            fetch_response full;
            full.throttle_time_ms = static_cast<int32_t>(rng() % 100);
            full.error_code = static_cast<int16_t>(rng() % 2);
            full.session_id = 0;
            std::vector<std::vector<std::vector<shared_buffer>>> records;
            fetch_response skeleton;
            size_t topics = rng() % 4;
            for (size_t t = 0; t < topics; ++t) {
                fetch_response::fetchable_topic_response topic;
                topic.topic = "topic-" + std::to_string(rng() % 1000);
                for (auto& b : topic.topic_id.bytes) {
                    b = static_cast<uint8_t>(rng());
                }
                records.emplace_back();
                size_t partitions = rng() % 5;
                for (size_t p = 0; p < partitions; ++p) {
                    fetch_response::partition_data pd;
                    pd.partition_index = static_cast<int32_t>(p);
                    pd.error_code = static_cast<int16_t>(rng() % 3);
                    pd.high_watermark = static_cast<int64_t>(rng() % 100000);
                    pd.last_stable_offset = pd.high_watermark;
                    pd.log_start_offset = static_cast<int64_t>(rng() % 10);
                    pd.aborted_transactions = std::vector<fetch_response::aborted_transaction>{};
                    // Records in up to 4 segments, sometimes none at all.
                    std::vector<shared_buffer> parts;
                    byte_vector whole;
                    size_t segments = rng() % 5;
                    for (size_t s = 0; s < segments; ++s) {
                        byte_vector bytes = random_bytes(rng, rng() % 300);
                        whole.insert(whole.end(), bytes.begin(), bytes.end());
                        parts.push_back(shared_buffer::adopt(std::move(bytes)));
                    }
                    pd.records = byte_vector{};
                    topic.partitions.push_back(pd);
                    records.back().push_back(std::move(parts));
                    pd.records = std::move(whole);
                }
                skeleton.responses.push_back(topic);
                for (size_t p = 0; p < topic.partitions.size(); ++p) {
                    byte_vector whole;
                    for (const auto& s : records.back()[p]) {
                        whole.insert(whole.end(), s.data(), s.data() + s.size());
                    }
                    topic.partitions[p].records = std::move(whole);
                }
                full.responses.push_back(std::move(topic));
            }
            skeleton.throttle_time_ms = full.throttle_time_ms;
            skeleton.error_code = full.error_code;
            skeleton.session_id = full.session_id;

            byte_vector expected;
            byte_writer w(expected);
            full.encode(w, version);
            response r = encode_fetch_response(skeleton, records, version);
            byte_vector got;
            for (const auto& s : r.body) {
                got.insert(got.end(), s.data(), s.data() + s.size());
            }
            ASSERT_EQ(got, expected) << "version " << version << " round " << round;
        }
    }
}

TEST(FetchEncoding, RecordSegmentsAreSharedNotCopied) {
    fetch_response skeleton;
    fetch_response::fetchable_topic_response topic;
    topic.topic = "t";
    fetch_response::partition_data pd;
    pd.records = byte_vector{};
    topic.partitions.push_back(pd);
    skeleton.responses.push_back(topic);
    auto stored = shared_buffer::adopt(byte_vector(1000, 0x42));
    std::vector<std::vector<std::vector<shared_buffer>>> records{{{stored}}};
    for (int16_t version : {int16_t{4}, int16_t{11}, int16_t{12}, int16_t{16}}) {
        response r = encode_fetch_response(skeleton, records, version);
        bool found = false;
        for (const auto& s : r.body) {
            found = found || s.data() == stored.data();
        }
        EXPECT_TRUE(found) << "version " << version;
    }
}
