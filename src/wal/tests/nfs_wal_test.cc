// The WAL over NFS: nfs_file (libnfs) against a real nfs-ganesha server on
// loopback (nfs_server.h). Basics of the file; appends from several threads
// recovered byte-identical through a fresh connection; a second broker taking
// over with a higher epoch while the old epoch is refused; a server killed
// mid-run making the WAL fail-stop within the RPC timeout, and recovery after
// the restart finding every acknowledged record; a frozen server timing out.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <thread>

#include "wal/nfs_file.h"
#include "wal/tests/nfs_server.h"
#include "wal/tests/test_util.h"

namespace floe {
namespace {

using namespace wal_test;
using std::chrono::steady_clock;

nfs_server& server() {
    auto s = nfs_server::instance();
    if (!s) {
        ADD_FAILURE() << "NFS server did not start: " << s.error_value().message;
        abort_with("NFS server did not start: " + s.error_value().message);
    }
    return **s;
}

std::string unique_name(const std::string& prefix) {
    static std::atomic<int> counter{0};
    return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

struct expected_record {
    uint64_t stream;
    int64_t base_offset;
    size_t size;
};

// Every acknowledged record (position -> identity) is in `records`, byte-identical.
void expect_recovered(const std::vector<wal_record>& records,
                      const std::map<uint64_t, expected_record>& acked) {
    std::map<uint64_t, const wal_record*> by_position;
    for (const auto& r : records) {
        by_position[r.where.position] = &r;
    }
    for (const auto& [position, want] : acked) {
        auto it = by_position.find(position);
        ASSERT_NE(it, by_position.end()) << "acknowledged record at " << position << " lost";
        const wal_record& got = *it->second;
        EXPECT_EQ(got.stream, stream_id(want.stream));
        EXPECT_EQ(got.base_offset, offset(want.base_offset));
        ASSERT_EQ(got.payload, make_payload(want.stream, want.base_offset, want.size))
            << "payload differs at " << position;
    }
}

std::shared_ptr<nfs_file> open_nfs(const std::string& url, uint64_t size,
                                   nfs_file_options options = {}) {
    auto file = nfs_file::open(url, size, options);
    if (!file) {
        ADD_FAILURE() << file.error_value().to_string() << "\nserver log:\n" << server().log_tail();
        return nullptr;
    }
    return std::shared_ptr<nfs_file>(std::move(*file));
}

TEST(NfsFile, CreateWriteReadSyncReopen) {
    std::string name = unique_name("basic");
    std::string url = server().url(name);
    {
        auto file = open_nfs(url, 64 * 1024);
        ASSERT_TRUE(file);
        EXPECT_EQ(file->size(), 64u * 1024);
        auto payload = make_payload(1, 2, 8192);
        ASSERT_TRUE(file->write(4096, payload).has_value());
        ASSERT_TRUE(file->write(16384, {payload.data() + 0, 4096}).has_value());
        ASSERT_TRUE(file->sync().has_value());
        EXPECT_EQ(file->write(100, {payload.data(), 4096}).error_value().code,
                  errc::invalid_argument);
        EXPECT_EQ(file->write(64 * 1024, {payload.data(), 4096}).error_value().code,
                  errc::invalid_argument);
        byte_vector out(1000);
        ASSERT_TRUE(file->read(4096 + 77, out).has_value());  // unaligned read
        EXPECT_TRUE(std::equal(out.begin(), out.end(), payload.begin() + 77));
        EXPECT_EQ(file->read(64 * 1024 - 10, out).error_value().code, errc::truncated);
    }
    // A fresh object (new connections) sees the size and the data.
    auto again = open_nfs(url, 0, {.create = false});
    ASSERT_TRUE(again);
    EXPECT_EQ(again->size(), 64u * 1024);
    byte_vector out(8192);
    ASSERT_TRUE(again->read(4096, out).has_value());
    EXPECT_EQ(out, make_payload(1, 2, 8192));
    // The server's own file holds the bytes (it is a plain file in the export).
    std::ifstream local(server().export_dir() + "/" + name, std::ios::binary);
    byte_vector on_server((std::istreambuf_iterator<char>(local)),
                          std::istreambuf_iterator<char>());
    ASSERT_EQ(on_server.size(), 64u * 1024);
    EXPECT_TRUE(std::equal(out.begin(), out.end(), on_server.begin() + 4096));
    // Absent file without create; existing file smaller than asked.
    auto missing = nfs_file::open(server().url(unique_name("missing")), 0, {.create = false});
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error_value().code, errc::not_found);
    auto too_small = nfs_file::open(url, 128 * 1024);
    ASSERT_FALSE(too_small.has_value());
    EXPECT_EQ(too_small.error_value().code, errc::invalid_argument);
}

TEST(NfsFile, UnstableWritesWithCommitAndZeroFill) {
    std::string url = server().url(unique_name("unstable"));
    auto file = open_nfs(url, 256 * 1024, {.stable_writes = false, .zero_fill = true});
    ASSERT_TRUE(file);
    auto payload = make_payload(3, 4, 3 * 4096);
    ASSERT_TRUE(file->write(8192, payload).has_value());
    ASSERT_TRUE(file->sync().has_value());
    auto again = open_nfs(url, 0, {.create = false});
    ASSERT_TRUE(again);
    byte_vector out(payload.size());
    ASSERT_TRUE(again->read(8192, out).has_value());
    EXPECT_EQ(out, payload);
}

TEST(NfsFile, ErrorsNameTheUrlAndOperation) {
    // Nothing listens on this port: mount fails fast, as errc::io naming the URL.
    std::string url = "nfs://127.0.0.1/nowhere/wal?nfsport=" +
                      std::to_string(floe::testing::free_loopback_port()) +
                      "&mountport=" + std::to_string(floe::testing::free_loopback_port()) +
                      "&version=3";
    auto started = steady_clock::now();
    auto file = nfs_file::open(url, 4096, {.rpc_timeout = std::chrono::seconds(1)});
    ASSERT_FALSE(file.has_value());
    EXPECT_EQ(file.error_value().code, errc::io);
    EXPECT_NE(file.error_value().message.find("mount"), std::string::npos);
    EXPECT_NE(file.error_value().message.find(url), std::string::npos);
    EXPECT_LT(steady_clock::now() - started, std::chrono::seconds(10));
}

TEST(NfsWal, ConcurrentAppendsRecoveredByteIdenticalWithFreshContext) {
    constexpr uint64_t capacity = 8 << 20;
    std::string url = server().url(unique_name("wal"));
    std::map<uint64_t, expected_record> acked;
    {
        auto file = open_nfs(url, file_size_for(capacity));
        ASSERT_TRUE(file);
        auto options = small_options(capacity);
        options.max_in_flight = 4;
        auto w = wal::open(file, options);
        ASSERT_TRUE(w.has_value()) << w.error_value().to_string();
        std::mutex acked_mutex;
        std::atomic<int> failures{0};
        constexpr int threads = 4;
        constexpr int per_thread = 150;
        std::vector<std::thread> producers;
        for (int t = 0; t < threads; ++t) {
            producers.emplace_back([&, t] {
                std::mt19937 rng(static_cast<uint32_t>(t));
                for (int i = 0; i < per_thread; ++i) {
                    uint64_t stream = static_cast<uint64_t>(t * 10 + i % 3);
                    int64_t base = i;
                    size_t size = 1 + rng() % 9000;
                    (*w)->append(stream_id(stream), epoch(1), offset(base), 1,
                                 make_payload(stream, base, size),
                                 [&, stream, base, size](result<wal_position> r) {
                                     if (!r) {
                                         ++failures;
                                         return;
                                     }
                                     std::lock_guard lock(acked_mutex);
                                     acked[r->position] = {stream, base, size};
                                 });
                }
            });
        }
        for (auto& p : producers) {
            p.join();
        }
        ASSERT_TRUE((*w)->close().has_value());
        EXPECT_EQ(failures.load(), 0);
        EXPECT_EQ(acked.size(), size_t{threads * per_thread});
        auto stats = (*w)->statistics();
        EXPECT_LT(stats.groups, stats.records);  // group commit happened
    }
    auto fresh = open_nfs(url, 0, {.create = false});
    ASSERT_TRUE(fresh);
    auto recovered = recover(*fresh);
    ASSERT_TRUE(recovered.has_value()) << recovered.error_value().to_string();
    EXPECT_EQ(recovered->records.size(), acked.size());
    expect_recovered(recovered->records, acked);
}

TEST(NfsWal, TakeoverByAnotherBrokerFencesTheOldEpoch) {
    constexpr uint64_t capacity = 1 << 20;
    std::string url = server().url(unique_name("takeover"));
    std::map<uint64_t, expected_record> acked;
    {
        // Broker 1, epoch 5.
        auto file = open_nfs(url, file_size_for(capacity));
        ASSERT_TRUE(file);
        auto options = small_options(capacity);
        options.owner = node_id(1);
        options.owner_epoch = epoch(5);
        auto w = wal::open(file, options);
        ASSERT_TRUE(w.has_value()) << w.error_value().to_string();
        for (int i = 0; i < 20; ++i) {
            auto r = append_wait(**w, 1, i, make_payload(1, i, 2000));
            ASSERT_TRUE(r.has_value());
            acked[r->position] = {1, i, 2000};
        }
        ASSERT_TRUE((*w)->close().has_value());
    }
    // Broker 2 re-attaches over its own connections with epoch 6.
    auto file2 = open_nfs(url, 0, {.create = false});
    ASSERT_TRUE(file2);
    auto options2 = small_options(capacity);
    options2.owner = node_id(2);
    options2.owner_epoch = epoch(6);
    auto w2 = wal::open(file2, options2);
    ASSERT_TRUE(w2.has_value()) << w2.error_value().to_string();
    EXPECT_EQ((*w2)->header().owner, node_id(2));
    EXPECT_EQ((*w2)->header().owner_epoch, epoch(6));
    for (int i = 0; i < 10; ++i) {
        auto r = append_wait(**w2, 2, i, make_payload(2, i, 3000));
        ASSERT_TRUE(r.has_value());
        acked[r->position] = {2, i, 3000};
    }
    ASSERT_TRUE((*w2)->close().has_value());
    // Broker 1 comes back with its old epoch through yet another connection: refused.
    auto file1 = open_nfs(url, 0, {.create = false});
    ASSERT_TRUE(file1);
    auto stale = small_options(capacity);
    stale.owner = node_id(1);
    stale.owner_epoch = epoch(5);
    auto refused = wal::open(file1, stale);
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error_value().code, errc::conflict);
    auto header = read_wal_header(*file1);
    ASSERT_TRUE(header.has_value());
    EXPECT_EQ(header->owner_epoch, epoch(6));
    auto recovered = recover(*file1);
    ASSERT_TRUE(recovered.has_value()) << recovered.error_value().to_string();
    expect_recovered(recovered->records, acked);
}

TEST(NfsWal, ServerKilledMidRunFailsStopAndRestartRecoversEveryAck) {
    constexpr uint64_t capacity = 16 << 20;
    std::string url = server().url(unique_name("kill"));
    std::map<uint64_t, expected_record> acked;
    std::mutex acked_mutex;
    std::atomic<int> io_failures{0};
    std::atomic<int> other_failures{0};
    std::atomic<int> outstanding{0};
    std::atomic<bool> stop{false};
    auto file = open_nfs(url, file_size_for(capacity), {.rpc_timeout = std::chrono::seconds(2)});
    ASSERT_TRUE(file);
    auto options = small_options(capacity);
    options.max_in_flight = 4;
    auto w = wal::open(file, options);
    ASSERT_TRUE(w.has_value()) << w.error_value().to_string();
    std::thread producer([&] {
        for (int64_t i = 0; !stop.load(); ++i) {
            while (outstanding.load() >= 64 && !stop.load()) {
                std::this_thread::sleep_for(std::chrono::microseconds(200));
            }
            size_t size = 100 + static_cast<size_t>(i * 7919 % 5000);
            ++outstanding;
            (*w)->append(stream_id(7), epoch(1), offset(i), 1, make_payload(7, i, size),
                         [&, i, size](result<wal_position> r) {
                             --outstanding;
                             if (r) {
                                 std::lock_guard lock(acked_mutex);
                                 acked[r->position] = {7, i, size};
                             } else if (r.error_value().code == errc::io) {
                                 ++io_failures;
                             } else {
                                 ++other_failures;
                             }
                         });
        }
    });
    auto acked_count = [&] {
        std::lock_guard lock(acked_mutex);
        return acked.size();
    };
    auto deadline = steady_clock::now() + std::chrono::seconds(20);
    while (acked_count() < 300 && steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_GE(acked_count(), 300u) << "WAL over NFS too slow or stuck";

    server().kill_server();
    auto killed_at = steady_clock::now();
    while (io_failures.load() == 0 && steady_clock::now() - killed_at < std::chrono::seconds(15)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    auto failed_after = steady_clock::now() - killed_at;
    stop = true;
    producer.join();
    ASSERT_GT(io_failures.load(), 0) << "appends did not fail after the server was killed";
    EXPECT_LT(failed_after, std::chrono::seconds(10));
    EXPECT_EQ(other_failures.load(), 0);
    // Fail-stop: a later append fails too, and close() reports the error.
    auto late = append_wait(**w, 7, -1, make_payload(7, -1, 10));
    ASSERT_FALSE(late.has_value());
    EXPECT_EQ(late.error_value().code, errc::io);
    auto closed = (*w)->close();
    ASSERT_FALSE(closed.has_value());
    EXPECT_EQ(closed.error_value().code, errc::io);
    std::cerr << "acked " << acked.size() << " records; first error "
              << std::chrono::duration_cast<std::chrono::milliseconds>(failed_after).count()
              << " ms after SIGKILL: " << closed.error_value().message << "\n";

    auto restarted = server().start();
    ASSERT_TRUE(restarted.has_value()) << restarted.error_value().message;
    auto fresh = open_nfs(url, 0, {.create = false});
    ASSERT_TRUE(fresh);
    auto recovered = recover(*fresh);
    ASSERT_TRUE(recovered.has_value()) << recovered.error_value().to_string();
    EXPECT_GE(recovered->records.size(), acked.size());
    expect_recovered(recovered->records, acked);
    // A new writer takes over after the restart and can append again.
    auto next = small_options(capacity);
    next.owner_epoch = epoch(2);
    auto w2 = wal::open(fresh, next);
    ASSERT_TRUE(w2.has_value()) << w2.error_value().to_string();
    EXPECT_TRUE(append_wait(**w2, 7, 1000000, make_payload(7, 1000000, 500)).has_value());
    EXPECT_TRUE((*w2)->close().has_value());
}

TEST(NfsFile, FrozenServerTimesOutThenReconnects) {
    std::string url = server().url(unique_name("frozen"));
    auto file = open_nfs(url, 64 * 1024, {.rpc_timeout = std::chrono::seconds(1)});
    ASSERT_TRUE(file);
    auto payload = make_payload(5, 5, 4096);
    ASSERT_TRUE(file->write(0, payload).has_value());
    server().freeze();
    auto started = steady_clock::now();
    auto frozen = file->write(4096, payload);
    auto took = steady_clock::now() - started;
    server().thaw();
    ASSERT_FALSE(frozen.has_value()) << "a write to a stopped server succeeded";
    EXPECT_EQ(frozen.error_value().code, errc::io);
    EXPECT_NE(frozen.error_value().message.find(url), std::string::npos);
    EXPECT_LT(took, std::chrono::seconds(10));
    // The failed connection was dropped; the next call opens a new one.
    ASSERT_TRUE(file->write(8192, payload).has_value());
    byte_vector out(4096);
    ASSERT_TRUE(file->read(8192, out).has_value());
    EXPECT_EQ(out, payload);
}

}  // namespace
}  // namespace floe
