// InitProducerId and DescribeProducers over a real connection.
#include <gtest/gtest.h>

#include "kafka/broker/tests/broker_fixture.h"
#include "kafka/protocol/generated/describe_producers_request.h"
#include "kafka/protocol/generated/describe_producers_response.h"
#include "kafka/protocol/generated/init_producer_id_request.h"
#include "kafka/protocol/generated/init_producer_id_response.h"

namespace floe::kafka {
namespace {

using testing::BrokerTest;

class ProducersTest : public BrokerTest {
protected:
    init_producer_id_response init(std::optional<std::string> transactional_id,
                                   int64_t producer_id = -1, int16_t producer_epoch = -1,
                                   int16_t version = 5) {
        auto client = connect();
        init_producer_id_request req;
        req.transactional_id = std::move(transactional_id);
        req.transaction_timeout_ms = 60000;
        req.producer_id = producer_id;
        req.producer_epoch = producer_epoch;
        auto res = client->call<init_producer_id_response>(req, version);
        EXPECT_TRUE(res);
        return res ? *res : init_producer_id_response{};
    }
};

TEST_F(ProducersTest, InitProducerIdHandsOutNewIds) {
    auto first = init(std::nullopt);
    EXPECT_EQ(first.error_code, 0);
    EXPECT_GT(first.producer_id, 0);
    EXPECT_EQ(first.producer_epoch, 0);
    auto second = init(std::nullopt, -1, -1, 0);
    EXPECT_EQ(second.error_code, 0);
    EXPECT_GT(second.producer_id, first.producer_id);
    EXPECT_EQ(second.producer_epoch, 0);
}

TEST_F(ProducersTest, InitProducerIdBumpsTheEpochOfAKnownProducer) {
    auto first = init(std::nullopt);
    ASSERT_EQ(first.error_code, 0);
    auto bumped = init(std::nullopt, first.producer_id, 5, 3);
    EXPECT_EQ(bumped.error_code, 0);
    EXPECT_EQ(bumped.producer_id, first.producer_id);
    EXPECT_EQ(bumped.producer_epoch, 6);
    // At the last usable epoch the producer gets a new id.
    auto exhausted = init(std::nullopt, first.producer_id, 32766, 4);
    EXPECT_EQ(exhausted.error_code, 0);
    EXPECT_NE(exhausted.producer_id, first.producer_id);
    EXPECT_GT(exhausted.producer_id, 0);
    EXPECT_EQ(exhausted.producer_epoch, 0);
}

TEST_F(ProducersTest, InitProducerIdRefusesTransactions) {
    auto transactional = init(std::string("tx-1"));
    EXPECT_EQ(transactional.error_code, code(error_code::transactional_id_authorization_failed));
    EXPECT_EQ(transactional.producer_id, -1);
    EXPECT_EQ(transactional.producer_epoch, -1);
    auto empty = init(std::string(""));
    EXPECT_EQ(empty.error_code, code(error_code::invalid_request));
}

TEST_F(ProducersTest, DescribeProducersListsIdempotentProducers) {
    create_topic("t", 2);
    ASSERT_EQ(append("t", 0,
                     {.values = {"a", "b", "c"},
                      .first_timestamp = 1000,
                      .producer_id = 77,
                      .producer_epoch = 2,
                      .base_sequence = 0}),
              0);
    ASSERT_EQ(append("t", 0,
                     {.values = {"d", "e"},
                      .first_timestamp = 2000,
                      .producer_id = 77,
                      .producer_epoch = 2,
                      .base_sequence = 3}),
              3);
    ASSERT_EQ(append("t", 0,
                     {.values = {"x"},
                      .first_timestamp = 3000,
                      .producer_id = 12,
                      .producer_epoch = 0,
                      .base_sequence = 0}),
              5);
    ASSERT_EQ(append("t", 0, {.values = {"plain"}}), 6);

    auto client = connect();
    describe_producers_request req;
    req.topics.push_back({"t", {0, 1, 7}, {}});
    req.topics.push_back({"missing", {0}, {}});
    auto res = client->call<describe_producers_response>(req, 0);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->topics.size(), 2u);
    const auto& parts = res->topics[0].partitions;
    ASSERT_EQ(parts.size(), 3u);
    EXPECT_EQ(parts[0].error_code, 0);
    ASSERT_EQ(parts[0].active_producers.size(), 2u);
    const auto& p12 = parts[0].active_producers[0];
    EXPECT_EQ(p12.producer_id, 12);
    EXPECT_EQ(p12.producer_epoch, 0);
    EXPECT_EQ(p12.last_sequence, 0);
    EXPECT_EQ(p12.last_timestamp, 3000);
    const auto& p77 = parts[0].active_producers[1];
    EXPECT_EQ(p77.producer_id, 77);
    EXPECT_EQ(p77.producer_epoch, 2);
    EXPECT_EQ(p77.last_sequence, 4);
    EXPECT_EQ(p77.last_timestamp, 2001);
    EXPECT_EQ(p77.coordinator_epoch, -1);
    EXPECT_EQ(p77.current_txn_start_offset, -1);
    EXPECT_EQ(parts[1].error_code, 0);
    EXPECT_TRUE(parts[1].active_producers.empty());
    EXPECT_EQ(parts[2].error_code, code(error_code::unknown_topic_or_partition));
    EXPECT_TRUE(parts[2].error_message.has_value());
    EXPECT_EQ(res->topics[1].partitions[0].error_code,
              code(error_code::unknown_topic_or_partition));
}

TEST_F(ProducersTest, BadInput) {
    create_topic("t");
    auto odd = init(std::nullopt, 5, -1);
    EXPECT_EQ(odd.error_code, code(error_code::invalid_request));
    auto odd_epoch = init(std::nullopt, -1, 3);
    EXPECT_EQ(odd_epoch.error_code, code(error_code::invalid_request));
    // Negative ids other than -1: a new id.
    auto negative = init(std::nullopt, -5, -5);
    EXPECT_EQ(negative.error_code, 0);
    EXPECT_GT(negative.producer_id, 0);
    auto huge_name = init(std::string(30000, 't'), -1, -1, 2);
    EXPECT_EQ(huge_name.error_code, code(error_code::transactional_id_authorization_failed));

    auto client = connect();
    describe_producers_request req;
    req.topics.push_back({"t", {-1, INT32_MIN, INT32_MAX}, {}});
    req.topics.push_back({"", {}, {}});
    auto res = client->call<describe_producers_response>(req, 0);
    ASSERT_TRUE(res);
    for (const auto& p : res->topics[0].partitions) {
        EXPECT_EQ(p.error_code, code(error_code::unknown_topic_or_partition));
    }
    EXPECT_TRUE(res->topics[1].partitions.empty());

    // A partition_indexes array declaring more entries than bytes.
    byte_vector body;
    byte_writer writer(body);
    writer.write_uvarint(2);  // one topic (compact array: n + 1)
    writer.write_uvarint(2);  // name "t" (compact string: n + 1)
    writer.write_uint8('t');
    writer.write_uvarint(50000);  // partition indexes
    writer.write_uint8(0);
    writer.write_uint8(0);
    ASSERT_TRUE(client->send_raw(describe_producers_request::api_key, 0, body));
    EXPECT_TRUE(client->closed());

    // InitProducerId version 6 is not served.
    auto second = connect();
    byte_vector v5_body;
    byte_writer v5_writer(v5_body);
    init_producer_id_request{}.encode(v5_writer, 5);
    ASSERT_TRUE(second->send_raw(init_producer_id_request::api_key, 6, v5_body, 2));
    EXPECT_TRUE(second->closed());

    EXPECT_TRUE(harness().serving());
}

}  // namespace
}  // namespace floe::kafka
