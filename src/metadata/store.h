// store: Floe's metadata store interface, shaped like etcd v3 so that the
// embedded backend (embedded_store.h) and an etcd backend are interchangeable.
//
// Data model (exactly etcd's):
//   - The store has one global revision, an int64 that starts at 1 on an empty
//     store and grows by exactly one for every request that changes something
//     (a put, a delete that deleted at least one key, a txn whose chosen branch
//     wrote, a lease expiry or revoke that deleted at least one key).
//   - Every key carries create_revision (revision of the put that created it),
//     mod_revision (revision of its last put), version (number of puts since it
//     was created; 1 after the creating put) and lease (0 for none). Deleting a
//     key ends its life: a later put recreates it with version 1 and a new
//     create_revision.
//   - A missing key compares as version 0, create_revision 0, mod_revision 0,
//     lease 0 and value "" in a txn compare.
//
//   Worked example (empty store, revision 1):
//     put("a","x")  -> revision 2; a{create 2, mod 2, version 1}
//     put("a","y")  -> revision 3; a{create 2, mod 3, version 2}
//     remove("a")   -> revision 4; a is gone
//     remove("a")   -> revision 4; nothing deleted, revision unchanged
//     put("a","z")  -> revision 5; a{create 5, mod 5, version 1}
//
// Keys and values are arbitrary byte strings (std::string), ordered bytewise
// (memcmp) as in etcd.
//
// Errors: errc::not_found for an unknown or expired lease and for a read or
// watch at a revision that compaction has discarded (message says
// "compacted"); errc::invalid_argument for a malformed request (empty key,
// future revision, a txn branch that writes one key twice); errc::io when the
// backend cannot reach its storage.
//
// Threading: every method of every store implementation is thread-safe and
// blocking (callers on network shards go through a blocking pool, see
// docs/concurrency.md). Watch callbacks run on a thread owned by the store,
// never on the caller's thread and never while the store holds a lock that its
// own methods take, so a callback may call the store.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace floe::metadata {

// A store revision (etcd's int64 "revision"); 0 in a request means "latest".
using revision_t = int64_t;
// A lease id; 0 means "no lease".
using lease_id = int64_t;

struct key_value {
    std::string key;
    std::string value;
    revision_t create_revision = 0;
    revision_t mod_revision = 0;
    int64_t version = 0;
    lease_id lease = 0;

    bool operator==(const key_value&) const = default;
};

// The smallest key greater than every key starting with `prefix` (etcd's
// GetPrefixRangeEnd): "/a/" -> "/a0"; "a\xff" -> "b"; "" or all-0xff -> "\0"
// (which as a range_end means "to the end of the key space").
std::string prefix_end(std::string_view prefix);

// Which keys a range or delete covers, with etcd's encoding:
//   end empty    -> the single key `start`
//   end == "\0"  -> every key >= start
//   otherwise    -> [start, end)
struct key_range {
    std::string start;
    std::string end;

    static key_range single(std::string key) { return {std::move(key), {}}; }
    static key_range with_prefix(std::string_view prefix) {
        return {std::string(prefix), prefix_end(prefix)};
    }
    static key_range interval(std::string start, std::string end) {
        return {std::move(start), std::move(end)};
    }
    bool contains(std::string_view key) const;
};

struct range_request {
    key_range keys;
    int64_t limit = 0;        // at most this many kvs; 0 = no limit
    revision_t revision = 0;  // read as of this revision; 0 = latest
};

struct range_response {
    std::vector<key_value> kvs;  // in key order
    revision_t revision = 0;     // the store's current revision when read
    bool more = false;           // true when `limit` cut the result short
};

struct delete_response {
    revision_t revision = 0;  // the store's revision after the delete
    int64_t deleted = 0;      // number of keys deleted
};

// ---- transactions ---------------------------------------------------------

enum class compare_target : uint8_t { value, version, create_revision, mod_revision, lease };
enum class compare_op : uint8_t { equal, not_equal, less, greater };

// One condition on one key. `value` is used when target == value (bytewise
// comparison), `number` otherwise.
struct compare {
    std::string key;
    compare_target target = compare_target::version;
    compare_op op = compare_op::equal;
    std::string value;
    int64_t number = 0;

    static compare value_is(std::string key, compare_op op, std::string v) {
        return {std::move(key), compare_target::value, op, std::move(v), 0};
    }
    static compare version_is(std::string key, compare_op op, int64_t n) {
        return {std::move(key), compare_target::version, op, {}, n};
    }
    static compare create_revision_is(std::string key, compare_op op, revision_t r) {
        return {std::move(key), compare_target::create_revision, op, {}, r};
    }
    static compare mod_revision_is(std::string key, compare_op op, revision_t r) {
        return {std::move(key), compare_target::mod_revision, op, {}, r};
    }
    static compare lease_is(std::string key, compare_op op, lease_id l) {
        return {std::move(key), compare_target::lease, op, {}, l};
    }
    // "The key does not exist" (etcd idiom: create_revision == 0).
    static compare absent(std::string key) {
        return create_revision_is(std::move(key), compare_op::equal, 0);
    }
};

enum class op_kind : uint8_t { put, remove, range };

// One operation of a txn branch. A branch applies its ops in order; a range
// sees the writes of earlier ops in the same branch (as etcd does).
struct op {
    op_kind kind = op_kind::range;
    key_range keys;           // put: keys.start is the key
    std::string value;        // put
    lease_id lease = 0;       // put
    int64_t limit = 0;        // range
    revision_t revision = 0;  // range

