#include <gtest/gtest.h>

#include <random>
#include <string>

#include "stream/block_cache.h"
#include "stream/log_cache.h"

namespace floe::stream {
namespace {

cached_entry make_entry(int64_t base, int32_t count, size_t bytes) {
    return cached_entry{offset(base), count, base, shared_buffer::adopt(byte_vector(bytes, 'x'))};
}

TEST(LogCache, ReadsFromTheEntryHoldingTheOffset) {
    log_cache cache(1 << 20);
    cache.put(stream_id(1), make_entry(10, 2, 100));
    cache.put(stream_id(1), make_entry(12, 3, 100));
    cache.put(stream_id(1), make_entry(15, 1, 100));
    auto entries = cache.read(stream_id(1), offset(13), 1 << 20);
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0].base_offset, offset(12));
    EXPECT_EQ(entries[1].base_offset, offset(15));
    EXPECT_TRUE(cache.read(stream_id(1), offset(9), 1 << 20).empty());
    EXPECT_TRUE(cache.read(stream_id(1), offset(16), 1 << 20).empty());
    EXPECT_TRUE(cache.read(stream_id(2), offset(10), 1 << 20).empty());
    auto range = cache.cached_range(stream_id(1));
    ASSERT_TRUE(range.has_value());
    EXPECT_EQ(range->first, offset(10));
    EXPECT_EQ(range->second, offset(16));
}

TEST(LogCache, MaxBytesLimitsAllButTheFirstEntry) {
    log_cache cache(1 << 20);
    cache.put(stream_id(1), make_entry(0, 1, 500));
    cache.put(stream_id(1), make_entry(1, 1, 500));
    EXPECT_EQ(cache.read(stream_id(1), offset(0), 10).size(), 1u);
    EXPECT_EQ(cache.read(stream_id(1), offset(0), 999).size(), 1u);
    EXPECT_EQ(cache.read(stream_id(1), offset(0), 1000).size(), 2u);
}

TEST(LogCache, EvictsOldestAcrossStreamsWithinCapacity) {
    const size_t each = 1000 + log_cache::kEntryOverhead;
    log_cache cache(3 * each);
    cache.put(stream_id(1), make_entry(0, 1, 1000));
    cache.put(stream_id(2), make_entry(0, 1, 1000));
    cache.put(stream_id(1), make_entry(1, 1, 1000));
    EXPECT_EQ(cache.size_bytes(), 3 * each);
    cache.put(stream_id(2), make_entry(1, 1, 1000));  // evicts stream 1 offset 0
    EXPECT_LE(cache.size_bytes(), cache.capacity_bytes());
    EXPECT_TRUE(cache.read(stream_id(1), offset(0), 1 << 20).empty());
    EXPECT_EQ(cache.read(stream_id(1), offset(1), 1 << 20).size(), 1u);
    EXPECT_EQ(cache.read(stream_id(2), offset(0), 1 << 20).size(), 2u);
}

TEST(LogCache, GapReplacesTheStreamsRun) {
    log_cache cache(1 << 20);
    cache.put(stream_id(1), make_entry(0, 5, 10));
    cache.put(stream_id(1), make_entry(100, 1, 10));
    auto range = cache.cached_range(stream_id(1));
    ASSERT_TRUE(range.has_value());
    EXPECT_EQ(range->first, offset(100));
    EXPECT_EQ(cache.size_bytes(), 10 + log_cache::kEntryOverhead);
}

TEST(LogCache, TrimAndDropReleaseBytes) {
    log_cache cache(1 << 20);
    for (int i = 0; i < 10; ++i)
        cache.put(stream_id(1), make_entry(i, 1, 10));
    cache.trim(stream_id(1), offset(4));
    EXPECT_EQ(cache.cached_range(stream_id(1))->first, offset(4));
    EXPECT_EQ(cache.size_bytes(), 6 * (10 + log_cache::kEntryOverhead));
    cache.drop_stream(stream_id(1));
    EXPECT_EQ(cache.size_bytes(), 0u);
    EXPECT_FALSE(cache.cached_range(stream_id(1)).has_value());
}

