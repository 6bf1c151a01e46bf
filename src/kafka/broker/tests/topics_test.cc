// CreateTopics, DeleteTopics and CreatePartitions over a real connection.
#include <gtest/gtest.h>

#include "kafka/broker/tests/broker_fixture.h"
#include "kafka/protocol/generated/create_partitions_request.h"
#include "kafka/protocol/generated/create_partitions_response.h"
#include "kafka/protocol/generated/create_topics_request.h"
#include "kafka/protocol/generated/create_topics_response.h"
#include "kafka/protocol/generated/delete_topics_request.h"
#include "kafka/protocol/generated/delete_topics_response.h"

namespace floe::kafka {
namespace {

using testing::BrokerTest;

using creatable_topic = create_topics_request::creatable_topic;

creatable_topic new_topic(std::string name, int32_t partitions = -1, int16_t replication = -1,
                          std::map<std::string, std::optional<std::string>> configs = {}) {
    creatable_topic t;
    t.name = std::move(name);
    t.num_partitions = partitions;
    t.replication_factor = replication;
    for (auto& [key, value] : configs) {
        create_topics_request::creatable_topic_config c;
        c.name = key;
        c.value = value;
        t.configs.push_back(std::move(c));
    }
    return t;
}

const create_topics_response::creatable_topic_result* find_result(const create_topics_response& res,
                                                                  std::string_view name) {
    for (const auto& t : res.topics) {
        if (t.name == name) {
            return &t;
        }
    }
    return nullptr;
}

const create_topics_response::creatable_topic_configs* find_config(
    const create_topics_response::creatable_topic_result& t, std::string_view name) {
    for (const auto& c : *t.configs) {
        if (c.name == name) {
            return &c;
        }
    }
    return nullptr;
}

class TopicsTest : public BrokerTest {
protected:
    testing::harness_options options() override {
        testing::harness_options o;
        o.broker.default_partitions = 3;
        return o;
    }
};

TEST_F(TopicsTest, CreateTopicWithDefaultsReportsPartitionsAndConfigs) {
    auto client = connect();
    create_topics_request req;
    req.topics.push_back(new_topic("orders", -1, -1, {{"retention.ms", "3600000"}}));
    auto res = client->call<create_topics_response>(req, 7);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->topics.size(), 1u);
    const auto& t = res->topics[0];
    EXPECT_EQ(t.error_code, 0) << t.error_message.value_or("");
    EXPECT_FALSE(t.error_message.has_value());
    EXPECT_EQ(t.num_partitions, 3);
    EXPECT_EQ(t.replication_factor, 1);
    EXPECT_FALSE(t.topic_id.is_zero());
    ASSERT_TRUE(t.configs.has_value());
    const auto* retention = find_config(t, "retention.ms");
    ASSERT_NE(retention, nullptr);
    EXPECT_EQ(retention->value, "3600000");
    EXPECT_EQ(retention->config_source, static_cast<int8_t>(config_source::dynamic_topic));
    const auto* cleanup = find_config(t, "cleanup.policy");
    ASSERT_NE(cleanup, nullptr);
    EXPECT_EQ(cleanup->value, "delete");
    EXPECT_EQ(cleanup->config_source, static_cast<int8_t>(config_source::default_config));

    auto stored = node().topics().find("orders");
    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->partitions.size(), 3u);
    EXPECT_EQ(t.topic_id.bytes, stored->id);
    EXPECT_EQ(stored->configs.at("retention.ms"), "3600000");
    for (int32_t i = 0; i < 3; ++i) {
        EXPECT_NE(node().find_partition("orders", i), nullptr) << i;
    }
}

