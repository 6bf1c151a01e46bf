// DescribeCluster, DescribeLogDirs, DescribeTopicPartitions and
// FindCoordinator over a real connection.
#include <gtest/gtest.h>

#include <chrono>
#include <climits>
#include <thread>

#include "kafka/broker/tests/broker_fixture.h"
#include "kafka/protocol/generated/describe_cluster_request.h"
#include "kafka/protocol/generated/describe_cluster_response.h"
#include "kafka/protocol/generated/describe_log_dirs_request.h"
#include "kafka/protocol/generated/describe_log_dirs_response.h"
#include "kafka/protocol/generated/describe_topic_partitions_request.h"
#include "kafka/protocol/generated/describe_topic_partitions_response.h"
#include "kafka/protocol/generated/find_coordinator_request.h"
#include "kafka/protocol/generated/find_coordinator_response.h"

namespace floe::kafka {
namespace {

using testing::BrokerTest;

using dtp_request = describe_topic_partitions_request;
using dtp_response = describe_topic_partitions_response;

class ClusterTest : public BrokerTest {
protected:
    std::optional<dtp_response> describe_partitions(
        std::vector<std::string> topics, int32_t limit,
        std::optional<dtp_request::cursor_type> cursor = std::nullopt) {
        auto client = connect();
        dtp_request req;
        for (auto& t : topics) {
            req.topics.push_back({std::move(t), {}});
        }
        req.response_partition_limit = limit;
        req.cursor = std::move(cursor);
        return client->call<dtp_response>(req, 0);
    }
};

// "topic:index,index topic:index" for compact comparisons.
std::string layout(const dtp_response& res) {
    std::string out;
    for (const auto& t : res.topics) {
        out += (out.empty() ? "" : " ") + t.name.value_or("<null>") + ":";
        for (size_t i = 0; i < t.partitions.size(); ++i) {
            out += (i ? "," : "") + std::to_string(t.partitions[i].partition_index);
        }
    }
    return out;
}

TEST_F(ClusterTest, DescribeClusterNamesThisNode) {
    auto client = connect();
    describe_cluster_request req;
    auto res = client->call<describe_cluster_response>(req, 0);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->error_code, 0);
    EXPECT_EQ(res->cluster_id, node().cluster_id());
    EXPECT_EQ(res->cluster_id.size(), 22u);
    EXPECT_EQ(res->controller_id, 1);
    ASSERT_EQ(res->brokers.size(), 1u);
    EXPECT_EQ(res->brokers[0].broker_id, 1);
    EXPECT_EQ(res->brokers[0].host, "127.0.0.1");
    EXPECT_EQ(res->brokers[0].port, harness().port());
    EXPECT_FALSE(res->brokers[0].rack.has_value());
    EXPECT_EQ(res->cluster_authorized_operations, INT32_MIN);

    req.include_cluster_authorized_operations = true;
    req.endpoint_type = 1;
    res = client->call<describe_cluster_response>(req, 1);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->endpoint_type, 1);
    EXPECT_NE(res->cluster_authorized_operations, INT32_MIN);
    EXPECT_NE(res->cluster_authorized_operations & (1 << 8), 0);  // DESCRIBE

    req.endpoint_type = 2;
    res = client->call<describe_cluster_response>(req, 1);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->error_code, code(error_code::mismatched_endpoint_type));
    req.endpoint_type = 9;
    res = client->call<describe_cluster_response>(req, 1);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->error_code, code(error_code::unsupported_endpoint_type));
}

TEST_F(ClusterTest, DescribeLogDirsReportsPartitionsAndSpace) {
    create_topic("data", 2);
    create_topic("other", 1);
    ASSERT_GE(append("data", 0, {.values = {std::string(1000, 'a'), std::string(1000, 'b')}}), 0);
    ASSERT_GE(append("data", 0, {.values = {std::string(1000, 'c')}}), 0);
    auto client = connect();
    describe_log_dirs_request all;
    all.topics = std::nullopt;
    auto res = client->call<describe_log_dirs_response>(all, 4);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->error_code, 0);
    ASSERT_EQ(res->results.size(), 1u);
    const auto& dir = res->results[0];
    EXPECT_EQ(dir.error_code, 0);
    EXPECT_EQ(dir.log_dir, (harness().dir() / "wal").string());
    EXPECT_GT(dir.total_bytes, 0);
    EXPECT_GE(dir.usable_bytes, 0);
    EXPECT_LE(dir.usable_bytes, dir.total_bytes);
    ASSERT_EQ(dir.topics.size(), 2u);
    EXPECT_EQ(dir.topics[0].name, "data");
    ASSERT_EQ(dir.topics[0].partitions.size(), 2u);
    // Three records of ~1000 bytes: an estimate from the newest entry.
    EXPECT_GT(dir.topics[0].partitions[0].partition_size, 2000);
    EXPECT_LT(dir.topics[0].partitions[0].partition_size, 5000);
    EXPECT_EQ(dir.topics[0].partitions[0].offset_lag, 0);
    EXPECT_FALSE(dir.topics[0].partitions[0].is_future_key);
    EXPECT_EQ(dir.topics[0].partitions[1].partition_size, 0);
    EXPECT_EQ(dir.topics[1].name, "other");

    describe_log_dirs_request some;
    some.topics.emplace();
    some.topics->push_back({"data", {1, 5, 1}, {}});
    some.topics->push_back({"missing", {0}, {}});
    res = client->call<describe_log_dirs_response>(some, 1);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->results.size(), 1u);
    ASSERT_EQ(res->results[0].topics.size(), 1u);
    ASSERT_EQ(res->results[0].topics[0].partitions.size(), 1u);
    EXPECT_EQ(res->results[0].topics[0].partitions[0].partition_index, 1);
}

