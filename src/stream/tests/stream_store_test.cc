#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

// shared_buffer.h before strong_id.h: its parameter `offset` would otherwise
// shadow floe::offset (-Wshadow).
#include "base/shared_buffer.h"
#include "metadata/fault_injecting_store.h"
#include "metadata/registry_keys.h"
#include "objstore/fault_store.h"
#include "stream/tests/stream_test_util.h"
#include "wal/fault_file.h"

namespace floe::stream {
namespace {

using namespace test;
using namespace std::chrono_literals;

class StreamStoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        _storage.dir = make_temp_dir("stream");
        _storage.open_backends();
    }
    void TearDown() override {
        _store.reset();
        _storage.close_backends();
        std::filesystem::remove_all(_storage.dir);
    }
    void start(stream_store_options options = small_options()) {
        auto file = _storage.wal_file_open();
        ASSERT_TRUE(file.has_value()) << file.error_value().to_string();
        auto opened = stream_store::open(options, *file, _storage.objects, _storage.meta);
        ASSERT_TRUE(opened.has_value()) << opened.error_value().to_string();
        _store = std::move(*opened);
    }
    // Destroys the store and the backends and opens all of them again.
    void restart(stream_store_options options = small_options()) {
        _store.reset();
        _storage.close_backends();
        _storage.open_backends();
        start(options);
    }
    // Appends `n` entries of `size` bytes (2 offsets each) from `next`.
    int64_t append_many(uint64_t stream, epoch e, int64_t next, int n, size_t size) {
        for (int i = 0; i < n; ++i) {
            status s = append_wait(*_store, stream, e, next, 2, 1000 + next,
                                   make_payload(stream, next, size));
            EXPECT_TRUE(s.has_value()) << s.error_value().to_string();
            next += 2;
        }
        return next;
    }
    // Reads [from, end) in chunks of max_bytes and checks every entry.
    void verify(uint64_t stream, int64_t from, int64_t end, size_t size, size_t max_bytes) {
        int64_t cursor = from;
        while (cursor < end) {
            auto entries = _store->read(stream_id(stream), offset(cursor), max_bytes);
            ASSERT_TRUE(entries.has_value()) << entries.error_value().to_string();
            ASSERT_FALSE(entries->empty()) << "at " << cursor;
            ASSERT_LE(entries->front().base_offset.value(), cursor);
            for (const auto& e : *entries) {
                if (&e != &entries->front()) {
                    ASSERT_EQ(e.base_offset.value(), cursor) << "gap or duplicate";
                }
                ASSERT_EQ(e.record_count, 2);
                byte_vector expected = make_payload(stream, e.base_offset.value(), size);
                ASSERT_TRUE(std::equal(expected.begin(), expected.end(), e.payload.data(),
                                       e.payload.data() + e.payload.size()) &&
                            expected.size() == e.payload.size())
                    << "payload mismatch at " << e.base_offset.value();
                EXPECT_EQ(e.max_timestamp, 1000 + e.base_offset.value());
                cursor = e.end_offset().value();
            }
        }
        EXPECT_EQ(cursor, end);
        auto tail = _store->read(stream_id(stream), offset(end), max_bytes);
        ASSERT_TRUE(tail.has_value());
        EXPECT_TRUE(tail->empty());
    }
    bool wait_for(const std::function<bool()>& condition, std::chrono::milliseconds limit = 10s) {
        auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            if (condition()) {
                return true;
            }
            std::this_thread::sleep_for(2ms);
        }
        return condition();
    }

    storage _storage;
    std::unique_ptr<stream_store> _store;
};

