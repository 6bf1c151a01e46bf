// partition over a real stream store whose WAL file can hold its syncs: what
// a producer is told while its batch is not yet durable.
#include "kafka/broker/partition.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <map>
#include <random>
#include <thread>

#include "kafka/broker/group_log.h"
#include "kafka/protocol/record_batch.h"
#include "metadata/embedded_store.h"
#include "objstore/local_store.h"
#include "wal/fault_file.h"

using namespace floe;
using namespace floe::kafka;

namespace {

// A WAL file whose sync() waits while the gate is closed.
class gated_file final : public wal_file {
public:
    explicit gated_file(uint64_t size) : _inner(size) {}
    status write(uint64_t offset, byte_span data) override { return _inner.write(offset, data); }
    status read(uint64_t offset, std::span<uint8_t> out) override {
        return _inner.read(offset, out);
    }
    status sync() override {
        std::unique_lock lock(_mutex);
        _cv.wait(lock, [&] { return _open; });
        return _inner.sync();
    }
    uint64_t size() const override { return _inner.size(); }
    void set_open(bool open) {
        {
            std::lock_guard lock(_mutex);
            _open = open;
        }
        _cv.notify_all();
    }

private:
    fault_file _inner;
    std::mutex _mutex;
    std::condition_variable _cv;
    bool _open = true;  // guarded by _mutex
};

struct temp_dir {
    std::filesystem::path path = std::filesystem::temp_directory_path() /
                                 ("floe-partition-" + std::to_string(std::random_device{}()));
    temp_dir() { std::filesystem::create_directories(path); }
    ~temp_dir() { std::filesystem::remove_all(path); }
};

byte_vector idempotent_batch(int64_t producer_id, int16_t epoch, int32_t sequence, int count) {
    record_batch_builder::options o;
    o.producer_id = producer_id;
    o.producer_epoch = epoch;
    o.base_sequence = sequence;
    record_batch_builder b(o);
    for (int i = 0; i < count; ++i) {
        std::string v = "value-" + std::to_string(sequence + i);
        b.append(1000 + i, std::nullopt,
                 byte_span(reinterpret_cast<const uint8_t*>(v.data()), v.size()));
    }
    return *b.build();
}

// A stream store over a gated WAL file, in a temporary directory.
class PartitionTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto meta = metadata::embedded_store::open({.directory = dir.path / "metadata"});
        ASSERT_TRUE(meta.has_value());
        metadata = std::shared_ptr<metadata::store>(std::move(*meta));
        auto objects = objstore::local_store::open((dir.path / "objects").string());
        ASSERT_TRUE(objects.has_value());
        constexpr uint64_t capacity = 8 << 20;
        file = std::make_shared<gated_file>(wal_format::k_data_offset + capacity);
        stream::stream_store_options options;
        options.wal.owner = node_id(1);
        options.wal.owner_epoch = epoch(1);
        options.wal.capacity = capacity;
        options.wal.append_timeout = std::chrono::milliseconds(0);
        options.tune_allocator = false;
        auto opened = stream::stream_store::open(options, file, std::move(*objects), metadata);
        ASSERT_TRUE(opened.has_value()) << opened.error_value().to_string();
        store = std::move(*opened);
    }

    temp_dir dir;
    std::shared_ptr<metadata::store> metadata;
    std::shared_ptr<gated_file> file;
    std::unique_ptr<stream::stream_store> store;
};

}  // namespace