// Regression guard: trims without evictions must not let the internal
// eviction order grow without bound.
TEST(LogCache, ManyTrimsKeepBookkeepingBounded) {
    log_cache cache(1 << 30);
    for (int i = 0; i < 100000; ++i) {
        cache.put(stream_id(1), make_entry(i, 1, 1));
        cache.trim(stream_id(1), offset(i));
    }
    EXPECT_EQ(cache.size_bytes(), 1 + log_cache::kEntryOverhead);
    EXPECT_LE(cache.eviction_order_length(), 2u + 64u + 1u);
    // Eviction after all those trims still finds the live entry.
    log_cache small(2 * (1 + log_cache::kEntryOverhead));
    for (int i = 0; i < 1000; ++i) {
        small.put(stream_id(i % 3), make_entry(i / 3, 1, 1));
        EXPECT_LE(small.size_bytes(), small.capacity_bytes());
    }
}

TEST(LogCache, RandomOperationsKeepAccountingExact) {
    std::mt19937 rng(11);
    log_cache cache(50000);
    std::vector<int64_t> next(4, 0);
    for (int i = 0; i < 20000; ++i) {
        stream_id s(rng() % 4);
        switch (rng() % 10) {
            case 0:
                cache.trim(s, offset(next[s.value()] - static_cast<int64_t>(rng() % 20)));
                break;
            case 1:
                if (rng() % 20 == 0)
                    cache.drop_stream(s);
                break;
            default: {
                int32_t count = 1 + static_cast<int32_t>(rng() % 5);
                cache.put(s, make_entry(next[s.value()], count, rng() % 3000));
                next[s.value()] += count;
            }
        }
        ASSERT_LE(cache.size_bytes(), cache.capacity_bytes());
    }
    size_t recount = 0;
    for (uint64_t s = 0; s < 4; ++s) {
        auto range = cache.cached_range(stream_id(s));
        if (!range)
            continue;
        for (const auto& e : cache.read(stream_id(s), range->first, SIZE_MAX)) {
            recount += e.payload.size() + log_cache::kEntryOverhead;
        }
    }
    EXPECT_EQ(recount, cache.size_bytes());
}

TEST(BlockCache, LeastRecentlyUsedIsEvicted) {
    const size_t each = 100 + block_cache::kBlockOverhead;
    block_cache cache(2 * each);
    cache.put(object_id(1), 0, shared_buffer::adopt(byte_vector(100, 'a')));
    cache.put(object_id(1), 100, shared_buffer::adopt(byte_vector(100, 'b')));
    ASSERT_TRUE(cache.get(object_id(1), 0).has_value());  // now most recent
    cache.put(object_id(2), 0, shared_buffer::adopt(byte_vector(100, 'c')));
    EXPECT_FALSE(cache.get(object_id(1), 100).has_value());
    EXPECT_TRUE(cache.get(object_id(1), 0).has_value());
    EXPECT_TRUE(cache.get(object_id(2), 0).has_value());
    EXPECT_EQ(cache.size_bytes(), 2 * each);
    EXPECT_EQ(cache.hits(), 3u);
    EXPECT_EQ(cache.misses(), 1u);
}

TEST(BlockCache, EraseObjectAndReplace) {
    block_cache cache(1 << 20);
    cache.put(object_id(1), 0, shared_buffer::adopt(byte_vector(10, 'a')));
    cache.put(object_id(1), 0, shared_buffer::adopt(byte_vector(20, 'b')));
    EXPECT_EQ(cache.size_bytes(), 20 + block_cache::kBlockOverhead);
    cache.put(object_id(2), 0, shared_buffer::adopt(byte_vector(30, 'c')));
    cache.erase_object(object_id(1));
    EXPECT_FALSE(cache.get(object_id(1), 0).has_value());
    EXPECT_EQ(cache.size_bytes(), 30 + block_cache::kBlockOverhead);
}

TEST(BlockCache, ReturnedBlockOutlivesEviction) {
    block_cache cache(200);
    cache.put(object_id(1), 0, shared_buffer::adopt(byte_vector(100, 'a')));
    auto held = cache.get(object_id(1), 0);
    ASSERT_TRUE(held.has_value());
    cache.put(object_id(2), 0, shared_buffer::adopt(byte_vector(100, 'b')));
    EXPECT_FALSE(cache.get(object_id(1), 0).has_value());
    EXPECT_EQ(held->span()[99], 'a');
}

}  // namespace
}  // namespace floe::stream
