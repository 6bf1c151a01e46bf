// ListOffsets, OffsetForLeaderEpoch and DeleteRecords over a real connection.
#include <gtest/gtest.h>

#include "kafka/broker/tests/broker_fixture.h"
#include "kafka/protocol/generated/delete_records_request.h"
#include "kafka/protocol/generated/delete_records_response.h"
#include "kafka/protocol/generated/list_offsets_request.h"
#include "kafka/protocol/generated/list_offsets_response.h"
#include "kafka/protocol/generated/offset_for_leader_epoch_request.h"
#include "kafka/protocol/generated/offset_for_leader_epoch_response.h"

namespace floe::kafka {
namespace {

using testing::BrokerTest;

struct listed {
    int16_t error = -999;
    int64_t offset = -999;
    int64_t timestamp = -999;
    int32_t leader_epoch = -999;
};

class OffsetsTest : public BrokerTest {
protected:
    // Partition 0 of "t" holds, after fill():
    //   offsets 0-2 timestamps 1000, 1001, 1002   (one batch)
    //   offset  3   timestamp  5000               (one batch)
    //   offsets 4-5 timestamps 2000, 2001         (one batch, gzip)
    void fill() {
        create_topic("t", 2);
        ASSERT_EQ(append("t", 0, {.values = {"a", "b", "c"}, .first_timestamp = 1000}), 0);
        ASSERT_EQ(append("t", 0, {.values = {"d"}, .first_timestamp = 5000}), 3);
        ASSERT_EQ(
            append(
                "t", 0,
                {.values = {"e", "f"}, .first_timestamp = 2000, .codec = compression_codec::gzip}),
            4);
    }

    listed list(int64_t timestamp, int32_t partition = 0, int32_t current_epoch = -1,
                int16_t version = 9, std::string topic = "t") {
        auto client = connect();
        list_offsets_request req;
        req.replica_id = -1;
        list_offsets_request::list_offsets_topic t;
        t.name = std::move(topic);
        t.partitions.push_back({partition, current_epoch, timestamp, 1, {}});
        req.topics.push_back(std::move(t));
        auto res = client->call<list_offsets_response>(req, version);
        if (!res || res->topics.size() != 1 || res->topics[0].partitions.size() != 1) {
            ADD_FAILURE() << "unexpected ListOffsets response shape";
            return {};
        }
        const auto& p = res->topics[0].partitions[0];
        return {p.error_code, p.offset, p.timestamp, p.leader_epoch};
    }

    offset_for_leader_epoch_response::epoch_end_offset end_of_epoch(int32_t epoch,
                                                                    int32_t current = -1,
                                                                    int32_t partition = 0,
                                                                    std::string topic = "t") {
        auto client = connect();
        offset_for_leader_epoch_request req;
        req.replica_id = -1;
        req.topics.push_back({std::move(topic), {{partition, current, epoch, {}}}, {}});
        auto res = client->call<offset_for_leader_epoch_response>(req, 4);
        if (!res || res->topics.size() != 1 || res->topics[0].partitions.size() != 1) {
            ADD_FAILURE() << "unexpected OffsetForLeaderEpoch response shape";
            return {};
        }
        return res->topics[0].partitions[0];
    }

