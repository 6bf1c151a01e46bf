// ApiVersions and Metadata over a real connection, requests at versions Floe
// does not serve, and malformed bodies of Produce, Fetch, Metadata and
// ApiVersions: each is answered with an error code or closes its connection,
// and the broker keeps serving other connections.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "kafka/broker/handlers/handlers.h"
#include "kafka/broker/tests/data_fixture.h"
#include "kafka/protocol/generated/api_versions_request.h"
#include "kafka/protocol/generated/api_versions_response.h"
#include "kafka/protocol/generated/metadata_request.h"
#include "kafka/protocol/generated/metadata_response.h"

namespace floe::kafka {
namespace {

using namespace testing;

api_versions_request software() {
    api_versions_request req;
    req.client_software_name = "floe-test";
    req.client_software_version = "1.0";
    return req;
}

// The table every ApiVersions answer must carry: the handler table.
void expect_full_table(const api_versions_response& res) {
    auto table = api_table();
    ASSERT_EQ(res.api_keys.size(), table.size());
    for (size_t i = 0; i < table.size(); ++i) {
        EXPECT_EQ(res.api_keys[i].api_key, table[i].key);
        EXPECT_EQ(res.api_keys[i].min_version, table[i].min_version);
        EXPECT_EQ(res.api_keys[i].max_version, table[i].max_version);
    }
}

const api_versions_response::api_version* find_key(const api_versions_response& res, int16_t key) {
    for (const auto& k : res.api_keys) {
        if (k.api_key == key) {
            return &k;
        }
    }
    return nullptr;
}

class ApiVersionsTest : public DataTest {};

TEST_F(ApiVersionsTest, EveryVersionAnswers) {
    for (int16_t version = 0; version <= 4; ++version) {
        auto client = connect();
        auto res = client->call<api_versions_response>(software(), version);
        ASSERT_TRUE(res) << version;
        EXPECT_EQ(res->error_code, 0);
        EXPECT_EQ(res->throttle_time_ms, 0);
        expect_full_table(*res);
    }
}

TEST_F(ApiVersionsTest, TableContents) {
    auto client = connect();
    auto res = client->call<api_versions_response>(software(), 3);
    ASSERT_TRUE(res);
    EXPECT_TRUE(std::is_sorted(res->api_keys.begin(), res->api_keys.end(),
                               [](const auto& a, const auto& b) { return a.api_key < b.api_key; }));
    const auto* produce = find_key(*res, 0);
    ASSERT_NE(produce, nullptr);
    EXPECT_EQ(produce->min_version, 0);
    EXPECT_EQ(produce->max_version, 11);
    const auto* fetch = find_key(*res, 1);
    ASSERT_NE(fetch, nullptr);
    EXPECT_EQ(fetch->min_version, 4);
    const auto* metadata = find_key(*res, 3);
    ASSERT_NE(metadata, nullptr);
    EXPECT_EQ(metadata->min_version, 0);
    const auto* versions = find_key(*res, 18);
    ASSERT_NE(versions, nullptr);
    EXPECT_EQ(versions->min_version, 0);
    EXPECT_EQ(versions->max_version, 4);
    // Nothing is advertised beyond what the codecs decode.
    for (const auto& k : res->api_keys) {
        const api_info* api = find_api(k.api_key);
        ASSERT_NE(api, nullptr) << k.api_key;
        EXPECT_GE(k.min_version, api->min_version) << api->name;
        EXPECT_LE(k.max_version, api->max_version) << api->name;
        EXPECT_LE(k.min_version, k.max_version) << api->name;
    }
}

TEST_F(ApiVersionsTest, TooHighVersionGetsUnsupportedVersionWithAVersion0Body) {
    for (int16_t version : {int16_t{5}, int16_t{9}, int16_t{INT16_MAX}}) {
        auto client = connect();
        // What a newer client sends: a flexible body, header version 2.
        byte_vector body;
        byte_writer writer(body);
        software().encode(writer, 4);
        writer.write_bytes(std::string_view("fields of a future version"));
        ASSERT_TRUE(client->send_raw(api_versions_request::api_key, version, body, 2));
        auto res = client->receive<api_versions_response>(0);
        ASSERT_TRUE(res) << version;
        EXPECT_EQ(res->error_code, code(error_code::unsupported_version));
        expect_full_table(*res);
        // The client then retries on the same connection with a version it saw.
        auto retried = client->call<api_versions_response>(software(), 3);
        ASSERT_TRUE(retried);
        EXPECT_EQ(retried->error_code, 0);
    }
}

TEST_F(ApiVersionsTest, UnsupportedVersionsOfOtherApisCloseTheConnection) {
    create_topic("t");
    struct attempt {
        int16_t key;
        int16_t version;
    };
    const attempt attempts[] = {
        {0, 12},         // Produce above its maximum
        {0, -1},         // a negative version
        {1, 3},          // Fetch below its minimum
        {1, 18},         // Fetch above
        {3, 13},         // Metadata above
        {11, 10},        // JoinGroup above
        {22, 6},         // InitProducerId above
        {57, 0},         // UpdateFeatures: an API Floe does not serve
        {999, 0},        // no such API
        {INT16_MIN, 0},  // no such API
    };
    auto bystander = connect();
    for (const auto& a : attempts) {
        auto client = connect();
        // A request Floe serves first, so the refusal is not of a new connection.
        auto res = client->call<api_versions_response>(software(), 3);
        ASSERT_TRUE(res);
        byte_vector body(16, 0);
        ASSERT_TRUE(client->send_raw(a.key, a.version, body, 1));
        EXPECT_TRUE(client->closed()) << a.key << " v" << a.version;
        // Another connection, open all along, keeps being served.
        auto answer = produce(*bystander, "t", 0, make_batch({.values = {"still here"}}));
        EXPECT_EQ(answer.error_code, 0);
    }
    EXPECT_TRUE(harness().serving());
}

class MetadataTest : public DataTest {
protected:
    harness_options options() override {
        harness_options o;
        o.broker.node_id = 7;
        o.broker.default_partitions = 3;
        return o;
    }

