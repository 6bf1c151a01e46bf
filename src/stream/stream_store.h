// stream_store: one broker's streams -- append, read, trim, open/close with an
// epoch -- on top of its WAL, the object store and the metadata store, with
// the log cache, the block cache and a background uploader.
//
//   auto store = stream_store::open(options, wal_file, objects, metadata);
//   auto pos = (*store)->open_stream(stream_id(7), epoch(3));   // {start, next}
//   (*store)->append(stream_id(7), epoch(3), pos->next, 10, max_ts, bytes,
//                    [](status s) { /* durable, or an error */ });
//   auto entries = (*store)->read(stream_id(7), offset(0), 1 << 20);
//
// Data flow and invariants (ARCHITECTURE.md, "Data flow" and "Key rules"):
//   - An append is accepted only at the stream's next offset (offsets are
//     contiguous) and is acknowledged only once its WAL record is synced. The
//     high watermark (what read() can return) advances in the WAL's callbacks,
//     which run in WAL order, so readers never see unsynced data.
//   - Each WAL record payload is   u8 version (1) | i64 max_timestamp | payload
//     (big-endian); the stream, epoch, base offset and record count are the
//     WAL record's own fields.
//   - An acknowledged entry not yet uploaded is indexed stream -> offset ->
//     WAL position ("pending"), and copied into the log cache. read() serves
//     the log cache first, then the WAL through that index, then committed
//     objects (through the block cache, with read-ahead that widens the ranged
//     GET while a stream is read block after block).
//   - The uploader writes one stream-set object with every stream's pending
//     entries, then commits in ONE metadata transaction the object record and
//     each stream's new committed end, comparing each stream record to the
//     value this store last wrote (so an epoch bumped by a new owner fails the
//     commit; the object is then deleted and the stream is fenced here). Only
//     after the commit is the WAL trimmed, to the lowest position still
//     pending.
//     A stream whose pending data in the round reaches stream_object_bytes
//     gets its own stream object instead; all objects of a round are
//     committed in that same one transaction.
//   - Recovery (in open()): WAL records below a stream's committed end are
//     skipped; the rest rebuild the pending index and the log cache. Objects
//     under this node's key prefix that metadata does not name are deleted
//     (uncommitted uploads and compaction outputs alike).
//   - Maintenance (a background thread every maintenance_interval, or
//     run_compaction_once() / run_retention_once() / run_deletion_once()),
//     only on objects under this node's key prefix:
//       compaction rewrites small committed objects (below
//       compaction_small_object_bytes) into one stream-set object plus a
//       stream object per stream with at least stream_object_bytes, and
//       commits in ONE transaction the new records and the old records set
//       to "marked for deletion", comparing each old record's mod revision
//       (a concurrent change, e.g. retention marking one, fails it and the
//       new objects are deleted). The per-stream object maps switch from the
//       old ranges to the new ones under _mutex after the commit, so a
//       reader sees either, never a gap or a duplicate.
//       retention moves each stream's start offset (retention.ms by the
//       ranges' max timestamps, retention.bytes by the ranges' sizes; only
//       over committed object ranges, so never beyond the committed end),
//       then marks objects whose every range is below its stream's start.
//       deletion removes marked objects from the object store once they have
//       been marked for deletion_grace (readers that picked one before the
//       switch keep working meanwhile), erases their cached blocks, then
//       their metadata records.
//
// Threads and locks:
//   - Any thread may call the public methods; they block on I/O (object store,
//     metadata, WAL reads), so callers on network shards go through the
//     blocking pool (docs/concurrency.md). append() blocks only while the WAL
//     queue is full (WAL back-pressure).
//   - Append callbacks run on a WAL I/O thread; keep them short.
//   - One uploader thread, owned by the store.
//   - _mutex guards the per-stream state; no system call is made while it is
//     held. _append_mutex serializes append() so that WAL order equals offset
//     order (held across wal::append, which blocks only for back-pressure).
//     _upload_mutex serializes upload rounds (uploader thread, upload_now()).
//     _metadata_mutex serializes this store's read-modify-write transactions
//     on stream records (open, trim, upload commit) and is held across
//     metadata calls. _compaction_mutex serializes compaction rounds and
//     _retention_mutex retention and deletion rounds (compaction and
//     retention may interleave: their transactions compare object records).
//     _build_mutex keeps object building of an upload round and of a
//     compaction from overlapping (both are bounded by build_memory_bytes);
//     held across object store I/O.
//     Lock order: _compaction_mutex -> _retention_mutex -> _build_mutex ->
//     _upload_mutex -> _metadata_mutex -> _mutex, and _append_mutex ->
//     _mutex; the log cache and block cache locks are innermost. WAL
//     callbacks take only _mutex.
//   - One maintenance thread, owned by the store (when maintenance_interval
//     is non-zero).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "base/shared_buffer.h"
#include "base/strong_id.h"
#include "metadata/store.h"
#include "objstore/object_store.h"
#include "stream/block_cache.h"
#include "stream/log_cache.h"
#include "stream/object.h"
#include "stream/stream_metadata.h"
#include "wal/wal.h"