    delete_records_response::delete_records_partition_result delete_to(int64_t offset,
                                                                       int32_t partition = 0,
                                                                       std::string topic = "t") {
        auto client = connect();
        delete_records_request req;
        req.topics.push_back({std::move(topic), {{partition, offset, {}}}, {}});
        req.timeout_ms = 1000;
        auto res = client->call<delete_records_response>(req, 2);
        if (!res || res->topics.size() != 1 || res->topics[0].partitions.size() != 1) {
            ADD_FAILURE() << "unexpected DeleteRecords response shape";
            return {};
        }
        return res->topics[0].partitions[0];
    }
};

TEST_F(OffsetsTest, ListOffsetsSpecialTimestamps) {
    fill();
    listed earliest = list(-2);
    EXPECT_EQ(earliest.error, 0);
    EXPECT_EQ(earliest.offset, 0);
    EXPECT_EQ(earliest.timestamp, -1);
    EXPECT_EQ(earliest.leader_epoch, 0);
    listed latest = list(-1);
    EXPECT_EQ(latest.offset, 6);
    EXPECT_EQ(latest.timestamp, -1);
    EXPECT_EQ(latest.leader_epoch, 0);
    listed max = list(-3);
    EXPECT_EQ(max.offset, 3);
    EXPECT_EQ(max.timestamp, 5000);
    EXPECT_EQ(max.leader_epoch, 0);
    EXPECT_EQ(list(-4).offset, 0);
    listed tiered = list(-5);
    EXPECT_EQ(tiered.error, 0);
    EXPECT_EQ(tiered.offset, -1);
    EXPECT_EQ(tiered.leader_epoch, -1);

    // The empty partition 1.
    EXPECT_EQ(list(-2, 1).offset, 0);
    EXPECT_EQ(list(-1, 1).offset, 0);
    listed empty_max = list(-3, 1);
    EXPECT_EQ(empty_max.error, 0);
    EXPECT_EQ(empty_max.offset, -1);
    EXPECT_EQ(empty_max.timestamp, -1);
    // read_committed reads the same offsets (version 2+).
    EXPECT_EQ(list(-1, 0, -1, 2).offset, 6);
}

TEST_F(OffsetsTest, ListOffsetsByTimestampFindsTheFirstRecord) {
    fill();
    listed first = list(0);
    EXPECT_EQ(first.offset, 0);
    EXPECT_EQ(first.timestamp, 1000);
    listed inside = list(1001);
    EXPECT_EQ(inside.error, 0);
    EXPECT_EQ(inside.offset, 1);
    EXPECT_EQ(inside.timestamp, 1001);
    EXPECT_EQ(inside.leader_epoch, 0);
    // 1500: the first record at or after it is offset 3 (5000), not 4 (2000).
    listed later = list(1500);
    EXPECT_EQ(later.offset, 3);
    EXPECT_EQ(later.timestamp, 5000);
    listed none = list(6000);
    EXPECT_EQ(none.error, 0);
    EXPECT_EQ(none.offset, -1);
    EXPECT_EQ(none.timestamp, -1);
    EXPECT_EQ(none.leader_epoch, -1);
    // After DeleteRecords, records below the log start are not answered.
    EXPECT_EQ(delete_to(2).low_watermark, 2);
    listed trimmed = list(1000);
    EXPECT_EQ(trimmed.offset, 2);
    EXPECT_EQ(trimmed.timestamp, 1002);
    EXPECT_EQ(list(-2).offset, 2);
}

TEST_F(OffsetsTest, ListOffsetsFencingAndErrors) {
    fill();
    EXPECT_EQ(list(-1, 0, 0).error, 0);
    EXPECT_EQ(list(-1, 0, 1).error, code(error_code::unknown_leader_epoch));
    EXPECT_EQ(list(-1, 0, -2).error, code(error_code::fenced_leader_epoch));
    listed unknown = list(-1, 9);
    EXPECT_EQ(unknown.error, code(error_code::unknown_topic_or_partition));
    EXPECT_EQ(unknown.offset, -1);
    EXPECT_EQ(unknown.leader_epoch, -1);
    EXPECT_EQ(list(-1, 0, -1, 9, "missing").error, code(error_code::unknown_topic_or_partition));

    // The same partition twice, and an unknown isolation level.
    auto client = connect();
    list_offsets_request req;
    req.replica_id = -1;
    list_offsets_request::list_offsets_topic t;
    t.name = "t";
    t.partitions.push_back({0, -1, -1, 1, {}});
    t.partitions.push_back({0, -1, -2, 1, {}});
    t.partitions.push_back({1, -1, -1, 1, {}});
    req.topics.push_back(t);
    auto res = client->call<list_offsets_response>(req, 5);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->topics[0].partitions.size(), 3u);
    EXPECT_EQ(res->topics[0].partitions[0].error_code, code(error_code::invalid_request));
    EXPECT_EQ(res->topics[0].partitions[1].error_code, code(error_code::invalid_request));
    EXPECT_EQ(res->topics[0].partitions[2].error_code, 0);
    req.topics[0].partitions.resize(1);
    req.isolation_level = 7;
    res = client->call<list_offsets_response>(req, 5);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->topics[0].partitions[0].error_code, code(error_code::invalid_request));
}

