#include "metadata/embedded_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <limits>
#include <system_error>
#include <utility>

#include "base/thread_name.h"

namespace floe::metadata {

namespace {

using steady = std::chrono::steady_clock;

int64_t wall_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

error db_error(sqlite3* db, std::string_view what) {
    return error(errc::io, std::string(what) + ": " + sqlite3_errmsg(db));
}

error compacted_error(revision_t requested, revision_t compacted) {
    return error(errc::not_found, "revision " + std::to_string(requested) +
                                      " compacted (oldest readable " + std::to_string(compacted) +
                                      ")");
}

// A prepared statement; binds are positional in call order.
class statement {
public:
    statement(sqlite3* db, const std::string& sql) : _db(db) {
        _rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &_stmt, nullptr);
    }
    ~statement() { sqlite3_finalize(_stmt); }
    statement(const statement&) = delete;
    statement& operator=(const statement&) = delete;

    statement& bind(int64_t v) {
        if (_rc == SQLITE_OK) {
            _rc = sqlite3_bind_int64(_stmt, ++_next, v);
        }
        return *this;
    }
    statement& bind_bytes(std::string_view v) {
        if (_rc == SQLITE_OK) {
            // A null pointer would bind SQL NULL; an empty blob needs a real one.
            const char* data = v.empty() ? "" : v.data();
            _rc = sqlite3_bind_blob64(_stmt, ++_next, data, v.size(), SQLITE_TRANSIENT);
        }
        return *this;
    }
    // SQLITE_ROW, SQLITE_DONE, or an error code.
    int step() {
        if (_rc != SQLITE_OK) {
            return _rc;
        }
        int rc = sqlite3_step(_stmt);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            _rc = rc;
        }
        return rc;
    }
    // Runs a statement that returns no rows.
    status run(std::string_view what) {
        if (step() != SQLITE_DONE) {
            return db_error(_db, what);
        }
        return ok();
    }
    int64_t column_int(int i) { return sqlite3_column_int64(_stmt, i); }
    std::string column_bytes(int i) {
        const void* data = sqlite3_column_blob(_stmt, i);
        int size = sqlite3_column_bytes(_stmt, i);
        if (data == nullptr || size <= 0) {
            return {};
        }
        return std::string(static_cast<const char*>(data), static_cast<size_t>(size));
    }

private:
    sqlite3* _db;
    sqlite3_stmt* _stmt = nullptr;
    int _rc = SQLITE_OK;
    int _next = 0;
};

status exec(sqlite3* db, const char* sql) {
    char* message = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
        std::string text = message ? message : "unknown";
        sqlite3_free(message);
        return error(errc::io, std::string(sql) + ": " + text);
    }
    return ok();
}

// A WHERE fragment selecting `column` within a key_range, with its binds.
struct key_filter {
    std::string sql;
    std::vector<std::string> binds;
};

key_filter filter_for(const key_range& keys, const std::string& column) {
    if (keys.end.empty()) {
        return {column + " = ?", {keys.start}};
    }
    if (keys.end.size() == 1 && keys.end[0] == '\0') {
        return {column + " >= ?", {keys.start}};
    }
    return {column + " >= ? AND " + column + " < ?", {keys.start, keys.end}};
}

void bind_filter(statement& stmt, const key_filter& filter) {
    for (const auto& b : filter.binds) {
        stmt.bind_bytes(b);
    }
}

constexpr int64_t history_put = 0;
constexpr int64_t history_remove = 1;

}  // namespace

// ---- watch hub --------------------------------------------------------------

// Owns the watch dispatcher thread and the registered watchers. publish() and
// add() are called with the store's mutex held, which orders them with the
// writes; callbacks run on the dispatcher thread with no lock held.
// Lock order: store mutex, then _mutex.
class watch_hub {
public:
    watch_hub() = default;
    ~watch_hub() { stop(); }

    void start() {
        _thread = std::thread([this] {
            set_thread_name("meta-watch");
            run();
        });
    }
    void stop() {
        {
            std::lock_guard lock(_mutex);
            _stop = true;
        }
        _wake.notify_all();
        if (_thread.joinable() && std::this_thread::get_id() != _thread.get_id()) {
            _thread.join();
        }
    }

    void publish(revision_t revision, std::vector<watch_event> events) {
        if (events.empty()) {
            return;
        }
        watch_response response;
        response.revision = revision;
        response.events = std::move(events);
        {
            std::lock_guard lock(_mutex);
            if (_watchers.empty()) {
                return;
            }
            _queue.push_back(task{0, {std::move(response)}});
        }
        _wake.notify_one();
    }

