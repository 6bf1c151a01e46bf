#include "base/thread_name.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <string>
#include <string_view>
#include <thread>

namespace floe {
namespace {

std::string current_name() {
    char name[64] = {};
    EXPECT_EQ(pthread_getname_np(pthread_self(), name, sizeof(name)), 0);
    return name;
}

// The name a new thread reports after set_thread_name(name).
std::string name_in_new_thread(std::string_view name) {
    std::string seen;
    std::thread t([&] {
        set_thread_name(name);
        seen = current_name();
    });
    t.join();
    return seen;
}

TEST(ThreadName, NamesTheCallingThreadOnly) {
    std::string before = current_name();
    EXPECT_EQ(name_in_new_thread("wal-io"), "wal-io");
    EXPECT_EQ(current_name(), before);
}

TEST(ThreadName, LongNamesAreCutToWhatLinuxKeeps) {
    EXPECT_EQ(name_in_new_thread("a-name-longer-than-fifteen-characters"), "a-name-longer-t");
}

}  // namespace
}  // namespace floe
