// nfs_file: a wal_file on an NFSv3 server reached through libnfs (a userspace
// NFS client: no kernel mount needed), named by a URL such as
//
//   nfs://127.0.0.1/srv/floe/wal-1?nfsport=2049&mountport=20048&version=3
//
// (libnfs URL syntax: server, then the export's path, then the file as the last
// path component; query arguments are libnfs's own, see <nfsc/libnfs.h>). Where
// the WAL directory is mounted by the kernel, use posix_file instead.
//
// Durability (what libnfs does, checked against libnfs 4.0):
//   - stable_writes (default): the file is opened with O_SYNC, so libnfs sends
//     every WRITE with stable_how = FILE_SYNC; the server replies only once the
//     data and metadata are on its stable storage, so a write() that returned
//     ok is durable and sync() sends nothing. This is the safe mode: libnfs's
//     synchronous API does not compare the write verifiers of UNSTABLE writes
//     and COMMIT, so it cannot notice a server that restarted (losing
//     uncommitted data) between a write and its commit.
//   - !stable_writes: WRITEs are UNSTABLE and sync() sends a COMMIT (nfs_fsync)
//     for the whole file; cheaper per write on servers with slow stable
//     storage, but see the verifier caveat above (a server restart between
//     write and sync can lose acknowledged data). For benchmarks only.
//   - libnfs splits a write larger than the server's maximum (nfs_get_writemax)
//     into several WRITEs; as file.h allows, a failed write may leave any
//     subset of its blocks written.
//   - Creation: CREATE and SETATTR (size) are synchronous NFSv3 operations, so
//     a created file and its size are durable when open() returns.
// The size is fixed at open: an existing file keeps its size; a new one is
// sized with SETATTR (sparse, like ftruncate) or written with zeros
// (zero_fill, so the server allocates the space up front and a full volume
// shows at open rather than as an I/O error mid-run).
//
// Failure: every libnfs error maps to errc::io with a message naming the
// operation, the URL and libnfs's own text. libnfs's automatic reconnect is
// off and every RPC has a timeout (rpc_timeout, whole seconds), so a server
// that goes away or stops answering makes the call fail within about that
// time instead of hanging. A connection that failed is dropped; the next call
// opens a new one (the WAL itself is fail-stop and does not retry, but
// readers and a recovery after a server restart can reuse the same object).
//
// Threading: a libnfs context is not thread-safe, so the file keeps a pool of
// up to `connections` contexts (each with its own mount and file handle);
// a call takes an idle one (or opens a new one, or waits for one), so up to
// `connections` calls -- e.g. the WAL's max_in_flight group writes -- run
// concurrently. write(), read() and sync() may be called from any thread.
// A COMMIT applies to the whole file on the server, whichever connection
// wrote the data.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "wal/file.h"

namespace floe {

struct nfs_file_options {
    // Create the file (with `size` bytes) when it does not exist.
    bool create = true;
    // FILE_SYNC writes (see the header comment); false: UNSTABLE + COMMIT.
    bool stable_writes = true;
    // On creation, write zeros over the whole file instead of only setting its size.
    bool zero_fill = false;
    // Most libnfs contexts (TCP connections + mounts) open at once.
    size_t connections = 4;
    // Per-RPC timeout; libnfs honours whole seconds only (minimum 1 s).
    std::chrono::seconds rpc_timeout{5};
};

class nfs_file final : public wal_file {
public:
    // Opens the file named by `url`; creates it with `size` bytes when absent
    // and options.create. An existing file keeps its size (`size` 0 means
    // "whatever it is"; a smaller existing file is errc::invalid_argument).
    static result<std::unique_ptr<nfs_file>> open(const std::string& url, uint64_t size,
                                                  nfs_file_options options = {});
    ~nfs_file() override;
    nfs_file(const nfs_file&) = delete;
    nfs_file& operator=(const nfs_file&) = delete;

    status write(uint64_t offset, byte_span data) override;
    status read(uint64_t offset, std::span<uint8_t> out) override;
    status sync() override;
    uint64_t size() const override { return _size; }

    const std::string& url() const { return _url; }

    // One libnfs context with the export mounted and the file open (opaque).
    struct connection;

private:
    nfs_file(std::string url, nfs_file_options options);

    // Takes an idle connection, opens a new one, or waits for one.
    result<std::unique_ptr<connection>> acquire();
    // Returns `c` to the pool, or drops it when it failed (`healthy` false).
    void release(std::unique_ptr<connection> c, bool healthy);
    // Runs `operation` on a pooled connection; drops the connection on error.
    template <typename Operation>
    status with_connection(Operation&& operation);

    const std::string _url;
    const nfs_file_options _options;
    uint64_t _size = 0;  // fixed after open()

    std::mutex _mutex;
    std::condition_variable _idle_wake;
    std::vector<std::unique_ptr<connection>> _idle;  // guarded by _mutex
    size_t _open_connections = 0;                    // guarded by _mutex; idle + in use
};

// Opens one libnfs connection to `url` (mount the export, no file opened) and
// returns an error naming what failed: used by tests to wait for a server.
status probe_nfs_export(const std::string& url, std::chrono::seconds timeout);

}  // namespace floe
