// The object_store contract (object_store.h), checked identically against
// every backend: the local directory, and S3 through moto_server in both
// path-style and virtual-hosted-style addressing.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <thread>

#include "objstore/local_store.h"
#include "objstore/s3_store.h"
#include "objstore/tests/moto_server.h"
#include "objstore/tests/test_util.h"

namespace floe::objstore {
namespace {

using testing::as_span;
using testing::payload;

enum class backend { local, s3_path_style, s3_virtual_hosted };

std::string backend_name(const ::testing::TestParamInfo<backend>& info) {
    switch (info.param) {
        case backend::local:
            return "local";
        case backend::s3_path_style:
            return "s3_path_style";
        case backend::s3_virtual_hosted:
            return "s3_virtual_hosted";
    }
    return "unknown";
}

s3_config base_s3_config(const testing::moto_server& server, backend kind) {
    s3_config config;
    config.bucket = testing::unique_bucket_name();
    config.access_key = "floe-test";
    config.secret_key = "floe-test-secret";
    config.region = "us-east-1";
    config.backoff_base = std::chrono::milliseconds(5);
    config.backoff_max = std::chrono::milliseconds(100);
    config.retry_deadline = std::chrono::milliseconds(20'000);
    config.request_timeout = std::chrono::milliseconds(15'000);
    if (kind == backend::s3_path_style) {
        config.endpoint = server.endpoint();
        config.path_style = true;
    } else {
        // bucket.localhost:PORT, resolved to the loopback address by curl.
        config.endpoint = "http://localhost:" + std::to_string(server.port());
        config.path_style = false;
        config.resolve = {config.bucket + ".localhost:" + std::to_string(server.port()) +
                          ":127.0.0.1"};
    }
    return config;
}

class conformance : public ::testing::TestWithParam<backend> {
protected:
    void SetUp() override {
        if (GetParam() == backend::local) {
            _dir = std::make_unique<testing::temp_dir>();
            auto opened = local_store::open(_dir->path() + "/objects");
            ASSERT_TRUE(opened) << opened.error_value().to_string();
            _store = std::move(opened.value());
            return;
        }
        auto server = testing::moto_server::instance();
        ASSERT_TRUE(server) << "cannot start the S3 test server: "
                            << server.error_value().to_string();
        _server = server.value();
        ASSERT_NO_FATAL_FAILURE(open_s3(base_s3_config(*_server, GetParam())));
    }

    void open_s3(s3_config config) {
        auto opened = s3_store::open(std::move(config));
        ASSERT_TRUE(opened) << opened.error_value().to_string();
        auto created = opened.value()->create_bucket();
        ASSERT_TRUE(created) << created.error_value().to_string();
        _s3 = opened.value().get();
        _store = std::move(opened.value());
    }

    bool is_s3() const { return GetParam() != backend::local; }

    std::unique_ptr<testing::temp_dir> _dir;
    testing::moto_server* _server = nullptr;
    std::unique_ptr<object_store> _store;
    s3_store* _s3 = nullptr;
};

TEST_P(conformance, put_then_get_returns_identical_bytes) {
    for (size_t size : {size_t{0}, size_t{1}, size_t{4096}, size_t{300'001}}) {
        std::string key = "data/object-" + std::to_string(size);
        byte_vector data = payload(size, size);
        ASSERT_TRUE(_store->put(key, data));
        auto read = _store->get(key);
        ASSERT_TRUE(read) << read.error_value().to_string();
        EXPECT_EQ(*read, data) << key;
        auto info = _store->head(key);
        ASSERT_TRUE(info);
        EXPECT_EQ(info->key, key);
        EXPECT_EQ(info->size, size);
    }
}

TEST_P(conformance, overwrite_replaces_whole_object) {
    ASSERT_TRUE(_store->put("k", payload(1000, 1)));
    ASSERT_TRUE(_store->put("k", payload(10, 2)));
    auto read = _store->get("k");
    ASSERT_TRUE(read);
    EXPECT_EQ(*read, payload(10, 2));
    EXPECT_EQ(_store->head("k")->size, 10u);
}

TEST_P(conformance, get_range_returns_what_exists) {
    byte_vector data = payload(1000, 7);
    ASSERT_TRUE(_store->put("r/obj", data));
    auto middle = _store->get_range("r/obj", 100, 50);
    ASSERT_TRUE(middle) << middle.error_value().to_string();
    EXPECT_EQ(*middle, byte_vector(data.begin() + 100, data.begin() + 150));
    auto tail = _store->get_range("r/obj", 990, 100);
    ASSERT_TRUE(tail);
    EXPECT_EQ(*tail, byte_vector(data.begin() + 990, data.end()));
    auto past = _store->get_range("r/obj", 1000, 10);
    ASSERT_TRUE(past) << past.error_value().to_string();
    EXPECT_TRUE(past->empty());
    auto far = _store->get_range("r/obj", 5000, 10);
    ASSERT_TRUE(far);
    EXPECT_TRUE(far->empty());
    auto none = _store->get_range("r/obj", 10, 0);
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->empty());
    auto huge = _store->get_range("r/obj", 1, UINT64_MAX);
    ASSERT_TRUE(huge) << huge.error_value().to_string();
    EXPECT_EQ(*huge, byte_vector(data.begin() + 1, data.end()));
}

TEST_P(conformance, missing_keys_are_not_found_and_remove_is_idempotent) {
    EXPECT_EQ(_store->get("nope").error_value().code, errc::not_found);
    EXPECT_EQ(_store->get_range("nope", 0, 10).error_value().code, errc::not_found);
    EXPECT_EQ(_store->get_range("nope", 0, 0).error_value().code, errc::not_found);
    EXPECT_EQ(_store->head("nope/deeper").error_value().code, errc::not_found);
    EXPECT_TRUE(_store->remove("nope"));
    ASSERT_TRUE(_store->put("gone", as_span("x")));
    EXPECT_TRUE(_store->remove("gone"));
    EXPECT_EQ(_store->get("gone").error_value().code, errc::not_found);
    EXPECT_TRUE(_store->remove("gone"));
}

TEST_P(conformance, invalid_keys_are_rejected_before_io) {
    for (std::string_view key : {"", "/abs", "a/../b", "a//b", "trailing/", "sp ace"}) {
        EXPECT_EQ(_store->put(key, as_span("x")).error_value().code, errc::invalid_argument) << key;
        EXPECT_EQ(_store->get(key).error_value().code, errc::invalid_argument) << key;
        EXPECT_EQ(_store->get_range(key, 0, 1).error_value().code, errc::invalid_argument);
        EXPECT_EQ(_store->head(key).error_value().code, errc::invalid_argument);
        EXPECT_EQ(_store->remove(key).error_value().code, errc::invalid_argument);
    }
    EXPECT_EQ(_store->list("/x").error_value().code, errc::invalid_argument);
}

TEST_P(conformance, list_filters_by_prefix_sorted_with_sizes) {
    std::vector<object_info> expected;
    for (std::string key : {"s/1/b", "s/1/a", "s/10", "s/2/x/y", "t/1", "s", "s/1/a/deeper"}) {
        size_t size = key.size() * 3;
        ASSERT_TRUE(_store->put(key, payload(size, 1))) << key;
        expected.push_back({key, size});
    }
    std::sort(expected.begin(), expected.end(),
              [](const object_info& a, const object_info& b) { return a.key < b.key; });
    auto all = _store->list("");
    ASSERT_TRUE(all);
    EXPECT_EQ(*all, expected);

    auto s1 = _store->list("s/1");
    ASSERT_TRUE(s1);
    std::vector<std::string> keys;
    for (const auto& info : *s1) {
        keys.push_back(info.key);
    }
    EXPECT_EQ(keys, (std::vector<std::string>{"s/1/a", "s/1/a/deeper", "s/1/b", "s/10"}));
    auto s1_dir = _store->list("s/1/");
    ASSERT_TRUE(s1_dir);
    EXPECT_EQ(s1_dir->size(), 3u);
    EXPECT_TRUE(_store->list("zzz")->empty());
    EXPECT_TRUE(_store->list("s/2/x/y/z")->empty());
}

TEST_P(conformance, list_returns_every_page_beyond_1000_keys) {
    constexpr int count = 1003;
    std::vector<std::thread> writers;
    std::atomic<int> failures{0};
    for (int w = 0; w < 8; ++w) {
        writers.emplace_back([&, w] {
            for (int i = w; i < count; i += 8) {
                char key[32];
                std::snprintf(key, sizeof(key), "many/%05d", i);
                if (!_store->put(key,
                                 payload(static_cast<size_t>(i % 17), static_cast<uint64_t>(i)))) {
                    ++failures;
                }
            }
        });
    }
    for (auto& writer : writers) {
        writer.join();
    }
    ASSERT_EQ(failures, 0);
    ASSERT_TRUE(_store->put("manz", as_span("not in the prefix")));
    auto listed = _store->list("many/");
    ASSERT_TRUE(listed) << listed.error_value().to_string();
    ASSERT_EQ(listed->size(), static_cast<size_t>(count));
    for (int i = 0; i < count; ++i) {
        char key[32];
        std::snprintf(key, sizeof(key), "many/%05d", i);
        ASSERT_EQ((*listed)[static_cast<size_t>(i)].key, key);
        ASSERT_EQ((*listed)[static_cast<size_t>(i)].size, static_cast<uint64_t>(i % 17));
    }
}

TEST_P(conformance, small_pages_are_followed_by_continuation_token) {
    if (!is_s3()) {
        GTEST_SUCCEED() << "the page size is an S3 knob; the local walk has no pages";
        return;
    }
    s3_config config = _s3->config();
    config.list_page_size = 3;
    auto small = s3_store::open(config);
    ASSERT_TRUE(small);
    for (int i = 0; i < 11; ++i) {
        ASSERT_TRUE(_store->put("p/" + std::to_string(i), payload(5, static_cast<uint64_t>(i))));
    }
    auto listed = small.value()->list("p/");
    ASSERT_TRUE(listed) << listed.error_value().to_string();
    EXPECT_EQ(listed->size(), 11u);
}

TEST_P(conformance, large_objects_go_multipart_and_read_back_identically) {
    constexpr size_t part = 5u << 20;  // S3's minimum part size
    if (is_s3()) {
        s3_config config = _s3->config();
        config.multipart_threshold = 6u << 20;
        config.multipart_part_size = part;
        ASSERT_NO_FATAL_FAILURE(open_s3(config));
    }
    byte_vector data = payload(2 * part + 12345, 99);  // three parts, the last short
    auto put = _store->put("big/object", data);
    ASSERT_TRUE(put) << put.error_value().to_string();
    auto read = _store->get("big/object");
    ASSERT_TRUE(read);
    EXPECT_TRUE(*read == data);
    auto range = _store->get_range("big/object", part - 10, 20);
    ASSERT_TRUE(range);
    EXPECT_EQ(*range, byte_vector(data.begin() + part - 10, data.begin() + part + 10));
    EXPECT_EQ(_store->head("big/object")->size, data.size());
    if (is_s3()) {
        auto pending = _s3->list_multipart_uploads("");
        ASSERT_TRUE(pending) << pending.error_value().to_string();
        EXPECT_TRUE(pending->empty());
    }
}

TEST_P(conformance, concurrent_puts_and_gets_of_distinct_keys) {
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 10; ++i) {
                std::string key = "c/" + std::to_string(t) + "/" + std::to_string(i);
                byte_vector data =
                    payload(1000 + static_cast<size_t>(i), static_cast<uint64_t>(t * 100 + i));
                if (!_store->put(key, data)) {
                    ++failures;
                    continue;
                }
                auto read = _store->get(key);
                if (!read || *read != data) {
                    ++failures;
                }
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    EXPECT_EQ(failures, 0);
}

TEST_P(conformance, keys_with_reserved_characters_round_trip) {
    std::vector<std::string> keys = {"odd/a+b=c,d:e@f~g!h$i'j(k)l*m;n&o",
                                     "odd/%41%2F?q=1#frag",
                                     "odd/\"<quoted>\"",
                                     "odd/.hidden",
                                     "odd/..dots",
                                     "odd/UPPER_lower-09"};
    for (size_t i = 0; i < keys.size(); ++i) {
        ASSERT_TRUE(validate_key(keys[i])) << keys[i];
        auto put = _store->put(keys[i], payload(i + 1, i));
        ASSERT_TRUE(put) << keys[i] << ": " << put.error_value().to_string();
        auto read = _store->get(keys[i]);
        ASSERT_TRUE(read) << keys[i] << ": " << read.error_value().to_string();
        EXPECT_EQ(*read, payload(i + 1, i)) << keys[i];
    }
    auto listed = _store->list("odd/");
    ASSERT_TRUE(listed) << listed.error_value().to_string();
    std::vector<std::string> listed_keys;
    for (const auto& info : *listed) {
        listed_keys.push_back(info.key);
    }
    std::sort(keys.begin(), keys.end());
    EXPECT_EQ(listed_keys, keys);
    for (const auto& key : keys) {
        EXPECT_TRUE(_store->remove(key)) << key;
    }
    EXPECT_TRUE(_store->list("odd/")->empty());
}

TEST_P(conformance, objects_land_in_the_configured_bucket) {
    if (!is_s3()) {
        GTEST_SUCCEED() << "S3 addressing only";
        return;
    }
    ASSERT_TRUE(_store->put("where/am/i", as_span("here")));
    // Read back through the other addressing style: same bucket, same key.
    s3_config other = _s3->config();
    other.path_style = !other.path_style;
    other.endpoint = other.path_style ? _server->endpoint()
                                      : "http://localhost:" + std::to_string(_server->port());
    other.resolve = {other.bucket + ".localhost:" + std::to_string(_server->port()) + ":127.0.0.1"};
    auto reader = s3_store::open(other);
    ASSERT_TRUE(reader);
    auto read = reader.value()->get("where/am/i");
    ASSERT_TRUE(read) << read.error_value().to_string();
    EXPECT_EQ(std::string(read->begin(), read->end()), "here");
}

INSTANTIATE_TEST_SUITE_P(backends, conformance,
                         ::testing::Values(backend::local, backend::s3_path_style,
                                           backend::s3_virtual_hosted),
                         backend_name);

}  // namespace
}  // namespace floe::objstore
