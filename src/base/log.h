// Leveled logging: one line per event, written whole.
//
//   2024-05-01T12:34:56.789Z INFO  kafka.server: listening on 127.0.0.1:9092
//
// Fields: UTC time with milliseconds, level (padded to 5), component, message.
// The level is set once at start-up (set_level); FLOE_LOG builds its message
// only when the level is enabled, so a disabled line costs one relaxed atomic
// load and a compare.
//
//   FLOE_LOG(info, "kafka.server", "listening on ", host, ":", port);
//   FLOE_LOG(warn, "kafka.server", peer, ": closing: ", err.to_string());
//
// The message arguments are concatenated: strings, characters, integers,
// floating-point numbers and anything with an operator<< (strong ids).
//
// Threading: every function may be called from any thread. A line reaches the
// sink in one call made under a mutex, so lines never interleave. set_sink()
// is for start-up and tests.
#pragma once

#include <atomic>
#include <charconv>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>

#include "base/result.h"

namespace floe::log {

enum class level : uint8_t { trace, debug, info, warn, error, off };

// "trace", "debug", "info", "warn", "error", "off".
std::string_view level_name(level value);
// The inverse of level_name(); errc::invalid_argument for anything else.
result<level> parse_level(std::string_view text);

void set_level(level value);
level current_level();

namespace detail {
extern std::atomic<uint8_t> g_level;
}  // namespace detail

inline bool enabled(level value) {
    return value != level::off &&
           static_cast<uint8_t>(value) >= detail::g_level.load(std::memory_order_relaxed);
}

// Receives each formatted line, with its trailing newline.
using sink = std::function<void(std::string_view line)>;
// Replaces where lines go; an empty function restores the default (stderr).
void set_sink(sink destination);

// Writes one line when `value` is enabled. `message` should be one line;
// embedded newlines are replaced by spaces so an event stays one line.
void write(level value, std::string_view component, std::string_view message);

// The line write() emits for an event at `when` (exposed for tests).
std::string format_line(std::chrono::system_clock::time_point when, level value,
                        std::string_view component, std::string_view message);

namespace detail {

template <typename T>
void append(std::string& out, const T& value) {
    if constexpr (std::is_convertible_v<const T&, std::string_view>) {
        out.append(std::string_view(value));
    } else if constexpr (std::is_same_v<T, char>) {
        out.push_back(value);
    } else if constexpr (std::is_same_v<T, bool>) {
        out.append(value ? "true" : "false");
    } else if constexpr (std::is_integral_v<T> || std::is_floating_point_v<T>) {
        char buffer[64];
        auto done = std::to_chars(buffer, buffer + sizeof(buffer), value);
        out.append(buffer, done.ptr);
    } else if constexpr (std::is_enum_v<T>) {
        append(out, static_cast<std::underlying_type_t<T>>(value));
    } else {
        std::ostringstream stream;
        stream << value;
        out.append(stream.str());
    }
}

}  // namespace detail

template <typename... Args>
std::string concat(const Args&... args) {
    std::string out;
    (detail::append(out, args), ...);
    return out;
}

}  // namespace floe::log

// Logs one line at `lvl` (trace, debug, info, warn, error) for `component`;
// the remaining arguments are concatenated into the message and are evaluated
// only when the level is enabled.
#define FLOE_LOG(lvl, component, ...)                                \
    do {                                                             \
        if (::floe::log::enabled(::floe::log::level::lvl)) {         \
            ::floe::log::write(::floe::log::level::lvl, (component), \
                               ::floe::log::concat(__VA_ARGS__));    \
        }                                                            \
    } while (false)