namespace floe::stream {

// Version byte of the stream layer's WAL payload header.
inline constexpr uint8_t kWalPayloadVersion = 1;
inline constexpr size_t kWalPayloadHeaderSize = 9;

struct stream_store_options {
    // WAL writer options; owner and owner_epoch identify this broker.
    wal_options wal;
    size_t log_cache_bytes = 64 << 20;
    size_t block_cache_bytes = 64 << 20;
    // Upload once pending (acknowledged, not uploaded) bytes reach this, or
    // once the oldest pending entry is this old.
    uint64_t upload_bytes = 16 << 20;
    std::chrono::milliseconds upload_age{1000};
    // Upper bound on one object's data (bounds the uploader's memory).
    size_t max_object_bytes = 64 << 20;
    // Memory for building objects, outside the two caches (the budget is
    // log_cache_bytes + block_cache_bytes + this + a fixed overhead). An
    // upload round copies its payloads into the objects being built (each
    // buffer sized once for its whole object; the largest is kept for the
    // next round while uploads go on). A round takes at most
    // build_memory_bytes / 2 of payload (and max_object_bytes): the half is a
    // margin kept from when buffers grew by doubling. A compaction holds its
    // source objects and the outputs, so a group takes at most
    // build_memory_bytes / 3 of source objects (and compaction_max_bytes). Upload and compaction
    // never build at the same time. 0 = no cap beyond max_object_bytes and
    // compaction_max_bytes.
    size_t build_memory_bytes = 48 << 20;
    size_t object_block_size = object_layout::kDefaultBlockSize;
    // Backoff between failed upload attempts: doubles from initial to max.
    std::chrono::milliseconds retry_initial{10};
    std::chrono::milliseconds retry_max{1000};
    // Most blocks one ranged GET fetches when a stream is read sequentially.
    size_t max_readahead_blocks = 4;
    // Objects are stored under <object_prefix>/n<node>/<20-digit id>.
    std::string object_prefix = "objects";
    // A stream with at least this many bytes in an upload round or a
    // compaction gets a stream object of its own.
    size_t stream_object_bytes = 8 << 20;
    // Committed objects smaller than this are merged by compaction; at most
    // compaction_max_bytes of them per compaction (bounds its memory).
    size_t compaction_small_object_bytes = 8 << 20;
    size_t compaction_max_bytes = 64 << 20;
    // Objects marked for deletion are deleted this long after being marked
    // (in-memory clock: restarts from open()).
    std::chrono::milliseconds deletion_grace{60000};
    // Compaction, retention and deletion run this often; 0 = only on request.
    std::chrono::milliseconds maintenance_interval{30000};
    // On glibc, open() fixes malloc's mmap threshold at 128 KiB (once per
    // process, mallopt(M_MMAP_THRESHOLD)): block, read-ahead and object
    // buffers (up to tens of MiB) are then mmapped and returned to the OS
    // when freed. glibc's default raises the threshold dynamically (up to
    // 32 MiB) after such a buffer is freed, after which they come from the
    // heap and freed memory stays resident (fragmentation). A process that
    // tunes its allocator itself sets this to false.
    bool tune_allocator = true;
};

// Per-stream retention (Kafka's retention.ms / retention.bytes); -1 = none.
struct retention_policy {
    int64_t retention_ms = -1;     // drop object ranges whose max timestamp is older
    int64_t retention_bytes = -1;  // keep at most this many bytes (committed + pending)
};

// An entry returned by read(): `record_count` offsets from `base_offset`.
using stream_entry = cached_entry;

struct stream_position {
    offset start;  // first readable offset
    offset next;   // next offset to append (the high watermark once synced)
};

class stream_store {
public:
    using append_done = std::function<void(status)>;