TEST_F(StreamStoreTest, RoundTripAcrossCacheWalAndObjects) {
    auto options = small_options();
    options.log_cache_bytes = 2048;  // holds a handful of entries
    start(options);
    auto pos = _store->open_stream(stream_id(1), epoch(1));
    ASSERT_TRUE(pos.has_value());
    EXPECT_EQ(pos->start, offset(0));
    EXPECT_EQ(pos->next, offset(0));
    (void)_store->open_stream(stream_id(2), epoch(1));
    int64_t end1 = append_many(1, epoch(1), 0, 100, 300);
    int64_t end2 = append_many(2, epoch(1), 0, 30, 700);
    // Tail from the cache, the rest from the WAL.
    verify(1, 0, end1, 300, 1000);
    verify(2, 0, end2, 700, 1);
    EXPECT_GT(_store->statistics().wal_reads, 0u);
    ASSERT_TRUE(_store->upload_now().has_value());
    auto info = _store->info(stream_id(1));
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->record.committed_end, offset(end1));
    EXPECT_GT(_store->statistics().wal_trim_position, 0u);
    // Now from objects (several 4 KiB blocks), sequentially and from the middle.
    verify(1, 0, end1, 300, 5000);
    verify(1, 77, end1, 300, 100000);
    verify(2, 0, end2, 700, 3000);
    auto fetches = _store->statistics().object_block_fetches;
    EXPECT_GT(fetches, 0u);
    // More appends: a mix of objects, WAL and cache in one read.
    int64_t more = append_many(1, epoch(1), end1, 20, 300);
    verify(1, 0, more, 300, 1 << 20);
    auto whole = _store->read(stream_id(1), offset(0), 1 << 20);
    ASSERT_TRUE(whole.has_value());
    EXPECT_EQ(whole->back().end_offset(), offset(more));
}

TEST_F(StreamStoreTest, ReadAheadFetchesFewerTimesThanBlocks) {
    auto options = small_options();
    options.log_cache_bytes = 0;
    options.max_readahead_blocks = 8;
    start(options);
    (void)_store->open_stream(stream_id(1), epoch(1));
    int64_t end = append_many(1, epoch(1), 0, 200, 1000);  // ~50 blocks of 4 KiB
    ASSERT_TRUE(_store->upload_now().has_value());
    verify(1, 0, end, 1000, 1);
    EXPECT_LT(_store->statistics().object_block_fetches, 25u);
}

TEST_F(StreamStoreTest, BuildMemoryCapsUploadRound) {
    // build_memory_bytes / 2 of payload per round: 2000 bytes = 4 entries of 500.
    auto options = small_options();
    options.build_memory_bytes = 4000;
    start(options);
    (void)_store->open_stream(stream_id(1), epoch(1));
    int64_t end = append_many(1, epoch(1), 0, 10, 500);
    ASSERT_TRUE(_store->upload_now().has_value());
    EXPECT_EQ(_store->info(stream_id(1))->record.committed_end, offset(8));
    ASSERT_TRUE(_store->upload_now().has_value());
    ASSERT_TRUE(_store->upload_now().has_value());
    EXPECT_EQ(_store->info(stream_id(1))->record.committed_end, offset(end));
    EXPECT_EQ(_store->statistics().objects_uploaded, 3u);
    verify(1, 0, end, 500, 1 << 20);
}

TEST_F(StreamStoreTest, ReadAheadBlocksCachedSeparately) {
    // Read-ahead blocks are cached in their own buffers: every cached block
    // is served again without a fetch, and the cache stays within capacity.
    auto options = small_options();
    options.log_cache_bytes = 0;
    options.max_readahead_blocks = 8;
    options.block_cache_bytes = 16 << 10;  // a few 4 KiB blocks
    start(options);
    (void)_store->open_stream(stream_id(1), epoch(1));
    int64_t end = append_many(1, epoch(1), 0, 200, 1000);
    ASSERT_TRUE(_store->upload_now().has_value());
    verify(1, 0, end, 1000, 1);
    verify(1, 0, end, 1000, 1);
}

TEST_F(StreamStoreTest, ReadsAfterRestart) {
    start();
    (void)_store->open_stream(stream_id(1), epoch(1));
    int64_t uploaded = append_many(1, epoch(1), 0, 40, 500);
    ASSERT_TRUE(_store->upload_now().has_value());
    int64_t end = append_many(1, epoch(1), uploaded, 40, 500);
    restart();
    auto info = _store->info(stream_id(1));
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->record.committed_end, offset(uploaded));
    EXPECT_EQ(info->high_watermark, offset(end));
    verify(1, 0, end, 500, 3000);
    // Reopening continues at the next offset; the rest uploads after restart.
    auto pos = _store->open_stream(stream_id(1), epoch(2));
    ASSERT_TRUE(pos.has_value());
    EXPECT_EQ(pos->next, offset(end));
    int64_t later = append_many(1, epoch(2), end, 10, 500);
    ASSERT_TRUE(_store->upload_now().has_value());
    restart();
    EXPECT_EQ(_store->info(stream_id(1))->record.committed_end, offset(later));
    verify(1, 0, later, 500, 100000);
}