    metadata_response metadata(std::optional<std::vector<std::string>> names, int16_t version,
                               bool allow_auto_create = true) {
        metadata_request req;
        if (names) {
            req.topics = std::vector<metadata_request::metadata_request_topic>{};
            for (const auto& n : *names) {
                req.topics->push_back({{}, n, {}});
            }
        } else {
            req.topics = std::nullopt;
        }
        req.allow_auto_topic_creation = allow_auto_create;
        auto client = connect();
        auto res = client->call<metadata_response>(req, version);
        EXPECT_TRUE(res) << "Metadata v" << version;
        return res ? *res : metadata_response{};
    }

    static const metadata_response::metadata_response_topic* topic_named(
        const metadata_response& res, const std::string& name) {
        for (const auto& t : res.topics) {
            if (t.name == name) {
                return &t;
            }
        }
        return nullptr;
    }

    // A topic entry as Floe describes a healthy single-node topic.
    void expect_served(const metadata_response::metadata_response_topic& t, size_t partitions,
                       int16_t version) {
        EXPECT_EQ(t.error_code, 0) << *t.name;
        EXPECT_FALSE(t.is_internal);
        ASSERT_EQ(t.partitions.size(), partitions) << *t.name;
        for (size_t i = 0; i < partitions; ++i) {
            const auto& p = t.partitions[i];
            EXPECT_EQ(p.error_code, 0);
            EXPECT_EQ(p.partition_index, static_cast<int32_t>(i));
            EXPECT_EQ(p.leader_id, 7);
            EXPECT_EQ(p.leader_epoch, version >= 7 ? 0 : -1);
            EXPECT_EQ(p.replica_nodes, (std::vector<int32_t>{7}));
            EXPECT_EQ(p.isr_nodes, (std::vector<int32_t>{7}));
            EXPECT_TRUE(p.offline_replicas.empty());
        }
    }
};

TEST_F(MetadataTest, BrokersControllerAndClusterId) {
    for (int16_t version : {int16_t{0}, int16_t{1}, int16_t{2}, int16_t{9}, int16_t{12}}) {
        auto res = metadata(std::vector<std::string>{}, version);
        ASSERT_EQ(res.brokers.size(), 1u);
        EXPECT_EQ(res.brokers[0].node_id, 7);
        EXPECT_EQ(res.brokers[0].host, "127.0.0.1");
        EXPECT_EQ(res.brokers[0].port, harness().port());
        EXPECT_FALSE(res.brokers[0].rack.has_value());
        if (version >= 1) {
            EXPECT_EQ(res.controller_id, 7);
        }
        if (version >= 2) {
            ASSERT_TRUE(res.cluster_id.has_value());
            EXPECT_EQ(*res.cluster_id, node().cluster_id());
            EXPECT_EQ(res.cluster_id->size(), 22u);
        }
    }
    // The cluster id is the cluster's, not the process's.
    const std::string before = node().cluster_id();
    restart();
    auto res = metadata(std::nullopt, 12);
    EXPECT_EQ(res.cluster_id, before);
    ASSERT_EQ(res.brokers.size(), 1u);
    EXPECT_EQ(res.brokers[0].port, harness().port());
}

TEST_F(MetadataTest, AllTopics) {
    create_topic("a", 2);
    create_topic("b", 1);
    for (int16_t version : {int16_t{1}, int16_t{4}, int16_t{9}, int16_t{12}}) {
        auto res = metadata(std::nullopt, version);
        ASSERT_EQ(res.topics.size(), 2u) << version;
        const auto* a = topic_named(res, "a");
        const auto* b = topic_named(res, "b");
        ASSERT_NE(a, nullptr);
        ASSERT_NE(b, nullptr);
        expect_served(*a, 2, version);
        expect_served(*b, 1, version);
    }
    // Version 0 has no null array: an empty one means every topic.
    EXPECT_EQ(metadata(std::vector<std::string>{}, 0).topics.size(), 2u);
    // From version 1 an empty array means none.
    EXPECT_TRUE(metadata(std::vector<std::string>{}, 1).topics.empty());
    EXPECT_TRUE(metadata(std::vector<std::string>{}, 12).topics.empty());
}

TEST_F(MetadataTest, NamedTopicsInRequestOrder) {
    create_topic("a", 2);
    create_topic("b", 1);
    create_topic("c", 4);
    auto res = metadata(std::vector<std::string>{"c", "a"}, 8);
    ASSERT_EQ(res.topics.size(), 2u);
    EXPECT_EQ(res.topics[0].name, "c");
    EXPECT_EQ(res.topics[1].name, "a");
    expect_served(res.topics[0], 4, 8);
    expect_served(res.topics[1], 2, 8);
    // Authorized operations only when asked for (version 8+).
    EXPECT_EQ(res.topics[0].topic_authorized_operations, INT32_MIN);
    metadata_request req;
    req.topics = std::vector<metadata_request::metadata_request_topic>{{{}, "b", {}}};
    req.include_topic_authorized_operations = true;
    auto client = connect();
    auto with_ops = client->call<metadata_response>(req, 8);
    ASSERT_TRUE(with_ops);
    ASSERT_EQ(with_ops->topics.size(), 1u);
    const int32_t ops = with_ops->topics[0].topic_authorized_operations;
    EXPECT_NE(ops, INT32_MIN);
    EXPECT_NE(ops & (1 << 3), 0);  // READ
    EXPECT_NE(ops & (1 << 4), 0);  // WRITE
    EXPECT_NE(ops & (1 << 8), 0);  // DESCRIBE
}

TEST_F(MetadataTest, AutoCreateTopics) {
    // Asked for by name, a missing topic is created with the default count.
    auto res = metadata(std::vector<std::string>{"auto-1"}, 4, true);
    ASSERT_EQ(res.topics.size(), 1u);
    expect_served(res.topics[0], 3, 4);
    auto created = harness().registry().find("auto-1");
    ASSERT_TRUE(created.has_value());
    EXPECT_EQ(created->partitions.size(), 3u);
    EXPECT_NE(node().find_partition("auto-1", 2), nullptr);
    // Versions before 4 cannot say no.
    res = metadata(std::vector<std::string>{"auto-2"}, 3);
    ASSERT_EQ(res.topics.size(), 1u);
    EXPECT_EQ(res.topics[0].error_code, 0);
    EXPECT_TRUE(harness().registry().find("auto-2").has_value());
    // allow_auto_topic_creation false: unknown, and not created.
    for (int16_t version : {int16_t{4}, int16_t{9}, int16_t{12}}) {
        res = metadata(std::vector<std::string>{"manual", "auto-1"}, version, false);
        ASSERT_EQ(res.topics.size(), 2u);
        EXPECT_EQ(res.topics[0].name, "manual");
        EXPECT_EQ(res.topics[0].error_code, code(error_code::unknown_topic_or_partition));
        EXPECT_TRUE(res.topics[0].partitions.empty());
        expect_served(res.topics[1], 3, version);
    }
    EXPECT_FALSE(harness().registry().find("manual").has_value());
    // Listing every topic creates nothing.
    EXPECT_EQ(metadata(std::nullopt, 4).topics.size(), 2u);
    // A produce to the created topic works at once.
    EXPECT_EQ(produce("auto-1", 2, make_batch({.values = {"a"}})).base_offset, 0);
}

TEST_F(MetadataTest, InvalidTopicNames) {
    const std::vector<std::string> bad = {"bad name",           "", ".", "..", "a/b", "ü",
                                          std::string(250, 'x')};
    for (bool allow : {true, false}) {
        auto res = metadata(bad, 9, allow);
        ASSERT_EQ(res.topics.size(), bad.size());
        for (size_t i = 0; i < bad.size(); ++i) {
            EXPECT_EQ(res.topics[i].name, bad[i]);
            EXPECT_EQ(res.topics[i].error_code, code(error_code::invalid_topic_exception))
                << "\"" << bad[i] << "\"";
        }
    }
    EXPECT_TRUE(harness().registry().list().empty());
    // The longest legal name works.
    auto res = metadata(std::vector<std::string>{std::string(249, 'x')}, 9);
    ASSERT_EQ(res.topics.size(), 1u);
    EXPECT_EQ(res.topics[0].error_code, 0);
}

TEST_F(MetadataTest, TopicIdsFromVersion10) {
    auto topic = create_topic("t", 2);
    uuid id;
    id.bytes = topic.id;
    ASSERT_FALSE(id.is_zero());
    for (int16_t version : {int16_t{10}, int16_t{11}, int16_t{12}}) {
        auto res = metadata(std::vector<std::string>{"t"}, version);
        ASSERT_EQ(res.topics.size(), 1u);
        EXPECT_EQ(res.topics[0].topic_id, id) << version;
    }
    // Before version 10 there is no id on the wire.
    EXPECT_TRUE(metadata(std::vector<std::string>{"t"}, 9).topics[0].topic_id.is_zero());
    // By id (name null), version 12.
    uuid stranger;
    stranger.bytes.fill(0x11);
    metadata_request req;
    req.topics = std::vector<metadata_request::metadata_request_topic>{};
    req.topics->push_back({id, std::nullopt, {}});
    req.topics->push_back({stranger, std::nullopt, {}});
    auto client = connect();
    auto res = client->call<metadata_response>(req, 12);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->topics.size(), 2u);
    EXPECT_EQ(res->topics[0].name, "t");
    EXPECT_EQ(res->topics[0].topic_id, id);
    expect_served(res->topics[0], 2, 12);
    EXPECT_EQ(res->topics[1].error_code, code(error_code::unknown_topic_id));
    EXPECT_EQ(res->topics[1].topic_id, stranger);
    EXPECT_FALSE(res->topics[1].name.has_value());
}

class MetadataNoAutoCreateTest : public MetadataTest {
protected:
    harness_options options() override {
        harness_options o = MetadataTest::options();
        o.broker.auto_create_topics = false;
        return o;
    }
};

TEST_F(MetadataNoAutoCreateTest, MissingTopicsStayMissing) {
    create_topic("t");
    for (int16_t version : {int16_t{0}, int16_t{3}, int16_t{4}, int16_t{12}}) {
        auto res = metadata(std::vector<std::string>{"t", "missing"}, version, true);
        ASSERT_EQ(res.topics.size(), 2u);
        expect_served(res.topics[0], 1, version);
        EXPECT_EQ(res.topics[1].error_code, code(error_code::unknown_topic_or_partition));
    }
    EXPECT_FALSE(harness().registry().find("missing").has_value());
    auto invalid = metadata(std::vector<std::string>{"no way"}, 9);
    ASSERT_EQ(invalid.topics.size(), 1u);
    EXPECT_EQ(invalid.topics[0].error_code, code(error_code::invalid_topic_exception));
}

// ---- malformed bodies --------------------------------------------------

// A body assembled field by field (a plain value: copies are independent).
class body_writer {
public:
    body_writer& i8(int8_t v) {
        byte_writer(_bytes).write_int8(v);
        return *this;
    }
    body_writer& i16(int16_t v) {
        byte_writer(_bytes).write_int16(v);
        return *this;
    }
    body_writer& i32(int32_t v) {
        byte_writer(_bytes).write_int32(v);
        return *this;
    }
    body_writer& i64(int64_t v) {
        byte_writer(_bytes).write_int64(v);
        return *this;
    }
    body_writer& uvarint(uint64_t v) {
        byte_writer(_bytes).write_uvarint(v);
        return *this;
    }
    // Non-flexible string: int16 length, bytes.
    body_writer& str(std::string_view s) {
        i16(static_cast<int16_t>(s.size()));
        byte_writer(_bytes).write_bytes(s);
        return *this;
    }
    // Flexible string: uvarint length + 1, bytes.
    body_writer& compact_str(std::string_view s) {
        uvarint(s.size() + 1);
        byte_writer(_bytes).write_bytes(s);
        return *this;
    }
    body_writer& raw(byte_span b) {
        byte_writer(_bytes).write_bytes(b);
        return *this;
    }
    byte_vector done() const { return _bytes; }

private:
    byte_vector _bytes;
};

class BadInputTest : public DataTest {
protected:
    void SetUp() override {
        DataTest::SetUp();
        create_topic("t");
        ASSERT_EQ(produce("t", 0, make_batch({.values = {"a"}})).base_offset, 0);
        _bystander = connect();
    }

