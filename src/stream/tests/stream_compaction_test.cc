// Stream objects at upload, compaction, retention and deletion of objects.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

// shared_buffer.h before strong_id.h: its parameter `offset` would otherwise
// shadow floe::offset (-Wshadow).
#include "base/shared_buffer.h"
#include "metadata/fault_injecting_store.h"
#include "metadata/registry_keys.h"
#include "objstore/fault_store.h"
#include "stream/tests/stream_test_util.h"

namespace floe::stream {
namespace {

using namespace test;
using namespace std::chrono_literals;

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

class StreamCompactionTest : public ::testing::Test {
protected:
    void SetUp() override {
        _storage.dir = make_temp_dir("compaction");
        _storage.open_backends();
    }
    void TearDown() override {
        _store.reset();
        _storage.close_backends();
        std::filesystem::remove_all(_storage.dir);
    }
    static stream_store_options options() {
        auto o = small_options();
        o.log_cache_bytes = 2048;  // reads come from objects
        o.block_cache_bytes = 16 << 10;
        o.maintenance_interval = 0ms;
        return o;
    }
    void start(stream_store_options o, std::shared_ptr<objstore::object_store> objects = nullptr,
               std::shared_ptr<metadata::store> meta = nullptr) {
        auto file = _storage.wal_file_open();
        ASSERT_TRUE(file.has_value()) << file.error_value().to_string();
        auto opened = stream_store::open(o, *file, objects ? objects : _storage.objects,
                                         meta ? meta : _storage.meta);
        ASSERT_TRUE(opened.has_value()) << opened.error_value().to_string();
        _store = std::move(*opened);
    }
    void restart(stream_store_options o) {
        _store.reset();
        _storage.close_backends();
        _storage.open_backends();
        start(o);
    }
    // Appends `n` entries of `size` bytes (2 offsets each, max timestamp
    // `ts`, or 1000 + offset when ts < 0) from `next`.
    int64_t append_many(uint64_t stream, int64_t next, int n, size_t size, int64_t ts = -1) {
        for (int i = 0; i < n; ++i) {
            status s = append_wait(*_store, stream, epoch(1), next, 2, ts < 0 ? 1000 + next : ts,
                                   make_payload(stream, next, size));
            EXPECT_TRUE(s.has_value()) << s.error_value().to_string();
            next += 2;
        }
        return next;
    }
    void upload() {
        status s = _store->upload_now();
        ASSERT_TRUE(s.has_value()) << s.error_value().to_string();
    }
    // Reads [from, end) of a stream written by append_many(size); "" or why not.
    static std::string check(stream_store& store, uint64_t stream, int64_t from, int64_t end,
                             size_t size, size_t max_bytes) {
        int64_t cursor = from;
        while (cursor < end) {
            auto entries = store.read(stream_id(stream), offset(cursor), max_bytes);
            if (!entries) {
                return "read at " + std::to_string(cursor) + ": " +
                       entries.error_value().to_string();
            }
            if (entries->empty()) {
                return "empty read at " + std::to_string(cursor);
            }
            if (entries->front().base_offset.value() > cursor) {
                return "gap at " + std::to_string(cursor);
            }
            for (const auto& e : *entries) {
                if (&e != &entries->front() && e.base_offset.value() != cursor) {
                    return "gap or duplicate at " + std::to_string(cursor);
                }
                byte_vector expected = make_payload(stream, e.base_offset.value(), size);
                if (e.record_count != 2 || expected.size() != e.payload.size() ||
                    !std::equal(expected.begin(), expected.end(), e.payload.data())) {
                    return "payload mismatch at " + std::to_string(e.base_offset.value());
                }
                cursor = e.end_offset().value();
            }
        }
        return "";  // past `end` when more was appended meanwhile
    }
    void verify(uint64_t stream, int64_t from, int64_t end, size_t size) {
        EXPECT_EQ(check(*_store, stream, from, end, size, 3000), "");
        EXPECT_EQ(check(*_store, stream, from, end, size, 1), "");
    }
    size_t stored_objects() {
        auto listed = _storage.objects->list("objects/n1/");
        EXPECT_TRUE(listed.has_value());
        return listed ? listed->size() : 0;
    }
    std::optional<object_record> record_of(object_id id) {
        auto kv = _storage.meta->get(metadata::object_key(id));
        if (!kv || !kv->has_value()) {
            return std::nullopt;
        }
        auto decoded = decode_object_record((*kv)->value);
        EXPECT_TRUE(decoded.has_value());
        return decoded ? std::optional<object_record>(*decoded) : std::nullopt;
    }

