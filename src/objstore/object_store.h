// object_store: the narrow interface through which Floe reads and writes
// immutable objects (stream-set objects, stream objects) in S3-compatible
// storage or, for single-node installs, a local directory.
//
// Contract (every backend):
//   - put(key, data) is atomic: a concurrent or later reader sees either the
//     whole new object or what was there before, never a torn mix. When put
//     returns ok the object is durable (survives a crash of this process and,
//     for the local backend, of the machine). Overwriting an existing key is
//     allowed and atomic.
//   - get / get_range / head of a missing key fail with errc::not_found.
//     get_range returns the bytes of [offset, offset + length) that exist: a
//     range that runs past the end is cut short, one that starts at or past
//     the end is empty.
//   - remove of a missing key is ok.
//   - list(prefix) returns every object whose key starts with prefix (all
//     pages), sorted by key.
//   - Keys are '/'-separated printable ASCII (see validate_key); an invalid
//     key fails with errc::invalid_argument before any I/O.
//   - Other failures (I/O, network, server errors after retries) are errc::io.
//
// Thread-safety: every method may be called concurrently from any thread. The
// calls are synchronous and may block (disk, network): call them from the
// blocking I/O pool, never from a shard (docs/concurrency.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"

namespace floe::objstore {

struct object_info {
    std::string key;
    uint64_t size = 0;  // bytes

    bool operator==(const object_info&) const = default;
};

// Longest key accepted, in bytes (S3's own limit is 1024).
inline constexpr size_t max_key_length = 1024;

// ok, or errc::invalid_argument naming what is wrong. A valid key:
//   - is 1..max_key_length bytes of printable ASCII (0x21..0x7e), no '\\';
//   - has no leading or trailing '/', no empty segment ("a//b");
//   - has no segment "." or "..";
//   - contains no ".floe-tmp" (reserved for the local backend's temp files).
status validate_key(std::string_view key);

// A prefix for list(): like a key, but may be empty and may end with '/'.
status validate_prefix(std::string_view prefix);

class object_store {
public:
    virtual ~object_store() = default;

    virtual status put(std::string_view key, byte_span data) = 0;
    virtual result<byte_vector> get(std::string_view key) = 0;
    virtual result<byte_vector> get_range(std::string_view key, uint64_t offset,
                                          uint64_t length) = 0;
    virtual result<object_info> head(std::string_view key) = 0;
    virtual status remove(std::string_view key) = 0;
    virtual result<std::vector<object_info>> list(std::string_view prefix) = 0;
};

}  // namespace floe::objstore