    // Registers a watcher that sees live events with revision >= live_from,
    // after `replay` is delivered to it. A replay ending in a failure removes
    // the watcher once delivered.
    uint64_t add(std::string prefix, revision_t live_from, std::vector<watch_response> replay,
                 watch_callback callback) {
        uint64_t id;
        {
            std::lock_guard lock(_mutex);
            id = ++_last_id;
            auto w = std::make_shared<watcher>();
            w->prefix = std::move(prefix);
            w->live_from = live_from;
            w->callback = std::move(callback);
            _watchers.emplace(id, std::move(w));
            if (!replay.empty()) {
                _queue.push_back(task{id, std::move(replay)});
            }
        }
        _wake.notify_one();
        return id;
    }

    void cancel(uint64_t id) {
        std::unique_lock lock(_mutex);
        auto it = _watchers.find(id);
        if (it != _watchers.end()) {
            it->second->canceled = true;
            _watchers.erase(it);
        }
        if (std::this_thread::get_id() != _thread.get_id()) {
            _idle.wait(lock, [&] { return _running != id; });
        }
    }

private:
    struct watcher {
        std::string prefix;
        revision_t live_from = 0;
        watch_callback callback;
        bool canceled = false;  // guarded by watch_hub::_mutex
    };
    struct task {
        uint64_t target = 0;  // 0: a live revision for every watcher
        std::vector<watch_response> responses;
    };

    // Calls w's callback with `response`; needs `lock` held, releases it
    // around the call. Returns false if the watcher was canceled.
    bool deliver(std::unique_lock<std::mutex>& lock, uint64_t id, const std::shared_ptr<watcher>& w,
                 const watch_response& response) {
        if (w->canceled) {
            return false;
        }
        _running = id;
        lock.unlock();
        w->callback(response);
        lock.lock();
        _running = 0;
        _idle.notify_all();
        return true;
    }

    void run() {
        std::unique_lock lock(_mutex);
        while (true) {
            _wake.wait(lock, [&] { return _stop || !_queue.empty(); });
            if (_stop) {
                return;
            }
            task next = std::move(_queue.front());
            _queue.pop_front();
            if (next.target != 0) {
                auto it = _watchers.find(next.target);
                if (it == _watchers.end()) {
                    continue;
                }
                auto w = it->second;
                for (const auto& response : next.responses) {
                    if (!deliver(lock, next.target, w, response)) {
                        break;
                    }
                    if (response.failure) {
                        w->canceled = true;
                        _watchers.erase(next.target);
                        break;
                    }
                }
                continue;
            }
            const watch_response& live = next.responses.front();
            std::vector<std::pair<uint64_t, std::shared_ptr<watcher>>> targets(_watchers.begin(),
                                                                               _watchers.end());
            for (auto& [id, w] : targets) {
                if (live.revision < w->live_from) {
                    continue;
                }
                watch_response mine;
                mine.revision = live.revision;
                for (const auto& event : live.events) {
                    if (std::string_view(event.kv.key).starts_with(w->prefix)) {
                        mine.events.push_back(event);
                    }
                }
                if (!mine.events.empty()) {
                    deliver(lock, id, w, mine);
                }
            }
        }
    }

    std::mutex _mutex;
    std::condition_variable _wake;                           // waits on _mutex
    std::condition_variable _idle;                           // waits on _mutex
    std::deque<task> _queue;                                 // guarded by _mutex
    std::map<uint64_t, std::shared_ptr<watcher>> _watchers;  // guarded by _mutex
    uint64_t _last_id = 0;                                   // guarded by _mutex
    uint64_t _running = 0;                                   // guarded by _mutex
    bool _stop = false;                                      // guarded by _mutex
    std::thread _thread;
};

// ---- write context ----------------------------------------------------------

struct embedded_store::apply_context {
    revision_t new_revision = 0;
    int64_t sequence = 0;
    std::vector<watch_event> events;
    bool wrote() const { return !events.empty(); }
};

// ---- open / close -----------------------------------------------------------

