// result<T>: a value or an error, returned by every I/O, protocol and metadata
// path instead of throwing. Modelled on std::expected (C++23), which the
// toolchains Floe builds with (GCC 12, Clang 14) do not all ship in C++20 mode.
//
// Contract: has_value() tells which side is held; value() on an error and
// error() on a value abort the process (a broken invariant, not a recoverable
// condition).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace floe {

// Module-independent error categories. A new code exists only if some caller
// reacts to it differently from the existing ones.
enum class errc : uint16_t {
    ok = 0,
    truncated,         // input ended before a declared length
    invalid_argument,  // a value out of its documented range
    corrupt,           // checksum or structural mismatch in stored or received bytes
    too_large,         // a declared size exceeds a configured bound
    unsupported,       // a version, codec or feature Floe does not handle
    io,                // an operating-system I/O call failed
    not_found,
    conflict,          // compare-and-swap lost, epoch fenced
};

std::string_view errc_name(errc code);

// An error value: a code for callers to branch on and a message for humans.
struct error {
    errc code = errc::ok;
    std::string message;

    error() = default;
    error(errc c, std::string msg) : code(c), message(std::move(msg)) {}
    bool operator==(const error&) const = default;
    std::string to_string() const;
};

[[noreturn]] void abort_with(std::string_view what);

template <typename T>
class [[nodiscard]] result {
public:
    result(T value) : _state(std::in_place_index<0>, std::move(value)) {}
    result(error err) : _state(std::in_place_index<1>, std::move(err)) {}

    bool has_value() const { return _state.index() == 0; }
    explicit operator bool() const { return has_value(); }

    T& value() & {
        check_value();
        return std::get<0>(_state);
    }
    const T& value() const& {
        check_value();
        return std::get<0>(_state);
    }
    T&& value() && {
        check_value();
        return std::move(std::get<0>(_state));
    }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    const error& error_value() const {
        if (has_value()) {
            abort_with("result::error_value() called on a value");
        }
        return std::get<1>(_state);
    }

private:
    void check_value() const {
        if (!has_value()) {
            abort_with("result::value() called on error: " + std::get<1>(_state).to_string());
        }
    }
    std::variant<T, error> _state;
};

// result<void>: success or an error.
template <>
class [[nodiscard]] result<void> {
public:
    result() = default;
    result(error err) : _error(std::move(err)), _failed(true) {}

    bool has_value() const { return !_failed; }
    explicit operator bool() const { return has_value(); }
    const error& error_value() const {
        if (!_failed) {
            abort_with("result<void>::error_value() called on success");
        }
        return _error;
    }

private:
    error _error;
    bool _failed = false;
};

using status = result<void>;

inline status ok() { return {}; }

}  // namespace floe

// Propagates an error from an expression returning result<...> or status.
#define FLOE_TRY(expr)                                   \
    do {                                                 \
        auto&& floe_try_result_ = (expr);                \
        if (!floe_try_result_.has_value()) {             \
            return floe_try_result_.error_value();       \
        }                                                \
    } while (false)