TEST_F(TopicsTest, CreateTopicsAnswersEachTopicWithKafkasErrors) {
    create_topic("existing");
    create_topic("dotted_name");
    auto client = connect();
    create_topics_request req;
    req.topics.push_back(new_topic("ok", 2, 1));
    req.topics.push_back(new_topic("bad name!", 1, 1));
    req.topics.push_back(new_topic("existing", 1, 1));
    req.topics.push_back(new_topic("dotted.name", 1, 1));
    req.topics.push_back(new_topic("rf3", 1, 3));
    req.topics.push_back(new_topic("rf0", 1, 0));
    req.topics.push_back(new_topic("np0", 0, 1));
    req.topics.push_back(new_topic("np-7", -7, 1));
    req.topics.push_back(new_topic("too-many", cluster::max_partitions + 1, 1));
    req.topics.push_back(new_topic("dup", 1, 1));
    req.topics.push_back(new_topic("dup", 1, 1));
    req.topics.push_back(new_topic("badconfig", 1, 1, {{"retention.ms", "soon"}}));
    req.topics.push_back(new_topic("unknownconfig", 1, 1, {{"no.such.config", "1"}}));
    req.topics.push_back(new_topic("nullconfig", 1, 1, {{"retention.ms", std::nullopt}}));
    req.topics.push_back(new_topic("compact", 1, 1, {{"cleanup.policy", "compact"}}));
    auto res = client->call<create_topics_response>(req, 5);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->topics.size(), req.topics.size() - 1);  // "dup" answered once
    auto error_of = [&](std::string_view name) {
        const auto* t = find_result(*res, name);
        return t ? t->error_code : int16_t{-999};
    };
    EXPECT_EQ(error_of("ok"), 0);
    EXPECT_EQ(error_of("bad name!"), code(error_code::invalid_topic_exception));
    EXPECT_EQ(error_of("existing"), code(error_code::topic_already_exists));
    EXPECT_EQ(error_of("dotted.name"), code(error_code::invalid_topic_exception));
    EXPECT_EQ(error_of("rf3"), code(error_code::invalid_replication_factor));
    EXPECT_EQ(error_of("rf0"), code(error_code::invalid_replication_factor));
    EXPECT_EQ(error_of("np0"), code(error_code::invalid_partitions));
    EXPECT_EQ(error_of("np-7"), code(error_code::invalid_partitions));
    EXPECT_EQ(error_of("too-many"), code(error_code::invalid_partitions));
    EXPECT_EQ(error_of("dup"), code(error_code::invalid_request));
    EXPECT_EQ(error_of("badconfig"), code(error_code::invalid_config));
    EXPECT_EQ(error_of("unknownconfig"), code(error_code::invalid_config));
    EXPECT_EQ(error_of("nullconfig"), code(error_code::invalid_config));
    EXPECT_EQ(error_of("compact"), code(error_code::invalid_config));

    const auto* rf3 = find_result(*res, "rf3");
    ASSERT_TRUE(rf3 && rf3->error_message);
    EXPECT_NE(rf3->error_message->find("replication factor of 3"), std::string::npos)
        << *rf3->error_message;
    const auto* bad = find_result(*res, "badconfig");
    ASSERT_TRUE(bad && bad->error_message);
    EXPECT_NE(bad->error_message->find("retention.ms"), std::string::npos);
    EXPECT_EQ(bad->num_partitions, -1);

    // Only "ok" was created.
    EXPECT_TRUE(node().topics().find("ok"));
    for (const char* name : {"bad name!", "rf3", "np0", "dup", "badconfig", "compact"}) {
        EXPECT_FALSE(node().topics().find(name)) << name;
    }
}

TEST_F(TopicsTest, ManualAssignmentsMayNameOnlyThisNode) {
    auto client = connect();
    auto assigned = [](std::string name, std::vector<std::vector<int32_t>> replicas) {
        creatable_topic t = new_topic(std::move(name));
        int32_t index = 0;
        for (auto& r : replicas) {
            t.assignments.push_back({index++, std::move(r), {}});
        }
        return t;
    };
    create_topics_request req;
    req.topics.push_back(assigned("manual", {{1}, {1}}));
    req.topics.push_back(assigned("other-broker", {{1}, {2}}));
    req.topics.push_back(assigned("two-replicas", {{1, 1}}));
    req.topics.push_back(assigned("empty-replicas", {{}}));
    creatable_topic gap = new_topic("gap");
    gap.assignments.push_back({0, {1}, {}});
    gap.assignments.push_back({2, {1}, {}});
    req.topics.push_back(gap);
    creatable_topic with_count = assigned("with-count", {{1}});
    with_count.num_partitions = 1;
    req.topics.push_back(with_count);
    auto res = client->call<create_topics_response>(req, 7);
    ASSERT_TRUE(res);
    EXPECT_EQ(find_result(*res, "manual")->error_code, 0);
    EXPECT_EQ(find_result(*res, "manual")->num_partitions, 2);
    EXPECT_EQ(find_result(*res, "other-broker")->error_code,
              code(error_code::invalid_replica_assignment));
    EXPECT_EQ(find_result(*res, "two-replicas")->error_code,
              code(error_code::invalid_replica_assignment));
    EXPECT_EQ(find_result(*res, "empty-replicas")->error_code,
              code(error_code::invalid_replica_assignment));
    EXPECT_EQ(find_result(*res, "gap")->error_code, code(error_code::invalid_replica_assignment));
    EXPECT_EQ(find_result(*res, "with-count")->error_code, code(error_code::invalid_request));
    ASSERT_TRUE(node().topics().find("manual"));
    EXPECT_EQ(node().topics().find("manual")->partitions.size(), 2u);
}

