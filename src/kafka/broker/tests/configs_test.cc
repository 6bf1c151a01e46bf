// DescribeConfigs, AlterConfigs and IncrementalAlterConfigs over a real
// connection.
#include <gtest/gtest.h>

#include "kafka/broker/tests/broker_fixture.h"
#include "kafka/protocol/generated/alter_configs_request.h"
#include "kafka/protocol/generated/alter_configs_response.h"
#include "kafka/protocol/generated/describe_configs_request.h"
#include "kafka/protocol/generated/describe_configs_response.h"
#include "kafka/protocol/generated/incremental_alter_configs_request.h"
#include "kafka/protocol/generated/incremental_alter_configs_response.h"

namespace floe::kafka {
namespace {

using testing::BrokerTest;

constexpr int8_t k_topic = 2;
constexpr int8_t k_broker = 4;

using config_entry = describe_configs_response::describe_configs_resource_result;

const config_entry* find_entry(const describe_configs_response::describe_configs_result& r,
                               std::string_view name) {
    for (const auto& c : r.configs) {
        if (c.name == name) {
            return &c;
        }
    }
    return nullptr;
}

class ConfigsTest : public BrokerTest {
protected:
    testing::harness_options options() override {
        testing::harness_options o;
        o.broker.topic_defaults = {{"retention.bytes", "123456"}};
        o.broker.message_max_bytes = 2000000;
        return o;
    }

    describe_configs_response describe(
        int8_t type, std::string name, int16_t version = 4, bool synonyms = false,
        bool docs = false, std::optional<std::vector<std::string>> keys = std::nullopt) {
        auto client = connect();
        describe_configs_request req;
        req.resources.push_back({type, std::move(name), std::move(keys), {}});
        req.include_synonyms = synonyms;
        req.include_documentation = docs;
        auto res = client->call<describe_configs_response>(req, version);
        EXPECT_TRUE(res);
        return res ? *res : describe_configs_response{};
    }

