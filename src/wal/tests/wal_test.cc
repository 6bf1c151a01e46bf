// Writer tests: round trip, group commit, ordered completions with several
// writes in flight, back-pressure and trim across laps, fencing, fail-stop and
// crash (drop unsynced) consistency.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "wal/tests/test_util.h"

namespace floe {
namespace {

using namespace wal_test;
namespace fmt = wal_format;

struct expected_record {
    uint64_t stream;
    int64_t base_offset;
    size_t size;
};

// Checks that `records` are exactly the acknowledged appends in `acked`
// (position -> identity), byte-identical, in position order.
void expect_recovered(const std::vector<wal_record>& records,
                      const std::map<uint64_t, expected_record>& acked) {
    std::map<uint64_t, const wal_record*> by_position;
    for (size_t i = 0; i < records.size(); ++i) {
        if (i > 0) {
            ASSERT_GT(records[i].where.position, records[i - 1].where.position);
        }
        by_position[records[i].where.position] = &records[i];
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

TEST(Wal, RoundTripManyAppendsOfManyStreams) {
    constexpr uint64_t capacity = 8 << 20;
    auto file = std::make_shared<fault_file>(file_size_for(capacity));
    auto w = wal::open(file, small_options(capacity));
    ASSERT_TRUE(w.has_value());
    completion_log log;
    std::mutex ids_mutex;
    std::map<uint64_t, expected_record> by_tag;
    constexpr int threads = 4;
    constexpr int per_thread = 400;
    std::vector<std::thread> producers;
    for (int t = 0; t < threads; ++t) {
        producers.emplace_back([&, t] {
            std::mt19937 rng(static_cast<uint32_t>(t));
            for (int i = 0; i < per_thread; ++i) {
                uint64_t stream = static_cast<uint64_t>(t * 10 + i % 5);
                int64_t base = i / 5;
                size_t size = rng() % 3000;
                uint64_t tag = static_cast<uint64_t>(t * per_thread + i);
                {
                    std::lock_guard lock(ids_mutex);
                    by_tag[tag] = {stream, base, size};
                }
                (*w)->append(stream_id(stream), epoch(1), offset(base), 1,
                             make_payload(stream, base, size), log.callback(tag));
            }
        });
    }
    for (auto& p : producers) {
        p.join();
    }
    ASSERT_TRUE((*w)->close().has_value());
    ASSERT_EQ(log.entries.size(), size_t{threads * per_thread});
    std::map<uint64_t, expected_record> acked;
    uint64_t last = 0;
    for (size_t i = 0; i < log.entries.size(); ++i) {
        auto& e = log.entries[i];
        ASSERT_TRUE(e.outcome.has_value()) << e.outcome.error_value().to_string();
        if (i > 0) {
            EXPECT_GT(e.outcome->position, last) << "completions out of WAL order";
        }
        last = e.outcome->position;
        acked[e.outcome->position] = by_tag[e.tag];
    }
    auto rec = recover(*file);
    ASSERT_TRUE(rec.has_value()) << rec.error_value().to_string();
    ASSERT_EQ(rec->records.size(), acked.size());
    expect_recovered(rec->records, acked);
    // Re-read some through the writer's positional read path, after reopening.
    auto again = wal::open(file, small_options(capacity));
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ((*again)->start_position(), rec->scan.tail);
    for (size_t i = 0; i < rec->records.size(); i += 97) {
        auto r = (*again)->read(rec->records[i].where);
        ASSERT_TRUE(r.has_value()) << r.error_value().to_string();
        EXPECT_EQ(r->payload, rec->records[i].payload);
    }
}

TEST(Wal, GroupCommitPutsConcurrentAppendsInOneWrite) {
    auto inner = std::make_shared<fault_file>(file_size_for(4 << 20));
    auto file = std::make_shared<slow_file>(inner, std::chrono::microseconds(3000));
    wal_options o = small_options(4 << 20);
    o.max_in_flight = 1;
    auto w = wal::open(file, o);
    ASSERT_TRUE(w.has_value());
    uint64_t writes_before = inner->write_count();
    completion_log log;
    constexpr int n = 2000;
    for (int i = 0; i < n; ++i) {
        (*w)->append(stream_id(static_cast<uint64_t>(i % 7)), epoch(1), offset(i), 1,
                     make_payload(1, i, 100), log.callback(static_cast<uint64_t>(i)));
    }
    log.wait(n);
    auto stats = (*w)->statistics();
    ASSERT_TRUE((*w)->close().has_value());
    uint64_t writes = inner->write_count() - writes_before;
    EXPECT_EQ(stats.records, uint64_t{n});
    EXPECT_EQ(writes, stats.groups);  // one write per group (none wrapped)
    EXPECT_LT(stats.groups, uint64_t{n / 10}) << "appends were not grouped";
    for (const auto& e : log.entries) {
        ASSERT_TRUE(e.outcome.has_value());
    }
}

TEST(Wal, CompletionsStayInOrderWithSeveralWritesInFlight) {
    auto inner = std::make_shared<fault_file>(file_size_for(8 << 20));
    auto file = std::make_shared<slow_file>(inner, std::chrono::microseconds(2000));
    wal_options o = small_options(8 << 20);
    o.max_in_flight = 4;
    o.max_group_bytes = 8192;  // many small groups, so several are in flight
    auto w = wal::open(file, o);
    ASSERT_TRUE(w.has_value());
    completion_log log;
    constexpr int n = 3000;
    std::thread a([&] {
        for (int i = 0; i < n; i += 2) {
            (*w)->append(stream_id(1), epoch(1), offset(i), 1, make_payload(1, i, 700),
                         log.callback(static_cast<uint64_t>(i)));
        }
    });
    std::thread b([&] {
        for (int i = 1; i < n; i += 2) {
            (*w)->append(stream_id(2), epoch(1), offset(i), 1, make_payload(2, i, 1500),
                         log.callback(static_cast<uint64_t>(i)));
        }
    });
    a.join();
    b.join();
    log.wait(n);
    ASSERT_TRUE((*w)->close().has_value());
    EXPECT_GE(file->max_concurrent_writes(), 2) << "never had two writes in flight";
    // One sync covers every write that returned before it: never two at once.
    EXPECT_EQ(file->max_concurrent_syncs(), 1);
    uint64_t last = 0;
    int64_t last_a = -1;
    int64_t last_b = -1;
    for (size_t i = 0; i < log.entries.size(); ++i) {
        auto& e = log.entries[i];
        ASSERT_TRUE(e.outcome.has_value());
        if (i > 0) {
            ASSERT_GT(e.outcome->position, last);
        }
        last = e.outcome->position;
        auto tag = static_cast<int64_t>(e.tag);
        int64_t& per_producer = tag % 2 == 0 ? last_a : last_b;
        ASSERT_GT(tag, per_producer) << "a producer's appends completed out of order";
        per_producer = tag;
    }
}

TEST(Wal, TrimReusesSpaceAcrossSeveralLapsAndStaleLapsAreNotReturned) {
    constexpr uint64_t capacity = 64 * 1024;
    auto file = std::make_shared<fault_file>(file_size_for(capacity));
    auto w = wal::open(file, small_options(capacity));
    ASSERT_TRUE(w.has_value());
    std::deque<std::pair<wal_position, expected_record>> live;
    std::mt19937 rng(7);
    for (int64_t i = 0; i < 300; ++i) {
        size_t size = 500 + rng() % 6000;
        auto p = append_wait(**w, 5, i, make_payload(5, i, size));
        ASSERT_TRUE(p.has_value()) << i << ": " << p.error_value().to_string();
        live.push_back({*p, {5, i, size}});
        // Keep the newest few records; trim below them.
        while (live.size() > 4) {
            live.pop_front();
        }
        ASSERT_TRUE((*w)->trim(live.front().first.position).has_value());
    }
    EXPECT_GT((*w)->durable_end(), 8 * capacity) << "did not go around the ring several times";
    ASSERT_TRUE((*w)->close().has_value());
    auto rec = recover(*file);
    ASSERT_TRUE(rec.has_value()) << rec.error_value().to_string();
    ASSERT_EQ(rec->records.size(), live.size());
    std::map<uint64_t, expected_record> acked;
    for (auto& [where, want] : live) {
        acked[where.position] = want;
    }
    expect_recovered(rec->records, acked);
    // What follows the tail is left from an earlier lap (or never written).
    EXPECT_TRUE(rec->scan.tail_reason.find("stale") != std::string::npos ||
                rec->scan.tail_reason == "zero block")
        << rec->scan.tail_reason;
}

TEST(Wal, FullRingMakesAppendsWaitUntilTrimOrTimeOut) {
    constexpr uint64_t capacity = 32 * 1024;
    auto file = std::make_shared<fault_file>(file_size_for(capacity));
    wal_options o = small_options(capacity);
    o.max_queued_bytes = 3 * 4000;
    o.append_timeout = std::chrono::milliseconds(200);
    auto w = wal::open(file, o);
    ASSERT_TRUE(w.has_value());
    // Each 3900-byte record needs a whole 4 KiB group: 8 fill the ring.
    for (int64_t i = 0; i < 8; ++i) {
        ASSERT_TRUE(append_wait(**w, 1, i, make_payload(1, i, 3900)).has_value());
    }
    completion_log log;
    for (int64_t i = 8; i < 11; ++i) {  // queued: fit max_queued_bytes
        (*w)->append(stream_id(1), epoch(1), offset(i), 1, make_payload(1, i, 3900),
                     log.callback(static_cast<uint64_t>(i)));
    }
    // The queue is full: this one waits append_timeout, then fails.
    auto started = std::chrono::steady_clock::now();
    (*w)->append(stream_id(1), epoch(1), offset(11), 1, make_payload(1, 11, 3900),
                 log.callback(11));
    EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(150));
    ASSERT_EQ(log.entries.size(), 1u);
    EXPECT_EQ(log.entries[0].tag, 11u);
    EXPECT_EQ(log.entries[0].outcome.error_value().code, errc::too_large);
    EXPECT_EQ((*w)->durable_end(), capacity);
    // Trimming two groups lets two of the queued appends in, then one more.
    ASSERT_TRUE((*w)->trim(2 * 4096).has_value());
    log.wait(3);
    ASSERT_TRUE((*w)->trim(3 * 4096).has_value());
    log.wait(4);
    for (size_t i = 1; i < 4; ++i) {
        ASSERT_TRUE(log.entries[i].outcome.has_value());
        EXPECT_EQ(log.entries[i].tag, 7 + i);
    }
    EXPECT_EQ(log.entries[3].outcome->position, capacity + 2 * 4096 + 48);
    ASSERT_TRUE((*w)->close().has_value());
}

TEST(Wal, RecordLargerThanTheRingIsRefused) {
    auto file = std::make_shared<fault_file>(file_size_for(16 * 1024));
    auto w = wal::open(file, small_options(16 * 1024));
    ASSERT_TRUE(w.has_value());
    auto r = append_wait(**w, 1, 0, byte_vector(16 * 1024));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error_value().code, errc::too_large);
    // A record that fills the ring exactly is fine, and wraps after a trim.
    ASSERT_TRUE(append_wait(**w, 1, 0, byte_vector(100)).has_value());
    ASSERT_TRUE((*w)->trim(4096).has_value());
    auto big = make_payload(1, 1, 16 * 1024 - 48 - 56);
    auto p = append_wait(**w, 1, 1, big);
    ASSERT_TRUE(p.has_value()) << p.error_value().to_string();
    EXPECT_EQ(p->position, 4096u + 48);
    ASSERT_TRUE((*w)->close().has_value());
    auto rec = recover(*file);
    ASSERT_TRUE(rec.has_value()) << rec.error_value().to_string();
    ASSERT_EQ(rec->records.size(), 1u);
    EXPECT_EQ(rec->records[0].payload, big);  // wrapped around the end of the ring
}

TEST(Wal, LowerEpochIsFencedEqualOrHigherTakesOver) {
    auto file = std::make_shared<fault_file>(file_size_for(64 * 1024));
    wal_options o = small_options();
    o.owner_epoch = epoch(5);
    {
        auto w = wal::open(file, o);
        ASSERT_TRUE(w.has_value());
        ASSERT_TRUE(append_wait(**w, 1, 0, make_payload(1, 0, 10)).has_value());
    }
    o.owner_epoch = epoch(4);
    o.owner = node_id(2);
    auto fenced = wal::open(file, o);
    ASSERT_FALSE(fenced.has_value());
    EXPECT_EQ(fenced.error_value().code, errc::conflict);
    EXPECT_EQ(read_wal_header(*file)->owner, node_id(1));
    for (int64_t e : {5, 9}) {
        o.owner_epoch = epoch(e);
        auto w = wal::open(file, o);
        ASSERT_TRUE(w.has_value());
        auto h = read_wal_header(*file);  // durable before any append
        EXPECT_EQ(h->owner_epoch, epoch(e));
        EXPECT_EQ(h->owner, node_id(2));
        ASSERT_TRUE(append_wait(**w, 1, e, make_payload(1, e, 10)).has_value());
    }
    o.owner_epoch = epoch(8);
    EXPECT_EQ(wal::open(file, o).error_value().code, errc::conflict);
    auto rec = recover(*file);
    ASSERT_TRUE(rec.has_value());
    EXPECT_EQ(rec->records.size(), 3u);
    EXPECT_EQ(rec->scan.header.generation, 3u);
}

// Fail-stop: inject the fault into the k-th group write (or sync); every
// append acknowledged before it recovers, nothing after it is acknowledged.
// With `delay`, writes and syncs take random times (slow_file), so groups are
// written while the sync leader syncs and the fault lands mid-pipeline.
void check_fail_stop(const std::function<void(fault_file&, uint64_t)>& inject,
                     std::chrono::microseconds delay = std::chrono::microseconds(0)) {
    auto file = std::make_shared<fault_file>(file_size_for(1 << 20));
    std::shared_ptr<wal_file> io = file;
    if (delay.count() > 0) {
        io = std::make_shared<slow_file>(file, delay);
    }
    wal_options o = small_options(1 << 20);
    o.max_group_bytes = 8192;
    auto w = wal::open(io, o);
    ASSERT_TRUE(w.has_value());
    // A few appends acknowledged one by one first: under load, groups are
    // written by several threads in any time order, so the fault may hit the
    // first group in WAL order.
    constexpr int before = 3;
    std::map<uint64_t, expected_record> acked;
    for (int i = 0; i < before; ++i) {
        auto p = append_wait(**w, 1, i, make_payload(1, i, 1000));
        ASSERT_TRUE(p.has_value());
        acked[p->position] = {1, i, 1000};
    }
    inject(*file, 5);
    completion_log log;
    // Waves of appends until one fails: each wave ends with all of its
    // appends completed, so it costs at least one write and one sync, and the
    // fault is reached however many groups a sync covers (at most 40 waves).
    constexpr int wave = 50;
    int n = before;
    auto any_failed = [&] {
        std::lock_guard lock(log.mutex);
        return std::any_of(log.entries.begin(), log.entries.end(),
                           [](const auto& e) { return !e.outcome.has_value(); });
    };
    for (int round = 0; round < 40 && !any_failed(); ++round) {
        for (int j = 0; j < wave; ++j, ++n) {
            (*w)->append(stream_id(1), epoch(1), offset(n), 1, make_payload(1, n, 1000),
                         log.callback(static_cast<uint64_t>(n)));
        }
        log.wait(static_cast<size_t>(n - before));
    }
    bool failed = false;
    for (const auto& e : log.entries) {
        if (e.outcome.has_value()) {
            ASSERT_FALSE(failed) << "an append succeeded after one failed";
            acked[e.outcome->position] = {1, static_cast<int64_t>(e.tag), 1000};
        } else {
            EXPECT_EQ(e.outcome.error_value().code, errc::io);
            failed = true;
        }
    }
    ASSERT_TRUE(failed);
    EXPECT_FALSE(acked.empty());
    uint64_t writes = file->write_count();
    auto late = append_wait(**w, 1, n, make_payload(1, n, 10));
    EXPECT_EQ(late.error_value().code, errc::io);
    EXPECT_EQ((*w)->trim(0).error_value().code, errc::io);
    EXPECT_EQ((*w)->close().error_value().code, errc::io);
    EXPECT_EQ(file->write_count(), writes) << "wrote after failing";
    fault_file rebooted(file->crash());
    auto rec = recover(rebooted);
    ASSERT_TRUE(rec.has_value()) << rec.error_value().to_string();
    expect_recovered(rec->records, acked);
    // Unacknowledged appends may have reached the disk (a failed sync says
    // nothing about what was written), but only after every acknowledged one.
    for (const auto& r : rec->records) {
        if (!acked.count(r.where.position)) {
            EXPECT_GT(r.where.position, acked.rbegin()->first) << "gap before an acked record";
        }
    }
}

TEST(Wal, WriteErrorStopsTheWal) {
    check_fail_stop([](fault_file& f, uint64_t k) { f.fail_write(f.write_count() + k); });
}

TEST(Wal, SyncErrorStopsTheWal) {
    check_fail_stop([](fault_file& f, uint64_t k) { f.fail_sync(f.sync_count() + k); });
}

TEST(Wal, TornWriteStopsTheWal) {
    check_fail_stop([](fault_file& f, uint64_t k) { f.tear_write(f.write_count() + k, 5000); });
}

TEST(Wal, FaultsWhileWritesOverlapTheSyncStopTheWal) {
    using namespace std::chrono_literals;
    for (uint64_t k : {1, 2, 5, 9}) {
        SCOPED_TRACE("fault at the k-th operation after the first appends, k = " +
                     std::to_string(k));
        check_fail_stop([k](fault_file& f, uint64_t) { f.fail_sync(f.sync_count() + k); }, 800us);
        check_fail_stop([k](fault_file& f, uint64_t) { f.fail_write(f.write_count() + k); },
                        800us);
        check_fail_stop(
            [k](fault_file& f, uint64_t) { f.tear_write(f.write_count() + k, 5000); }, 800us);
    }
}

// Crash at a random moment under load (keeping a random part of the unsynced
// writes): every acknowledged append recovers byte-identical, and a new writer
// continues from the recovered tail without resurrecting anything.
TEST(Wal, CrashKeepsEveryAcknowledgedAppend) {
    std::mt19937_64 rng(2024);
    for (int round = 0; round < 40; ++round) {
        constexpr uint64_t capacity = 1 << 20;
        auto file = std::make_shared<fault_file>(file_size_for(capacity));
        std::map<uint64_t, expected_record> acked;
        std::mutex acked_mutex;
        byte_vector image;
        {
            wal_options o = small_options(capacity);
            o.max_in_flight = 3;
            o.max_group_bytes = 16 * 1024;
            auto w = wal::open(file, o);
            ASSERT_TRUE(w.has_value());
            std::atomic<int> acks{0};
            int crash_after = static_cast<int>(rng() % 150);
            std::thread producer([&] {
                for (int64_t i = 0; i < 200; ++i) {
                    size_t size = 1 + (static_cast<size_t>(i) * 7919) % 4000;
                    (*w)->append(stream_id(9), epoch(1), offset(i), 1, make_payload(9, i, size),
                                 [&, i, size](result<wal_position> r) {
                                     if (r) {
                                         std::lock_guard lock(acked_mutex);
                                         acked[r->position] = {9, i, size};
                                         ++acks;
                                     }
                                 });
                }
            });
            while (acks.load() < crash_after) {
                std::this_thread::yield();
            }
            image = file->crash(rng());
            producer.join();
            (void)(*w)->close();
        }
        auto rebooted = std::make_shared<fault_file>(image);
        auto rec = recover(*rebooted);
        ASSERT_TRUE(rec.has_value()) << rec.error_value().to_string();
        {
            std::lock_guard lock(acked_mutex);
            expect_recovered(rec->records, acked);
        }
        // Take over and append; recovery must show exactly old prefix + new.
        auto w = wal::open(rebooted, small_options(capacity));
        ASSERT_TRUE(w.has_value());
        ASSERT_EQ((*w)->start_position(), rec->scan.tail);
        auto p = append_wait(**w, 10, 0, make_payload(10, 0, 50));
        ASSERT_TRUE(p.has_value());
        ASSERT_TRUE((*w)->close().has_value());
        auto again = recover(*rebooted);
        ASSERT_TRUE(again.has_value());
        ASSERT_EQ(again->records.size(), rec->records.size() + 1);
        EXPECT_EQ(again->records.back().where, *p);
    }
}

}  // namespace
}  // namespace floe