    storage _storage;
    std::unique_ptr<stream_store> _store;
};

TEST_F(StreamCompactionTest, BigStreamGetsAStreamObjectAtUpload) {
    auto o = options();
    o.stream_object_bytes = 10000;
    start(o);
    (void)_store->open_stream(stream_id(1), epoch(1));
    (void)_store->open_stream(stream_id(2), epoch(1));
    (void)_store->open_stream(stream_id(3), epoch(1));
    int64_t end1 = append_many(1, 0, 20, 1000);  // 20000 bytes: a stream object
    int64_t end2 = append_many(2, 0, 3, 100);
    int64_t end3 = append_many(3, 0, 3, 100);
    upload();
    EXPECT_EQ(_store->statistics().stream_objects_uploaded, 1u);
    EXPECT_EQ(_store->statistics().objects_uploaded, 2u);
    auto live = _store->live_objects();
    ASSERT_EQ(live.size(), 2u);
    int stream_objects = 0;
    for (object_id id : live) {
        auto record = record_of(id);
        ASSERT_TRUE(record.has_value());
        if (record->ranges.size() == 1) {
            ++stream_objects;
            EXPECT_EQ(record->ranges[0], (object_range{stream_id(1), offset(0), offset(end1)}));
        } else {
            ASSERT_EQ(record->ranges.size(), 2u);
            EXPECT_EQ(record->ranges[0].stream, stream_id(2));
            EXPECT_EQ(record->ranges[1].stream, stream_id(3));
        }
    }
    EXPECT_EQ(stream_objects, 1);
    EXPECT_EQ(_store->info(stream_id(1))->record.committed_end, offset(end1));
    verify(1, 0, end1, 1000);
    verify(2, 0, end2, 100);
    restart(o);
    verify(1, 0, end1, 1000);
    verify(3, 0, end3, 100);
}

TEST_F(StreamCompactionTest, MergesSmallObjectsWhileReadersRead) {
    auto o = options();
    start(o);
    (void)_store->open_stream(stream_id(1), epoch(1));
    (void)_store->open_stream(stream_id(2), epoch(1));
    std::atomic<int64_t> end1{0};
    std::atomic<int64_t> end2{0};
    auto round = [&] {
        end1 = append_many(1, end1, 5, 300);
        end2 = append_many(2, end2, 3, 500);
        upload();
    };
    for (int i = 0; i < 6; ++i) {
        round();
    }
    ASSERT_EQ(_store->live_objects().size(), 6u);
    std::atomic<bool> stop{false};
    std::atomic<int> reads{0};
    std::atomic<bool> failed{false};
    std::string failure;  // written by the reader before it sets `failed`
    std::thread reader([&] {
        while (!stop) {
            failure = check(*_store, 1, 0, end1, 300, 2000);
            if (failure.empty()) {
                failure = check(*_store, 2, 0, end2, 500, 1);
            }
            if (!failure.empty()) {
                failed = true;
                return;
            }
            ++reads;
        }
    });
    for (int i = 0; i < 5 && !failed; ++i) {
        status s = _store->run_compaction_once();
        EXPECT_TRUE(s.has_value()) << s.error_value().to_string();
        EXPECT_EQ(_store->live_objects().size(), 1u);
        round();
        round();
        // Let the reader cross the new layout at least once.
        int seen = reads;
        while (reads < seen + 1 && !failed) {
            std::this_thread::sleep_for(1ms);
        }
    }
    stop = true;
    reader.join();
    ASSERT_EQ(failure, "");
    auto stats = _store->statistics();
    EXPECT_EQ(stats.compactions, 5u);
    EXPECT_EQ(stats.objects_compacted, 6u + 4 * 3u);
    EXPECT_EQ(stats.compaction_failures, 0u);
    ASSERT_TRUE(_store->run_compaction_once().has_value());
    EXPECT_EQ(_store->live_objects().size(), 1u);
    verify(1, 0, end1, 300);
    verify(2, 0, end2, 500);
    // Replaced objects stay until the grace period ends: 16 uploads, 6 outputs.
    EXPECT_EQ(stored_objects(), 16u + 6u);
    restart(o);
    verify(1, 0, end1, 300);
    verify(2, 0, end2, 500);
    o.deletion_grace = 0ms;
    restart(o);
    ASSERT_TRUE(_store->run_deletion_once().has_value());
    EXPECT_EQ(stored_objects(), 1u);
    verify(1, 0, end1, 300);
    verify(2, 0, end2, 500);
    auto all = _storage.meta->range({metadata::key_range::with_prefix(metadata::objects_prefix)});
    ASSERT_TRUE(all.has_value());
    EXPECT_EQ(all->kvs.size(), 1u);
}

TEST_F(StreamCompactionTest, MergesConsecutiveStreamObjects) {
    auto o = options();
    o.stream_object_bytes = 3000;
    start(o);
    (void)_store->open_stream(stream_id(1), epoch(1));
    int64_t end = 0;
    for (int i = 0; i < 4; ++i) {
        end = append_many(1, end, 4, 1000);
        upload();
    }
    EXPECT_EQ(_store->statistics().stream_objects_uploaded, 4u);
    ASSERT_TRUE(_store->run_compaction_once().has_value());
    auto live = _store->live_objects();
    ASSERT_EQ(live.size(), 1u);
    auto record = record_of(live[0]);
    ASSERT_TRUE(record.has_value());
    ASSERT_EQ(record->ranges.size(), 1u);
    EXPECT_EQ(record->ranges[0], (object_range{stream_id(1), offset(0), offset(end)}));
    verify(1, 0, end, 1000);
}

TEST_F(StreamCompactionTest, CompactionSplitsOutStreamsWithEnoughData) {
    auto o = options();
    o.stream_object_bytes = 5000;
    start(o);
    (void)_store->open_stream(stream_id(1), epoch(1));
    (void)_store->open_stream(stream_id(2), epoch(1));
    (void)_store->open_stream(stream_id(3), epoch(1));
    int64_t end1 = 0;
    int64_t end2 = 0;
    int64_t end3 = 0;
    for (int i = 0; i < 3; ++i) {
        end1 = append_many(1, end1, 2, 1000);  // 2000 a round: stream-set objects
        end2 = append_many(2, end2, 2, 100);
        end3 = append_many(3, end3, 1, 100);
        upload();
    }
    EXPECT_EQ(_store->statistics().stream_objects_uploaded, 0u);
    ASSERT_TRUE(_store->run_compaction_once().has_value());
    auto live = _store->live_objects();
    ASSERT_EQ(live.size(), 2u);
    bool split = false;
    for (object_id id : live) {
        auto record = record_of(id);
        ASSERT_TRUE(record.has_value());
        if (record->ranges.size() == 1) {
            split = true;
            EXPECT_EQ(record->ranges[0], (object_range{stream_id(1), offset(0), offset(end1)}));
        } else {
            ASSERT_EQ(record->ranges.size(), 2u);
            EXPECT_EQ(record->ranges[0], (object_range{stream_id(2), offset(0), offset(end2)}));
            EXPECT_EQ(record->ranges[1], (object_range{stream_id(3), offset(0), offset(end3)}));
        }
    }
    EXPECT_TRUE(split);
    verify(1, 0, end1, 1000);
    verify(2, 0, end2, 100);
    verify(3, 0, end3, 100);
}

TEST_F(StreamCompactionTest, PeriodicMaintenanceCompactsAndDeletes) {
    auto o = options();
    o.maintenance_interval = 20ms;
    o.deletion_grace = 0ms;
    start(o);
    (void)_store->open_stream(stream_id(1), epoch(1));
    int64_t end = 0;
    for (int i = 0; i < 4; ++i) {
        end = append_many(1, end, 3, 200);
        upload();
    }
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline &&
           (_store->live_objects().size() != 1 || stored_objects() != 1)) {
        std::this_thread::sleep_for(5ms);
    }
    EXPECT_EQ(_store->live_objects().size(), 1u);
    EXPECT_EQ(stored_objects(), 1u);
    verify(1, 0, end, 200);
}

TEST_F(StreamCompactionTest, RetentionByBytesDeletesWholeObjectsOnly) {
    auto o = options();
    o.deletion_grace = 0ms;
    start(o);
    (void)_store->open_stream(stream_id(1), epoch(1));
    int64_t end = 0;
    std::vector<int64_t> ends;
    for (int i = 0; i < 5; ++i) {
        end = append_many(1, end, 4, 1000);  // 4 x (1000 + 24) bytes per object
        ends.push_back(end);
        upload();
    }
    int64_t pending_end = append_many(1, end, 2, 1000);  // not uploaded: never dropped
    _store->set_retention(stream_id(1), retention_policy{.retention_bytes = 11000});
    ASSERT_TRUE(_store->run_retention_once().has_value());
    // 5 x 4096 + 2000 bytes; dropping 3 objects leaves 8192 + 2000 <= 11000.
    EXPECT_EQ(_store->info(stream_id(1))->record.start_offset, offset(ends[2]));
    EXPECT_EQ(_store->statistics().objects_marked, 3u);
    EXPECT_EQ(_store->statistics().objects_deleted, 3u);
    EXPECT_EQ(stored_objects(), 2u);
    auto below = _store->read(stream_id(1), offset(ends[2] - 1), 100);
    ASSERT_FALSE(below.has_value());
    EXPECT_EQ(below.error_value().code, errc::not_found);
    verify(1, ends[2], pending_end, 1000);
    // A second pass changes nothing.
    ASSERT_TRUE(_store->run_retention_once().has_value());
    EXPECT_EQ(_store->info(stream_id(1))->record.start_offset, offset(ends[2]));
    restart(o);
    EXPECT_EQ(_store->info(stream_id(1))->record.start_offset, offset(ends[2]));
    verify(1, ends[2], pending_end, 1000);
}

TEST_F(StreamCompactionTest, RetentionByTimeMovesStartOverOldObjects) {
    auto o = options();
    o.deletion_grace = 0ms;
    start(o);
    (void)_store->open_stream(stream_id(1), epoch(1));
    int64_t old_end = append_many(1, 0, 4, 500);  // timestamps around 1970
    upload();
    old_end = append_many(1, old_end, 4, 500);
    upload();
    int64_t end = append_many(1, old_end, 4, 500, now_ms());
    upload();
    _store->set_retention(stream_id(1), retention_policy{.retention_ms = 3600 * 1000});
    ASSERT_TRUE(_store->run_retention_once().has_value());
    EXPECT_EQ(_store->info(stream_id(1))->record.start_offset, offset(old_end));
    EXPECT_EQ(_store->statistics().objects_deleted, 2u);
    EXPECT_EQ(stored_objects(), 1u);
    verify(1, old_end, end, 500);
}

TEST_F(StreamCompactionTest, SharedStreamSetObjectKeptUntilEveryStreamMoves) {
    auto o = options();
    o.deletion_grace = 0ms;
    start(o);
    (void)_store->open_stream(stream_id(1), epoch(1));
    (void)_store->open_stream(stream_id(2), epoch(1));
    int64_t end1 = append_many(1, 0, 4, 300);
    int64_t first2 = append_many(2, 0, 4, 300);
    upload();
    end1 = append_many(1, end1, 4, 300);
    int64_t end2 = append_many(2, first2, 4, 300);
    upload();
    _store->set_retention(stream_id(1), retention_policy{.retention_bytes = 0});
    ASSERT_TRUE(_store->run_retention_once().has_value());
    EXPECT_EQ(_store->info(stream_id(1))->record.start_offset, offset(end1));
    EXPECT_EQ(_store->statistics().objects_marked, 0u);  // stream 2 still needs both
    EXPECT_EQ(stored_objects(), 2u);
    verify(2, 0, end2, 300);
    ASSERT_TRUE(_store->trim(stream_id(2), offset(first2)).has_value());
    ASSERT_TRUE(_store->run_retention_once().has_value());
    EXPECT_EQ(_store->statistics().objects_deleted, 1u);
    EXPECT_EQ(stored_objects(), 1u);
    verify(2, first2, end2, 300);
}

TEST_F(StreamCompactionTest, CompactionConflictingWithRetentionFailsSafely) {
    auto o = options();
    start(o);
    (void)_store->open_stream(stream_id(1), epoch(1));
    int64_t end = 0;
    std::vector<int64_t> ends;
    for (int i = 0; i < 4; ++i) {
        end = append_many(1, end, 4, 500);
        ends.push_back(end);
        upload();
    }
    // Retention runs between compaction's puts and its commit, marking the
    // first object the compaction is about to replace (4 x 2096 bytes, keep
    // at most 7000: the first object goes).
    _store->set_retention(stream_id(1), retention_policy{.retention_bytes = 7000});
    _store->set_compaction_commit_hook(
        [&] { ASSERT_TRUE(_store->run_retention_once().has_value()); });
    status s = _store->run_compaction_once();
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error_value().code, errc::conflict);
    EXPECT_EQ(_store->statistics().compaction_failures, 1u);
    EXPECT_EQ(_store->statistics().objects_marked, 1u);
    EXPECT_EQ(_store->info(stream_id(1))->record.start_offset, offset(ends[0]));
    EXPECT_EQ(stored_objects(), 4u);  // the compaction's output was deleted
    EXPECT_EQ(_store->live_objects().size(), 3u);
    verify(1, ends[0], end, 500);
    // Without interference the next compaction merges what is left.
    _store->set_compaction_commit_hook(nullptr);
    ASSERT_TRUE(_store->run_compaction_once().has_value());
    EXPECT_EQ(_store->live_objects().size(), 1u);
    verify(1, ends[0], end, 500);
    restart(o);
    EXPECT_EQ(_store->live_objects().size(), 1u);
    verify(1, ends[0], end, 500);
}