result<std::unique_ptr<embedded_store>> embedded_store::open(embedded_store_options options) {
    std::error_code ec;
    std::filesystem::create_directories(options.directory, ec);
    if (ec) {
        return error(errc::io, "create " + options.directory.string() + ": " + ec.message());
    }
    // One store per directory: the in-memory revision and leases would
    // diverge otherwise. The lock dies with the process.
    auto lock_path = (options.directory / "LOCK").string();
    int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd < 0) {
        return error(errc::io, "open " + lock_path + ": " + std::strerror(errno));
    }
    if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int saved = errno;
        ::close(lock_fd);
        return error(saved == EWOULDBLOCK ? errc::conflict : errc::io,
                     "lock " + lock_path + ": " + std::strerror(saved));
    }
    auto path = (options.directory / "metadata.db").string();
    sqlite3* db = nullptr;
    int rc =
        sqlite3_open_v2(path.c_str(), &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        error err(errc::io, "open " + path + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
        sqlite3_close(db);
        ::close(lock_fd);
        return err;
    }
    std::unique_ptr<embedded_store> store(new embedded_store(std::move(options), db));
    store->_lock_fd = lock_fd;
    FLOE_TRY(store->init_schema());
    {
        std::lock_guard lock(store->_mutex);
        FLOE_TRY(store->load_state());
    }
    store->_hub->start();
    store->_reaper = std::thread([s = store.get()] {
        set_thread_name("meta-leases");
        s->reaper_loop();
    });
    return store;
}

embedded_store::embedded_store(embedded_store_options options, sqlite3* db)
    : _options(std::move(options)), _db(db), _hub(std::make_shared<watch_hub>()) {}

embedded_store::~embedded_store() {
    {
        std::lock_guard lock(_mutex);
        _stopping = true;
    }
    _reaper_wake.notify_all();
    if (_reaper.joinable()) {
        _reaper.join();
    }
    _hub->stop();
    sqlite3_close(_db);
    if (_lock_fd >= 0) {
        ::close(_lock_fd);
    }
}

status embedded_store::init_schema() {
    sqlite3_busy_timeout(_db, 5000);
    FLOE_TRY(exec(_db, "PRAGMA journal_mode=WAL"));
    FLOE_TRY(exec(_db, "PRAGMA synchronous=FULL"));
    // Both settings can fail silently (journal_mode falls back on file systems
    // without shared memory), so read them back: the durability contract
    // depends on them.
    {
        statement mode(_db, "PRAGMA journal_mode");
        if (mode.step() != SQLITE_ROW || mode.column_bytes(0) != "wal") {
            return error(errc::unsupported, "metadata store needs SQLite WAL journal mode");
        }
        statement sync(_db, "PRAGMA synchronous");
        if (sync.step() != SQLITE_ROW || sync.column_int(0) != 2) {
            return error(errc::unsupported, "metadata store needs synchronous=FULL");
        }
    }
    FLOE_TRY(exec(_db,
                  "CREATE TABLE IF NOT EXISTS meta("
                  "  name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
                  "CREATE TABLE IF NOT EXISTS kv("
                  "  key BLOB PRIMARY KEY, value BLOB NOT NULL,"
                  "  create_revision INTEGER NOT NULL, mod_revision INTEGER NOT NULL,"
                  "  version INTEGER NOT NULL, lease INTEGER NOT NULL) WITHOUT ROWID;"
                  "CREATE INDEX IF NOT EXISTS kv_by_lease ON kv(lease) WHERE lease != 0;"
                  "CREATE TABLE IF NOT EXISTS history("
                  "  revision INTEGER NOT NULL, sequence INTEGER NOT NULL,"
                  "  type INTEGER NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL,"
                  "  create_revision INTEGER NOT NULL, version INTEGER NOT NULL,"
                  "  lease INTEGER NOT NULL,"
                  "  PRIMARY KEY(revision, sequence)) WITHOUT ROWID;"
                  "CREATE INDEX IF NOT EXISTS history_by_key ON history(key, revision);"
                  "CREATE TABLE IF NOT EXISTS leases("
                  "  id INTEGER PRIMARY KEY, ttl INTEGER NOT NULL,"
                  "  deadline_ms INTEGER NOT NULL);"
                  "INSERT OR IGNORE INTO meta VALUES('schema_version', 1);"
                  "INSERT OR IGNORE INTO meta VALUES('revision', 1);"
                  "INSERT OR IGNORE INTO meta VALUES('compact_revision', 0);"
                  "INSERT OR IGNORE INTO meta VALUES('next_lease_id', 1);"));
    return ok();
}

