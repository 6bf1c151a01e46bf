#include "cluster/topic_registry.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <thread>

#include "metadata/embedded_store.h"

using namespace floe;
using namespace floe::cluster;

namespace {

struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        path = std::filesystem::temp_directory_path() /
               ("floe-cluster-" + std::to_string(std::random_device{}()));
        std::filesystem::create_directories(path);
    }
    ~temp_dir() { std::filesystem::remove_all(path); }
};

std::shared_ptr<metadata::store> open_store(const std::filesystem::path& dir) {
    auto s = metadata::embedded_store::open({.directory = dir});
    EXPECT_TRUE(s.has_value());
    return std::shared_ptr<metadata::store>(std::move(*s));
}

}  // namespace

TEST(TopicNames, KafkaRules) {
    EXPECT_FALSE(invalid_topic_name("orders"));
    EXPECT_FALSE(invalid_topic_name("a.b_c-D9"));
    EXPECT_FALSE(invalid_topic_name(std::string(249, 'x')));
    EXPECT_TRUE(invalid_topic_name(""));
    EXPECT_TRUE(invalid_topic_name("."));
    EXPECT_TRUE(invalid_topic_name(".."));
    EXPECT_TRUE(invalid_topic_name(std::string(250, 'x')));
    EXPECT_TRUE(invalid_topic_name("with space"));
    EXPECT_TRUE(invalid_topic_name("slash/"));
    EXPECT_TRUE(invalid_topic_name("caf\xc3\xa9"));
}

TEST(TopicRecord, RoundTripsAndRejectsDamage) {
    topic_info t;
    t.name = "orders";
    t.id[0] = 7;
    t.id[15] = 9;
    t.partitions = {stream_id(3), stream_id(4), stream_id(10)};
    t.configs = {{"retention.ms", "1000"}, {"cleanup.policy", "delete"}};
    std::string bytes = encode_topic(t);
    auto back = decode_topic("orders", bytes);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, t);
    for (size_t cut = 0; cut < bytes.size(); ++cut) {
        auto r = decode_topic("orders", bytes.substr(0, cut));
        ASSERT_FALSE(r.has_value()) << cut;
        EXPECT_NE(r.error_value().message.find("orders"), std::string::npos);
    }
    EXPECT_FALSE(decode_topic("orders", bytes + "x").has_value());
    std::string wrong_version = bytes;
    wrong_version[0] = 9;
    EXPECT_FALSE(decode_topic("orders", wrong_version).has_value());
}

TEST(TopicUuid, PrintsAsKafkaDoes) {
    // Kafka prints topic ids as URL-safe base64 without padding.
    topic_uuid id{};
    EXPECT_EQ(topic_uuid_to_string(id), "AAAAAAAAAAAAAAAAAAAAAA");
    id[15] = 1;
    EXPECT_EQ(topic_uuid_to_string(id), "AAAAAAAAAAAAAAAAAAAAAQ");
    topic_uuid ff;
    ff.fill(0xff);
    EXPECT_EQ(topic_uuid_to_string(ff), "_____________________w");
}

TEST(TopicRegistry, CreateFindDeleteAndSurviveReopen) {
    temp_dir dir;
    topic_uuid id{};
    {
        auto store = open_store(dir.path);
        auto registry = topic_registry::open(store);
        ASSERT_TRUE(registry.has_value());
        auto t = (*registry)->create("orders", 3, {{"retention.ms", "5000"}});
        ASSERT_TRUE(t.has_value()) << t.error_value().to_string();
        EXPECT_EQ(t->partitions.size(), 3u);
        EXPECT_NE(t->partitions[0], t->partitions[1]);
        id = t->id;
        EXPECT_EQ((*registry)->create("orders", 1, {}).error_value().code, errc::conflict);
        EXPECT_EQ((*registry)->create("bad name", 1, {}).error_value().code,
                  errc::invalid_argument);
        EXPECT_EQ((*registry)->create("zero", 0, {}).error_value().code, errc::invalid_argument);
        auto grown = (*registry)->add_partitions("orders", 5);
        ASSERT_TRUE(grown.has_value());
        EXPECT_EQ(grown->partitions.size(), 5u);
        EXPECT_EQ(grown->partitions[0], t->partitions[0]);
        EXPECT_EQ((*registry)->add_partitions("orders", 5).error_value().code,
                  errc::invalid_argument);
        EXPECT_EQ((*registry)->add_partitions("missing", 5).error_value().code, errc::not_found);
        ASSERT_TRUE((*registry)->set_configs("orders", {{"retention.ms", "7"}}).has_value());
        ASSERT_TRUE((*registry)->create("other", 1, {}).has_value());
        ASSERT_TRUE((*registry)->remove("other").has_value());
        EXPECT_EQ((*registry)->remove("other").error_value().code, errc::not_found);
    }
    auto store = open_store(dir.path);
    auto registry = topic_registry::open(store);
    ASSERT_TRUE(registry.has_value());
    auto t = (*registry)->find("orders");
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->partitions.size(), 5u);
    EXPECT_EQ(t->configs.at("retention.ms"), "7");
    EXPECT_EQ(t->id, id);
    EXPECT_TRUE((*registry)->find(id).has_value());
    EXPECT_FALSE((*registry)->find("other").has_value());
    EXPECT_EQ((*registry)->list().size(), 1u);
    // A re-created topic gets new streams and a new id.
    ASSERT_TRUE((*registry)->remove("orders").has_value());
    auto again = (*registry)->create("orders", 1, {});
    ASSERT_TRUE(again.has_value());
    EXPECT_NE(again->id, id);
    EXPECT_GT(again->partitions[0].value(), t->partitions[4].value());
}

TEST(TopicRegistry, ConcurrentCreatorsOneWins) {
    temp_dir dir;
    auto store = open_store(dir.path);
    // Two registries over one store stand for two brokers.
    auto a = topic_registry::open(store);
    auto b = topic_registry::open(store);
    ASSERT_TRUE(a.has_value() && b.has_value());
    std::atomic<int> wins{0};
    std::atomic<int> conflicts{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i) {
        threads.emplace_back([&, i] {
            auto& r = (i % 2) ? *a : *b;
            auto t = r->create("shared", 2, {});
            if (t) {
                ++wins;
            } else if (t.error_value().code == errc::conflict) {
                ++conflicts;
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(wins.load(), 1);
    EXPECT_EQ(conflicts.load(), 7);
}
