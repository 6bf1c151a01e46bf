// fault_file: an in-memory wal_file for tests that injects the failures the
// durability contract in file.h allows (modelled on RocksDB's
// FaultInjectionTestFS):
//   - fail the Nth write or the Nth sync with errc::io (nothing is written);
//   - tear the Nth write: only its first `prefix` bytes reach the medium (they
//     are durable, as if the power failed mid-write) and the call fails with
//     errc::io;
//   - crash(): returns the image a reboot would see -- everything synced, plus
//     optionally a random prefix (in issue order, whole 4 KiB blocks) of what
//     was written since the last successful sync -- and kills this file: every
//     later call fails with errc::io, so a still-running writer cannot touch
//     the "rebooted" image.
// Writes and syncs are counted (1-based, from construction) so tests can check
// how many I/Os a group commit took and aim faults at a given one.
//
// Threading: every method is safe to call from any thread (one mutex).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "wal/file.h"

namespace floe {

class fault_file final : public wal_file {
public:
    // A zero-filled file of `size` bytes (a multiple of 4096).
    explicit fault_file(uint64_t size);
    // A file whose durable content is `image` (e.g. what crash() returned).
    explicit fault_file(byte_vector image);

    status write(uint64_t offset, byte_span data) override;
    status read(uint64_t offset, std::span<uint8_t> out) override;
    status sync() override;
    uint64_t size() const override;

    // Faults, by 1-based index among all writes / syncs since construction.
    void fail_write(uint64_t nth);
    void fail_sync(uint64_t nth);
    void tear_write(uint64_t nth, size_t prefix_bytes);

    // See the header comment. With `seed`, a random number of unsynced blocks
    // (0..all, in the order they were written) is kept; without, none.
    byte_vector crash(std::optional<uint64_t> seed = std::nullopt);

    uint64_t write_count() const;
    uint64_t sync_count() const;
    // Bytes as the process sees them now (synced or not).
    byte_vector current_image() const;
    // Bytes guaranteed to survive a crash now.
    byte_vector durable_image() const;

private:
    struct pending_write {
        uint64_t offset;
        size_t length;
    };

    mutable std::mutex _mutex;
    byte_vector _current;                  // guarded by _mutex
    byte_vector _durable;                  // guarded by _mutex
    std::vector<pending_write> _unsynced;  // guarded by _mutex; issue order
    uint64_t _writes = 0;                  // guarded by _mutex
    uint64_t _syncs = 0;                   // guarded by _mutex
    uint64_t _fail_write = 0;              // guarded by _mutex; 0 = none
    uint64_t _fail_sync = 0;               // guarded by _mutex
    uint64_t _tear_write = 0;              // guarded by _mutex
    size_t _tear_prefix = 0;               // guarded by _mutex
    bool _dead = false;                    // guarded by _mutex
};

}  // namespace floe