    struct stream_info {
        stream_record record;  // as last read or written by this store
        offset high_watermark;
        offset next_offset;
        bool open = false;
        bool fenced = false;
    };
    struct stats {
        uint64_t objects_uploaded = 0;
        uint64_t upload_failures = 0;
        uint64_t commits_fenced = 0;
        uint64_t garbage_deleted = 0;
        uint64_t wal_reads = 0;
        uint64_t object_block_fetches = 0;
        uint64_t pending_bytes = 0;
        uint64_t wal_trim_position = 0;
        uint64_t stream_objects_uploaded = 0;  // of objects_uploaded
        uint64_t compactions = 0;              // committed compactions
        uint64_t compaction_failures = 0;      // conflicts and errors
        uint64_t objects_compacted = 0;        // objects replaced by compaction
        uint64_t objects_marked = 0;           // by compaction or retention
        uint64_t objects_deleted = 0;          // after the grace period
    };

    // Recovers and opens everything (see the header comment); starts the
    // uploader. The object store and metadata store must be thread-safe.
    static result<std::unique_ptr<stream_store>> open(
        stream_store_options options, std::shared_ptr<wal_file> wal_file,
        std::shared_ptr<objstore::object_store> objects, std::shared_ptr<metadata::store> meta);
    // Stops the uploader and closes the WAL (waiting for every accepted append).
    ~stream_store();
    stream_store(const stream_store&) = delete;
    stream_store& operator=(const stream_store&) = delete;

    // Creates the stream record or takes it over with `stream_epoch`, in one
    // compare-and-swap transaction. errc::conflict when the stored epoch is
    // higher.
    result<stream_position> open_stream(stream_id stream, epoch stream_epoch);
    // Stops accepting appends for the stream; its data stays readable and
    // pending data is still uploaded.
    status close_stream(stream_id stream);

    // Appends `record_count` offsets at `base_offset`, which must be the
    // stream's next offset (else errc::invalid_argument). An error returned
    // here means the append was not accepted and `done` will not run;
    // otherwise `done` runs exactly once, on the WAL thread, after the entry
    // is durable (or with the WAL's fail-stop error, or errc::conflict when
    // the stream was fenced before the entry became durable).
    status append(stream_id stream, epoch stream_epoch, offset base_offset, int32_t record_count,
                  int64_t max_timestamp, byte_span payload, append_done done);
    // The same without copying `payload`: the log cache and the WAL's queue
    // keep references to it (so a caller should pass a buffer holding just
    // this entry, not a slice of a much larger one).
    status append(stream_id stream, epoch stream_epoch, offset base_offset, int32_t record_count,
                  int64_t max_timestamp, shared_buffer payload, append_done done);

    // Contiguous entries from the one holding `start`, at most `max_bytes` of
    // payload except that the first entry is always returned. `start` below
    // the start offset or above the high watermark: errc::not_found ("offset
    // out of range"); `start` == high watermark: empty.
    result<std::vector<stream_entry>> read(stream_id stream, offset start, size_t max_bytes);