TEST_F(ClusterTest, DescribeTopicPartitionsPagesWithACursor) {
    create_topic("t1", 3);
    create_topic("t2", 2);
    create_topic("t3", 1);
    auto first = describe_partitions({}, 4);
    ASSERT_TRUE(first);
    EXPECT_EQ(layout(*first), "t1:0,1,2 t2:0");
    ASSERT_TRUE(first->next_cursor.has_value());
    EXPECT_EQ(first->next_cursor->topic_name, "t2");
    EXPECT_EQ(first->next_cursor->partition_index, 1);
    const auto& t1 = first->topics[0];
    EXPECT_EQ(t1.error_code, 0);
    EXPECT_FALSE(t1.topic_id.is_zero());
    EXPECT_FALSE(t1.is_internal);
    const auto& p = t1.partitions[1];
    EXPECT_EQ(p.error_code, 0);
    EXPECT_EQ(p.leader_id, 1);
    EXPECT_EQ(p.leader_epoch, 0);
    EXPECT_EQ(p.replica_nodes, std::vector<int32_t>{1});
    EXPECT_EQ(p.isr_nodes, std::vector<int32_t>{1});
    ASSERT_TRUE(p.eligible_leader_replicas.has_value());  // empty, not null
    EXPECT_TRUE(p.eligible_leader_replicas->empty());
    ASSERT_TRUE(p.last_known_elr.has_value());
    EXPECT_TRUE(p.last_known_elr->empty());
    EXPECT_TRUE(p.offline_replicas.empty());

    auto second = describe_partitions({}, 4, dtp_request::cursor_type{"t2", 1, {}});
    ASSERT_TRUE(second);
    EXPECT_EQ(layout(*second), "t2:1 t3:0");
    EXPECT_FALSE(second->next_cursor.has_value());

    // A page ending exactly at a topic's end points at the next topic.
    auto exact = describe_partitions({}, 3);
    ASSERT_TRUE(exact);
    EXPECT_EQ(layout(*exact), "t1:0,1,2");
    ASSERT_TRUE(exact->next_cursor.has_value());
    EXPECT_EQ(exact->next_cursor->topic_name, "t2");
    EXPECT_EQ(exact->next_cursor->partition_index, 0);

    auto everything = describe_partitions({}, 2000);
    ASSERT_TRUE(everything);
    EXPECT_EQ(layout(*everything), "t1:0,1,2 t2:0,1 t3:0");
}

TEST_F(ClusterTest, DescribeTopicPartitionsByName) {
    create_topic("b", 2);
    create_topic("a", 1);
    auto res = describe_partitions({"b", "missing", "a", "bad name", "b"}, 100);
    ASSERT_TRUE(res);
    EXPECT_EQ(layout(*res), "a:0 b:0,1 bad name: missing:");
    EXPECT_EQ(res->topics[2].error_code, code(error_code::invalid_topic_exception));
    EXPECT_EQ(res->topics[3].error_code, code(error_code::unknown_topic_or_partition));
    EXPECT_TRUE(res->topics[3].topic_id.is_zero());

    // A cursor must name a requested topic.
    auto bad = describe_partitions({"a", "b"}, 100, dtp_request::cursor_type{"c", 0, {}});
    ASSERT_TRUE(bad);
    ASSERT_EQ(bad->topics.size(), 2u);
    EXPECT_EQ(bad->topics[0].error_code, code(error_code::invalid_request));
    EXPECT_EQ(bad->topics[1].error_code, code(error_code::invalid_request));
}

