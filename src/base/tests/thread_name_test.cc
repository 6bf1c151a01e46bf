#include "base/thread_name.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <string>
#include <thread>

namespace floe {
namespace {

std::string current_name() {
    char name[64] = {};
    EXPECT_EQ(pthread_getname_np(pthread_self(), name, sizeof(name)), 0);
    return name;
}

TEST(ThreadName, NamesTheCallingThreadOnly) {
    std::string before = current_name();
    std::string seen;
    std::thread t([&] {
        set_thread_name("wal-io");
        seen = current_name();
    });
    t.join();
    EXPECT_EQ(seen, "wal-io");
    EXPECT_EQ(current_name(), before);
}

TEST(ThreadName, LongNamesAreCutToWhatLinuxKeeps) {
    std::string seen;
    std::thread t([&] {
        set_thread_name("a-name-longer-than-fifteen-characters");
        seen = current_name();
    });
    t.join();
    EXPECT_EQ(seen, "a-name-longer-t");
}

}  // namespace
}  // namespace floe
