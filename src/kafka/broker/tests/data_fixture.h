// Test support for the Produce and Fetch tests: record batches built the way
// a producer builds them, and one-call Produce, Fetch and DeleteRecords
// helpers over the broker fixture's client (broker_fixture.h).
//
//   class ProduceTest : public floe::kafka::testing::DataTest {};
//   TEST_F(ProduceTest, Appends) {
//       create_topic("t");
//       auto answer = produce("t", 0, make_batch({.values = {"a", "b"}}));
//       EXPECT_EQ(answer.base_offset, 0);
//       auto fetched = fetch("t", 0, 0);
//       EXPECT_EQ(values_of(decode_all(*fetched.records)), (strings{"a", "b"}));
//   }
//
// Failures inside a helper are test failures (ADD_FAILURE) and the helper
// returns a value no broker sends (error code k_no_answer), so the calling
// test fails on its own checks too instead of crashing.
//
// Threading: as broker_fixture.h (one test thread; a client per thread).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "kafka/broker/tests/broker_fixture.h"
#include "kafka/protocol/generated/delete_records_request.h"
#include "kafka/protocol/generated/delete_records_response.h"
#include "kafka/protocol/generated/fetch_request.h"
#include "kafka/protocol/generated/fetch_response.h"
#include "kafka/protocol/generated/produce_request.h"
#include "kafka/protocol/generated/produce_response.h"
#include "kafka/protocol/record_batch.h"

