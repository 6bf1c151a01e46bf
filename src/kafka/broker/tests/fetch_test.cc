// Fetch over a real connection: what was produced is read back byte for
// byte; long polls; size limits; offsets out of range; topic ids; what Floe
// declines (fetch sessions, leader epochs it never had).
//
// Timing checks are one-sided where the machine's load could stretch them:
// "returned no earlier than max_wait" and "returned well before max_wait
// once data arrived", with seconds of slack.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "kafka/broker/tests/data_fixture.h"

namespace floe::kafka {
namespace {

using namespace testing;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

class FetchTest : public DataTest {
protected:
    // Produces `batch` to topic-partition and checks its base offset.
    void produce_at(const std::string& topic, int32_t partition, const byte_vector& batch,
                    int64_t expected_offset) {
        auto answer = produce(topic, partition, batch);
        ASSERT_EQ(answer.error_code, 0);
        ASSERT_EQ(answer.base_offset, expected_offset);
    }

    static milliseconds since(steady_clock::time_point start) {
        return std::chrono::duration_cast<milliseconds>(steady_clock::now() - start);
    }
};

TEST_F(FetchTest, ReadsBackExactlyWhatWasProduced) {
    create_topic("t");
    byte_vector first = make_batch({.values = {"a", "b", "c"}, .key = "k", .header_value = "h"});
    byte_vector second = make_batch({.values = {"d"}, .codec = compression_codec::lz4});
    byte_vector third = make_batch({.values = {"e", "f"},
                                    .codec = compression_codec::zstd,
                                    .producer_id = 77,
                                    .producer_epoch = 3,
                                    .base_sequence = 0});
    produce_at("t", 0, first, 0);
    produce_at("t", 0, second, 3);
    produce_at("t", 0, third, 4);
    const byte_vector stored =
        concat({as_stored(first, 0), as_stored(second, 3), as_stored(third, 4)});
    for (int16_t version : {int16_t{4}, int16_t{7}, int16_t{11}, int16_t{12}}) {
        auto fetched = fetch("t", 0, 0, 1 << 20, version);
        EXPECT_EQ(fetched.error_code, 0) << version;
        EXPECT_EQ(fetched.high_watermark, 6);
        EXPECT_EQ(fetched.last_stable_offset, 6);
        if (version >= 5) {
            EXPECT_EQ(fetched.log_start_offset, 0);
        }
        ASSERT_TRUE(fetched.records.has_value());
        EXPECT_EQ(*fetched.records, stored) << version;
    }
    auto records = decode_all(stored);
    EXPECT_EQ(values_of(records), (strings{"a", "b", "c", "d", "e", "f"}));
    EXPECT_EQ(offsets_of(records), (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
    // From inside the log: the batch holding the offset and those after it.
    auto middle = fetch("t", 0, 3);
    ASSERT_TRUE(middle.records.has_value());
    EXPECT_EQ(*middle.records, concat({as_stored(second, 3), as_stored(third, 4)}));
    auto inside = fetch("t", 0, 5);
    ASSERT_TRUE(inside.records.has_value());
    EXPECT_EQ(*inside.records, as_stored(third, 4));
}

TEST_F(FetchTest, AtTheHighWatermarkWaitsMaxWait) {
    create_topic("t");
    produce_at("t", 0, make_batch({.values = {"a"}}), 0);
    auto client = connect();
    auto req = fetch_request_for("t", 0, 1);
    req.max_wait_ms = 500;
    req.min_bytes = 1;
    const auto start = steady_clock::now();
    auto res = client->call<fetch_response>(req, 12);
    const auto elapsed = since(start);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->responses.size(), 1u);
    ASSERT_EQ(res->responses[0].partitions.size(), 1u);
    const auto& p = res->responses[0].partitions[0];
    EXPECT_EQ(p.error_code, 0);
    EXPECT_EQ(p.high_watermark, 1);
    ASSERT_TRUE(p.records.has_value());
    EXPECT_TRUE(p.records->empty());
    EXPECT_GE(elapsed, milliseconds(500));
    EXPECT_LT(elapsed, milliseconds(10000));
}

TEST_F(FetchTest, MinBytesNotReachedReturnsWhatThereIsAfterMaxWait) {
    create_topic("t");
    byte_vector batch = make_batch({.values = {"small"}});
    produce_at("t", 0, batch, 0);
    auto client = connect();
    auto req = fetch_request_for("t", 0, 0);
    req.max_wait_ms = 300;
    req.min_bytes = 1 << 20;
    const auto start = steady_clock::now();
    auto res = client->call<fetch_response>(req, 12);
    const auto elapsed = since(start);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->responses.size(), 1u);
    ASSERT_EQ(res->responses[0].partitions.size(), 1u);
    ASSERT_TRUE(res->responses[0].partitions[0].records.has_value());
    EXPECT_EQ(*res->responses[0].partitions[0].records, as_stored(batch, 0));
    EXPECT_GE(elapsed, milliseconds(300));
    EXPECT_LT(elapsed, milliseconds(10000));
}

TEST_F(FetchTest, LongPollReturnsSoonAfterAProduce) {
    create_topic("t");
    auto poller = connect();
    auto req = fetch_request_for("t", 0, 0);
    req.max_wait_ms = 5000;
    req.min_bytes = 1;
    const auto start = steady_clock::now();
    ASSERT_TRUE(poller->send(req, 12));
    // Let the fetch find nothing and park (not needed for correctness: data
    // arriving before it parks is read at once).
    std::this_thread::sleep_for(milliseconds(200));
    byte_vector batch = make_batch({.values = {"wake", "up"}});
    produce_at("t", 0, batch, 0);
    auto res = poller->receive<fetch_response>(12);
    const auto elapsed = since(start);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->responses.size(), 1u);
    ASSERT_EQ(res->responses[0].partitions.size(), 1u);
    const auto& p = res->responses[0].partitions[0];
    EXPECT_EQ(p.error_code, 0);
    EXPECT_EQ(p.high_watermark, 2);
    ASSERT_TRUE(p.records.has_value());
    EXPECT_EQ(*p.records, as_stored(batch, 0));
    // Well before max_wait: woken by the produce, not by the timer.
    EXPECT_LT(elapsed, milliseconds(4500));
}

TEST_F(FetchTest, LongPollOnSeveralPartitionsWakesForAnyOfThem) {
    create_topic("t", 3);
    auto poller = connect();
    fetch_request req;
    req.replica_id = -1;
    req.max_wait_ms = 5000;
    req.min_bytes = 1;
    fetch_request::fetch_topic t;
    t.topic = "t";
    for (int32_t i = 0; i < 3; ++i) {
        t.partitions.push_back({i, -1, 0, -1, -1, 1 << 20, {}, {}});
    }
    req.topics.push_back(t);
    const auto start = steady_clock::now();
    ASSERT_TRUE(poller->send(req, 12));
    std::this_thread::sleep_for(milliseconds(200));
    produce_at("t", 2, make_batch({.values = {"two"}}), 0);
    auto res = poller->receive<fetch_response>(12);
    ASSERT_TRUE(res);
    EXPECT_LT(since(start), milliseconds(4500));
    ASSERT_EQ(res->responses.size(), 1u);
    ASSERT_EQ(res->responses[0].partitions.size(), 3u);
    ASSERT_TRUE(res->responses[0].partitions[2].records.has_value());
    EXPECT_EQ(values_of(decode_all(*res->responses[0].partitions[2].records)), (strings{"two"}));
    EXPECT_TRUE(res->responses[0].partitions[0].records->empty());
}

class FetchLimitsTest : public FetchTest {
protected:
    // Three batches of `batch_size` bytes in each of partitions 0 and 1, each
    // produced alone (one stored entry per batch).
    void SetUp() override {
        FetchTest::SetUp();
        create_topic("t", 2);
        for (int32_t partition = 0; partition < 2; ++partition) {
            for (int i = 0; i < 3; ++i) {
                byte_vector batch =
                    make_batch({.values = {std::string(1000, static_cast<char>('a' + i))},
                                .first_timestamp = 1000});
                batch_size = batch.size();
                produce_at("t", partition, batch, i);
            }
        }
    }