    // Sends `body` as (key, version) on a new connection; expects the
    // connection closed and the bystander connection still served.
    void expect_closed(int16_t key, int16_t version, const byte_vector& body,
                       const std::string& what) {
        auto client = connect();
        ASSERT_TRUE(client);
        ASSERT_TRUE(client->send_raw(key, version, body)) << what;
        EXPECT_TRUE(client->closed()) << what;
        expect_still_serving(what);
    }

    // Every proper prefix of `body` (all of them for short bodies) closes
    // the connection.
    void expect_truncations_closed(int16_t key, int16_t version, const byte_vector& body,
                                   const std::string& what) {
        ASSERT_FALSE(body.empty());
        const size_t step = body.size() <= 160 ? 1 : body.size() / 80;
        for (size_t cut = 0; cut < body.size(); cut += step) {
            auto client = connect();
            ASSERT_TRUE(client);
            byte_vector prefix(body.begin(), body.begin() + static_cast<ptrdiff_t>(cut));
            ASSERT_TRUE(client->send_raw(key, version, prefix));
            EXPECT_TRUE(client->closed()) << what << " cut to " << cut << " of " << body.size();
        }
        expect_still_serving(what);
    }

    // Sends `body` as (key, version) on a new connection; expects an answer
    // on a connection that stays open.
    void expect_answered(int16_t key, int16_t version, const byte_vector& body,
                         const std::string& what) {
        auto client = connect();
        ASSERT_TRUE(client);
        ASSERT_TRUE(client->send_raw(key, version, body)) << what;
        EXPECT_TRUE(client->answered(key, version)) << what;
        expect_still_serving(what);
    }

