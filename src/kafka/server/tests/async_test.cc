#include "kafka/server/async.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_future.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

namespace floe::kafka {
namespace {

using namespace std::chrono_literals;

// An io_context run by its own thread, like a server shard.
class test_shard {
public:
    test_shard() : _work(_context.get_executor()), _thread([this] { _context.run(); }) {
        _id = _thread.get_id();
    }
    ~test_shard() {
        _work.reset();
        _thread.join();
    }
    asio::io_context::executor_type executor() { return _context.get_executor(); }
    std::thread::id thread_id() const { return _id; }

    // Runs `coroutine` here and waits for its result on the calling thread.
    template <typename T>
    T run(asio::awaitable<T> coroutine) {
        return asio::co_spawn(_context, std::move(coroutine), asio::use_future).get();
    }

private:
    asio::io_context _context{1};
    asio::executor_work_guard<asio::io_context::executor_type> _work;
    std::thread _thread;
    std::thread::id _id;
};

TEST(RunOn, PlainFunctionRunsOnTheTargetAndResumesOnTheCaller) {
    test_shard a, b;
    auto body = [&]() -> asio::awaitable<bool> {
        std::thread::id ran_on;
        int value = co_await run_on(b.executor(), [&] {
            ran_on = std::this_thread::get_id();
            return 42;
        });
        co_return value == 42 && ran_on == b.thread_id() &&
            std::this_thread::get_id() == a.thread_id();
    };
    EXPECT_TRUE(a.run(body()));
}

TEST(RunOn, CoroutineRunsOnTheTargetAndMaySuspendThere) {
    test_shard a, b;
    auto body = [&]() -> asio::awaitable<bool> {
        std::thread::id ran_on;
        std::string value = co_await run_on(b.executor(), [&]() -> asio::awaitable<std::string> {
            asio::steady_timer timer(co_await asio::this_coro::executor, 5ms);
            co_await timer.async_wait(asio::use_awaitable);
            ran_on = std::this_thread::get_id();
            co_return "done";
        });
        co_await run_on(b.executor(), [] {});  // void works too
        co_return value == "done" && ran_on == b.thread_id() &&
            std::this_thread::get_id() == a.thread_id();
    };
    EXPECT_TRUE(a.run(body()));
}

TEST(RunOn, CapturedOwnersAreReleasedExactlyOnce) {
    auto owner = std::make_shared<int>(7);
    {
        test_shard a, b;
        blocking_pool pool(1);
        auto body = [&]() -> asio::awaitable<int> {
            int sum = 0;
            for (int i = 0; i < 3; ++i) {
                // Named locals, not temporaries in the co_await expression:
                // GCC 12 destroys those twice (async.h).
                auto plain = [owner, text = std::string(64, 'x')] {
                    return *owner + static_cast<int>(text.size());
                };
                sum += co_await run_on(b.executor(), std::move(plain));
                auto coroutine = [owner]() -> asio::awaitable<int> { co_return *owner; };
                sum += co_await run_on(b.executor(), std::move(coroutine));
                auto blocking = [owner] { return *owner; };
                sum += co_await run_blocking(pool, std::move(blocking));
            }
            co_return sum;
        };
        EXPECT_EQ(a.run(body()), 3 * (71 + 7 + 7));
    }
    // Counted once the pool and both shards are joined: a thread may still
    // be destroying its copy (or the coroutine frame) just after the result
    // is delivered.
    EXPECT_EQ(owner.use_count(), 1);
}

TEST(RunOn, ExceptionsReachTheCaller) {
    test_shard a, b;
    auto body = [&]() -> asio::awaitable<std::string> {
        try {
            co_await run_on(b.executor(), []() -> int { throw std::runtime_error("boom"); });
        } catch (const std::runtime_error& e) {
            co_return std::string(e.what());
        }
        co_return std::string("no exception");
    };
    EXPECT_EQ(a.run(body()), "boom");
}

TEST(RunOn, ManyShardsMessageEachOtherWithoutSharingState) {
    constexpr size_t kShards = 4;
    constexpr int kPerShard = 300;
    std::vector<std::unique_ptr<test_shard>> shards;
    for (size_t i = 0; i < kShards; ++i) {
        shards.push_back(std::make_unique<test_shard>());
    }
    // counters[i] is owned by shard i: touched only on its thread.
    std::vector<int64_t> counters(kShards, 0);
    std::atomic<int> off_thread{0};
    std::vector<std::future<void>> done;
    // A coroutine lambda's captures live in the lambda object, so the lambda
    // must outlive its coroutines: one lambda for the whole test, with the
    // per-coroutine values as parameters (which live in the coroutine frame).
    auto body = [&](size_t from) -> asio::awaitable<void> {
        std::mt19937 random(static_cast<uint32_t>(from));
        for (int i = 0; i < kPerShard; ++i) {
            size_t to = random() % kShards;
            int64_t seen = co_await run_on(shards[to]->executor(), [&, to] {
                if (std::this_thread::get_id() != shards[to]->thread_id()) {
                    ++off_thread;
                }
                return ++counters[to];
            });
            if (seen <= 0 || std::this_thread::get_id() != shards[from]->thread_id()) {
                ++off_thread;
            }
        }
    };
    for (size_t from = 0; from < kShards; ++from) {
        done.push_back(asio::co_spawn(shards[from]->executor(), body(from), asio::use_future));
    }
    for (auto& f : done) {
        f.get();
    }
    // Every increment happened before its caller resumed, which happened
    // before the caller's future became ready.
    int64_t total = 0;
    for (int64_t count : counters) {
        total += count;
    }
    EXPECT_EQ(total, static_cast<int64_t>(kShards) * kPerShard);
    EXPECT_EQ(off_thread.load(), 0);
}

// A queue of completions that foreign threads drain.
template <typename T>
class completion_queue {
public:
    void push(completion<T> c) {
        {
            std::lock_guard lock(_mutex);
            _items.push_back(std::move(c));
        }
        _ready.notify_one();
    }
    // nullopt once closed and empty.
    std::optional<completion<T>> pop() {
        std::unique_lock lock(_mutex);
        _ready.wait(lock, [&] { return _closed || !_items.empty(); });
        if (_items.empty()) {
            return std::nullopt;
        }
        auto c = std::move(_items.front());
        _items.pop_front();
        return c;
    }
    void close() {
        {
            std::lock_guard lock(_mutex);
            _closed = true;
        }
        _ready.notify_all();
    }

private:
    std::mutex _mutex;
    std::condition_variable _ready;
    std::deque<completion<T>> _items;  // guarded by _mutex
    bool _closed = false;              // guarded by _mutex
};

TEST(AwaitCallback, CallbacksFromManyThreadsResumeEachCoroutineOnceOnItsShard) {
    constexpr int kCoroutines = 2000;
    constexpr int kCallers = 4;
    test_shard home;
    completion_queue<result<int>> queue;
    std::atomic<int> next_value{0};
    std::vector<std::thread> callers;
    for (int t = 0; t < kCallers; ++t) {
        callers.emplace_back([&] {
            while (auto c = queue.pop()) {
                (*c)(result<int>(next_value.fetch_add(1)));
            }
        });
    }
    std::atomic<int> resumed{0};
    std::atomic<int> wrong_thread{0};
    std::vector<int> values;  // owned by `home`
    std::vector<std::future<void>> done;
    auto body = [&]() -> asio::awaitable<void> {
        result<int> value = co_await await_callback<result<int>>(
            [&](completion<result<int>> c) { queue.push(std::move(c)); });
        if (std::this_thread::get_id() != home.thread_id()) {
            ++wrong_thread;
        }
        values.push_back(*value);
        ++resumed;
    };
    for (int i = 0; i < kCoroutines; ++i) {
        done.push_back(asio::co_spawn(home.executor(), body(), asio::use_future));
    }
    for (auto& f : done) {
        f.get();
    }
    queue.close();
    for (auto& t : callers) {
        t.join();
    }
    EXPECT_EQ(resumed.load(), kCoroutines);
    EXPECT_EQ(wrong_thread.load(), 0);
    std::sort(values.begin(), values.end());
    for (int i = 0; i < kCoroutines; ++i) {
        ASSERT_EQ(values[i], i) << "a value was delivered twice or lost";
    }
}

TEST(AwaitCallback, CallbackCalledBeforeStartReturnsStillResumesLater) {
    test_shard home;
    auto body = [&]() -> asio::awaitable<bool> {
        bool inside_start = true;
        status s = co_await await_callback<status>([&](completion<status> c) {
            c(ok());
            inside_start = false;
        });
        co_return s.has_value() && !inside_start && std::this_thread::get_id() == home.thread_id();
    };
    EXPECT_TRUE(home.run(body()));
}

TEST(AwaitCallback, DroppedCallbackResumesWithAnError) {
    test_shard home;
    std::thread::id dropped_on;
    auto body = [&]() -> asio::awaitable<std::string> {
        result<int> value = co_await await_callback<result<int>>([&](completion<result<int>> c) {
            std::thread([c = std::move(c), &dropped_on]() mutable {
                dropped_on = std::this_thread::get_id();
                auto gone = std::move(c);  // destroyed here, never called
            }).detach();
        });
        if (value.has_value() || std::this_thread::get_id() != home.thread_id()) {
            co_return std::string("wrong");
        }
        co_return value.error_value().message;
    };
    EXPECT_NE(home.run(body()).find("abandoned"), std::string::npos);
}

TEST(AwaitCallbackDeathTest, SecondCallAborts) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    auto twice = [] {
        asio::io_context context;
        asio::co_spawn(
            context,
            []() -> asio::awaitable<void> {
                (void)co_await await_callback<status>([](completion<status> c) {
                    c(ok());
                    c(ok());
                });
            },
            asio::detached);
        context.run();
    };
    EXPECT_DEATH(twice(), "completion called more than once");
}

TEST(RunBlocking, RunsOnThePoolAndResumesOnTheCallersShard) {
    blocking_pool pool(2);
    test_shard a, b;
    std::atomic<int> wrong{0};
    std::vector<std::future<void>> done;
    auto body = [&](test_shard& home) -> asio::awaitable<void> {
        std::thread::id worker = co_await run_blocking(pool, [] {
            std::this_thread::sleep_for(1ms);  // a blocking call
            return std::this_thread::get_id();
        });
        if (worker == a.thread_id() || worker == b.thread_id() ||
            std::this_thread::get_id() != home.thread_id()) {
            ++wrong;
        }
    };
    for (int i = 0; i < 100; ++i) {
        test_shard& home = i % 2 == 0 ? a : b;
        done.push_back(asio::co_spawn(home.executor(), body(home), asio::use_future));
    }
    for (auto& f : done) {
        f.get();
    }
    EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace floe::kafka
