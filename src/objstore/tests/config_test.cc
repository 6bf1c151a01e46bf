#include <gtest/gtest.h>

#include <cstdlib>

#include "objstore/s3_store.h"

namespace floe::objstore {
namespace {

class environment : public ::testing::Test {
protected:
    void SetUp() override {
        for (const char* name : names) {
            ::unsetenv(name);
        }
    }
    void TearDown() override { SetUp(); }
    static constexpr const char* names[] = {
        "AWS_ACCESS_KEY_ID",  "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",  "AWS_REGION",
        "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",      "AWS_ENDPOINT_URL_S3"};
};

TEST_F(environment, defaults_to_aws_virtual_hosted) {
    ::setenv("AWS_ACCESS_KEY_ID", "AK", 1);
    ::setenv("AWS_SECRET_ACCESS_KEY", "SK", 1);
    ::setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
    auto config = s3_config::from_environment("bucket");
    ASSERT_TRUE(config) << config.error_value().to_string();
    EXPECT_EQ(config->access_key, "AK");
    EXPECT_EQ(config->secret_key, "SK");
    EXPECT_EQ(config->region, "eu-west-1");
    EXPECT_EQ(config->endpoint, "https://s3.eu-west-1.amazonaws.com");
    EXPECT_FALSE(config->path_style);
    EXPECT_TRUE(config->session_token.empty());
}

TEST_F(environment, custom_endpoint_region_and_token) {
    ::setenv("AWS_ACCESS_KEY_ID", "AK", 1);
    ::setenv("AWS_SECRET_ACCESS_KEY", "SK", 1);
    ::setenv("AWS_SESSION_TOKEN", "TOKEN", 1);
    ::setenv("AWS_REGION", "us-west-2", 1);
    ::setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
    ::setenv("AWS_ENDPOINT_URL", "http://generic:1", 1);
    ::setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000/", 1);
    auto config = s3_config::from_environment("bucket");
    ASSERT_TRUE(config) << config.error_value().to_string();
    EXPECT_EQ(config->region, "us-west-2");
    EXPECT_EQ(config->endpoint, "http://127.0.0.1:9000");
    EXPECT_TRUE(config->path_style);
    EXPECT_EQ(config->session_token, "TOKEN");
}

TEST_F(environment, missing_credentials_are_invalid) {
    ::setenv("AWS_ACCESS_KEY_ID", "AK", 1);
    EXPECT_EQ(s3_config::from_environment("bucket").error_value().code, errc::invalid_argument);
}

TEST(s3_config_validate, rejects_bad_values) {
    s3_config good;
    good.endpoint = "http://127.0.0.1:9000";
    good.bucket = "bucket";
    EXPECT_TRUE(good.validate());
    auto with = [&](auto change) {
        s3_config config = good;
        change(config);
        return config.validate();
    };
    EXPECT_FALSE(with([](s3_config& c) { c.endpoint = "ftp://x"; }));
    EXPECT_FALSE(with([](s3_config& c) { c.endpoint = "http://x/path"; }));
    EXPECT_FALSE(with([](s3_config& c) { c.bucket = "Upper"; }));
    EXPECT_FALSE(with([](s3_config& c) { c.max_attempts = 0; }));
    EXPECT_FALSE(with([](s3_config& c) { c.multipart_threshold = 1; }));
    EXPECT_FALSE(with([](s3_config& c) { c.list_page_size = 1001; }));
    EXPECT_EQ(s3_store::open(s3_config{}).error_value().code, errc::invalid_argument);
}

}  // namespace
}  // namespace floe::objstore
