// local_store specifics beyond the shared contract (conformance_test.cc):
// on-disk layout, crash leftovers, and keys that are also prefixes.
#include "objstore/local_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "objstore/tests/test_util.h"

namespace floe::objstore {
namespace {

using testing::as_span;
using testing::payload;

std::unique_ptr<local_store> open_store(const std::string& root) {
    auto opened = local_store::open(root);
    if (!opened) {
        ADD_FAILURE() << opened.error_value().to_string();
        return nullptr;
    }
    return std::move(opened.value());
}

void write_file(const std::string& path, std::string_view text) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0) << path;
    ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    ::close(fd);
}

TEST(local_store, key_may_be_both_object_and_prefix) {
    testing::temp_dir dir;
    auto store = open_store(dir.path());
    ASSERT_TRUE(store->put("a", as_span("one")));
    ASSERT_TRUE(store->put("a/b", as_span("two")));
    ASSERT_TRUE(store->put("a.d", as_span("three")));  // suffixes do not collide
    ASSERT_TRUE(store->put("a.o/c", as_span("four")));
    EXPECT_EQ(store->get("a")->size(), 3u);
    EXPECT_EQ(store->get("a/b")->size(), 3u);
    EXPECT_EQ(store->get("a.d")->size(), 5u);
    EXPECT_EQ(store->get("a.o/c")->size(), 4u);
    EXPECT_EQ(store->list("")->size(), 4u);
    EXPECT_EQ(store->path_of("x/y/z"), dir.path() + "/x.d/y.d/z.o");
}

TEST(local_store, crash_leftover_temp_files_are_ignored_and_cleaned_on_open) {
    testing::temp_dir dir;
    {
        auto store = open_store(dir.path());
        ASSERT_TRUE(store->put("s/obj", payload(100, 1)));
    }
    // What a crash between create and rename leaves behind.
    std::string leftover = dir.path() + "/s.d/obj.o.floe-tmp-deadbeef-0";
    std::string leftover_new = dir.path() + "/s.d/new.o.floe-tmp-deadbeef-1";
    write_file(leftover, "torn");
    write_file(leftover_new, "torn");
    {
        auto store = local_store::open(dir.path());  // cleans
        ASSERT_TRUE(store);
        EXPECT_FALSE(std::filesystem::exists(leftover));
        EXPECT_FALSE(std::filesystem::exists(leftover_new));
        EXPECT_EQ(*store.value()->get("s/obj"), payload(100, 1));
    }
    // Temp files appearing while open (a put in flight) are not listed.
    auto store = open_store(dir.path());
    write_file(leftover_new, "in flight");
    auto listed = store->list("");
    ASSERT_TRUE(listed);
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ((*listed)[0].key, "s/obj");
}

TEST(local_store, foreign_files_are_not_objects) {
    testing::temp_dir dir;
    auto store = open_store(dir.path());
    write_file(dir.path() + "/README", "not an object");
    ASSERT_TRUE(store->put("k", as_span("v")));
    auto listed = store->list("");
    ASSERT_TRUE(listed);
    EXPECT_EQ(listed->size(), 1u);
}

TEST(local_store, put_leaves_no_temp_file_and_creates_root) {
    testing::temp_dir dir;
    auto store = open_store(dir.path() + "/deep/root/");
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->put("x/y", payload(10, 3)));
    int files = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir.path())) {
        if (entry.is_regular_file()) {
            ++files;
            EXPECT_EQ(entry.path().filename(), "y.o");
        }
    }
    EXPECT_EQ(files, 1);
}

TEST(local_store, unwritable_root_fails_with_io) {
    testing::temp_dir dir;
    write_file(dir.path() + "/file", "x");
    auto opened = local_store::open(dir.path() + "/file/sub");
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error_value().code, errc::io);
    EXPECT_EQ(local_store::open("").error_value().code, errc::invalid_argument);
}

}  // namespace
}  // namespace floe::objstore
