// Crash test with a real process: wal_crash_child appends under load and
// reports each acknowledged append; the test kills it with SIGKILL at a random
// moment, recovers the WAL, and checks that every acknowledged append is there,
// byte-identical and in order. The same WAL file is reused across iterations,
// so each iteration also exercises takeover (a higher epoch) after a crash.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "base/testing/kill_child.h"
#include "wal/file.h"
#include "wal/recovery.h"

namespace floe {
namespace {

struct ack {
    uint64_t stream;
    int64_t base_offset;
    uint64_t position;
    uint32_t length;
    uint64_t hash;
};

uint64_t fnv1a(byte_span data) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint8_t b : data) {
        h = (h ^ b) * 0x100000001b3ull;
    }
    return h;
}

// Runs the child for `run_for`, SIGKILLs it, and returns what it printed.
std::string run_and_kill(const std::string& wal_path, int64_t owner_epoch, uint64_t seed,
                         std::chrono::milliseconds run_for) {
    auto run = floe::testing::run_and_kill(
        {WAL_CRASH_CHILD, wal_path, std::to_string(owner_epoch), std::to_string(seed)}, run_for);
    EXPECT_TRUE(run.killed) << "child exited on its own, status " << run.wait_status;
    return run.output;
}

struct child_report {
    bool opened = false;  // the child's wal::open() returned (new epoch synced)
    std::vector<ack> acks;
};

child_report parse_report(const std::string& text) {
    child_report report;
    std::vector<ack>& out = report.acks;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (in.eof()) {
            break;  // no trailing newline: cannot happen with atomic writes
        }
        if (line == "opened") {
            report.opened = true;
            continue;
        }
        std::istringstream fields(line);
        std::string word;
        ack a{};
        fields >> word >> a.stream >> a.base_offset >> a.position >> a.length >> a.hash;
        EXPECT_EQ(word, "ack") << line;
        out.push_back(a);
    }
    return report;
}

TEST(WalCrash, SigkillUnderLoadLosesNoAcknowledgedAppend) {
    auto dir =
        std::filesystem::temp_directory_path() / ("floe-wal-crash-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    std::string path = (dir / "wal").string();
    std::mt19937_64 rng(std::random_device{}());
    uint64_t total_acks = 0;
    epoch last_epoch(0);  // the header's epoch after the previous iteration
    constexpr int iterations = 50;
    auto started = std::chrono::steady_clock::now();
    for (int i = 0; i < iterations; ++i) {
        auto run_for = std::chrono::milliseconds(30 + rng() % 300);
        uint64_t seed = static_cast<uint64_t>(i + 1);
        auto report = parse_report(run_and_kill(path, i + 1, seed, run_for));
        const auto& acks = report.acks;
        auto file = posix_file::open(path, 0, {.create = false});
        if (!file.has_value() && !report.opened && i == 0) {
            continue;  // killed (on a loaded machine) before it created the file
        }
        ASSERT_TRUE(file.has_value()) << file.error_value().to_string();
        auto rec = recover(**file);
        ASSERT_TRUE(rec.has_value()) << "iteration " << i << ": " << rec.error_value().to_string();
        if (report.opened) {
            ASSERT_EQ(rec->scan.header.owner_epoch, epoch(i + 1));
        } else {
            // Killed before its open finished: the header holds this epoch or
            // the last one written before, never anything else.
            ASSERT_TRUE(acks.empty());
            ASSERT_GE(rec->scan.header.owner_epoch, last_epoch);
            ASSERT_LE(rec->scan.header.owner_epoch, epoch(i + 1));
        }
        last_epoch = rec->scan.header.owner_epoch;
        // Acks are printed in WAL order (callbacks run in order on one thread).
        for (size_t k = 1; k < acks.size(); ++k) {
            ASSERT_GT(acks[k].position, acks[k - 1].position) << "acks out of order";
        }
        size_t cursor = 0;
        uint64_t checked = 0;
        for (const auto& a : acks) {
            if (a.position < rec->scan.header.trim_position) {
                continue;  // trimmed by the child: no longer needed
            }
            while (cursor < rec->records.size() &&
                   rec->records[cursor].where.position < a.position) {
                ++cursor;
            }
            ASSERT_LT(cursor, rec->records.size())
                << "iteration " << i << ": acknowledged append at " << a.position << " lost";
            const auto& r = rec->records[cursor];
            ASSERT_EQ(r.where.position, a.position) << "iteration " << i;
            ASSERT_EQ(r.where.length, a.length);
            ASSERT_EQ(r.stream, stream_id(a.stream));
            ASSERT_EQ(r.base_offset, offset(a.base_offset));
            ASSERT_EQ(fnv1a(r.payload), a.hash) << "payload differs at " << a.position;
            ++checked;
        }
        total_acks += checked;
    }
    auto elapsed = std::chrono::steady_clock::now() - started;
    EXPECT_GT(total_acks, uint64_t{iterations}) << "the child barely acknowledged anything";
    std::printf("crash test: %d kills, %llu acknowledged appends verified, %lld ms\n", iterations,
                static_cast<unsigned long long>(total_acks),
                static_cast<long long>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()));
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace floe
