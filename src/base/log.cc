#include "base/log.h"

#include <time.h>

#include <array>
#include <cstdio>
#include <mutex>

namespace floe::log {

namespace detail {
std::atomic<uint8_t> g_level{static_cast<uint8_t>(level::info)};
}  // namespace detail

namespace {

constexpr std::array<std::string_view, 6> kNames = {"trace", "debug", "info",
                                                    "warn",  "error", "off"};
constexpr std::array<std::string_view, 6> kLabels = {"TRACE", "DEBUG", "INFO ",
                                                     "WARN ", "ERROR", "OFF  "};

struct sink_state {
    std::mutex mutex;
    sink destination;  // guarded by mutex; empty = stderr
};

sink_state& state() {
    static sink_state instance;
    return instance;
}

}  // namespace

std::string_view level_name(level value) {
    auto index = static_cast<size_t>(value);
    return index < kNames.size() ? kNames[index] : std::string_view("?");
}

result<level> parse_level(std::string_view text) {
    for (size_t i = 0; i < kNames.size(); ++i) {
        if (kNames[i] == text) {
            return static_cast<level>(i);
        }
    }
    return error(errc::invalid_argument, "unknown log level '" + std::string(text) +
                                             "' (expected trace, debug, info, warn, error or off)");
}

void set_level(level value) {
    detail::g_level.store(static_cast<uint8_t>(value), std::memory_order_relaxed);
}

level current_level() {
    return static_cast<level>(detail::g_level.load(std::memory_order_relaxed));
}

void set_sink(sink destination) {
    auto& s = state();
    std::lock_guard lock(s.mutex);
    s.destination = std::move(destination);
}

std::string format_line(std::chrono::system_clock::time_point when, level value,
                        std::string_view component, std::string_view message) {
    using namespace std::chrono;
    auto since_epoch = duration_cast<milliseconds>(when.time_since_epoch()).count();
    auto seconds = static_cast<time_t>(since_epoch / 1000);
    auto millis = static_cast<int>(since_epoch % 1000);
    if (millis < 0) {  // before 1970: floor, not truncate
        millis += 1000;
        seconds -= 1;
    }
    tm utc{};
    gmtime_r(&seconds, &utc);
    char stamp[96];
    std::snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ ", utc.tm_year + 1900,
                  utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
    std::string line;
    line.reserve(40 + component.size() + message.size());
    line.append(stamp);
    auto index = static_cast<size_t>(value);
    line.append(index < kLabels.size() ? kLabels[index] : std::string_view("?    "));
    line.push_back(' ');
    line.append(component);
    line.append(": ");
    for (char c : message) {
        line.push_back(c == '\n' || c == '\r' ? ' ' : c);
    }
    line.push_back('\n');
    return line;
}

void write(level value, std::string_view component, std::string_view message) {
    if (!enabled(value)) {
        return;
    }
    std::string line = format_line(std::chrono::system_clock::now(), value, component, message);
    auto& s = state();
    std::lock_guard lock(s.mutex);
    if (s.destination) {
        s.destination(line);
        return;
    }
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
}

}  // namespace floe::log
