// The S3 backend against moto_server behind fault_proxy: retries hide
// transient faults without changing a byte; a dead or hostile server fails
// with errc::io within the configured bound; 4xx is not retried; a multipart
// upload that fails midway is aborted.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <thread>

#include "objstore/s3_store.h"
#include "objstore/tests/fault_proxy.h"
#include "objstore/tests/moto_server.h"
#include "objstore/tests/test_util.h"

namespace floe::objstore {
namespace {

using std::chrono::milliseconds;
using testing::fault;
using testing::payload;

class s3_faults : public ::testing::Test {
protected:
    void SetUp() override {
        auto server = testing::moto_server::instance();
        ASSERT_TRUE(server) << "cannot start the S3 test server: "
                            << server.error_value().to_string();
        _server = server.value();
        _proxy = std::make_unique<testing::fault_proxy>(_server->port());

        _config.bucket = testing::unique_bucket_name();
        _config.access_key = "floe-test";
        _config.secret_key = "floe-test-secret";
        _config.path_style = true;
        _config.endpoint = _server->endpoint();
        auto direct = s3_store::open(_config);
        ASSERT_TRUE(direct);
        _direct = std::move(direct.value());
        auto created = _direct->create_bucket();
        ASSERT_TRUE(created) << created.error_value().to_string();

        _config.endpoint = _proxy->endpoint();
        _config.connect_timeout = milliseconds(500);
        _config.request_timeout = milliseconds(2'000);
        _config.backoff_base = milliseconds(5);
        _config.backoff_max = milliseconds(80);
        _config.max_attempts = 30;
        _config.retry_deadline = milliseconds(30'000);
        _config.multipart_threshold = 6u << 20;
        _config.multipart_part_size = 5u << 20;
    }

    std::unique_ptr<s3_store> proxied() {
        auto opened = s3_store::open(_config);
        EXPECT_TRUE(opened);
        return std::move(opened.value());
    }

    testing::moto_server* _server = nullptr;
    std::unique_ptr<testing::fault_proxy> _proxy;
    s3_config _config;
    std::unique_ptr<s3_store> _direct;  // straight to the server, for checks
};

TEST_F(s3_faults, retries_through_random_faults_keep_data_identical) {
    _config.request_timeout = milliseconds(400);
    _proxy->set_delay(milliseconds(700));  // beyond the request timeout
    auto store = proxied();
    _proxy->set_policy(testing::fault_proxy::random(
        1234, 0.3,
        {fault::slow_down_503, fault::internal_500, fault::reset, fault::reset_mid_request,
         fault::reset_mid_response, fault::delay, fault::slow_response}));

    std::vector<std::pair<std::string, byte_vector>> objects;
    for (int i = 0; i < 30; ++i) {
        objects.emplace_back("f/" + std::to_string(i),
                             payload(static_cast<size_t>(1 + i * 6151), static_cast<uint64_t>(i)));
    }
    objects.emplace_back("f/multipart", payload((11u << 20) + 777, 4242));
    for (const auto& [key, data] : objects) {
        auto put = store->put(key, data);
        ASSERT_TRUE(put) << key << ": " << put.error_value().to_string();
    }
    for (const auto& [key, data] : objects) {
        auto read = store->get(key);
        ASSERT_TRUE(read) << key << ": " << read.error_value().to_string();
        EXPECT_TRUE(*read == data) << key;
        auto range = store->get_range(key, data.size() / 3, 1000);
        ASSERT_TRUE(range) << key << ": " << range.error_value().to_string();
        size_t from = data.size() / 3;
        size_t to = std::min(data.size(), from + 1000);
        EXPECT_EQ(*range, byte_vector(data.begin() + static_cast<std::ptrdiff_t>(from),
                                      data.begin() + static_cast<std::ptrdiff_t>(to)));
        auto info = store->head(key);
        ASSERT_TRUE(info) << key << ": " << info.error_value().to_string();
        EXPECT_EQ(info->size, data.size());
    }
    auto listed = store->list("f/");
    ASSERT_TRUE(listed) << listed.error_value().to_string();
    EXPECT_EQ(listed->size(), objects.size());
    for (const auto& [key, data] : objects) {
        ASSERT_TRUE(store->remove(key)) << key;
    }
    EXPECT_TRUE(_direct->list("f/")->empty());
    EXPECT_GT(_proxy->faults(), 20u) << "the proxy injected too few faults to mean anything";
    // Data checked byte for byte above, straight from the server too.
    auto pending = _direct->list_multipart_uploads("");
    ASSERT_TRUE(pending);
    EXPECT_TRUE(pending->empty());
}

TEST_F(s3_faults, resets_while_sending_the_body_are_retried) {
    auto store = proxied();
    _proxy->set_policy([](const std::string& line) {
        static std::atomic<int> puts{0};
        // Every other PUT (single objects and parts alike) is cut mid-body.
        return line.starts_with("PUT") && puts++ % 2 == 0 ? fault::reset_mid_request : fault::none;
    });
    byte_vector small = payload(1u << 20, 11);
    byte_vector large = payload((11u << 20) + 3, 12);
    auto put_small = store->put("mid/small", small);
    ASSERT_TRUE(put_small) << put_small.error_value().to_string();
    auto put_large = store->put("mid/large", large);
    ASSERT_TRUE(put_large) << put_large.error_value().to_string();
    EXPECT_TRUE(*_direct->get("mid/small") == small);
    EXPECT_TRUE(*_direct->get("mid/large") == large);
    EXPECT_GE(_proxy->faults(), 4u);
}

void expect_bounded_io_failure(s3_store& store, milliseconds bound) {
    auto started = std::chrono::steady_clock::now();
    auto put = store.put("k", payload(1000, 1));
    ASSERT_FALSE(put);
    EXPECT_EQ(put.error_value().code, errc::io) << put.error_value().to_string();
    auto get = store.get("k");
    ASSERT_FALSE(get);
    EXPECT_EQ(get.error_value().code, errc::io) << get.error_value().to_string();
    auto listed = store.list("");
    ASSERT_FALSE(listed);
    EXPECT_EQ(listed.error_value().code, errc::io);
    auto elapsed = std::chrono::steady_clock::now() - started;
    // Three requests, each bounded by retry_deadline (plus one attempt's timeout).
    EXPECT_LT(elapsed, 3 * bound) << "took "
                                  << std::chrono::duration_cast<milliseconds>(elapsed).count()
                                  << " ms";
}

TEST_F(s3_faults, permanent_503_fails_with_io_within_deadline) {
    _config.retry_deadline = milliseconds(1'000);
    auto store = proxied();
    _proxy->set_policy([](const std::string&) { return fault::slow_down_503; });
    expect_bounded_io_failure(*store, milliseconds(1'500));
    EXPECT_GT(_proxy->requests(), 6u);  // it did retry
}

TEST_F(s3_faults, permanent_resets_fail_with_io_after_max_attempts) {
    _config.max_attempts = 4;
    auto store = proxied();
    _proxy->set_policy([](const std::string&) { return fault::reset; });
    expect_bounded_io_failure(*store, milliseconds(1'500));
    EXPECT_EQ(_proxy->requests(), 3u * 4u);
}

TEST_F(s3_faults, server_that_never_answers_times_out_with_io) {
    _config.request_timeout = milliseconds(300);
    _config.retry_deadline = milliseconds(1'000);
    auto store = proxied();
    _proxy->set_policy([](const std::string&) { return fault::black_hole; });
    expect_bounded_io_failure(*store, milliseconds(1'500));
}

TEST_F(s3_faults, unreachable_endpoint_fails_with_io) {
    _config.endpoint = "http://127.0.0.1:" + std::to_string(floe::testing::free_loopback_port());
    _config.retry_deadline = milliseconds(800);
    auto store = proxied();
    expect_bounded_io_failure(*store, milliseconds(1'300));
}

TEST_F(s3_faults, client_errors_are_not_retried) {
    auto store = proxied();
    _proxy->set_policy([](const std::string&) { return fault::forbidden_403; });
    auto put = store->put("k", payload(10, 1));
    ASSERT_FALSE(put);
    EXPECT_EQ(put.error_value().code, errc::io);
    EXPECT_NE(put.error_value().message.find("AccessDenied"), std::string::npos)
        << put.error_value().message;
    EXPECT_EQ(_proxy->requests(), 1u);
}

TEST_F(s3_faults, multipart_upload_failing_midway_is_aborted) {
    _config.retry_deadline = milliseconds(1'000);
    auto store = proxied();
    _proxy->set_policy([](const std::string& line) {
        return line.find("partNumber=2") != std::string::npos ? fault::internal_500 : fault::none;
    });
    byte_vector data = payload((12u << 20), 5);
    auto put = store->put("mp/object", data);
    ASSERT_FALSE(put);
    EXPECT_EQ(put.error_value().code, errc::io);
    EXPECT_NE(put.error_value().message.find("aborted"), std::string::npos)
        << put.error_value().message;
    auto pending = _direct->list_multipart_uploads("mp/");
    ASSERT_TRUE(pending) << pending.error_value().to_string();
    EXPECT_TRUE(pending->empty()) << pending->size() << " uploads left behind";
    EXPECT_EQ(_direct->head("mp/object").error_value().code, errc::not_found);

    // The same upload succeeds once the fault is gone.
    _proxy->set_policy([](const std::string&) { return fault::none; });
    ASSERT_TRUE(store->put("mp/object", data));
    EXPECT_TRUE(*_direct->get("mp/object") == data);
}

TEST_F(s3_faults, lost_complete_response_is_recognised_as_success) {
    auto store = proxied();
    _proxy->set_policy([](const std::string& line) {
        static std::atomic<int> completes{0};
        bool complete = line.starts_with("POST") && line.find("uploadId=") != std::string::npos;
        return complete && completes++ == 0 ? fault::reset_mid_response : fault::none;
    });
    byte_vector data = payload((7u << 20), 6);
    auto put = store->put("mp/lost-ack", data);
    ASSERT_TRUE(put) << put.error_value().to_string();
    EXPECT_TRUE(*_direct->get("mp/lost-ack") == data);
}

TEST(moto_harness, server_dies_with_a_crashing_test_process) {
    ::testing::FLAGS_gtest_death_test_style = "threadsafe";
    // The death test re-executes this binary; the child inherits the variable.
    if (std::getenv("FLOE_TEST_MOTO_PID_FILE") == nullptr) {
        std::string path = "/tmp/floe-moto-pid-" + std::to_string(::getpid());
        ::setenv("FLOE_TEST_MOTO_PID_FILE", path.c_str(), 1);
    }
    std::string pid_file = std::getenv("FLOE_TEST_MOTO_PID_FILE");
    // Orphans of the dying child are re-parented here, so this test can reap
    // (and so observe the death of) the server the child started.
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    EXPECT_DEATH(
        {
            auto server = testing::moto_server::instance();
            if (server) {
                std::ofstream(pid_file) << server.value()->pid() << std::endl;
            }
            std::abort();  // a crashing test: no destructor runs
        },
        "");
    pid_t pid = 0;
    std::ifstream(pid_file) >> pid;
    std::remove(pid_file.c_str());
    ASSERT_GT(pid, 0) << "the child did not start moto_server";
    bool reaped = false;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!reaped && std::chrono::steady_clock::now() < deadline) {
        reaped = ::waitpid(pid, nullptr, WNOHANG) == pid;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
    EXPECT_TRUE(reaped) << "moto_server " << pid << " outlived its test process";
    if (!reaped) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
    }
}

}  // namespace
}  // namespace floe::objstore