status embedded_store::load_state() {
    {
        statement stmt(_db, "SELECT name, value FROM meta");
        int rc;
        while ((rc = stmt.step()) == SQLITE_ROW) {
            auto name = stmt.column_bytes(0);
            int64_t value = stmt.column_int(1);
            if (name == "schema_version" && value != 1) {
                return error(errc::unsupported, "metadata schema version " + std::to_string(value));
            }
            if (name == "revision") {
                _revision = value;
            } else if (name == "compact_revision") {
                _compact_revision = value;
            } else if (name == "next_lease_id") {
                _next_lease_id = value;
            }
        }
        if (rc != SQLITE_DONE) {
            return db_error(_db, "read meta");
        }
    }
    std::vector<lease_id> expired;
    {
        statement stmt(_db, "SELECT id, ttl, deadline_ms FROM leases");
        int64_t now_ms = wall_now_ms();
        auto now = steady::now();
        int rc;
        while ((rc = stmt.step()) == SQLITE_ROW) {
            lease_id id = stmt.column_int(0);
            int64_t deadline_ms = stmt.column_int(2);
            _leases[id] = lease_state{stmt.column_int(1),
                                      now + std::chrono::milliseconds(deadline_ms - now_ms)};
            if (deadline_ms <= now_ms) {
                expired.push_back(id);
            }
        }
        if (rc != SQLITE_DONE) {
            return db_error(_db, "read leases");
        }
    }
    for (lease_id id : expired) {
        FLOE_TRY(revoke_locked(id));
    }
    return ok();
}

// ---- reads ------------------------------------------------------------------

result<std::optional<key_value>> embedded_store::get_locked(std::string_view key) {
    statement stmt(_db,
                   "SELECT value, create_revision, mod_revision, version, lease "
                   "FROM kv WHERE key = ?");
    stmt.bind_bytes(key);
    int rc = stmt.step();
    if (rc == SQLITE_DONE) {
        return std::optional<key_value>();
    }
    if (rc != SQLITE_ROW) {
        return db_error(_db, "get");
    }
    key_value kv;
    kv.key = std::string(key);
    kv.value = stmt.column_bytes(0);
    kv.create_revision = stmt.column_int(1);
    kv.mod_revision = stmt.column_int(2);
    kv.version = stmt.column_int(3);
    kv.lease = stmt.column_int(4);
    return std::optional<key_value>(std::move(kv));
}

result<range_response> embedded_store::range_locked(const key_range& keys, int64_t limit,
                                                    revision_t revision) {
    if (limit < 0 || revision < 0) {
        return error(errc::invalid_argument, "negative range limit or revision");
    }
    if (revision > _revision) {
        return error(errc::invalid_argument, "revision " + std::to_string(revision) +
                                                 " is in the future (current " +
                                                 std::to_string(_revision) + ")");
    }
    if (revision != 0 && revision < _compact_revision) {
        return compacted_error(revision, _compact_revision);
    }
    std::string sql;
    if (revision == 0 || revision == _revision) {
        auto filter = filter_for(keys, "key");
        sql = "SELECT key, value, create_revision, mod_revision, version, lease FROM kv WHERE " +
              filter.sql + " ORDER BY key";
    } else {
        // The newest history row of each key at or below `revision`, if a put.
        auto filter = filter_for(keys, "h.key");
        sql =
            "SELECT h.key, h.value, h.create_revision, h.revision, h.version, h.lease "
            "FROM history h WHERE " +
            filter.sql +
            " AND h.type = 0 AND h.revision = (SELECT MAX(h2.revision) FROM history h2 "
            "WHERE h2.key = h.key AND h2.revision <= ?) ORDER BY h.key";
    }
    if (limit > 0) {
        sql += " LIMIT ?";
    }
    statement stmt(_db, sql);
    bind_filter(stmt, filter_for(keys, "key"));
    if (revision != 0 && revision != _revision) {
        stmt.bind(revision);
    }
    if (limit > 0) {
        stmt.bind(limit + 1);
    }
    range_response out;
    out.revision = _revision;
    int rc;
    while ((rc = stmt.step()) == SQLITE_ROW) {
        if (limit > 0 && static_cast<int64_t>(out.kvs.size()) == limit) {
            out.more = true;
            break;
        }
        key_value kv;
        kv.key = stmt.column_bytes(0);
        kv.value = stmt.column_bytes(1);
        kv.create_revision = stmt.column_int(2);
        kv.mod_revision = stmt.column_int(3);
        kv.version = stmt.column_int(4);
        kv.lease = stmt.column_int(5);
        out.kvs.push_back(std::move(kv));
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return db_error(_db, "range");
    }
    return out;
}

result<std::optional<key_value>> embedded_store::get(std::string_view key) {
    std::lock_guard lock(_mutex);
    return get_locked(key);
}

result<range_response> embedded_store::range(const range_request& request) {
    std::lock_guard lock(_mutex);
    return range_locked(request.keys, request.limit, request.revision);
}

revision_t embedded_store::compact_revision() {
    std::lock_guard lock(_mutex);
    return _compact_revision;
}

// ---- writes -----------------------------------------------------------------

