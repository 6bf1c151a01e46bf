// local_store: an object_store backed by a directory on a local file system,
// the embedded default for single-node installs and the reference backend in
// tests.
//
// Layout: key "a/b/c" is the file <root>/a.d/b.d/c.o. Every intermediate
// segment gets ".d", the last one ".o", so a key may be both an object and a
// prefix of other keys ("a" and "a/b" coexist as a.o and a.d/b.o) exactly as
// in S3. Directories are created on demand and never removed.
//
// Durability of put: write <final>.floe-tmp-<random> in the same directory,
// fdatasync it, rename it over <final>, fsync the directory (and fsync the
// parent of every directory put created). A crash leaves at most a temp file,
// which list ignores and open() deletes. remove unlinks and fsyncs the
// directory.
//
// Thread-safety: all methods may run concurrently; the object is immutable
// after open() and correctness rests on rename(2) atomicity. One process
// opens a given root at a time (open() deletes temp files it finds, which
// would break another process's put in flight).
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "objstore/object_store.h"

namespace floe::objstore {

class local_store final : public object_store {
public:
    // Creates `root` if missing and deletes leftover temp files under it.
    static result<std::unique_ptr<local_store>> open(std::string root);

    status put(std::string_view key, byte_span data) override;
    result<byte_vector> get(std::string_view key) override;
    result<byte_vector> get_range(std::string_view key, uint64_t offset, uint64_t length) override;
    result<object_info> head(std::string_view key) override;
    status remove(std::string_view key) override;
    result<std::vector<object_info>> list(std::string_view prefix) override;

    const std::string& root() const { return _root; }
    // The file holding `key` (which must be valid); for tests and tools.
    std::string path_of(std::string_view key) const;

private:
    explicit local_store(std::string root) : _root(std::move(root)) {}
    result<byte_vector> read_range(std::string_view key, uint64_t offset, uint64_t length,
                                   bool whole);

    const std::string _root;
    std::atomic<uint64_t> _temp_counter{0};
    // Puts use O_DIRECT until the file system refuses it once.
    std::atomic<bool> _direct{true};
};

}  // namespace floe::objstore