    static op put(std::string key, std::string value, lease_id lease = 0) {
        return {op_kind::put, key_range::single(std::move(key)), std::move(value), lease, 0, 0};
    }
    static op remove(std::string key) {
        return {op_kind::remove, key_range::single(std::move(key)), {}, 0, 0, 0};
    }
    static op remove_range(key_range keys) {
        return {op_kind::remove, std::move(keys), {}, 0, 0, 0};
    }
    static op get(std::string key) {
        return {op_kind::range, key_range::single(std::move(key)), {}, 0, 0, 0};
    }
    static op range(range_request request) {
        return {op_kind::range, std::move(request.keys), {}, 0, request.limit, request.revision};
    }
};

struct op_response {
    op_kind kind = op_kind::range;
    range_response range;  // kind == range
    int64_t deleted = 0;   // kind == remove
};

struct txn_request {
    std::vector<compare> compares;  // all must hold for `success` to run
    std::vector<op> success;
    std::vector<op> failure;
};

struct txn_response {
    bool succeeded = false;              // true when every compare held
    revision_t revision = 0;             // the store's revision after the txn
    std::vector<op_response> responses;  // one per op of the branch that ran
};

// ---- leases ---------------------------------------------------------------

struct lease_grant {
    lease_id id = 0;
    int64_t ttl_seconds = 0;
};

struct lease_status {
    lease_id id = 0;
    int64_t granted_ttl_seconds = 0;
    int64_t remaining_ttl_seconds = 0;  // rounded up; > 0 while the lease lives
    std::vector<std::string> keys;      // attached keys, in key order
};

// ---- watch ----------------------------------------------------------------

enum class event_type : uint8_t { put, remove };

struct watch_event {
    event_type type = event_type::put;
    // For put: the key as written. For remove: key, and mod_revision = the
    // revision of the delete (other fields zero), as etcd reports tombstones.
    key_value kv;
};

// One delivery to a watch callback: the events of one revision, in the order
// the writes were applied; or, once, a terminal error.
struct watch_response {
    revision_t revision = 0;
    std::vector<watch_event> events;
    // Set when the watch cannot continue; no further responses follow. When
    // history below start_revision was compacted, code is errc::not_found,
    // and compact_revision says the oldest revision a new watch may start at.
    std::optional<error> failure;
    revision_t compact_revision = 0;
};

using watch_callback = std::function<void(const watch_response&)>;

// Cancels its watch when cancel() is called or when destroyed. After cancel()
// returns, the callback is not running and will not run again, except when
// cancel() is called from inside that same callback (then no later delivery
// starts). Movable, not copyable. Safe to outlive the store.
class watch_handle {
public:
    watch_handle() = default;
    explicit watch_handle(std::function<void()> cancel_fn) : _cancel(std::move(cancel_fn)) {}
    watch_handle(watch_handle&& other) noexcept : _cancel(std::move(other._cancel)) {
        other._cancel = nullptr;
    }
    watch_handle& operator=(watch_handle&& other) noexcept {
        if (this != &other) {
            cancel();
            _cancel = std::move(other._cancel);
            other._cancel = nullptr;
        }
        return *this;
    }
    watch_handle(const watch_handle&) = delete;
    watch_handle& operator=(const watch_handle&) = delete;
    ~watch_handle() { cancel(); }

    void cancel() {
        if (_cancel) {
            auto fn = std::move(_cancel);
            _cancel = nullptr;
            fn();
        }
    }
    bool active() const { return static_cast<bool>(_cancel); }

private:
    std::function<void()> _cancel;
};

// ---- the store ------------------------------------------------------------

class store {
public:
    virtual ~store() = default;

    // The latest value of `key`, or nullopt when absent.
    virtual result<std::optional<key_value>> get(std::string_view key) = 0;
    virtual result<range_response> range(const range_request& request) = 0;
    // Writes key=value (attached to `lease` when non-zero; the lease must be
    // alive) and returns the new revision.
    virtual result<revision_t> put(std::string_view key, std::string_view value,
                                   lease_id lease = 0) = 0;
    virtual result<delete_response> remove(std::string_view key) = 0;
    virtual result<delete_response> remove_prefix(std::string_view prefix) = 0;
    // Atomic: the compares and the chosen branch see one state and nothing else
    // interleaves; the branch's writes share one new revision.
    virtual result<txn_response> txn(const txn_request& request) = 0;

    // Discards history older than `revision` (reads and watches below it then
    // fail with "compacted"); the latest state is never affected.
    virtual status compact(revision_t revision) = 0;

    virtual result<lease_grant> grant(int64_t ttl_seconds) = 0;
    // Restarts the lease's TTL; errc::not_found if it already expired.
    virtual result<int64_t> keep_alive(lease_id id) = 0;
    // Ends the lease now and deletes its keys in one revision.
    virtual status revoke(lease_id id) = 0;
    virtual result<lease_status> time_to_live(lease_id id) = 0;

    // Delivers every change to keys starting with `prefix` whose revision is
    // >= start_revision (0 = only changes after this call), history first,
    // then live, in revision order, with no gap and no duplicate.
    virtual result<watch_handle> watch(std::string_view prefix, revision_t start_revision,
                                       watch_callback callback) = 0;

    // Convenience over range(): the store's current revision.
    result<revision_t> current_revision();
};

}  // namespace floe::metadata
