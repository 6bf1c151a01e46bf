// local_store specifics beyond the shared contract (conformance_test.cc):
// on-disk layout, crash leftovers, and keys that are also prefixes.
#include "objstore/local_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>

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

// Puts use O_DIRECT: whole 4 KiB blocks, a zero-padded last block cut back
// to the exact size, and a bounce buffer when the source is not aligned.
TEST(local_store, objects_of_any_size_and_alignment_round_trip_exactly) {
    testing::temp_dir dir;
    auto store = open_store(dir.path());
    constexpr size_t k_max = (3 << 20) + 4096;
    void* raw = std::aligned_alloc(4096, k_max + 4096);
    ASSERT_NE(raw, nullptr);
    std::unique_ptr<uint8_t, decltype(&std::free)> memory(static_cast<uint8_t*>(raw), &std::free);
    for (size_t i = 0; i < k_max + 4096; ++i) {
        memory.get()[i] = static_cast<uint8_t>(i * 131 + 7);
    }
    for (size_t size : {size_t{0}, size_t{1}, size_t{4095}, size_t{4096}, size_t{4097},
                        size_t{(1 << 20) + 3}, size_t{3 << 20}, k_max}) {
        for (size_t shift : {size_t{0}, size_t{1}, size_t{4096}}) {
            SCOPED_TRACE("size " + std::to_string(size) + ", source offset " +
                         std::to_string(shift));
            byte_span source(memory.get() + shift, size);
            std::string key = "odd/" + std::to_string(size) + "-" + std::to_string(shift);
            ASSERT_TRUE(store->put(key, source));
            auto info = store->head(key);
            ASSERT_TRUE(info.has_value());
            EXPECT_EQ(info->size, size);
            auto back = store->get(key);
            ASSERT_TRUE(back.has_value());
            ASSERT_EQ(back->size(), size);
            EXPECT_TRUE(std::equal(back->begin(), back->end(), source.begin()));
            EXPECT_EQ(std::filesystem::file_size(store->path_of(key)), size);
        }
    }
    // Overwriting with a shorter object leaves nothing of the longer one.
    ASSERT_TRUE(store->put("odd/over", byte_span(memory.get(), 10000)));
    ASSERT_TRUE(store->put("odd/over", byte_span(memory.get() + 1, 5)));
    auto back = store->get("odd/over");
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, byte_vector(memory.get() + 1, memory.get() + 6));
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