    // The first offset (>= the start offset) whose entry has max_timestamp >=
    // `timestamp`, or nullopt when no readable entry does.
    result<std::optional<offset>> find_offset_by_timestamp(stream_id stream, int64_t timestamp);

    // Moves the start offset to `new_start` (<= high watermark) durably in
    // metadata; a lower value than the current start is a no-op.
    status trim(stream_id stream, offset new_start);

    // Runs one upload round now on the caller's thread (tests, shutdown).
    // Uploads nothing when nothing is pending.
    status upload_now();

    // Retention settings of a stream (in memory; the Kafka layer sets them
    // from topic configs). Applied by run_retention_once().
    void set_retention(stream_id stream, retention_policy policy);

    // One compaction round on the caller's thread: merges one group of small
    // objects. Ok with nothing to do; errc::conflict when a concurrent change
    // to a replaced object's record refused the commit (nothing is lost: the
    // new objects are deleted and the old ones stay).
    status run_compaction_once();
    // Applies every stream's retention (moving start offsets), marks objects
    // wholly below their streams' start offsets, then runs deletion.
    status run_retention_once();
    // Deletes objects marked at least deletion_grace ago.
    status run_deletion_once();
    // Test hook: runs in run_compaction_once() after the new objects are put
    // and before the commit.
    void set_compaction_commit_hook(std::function<void()> hook);

    // Committed objects (not marked) under this node's prefix, by id.
    std::vector<object_id> live_objects() const;

    std::optional<stream_info> info(stream_id stream) const;
    stats statistics() const;

private:
    struct pending_entry {
        offset end;
        int64_t max_timestamp = -1;
        wal_position where;
        uint32_t payload_bytes = 0;
    };
    struct object_ref {
        offset end;
        object_id id;
    };
    struct stream_state {
        stream_record record;
        std::string record_value;  // encoded record, for compare-and-swap
        bool known_in_metadata = false;
        bool open = false;
        bool fenced = false;
        epoch open_epoch{};
        offset next_offset{};
        offset high_watermark{};
        std::map<offset, pending_entry> pending;  // base offset -> entry
        std::map<offset, object_ref> objects;     // start offset -> object
        // Read-ahead: the last block read and the current window.
        object_id last_object{};
        size_t last_block = SIZE_MAX;
        size_t readahead = 1;
    };
    struct object_meta {
        std::string key;
        uint64_t size = 0;
        object_state state = object_state::committed;
        std::vector<object_range> ranges;
        metadata::revision_t mod_revision = 0;
        std::chrono::steady_clock::time_point marked_since;
    };
    struct upload_item {
        stream_id stream;
        offset base;
        pending_entry pending;
    };

    stream_store(stream_store_options options, std::shared_ptr<objstore::object_store> objects,
                 std::shared_ptr<metadata::store> meta);

    status load_metadata();
    status recover_wal(wal_file& file);
    status collect_garbage();
    std::string object_key_for(object_id id) const;
    std::string own_object_prefix() const;
    // Records an object's metadata; for a committed one also points its
    // streams' object maps at it. Needs _mutex.
    void remember_object_locked(object_id id, const object_record& record,
                                metadata::revision_t mod_revision);
    // Records the committed objects among `objects` (object registry entries)
    // and maps their ranges of `stream` into its object map. Needs _mutex.
    void adopt_committed_objects_locked(stream_id stream,
                                        const std::vector<metadata::key_value>& objects);
    result<object_id> next_object_id();
    // Drops the object-map entries that point at `id`. Needs _mutex.
    void forget_ranges_locked(object_id id, const std::vector<object_range>& ranges);

    // WAL completion of an append; false when the stream was fenced meanwhile
    // (the append is then not acknowledged).
    bool on_appended(stream_id stream, offset base, int32_t count, int64_t max_timestamp,
                     const shared_buffer& payload, wal_position where);