    // A fetch of partitions `order` (each with `partition_max_bytes`) from
    // offset 0 under `max_bytes`; the number of whole batches each returned.
    std::vector<size_t> batches_returned(std::vector<int32_t> order, int32_t partition_max_bytes,
                                         int32_t max_bytes) {
        auto client = connect();
        fetch_request req = fetch_request_for("t", order[0], 0, partition_max_bytes);
        for (size_t i = 1; i < order.size(); ++i) {
            req.topics[0].partitions.push_back(req.topics[0].partitions[0]);
            req.topics[0].partitions.back().partition = order[i];
        }
        req.max_bytes = max_bytes;
        auto res = client->call<fetch_response>(req, 12);
        std::vector<size_t> out;
        if (!res || res->responses.size() != 1 ||
            res->responses[0].partitions.size() != order.size()) {
            ADD_FAILURE() << "unexpected Fetch response shape";
            return out;
        }
        for (size_t i = 0; i < order.size(); ++i) {
            const auto& p = res->responses[0].partitions[i];
            EXPECT_EQ(p.partition_index, order[i]);
            EXPECT_EQ(p.error_code, 0);
            EXPECT_TRUE(p.records.has_value());
            out.push_back(p.records ? batches_of(*p.records).size() : 0);
            if (p.records) {
                EXPECT_EQ(p.records->size(), out.back() * batch_size);
            }
        }
        return out;
    }