TEST_F(ClusterTest, FindCoordinatorAnswersThisNode) {
    auto client = connect();
    // The first group lookup starts creating the offsets topic: until it
    // exists the answer is COORDINATOR_NOT_AVAILABLE (clients retry).
    find_coordinator_request first;
    first.key = "group-1";
    auto waiting = client->call<find_coordinator_response>(first, 3);
    ASSERT_TRUE(waiting);
    if (waiting->error_code != 0) {
        EXPECT_EQ(waiting->error_code, code(error_code::coordinator_not_available));
        EXPECT_EQ(waiting->node_id, -1);
        EXPECT_EQ(waiting->port, -1);
    }
    for (int attempt = 0; attempt < 200 && waiting && waiting->error_code != 0; ++attempt) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        waiting = client->call<find_coordinator_response>(first, 3);
    }
    ASSERT_TRUE(waiting);
    ASSERT_EQ(waiting->error_code, 0) << "the offsets topic was not created in 10 s";
    for (int16_t version = 0; version <= 3; ++version) {
        find_coordinator_request req;
        req.key = "group-1";
        req.key_type = 0;
        auto res = client->call<find_coordinator_response>(req, version);
        ASSERT_TRUE(res) << version;
        EXPECT_EQ(res->error_code, 0) << version;
        EXPECT_EQ(res->node_id, 1) << version;
        EXPECT_EQ(res->host, "127.0.0.1") << version;
        EXPECT_EQ(res->port, harness().port()) << version;
    }
    for (int16_t version = 4; version <= 6; ++version) {
        find_coordinator_request req;
        req.key_type = 1;
        req.coordinator_keys = {"tx-a", "tx-b"};
        auto res = client->call<find_coordinator_response>(req, version);
        ASSERT_TRUE(res) << version;
        ASSERT_EQ(res->coordinators.size(), 2u);
        EXPECT_EQ(res->coordinators[0].key, "tx-a");
        EXPECT_EQ(res->coordinators[1].key, "tx-b");
        for (const auto& c : res->coordinators) {
            EXPECT_EQ(c.error_code, 0);
            EXPECT_EQ(c.node_id, 1);
            EXPECT_EQ(c.port, harness().port());
        }
    }
    find_coordinator_request share;
    share.key_type = 2;
    share.coordinator_keys = {"g:topic:0"};
    auto res = client->call<find_coordinator_response>(share, 6);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->coordinators[0].error_code, code(error_code::invalid_request));
}

TEST_F(ClusterTest, BadInput) {
    create_topic("t", 3);
    // A limit below 1 is taken as 1; a negative cursor partition is refused.
    auto clamped = describe_partitions({}, INT32_MIN);
    ASSERT_TRUE(clamped);
    EXPECT_EQ(layout(*clamped), "t:0");
    ASSERT_TRUE(clamped->next_cursor);
    EXPECT_EQ(clamped->next_cursor->partition_index, 1);
    auto negative = describe_partitions({"t"}, 10, dtp_request::cursor_type{"t", -1, {}});
    ASSERT_TRUE(negative);
    EXPECT_EQ(negative->topics[0].error_code, code(error_code::invalid_request));
    auto beyond = describe_partitions({"t"}, 10, dtp_request::cursor_type{"t", INT32_MAX, {}});
    ASSERT_TRUE(beyond);
    EXPECT_EQ(layout(*beyond), "t:");

    auto client = connect();
    find_coordinator_request odd;
    odd.key_type = -128;
    odd.key = std::string(30000, 'k');
    auto found = client->call<find_coordinator_response>(odd, 2);
    ASSERT_TRUE(found);
    EXPECT_EQ(found->error_code, code(error_code::invalid_request));

    describe_log_dirs_request dirs;
    dirs.topics.emplace();
    dirs.topics->push_back({"t", {-1, INT32_MIN, INT32_MAX}, {}});
    auto listed = client->call<describe_log_dirs_response>(dirs, 4);
    ASSERT_TRUE(listed);
    EXPECT_TRUE(listed->results[0].topics.empty());

    // A coordinator_keys array declaring more entries than bytes.
    byte_vector body;
    byte_writer writer(body);
    writer.write_int8(0);          // key type
    writer.write_uvarint(100000);  // keys
    writer.write_uint8(0);
    ASSERT_TRUE(client->send_raw(find_coordinator_request::api_key, 4, body));
    EXPECT_TRUE(client->closed());

    // A truncated DescribeTopicPartitions body.
    auto second = connect();
    byte_vector truncated{0x02, 0x02};
    ASSERT_TRUE(second->send_raw(dtp_request::api_key, 0, truncated));
    EXPECT_TRUE(second->closed());

    // DescribeCluster version 2 and FindCoordinator version 7 are not served.
    auto third = connect();
    byte_vector v1_body;
    byte_writer v1_writer(v1_body);
    describe_cluster_request{}.encode(v1_writer, 1);
    ASSERT_TRUE(third->send_raw(describe_cluster_request::api_key, 2, v1_body, 2));
    EXPECT_TRUE(third->closed());
    auto fourth = connect();
    byte_vector v6_body;
    byte_writer v6_writer(v6_body);
    find_coordinator_request{}.encode(v6_writer, 6);
    ASSERT_TRUE(fourth->send_raw(find_coordinator_request::api_key, 7, v6_body, 2));
    EXPECT_TRUE(fourth->closed());

    EXPECT_TRUE(harness().serving());
}

}  // namespace
}  // namespace floe::kafka
