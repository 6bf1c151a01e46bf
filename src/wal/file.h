// wal_file: the narrow interface through which the WAL reaches its backing file
// or volume, and its POSIX implementation.
//
// Units: offsets and lengths are bytes from the start of the file. Writes must
// be aligned: `offset` and `data.size()` are multiples of alignment() (4096),
// so the same code runs with O_DIRECT; reads may be unaligned.
//
// Durability contract (what the WAL relies on, and all it relies on):
//   - after sync() returns ok, every byte written by a write() that returned ok
//     before sync() was called survives power loss and process death;
//   - a write() that has not been followed by a successful sync() may survive in
//     whole, in part (any subset of its 4 KiB blocks, and a block being written
//     may be torn), or not at all;
//   - after write() or sync() returns an error, the state of the bytes of every
//     unsynced write is unknown (the WAL treats this as fail-stop).
// The file's size is fixed at open (preallocated); writes never extend it.
//
// Threading: write(), read() and sync() may be called concurrently from any
// threads (positional I/O, no shared cursor); concurrent writes must not overlap.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "base/bytes.h"
#include "base/result.h"

namespace floe {

class wal_file {
public:
    virtual ~wal_file() = default;

    // Writes `data` at `offset`; both aligned to alignment(), within size().
    virtual status write(uint64_t offset, byte_span data) = 0;
    // Reads exactly `out.size()` bytes at `offset`; errc::truncated past size().
    virtual status read(uint64_t offset, std::span<uint8_t> out) = 0;
    // Makes every completed write durable (fdatasync).
    virtual status sync() = 0;
    // Size in bytes, fixed at open.
    virtual uint64_t size() const = 0;
    // Alignment in bytes required of write offsets and lengths.
    virtual size_t alignment() const { return 4096; }
};

struct posix_file_options {
    // Create the file (and preallocate `size` bytes) when it does not exist.
    bool create = true;
    // Try O_DIRECT; when the file system refuses it (EINVAL) fall back to
    // buffered I/O + fdatasync, and say so in posix_file::mode() and on stderr.
    // (tmpfs refused O_DIRECT before Linux 6.6; some NFS and FUSE mounts do.)
    bool direct = true;
    // On creation, write zeros over the whole file instead of posix_fallocate
    // alone: later overwrites then need no extent conversion at fdatasync time.
    bool zero_fill = false;
};

// A regular file (or block device) opened for the WAL.
class posix_file final : public wal_file {
public:
    // Opens `path`; creates it with `size` bytes when absent and options.create.
    // An existing file keeps its size (`size` 0 means "whatever it is").
    static result<std::unique_ptr<posix_file>> open(const std::string& path, uint64_t size,
                                                    posix_file_options options = {});
    ~posix_file() override;
    posix_file(const posix_file&) = delete;
    posix_file& operator=(const posix_file&) = delete;

    status write(uint64_t offset, byte_span data) override;
    status read(uint64_t offset, std::span<uint8_t> out) override;
    status sync() override;
    uint64_t size() const override { return _size; }

    // True when the file is open with O_DIRECT.
    bool direct() const { return _direct; }
    // Human-readable I/O mode, e.g. "O_DIRECT" or "buffered+fdatasync (O_DIRECT refused)".
    const std::string& mode() const { return _mode; }

private:
    posix_file(int fd, uint64_t size, bool direct, std::string path, std::string mode);

    int _fd;
    uint64_t _size;
    bool _direct;
    std::string _path;
    std::string _mode;
};

// Allocates `size` bytes aligned to 4096 (for O_DIRECT buffers), zero-filled
// unless constructed with `uninitialized` (for a buffer the caller fills in
// whole, e.g. a WAL group, which zeroes only its padding).
struct aligned_buffer {
    struct uninitialized_t {};
    static constexpr uninitialized_t uninitialized{};

    aligned_buffer() = default;
    explicit aligned_buffer(size_t size);
    aligned_buffer(size_t size, uninitialized_t);
    ~aligned_buffer();
    aligned_buffer(aligned_buffer&& other) noexcept;
    aligned_buffer& operator=(aligned_buffer&& other) noexcept;
    aligned_buffer(const aligned_buffer&) = delete;
    aligned_buffer& operator=(const aligned_buffer&) = delete;

    uint8_t* data() { return _data; }
    const uint8_t* data() const { return _data; }
    size_t size() const { return _size; }
    std::span<uint8_t> span() { return {_data, _size}; }

private:
    uint8_t* _data = nullptr;
    size_t _size = 0;
};

}  // namespace floe