TEST_F(StreamStoreTest, EpochFencingOnOpenAndAppend) {
    start();
    ASSERT_TRUE(_store->open_stream(stream_id(1), epoch(5)).has_value());
    auto lower = _store->open_stream(stream_id(1), epoch(4));
    ASSERT_FALSE(lower.has_value());
    EXPECT_EQ(lower.error_value().code, errc::conflict);
    status stale = _store->append(stream_id(1), epoch(4), offset(0), 1, 0, make_payload(1, 0, 10),
                                  [](status) {});
    ASSERT_FALSE(stale.has_value());
    EXPECT_EQ(stale.error_value().code, errc::conflict);
    EXPECT_TRUE(append_wait(*_store, 1, epoch(5), 0, 1, 0, make_payload(1, 0, 10)).has_value());
    // Same epoch again is fine; unopened streams refuse appends.
    EXPECT_TRUE(_store->open_stream(stream_id(1), epoch(5)).has_value());
    EXPECT_EQ(
        _store
            ->append(stream_id(9), epoch(1), offset(0), 1, 0, make_payload(9, 0, 1), [](status) {})
            .error_value()
            .code,
        errc::not_found);
}

TEST_F(StreamStoreTest, EpochFencingOnUploadCommit) {
    start();
    (void)_store->open_stream(stream_id(1), epoch(1));
    (void)_store->open_stream(stream_id(2), epoch(1));
    int64_t end = append_many(1, epoch(1), 0, 10, 100);
    append_many(2, epoch(1), 0, 10, 100);
    // Another broker takes stream 1 over (its epoch is now 2).
    stream_record taken{epoch(2), offset(0), offset(0), node_id(2)};
    ASSERT_TRUE(_storage.meta->put(metadata::stream_key(stream_id(1)), encode_stream_record(taken))
                    .has_value());
    status refused = _store->upload_now();
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error_value().code, errc::conflict);
    EXPECT_EQ(_store->statistics().commits_fenced, 1u);
    // The object was deleted as garbage; nothing of stream 1 was committed.
    auto listed = _storage.objects->list("objects/");
    ASSERT_TRUE(listed.has_value());
    EXPECT_TRUE(listed->empty());
    EXPECT_TRUE(_store->info(stream_id(1))->fenced);
    status after = _store->append(stream_id(1), epoch(1), offset(end), 1, 0,
                                  make_payload(1, end, 10), [](status) {});
    EXPECT_EQ(after.error_value().code, errc::conflict);
    // Stream 2 is unaffected and uploads on the next round.
    ASSERT_TRUE(_store->upload_now().has_value());
    EXPECT_EQ(_store->info(stream_id(2))->record.committed_end, offset(20));
    auto record = _storage.meta->get(metadata::stream_key(stream_id(1)));
    EXPECT_EQ(decode_stream_record((*record)->value)->owner_epoch, epoch(2));
    verify(2, 0, 20, 100, 1 << 20);
}

TEST_F(StreamStoreTest, ContiguityAndRangeErrors) {
    start();
    (void)_store->open_stream(stream_id(1), epoch(1));
    int64_t end = append_many(1, epoch(1), 0, 5, 50);
    for (int64_t wrong : {end - 1, end + 1, int64_t{0}}) {
        status s = _store->append(stream_id(1), epoch(1), offset(wrong), 1, 0,
                                  make_payload(1, wrong, 1), [](status) {});
        ASSERT_FALSE(s.has_value());
        EXPECT_EQ(s.error_value().code, errc::invalid_argument);
    }
    EXPECT_EQ(_store
                  ->append(stream_id(1), epoch(1), offset(end), 0, 0, make_payload(1, end, 1),
                           [](status) {})
                  .error_value()
                  .code,
              errc::invalid_argument);
    auto at_end = _store->read(stream_id(1), offset(end), 100);
    ASSERT_TRUE(at_end.has_value());
    EXPECT_TRUE(at_end->empty());
    auto beyond = _store->read(stream_id(1), offset(end + 1), 100);
    ASSERT_FALSE(beyond.has_value());
    EXPECT_EQ(beyond.error_value().code, errc::not_found);
    // An offset inside an entry returns that whole entry.
    auto inside = _store->read(stream_id(1), offset(3), 1);
    ASSERT_TRUE(inside.has_value());
    ASSERT_EQ(inside->size(), 1u);
    EXPECT_EQ(inside->front().base_offset, offset(2));
    EXPECT_FALSE(_store->read(stream_id(77), offset(0), 1).has_value());
}