    std::map<std::string, std::string> overrides(const std::string& topic) {
        auto t = node().topics().find(topic);
        return t ? t->configs : std::map<std::string, std::string>{};
    }
};

TEST_F(ConfigsTest, DescribeTopicReportsEveryConfigWithItsSource) {
    create_topic("t", 1, {{"retention.ms", "60000"}});
    auto res = describe(k_topic, "t");
    ASSERT_EQ(res.results.size(), 1u);
    const auto& r = res.results[0];
    EXPECT_EQ(r.error_code, 0);
    EXPECT_FALSE(r.error_message.has_value());
    EXPECT_EQ(r.configs.size(), topic_config_defs().size());

    const auto* retention = find_entry(r, "retention.ms");
    ASSERT_NE(retention, nullptr);
    EXPECT_EQ(retention->value, "60000");
    EXPECT_EQ(retention->config_source, static_cast<int8_t>(config_source::dynamic_topic));
    EXPECT_FALSE(retention->read_only);
    EXPECT_EQ(retention->config_type, static_cast<int8_t>(config_type::int64));
    EXPECT_FALSE(retention->documentation.has_value());
    EXPECT_TRUE(retention->synonyms.empty());

    const auto* bytes = find_entry(r, "retention.bytes");
    ASSERT_NE(bytes, nullptr);
    EXPECT_EQ(bytes->value, "123456");
    EXPECT_EQ(bytes->config_source, static_cast<int8_t>(config_source::static_broker));

    const auto* max_bytes = find_entry(r, "max.message.bytes");
    ASSERT_NE(max_bytes, nullptr);
    EXPECT_EQ(max_bytes->value, "2000000");
    EXPECT_EQ(max_bytes->config_source, static_cast<int8_t>(config_source::static_broker));

    const auto* cleanup = find_entry(r, "cleanup.policy");
    ASSERT_NE(cleanup, nullptr);
    EXPECT_EQ(cleanup->value, "delete");
    EXPECT_EQ(cleanup->config_source, static_cast<int8_t>(config_source::default_config));
    EXPECT_EQ(cleanup->config_type, static_cast<int8_t>(config_type::list));
}

TEST_F(ConfigsTest, DescribeTopicWithSynonymsDocumentationAndAFilter) {
    create_topic("t", 1, {{"retention.ms", "60000"}});
    auto res = describe(k_topic, "t", 3, true, true,
                        std::vector<std::string>{"retention.ms", "retention.bytes", "nope"});
    ASSERT_EQ(res.results.size(), 1u);
    const auto& r = res.results[0];
    ASSERT_EQ(r.configs.size(), 2u);
    const auto* retention = find_entry(r, "retention.ms");
    ASSERT_NE(retention, nullptr);
    ASSERT_TRUE(retention->documentation.has_value());
    EXPECT_FALSE(retention->documentation->empty());
    ASSERT_EQ(retention->synonyms.size(), 2u);
    EXPECT_EQ(retention->synonyms[0].name, "retention.ms");
    EXPECT_EQ(retention->synonyms[0].value, "60000");
    EXPECT_EQ(retention->synonyms[0].source, static_cast<int8_t>(config_source::dynamic_topic));
    EXPECT_EQ(retention->synonyms[1].name, "log.retention.ms");
    EXPECT_EQ(retention->synonyms[1].value, "604800000");
    EXPECT_EQ(retention->synonyms[1].source, static_cast<int8_t>(config_source::default_config));
    const auto* bytes = find_entry(r, "retention.bytes");
    ASSERT_NE(bytes, nullptr);
    ASSERT_EQ(bytes->synonyms.size(), 2u);
    EXPECT_EQ(bytes->synonyms[0].name, "log.retention.bytes");
    EXPECT_EQ(bytes->synonyms[0].value, "123456");
    EXPECT_EQ(bytes->synonyms[0].source, static_cast<int8_t>(config_source::static_broker));

    // An empty filter means every config, as a null one does.
    auto all = describe(k_topic, "t", 1, false, false, std::vector<std::string>{});
    ASSERT_EQ(all.results.size(), 1u);
    EXPECT_EQ(all.results[0].configs.size(), topic_config_defs().size());
}

TEST_F(ConfigsTest, DescribeBroker) {
    auto res = describe(k_broker, "1", 4, true);
    ASSERT_EQ(res.results.size(), 1u);
    const auto& r = res.results[0];
    EXPECT_EQ(r.error_code, 0);
    for (const char* name : {"message.max.bytes", "log.retention.ms", "log.retention.bytes",
                             "auto.create.topics.enable", "num.partitions", "broker.id", "node.id",
                             "log.dirs", "advertised.listeners"}) {
        const auto* c = find_entry(r, name);
        ASSERT_NE(c, nullptr) << name;
        EXPECT_TRUE(c->read_only) << name;
        EXPECT_FALSE(c->synonyms.empty()) << name;
    }
    EXPECT_EQ(find_entry(r, "message.max.bytes")->value, "2000000");
    EXPECT_EQ(find_entry(r, "message.max.bytes")->config_source,
              static_cast<int8_t>(config_source::static_broker));
    EXPECT_EQ(find_entry(r, "log.retention.bytes")->value, "123456");
    EXPECT_EQ(find_entry(r, "log.retention.ms")->config_source,
              static_cast<int8_t>(config_source::default_config));
    EXPECT_EQ(find_entry(r, "node.id")->value, "1");
    EXPECT_EQ(find_entry(r, "advertised.listeners")->value,
              "PLAINTEXT://127.0.0.1:" + std::to_string(harness().port()));

    // The cluster-wide default resource: no dynamic defaults exist.
    auto defaults = describe(k_broker, "");
    ASSERT_EQ(defaults.results.size(), 1u);
    EXPECT_EQ(defaults.results[0].error_code, 0);
    EXPECT_TRUE(defaults.results[0].configs.empty());
}

TEST_F(ConfigsTest, DescribeErrors) {
    create_topic("t");
    auto client = connect();
    describe_configs_request req;
    req.resources.push_back({k_topic, "missing", std::nullopt, {}});
    req.resources.push_back({k_topic, "bad/name", std::nullopt, {}});
    req.resources.push_back({k_broker, "2", std::nullopt, {}});
    req.resources.push_back({k_broker, "one", std::nullopt, {}});
    req.resources.push_back({8, "1", std::nullopt, {}});  // BROKER_LOGGER
    req.resources.push_back({-7, "x", std::nullopt, {}});
    req.resources.push_back({k_topic, "t", std::nullopt, {}});
    auto res = client->call<describe_configs_response>(req, 2);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->results.size(), 7u);
    EXPECT_EQ(res->results[0].error_code, code(error_code::unknown_topic_or_partition));
    EXPECT_EQ(res->results[1].error_code, code(error_code::invalid_topic_exception));
    EXPECT_EQ(res->results[2].error_code, code(error_code::invalid_request));
    EXPECT_EQ(res->results[3].error_code, code(error_code::invalid_request));
    EXPECT_EQ(res->results[4].error_code, code(error_code::invalid_request));
    EXPECT_EQ(res->results[5].error_code, code(error_code::invalid_request));
    EXPECT_EQ(res->results[6].error_code, 0);
    for (size_t i = 0; i < 6; ++i) {
        EXPECT_TRUE(res->results[i].configs.empty());
        EXPECT_TRUE(res->results[i].error_message.has_value());
    }
}

TEST_F(ConfigsTest, AlterConfigsReplacesTheOverrideSet) {
    create_topic("t", 1, {{"retention.ms", "60000"}, {"retention.bytes", "1000"}});
    auto client = connect();
    alter_configs_request req;
    req.resources.push_back(
        {k_topic, "t", {{"cleanup.policy", "delete", {}}, {"retention.ms", "5000", {}}}, {}});
    req.validate_only = true;
    auto res = client->call<alter_configs_response>(req, 2);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->responses.size(), 1u);
    EXPECT_EQ(res->responses[0].error_code, 0);
    EXPECT_EQ(overrides("t").at("retention.ms"), "60000");