    // Bytes after a valid body are ignored, as Kafka ignores them (librdkafka
    // sends some after its all-topics Metadata v12 body).
    void expect_trailing_ignored(int16_t key, int16_t version, byte_vector body,
                                 const std::string& what) {
        byte_vector one = body;
        one.push_back(0);
        expect_answered(key, version, one, what + " + 1 trailing byte");
        body.insert(body.end(), 100, 0x41);
        expect_answered(key, version, body, what + " + 100 trailing bytes");
    }

    void expect_still_serving(const std::string& what) {
        auto answer = produce(*_bystander, "t", 0, make_batch({.values = {"b"}}), 1);
        EXPECT_EQ(answer.error_code, 0) << "after " << what;
        auto fetched = fetch_one(fetch_request_for("t", 0, 0), 12);
        EXPECT_EQ(fetched.error_code, 0) << "after " << what;
    }

    template <typename Request>
    static byte_vector encoded(const Request& req, int16_t version) {
        byte_vector out;
        byte_writer writer(out);
        req.encode(writer, version);
        return out;
    }

    std::unique_ptr<kafka_client> _bystander;
};

TEST_F(BadInputTest, Produce) {
    const int16_t key = produce_request::api_key;
    const byte_vector batch = make_batch({.values = {"x"}});
    // Version 3 (non-flexible): transactional id, acks, timeout, topics.
    auto head = [] { return body_writer().i16(-1).i16(1).i32(1000); };
    expect_closed(key, 3, head().i32(-2).done(), "negative topic count");
    expect_closed(key, 3, head().i32(-1).done(), "null topic array");
    expect_closed(key, 3, head().i32(INT32_MAX).i32(0).done(), "huge topic count");
    expect_closed(key, 3, head().i32(1).str("t").i32(1000000000).i32(0).i32(0).done(),
                  "huge partition count");
    expect_closed(key, 3, head().i32(1).str("t").i32(1).i32(0).i32(INT32_MAX).raw(batch).done(),
                  "records longer than the body");
    expect_closed(key, 3, head().i32(1).str("t").i32(1).i32(0).i32(-7).done(),
                  "negative records length");
    expect_closed(key, 3, head().i32(1).i16(-1).i32(0).done(), "null topic name");
    expect_closed(key, 3, head().i32(1).i16(-5).i32(0).done(), "negative topic name length");
    expect_closed(key, 3, body_writer().i16(-3).i16(1).i32(1000).i32(0).done(),
                  "negative transactional id length");
    // Version 9 (flexible).
    auto flex_head = [] { return body_writer().uvarint(0).i16(1).i32(1000); };
    expect_closed(key, 9, flex_head().uvarint(0).uvarint(0).done(), "null compact topic array");
    expect_closed(key, 9, flex_head().uvarint(UINT32_MAX).uvarint(0).done(),
                  "huge compact topic count");
    expect_closed(key, 9, flex_head().uvarint(2).uvarint(0).uvarint(1).uvarint(0).uvarint(0).done(),
                  "null compact topic name");
    expect_closed(key, 9, flex_head().uvarint(1).uvarint(1000).done(), "huge tagged field count");
    expect_closed(
        key, 9,
        flex_head().uvarint(1).uvarint(2).uvarint(5).uvarint(0).uvarint(3).uvarint(0).done(),
        "tagged fields out of order");

    auto req = produce_request_for("t", 0, batch);
    expect_truncations_closed(key, 3, encoded(req, 3), "Produce v3");
    expect_truncations_closed(key, 9, encoded(req, 9), "Produce v9");
    expect_trailing_ignored(key, 3, encoded(req, 3), "Produce v3");
    expect_trailing_ignored(key, 11, encoded(req, 11), "Produce v11");

    // Bodies that decode but carry nonsense get error codes.
    auto garbage = produce("t", 0, byte_vector(100, 0xff));
    EXPECT_NE(garbage.error_code, 0);
    EXPECT_NE(garbage.error_code, k_no_answer);
    auto negative = produce("t", INT32_MIN, batch);
    EXPECT_EQ(negative.error_code, code(error_code::unknown_topic_or_partition));
    auto nameless = produce("", 0, batch);
    EXPECT_EQ(nameless.error_code, code(error_code::unknown_topic_or_partition));
}

TEST_F(BadInputTest, Fetch) {
    const int16_t key = fetch_request::api_key;
    // Version 4: replica id, max wait, min bytes, max bytes, isolation, topics.
    auto head = [] { return body_writer().i32(-1).i32(0).i32(0).i32(1 << 20).i8(0); };
    expect_closed(key, 4, head().i32(-2).done(), "negative topic count");
    expect_closed(key, 4, head().i32(-1).done(), "null topic array");
    expect_closed(key, 4, head().i32(INT32_MAX).str("t").done(), "huge topic count");
    expect_closed(key, 4, head().i32(1).str("t").i32(500000000).i32(0).i64(0).done(),
                  "huge partition count");
    expect_closed(key, 4, head().i32(1).i16(-1).i32(0).done(), "null topic name");
    expect_closed(key, 4, head().i32(1).str("t").i32(-3).done(), "negative partition count");

    auto req = fetch_request_for("t", 0, 0);
    expect_truncations_closed(key, 4, encoded(req, 4), "Fetch v4");
    expect_truncations_closed(key, 12, encoded(req, 12), "Fetch v12");
    auto by_id = req;
    by_id.topics[0].topic_id.bytes.fill(1);
    expect_truncations_closed(key, 13, encoded(by_id, 13), "Fetch v13");
    expect_trailing_ignored(key, 4, encoded(req, 4), "Fetch v4");
    expect_trailing_ignored(key, 17, encoded(by_id, 17), "Fetch v17");

    // Nonsense values that decode are answered.
    auto odd = fetch_request_for("t", 0, 0, -5);
    odd.max_wait_ms = -100;
    odd.min_bytes = -1;
    odd.max_bytes = -1;
    odd.replica_id = INT32_MIN;
    auto client = connect();
    auto res = client->call<fetch_response>(odd, 12);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->responses.size(), 1u);
    ASSERT_EQ(res->responses[0].partitions.size(), 1u);
    EXPECT_EQ(res->responses[0].partitions[0].error_code, 0);
    auto nowhere = fetch_one(fetch_request_for("t", INT32_MIN, 0), 12);
    EXPECT_EQ(nowhere.error_code, code(error_code::unknown_topic_or_partition));
}

