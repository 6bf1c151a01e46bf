// embedded_store: the single-node metadata store, durable in one SQLite
// database (<directory>/metadata.db), with etcd v3 semantics (see store.h).
//
// Durability: the database runs in WAL journal mode with synchronous=FULL and
// every write request is one SQLite transaction, so a put/remove/txn/grant/
// keep_alive/revoke that returned success survives a process crash or power
// loss (the SQLite WAL is fsynced before the commit returns).
//
// History: every change is also recorded in a history table keyed by
// (revision, sequence within the revision), which serves range-at-revision and
// watch replay. History older than `history_revisions` revisions behind the
// current one is compacted automatically (and compact() does it on demand);
// compaction keeps, for every key, its newest state at or below the compaction
// revision, so reads at any retained revision stay exact.
//
// Leases: deadlines are kept on the steady clock while open and persisted as
// wall-clock milliseconds. On open, a lease whose persisted deadline has passed
// expires at once (its keys are deleted in one revision); a lease still within
// its deadline keeps it. This is stricter than etcd, which re-arms every lease
// with its full TTL after a leader change because its members' clocks are not
// comparable; a single process has one clock, and the process that held the
// lease restarted with the store, so honouring the deadline fences it sooner.
// A background thread expires leases when their deadline passes; expiry of one
// lease deletes all its keys in one revision.
//
// Threading: all methods are thread-safe. One mutex (`_mutex`) serializes use
// of the SQLite connection (SQLite has one writer anyway); callers are expected
// to be on a blocking pool (docs/concurrency.md), never on a network shard.
// Two store-owned threads: the lease reaper, and the watch dispatcher, which
// runs every watch callback with no store lock held.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "metadata/store.h"

struct sqlite3;

namespace floe::metadata {

class watch_hub;

// Longest lease TTL grant() accepts (about 31 years).
inline constexpr int64_t max_lease_ttl_seconds = 1'000'000'000;

struct embedded_store_options {
    std::filesystem::path directory;  // created if missing
    // Keep at least this many revisions of history for range-at-revision and
    // watch replay; older history is compacted automatically. 0 = never.
    int64_t history_revisions = 10000;
};

class embedded_store final : public store {
public:
    // Opens (creating if needed) the store in options.directory, which it
    // locks: a second open of the same directory, from this process or
    // another, fails with errc::conflict until the first is destroyed.
    static result<std::unique_ptr<embedded_store>> open(embedded_store_options options);
    // Stops the lease reaper and the watch dispatcher (waiting for a callback
    // in progress; undelivered watch events are dropped) and closes the
    // database. No other thread may be using the store, and it must not be
    // destroyed from inside one of its own watch callbacks.
    ~embedded_store() override;

    embedded_store(const embedded_store&) = delete;
    embedded_store& operator=(const embedded_store&) = delete;

    result<std::optional<key_value>> get(std::string_view key) override;
    result<range_response> range(const range_request& request) override;
    result<revision_t> put(std::string_view key, std::string_view value,
                           lease_id lease = 0) override;
    result<delete_response> remove(std::string_view key) override;
    result<delete_response> remove_prefix(std::string_view prefix) override;
    result<txn_response> txn(const txn_request& request) override;
    status compact(revision_t revision) override;

    result<lease_grant> grant(int64_t ttl_seconds) override;
    result<int64_t> keep_alive(lease_id id) override;
    status revoke(lease_id id) override;
    result<lease_status> time_to_live(lease_id id) override;

    result<watch_handle> watch(std::string_view prefix, revision_t start_revision,
                               watch_callback callback) override;

    // The oldest revision still readable (history below it was compacted).
    revision_t compact_revision();

private:
    struct lease_state {
        int64_t ttl_seconds = 0;
        std::chrono::steady_clock::time_point deadline;
    };
    class sqlite_txn;
    struct apply_context;

    embedded_store(embedded_store_options options, sqlite3* db);

    status init_schema();
    status load_state();
    // Applies one op inside an open SQLite transaction; needs _mutex.
    status apply_op(const op& operation, apply_context& ctx, op_response& out);
    result<range_response> range_locked(const key_range& keys, int64_t limit, revision_t revision);
    result<std::optional<key_value>> get_locked(std::string_view key);
    status check_compare(const compare& condition, bool& holds);
    // Runs a write request (ops) as one SQLite transaction and publishes its
    // events; needs _mutex.
    result<txn_response> write_locked(const txn_request& request);
    status revoke_locked(lease_id id);
    status maybe_auto_compact_locked();
    status compact_locked(revision_t revision);
    void reaper_loop();

    const embedded_store_options _options;
    std::mutex _mutex;
    sqlite3* _db;                             // guarded by _mutex
    revision_t _revision = 1;                 // guarded by _mutex
    revision_t _compact_revision = 0;         // guarded by _mutex
    lease_id _next_lease_id = 1;              // guarded by _mutex
    std::map<lease_id, lease_state> _leases;  // guarded by _mutex
    bool _stopping = false;                   // guarded by _mutex
    std::condition_variable _reaper_wake;     // waits on _mutex
    std::shared_ptr<watch_hub> _hub;          // thread-safe itself
    std::thread _reaper;
    int _lock_fd = -1;  // flock'ed <directory>/LOCK
};

}  // namespace floe::metadata