    // One source at a time; each returns entries from the one holding `from`.
    result<std::vector<stream_entry>> read_from_wal(stream_id stream, offset from, size_t budget);
    result<std::vector<stream_entry>> read_from_objects(stream_id stream, offset from);
    result<std::shared_ptr<const std::vector<block_index>>> object_index(object_id id);
    result<shared_buffer> fetch_block(object_id id, const std::vector<block_index>& blocks,
                                      size_t block, size_t window);
    result<std::vector<stream_entry>> block_entries(object_id id, const block_index& index,
                                                    const shared_buffer& block);
    result<shared_buffer> pending_payload(stream_id stream, offset base, wal_position where);

    // Upload machinery (uploader thread or upload_now, under _upload_mutex).
    status upload_round();
    status commit_objects(const std::vector<std::pair<object_id, object_record>>& objects,
                          const std::map<stream_id, offset>& new_ends);
    // Maintenance (see the header comment).
    status mark_for_deletion(object_id id);
    // Reloads one object record from metadata (after a refused compaction).
    status reload_object(object_id id);
    void maintenance_loop();
    // Reloads a stream's record and object ranges from metadata (after a
    // commit whose response was lost); needs _metadata_mutex.
    status resync_stream(stream_id stream);
    bool sleep_for(std::chrono::milliseconds d);
    void uploader_loop();
    bool upload_due_locked() const;
    // Payload bytes one upload round may take, and source bytes one
    // compaction group may take (build_memory_bytes applied).
    size_t upload_round_limit() const;
    size_t compaction_group_limit() const;

    const stream_store_options _options;
    const std::shared_ptr<objstore::object_store> _objects;
    const std::shared_ptr<metadata::store> _meta;
    std::unique_ptr<wal> _wal;
    log_cache _log_cache;
    block_cache _block_cache;

    std::mutex _build_mutex;
    std::mutex _metadata_mutex;
    std::mutex _append_mutex;
    std::mutex _upload_mutex;
    mutable std::mutex _mutex;
    std::condition_variable _uploader_wake;                   // waits on _mutex
    std::map<stream_id, stream_state> _streams;               // guarded by _mutex
    std::unordered_map<object_id, object_meta> _object_meta;  // guarded by _mutex
    // Parsed indexes of objects read so far; guarded by _mutex.
    std::unordered_map<object_id, std::shared_ptr<const std::vector<block_index>>> _indexes;
    uint64_t _pending_bytes = 0;                           // guarded by _mutex
    std::chrono::steady_clock::time_point _pending_since;  // guarded by _mutex
    uint64_t _wal_acked_end = 0;   // guarded by _mutex; end of the last acknowledged record
    std::optional<error> _failed;  // guarded by _mutex; WAL fail-stop
    bool _stopping = false;        // guarded by _mutex
    stats _stats;                  // guarded by _mutex
    // Object ids reserved from metadata in batches; guarded by _upload_mutex.
    static constexpr uint64_t kObjectIdBatch = 16;
    uint64_t _id_pool_next = 0;
    uint64_t _id_pool_end = 0;
    // The largest object buffer of the last upload round, cleared, for the
    // next round to build into (fresh buffers of tens of MiB cost a page
    // fault and a zeroed page per 4 KiB); freed after kSpareBufferIdle
    // without an upload round. Guarded by _upload_mutex.
    static constexpr std::chrono::seconds kSpareBufferIdle{5};
    page_aligned_bytes _spare_object_buffer;
    std::thread _uploader;

    std::mutex _compaction_mutex;
    std::mutex _retention_mutex;
    std::function<void()> _compaction_commit_hook;               // guarded by _compaction_mutex
    std::unordered_map<stream_id, retention_policy> _retention;  // guarded by _mutex
    std::thread _maintenance;
};

}  // namespace floe::stream