TEST_F(PartitionTest, RetryOfANotYetDurableBatchIsAnsweredOnlyWhenItIsDurable) {
    partition p("orders", 0, stream_id(1), 0, *store);
    ASSERT_TRUE(p.load(epoch(1)).has_value());

    auto send = [&](std::promise<produce_outcome>& promise) {
        byte_vector bytes = idempotent_batch(42, 0, 0, 3);
        auto split = split_batches(bytes, split_mode::produce);
        EXPECT_TRUE(split.has_value());
        auto batches = split->batches;
        p.append(shared_buffer::adopt(std::move(bytes)), batches, -1,
                 [&promise](produce_outcome o) { promise.set_value(o); });
    };
    file->set_open(false);
    std::promise<produce_outcome> first;
    std::promise<produce_outcome> retry;
    auto first_done = first.get_future();
    auto retry_done = retry.get_future();
    send(first);
    send(retry);
    // Neither the original nor its retry may be answered before the sync.
    EXPECT_EQ(first_done.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
    EXPECT_EQ(retry_done.wait_for(std::chrono::milliseconds(1)), std::future_status::timeout);
    EXPECT_EQ(p.offsets().high_watermark, 0);
    file->set_open(true);
    ASSERT_EQ(first_done.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    ASSERT_EQ(retry_done.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    produce_outcome a = first_done.get();
    produce_outcome b = retry_done.get();
    EXPECT_EQ(a.error, error_code::none);
    EXPECT_EQ(b.error, error_code::none);
    EXPECT_EQ(a.base_offset, 0);
    EXPECT_EQ(b.base_offset, 0);
    // Appended once.
    EXPECT_EQ(p.offsets().high_watermark, 3);
    // A retry after the batch is durable is answered at once.
    std::promise<produce_outcome> late;
    auto late_done = late.get_future();
    send(late);
    ASSERT_EQ(late_done.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    EXPECT_EQ(late_done.get().base_offset, 0);
    EXPECT_EQ(p.offsets().high_watermark, 3);
}

TEST_F(PartitionTest, GroupLogAppendsOneBatchPerCallAndReadsEverythingBackInOrder) {
    auto p = std::make_shared<partition>("__consumer_offsets", 0, stream_id(9), 0, *store);
    ASSERT_TRUE(p->load(epoch(1)).has_value());
    // Completions are "posted" by running them at once (the test has no shard).
    group_log log(p, [](std::function<void()> fn) { fn(); });
    auto bytes = [](std::string_view text) { return byte_vector(text.begin(), text.end()); };
    std::vector<coordinator::log_record> expected;
    for (int call = 0; call < 5; ++call) {
        std::vector<coordinator::log_record> records;
        for (int i = 0; i <= call; ++i) {
            coordinator::log_record r;
            r.key = bytes("key-" + std::to_string(call) + "-" + std::to_string(i));
            if (i % 3 != 2) {
                r.value = bytes("value-" + std::to_string(call * 10 + i));
            }  // else a tombstone
            records.push_back(r);
        }
        expected.insert(expected.end(), records.begin(), records.end());
        std::promise<status> appended;
        auto appended_done = appended.get_future();
        log.append(records, [&appended](status s) { appended.set_value(s); });
        ASSERT_EQ(appended_done.wait_for(std::chrono::seconds(30)), std::future_status::ready);
        ASSERT_TRUE(appended_done.get().has_value());
    }
    // One batch (one offset range) per call: 1 + 2 + 3 + 4 + 5 records.
    EXPECT_EQ(p->offsets().high_watermark, 15);
    auto back = group_log::read_all(*p);
    ASSERT_TRUE(back.has_value()) << back.error_value().to_string();
    EXPECT_EQ(*back, expected);
    // An empty append completes at once.
    bool called = false;
    log.append({}, [&called](status s) { called = s.has_value(); });
    EXPECT_TRUE(called);
}

// What a coordinator's replay of `records` keeps: the last value of each key
// whose last record is not a tombstone.
std::map<std::string, std::string> replay(const std::vector<coordinator::log_record>& records) {
    std::map<std::string, std::string> live;
    for (const auto& r : records) {
        std::string key(r.key.begin(), r.key.end());
        if (r.value) {
            live[key] = std::string(r.value->begin(), r.value->end());
        } else {
            live.erase(key);
        }
    }
    return live;
}

TEST_F(PartitionTest, GroupLogWithNothingLiveTrimsEverythingDurable) {
    auto p = std::make_shared<partition>("__consumer_offsets", 2, stream_id(11), 0, *store);
    ASSERT_TRUE(p->load(epoch(1)).has_value());
    group_log_options options;
    options.compact_min_records = 40;
    group_log log(
        p, [](std::function<void()> fn) { fn(); }, {}, options);
    auto bytes = [](std::string_view text) { return byte_vector(text.begin(), text.end()); };
    // Each key written then deleted (groups created and deleted): nothing
    // stays live, so there is no value to snapshot.
    auto append = [&](coordinator::log_record r) {
        std::promise<status> appended;
        auto appended_done = appended.get_future();
        log.append({std::move(r)}, [&appended](status s) { appended.set_value(s); });
        ASSERT_EQ(appended_done.wait_for(std::chrono::seconds(30)), std::future_status::ready);
        ASSERT_TRUE(appended_done.get().has_value());
    };
    for (int call = 0; call < 40; ++call) {  // the 40th record reaches compact_min_records
        const std::string key = "key-" + std::to_string(call / 2);
        coordinator::log_record r;
        r.key = bytes(key);
        if (call % 2 == 0) {
            r.value = bytes("value");
        }
        append(std::move(r));
    }
    for (int i = 0; i < 300 && log.compactions() == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_GE(log.compactions(), 1u);
    EXPECT_EQ(log.live_keys(), 0u);
    // The 40th record made the decision; all but the record still in flight
    // then (the 40th itself) went.
    EXPECT_GE(p->offsets().log_start_offset, 39);
    auto back = group_log::read_all(*p);
    ASSERT_TRUE(back.has_value()) << back.error_value().to_string();
    EXPECT_LE(back->size(), 1u);
    auto replayed = replay(*back);
    EXPECT_TRUE(replayed.empty()) << replayed.size() << " keys live after a replay";
    // A key written afterwards is kept: trimming only ever covers what was
    // dead when it was decided.
    coordinator::log_record again;
    again.key = bytes("key-new");
    again.value = bytes("kept");
    append(again);
    auto after = group_log::read_all(*p);
    ASSERT_TRUE(after.has_value());
    ASSERT_FALSE(after->empty());
    EXPECT_EQ(after->back(), again);
}

TEST_F(PartitionTest, GroupLogCompactsToTheLastValueOfEachLiveKey) {
    auto p = std::make_shared<partition>("__consumer_offsets", 1, stream_id(10), 0, *store);
    ASSERT_TRUE(p->load(epoch(1)).has_value());
    group_log_options options;
    options.compact_min_records = 40;
    options.snapshot_batch_bytes = 64;  // several snapshot batches
    group_log log(
        p, [](std::function<void()> fn) { fn(); }, {}, options);
    auto bytes = [](std::string_view text) { return byte_vector(text.begin(), text.end()); };
    // 8 keys written over and over; the last write deletes key-3.
    std::map<std::string, std::string> expected;
    for (int call = 0; call < 100; ++call) {
        const std::string key = "key-" + std::to_string(call % 8);
        coordinator::log_record r;
        r.key = bytes(key);
        if (call == 99) {
            expected.erase(key);  // a tombstone
        } else {
            r.value = bytes("value-" + std::to_string(call));
            expected[key] = "value-" + std::to_string(call);
        }
        std::promise<status> appended;
        auto appended_done = appended.get_future();
        log.append({r}, [&appended](status s) { appended.set_value(s); });
        ASSERT_EQ(appended_done.wait_for(std::chrono::seconds(30)), std::future_status::ready);
        ASSERT_TRUE(appended_done.get().has_value());
    }
    for (int i = 0; i < 300 && log.compactions() == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_GE(log.compactions(), 1u);
    EXPECT_GT(p->offsets().log_start_offset, 0);
    auto back = group_log::read_all(*p);
    ASSERT_TRUE(back.has_value()) << back.error_value().to_string();
    // What a replay sees: the last value of each live key, and fewer records
    // than were appended.
    auto replayed = replay(*back);
    EXPECT_EQ(replayed, expected);
    EXPECT_LT(back->size(), 100u);
    EXPECT_EQ(log.live_keys(), expected.size());
    EXPECT_EQ(log.log_records(), back->size());

    // A new group_log over the compacted partition (a restart) knows the
    // same live keys.
    group_log reloaded(
        p, [](std::function<void()> fn) { fn(); }, {}, options);
    reloaded.loaded(*back);
    EXPECT_EQ(reloaded.live_keys(), expected.size());
}