TEST_F(StreamCompactionTest, MarkedObjectsDeletedOnlyAfterGracePeriod) {
    auto o = options();
    o.deletion_grace = 300ms;
    start(o);
    (void)_store->open_stream(stream_id(1), epoch(1));
    int64_t first = append_many(1, 0, 4, 500);
    upload();
    int64_t end = append_many(1, first, 4, 500);
    upload();
    // A reader that picked the first object before it was marked.
    auto early = _store->read(stream_id(1), offset(0), 1);
    ASSERT_TRUE(early.has_value());
    ASSERT_TRUE(_store->trim(stream_id(1), offset(first)).has_value());
    ASSERT_TRUE(_store->run_retention_once().has_value());
    EXPECT_EQ(_store->statistics().objects_marked, 1u);
    EXPECT_EQ(_store->statistics().objects_deleted, 0u);
    EXPECT_EQ(stored_objects(), 2u);
    std::this_thread::sleep_for(350ms);
    ASSERT_TRUE(_store->run_deletion_once().has_value());
    EXPECT_EQ(_store->statistics().objects_deleted, 1u);
    EXPECT_EQ(stored_objects(), 1u);
    auto all = _storage.meta->range({metadata::key_range::with_prefix(metadata::objects_prefix)});
    ASSERT_TRUE(all.has_value());
    EXPECT_EQ(all->kvs.size(), 1u);
    auto below = _store->read(stream_id(1), offset(0), 100);
    ASSERT_FALSE(below.has_value());
    EXPECT_EQ(below.error_value().code, errc::not_found);
    verify(1, first, end, 500);
}