// A SQLite write transaction: BEGIN IMMEDIATE on construction, ROLLBACK unless
// commit() succeeded.
class embedded_store::sqlite_txn {
public:
    explicit sqlite_txn(sqlite3* db) : _db(db) {}
    ~sqlite_txn() {
        if (_open) {
            (void)exec(_db, "ROLLBACK");
        }
    }
    status begin() {
        FLOE_TRY(exec(_db, "BEGIN IMMEDIATE"));
        _open = true;
        return ok();
    }
    status commit() {
        FLOE_TRY(exec(_db, "COMMIT"));
        _open = false;
        return ok();
    }

private:
    sqlite3* _db;
    bool _open = false;
};

status embedded_store::check_compare(const compare& condition, bool& holds) {
    auto current = get_locked(condition.key);
    if (!current) {
        return current.error_value();
    }
    const key_value empty;
    const key_value& kv = current->has_value() ? **current : empty;
    int order;  // <0, 0, >0: the key's field compared with the operand
    if (condition.target == compare_target::value) {
        int c = kv.value.compare(condition.value);
        order = c < 0 ? -1 : (c > 0 ? 1 : 0);
    } else {
        int64_t field = 0;
        switch (condition.target) {
            case compare_target::version:
                field = kv.version;
                break;
            case compare_target::create_revision:
                field = kv.create_revision;
                break;
            case compare_target::mod_revision:
                field = kv.mod_revision;
                break;
            case compare_target::lease:
                field = kv.lease;
                break;
            case compare_target::value:
                break;
        }
        order = field < condition.number ? -1 : (field > condition.number ? 1 : 0);
    }
    switch (condition.op) {
        case compare_op::equal:
            holds = order == 0;
            break;
        case compare_op::not_equal:
            holds = order != 0;
            break;
        case compare_op::less:
            holds = order < 0;
            break;
        case compare_op::greater:
            holds = order > 0;
            break;
    }
    return ok();
}