TEST_F(TopicsTest, ValidateOnlyCreatesNothing) {
    auto client = connect();
    create_topics_request req;
    req.validate_only = true;
    req.topics.push_back(new_topic("dry", 4, 1, {{"retention.bytes", "1000"}}));
    auto res = client->call<create_topics_response>(req, 6);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->topics.size(), 1u);
    EXPECT_EQ(res->topics[0].error_code, 0);
    EXPECT_EQ(res->topics[0].num_partitions, 4);
    const auto* bytes = find_config(res->topics[0], "retention.bytes");
    ASSERT_NE(bytes, nullptr);
    EXPECT_EQ(bytes->value, "1000");
    EXPECT_FALSE(node().topics().find("dry"));
    EXPECT_EQ(node().find_partition("dry", 0), nullptr);
}

TEST_F(TopicsTest, CreateTopicsAtTheOldestVersion) {
    auto client = connect();
    create_topics_request req;
    req.topics.push_back(new_topic("old", 2, 1));
    req.topics.push_back(new_topic("old", 2, 1));
    auto res = client->call<create_topics_response>(req, 2);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->topics.size(), 1u);
    EXPECT_EQ(res->topics[0].error_code, code(error_code::invalid_request));
    EXPECT_EQ(res->topics[0].error_message, "Duplicate topic name.");
}

TEST_F(TopicsTest, DeleteTopicsByName) {
    create_topic("a", 2);
    create_topic("b");
    auto client = connect();
    delete_topics_request req;
    req.topic_names = {"a", "missing", "b", "b"};
    auto res = client->call<delete_topics_response>(req, 5);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->responses.size(), 3u);
    EXPECT_EQ(res->responses[0].name, "a");
    EXPECT_EQ(res->responses[0].error_code, 0);
    EXPECT_EQ(res->responses[1].name, "missing");
    EXPECT_EQ(res->responses[1].error_code, code(error_code::unknown_topic_or_partition));
    EXPECT_EQ(res->responses[2].name, "b");
    EXPECT_EQ(res->responses[2].error_code, code(error_code::invalid_request));
    EXPECT_FALSE(node().topics().find("a"));
    EXPECT_EQ(node().find_partition("a", 0), nullptr);
    EXPECT_EQ(node().find_partition("a", 1), nullptr);
    EXPECT_TRUE(node().topics().find("b"));
}

TEST_F(TopicsTest, DeleteTopicsByIdAtVersion6) {
    auto by_id = create_topic("by-id");
    create_topic("by-name");
    auto client = connect();
    delete_topics_request req;
    delete_topics_request::delete_topic_state id_only;
    id_only.name = std::nullopt;
    id_only.topic_id.bytes = by_id.id;
    req.topics.push_back(id_only);
    delete_topics_request::delete_topic_state unknown_id;
    unknown_id.name = std::nullopt;
    unknown_id.topic_id.bytes[0] = 0x42;
    req.topics.push_back(unknown_id);
    delete_topics_request::delete_topic_state both;
    both.name = "by-name";
    both.topic_id.bytes[5] = 1;
    req.topics.push_back(both);
    delete_topics_request::delete_topic_state neither;
    neither.name = std::nullopt;
    req.topics.push_back(neither);
    delete_topics_request::delete_topic_state named;
    named.name = "by-name";
    req.topics.push_back(named);
    auto res = client->call<delete_topics_response>(req, 6);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->responses.size(), 5u);
    EXPECT_EQ(res->responses[0].error_code, 0);
    EXPECT_EQ(res->responses[0].name, "by-id");
    EXPECT_EQ(res->responses[0].topic_id.bytes, by_id.id);
    EXPECT_EQ(res->responses[1].error_code, code(error_code::unknown_topic_id));
    EXPECT_FALSE(res->responses[1].name.has_value());
    EXPECT_EQ(res->responses[2].error_code, code(error_code::invalid_request));
    EXPECT_EQ(res->responses[3].error_code, code(error_code::invalid_request));
    EXPECT_EQ(res->responses[4].error_code, 0);
    EXPECT_FALSE(res->responses[4].topic_id.is_zero());
    EXPECT_FALSE(node().topics().find("by-id"));
    EXPECT_FALSE(node().topics().find("by-name"));
}