    req.validate_only = false;
    res = client->call<alter_configs_response>(req, 0);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->responses[0].error_code, 0);
    EXPECT_FALSE(res->responses[0].error_message.has_value());
    std::map<std::string, std::string> expected{{"cleanup.policy", "delete"},
                                                {"retention.ms", "5000"}};
    EXPECT_EQ(overrides("t"), expected);

    auto described = describe(k_topic, "t");
    EXPECT_EQ(find_entry(described.results[0], "retention.bytes")->config_source,
              static_cast<int8_t>(config_source::static_broker));
}

TEST_F(ConfigsTest, AlterConfigsErrors) {
    create_topic("t", 1, {{"retention.ms", "60000"}});
    auto client = connect();
    alter_configs_request req;
    req.resources.push_back({k_topic, "t", {{"retention.ms", "-5", {}}}, {}});
    req.resources.push_back({k_topic, "missing", {}, {}});
    req.resources.push_back({k_topic, "t2", {}, {}});
    req.resources.push_back({k_topic, "t2", {}, {}});
    req.resources.push_back({k_broker, "1", {{"message.max.bytes", "10", {}}}, {}});
    req.resources.push_back({k_broker, "", {}, {}});
    req.resources.push_back({16, "x", {}, {}});
    auto res = client->call<alter_configs_response>(req, 1);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->responses.size(), 6u);  // the duplicated resource is answered once
    EXPECT_EQ(res->responses[0].error_code, code(error_code::invalid_config));
    EXPECT_EQ(res->responses[1].error_code, code(error_code::unknown_topic_or_partition));
    EXPECT_EQ(res->responses[2].resource_name, "t2");
    EXPECT_EQ(res->responses[2].error_code, code(error_code::invalid_request));
    EXPECT_EQ(res->responses[3].error_code, code(error_code::invalid_config));
    EXPECT_EQ(res->responses[4].error_code, 0);  // nothing to change
    EXPECT_EQ(res->responses[5].error_code, code(error_code::invalid_request));

    alter_configs_request nulls;
    nulls.resources.push_back({k_topic, "t", {{"retention.ms", std::nullopt, {}}}, {}});
    nulls.resources.push_back({k_broker, "1", {{"num.partitions", "3", {}}}, {}});
    res = client->call<alter_configs_response>(nulls, 2);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->responses[0].error_code, code(error_code::invalid_request));
    EXPECT_EQ(res->responses[1].error_code, code(error_code::invalid_config));
    EXPECT_EQ(overrides("t").at("retention.ms"), "60000");
}

TEST_F(ConfigsTest, IncrementalAlterConfigsOperations) {
    create_topic("t", 1, {{"retention.ms", "60000"}, {"retention.bytes", "1000"}});
    auto client = connect();
    using op = incremental_alter_configs_request::alterable_config;
    auto alter = [&](std::vector<op> ops, bool validate_only = false, int16_t version = 1) {
        incremental_alter_configs_request req;
        req.resources.push_back({k_topic, "t", std::move(ops), {}});
        req.validate_only = validate_only;
        auto res = client->call<incremental_alter_configs_response>(req, version);
        EXPECT_TRUE(res);
        EXPECT_EQ(res ? res->responses.size() : 0u, 1u);
        return res && !res->responses.empty() ? res->responses[0].error_code : int16_t{-999};
    };
    // SET and DELETE.
    EXPECT_EQ(alter({{"retention.ms", 0, "7000", {}}, {"retention.bytes", 1, std::nullopt, {}}}),
              0);
    std::map<std::string, std::string> expected{{"retention.ms", "7000"}};
    EXPECT_EQ(overrides("t"), expected);
    // validate_only changes nothing.
    EXPECT_EQ(alter({{"retention.ms", 0, "8000", {}}}, true, 0), 0);
    EXPECT_EQ(overrides("t").at("retention.ms"), "7000");
    // APPEND and SUBTRACT on a list config.
    const std::string throttled = "follower.replication.throttled.replicas";
    EXPECT_EQ(alter({{throttled, 2, "0:1", {}}}), 0);
    EXPECT_EQ(alter({{throttled, 2, "1:1,0:1", {}}}), 0);
    EXPECT_EQ(overrides("t").at(throttled), "0:1,1:1");
    EXPECT_EQ(alter({{throttled, 3, "0:1", {}}}), 0);
    EXPECT_EQ(overrides("t").at(throttled), "1:1");
    // APPEND of a value Floe refuses; APPEND/SUBTRACT on a non-list config.
    EXPECT_EQ(alter({{"cleanup.policy", 2, "compact", {}}}), code(error_code::invalid_config));
    EXPECT_EQ(alter({{"retention.ms", 2, "1", {}}}), code(error_code::invalid_config));
    EXPECT_EQ(alter({{"retention.ms", 3, "1", {}}}), code(error_code::invalid_config));
    EXPECT_EQ(alter({{"no.such.config", 0, "1", {}}}), code(error_code::invalid_config));
    // Unknown operation, duplicate keys, null SET.
    EXPECT_EQ(alter({{"retention.ms", 7, "1", {}}}), code(error_code::invalid_request));
    EXPECT_EQ(alter({{"retention.ms", -1, "1", {}}}), code(error_code::invalid_request));
    EXPECT_EQ(alter({{"retention.ms", 0, "1", {}}, {"retention.ms", 1, std::nullopt, {}}}),
              code(error_code::invalid_request));
    EXPECT_EQ(alter({{"retention.ms", 0, std::nullopt, {}}}), code(error_code::invalid_request));
    // Deleting an override that is not there is fine.
    EXPECT_EQ(alter({{"segment.ms", 1, std::nullopt, {}}}), 0);
    std::map<std::string, std::string> final_set{{"retention.ms", "7000"}, {throttled, "1:1"}};
    EXPECT_EQ(overrides("t"), final_set);
}

