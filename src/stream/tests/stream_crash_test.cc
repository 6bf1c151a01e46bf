// Crash test with a real process: stream_crash_child appends under load to
// several streams (uploading to objects and trimming its WAL as it goes) and
// reports each acknowledged append; the test SIGKILLs it at a random moment,
// opens a stream_store on the same directory, and checks that every
// acknowledged append reads back byte-identical, in order, without gaps.
// Each directory is reused for ten kills in a row (each run recovers the
// previous one's WAL and objects), then replaced.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "base/testing/kill_child.h"
#include "stream/tests/stream_crash_common.h"

namespace floe::stream {
namespace {

struct ack {
    int32_t count = 0;
    size_t size = 0;
    uint64_t hash = 0;
};

// Runs the child for `run_for`, SIGKILLs it, and returns what it printed.
std::string run_and_kill(const std::string& dir, int64_t owner_epoch, uint64_t seed,
                         std::chrono::milliseconds run_for) {
    auto run = floe::testing::run_and_kill(
        {STREAM_CRASH_CHILD, dir, std::to_string(owner_epoch), std::to_string(seed)}, run_for);
    EXPECT_TRUE(run.killed) << "child exited on its own, status " << run.wait_status;
    return run.output;
}

// Adds the acks in `text` to `acks` (stream -> base offset -> ack).
void parse_acks(const std::string& text, std::map<int, std::map<int64_t, ack>>& acks) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (in.eof()) {
            break;  // no trailing newline: cannot happen with atomic writes
        }
        std::istringstream fields(line);
        std::string word;
        int stream = 0;
        int64_t base = 0;
        ack a;
        fields >> word >> stream >> base >> a.count >> a.size >> a.hash;
        ASSERT_EQ(word, "ack") << line;
        acks[stream][base] = a;
    }
}

TEST(StreamCrash, SigkillUnderLoadLosesNoAcknowledgedAppend) {
    auto root = std::filesystem::temp_directory_path() /
                ("floe-stream-crash-" + std::to_string(::getpid()));
    std::filesystem::remove_all(root);
    std::mt19937_64 rng(std::random_device{}());
    constexpr int iterations = 50;
    constexpr int kills_per_directory = 10;
    uint64_t total_checked = 0;
    uint64_t total_acks = 0;
    auto started = std::chrono::steady_clock::now();
    std::map<int, std::map<int64_t, ack>> acks;
    std::filesystem::path dir;
    for (int i = 0; i < iterations; ++i) {
        if (i % kills_per_directory == 0) {
            if (!dir.empty()) {
                std::filesystem::remove_all(dir);
            }
            dir = root / std::to_string(i);
            std::filesystem::create_directories(dir);
            acks.clear();
        }
        int64_t child_epoch = 2 * i + 1;
        auto run_for = std::chrono::milliseconds(10 + rng() % 291);
        size_t before = 0;
        for (const auto& [s, m] : acks) {
            before += m.size();
        }
        parse_acks(run_and_kill(dir.string(), child_epoch, static_cast<uint64_t>(i + 1), run_for),
                   acks);
        size_t after = 0;
        for (const auto& [s, m] : acks) {
            after += m.size();
        }
        total_acks += after - before;

        auto store = crash::open_store(dir, child_epoch + 1);
        ASSERT_TRUE(store.has_value())
            << "iteration " << i << ": " << store.error_value().to_string();
        for (const auto& [stream, expected] : acks) {
            auto info = (*store)->info(stream_id(static_cast<uint64_t>(stream)));
            ASSERT_TRUE(info.has_value()) << "iteration " << i << ": stream " << stream;
            const auto& last = *expected.rbegin();
            ASSERT_GE(info->high_watermark.value(), last.first + last.second.count)
                << "iteration " << i << ": stream " << stream << " lost its tail";
            // Read everything from offset 0: contiguous, and every ack present.
            int64_t cursor = 0;
            auto want = expected.begin();
            while (cursor < info->high_watermark.value()) {
                auto entries = (*store)->read(stream_id(static_cast<uint64_t>(stream)),
                                              offset(cursor), 256 << 10);
                ASSERT_TRUE(entries.has_value())
                    << "iteration " << i << ": " << entries.error_value().to_string();
                ASSERT_FALSE(entries->empty());
                for (const auto& e : *entries) {
                    ASSERT_EQ(e.base_offset.value(), cursor)
                        << "iteration " << i << ": stream " << stream << " gap or overlap";
                    while (want != expected.end() && want->first < cursor) {
                        FAIL() << "iteration " << i << ": acknowledged append " << stream << "@"
                               << want->first << " is not an entry boundary";
                    }
                    if (want != expected.end() && want->first == cursor) {
                        ASSERT_EQ(e.record_count, want->second.count);
                        ASSERT_EQ(e.payload.size(), want->second.size);
                        ASSERT_EQ(crash::fnv1a(e.payload.span()), want->second.hash)
                            << "iteration " << i << ": payload differs at " << stream << "@"
                            << cursor;
                        ++want;
                        ++total_checked;
                    } else {
                        // Durable but not acknowledged before the kill: still
                        // the bytes the child wrote for this offset.
                        byte_vector bytes =
                            crash::payload(static_cast<uint64_t>(stream), cursor, e.payload.size());
                        ASSERT_EQ(crash::fnv1a(bytes), crash::fnv1a(e.payload.span()));
                    }
                    cursor = e.end_offset().value();
                }
            }
            ASSERT_TRUE(want == expected.end()) << "iteration " << i << ": acknowledged append "
                                                << stream << "@" << want->first << " missing";
        }
        // Unacknowledged-but-durable entries become part of the log: record
        // them as expected so later iterations check them too.
        for (auto& [stream, expected] : acks) {
            int64_t cursor = 0;
            auto info = (*store)->info(stream_id(static_cast<uint64_t>(stream)));
            while (cursor < info->high_watermark.value()) {
                auto entries = (*store)->read(stream_id(static_cast<uint64_t>(stream)),
                                              offset(cursor), 1 << 20);
                ASSERT_TRUE(entries.has_value());
                for (const auto& e : *entries) {
                    expected[e.base_offset.value()] =
                        ack{e.record_count, e.payload.size(), crash::fnv1a(e.payload.span())};
                    cursor = e.end_offset().value();
                }
            }
        }
        store->reset();
    }
    std::filesystem::remove_all(root);
    auto elapsed = std::chrono::steady_clock::now() - started;
    EXPECT_GT(total_acks, uint64_t{iterations}) << "the child barely acknowledged anything";
    std::printf("stream crash test: %d kills, %llu acks, %llu entries verified, %lld ms\n",
                iterations, static_cast<unsigned long long>(total_acks),
                static_cast<unsigned long long>(total_checked),
                static_cast<long long>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()));
}

}  // namespace
}  // namespace floe::stream