TEST_F(StreamCompactionTest, FailedCommitLeavesGarbageCollectedOnNextOpen) {
    auto faulty_objects = std::make_shared<objstore::fault_store>(*_storage.objects);
    auto faulty_meta = std::make_shared<metadata::fault_injecting_store>(*_storage.meta);
    auto o = options();
    start(o, faulty_objects, faulty_meta);
    (void)_store->open_stream(stream_id(1), epoch(1));
    (void)_store->open_stream(stream_id(2), epoch(1));
    int64_t end1 = 0;
    int64_t end2 = 0;
    for (int i = 0; i < 3; ++i) {
        end1 = append_many(1, end1, 3, 400);
        end2 = append_many(2, end2, 3, 400);
        upload();
    }
    // The commit fails and so does the cleanup: the output stays behind, as
    // after a crash between put and commit.
    _store->set_compaction_commit_hook([&] {
        faulty_meta->fail_writes(1);
        faulty_objects->set_probability(objstore::fault_store::op::remove, 1.0);
    });
    ASSERT_FALSE(_store->run_compaction_once().has_value());
    faulty_objects->set_probability(objstore::fault_store::op::remove, 0.0);
    _store->set_compaction_commit_hook(nullptr);
    EXPECT_EQ(_store->live_objects().size(), 3u);
    EXPECT_EQ(stored_objects(), 4u);
    verify(1, 0, end1, 400);
    verify(2, 0, end2, 400);
    // The store dies; the next open collects the output.
    _store.reset();
    restart(o);
    EXPECT_EQ(_store->statistics().garbage_deleted, 1u);
    EXPECT_EQ(stored_objects(), 3u);
    verify(1, 0, end1, 400);
    verify(2, 0, end2, 400);
}

