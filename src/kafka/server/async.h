// Coroutine helpers for handlers: reaching other shards, storage callbacks
// and blocking calls without blocking a shard (docs/concurrency.md).
//
//   // 1. Run on another shard, resume on this one with the result.
//   int64_t next = co_await run_on(server.shard_executor(owner),
//                                  [&partition] { return partition.next_offset(); });
//
//   // 2. A storage callback fired on a foreign thread, as an awaitable.
//   result<wal_position> pos = co_await await_callback<result<wal_position>>(
//       [&](auto done) { wal.append(stream, epoch, base, count, ts, bytes, done); });
//
//   // 3. A blocking call (SQLite, object store) on the blocking pool.
//   auto value = co_await run_blocking(pool, [&] { return store.get(key); });
//
// In every case the calling coroutine resumes on its own executor (its
// shard), never on the thread that produced the value. Exceptions thrown by
// the function given to run_on / run_blocking are rethrown in the caller.
//
// Lifetimes: the function object is moved into the operation and lives until
// it has finished, so its captures are safe; references it captures must
// outlive the co_await (they do when they refer to the caller's frame).
//
// GCC 12: a temporary with a non-trivial destructor inside a co_await
// expression may be destroyed twice (a lambda capturing a shared_ptr or a
// string by value, for instance). Bind such a lambda to a named local and
// pass that; lambdas capturing only references or pointers are safe inline.
//
// Threading: the helpers are called on a coroutine's own executor; the
// completion object of await_callback may be called from any thread.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/post.hpp>
#include <asio/prefer.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>
#include <atomic>
#include <concepts>
#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>

#include "base/result.h"

namespace floe::kafka {

namespace detail {

template <typename T>
struct awaitable_value {
    using type = void;
    static constexpr bool is_awaitable = false;
};
template <typename T, typename Executor>
struct awaitable_value<asio::awaitable<T, Executor>> {
    using type = T;
    static constexpr bool is_awaitable = true;
};

template <typename F>
using invoke_t = std::invoke_result_t<F&>;

// A plain function as a coroutine. The function is a parameter, so it lives
// in the coroutine frame (a capturing coroutine lambda would not).
template <typename F>
asio::awaitable<invoke_t<F>> call_as_coroutine(F function) {
    co_return function();
}

// What co_await run_on(ex, f) yields: T for a coroutine returning
// awaitable<T>, else what f() returns.
template <typename F>
using run_on_value_t = std::conditional_t<awaitable_value<invoke_t<F>>::is_awaitable,
                                          typename awaitable_value<invoke_t<F>>::type, invoke_t<F>>;

}  // namespace detail

// Runs `function` on `target` and resumes the caller on its own executor
// with the result. `function` is either a plain callable (run to completion
// on the target: it must not block a shard) or a callable returning
// asio::awaitable<T> (a coroutine run on the target's executor, where it may
// itself co_await).
template <typename Executor, typename F>
asio::awaitable<detail::run_on_value_t<F>> run_on(Executor target, F function) {
    // The callables are named locals, never temporaries inside the co_await
    // expression: GCC 12 may destroy such temporaries twice across the
    // suspension.
    if constexpr (detail::awaitable_value<detail::invoke_t<F>>::is_awaitable) {
        // co_spawn keeps `function` (and so its captures) alive until the
        // coroutine it returns has finished.
        auto operation = asio::co_spawn(target, std::move(function), asio::use_awaitable);
        co_return co_await std::move(operation);
    } else {
        auto operation = asio::co_spawn(target, detail::call_as_coroutine(std::move(function)),
                                        asio::use_awaitable);
        co_return co_await std::move(operation);
    }
}

// A small pool of threads for blocking calls (the embedded metadata store,
// object store requests). Owned by the application; shared by all shards.
//
// Threading: executor() may be called from any thread; stop()/join() from the
// owner. The destructor joins (waits for the queued work to finish).
class blocking_pool {
public:
    explicit blocking_pool(size_t threads) : _pool(threads == 0 ? 1 : threads) {}
    ~blocking_pool() { _pool.join(); }
    blocking_pool(const blocking_pool&) = delete;
    blocking_pool& operator=(const blocking_pool&) = delete;

    asio::thread_pool::executor_type executor() { return _pool.get_executor(); }
    // Discards work not yet started; work in progress finishes.
    void stop() { _pool.stop(); }
    void join() { _pool.join(); }

private:
    asio::thread_pool _pool;
};

// Runs the plain (blocking) callable `function` on the pool and resumes the
// caller on its own executor with its result.
template <typename F>
asio::awaitable<detail::invoke_t<F>> run_blocking(blocking_pool& pool, F function) {
    static_assert(!detail::awaitable_value<detail::invoke_t<F>>::is_awaitable,
                  "run_blocking takes a plain function; use run_on for coroutines");
    return run_on(pool.executor(), std::move(function));
}

namespace detail {

template <typename T>
struct callback_state_base {
    virtual ~callback_state_base() = default;
    virtual void deliver(T value) = 0;
    std::atomic<bool> fired{false};
};

// Holds the suspended coroutine's completion handler (and, through a tracked
// executor, keeps its io_context from running out of work) until the
// callback delivers a value, which is posted to the coroutine's executor.
template <typename T, typename Handler>
class callback_state final : public callback_state_base<T> {
public:
    explicit callback_state(Handler handler)
        : _handler(std::move(handler)),
          _executor(asio::prefer(asio::get_associated_executor(_handler),
                                 asio::execution::outstanding_work.tracked)) {}

    ~callback_state() override {
        if (!this->fired.exchange(true)) {
            // Every copy of the completion was destroyed without a call: the
            // operation was abandoned. Resume the coroutine with an error
            // rather than destroying its frame on this (foreign) thread.
            post_value(T(error(errc::io,
                               "operation abandoned: its callback was destroyed "
                               "without being called")));
        }
    }

    void deliver(T value) override { post_value(std::move(value)); }

private:
    void post_value(T value) {
        asio::post(_executor, [handler = std::move(_handler), v = std::move(value)]() mutable {
            std::move(handler)(std::move(v));
        });
    }

    Handler _handler;
    asio::any_io_executor _executor;
};

}  // namespace detail

// The callback await_callback() hands to the storage layer: copyable, call it
// exactly once, from any thread. A second call aborts (a broken invariant of
// the caller). Destroying every copy without a call resumes the coroutine
// with error(errc::io, "operation abandoned ...").
template <typename T>
class completion {
public:
    explicit completion(std::shared_ptr<detail::callback_state_base<T>> state)
        : _state(std::move(state)) {}

    void operator()(T value) const {
        if (_state->fired.exchange(true)) {
            abort_with("await_callback: completion called more than once");
        }
        _state->deliver(std::move(value));
    }

private:
    std::shared_ptr<detail::callback_state_base<T>> _state;
};

// Suspends the calling coroutine, calls `start(completion<T>)` (on the
// caller's thread, after suspending), and resumes the coroutine on its own
// executor with the value the completion is called with. T is a result<...>
// or status (it must be constructible from floe::error, for the abandoned
// case). `start` must not throw (the process aborts if it does).
template <typename T, typename Start>
requires std::constructible_from<T, error> asio::awaitable<T> await_callback(Start start) {
    return asio::async_initiate<const asio::use_awaitable_t<>&, void(T)>(
        [](auto handler, Start start_function) noexcept {
            using handler_t = decltype(handler);
            auto state = std::make_shared<detail::callback_state<T, handler_t>>(std::move(handler));
            start_function(completion<T>(std::move(state)));
        },
        asio::use_awaitable, std::move(start));
}

}  // namespace floe::kafka
