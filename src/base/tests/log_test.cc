#include "base/log.h"

#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/strong_id.h"

namespace floe {
namespace {

// Captures lines for one test and restores stderr and the level afterwards.
class captured_log {
public:
    explicit captured_log(log::level level) : _previous(log::current_level()) {
        log::set_level(level);
        log::set_sink([this](std::string_view line) {
            std::lock_guard lock(_mutex);
            _lines.emplace_back(line);
        });
    }
    ~captured_log() {
        log::set_sink({});
        log::set_level(_previous);
    }
    std::vector<std::string> lines() {
        std::lock_guard lock(_mutex);
        return _lines;
    }

private:
    log::level _previous;
    std::mutex _mutex;
    std::vector<std::string> _lines;  // guarded by _mutex
};

TEST(Log, LineHasUtcTimestampLevelComponentAndMessage) {
    // 2024-02-29T23:59:58.007Z
    auto when = std::chrono::system_clock::time_point(std::chrono::milliseconds(1709251198007));
    EXPECT_EQ(log::format_line(when, log::level::warn, "kafka.server", "closing"),
              "2024-02-29T23:59:58.007Z WARN  kafka.server: closing\n");
    EXPECT_EQ(log::format_line(when, log::level::error, "wal", "a\nb"),
              "2024-02-29T23:59:58.007Z ERROR wal: a b\n");
}

TEST(Log, LevelsParseAndFilter) {
    EXPECT_EQ(*log::parse_level("debug"), log::level::debug);
    EXPECT_EQ(log::level_name(log::level::off), "off");
    EXPECT_FALSE(log::parse_level("verbose").has_value());

    captured_log capture(log::level::warn);
    FLOE_LOG(info, "test", "hidden");
    FLOE_LOG(warn, "test", "shown ", 42, ' ', stream_id(7), ' ', true, ' ', 1.5);
    FLOE_LOG(error, "test", std::string("also shown"));
    auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_NE(lines[0].find(" WARN  test: shown 42 7 true 1.5\n"), std::string::npos) << lines[0];
    EXPECT_NE(lines[1].find(" ERROR test: also shown\n"), std::string::npos) << lines[1];
}

TEST(Log, DisabledMessageIsNotBuilt) {
    captured_log capture(log::level::error);
    int evaluated = 0;
    auto costly = [&] {
        ++evaluated;
        return std::string("x");
    };
    FLOE_LOG(debug, "test", costly());
    EXPECT_EQ(evaluated, 0);
    FLOE_LOG(error, "test", costly());
    EXPECT_EQ(evaluated, 1);
}

TEST(Log, ConcurrentLinesStayWhole) {
    captured_log capture(log::level::info);
    constexpr int kThreads = 8;
    constexpr int kLines = 500;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([t] {
            for (int i = 0; i < kLines; ++i) {
                FLOE_LOG(info, "thread", "t=", t, " i=", i, " end");
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    auto lines = capture.lines();
    ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kLines));
    for (const auto& line : lines) {
        ASSERT_EQ(line.back(), '\n');
        ASSERT_NE(line.find(" end\n"), std::string::npos) << line;
        ASSERT_EQ(line.find('\n'), line.size() - 1) << line;
    }
}

}  // namespace
}  // namespace floe