TEST_F(StreamCompactionTest, LostCommitResponseCountsAsCommitted) {
    auto faulty_meta = std::make_shared<metadata::fault_injecting_store>(*_storage.meta);
    auto o = options();
    start(o, nullptr, faulty_meta);
    (void)_store->open_stream(stream_id(1), epoch(1));
    int64_t end = 0;
    for (int i = 0; i < 3; ++i) {
        end = append_many(1, end, 3, 400);
        upload();
    }
    _store->set_compaction_commit_hook([&] { faulty_meta->lose_write_responses(1); });
    ASSERT_TRUE(_store->run_compaction_once().has_value());
    EXPECT_EQ(_store->live_objects().size(), 1u);
    verify(1, 0, end, 400);
    restart(o);
    EXPECT_EQ(_store->live_objects().size(), 1u);
    EXPECT_EQ(_store->statistics().garbage_deleted, 0u);
    verify(1, 0, end, 400);
}

TEST_F(StreamCompactionTest, CrashAfterCompactionPutsLosesNothing) {
    auto o = options();
    start(o);
    (void)_store->open_stream(stream_id(1), epoch(1));
    int64_t end = 0;
    for (int i = 0; i < 3; ++i) {
        end = append_many(1, end, 3, 400);
        upload();
    }
    int64_t pending_end = append_many(1, end, 3, 400);
    // Simulate a crash between the puts and the commit: the hook copies the
    // storage as it is at that moment (WAL, objects, metadata).
    std::filesystem::path snapshot = _storage.dir.string() + "-snapshot";
    _store->set_compaction_commit_hook([&] {
        std::filesystem::copy(_storage.dir, snapshot, std::filesystem::copy_options::recursive);
    });
    ASSERT_TRUE(_store->run_compaction_once().has_value());
    _store.reset();
    _storage.close_backends();
    std::filesystem::remove_all(_storage.dir);
    std::filesystem::rename(snapshot, _storage.dir);
    _storage.open_backends();
    start(o);
    EXPECT_EQ(_store->statistics().garbage_deleted, 1u);
    EXPECT_EQ(_store->live_objects().size(), 3u);
    EXPECT_EQ(stored_objects(), 3u);
    verify(1, 0, pending_end, 400);
}

}  // namespace
}  // namespace floe::stream
