#include "metadata/registry_keys.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <thread>

#include "metadata/embedded_store.h"
#include "metadata/fault_injecting_store.h"
#include "metadata/tests/test_util.h"

namespace floe::metadata {
namespace {

TEST(MetadataRegistryKeys, KeysAreZeroPaddedSoPrefixRangesAreNumericallyOrdered) {
    EXPECT_EQ(stream_key(stream_id(7)), "/floe/streams/00000000000000000007");
    EXPECT_EQ(object_key(object_id(123)), "/floe/objects/00000000000000000123");
    EXPECT_EQ(node_key(node_id(3)), "/floe/nodes/0000000003");
    EXPECT_EQ(id_counter_key("stream"), "/floe/ids/stream");
    EXPECT_LT(stream_key(stream_id(9)), stream_key(stream_id(10)));
    EXPECT_TRUE(stream_key(stream_id(UINT64_MAX)).starts_with(streams_prefix));
}

TEST(MetadataRegistryKeys, ParseInvertsFormat) {
    EXPECT_EQ(parse_stream_key(stream_key(stream_id(42))), stream_id(42));
    EXPECT_EQ(parse_object_key(object_key(object_id(UINT64_MAX))), object_id(UINT64_MAX));
    EXPECT_EQ(parse_node_key(node_key(node_id(2147483647))), node_id(2147483647));
    EXPECT_EQ(parse_stream_key("/floe/streams/42"), std::nullopt);
    EXPECT_EQ(parse_stream_key(object_key(object_id(1))), std::nullopt);
    EXPECT_EQ(parse_node_key("/floe/nodes/00000000x1"), std::nullopt);
}

class MetadataAllocateId : public ::testing::Test {
protected:
    void SetUp() override {
        embedded_store_options options;
        options.directory = _dir.path();
        _store = embedded_store::open(options).value();
    }
    testing::temp_dir _dir;
    std::unique_ptr<embedded_store> _store;
};

TEST_F(MetadataAllocateId, StartsAtOneAndReservesBlocks) {
    EXPECT_EQ(allocate_id(*_store, stream_id_counter).value(), 1u);
    EXPECT_EQ(allocate_id(*_store, stream_id_counter).value(), 2u);
    EXPECT_EQ(allocate_id(*_store, stream_id_counter, 10).value(), 3u);
    EXPECT_EQ(allocate_id(*_store, stream_id_counter).value(), 13u);
    // Counters are independent.
    EXPECT_EQ(allocate_id(*_store, object_id_counter).value(), 1u);
    EXPECT_EQ(_store->get(id_counter_key(stream_id_counter)).value()->value, "13");
}

TEST_F(MetadataAllocateId, RejectsCorruptCounter) {
    ASSERT_TRUE(_store->put(id_counter_key("bad"), "12x").has_value());
    auto r = allocate_id(*_store, "bad");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error_value().code, errc::corrupt);
}

TEST_F(MetadataAllocateId, UniqueAcrossThreads) {
    constexpr int threads = 4;
    constexpr int per_thread = 40;
    std::mutex mutex;
    std::vector<uint64_t> ids;
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&] {
            for (int i = 0; i < per_thread; ++i) {
                auto id = allocate_id(*_store, object_id_counter);
                ASSERT_TRUE(id.has_value()) << id.error_value().to_string();
                std::lock_guard lock(mutex);
                ids.push_back(*id);
            }
        });
    }
    for (auto& w : workers) {
        w.join();
    }
    std::sort(ids.begin(), ids.end());
    ASSERT_EQ(ids.size(), static_cast<size_t>(threads * per_thread));
    for (size_t i = 0; i < ids.size(); ++i) {
        EXPECT_EQ(ids[i], i + 1);
    }
}

TEST_F(MetadataAllocateId, FailedWriteIsReportedAndHandsOutNothing) {
    fault_injecting_store faulty(*_store);
    faulty.fail_writes(1);
    auto failed = allocate_id(faulty, stream_id_counter);
    ASSERT_FALSE(failed.has_value());
    EXPECT_EQ(failed.error_value().code, errc::io);
    EXPECT_EQ(allocate_id(faulty, stream_id_counter).value(), 1u);
    EXPECT_EQ(faulty.injected(), 1);
}

TEST_F(MetadataAllocateId, LostResponseNeverCausesReuse) {
    // The txn commits but its caller sees an error: that id is skipped, never
    // handed out twice.
    fault_injecting_store faulty(*_store);
    faulty.lose_write_responses(1);
    EXPECT_FALSE(allocate_id(faulty, stream_id_counter).has_value());
    EXPECT_EQ(allocate_id(faulty, stream_id_counter).value(), 2u);
}

TEST(MetadataFaultInjectingStore, ReadFailuresAreCountedAndThenPassThrough) {
    testing::temp_dir dir;
    auto inner = embedded_store::open({dir.path(), 100}).value();
    fault_injecting_store faulty(*inner);
    ASSERT_TRUE(faulty.put("k", "v").has_value());
    faulty.fail_reads(2, errc::not_found);
    EXPECT_EQ(faulty.get("k").error_value().code, errc::not_found);
    EXPECT_FALSE(faulty.range({key_range::single("k"), 0, 0}).has_value());
    EXPECT_EQ(faulty.get("k").value()->value, "v");
    EXPECT_EQ(faulty.injected(), 2);
}

}  // namespace
}  // namespace floe::metadata