namespace floe::kafka::testing {

using strings = std::vector<std::string>;

// An error code no broker sends: what helpers return when they got no answer.
inline constexpr int16_t k_no_answer = -999;

inline byte_span bytes_of(std::string_view text) {
    return byte_span(reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

inline std::string text_of(const std::optional<byte_vector>& bytes) {
    return bytes ? std::string(bytes->begin(), bytes->end()) : std::string("<null>");
}

// One producer batch: a record per value, timestamps first_timestamp,
// first_timestamp + 1, ...
struct records_spec {
    std::vector<std::string> values = {};
    int64_t first_timestamp = -1;                   // -1: the wall clock when built
    std::optional<std::string> key = std::nullopt;  // the same key on every record
    compression_codec codec = compression_codec::none;
    int64_t producer_id = no_producer_id;
    int16_t producer_epoch = no_producer_epoch;
    int32_t base_sequence = no_sequence;
    bool transactional = false;
    bool control = false;
    // One header ("h", value) on every record when set.
    std::optional<std::string> header_value = std::nullopt;
};

inline byte_vector make_batch(const records_spec& spec) {
    record_batch_builder::options options;
    options.codec = spec.codec;
    options.producer_id = spec.producer_id;
    options.producer_epoch = spec.producer_epoch;
    options.base_sequence = spec.base_sequence;
    options.transactional = spec.transactional;
    options.control = spec.control;
    record_batch_builder builder(options);
    int64_t timestamp = spec.first_timestamp >= 0 ? spec.first_timestamp : wall_clock_ms();
    for (const auto& value : spec.values) {
        std::vector<header_input> headers;
        if (spec.header_value) {
            headers.push_back({"h", bytes_of(*spec.header_value)});
        }
        std::optional<byte_span> key;
        if (spec.key) {
            key = bytes_of(*spec.key);
        }
        builder.append(timestamp, key, bytes_of(value), headers);
        ++timestamp;
    }
    auto built = builder.build();
    if (!built) {
        ADD_FAILURE() << "cannot build a batch: " << built.error_value().to_string();
        return {};
    }
    return std::move(*built);
}

// What the broker stores for a producer batch appended at `base_offset`:
// the same bytes with the base offset and the partition leader epoch (0)
// set; neither is covered by the CRC.
inline byte_vector as_stored(byte_vector batch, int64_t base_offset) {
    std::span<uint8_t> bytes(batch.data(), batch.size());
    EXPECT_TRUE(set_base_offset(bytes, base_offset).has_value());
    EXPECT_TRUE(set_partition_leader_epoch(bytes, 0).has_value());
    return batch;
}

inline byte_vector concat(const std::vector<byte_vector>& parts) {
    byte_vector out;
    for (const auto& p : parts) {
        out.insert(out.end(), p.begin(), p.end());
    }
    return out;
}

// The batches of a fetched records field (whole batches only).
inline std::vector<batch_view> batches_of(const byte_vector& records) {
    auto split = split_batches(records, split_mode::fetch);
    if (!split) {
        ADD_FAILURE() << "fetched records do not split: " << split.error_value().to_string();
        return {};
    }
    EXPECT_EQ(split->partial_tail_bytes, 0u);
    return std::move(split->batches);
}

// Every record of a fetched records field, validated (CRC included).
inline std::vector<record> decode_all(const byte_vector& records) {
    std::vector<record> out;
    batch_limits limits;
    limits.offsets = offset_rule::increasing;
    for (const auto& b : batches_of(records)) {
        auto decoded = decode_records(b, limits);
        if (!decoded) {
            ADD_FAILURE() << "batch at offset " << b.header.base_offset
                          << " does not decode: " << decoded.error_value().to_string();
            continue;
        }
        out.insert(out.end(), decoded->begin(), decoded->end());
    }
    return out;
}

inline strings values_of(const std::vector<record>& records) {
    strings out;
    for (const auto& r : records) {
        out.push_back(text_of(r.value));
    }
    return out;
}

inline std::vector<int64_t> offsets_of(const std::vector<record>& records) {
    std::vector<int64_t> out;
    for (const auto& r : records) {
        out.push_back(r.offset);
    }
    return out;
}

// Decodes a response body read with test_client::read_response; nullopt
// (with a test failure) unless it decodes exactly.
template <typename Response>
std::optional<Response> decode_body(const byte_vector& body, int16_t version) {
    Response out;
    byte_reader reader(body);
    status decoded = out.decode(reader, version);
    if (!decoded || !reader.ok() || !reader.at_end()) {
        ADD_FAILURE() << "response body does not decode at version " << version;
        return std::nullopt;
    }
    return out;
}

// A Produce request for one partition.
inline produce_request produce_request_for(const std::string& topic, int32_t partition,
                                           std::optional<byte_vector> records, int16_t acks = -1) {
    produce_request req;
    req.acks = acks;
    req.timeout_ms = 10000;
    produce_request::topic_produce_data t;
    t.name = topic;
    t.partition_data.push_back({partition, std::move(records), {}});
    req.topic_data.push_back(std::move(t));
    return req;
}

// A Fetch request for one partition that answers at once (max_wait 0).
inline fetch_request fetch_request_for(const std::string& topic, int32_t partition,
                                       int64_t fetch_offset,
                                       int32_t partition_max_bytes = 1 << 20) {
    fetch_request req;
    req.replica_id = -1;
    req.max_wait_ms = 0;
    req.min_bytes = 0;
    req.max_bytes = 50 << 20;
    fetch_request::fetch_topic t;
    t.topic = topic;
    fetch_request::fetch_partition p;
    p.partition = partition;
    p.fetch_offset = fetch_offset;
    p.partition_max_bytes = partition_max_bytes;
    t.partitions.push_back(p);
    req.topics.push_back(std::move(t));
    return req;
}

class DataTest : public BrokerTest {
protected:
    using partition_answer = produce_response::partition_produce_response;
    using fetched_partition = fetch_response::partition_data;

    static partition_answer no_answer() {
        partition_answer out;
        out.error_code = k_no_answer;
        out.base_offset = -999;
        return out;
    }

    // Produces `records` to one partition over `client`; the partition's
    // answer.
    partition_answer produce(kafka_client& client, const std::string& topic, int32_t partition,
                             std::optional<byte_vector> records, int16_t acks = -1,
                             int16_t version = 11) {
        auto res = client.call<produce_response>(
            produce_request_for(topic, partition, std::move(records), acks), version);
        if (!res || res->responses.size() != 1 ||
            res->responses[0].partition_responses.size() != 1) {
            ADD_FAILURE() << "unexpected Produce response shape";
            return no_answer();
        }
        EXPECT_EQ(res->responses[0].name, topic);
        EXPECT_EQ(res->responses[0].partition_responses[0].index, partition);
        return res->responses[0].partition_responses[0];
    }
    // The same over a new connection.
    partition_answer produce(const std::string& topic, int32_t partition,
                             std::optional<byte_vector> records, int16_t acks = -1,
                             int16_t version = 11) {
        auto client = connect();
        if (!client) {
            return no_answer();
        }
        return produce(*client, topic, partition, std::move(records), acks, version);
    }

    // Sends `request` and returns its single partition's answer.
    fetched_partition fetch_one(const fetch_request& request, int16_t version = 12) {
        auto client = connect();
        fetched_partition failed;
        failed.error_code = k_no_answer;
        if (!client) {
            return failed;
        }
        auto res = client->call<fetch_response>(request, version);
        if (!res || res->error_code != 0 || res->responses.size() != 1 ||
            res->responses[0].partitions.size() != 1) {
            ADD_FAILURE() << "unexpected Fetch response shape";
            return failed;
        }
        return res->responses[0].partitions[0];
    }
    // Fetches one partition from `offset` at once.
    fetched_partition fetch(const std::string& topic, int32_t partition, int64_t offset,
                            int32_t partition_max_bytes = 1 << 20, int16_t version = 12) {
        return fetch_one(fetch_request_for(topic, partition, offset, partition_max_bytes), version);
    }

    // DeleteRecords up to `offset`; the partition's error code.
    int16_t delete_records(const std::string& topic, int32_t partition, int64_t offset) {
        auto client = connect();
        if (!client) {
            return k_no_answer;
        }
        delete_records_request req;
        req.topics.push_back({topic, {{partition, offset, {}}}, {}});
        req.timeout_ms = 10000;
        auto res = client->call<delete_records_response>(req, 2);
        if (!res || res->topics.size() != 1 || res->topics[0].partitions.size() != 1) {
            ADD_FAILURE() << "unexpected DeleteRecords response shape";
            return k_no_answer;
        }
        return res->topics[0].partitions[0].error_code;
    }

    partition_offsets offsets_of_partition(const std::string& topic, int32_t partition) {
        auto p = node().find_partition(topic, partition);
        if (!p) {
            ADD_FAILURE() << "no partition " << topic << "-" << partition;
            return {-1, -1};
        }
        return p->offsets();
    }

    // Waits (at most 10 s) until the partition's high watermark reaches
    // `at_least`; false when it does not.
    bool wait_for_high_watermark(const std::string& topic, int32_t partition, int64_t at_least) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (std::chrono::steady_clock::now() < deadline) {
            if (offsets_of_partition(topic, partition).high_watermark >= at_least) {
                return true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return false;
    }
};

}  // namespace floe::kafka::testing