TEST_F(StreamStoreTest, TimestampLookupAcrossObjectsAndWal) {
    start();
    (void)_store->open_stream(stream_id(1), epoch(1));
    int64_t mid = append_many(1, epoch(1), 0, 50, 200);  // max_ts = 1000 + base
    ASSERT_TRUE(_store->upload_now().has_value());
    int64_t end = append_many(1, epoch(1), mid, 50, 200);
    auto first = _store->find_offset_by_timestamp(stream_id(1), 0);
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(**first, offset(0));
    EXPECT_EQ(**_store->find_offset_by_timestamp(stream_id(1), 1000 + 41), offset(42));
    EXPECT_EQ(**_store->find_offset_by_timestamp(stream_id(1), 1000 + 42), offset(42));
    EXPECT_EQ(**_store->find_offset_by_timestamp(stream_id(1), 1000 + mid + 3), offset(mid + 4));
    EXPECT_FALSE(_store->find_offset_by_timestamp(stream_id(1), 1000 + end)->has_value());
    // The start offset bounds the answer.
    ASSERT_TRUE(_store->trim(stream_id(1), offset(31)).has_value());
    EXPECT_EQ(**_store->find_offset_by_timestamp(stream_id(1), 0), offset(31));
}

TEST_F(StreamStoreTest, TrimIsDurable) {
    start();
    (void)_store->open_stream(stream_id(1), epoch(1));
    int64_t end = append_many(1, epoch(1), 0, 30, 100);
    ASSERT_TRUE(_store->trim(stream_id(1), offset(20)).has_value());
    EXPECT_TRUE(_store->trim(stream_id(1), offset(10)).has_value());  // lower: no-op
    EXPECT_EQ(_store->trim(stream_id(1), offset(end + 1)).error_value().code,
              errc::invalid_argument);
    EXPECT_EQ(_store->read(stream_id(1), offset(19), 1).error_value().code, errc::not_found);
    verify(1, 20, end, 100, 1000);
    ASSERT_TRUE(_store->upload_now().has_value());
    restart();
    EXPECT_EQ(_store->info(stream_id(1))->record.start_offset, offset(20));
    EXPECT_EQ(_store->read(stream_id(1), offset(0), 1).error_value().code, errc::not_found);
    verify(1, 20, end, 100, 1000);
    auto pos = _store->open_stream(stream_id(1), epoch(2));
    EXPECT_EQ(pos->start, offset(20));
}

TEST_F(StreamStoreTest, UploadRetriedAfterObjectStoreFailures) {
    auto inner = _storage.objects;
    auto faulty = std::make_shared<objstore::fault_store>(*inner, 7);
    faulty->fail_nth(objstore::fault_store::op::put, 1);
    faulty->fail_nth(objstore::fault_store::op::put, 2);
    faulty->fail_nth(objstore::fault_store::op::put, 3);
    _storage.objects = faulty;
    auto options = small_options();
    options.upload_bytes = 4096;
    options.upload_age = 20ms;
    options.log_cache_bytes = 0;
    start(options);
    (void)_store->open_stream(stream_id(1), epoch(1));
    (void)_store->open_stream(stream_id(2), epoch(1));
    int64_t end = 0;
    for (int round = 0; round < 10; ++round) {
        end = append_many(1, epoch(1), end, 10, 300);
        append_many(2, epoch(1), end - 20, 10, 300);
    }
    ASSERT_TRUE(wait_for([&] {
        return _store->info(stream_id(1))->record.committed_end == offset(end) &&
               _store->info(stream_id(2))->record.committed_end == offset(end);
    }));
    EXPECT_GE(faulty->failures(objstore::fault_store::op::put), 3u);
    EXPECT_GE(_store->statistics().upload_failures, 3u);
    verify(1, 0, end, 300, 4000);
    verify(2, 0, end, 300, 4000);
    restart(options);
    verify(1, 0, end, 300, 4000);
    _storage.objects = inner;
}

