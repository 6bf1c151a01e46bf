// Shared by stream_crash_child.cc and stream_crash_test.cc: the storage
// layout under one directory, the options both sides use, and the payloads.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "metadata/embedded_store.h"
#include "objstore/local_store.h"
#include "stream/stream_store.h"
#include "wal/file.h"

namespace floe::stream::crash {

constexpr uint64_t k_wal_capacity = 4 << 20;
constexpr int k_streams = 4;

inline stream_store_options options(int64_t wal_epoch) {
    stream_store_options o;
    o.wal.owner = node_id(1);
    o.wal.owner_epoch = epoch(wal_epoch);
    o.wal.capacity = k_wal_capacity;
    o.wal.max_in_flight = 2;
    o.log_cache_bytes = 256 << 10;
    o.block_cache_bytes = 1 << 20;
    o.upload_bytes = 128 << 10;
    o.upload_age = std::chrono::milliseconds(20);
    o.object_block_size = 16 << 10;
    o.retry_initial = std::chrono::milliseconds(1);
    o.retry_max = std::chrono::milliseconds(50);
    // Compaction and deletion run all the time, so kills land in them too.
    o.maintenance_interval = std::chrono::milliseconds(30);
    o.compaction_small_object_bytes = 1 << 20;
    o.compaction_max_bytes = 4 << 20;
    o.stream_object_bytes = 256 << 10;
    o.deletion_grace = std::chrono::milliseconds(50);
    return o;
}

inline uint64_t fnv1a(byte_span data) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint8_t b : data) {
        h = (h ^ b) * 0x100000001b3ull;
    }
    return h;
}

inline byte_vector payload(uint64_t stream, int64_t base, size_t size) {
    byte_vector out(size);
    uint64_t x = stream * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(base) + 1;
    for (auto& b : out) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b = static_cast<uint8_t>(x);
    }
    return out;
}

inline result<std::unique_ptr<stream_store>> open_store(const std::filesystem::path& dir,
                                                        int64_t wal_epoch) {
    auto file =
        posix_file::open((dir / "wal").string(), wal_format::k_data_offset + k_wal_capacity);
    if (!file) {
        return file.error_value();
    }
    auto objects = objstore::local_store::open((dir / "objects").string());
    if (!objects) {
        return objects.error_value();
    }
    auto meta = metadata::embedded_store::open({.directory = dir / "meta"});
    if (!meta) {
        return meta.error_value();
    }
    return stream_store::open(options(wal_epoch), std::shared_ptr<wal_file>(std::move(*file)),
                              std::shared_ptr<objstore::object_store>(std::move(*objects)),
                              std::shared_ptr<metadata::store>(std::move(*meta)));
}

}  // namespace floe::stream::crash
