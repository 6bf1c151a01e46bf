// Helpers for the stream_store tests: a temp directory holding a WAL file, a
// local object store and an embedded metadata store, and blocking appends.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <future>
#include <random>
#include <string>

#include "metadata/embedded_store.h"
#include "objstore/local_store.h"
#include "stream/stream_store.h"
#include "wal/file.h"

namespace floe::stream::test {

// Payload bytes derived from (stream, base offset, size).
inline byte_vector make_payload(uint64_t stream, int64_t base, size_t size) {
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

inline std::filesystem::path make_temp_dir(const std::string& tag) {
    std::string templ = (std::filesystem::temp_directory_path() / ("floe-" + tag + "-XXXXXX"));
    char* made = ::mkdtemp(templ.data());
    if (made == nullptr) {
        ADD_FAILURE() << "mkdtemp failed";
        return {};
    }
    return made;
}

constexpr uint64_t k_wal_capacity = 4 << 20;

inline stream_store_options small_options() {
    stream_store_options o;
    o.wal.owner = node_id(1);
    o.wal.owner_epoch = epoch(1);
    o.wal.capacity = k_wal_capacity;
    o.wal.append_timeout = std::chrono::milliseconds(5000);
    o.log_cache_bytes = 1 << 20;
    o.block_cache_bytes = 1 << 20;
    o.upload_bytes = 1ull << 40;  // only upload_now() uploads unless a test lowers these
    o.upload_age = std::chrono::hours(1);
    o.object_block_size = 4096;
    o.retry_initial = std::chrono::milliseconds(1);
    o.retry_max = std::chrono::milliseconds(20);
    return o;
}

// The three storage pieces on disk under one directory.
struct storage {
    std::filesystem::path dir;
    std::shared_ptr<objstore::object_store> objects;
    std::shared_ptr<metadata::store> meta;

    result<std::shared_ptr<wal_file>> wal_file_open() const {
        auto file =
            posix_file::open((dir / "wal").string(), wal_format::k_data_offset + k_wal_capacity);
        if (!file) {
            return file.error_value();
        }
        return std::shared_ptr<wal_file>(std::move(*file));
    }
    void open_backends() {
        auto local = objstore::local_store::open((dir / "objects").string());
        ASSERT_TRUE(local.has_value()) << local.error_value().to_string();
        objects = std::shared_ptr<objstore::object_store>(std::move(*local));
        auto m = metadata::embedded_store::open({.directory = dir / "meta"});
        ASSERT_TRUE(m.has_value()) << m.error_value().to_string();
        meta = std::shared_ptr<metadata::store>(std::move(*m));
    }
    void close_backends() {
        objects.reset();
        meta.reset();
    }
};

inline status append_wait(stream_store& s, uint64_t stream, epoch e, int64_t base, int32_t count,
                          int64_t max_ts, const byte_vector& payload) {
    std::promise<status> done;
    auto future = done.get_future();
    status accepted = s.append(stream_id(stream), e, offset(base), count, max_ts, payload,
                               [&](status r) { done.set_value(std::move(r)); });
    if (!accepted) {
        return accepted;
    }
    return future.get();
}

}  // namespace floe::stream::test