TEST_F(ConfigsTest, IncrementalAlterConfigsOnBrokers) {
    auto client = connect();
    incremental_alter_configs_request req;
    req.resources.push_back({k_broker, "1", {{"log.retention.ms", 1, std::nullopt, {}}}, {}});
    req.resources.push_back({k_broker, "", {{"log.retention.ms", 0, "5", {}}}, {}});
    req.resources.push_back({k_broker, "3", {}, {}});
    req.resources.push_back({k_topic, "missing", {}, {}});
    auto res = client->call<incremental_alter_configs_response>(req, 1);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->responses.size(), 4u);
    EXPECT_EQ(res->responses[0].error_code, 0);
    EXPECT_EQ(res->responses[1].error_code, code(error_code::invalid_config));
    ASSERT_TRUE(res->responses[1].error_message);
    EXPECT_NE(res->responses[1].error_message->find("log.retention.ms"), std::string::npos);
    EXPECT_EQ(res->responses[2].error_code, code(error_code::invalid_request));
    EXPECT_EQ(res->responses[3].error_code, code(error_code::unknown_topic_or_partition));
}

TEST_F(ConfigsTest, BadInput) {
    create_topic("t");
    auto client = connect();
    // Huge values: refused, and never echoed beyond what the version carries.
    alter_configs_request big;
    big.resources.push_back(
        {k_topic,
         "t",
         {{"follower.replication.throttled.replicas", std::string(30000, '9'), {}}},
         {}});
    auto res = client->call<alter_configs_response>(big, 1);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->responses[0].error_code, code(error_code::invalid_config));
    ASSERT_TRUE(res->responses[0].error_message);
    EXPECT_LE(res->responses[0].error_message->size(), 1024u);

    describe_configs_request names;
    names.resources.push_back({k_topic, std::string(30000, 'n'), std::nullopt, {}});
    auto described = client->call<describe_configs_response>(names, 1);
    ASSERT_TRUE(described);
    EXPECT_EQ(described->results[0].error_code, code(error_code::invalid_topic_exception));

    // A configuration_keys array declaring far more entries than bytes.
    byte_vector body;
    byte_writer writer(body);
    writer.write_int32(1);       // one resource
    writer.write_int8(k_topic);  // type
    writer.write_int16(1);       // name "t"
    writer.write_uint8('t');
    writer.write_int32(1 << 30);  // configuration_keys count
    writer.write_uint8(0);        // include_synonyms
    ASSERT_TRUE(client->send_raw(describe_configs_request::api_key, 1, body));
    EXPECT_TRUE(client->closed());

    // Versions outside the served range.
    auto second = connect();
    describe_configs_request empty;
    ASSERT_TRUE(second->send(empty, 0));  // served from 1
    EXPECT_TRUE(second->closed());
    auto third = connect();
    incremental_alter_configs_request incremental;
    byte_vector incremental_body;
    byte_writer incremental_writer(incremental_body);
    incremental.encode(incremental_writer, 1);
    ASSERT_TRUE(
        third->send_raw(incremental_alter_configs_request::api_key, 2, incremental_body, 2));
    EXPECT_TRUE(third->closed());

    EXPECT_TRUE(harness().serving());
    EXPECT_EQ(node().topics().find("t")->configs.size(), 0u);
}

}  // namespace
}  // namespace floe::kafka
