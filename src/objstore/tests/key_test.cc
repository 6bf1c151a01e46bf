#include <gtest/gtest.h>

#include "objstore/object_store.h"

namespace floe::objstore {
namespace {

TEST(object_key, accepts_ordinary_keys) {
    for (std::string_view key : {"a", "a/b", "streams/0001/0000000042.obj", "x=1,y:2@z~+-_."}) {
        EXPECT_TRUE(validate_key(key)) << key;
    }
    EXPECT_TRUE(validate_key(std::string(max_key_length, 'k')));
}

TEST(object_key, rejects_invalid_keys) {
    for (std::string_view key : {"", "/a", "a/", "a//b", "..", "a/../b", "a/./b", ".", "a b",
                                 "a\\b", "tab\t", "x.floe-tmp-1", "\xc3\xa9"}) {
        auto outcome = validate_key(key);
        ASSERT_FALSE(outcome) << key;
        EXPECT_EQ(outcome.error_value().code, errc::invalid_argument) << key;
    }
    EXPECT_FALSE(validate_key(std::string(max_key_length + 1, 'k')));
    EXPECT_FALSE(validate_key(std::string_view("a\0b", 3)));
}

TEST(object_key, prefixes_may_be_empty_or_end_with_slash) {
    EXPECT_TRUE(validate_prefix(""));
    EXPECT_TRUE(validate_prefix("a/"));
    EXPECT_TRUE(validate_prefix("a/b"));
    EXPECT_FALSE(validate_prefix("/a"));
    EXPECT_FALSE(validate_prefix("a//"));
    EXPECT_FALSE(validate_prefix("../"));
}

}  // namespace
}  // namespace floe::objstore