TEST_F(OffsetsTest, OffsetForLeaderEpoch) {
    fill();
    auto current = end_of_epoch(0);
    EXPECT_EQ(current.error_code, 0);
    EXPECT_EQ(current.leader_epoch, 0);
    EXPECT_EQ(current.end_offset, 6);
    auto later = end_of_epoch(4);
    EXPECT_EQ(later.error_code, 0);
    EXPECT_EQ(later.leader_epoch, -1);
    EXPECT_EQ(later.end_offset, -1);
    auto undefined = end_of_epoch(-1);
    EXPECT_EQ(undefined.leader_epoch, -1);
    EXPECT_EQ(undefined.end_offset, -1);
    auto older = end_of_epoch(-3);
    EXPECT_EQ(older.leader_epoch, -3);
    EXPECT_EQ(older.end_offset, 0);
    EXPECT_EQ(end_of_epoch(0, 0).error_code, 0);
    EXPECT_EQ(end_of_epoch(0, 5).error_code, code(error_code::unknown_leader_epoch));
    EXPECT_EQ(end_of_epoch(0, -4).error_code, code(error_code::fenced_leader_epoch));
    auto unknown = end_of_epoch(0, -1, 2);
    EXPECT_EQ(unknown.error_code, code(error_code::unknown_topic_or_partition));
    EXPECT_EQ(unknown.end_offset, -1);
    EXPECT_EQ(end_of_epoch(0, -1, 0, "missing").error_code,
              code(error_code::unknown_topic_or_partition));
}

TEST_F(OffsetsTest, DeleteRecords) {
    fill();
    auto below_nothing = delete_to(0);
    EXPECT_EQ(below_nothing.error_code, 0);
    EXPECT_EQ(below_nothing.low_watermark, 0);
    auto to_four = delete_to(4);
    EXPECT_EQ(to_four.error_code, 0);
    EXPECT_EQ(to_four.low_watermark, 4);
    // Moving backwards changes nothing.
    EXPECT_EQ(delete_to(1).low_watermark, 4);
    auto beyond = delete_to(7);
    EXPECT_EQ(beyond.error_code, code(error_code::offset_out_of_range));
    EXPECT_EQ(beyond.low_watermark, -1);
    EXPECT_EQ(delete_to(-2).error_code, code(error_code::offset_out_of_range));
    auto all = delete_to(-1);
    EXPECT_EQ(all.error_code, 0);
    EXPECT_EQ(all.low_watermark, 6);
    EXPECT_EQ(node().find_partition("t", 0)->offsets().log_start_offset, 6);
    EXPECT_EQ(delete_to(0, 5).error_code, code(error_code::unknown_topic_or_partition));
    EXPECT_EQ(delete_to(0, 0, "missing").error_code, code(error_code::unknown_topic_or_partition));
    // Appends continue after the new start.
    EXPECT_EQ(append("t", 0, {.values = {"g"}}), 6);
    EXPECT_EQ(list(-2).offset, 6);
    EXPECT_EQ(list(-1).offset, 7);
}