status embedded_store::apply_op(const op& operation, apply_context& ctx, op_response& out) {
    out.kind = operation.kind;
    switch (operation.kind) {
        case op_kind::range: {
            auto r = range_locked(operation.keys, operation.limit, operation.revision);
            if (!r) {
                return r.error_value();
            }
            out.range = std::move(*r);
            return ok();
        }
        case op_kind::put: {
            const std::string& key = operation.keys.start;
            if (key.empty()) {
                return error(errc::invalid_argument, "empty key");
            }
            if (operation.lease != 0) {
                auto it = _leases.find(operation.lease);
                if (it == _leases.end() || it->second.deadline <= steady::now()) {
                    return error(errc::not_found,
                                 "lease " + std::to_string(operation.lease) + " not found");
                }
            }
            auto existing = get_locked(key);
            if (!existing) {
                return existing.error_value();
            }
            key_value kv;
            kv.key = key;
            kv.value = operation.value;
            kv.mod_revision = ctx.new_revision;
            kv.lease = operation.lease;
            if (existing->has_value()) {
                kv.create_revision = (*existing)->create_revision;
                kv.version = (*existing)->version + 1;
            } else {
                kv.create_revision = ctx.new_revision;
                kv.version = 1;
            }
            statement upsert(_db,
                             "INSERT OR REPLACE INTO kv(key, value, create_revision, "
                             "mod_revision, version, lease) VALUES(?, ?, ?, ?, ?, ?)");
            upsert.bind_bytes(kv.key).bind_bytes(kv.value).bind(kv.create_revision);
            upsert.bind(kv.mod_revision).bind(kv.version).bind(kv.lease);
            FLOE_TRY(upsert.run("put"));
            statement history(_db, "INSERT INTO history VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
            history.bind(ctx.new_revision).bind(ctx.sequence++).bind(history_put);
            history.bind_bytes(kv.key).bind_bytes(kv.value).bind(kv.create_revision);
            history.bind(kv.version).bind(kv.lease);
            FLOE_TRY(history.run("put history"));
            ctx.events.push_back(watch_event{event_type::put, std::move(kv)});
            return ok();
        }
        case op_kind::remove: {
            if (operation.keys.start.empty() && operation.keys.end.empty()) {
                return error(errc::invalid_argument, "empty key");
            }
            std::vector<std::string> victims;
            {
                auto filter = filter_for(operation.keys, "key");
                statement select(_db, "SELECT key FROM kv WHERE " + filter.sql + " ORDER BY key");
                bind_filter(select, filter);
                int rc;
                while ((rc = select.step()) == SQLITE_ROW) {
                    victims.push_back(select.column_bytes(0));
                }
                if (rc != SQLITE_DONE) {
                    return db_error(_db, "delete range");
                }
            }
            for (auto& key : victims) {
                statement del(_db, "DELETE FROM kv WHERE key = ?");
                del.bind_bytes(key);
                FLOE_TRY(del.run("delete"));
                statement history(_db, "INSERT INTO history VALUES(?, ?, ?, ?, ?, 0, 0, 0)");
                history.bind(ctx.new_revision).bind(ctx.sequence++).bind(history_remove);
                history.bind_bytes(key).bind_bytes("");
                FLOE_TRY(history.run("delete history"));
                watch_event event;
                event.type = event_type::remove;
                event.kv.key = std::move(key);
                event.kv.mod_revision = ctx.new_revision;
                ctx.events.push_back(std::move(event));
            }
            out.deleted = static_cast<int64_t>(victims.size());
            return ok();
        }
    }
    return ok();
}

namespace {

// etcd rejects a branch that writes one key twice (two puts, or a put inside
// a deleted range), since the order within one revision would be ambiguous.
status validate_branch(const std::vector<op>& ops) {
    std::vector<const std::string*> puts;
    for (const auto& o : ops) {
        if (o.kind == op_kind::put) {
            for (const auto* seen : puts) {
                if (*seen == o.keys.start) {
                    return error(errc::invalid_argument,
                                 "duplicate key given in txn request: " + o.keys.start);
                }
            }
            puts.push_back(&o.keys.start);
        }
    }
    for (const auto& o : ops) {
        if (o.kind != op_kind::remove) {
            continue;
        }
        for (const auto* key : puts) {
            if (o.keys.contains(*key)) {
                return error(errc::invalid_argument, "duplicate key given in txn request: " + *key);
            }
        }
    }
    return ok();
}

}  // namespace

result<txn_response> embedded_store::write_locked(const txn_request& request) {
    FLOE_TRY(validate_branch(request.success));
    FLOE_TRY(validate_branch(request.failure));
    sqlite_txn transaction(_db);
    FLOE_TRY(transaction.begin());
    txn_response response;
    response.succeeded = true;
    for (const auto& condition : request.compares) {
        bool holds = false;
        FLOE_TRY(check_compare(condition, holds));
        if (!holds) {
            response.succeeded = false;
            break;
        }
    }
    apply_context ctx;
    ctx.new_revision = _revision + 1;
    const auto& branch = response.succeeded ? request.success : request.failure;
    response.responses.resize(branch.size());
    for (size_t i = 0; i < branch.size(); ++i) {
        FLOE_TRY(apply_op(branch[i], ctx, response.responses[i]));
    }
    if (ctx.wrote()) {
        statement bump(_db, "UPDATE meta SET value = ? WHERE name = 'revision'");
        bump.bind(ctx.new_revision);
        FLOE_TRY(bump.run("bump revision"));
    }
    FLOE_TRY(transaction.commit());
    if (ctx.wrote()) {
        _revision = ctx.new_revision;
        _hub->publish(_revision, std::move(ctx.events));
    }
    response.revision = _revision;
    for (auto& r : response.responses) {
        if (r.kind == op_kind::range) {
            r.range.revision = _revision;
        }
    }
    FLOE_TRY(maybe_auto_compact_locked());
    return response;
}

result<txn_response> embedded_store::txn(const txn_request& request) {
    std::lock_guard lock(_mutex);
    return write_locked(request);
}

result<revision_t> embedded_store::put(std::string_view key, std::string_view value,
                                       lease_id lease) {
    txn_request request;
    request.success.push_back(op::put(std::string(key), std::string(value), lease));
    std::lock_guard lock(_mutex);
    auto response = write_locked(request);
    if (!response) {
        return response.error_value();
    }
    return response->revision;
}

result<delete_response> embedded_store::remove(std::string_view key) {
    txn_request request;
    request.success.push_back(op::remove(std::string(key)));
    std::lock_guard lock(_mutex);
    auto response = write_locked(request);
    if (!response) {
        return response.error_value();
    }
    return delete_response{response->revision, response->responses[0].deleted};
}

result<delete_response> embedded_store::remove_prefix(std::string_view prefix) {
    txn_request request;
    request.success.push_back(op::remove_range(key_range::with_prefix(prefix)));
    std::lock_guard lock(_mutex);
    auto response = write_locked(request);
    if (!response) {
        return response.error_value();
    }
    return delete_response{response->revision, response->responses[0].deleted};
}

// ---- compaction -------------------------------------------------------------

status embedded_store::compact_locked(revision_t revision) {
    if (revision > _revision) {
        return error(errc::invalid_argument,
                     "cannot compact the future revision " + std::to_string(revision));
    }
    if (revision <= _compact_revision) {
        return ok();
    }
    sqlite_txn transaction(_db);
    FLOE_TRY(transaction.begin());
    // Drop each row that a newer row of the same key at or below `revision`
    // supersedes, then tombstones below it: what remains answers any read at
    // a revision >= `revision` exactly.
    statement superseded(_db,
                         "DELETE FROM history WHERE revision < ?1 AND EXISTS ("
                         "SELECT 1 FROM history h2 WHERE h2.key = history.key "
                         "AND h2.revision > history.revision AND h2.revision <= ?1)");
    superseded.bind(revision);
    FLOE_TRY(superseded.run("compact"));
    statement tombstones(_db, "DELETE FROM history WHERE revision < ? AND type = 1");
    tombstones.bind(revision);
    FLOE_TRY(tombstones.run("compact tombstones"));
    statement mark(_db, "UPDATE meta SET value = ? WHERE name = 'compact_revision'");
    mark.bind(revision);
    FLOE_TRY(mark.run("compact mark"));
    FLOE_TRY(transaction.commit());
    _compact_revision = revision;
    return ok();
}

status embedded_store::maybe_auto_compact_locked() {
    int64_t keep = _options.history_revisions;
    if (keep <= 0 || _revision - _compact_revision <= 2 * keep) {
        return ok();
    }
    return compact_locked(_revision - keep);
}

status embedded_store::compact(revision_t revision) {
    std::lock_guard lock(_mutex);
    return compact_locked(revision);
}

// ---- leases -----------------------------------------------------------------

result<lease_grant> embedded_store::grant(int64_t ttl_seconds) {
    if (ttl_seconds < 1 || ttl_seconds > max_lease_ttl_seconds) {
        return error(
            errc::invalid_argument,
            "lease TTL must be within [1, " + std::to_string(max_lease_ttl_seconds) + "] seconds");
    }
    std::lock_guard lock(_mutex);
    lease_id id = _next_lease_id;
    {
        sqlite_txn transaction(_db);
        FLOE_TRY(transaction.begin());
        statement insert(_db, "INSERT INTO leases VALUES(?, ?, ?)");
        insert.bind(id).bind(ttl_seconds).bind(wall_now_ms() + ttl_seconds * 1000);
        FLOE_TRY(insert.run("grant"));
        statement next(_db, "UPDATE meta SET value = ? WHERE name = 'next_lease_id'");
        next.bind(id + 1);
        FLOE_TRY(next.run("grant id"));
        FLOE_TRY(transaction.commit());
    }
    _next_lease_id = id + 1;
    _leases[id] = lease_state{ttl_seconds, steady::now() + std::chrono::seconds(ttl_seconds)};
    _reaper_wake.notify_all();
    return lease_grant{id, ttl_seconds};
}

result<int64_t> embedded_store::keep_alive(lease_id id) {
    std::lock_guard lock(_mutex);
    auto it = _leases.find(id);
    if (it == _leases.end() || it->second.deadline <= steady::now()) {
        return error(errc::not_found, "lease " + std::to_string(id) + " not found");
    }
    int64_t ttl = it->second.ttl_seconds;
    statement update(_db, "UPDATE leases SET deadline_ms = ? WHERE id = ?");
    update.bind(wall_now_ms() + ttl * 1000).bind(id);
    FLOE_TRY(update.run("keep alive"));
    it->second.deadline = steady::now() + std::chrono::seconds(ttl);
    return ttl;
}

status embedded_store::revoke_locked(lease_id id) {
    sqlite_txn transaction(_db);
    FLOE_TRY(transaction.begin());
    apply_context ctx;
    ctx.new_revision = _revision + 1;
    std::vector<std::string> keys;
    {
        statement select(_db, "SELECT key FROM kv WHERE lease = ? ORDER BY key");
        select.bind(id);
        int rc;
        while ((rc = select.step()) == SQLITE_ROW) {
            keys.push_back(select.column_bytes(0));
        }
        if (rc != SQLITE_DONE) {
            return db_error(_db, "lease keys");
        }
    }
    for (auto& key : keys) {
        op_response ignored;
        FLOE_TRY(apply_op(op::remove(std::move(key)), ctx, ignored));
    }
    statement del(_db, "DELETE FROM leases WHERE id = ?");
    del.bind(id);
    FLOE_TRY(del.run("revoke"));
    if (ctx.wrote()) {
        statement bump(_db, "UPDATE meta SET value = ? WHERE name = 'revision'");
        bump.bind(ctx.new_revision);
        FLOE_TRY(bump.run("bump revision"));
    }
    FLOE_TRY(transaction.commit());
    _leases.erase(id);
    if (ctx.wrote()) {
        _revision = ctx.new_revision;
        _hub->publish(_revision, std::move(ctx.events));
        FLOE_TRY(maybe_auto_compact_locked());
    }
    return ok();
}

status embedded_store::revoke(lease_id id) {
    std::lock_guard lock(_mutex);
    if (!_leases.contains(id)) {
        return error(errc::not_found, "lease " + std::to_string(id) + " not found");
    }
    return revoke_locked(id);
}

result<lease_status> embedded_store::time_to_live(lease_id id) {
    std::lock_guard lock(_mutex);
    auto it = _leases.find(id);
    auto now = steady::now();
    if (it == _leases.end() || it->second.deadline <= now) {
        return error(errc::not_found, "lease " + std::to_string(id) + " not found");
    }
    lease_status out;
    out.id = id;
    out.granted_ttl_seconds = it->second.ttl_seconds;
    auto remaining_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(it->second.deadline - now).count();
    out.remaining_ttl_seconds = (remaining_ms + 999) / 1000;
    statement select(_db, "SELECT key FROM kv WHERE lease = ? ORDER BY key");
    select.bind(id);
    int rc;
    while ((rc = select.step()) == SQLITE_ROW) {
        out.keys.push_back(select.column_bytes(0));
    }
    if (rc != SQLITE_DONE) {
        return db_error(_db, "lease keys");
    }
    return out;
}

void embedded_store::reaper_loop() {
    std::unique_lock lock(_mutex);
    while (!_stopping) {
        auto now = steady::now();
        auto next = steady::time_point::max();
        std::vector<lease_id> expired;
        for (const auto& [id, lease] : _leases) {
            if (lease.deadline <= now) {
                expired.push_back(id);
            } else {
                next = std::min(next, lease.deadline);
            }
        }
        for (lease_id id : expired) {
            if (!revoke_locked(id)) {
                // Storage failed; try again shortly rather than spin.
                next = std::min(next, now + std::chrono::seconds(1));
            }
        }
        if (next == steady::time_point::max()) {
            _reaper_wake.wait(lock);
        } else {
            _reaper_wake.wait_until(lock, next);
        }
    }
}

// ---- watch ------------------------------------------------------------------

result<watch_handle> embedded_store::watch(std::string_view prefix, revision_t start_revision,
                                           watch_callback callback) {
    if (start_revision < 0 || !callback) {
        return error(errc::invalid_argument, "watch needs a callback and start revision >= 0");
    }
    std::lock_guard lock(_mutex);
    std::vector<watch_response> replay;
    revision_t live_from = _revision + 1;
    if (start_revision != 0 && start_revision < _compact_revision) {
        watch_response failed;
        failed.failure = compacted_error(start_revision, _compact_revision);
        failed.compact_revision = _compact_revision;
        replay.push_back(std::move(failed));
        live_from = std::numeric_limits<revision_t>::max();
    } else if (start_revision != 0) {
        live_from = std::max(start_revision, _revision + 1);
        auto filter = filter_for(key_range::with_prefix(prefix), "key");
        statement select(_db,
                         "SELECT revision, type, key, value, create_revision, version, lease "
                         "FROM history WHERE revision >= ? AND " +
                             filter.sql + " ORDER BY revision, sequence");
        select.bind(start_revision);
        bind_filter(select, filter);
        int rc;
        while ((rc = select.step()) == SQLITE_ROW) {
            revision_t revision = select.column_int(0);
            if (replay.empty() || replay.back().revision != revision) {
                replay.emplace_back();
                replay.back().revision = revision;
            }
            watch_event event;
            event.type = select.column_int(1) == history_put ? event_type::put : event_type::remove;
            event.kv.key = select.column_bytes(2);
            event.kv.value = select.column_bytes(3);
            event.kv.create_revision = select.column_int(4);
            event.kv.mod_revision = revision;
            event.kv.version = select.column_int(5);
            event.kv.lease = select.column_int(6);
            replay.back().events.push_back(std::move(event));
        }
        if (rc != SQLITE_DONE) {
            return db_error(_db, "watch replay");
        }
    }
    uint64_t id = _hub->add(std::string(prefix), live_from, std::move(replay), std::move(callback));
    std::weak_ptr<watch_hub> hub = _hub;
    return watch_handle([hub, id] {
        if (auto h = hub.lock()) {
            h->cancel(id);
        }
    });
}

}  // namespace floe::metadata