    size_t batch_size = 0;
};

TEST_F(FetchLimitsTest, PartitionMaxBytes) {
    const auto size = static_cast<int32_t>(batch_size);
    // The first batch comes back even when larger than the limit.
    EXPECT_EQ(batches_returned({0}, 10, INT32_MAX), (std::vector<size_t>{1}));
    EXPECT_EQ(batches_returned({0}, 2 * size - 1, INT32_MAX), (std::vector<size_t>{1}));
    EXPECT_EQ(batches_returned({0}, 2 * size, INT32_MAX), (std::vector<size_t>{2}));
    EXPECT_EQ(batches_returned({0}, 1 << 20, INT32_MAX), (std::vector<size_t>{3}));
    // Only for the first partition with data: the next one keeps to its limit.
    EXPECT_EQ(batches_returned({1, 0}, 10, INT32_MAX), (std::vector<size_t>{1, 0}));
    EXPECT_EQ(batches_returned({1, 0}, size, INT32_MAX), (std::vector<size_t>{1, 1}));
}

TEST_F(FetchLimitsTest, ResponseMaxBytes) {
    const auto size = static_cast<int32_t>(batch_size);
    EXPECT_EQ(batches_returned({0, 1}, 1 << 20, 10), (std::vector<size_t>{1, 0}));
    EXPECT_EQ(batches_returned({0, 1}, 1 << 20, 0), (std::vector<size_t>{1, 0}));
    EXPECT_EQ(batches_returned({0, 1}, 1 << 20, 2 * size + size / 2), (std::vector<size_t>{2, 0}));
    EXPECT_EQ(batches_returned({0, 1}, 1 << 20, 4 * size), (std::vector<size_t>{3, 1}));
    EXPECT_EQ(batches_returned({1, 0}, 1 << 20, 6 * size), (std::vector<size_t>{3, 3}));
}

TEST_F(FetchTest, OffsetOutOfRange) {
    create_topic("t");
    produce_at("t", 0, make_batch({.values = {"a", "b", "c"}}), 0);
    produce_at("t", 0, make_batch({.values = {"d", "e"}}), 3);
    produce_at("t", 0, make_batch({.values = {"f", "g"}}), 5);
    auto at_end = fetch("t", 0, 7);
    EXPECT_EQ(at_end.error_code, 0);
    ASSERT_TRUE(at_end.records.has_value());
    EXPECT_TRUE(at_end.records->empty());
    for (int64_t offset : {int64_t{8}, int64_t{1000}, INT64_MAX, int64_t{-1}, INT64_MIN}) {
        auto beyond = fetch("t", 0, offset);
        EXPECT_EQ(beyond.error_code, code(error_code::offset_out_of_range)) << offset;
        EXPECT_EQ(beyond.high_watermark, 7);
        EXPECT_EQ(beyond.log_start_offset, 0);
        EXPECT_TRUE(!beyond.records || beyond.records->empty());
    }
    ASSERT_EQ(delete_records("t", 0, 3), 0);
    auto below = fetch("t", 0, 2);
    EXPECT_EQ(below.error_code, code(error_code::offset_out_of_range));
    EXPECT_EQ(below.log_start_offset, 3);
    EXPECT_EQ(below.high_watermark, 7);
    EXPECT_EQ(fetch("t", 0, 0).error_code, code(error_code::offset_out_of_range));
    auto from_start = fetch("t", 0, 3);
    EXPECT_EQ(from_start.error_code, 0);
    EXPECT_EQ(from_start.log_start_offset, 3);
    ASSERT_TRUE(from_start.records.has_value());
    auto records = decode_all(*from_start.records);
    ASSERT_FALSE(records.empty());
    EXPECT_EQ(records.front().offset, 3);
    EXPECT_EQ(values_of(records), (strings{"d", "e", "f", "g"}));
}

TEST_F(FetchTest, UnknownTopicOrPartition) {
    create_topic("t", 2);
    auto client = connect();
    fetch_request req = fetch_request_for("t", 2, 0);
    req.topics[0].partitions.push_back(req.topics[0].partitions[0]);
    req.topics[0].partitions.back().partition = -1;
    req.topics[0].partitions.push_back(req.topics[0].partitions[0]);
    req.topics[0].partitions.back().partition = 1;
    req.topics.push_back(fetch_request_for("missing", 0, 0).topics[0]);
    req.max_wait_ms = 20000;  // an error answers at once
    req.min_bytes = 1;
    const auto start = steady_clock::now();
    auto res = client->call<fetch_response>(req, 12);
    ASSERT_TRUE(res);
    EXPECT_LT(since(start), milliseconds(10000));
    ASSERT_EQ(res->responses.size(), 2u);
    EXPECT_EQ(res->responses[0].topic, "t");
    EXPECT_EQ(res->responses[1].topic, "missing");
    ASSERT_EQ(res->responses[0].partitions.size(), 3u);
    ASSERT_EQ(res->responses[1].partitions.size(), 1u);
    const int16_t unknown = code(error_code::unknown_topic_or_partition);
    EXPECT_EQ(res->responses[0].partitions[0].error_code, unknown);
    EXPECT_EQ(res->responses[0].partitions[0].high_watermark, -1);
    EXPECT_EQ(res->responses[0].partitions[1].error_code, unknown);
    EXPECT_EQ(res->responses[0].partitions[2].error_code, 0);
    EXPECT_EQ(res->responses[1].partitions[0].error_code, unknown);
    EXPECT_FALSE(harness().registry().find("missing").has_value());
}

TEST_F(FetchTest, TopicIdsFromVersion13) {
    auto topic = create_topic("t", 2);
    byte_vector batch = make_batch({.values = {"by", "id"}});
    produce_at("t", 1, batch, 0);
    uuid id;
    id.bytes = topic.id;
    ASSERT_FALSE(id.is_zero());
    uuid stranger;
    stranger.bytes.fill(0x5a);
    for (int16_t version = 13; version <= 17; ++version) {
        auto client = connect();
        fetch_request req = fetch_request_for("", 1, 0);
        req.topics[0].topic_id = id;
        req.topics[0].partitions.push_back(req.topics[0].partitions[0]);
        req.topics[0].partitions.back().partition = 7;
        req.topics.push_back(req.topics[0]);
        req.topics.back().topic_id = stranger;
        auto res = client->call<fetch_response>(req, version);
        ASSERT_TRUE(res) << version;
        ASSERT_EQ(res->responses.size(), 2u);
        EXPECT_EQ(res->responses[0].topic_id, id);
        EXPECT_EQ(res->responses[1].topic_id, stranger);
        ASSERT_EQ(res->responses[0].partitions.size(), 2u);
        const auto& known = res->responses[0].partitions[0];
        EXPECT_EQ(known.error_code, 0) << version;
        EXPECT_EQ(known.high_watermark, 2);
        ASSERT_TRUE(known.records.has_value());
        EXPECT_EQ(*known.records, as_stored(batch, 0));
        EXPECT_EQ(res->responses[0].partitions[1].error_code,
                  code(error_code::unknown_topic_or_partition));
        ASSERT_EQ(res->responses[1].partitions.size(), 2u);
        for (const auto& p : res->responses[1].partitions) {
            EXPECT_EQ(p.error_code, code(error_code::unknown_topic_id)) << version;
        }
    }
}

TEST_F(FetchTest, FetchSessionsAreDeclined) {
    create_topic("t");
    produce_at("t", 0, make_batch({.values = {"a"}}), 0);
    auto client = connect();
    auto req = fetch_request_for("t", 0, 0);
    req.session_id = 12;
    req.session_epoch = 1;
    auto res = client->call<fetch_response>(req, 12);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->error_code, code(error_code::fetch_session_id_not_found));
    EXPECT_EQ(res->session_id, 0);
    EXPECT_TRUE(res->responses.empty());
    // The connection is still usable; without a session the fetch works,
    // and a full fetch that asks for a new session gets none (id 0).
    req.session_id = 0;
    req.session_epoch = 0;
    res = client->call<fetch_response>(req, 7);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->error_code, 0);
    EXPECT_EQ(res->session_id, 0);
    ASSERT_EQ(res->responses.size(), 1u);
    EXPECT_EQ(res->responses[0].partitions[0].error_code, 0);
}

TEST_F(FetchTest, LeaderEpochs) {
    create_topic("t");
    produce_at("t", 0, make_batch({.values = {"a"}}), 0);
    auto with_epoch = [&](int32_t epoch) {
        auto req = fetch_request_for("t", 0, 0);
        req.topics[0].partitions[0].current_leader_epoch = epoch;
        return fetch_one(req, 12);
    };
    EXPECT_EQ(with_epoch(-1).error_code, 0);
    auto current = with_epoch(0);
    EXPECT_EQ(current.error_code, 0);
    ASSERT_TRUE(current.records.has_value());
    EXPECT_FALSE(current.records->empty());
    auto newer = with_epoch(1);
    EXPECT_EQ(newer.error_code, code(error_code::unknown_leader_epoch));
    EXPECT_TRUE(!newer.records || newer.records->empty());
    EXPECT_EQ(with_epoch(INT32_MAX).error_code, code(error_code::unknown_leader_epoch));
}

}  // namespace
}  // namespace floe::kafka