TEST_F(BadInputTest, Metadata) {
    const int16_t key = metadata_request::api_key;
    expect_closed(key, 1, body_writer().i32(-2).done(), "negative topic count");
    expect_closed(key, 0, body_writer().i32(-1).done(), "null topic array at version 0");
    expect_closed(key, 1, body_writer().i32(INT32_MAX).str("t").done(), "huge topic count");
    expect_closed(key, 1, body_writer().i32(1).i16(-1).done(), "null topic name");
    expect_closed(key, 4, body_writer().i32(1).i16(10).raw(bytes_of("t")).i8(1).done(),
                  "topic name longer than the body");
    expect_closed(
        key, 9, body_writer().uvarint(2).uvarint(0).uvarint(0).i8(1).i8(0).i8(0).uvarint(0).done(),
        "null topic name before version 10");
    expect_closed(key, 12, body_writer().uvarint(UINT32_MAX).done(), "huge compact topic count");

    metadata_request req;
    req.topics =
        std::vector<metadata_request::metadata_request_topic>{{{}, "t", {}}, {{}, "other", {}}};
    expect_truncations_closed(key, 1, encoded(req, 1), "Metadata v1");
    expect_truncations_closed(key, 4, encoded(req, 4), "Metadata v4");
    expect_truncations_closed(key, 12, encoded(req, 12), "Metadata v12");
    expect_trailing_ignored(key, 0, encoded(req, 0), "Metadata v0");
    expect_trailing_ignored(key, 12, encoded(req, 12), "Metadata v12");
    // A null array is "all topics" from version 1: valid.
    auto client = connect();
    ASSERT_TRUE(client->send_raw(key, 1, body_writer().i32(-1).done()));
    auto all = client->receive<metadata_response>(1);
    ASSERT_TRUE(all);
    // "t", and "other": the requests with bytes after their body were served
    // (auto-creation included); the truncated ones created nothing.
    EXPECT_EQ(all->topics.size(), 2u);
}

TEST_F(BadInputTest, ApiVersions) {
    const int16_t key = api_versions_request::api_key;
    expect_trailing_ignored(key, 0, {}, "ApiVersions v0");
    expect_trailing_ignored(key, 2, {}, "ApiVersions v2");
    expect_closed(key, 3, body_writer().uvarint(0).compact_str("1").uvarint(0).done(),
                  "null client software name");
    expect_closed(key, 3, body_writer().uvarint(1000).done(), "name longer than the body");
    expect_closed(key, 3, body_writer().compact_str("a").compact_str("b").uvarint(40).done(),
                  "huge tagged field count");
    expect_truncations_closed(key, 3, encoded(software(), 3), "ApiVersions v3");
    expect_truncations_closed(key, 4, encoded(software(), 4), "ApiVersions v4");
    expect_trailing_ignored(key, 3, encoded(software(), 3), "ApiVersions v3");
}

}  // namespace
}  // namespace floe::kafka