TEST_F(StreamStoreTest, LostCommitResponseIsNotMistakenForFencing) {
    // The commit txn is applied but reports an error (etcd timed out after
    // committing); the store must notice that it committed rather than fence
    // itself or leave a gap.
    auto inner = _storage.meta;
    auto faulty = std::make_shared<metadata::fault_injecting_store>(*inner);
    _storage.meta = faulty;
    start();
    (void)_store->open_stream(stream_id(1), epoch(1));
    int64_t a = append_many(1, epoch(1), 0, 10, 100);
    ASSERT_TRUE(_store->upload_now().has_value());  // reserves a batch of object ids
    int64_t b = append_many(1, epoch(1), a, 10, 100);
    faulty->lose_write_responses(1);  // the commit: applied, reported as io
    ASSERT_TRUE(_store->upload_now().has_value());
    EXPECT_EQ(_store->info(stream_id(1))->record.committed_end, offset(b));
    // Lost again, and the check that follows fails too: the next round's
    // compare fails, and the store resynchronises instead of fencing itself.
    int64_t c = append_many(1, epoch(1), b, 10, 100);
    faulty->lose_write_responses(1);
    faulty->fail_reads(1);
    EXPECT_FALSE(_store->upload_now().has_value());
    status second = _store->upload_now();
    EXPECT_FALSE(second.has_value());
    EXPECT_FALSE(_store->info(stream_id(1))->fenced);
    ASSERT_TRUE(_store->upload_now().has_value());
    EXPECT_EQ(_store->info(stream_id(1))->record.committed_end, offset(c));
    verify(1, 0, c, 100, 1 << 20);
    int64_t d = append_many(1, epoch(1), c, 5, 100);
    ASSERT_TRUE(_store->upload_now().has_value());
    _store.reset();
    _storage.meta = inner;
    faulty.reset();
    inner.reset();
    restart();
    verify(1, 0, d, 100, 1 << 20);
    auto listed = _storage.objects->list("objects/");
    ASSERT_TRUE(listed.has_value());
    EXPECT_EQ(listed->size(), 4u);  // the refused round's object was deleted
}

TEST_F(StreamStoreTest, GarbageObjectDeletedOnRecovery) {
    start();
    (void)_store->open_stream(stream_id(1), epoch(1));
    int64_t end = append_many(1, epoch(1), 0, 10, 100);
    ASSERT_TRUE(_store->upload_now().has_value());
    int64_t more = append_many(1, epoch(1), end, 10, 100);
    // A crash between put and commit leaves an object metadata does not name.
    byte_vector stray(1000, 0xab);
    ASSERT_TRUE(_storage.objects->put("objects/n1/00000000000000000999", stray).has_value());
    ASSERT_TRUE(_storage.objects->put("objects/n2/00000000000000000998", stray).has_value());
    restart();
    EXPECT_EQ(_store->statistics().garbage_deleted, 1u);
    auto listed = _storage.objects->list("objects/n1/");
    ASSERT_TRUE(listed.has_value());
    ASSERT_EQ(listed->size(), 1u);  // the committed object stays
    // Another node's objects are its own business.
    EXPECT_TRUE(_storage.objects->head("objects/n2/00000000000000000998").has_value());
    verify(1, 0, more, 100, 1 << 20);
}

// A wal_file whose sync() can be held until released.
class gated_file final : public wal_file {
public:
    explicit gated_file(uint64_t size) : _inner(size) {}
    status write(uint64_t offset_bytes, byte_span data) override {
        return _inner.write(offset_bytes, data);
    }
    status read(uint64_t offset_bytes, std::span<uint8_t> out) override {
        return _inner.read(offset_bytes, out);
    }
    status sync() override {
        std::unique_lock lock(_mutex);
        ++_waiting;
        _changed.notify_all();
        _changed.wait(lock, [&] { return !_closed; });
        --_waiting;
        lock.unlock();
        return _inner.sync();
    }
    uint64_t size() const override { return _inner.size(); }
    void set_gate(bool closed) {
        std::lock_guard lock(_mutex);
        _closed = closed;
        _changed.notify_all();
    }
    void wait_for_waiter() {
        std::unique_lock lock(_mutex);
        _changed.wait(lock, [&] { return _waiting > 0; });
    }
    fault_file& inner() { return _inner; }

private:
    fault_file _inner;
    std::mutex _mutex;
    std::condition_variable _changed;
    int _waiting = 0;      // guarded by _mutex
    bool _closed = false;  // guarded by _mutex
};