TEST_F(OffsetsTest, BadInput) {
    fill();
    auto client = connect();
    // Negative and extreme partitions and timestamps.
    list_offsets_request req;
    req.replica_id = INT32_MIN;
    list_offsets_request::list_offsets_topic t;
    t.name = "t";
    t.partitions.push_back({-1, -1, -1, 1, {}});
    t.partitions.push_back({INT32_MAX, INT32_MIN, INT64_MIN, 1, {}});
    t.partitions.push_back({0, -1, INT64_MIN, 1, {}});
    t.partitions.push_back({1, -1, INT64_MAX, 1, {}});
    req.topics.push_back(t);
    req.topics.push_back({std::string(20000, 'x'), {{0, -1, -1, 1, {}}}, {}});
    auto res = client->call<list_offsets_response>(req, 6);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->topics.size(), 2u);
    ASSERT_EQ(res->topics[0].partitions.size(), 4u);
    EXPECT_EQ(res->topics[0].partitions[0].error_code,
              code(error_code::unknown_topic_or_partition));
    EXPECT_EQ(res->topics[0].partitions[1].error_code,
              code(error_code::unknown_topic_or_partition));
    EXPECT_EQ(res->topics[0].partitions[2].error_code, 0);  // searched: the first record
    EXPECT_EQ(res->topics[0].partitions[2].offset, 0);
    EXPECT_EQ(res->topics[0].partitions[3].offset, -1);
    EXPECT_EQ(res->topics[1].partitions[0].error_code,
              code(error_code::unknown_topic_or_partition));

    delete_records_request del;
    del.topics.push_back({"t", {{0, INT64_MIN, {}}, {0, INT64_MAX, {}}, {-5, 0, {}}}, {}});
    del.timeout_ms = -1;
    auto deleted = client->call<delete_records_response>(del, 0);
    ASSERT_TRUE(deleted);
    ASSERT_EQ(deleted->topics[0].partitions.size(), 3u);
    EXPECT_EQ(deleted->topics[0].partitions[0].error_code, code(error_code::offset_out_of_range));
    EXPECT_EQ(deleted->topics[0].partitions[1].error_code, code(error_code::offset_out_of_range));
    EXPECT_EQ(deleted->topics[0].partitions[2].error_code,
              code(error_code::unknown_topic_or_partition));

    offset_for_leader_epoch_request epochs;
    epochs.replica_id = INT32_MAX;
    epochs.topics.push_back(
        {"t",
         {{-1, -1, 0, {}}, {0, INT32_MIN, 0, {}}, {0, -1, INT32_MAX, {}}, {0, -1, INT32_MIN, {}}},
         {}});
    auto ends = client->call<offset_for_leader_epoch_response>(epochs, 3);
    ASSERT_TRUE(ends);
    ASSERT_EQ(ends->topics[0].partitions.size(), 4u);
    EXPECT_EQ(ends->topics[0].partitions[0].error_code,
              code(error_code::unknown_topic_or_partition));
    EXPECT_EQ(ends->topics[0].partitions[1].error_code, code(error_code::fenced_leader_epoch));
    EXPECT_EQ(ends->topics[0].partitions[2].end_offset, -1);
    EXPECT_EQ(ends->topics[0].partitions[3].leader_epoch, INT32_MIN);
    EXPECT_EQ(ends->topics[0].partitions[3].end_offset, 0);

    // A partitions array declaring more entries than bytes (version 1).
    byte_vector body;
    byte_writer writer(body);
    writer.write_int32(-1);  // replica id
    writer.write_int32(1);   // one topic
    writer.write_int16(1);
    writer.write_uint8('t');
    writer.write_int32(100000);  // partitions
    writer.write_int32(0);
    ASSERT_TRUE(client->send_raw(list_offsets_request::api_key, 1, body));
    EXPECT_TRUE(client->closed());

    // ListOffsets version 0 and OffsetForLeaderEpoch version 1 are not served.
    auto second = connect();
    ASSERT_TRUE(second->send(list_offsets_request{}, 0));
    EXPECT_TRUE(second->closed());
    auto third = connect();
    ASSERT_TRUE(third->send(offset_for_leader_epoch_request{}, 1));
    EXPECT_TRUE(third->closed());
    // Bytes after a valid DeleteRecords body are ignored (as Kafka does).
    auto fourth = connect();
    byte_vector trailing;
    byte_writer trailing_writer(trailing);
    delete_records_request{}.encode(trailing_writer, 1);
    trailing_writer.write_int32(7);
    ASSERT_TRUE(fourth->send_raw(delete_records_request::api_key, 1, trailing));
    EXPECT_TRUE(fourth->answered(delete_records_request::api_key, 1));

    EXPECT_TRUE(harness().serving());
    EXPECT_EQ(node().find_partition("t", 0)->offsets().log_start_offset, 0);
}

}  // namespace
}  // namespace floe::kafka