TEST_F(TopicsTest, CreatePartitionsGrowsATopic) {
    create_topic("grow", 1);
    create_topic("fixed", 2);
    auto client = connect();
    create_partitions_request req;
    req.topics.push_back({"grow", 3, std::nullopt, {}});
    req.topics.push_back({"fixed", 2, std::nullopt, {}});
    req.topics.push_back({"missing", 2, std::nullopt, {}});
    auto res = client->call<create_partitions_response>(req, 3);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->results.size(), 3u);
    EXPECT_EQ(res->results[0].error_code, 0);
    EXPECT_FALSE(res->results[0].error_message.has_value());
    EXPECT_EQ(res->results[1].error_code, code(error_code::invalid_partitions));
    EXPECT_EQ(res->results[2].error_code, code(error_code::unknown_topic_or_partition));
    EXPECT_EQ(node().topics().find("grow")->partitions.size(), 3u);
    EXPECT_NE(node().find_partition("grow", 2), nullptr);
    EXPECT_EQ(node().topics().find("fixed")->partitions.size(), 2u);
}

TEST_F(TopicsTest, CreatePartitionsChecksAssignmentsAndValidateOnly) {
    create_topic("t", 1);
    auto client = connect();
    using assignment = create_partitions_request::create_partitions_assignment;
    create_partitions_request req;
    req.validate_only = true;
    req.topics.push_back({"t", 3, std::vector<assignment>{{{1}, {}}, {{1}, {}}}, {}});
    auto res = client->call<create_partitions_response>(req, 1);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->results[0].error_code, 0);
    EXPECT_EQ(node().topics().find("t")->partitions.size(), 1u);

    req.validate_only = false;
    req.topics[0].assignments = std::vector<assignment>{{{1}, {}}};
    res = client->call<create_partitions_response>(req, 1);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->results[0].error_code, code(error_code::invalid_replica_assignment));
    req.topics[0].assignments = std::vector<assignment>{{{1}, {}}, {{9}, {}}};
    res = client->call<create_partitions_response>(req, 1);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->results[0].error_code, code(error_code::invalid_replica_assignment));
    req.topics[0].count = 0;
    req.topics[0].assignments = std::nullopt;
    res = client->call<create_partitions_response>(req, 0);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->results[0].error_code, code(error_code::invalid_partitions));
    EXPECT_EQ(node().topics().find("t")->partitions.size(), 1u);
}

// Out-of-range values get their error codes; malformed bodies and versions
// outside the served range close that connection only.
TEST_F(TopicsTest, BadInput) {
    auto client = connect();
    create_topics_request req;
    req.topics.push_back(new_topic("neg", INT32_MIN, INT16_MIN));
    req.topics.push_back(new_topic(std::string(300, 'x'), 1, 1));
    req.topics.push_back(new_topic("", 1, 1));
    req.topics.push_back(
        new_topic("long-config", 1, 1,
                  {{"follower.replication.throttled.replicas", std::string(20000, '1')}}));
    auto res = client->call<create_topics_response>(req, 4);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->topics.size(), 4u);
    EXPECT_EQ(res->topics[0].error_code, code(error_code::invalid_replication_factor));
    EXPECT_EQ(res->topics[1].error_code, code(error_code::invalid_topic_exception));
    EXPECT_EQ(res->topics[2].error_code, code(error_code::invalid_topic_exception));
    EXPECT_EQ(res->topics[3].error_code, code(error_code::invalid_config));

    create_partitions_request grow;
    grow.topics.push_back({"nothing",
                           INT32_MIN,
                           std::vector<create_partitions_request::create_partitions_assignment>{},
                           {}});
    auto grown = client->call<create_partitions_response>(grow, 2);
    ASSERT_TRUE(grown);
    EXPECT_EQ(grown->results[0].error_code, code(error_code::unknown_topic_or_partition));

    // A topics array declaring 2^31-1 entries in a 4-byte body.
    byte_vector huge;
    byte_writer writer(huge);
    writer.write_int32(INT32_MAX);
    ASSERT_TRUE(client->send_raw(create_topics_request::api_key, 2, huge));
    EXPECT_TRUE(client->closed());

    // DeleteTopics v6 with a null topic array (not nullable).
    auto second = connect();
    byte_vector null_array{0x00, 0x00, 0x00, 0x00, 0x00, 0x00};  // topics null, timeout, tags
    ASSERT_TRUE(second->send_raw(delete_topics_request::api_key, 6, null_array));
    EXPECT_TRUE(second->closed());

    // Versions outside the served range.
    auto third = connect();
    create_topics_request empty;
    ASSERT_TRUE(third->send(empty, 1));  // served from 2
    EXPECT_TRUE(third->closed());
    auto fourth = connect();
    byte_vector body{0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    ASSERT_TRUE(fourth->send_raw(create_partitions_request::api_key, 4, body, 2));
    EXPECT_TRUE(fourth->closed());

    EXPECT_TRUE(harness().serving());
}

}  // namespace
}  // namespace floe::kafka