TEST_F(StreamStoreTest, HighWatermarkNeverExposesUnsyncedData) {
    auto file = std::make_shared<gated_file>(wal_format::k_data_offset + k_wal_capacity);
    auto opened = stream_store::open(small_options(), file, _storage.objects, _storage.meta);
    ASSERT_TRUE(opened.has_value()) << opened.error_value().to_string();
    _store = std::move(*opened);
    (void)_store->open_stream(stream_id(1), epoch(1));
    int64_t end = append_many(1, epoch(1), 0, 3, 100);
    file->set_gate(true);
    std::atomic<bool> acked{false};
    ASSERT_TRUE(_store
                    ->append(stream_id(1), epoch(1), offset(end), 2, 1000 + end,
                             make_payload(1, end, 100), [&](status s) { acked = s.has_value(); })
                    .has_value());
    file->wait_for_waiter();  // written, not yet synced
    std::this_thread::sleep_for(20ms);
    EXPECT_FALSE(acked.load());
    EXPECT_EQ(_store->info(stream_id(1))->high_watermark, offset(end));
    EXPECT_EQ(_store->info(stream_id(1))->next_offset, offset(end + 2));
    auto tail = _store->read(stream_id(1), offset(end), 1 << 20);
    ASSERT_TRUE(tail.has_value());
    EXPECT_TRUE(tail->empty());
    auto all = _store->read(stream_id(1), offset(0), 1 << 20);
    ASSERT_TRUE(all.has_value());
    EXPECT_EQ(all->back().end_offset(), offset(end));
    EXPECT_EQ(_store->read(stream_id(1), offset(end + 1), 1).error_value().code, errc::not_found);
    file->set_gate(false);
    ASSERT_TRUE(wait_for([&] { return acked.load(); }));
    EXPECT_EQ(_store->info(stream_id(1))->high_watermark, offset(end + 2));
    verify(1, 0, end + 2, 100, 1 << 20);
}

TEST_F(StreamStoreTest, FailedSyncStopsAppendsAndNeverExposesTheEntry) {
    auto file = std::make_shared<fault_file>(wal_format::k_data_offset + k_wal_capacity);
    auto opened = stream_store::open(small_options(), file, _storage.objects, _storage.meta);
    ASSERT_TRUE(opened.has_value()) << opened.error_value().to_string();
    _store = std::move(*opened);
    (void)_store->open_stream(stream_id(1), epoch(1));
    int64_t end = append_many(1, epoch(1), 0, 3, 100);
    file->fail_sync(file->sync_count() + 1);
    status failed = append_wait(*_store, 1, epoch(1), end, 1, 0, make_payload(1, end, 100));
    ASSERT_FALSE(failed.has_value());
    EXPECT_EQ(failed.error_value().code, errc::io);
    EXPECT_EQ(_store->info(stream_id(1))->high_watermark, offset(end));
    EXPECT_FALSE(
        append_wait(*_store, 1, epoch(1), end + 1, 1, 0, make_payload(1, end, 1)).has_value());
    auto all = _store->read(stream_id(1), offset(0), 1 << 20);
    ASSERT_TRUE(all.has_value());
    EXPECT_EQ(all->back().end_offset(), offset(end));
    // Recovery from what survived: only the acknowledged prefix is there.
    byte_vector image = file->crash();
    _store.reset();
    auto rebooted = std::make_shared<fault_file>(std::move(image));
    auto reopened = stream_store::open(small_options(), rebooted, _storage.objects, _storage.meta);
    ASSERT_TRUE(reopened.has_value()) << reopened.error_value().to_string();
    _store = std::move(*reopened);
    EXPECT_EQ(_store->info(stream_id(1))->high_watermark, offset(end));
    verify(1, 0, end, 100, 1 << 20);
}

TEST_F(StreamStoreTest, BackgroundUploaderKeepsUpUnderWalBackPressure) {
    auto options = small_options();
    options.wal.capacity = k_wal_capacity;
    options.upload_bytes = 256 << 10;
    options.upload_age = 10ms;
    options.log_cache_bytes = 64 << 10;
    start(options);
    (void)_store->open_stream(stream_id(1), epoch(1));
    // Several times the WAL's capacity: only works if uploads trim the WAL.
    int64_t end = append_many(1, epoch(1), 0, 600, 16 << 10);
    ASSERT_TRUE(
        wait_for([&] { return _store->info(stream_id(1))->record.committed_end == offset(end); }));
    verify(1, 0, end, 16 << 10, 1 << 20);
    EXPECT_GT(_store->statistics().objects_uploaded, 1u);
}

}  // namespace
}  // namespace floe::stream
