#include "coordinator/group_coordinator.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <utility>

#include <re2/re2.h>

#include "coordinator/consumer_assignment.h"
#include "coordinator/consumer_protocol.h"
#include "coordinator/group_records.h"

namespace floe::coordinator {

namespace {

using std::chrono::milliseconds;

int64_t to_ms(time_point t) {
    return t.time_since_epoch().count();
}

time_point from_ms(int64_t ms) {
    return time_point(milliseconds(ms));
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

int32_t clamp_ms(milliseconds d) {
    return static_cast<int32_t>(
        std::clamp<int64_t>(d.count(), 0, std::numeric_limits<int32_t>::max()));
}

// A log failure as the group APIs report it (Kafka's mapping of append
// errors): fenced -> NOT_COORDINATOR, too large -> UNKNOWN_SERVER_ERROR
// (groups) / INVALID_COMMIT_OFFSET_SIZE (offsets), else retriable
// COORDINATOR_NOT_AVAILABLE.
group_error group_log_error(const status& s) {
    switch (s.error_value().code) {
        case errc::conflict:
            return group_error::not_coordinator;
        case errc::too_large:
            return group_error::unknown_server_error;
        default:
            return group_error::coordinator_not_available;
    }
}

group_error commit_log_error(const status& s) {
    if (s.error_value().code == errc::too_large) {
        return group_error::invalid_commit_offset_size;
    }
    return group_log_error(s);
}

// Group records hold their classic strings (group and member ids, instance
// ids, protocol names, offset metadata) with int16 lengths
// (group_records.h); flexible request versions can carry longer ones, which
// are refused rather than written.
constexpr size_t k_max_record_string = static_cast<size_t>(std::numeric_limits<int16_t>::max());

// The prefix a new member id is built from (client id or group instance
// id), cut so that prefix + "-" + a UUID (37 bytes) fits in a record, at a
// UTF-8 character boundary. Kafka's ids are unbounded; a 32767-byte client
// id (the most a request header holds) gets a 32730-byte prefix.
std::string_view member_id_prefix(std::string_view prefix) {
    constexpr size_t limit = k_max_record_string - 37;
    if (prefix.size() <= limit) {
        return prefix;
    }
    size_t cut = limit;
    while (cut > 0 && (static_cast<uint8_t>(prefix[cut]) & 0xC0) == 0x80) {
        --cut;  // a continuation byte: the character starts before
    }
    return prefix.substr(0, cut);
}

std::string random_member_id(std::string_view prefix) {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    uint64_t hi = rng();
    uint64_t lo = rng();
    hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
    lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 1
    char uuid[37];
    std::snprintf(uuid, sizeof(uuid), "%08x-%04x-%04x-%04x-%012llx",
                  static_cast<unsigned>(hi >> 32), static_cast<unsigned>((hi >> 16) & 0xffff),
                  static_cast<unsigned>(hi & 0xffff), static_cast<unsigned>(lo >> 48),
                  static_cast<unsigned long long>(lo & 0xffffffffffffULL));
    return std::string(prefix) + "-" + uuid;
}

join_group_response join_error(group_error e, std::string member_id) {
    join_group_response r;
    r.error = e;
    r.member_id = std::move(member_id);
    return r;
}

sync_group_response sync_error(group_error e) {
    sync_group_response r;
    r.error = e;
    return r;
}

struct committed_offset {
    int64_t offset = 0;
    int32_t leader_epoch = -1;
    std::string metadata;
    time_point commit_timestamp;
    std::optional<time_point> expire_timestamp;
    uint64_t log_seq = 0;  // the append that stored it (0: replayed)
};

// Commits of a partition whose append is not yet durable. A delete of the
// partition's offset sets `fence` to its own append's sequence: commits
// appended before it must not resurrect the offset when they complete.
struct pending_commit {
    uint32_t in_flight = 0;
    uint64_t fence = 0;
};

enum class join_timer_kind { none, initial, rebalance };
enum class timer_kind {
    heartbeat,
    pending_member,
    join,
    sync,
    offset_expiration,
    consumer_session,    // a consumer group member's session
    consumer_rebalance,  // a consumer group member's revocation deadline
};

struct timer_entry {
    timer_kind kind = timer_kind::heartbeat;
    std::string group_id;
    std::string member_id;
    int32_t generation = 0;
    time_point deadline;
};

struct member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::string client_id;
    std::string client_host;
    milliseconds session_timeout{0};
    milliseconds rebalance_timeout{0};
    std::string protocol_type;
    std::vector<join_protocol> protocols;
    byte_vector assignment;
    join_group_callback awaiting_join;  // set while a JoinGroup waits
    sync_group_callback awaiting_sync;  // set while a SyncGroup waits
    bool is_new = false;                // joined in the running rebalance
    uint64_t join_order = 0;
    uint64_t heartbeat_timer = 0;

    bool awaiting_join_response() const { return static_cast<bool>(awaiting_join); }
    bool awaiting_sync_response() const { return static_cast<bool>(awaiting_sync); }
    const byte_vector* metadata_for(std::string_view protocol) const {
        for (const auto& p : protocols) {
            if (p.name == protocol) {
                return &p.metadata;
            }
        }
        return nullptr;
    }
};

// ---- consumer groups (KIP-848) -------------------------------------------------

using partition_key = std::pair<topic_id, int32_t>;

struct consumer_member {
    std::string member_id;
    std::optional<std::string> instance_id;
    std::optional<std::string> rack_id;
    std::string client_id;
    std::string client_host;
    std::vector<std::string> topic_names;  // sorted, unique
    std::optional<std::string> topic_regex;
    std::optional<std::string> server_assignor;
    int32_t rebalance_timeout_ms = -1;
    member_assignment_state assignment;
    // The member epoch at which each assigned partition was given to it
    // (an OffsetCommit with an older epoch is accepted for those it owned
    // since then).
    std::map<partition_key, int32_t> assigned_epochs;
    uint64_t session_timer = 0;
    uint64_t rebalance_timer = 0;
};

// The outcome of the last append queued for a consumer group, so that
// answers that read its (not yet durable) state wait for it.
struct write_barrier {
    bool done = false;
    status result = ok();
    std::vector<std::function<void(status)>> waiters;
};

struct resolved_regex {
    std::set<std::string> topics;
    time_point resolved_at;
};

struct consumer_group_state {
    int32_t group_epoch = 0;
    int32_t assignment_epoch = 0;
    std::map<std::string, consumer_member, std::less<>> members;
    std::map<std::string, std::string, std::less<>> static_members;   // instance id -> member id
    std::map<std::string, partition_assignment, std::less<>> target;  // member id -> target
    // The subscribed topics that exist, as of the last heartbeat: name ->
    // id and partition count. A change bumps the group epoch.
    std::map<std::string, topic_metadata, std::less<>> subscription_metadata;
    std::map<std::string, resolved_regex, std::less<>> regexes;
    std::string assignor;  // the one that computed the target
    // Set when an append failed: the next write is a full snapshot (plus the
    // tombstones in `unwritten_removals`), so the log catches up.
    bool dirty = false;
    std::set<std::string> unwritten_removals;
    std::shared_ptr<write_barrier> last_write;
};

// What one call changed in a consumer group, i.e. which records to write.
struct consumer_changes {
    bool group_epoch = false;
    bool partition_metadata = false;
    bool target_epoch = false;
    std::set<std::string> member_metadata;
    std::set<std::string> targets;
    std::set<std::string> current;
    std::set<std::string> removed;
    bool any() const {
        return group_epoch || partition_metadata || target_epoch || !member_metadata.empty() ||
               !targets.empty() || !current.empty() || !removed.empty();
    }
};

struct group {
    std::string group_id;
    uint64_t incarnation = 0;
    group_state state = group_state::empty;
    std::optional<time_point> state_timestamp;
    int32_t generation_id = 0;
    std::optional<std::string> protocol_type;
    std::optional<std::string> protocol_name;
    std::optional<std::string> leader_id;
    std::map<std::string, member, std::less<>> members;
    std::map<std::string, std::string, std::less<>> static_members;  // instance id -> member id
    std::map<std::string, uint64_t, std::less<>> pending_members;    // member id -> timer
    std::set<std::string, std::less<>> pending_sync_members;
    uint64_t next_join_order = 0;
    bool new_member_added = false;
    uint64_t join_timer = 0;
    join_timer_kind join_kind = join_timer_kind::none;
    milliseconds initial_delay{0};      // delay of the running initial-delay timer
    milliseconds initial_remaining{0};  // what the initial delay may still add
    uint64_t sync_timer = 0;
    std::optional<std::set<std::string, std::less<>>> subscribed_topics;  // nullopt: unknown
    std::map<topic_partition, committed_offset> offsets;
    std::map<topic_partition, pending_commit> pending_commits;
    bool has_metadata_record = false;  // replay bookkeeping
    // A consumer group (KIP-848): `cg` holds its state, the classic fields
    // above stay empty except `state` (Empty without members, else Stable),
    // `protocol_type` ("consumer") and `subscribed_topics`, which the shared
    // offset code reads.
    bool consumer = false;
    consumer_group_state cg;

    member* find(std::string_view id) {
        auto it = members.find(id);
        return it == members.end() ? nullptr : &it->second;
    }
    bool has(std::string_view id) const { return members.find(id) != members.end(); }
    bool is_leader(std::string_view id) const { return leader_id && *leader_id == id; }
    bool has_offsets() const { return !offsets.empty() || !pending_commits.empty(); }
    milliseconds rebalance_timeout() const {
        milliseconds out{0};
        for (const auto& [id, m] : members) {
            out = std::max(out, m.rebalance_timeout);
        }
        return out;
    }
    size_t awaiting_join_count() const {
        return static_cast<size_t>(std::count_if(members.begin(), members.end(), [](auto& kv) {
            return kv.second.awaiting_join_response();
        }));
    }
    bool all_members_joined() const {
        return pending_members.empty() && awaiting_join_count() == members.size();
    }
    std::vector<member*> in_join_order() {
        std::vector<member*> out;
        out.reserve(members.size());
        for (auto& [id, m] : members) {
            out.push_back(&m);
        }
        std::sort(out.begin(), out.end(),
                  [](member* a, member* b) { return a->join_order < b->join_order; });
        return out;
    }
    bool subscribed_to(std::string_view topic) const {
        return !subscribed_topics || subscribed_topics->count(topic) > 0;
    }
};

}  // namespace

struct group_coordinator::impl : std::enable_shared_from_this<group_coordinator::impl> {
    impl(group_config c, coordinator_log& l, clock_fn clk, member_id_generator g,
         topic_metadata_source t)
        : config(std::move(c)),
          log(l),
          clock(std::move(clk)),
          ids(std::move(g)),
          topic_source(std::move(t)) {
        if (!ids) {
            ids = random_member_id;
        }
    }

    group_config config;
    coordinator_log& log;
    clock_fn clock;
    member_id_generator ids;
    topic_metadata_source topic_source;

    std::map<std::string, group, std::less<>> groups;
    uint64_t next_incarnation = 1;

    // Timers: ordered by (deadline, id); an owner keeps the id to cancel it.
    std::map<uint64_t, timer_entry> timers;
    std::set<std::pair<time_point, uint64_t>> timer_queue;
    uint64_t next_timer_id = 1;
    uint64_t expiration_timer = 0;

    struct queued_append {
        uint64_t seq;
        std::vector<log_record> records;
        std::function<void(status)> done;
    };
    std::vector<queued_append> appends;  // issued at the end of the public call
    uint64_t next_append_seq = 1;

    std::vector<std::function<void()>> completions;  // run when depth returns to 0
    int depth = 0;
    time_point now;

    // ---- entry scope: clock, timers, appends and completions ---------------

    struct scope {
        impl& s;
        explicit scope(impl& owner) : s(owner) {
            if (s.depth++ == 0) {
                s.now = s.clock();
                s.fire_due_timers(s.now);
            }
        }
        ~scope() {
            if (s.depth == 1) {
                // Zero-delay timers set by this call fire now; appends are
                // issued in the order they were queued.
                while (true) {
                    s.fire_due_timers(s.now);
                    if (s.appends.empty()) {
                        break;
                    }
                    s.flush_appends();
                }
            }
            if (--s.depth == 0) {
                s.drain_completions();
            }
        }
        scope(const scope&) = delete;
        scope& operator=(const scope&) = delete;
    };

    void drain_completions() {
        while (!completions.empty()) {
            auto batch = std::move(completions);
            completions.clear();
            for (auto& c : batch) {
                c();
            }
        }
    }

    void complete_join(join_group_callback cb, join_group_response r) {
        if (cb) {
            completions.push_back(
                [cb = std::move(cb), r = std::move(r)]() mutable { cb(std::move(r)); });
        }
    }
    void complete_sync(sync_group_callback cb, sync_group_response r) {
        if (cb) {
            completions.push_back(
                [cb = std::move(cb), r = std::move(r)]() mutable { cb(std::move(r)); });
        }
    }
    template <typename F, typename R>
    void complete(F cb, R r) {
        if (!cb) {
            return;
        }
        completions.push_back(
            [cb = std::move(cb), r = std::move(r)]() mutable { cb(std::move(r)); });
    }

    uint64_t queue_append(std::vector<log_record> records, std::function<void(status)> done) {
        uint64_t seq = next_append_seq++;
        appends.push_back({seq, std::move(records), std::move(done)});
        return seq;
    }

    void flush_appends() {
        auto batch = std::move(appends);
        appends.clear();
        for (auto& a : batch) {
            std::weak_ptr<impl> weak = weak_from_this();
            log.append(std::move(a.records), [weak, done = std::move(a.done)](status st) {
                auto self = weak.lock();
                if (!self) {
                    return;
                }
                scope sc(*self);
                if (done) {
                    done(st);
                }
            });
        }
    }

    // ---- timers --------------------------------------------------------------

    uint64_t schedule(timer_kind kind, std::string_view group_id, std::string_view member_id,
                      int32_t generation, time_point deadline) {
        uint64_t id = next_timer_id++;
        timers.emplace(id, timer_entry{kind, std::string(group_id), std::string(member_id),
                                       generation, deadline});
        timer_queue.emplace(deadline, id);
        return id;
    }

    void cancel(uint64_t& id) {
        if (id == 0) {
            return;
        }
        auto it = timers.find(id);
        if (it != timers.end()) {
            timer_queue.erase({it->second.deadline, id});
            timers.erase(it);
        }
        id = 0;
    }

    void fire_due_timers(time_point until) {
        while (!timer_queue.empty() && timer_queue.begin()->first <= until) {
            auto [deadline, id] = *timer_queue.begin();
            timer_queue.erase(timer_queue.begin());
            auto node = timers.extract(id);
            now = deadline;
            on_timer(id, node.mapped());
        }
        now = until;
    }

    void on_timer(uint64_t id, const timer_entry& t) {
        if (t.kind == timer_kind::offset_expiration) {
            expiration_timer = 0;
            expire_offsets();
            schedule_expiration();
            return;
        }
        group* g = find_group(t.group_id);
        if (g == nullptr) {
            return;
        }
        switch (t.kind) {
            case timer_kind::heartbeat: {
                member* m = g->find(t.member_id);
                if (m == nullptr || m->heartbeat_timer != id) {
                    return;
                }
                m->heartbeat_timer = 0;
                // Members waiting for a rebalance answer do not heartbeat;
                // the rebalance and sync timeouts bound them instead. A new
                // member's JoinGroup, though, may wait only so long.
                if (m->is_new || !(m->awaiting_join_response() || m->awaiting_sync_response())) {
                    remove_member_and_update_group(*g, t.member_id);
                }
                return;
            }
            case timer_kind::pending_member: {
                auto it = g->pending_members.find(t.member_id);
                if (it == g->pending_members.end() || it->second != id) {
                    return;
                }
                g->pending_members.erase(it);
                try_complete_join(*g);
                return;
            }
            case timer_kind::join:
                if (g->join_timer != id) {
                    return;
                }
                g->join_timer = 0;
                on_join_timer(*g);
                return;
            case timer_kind::sync:
                if (g->sync_timer != id) {
                    return;
                }
                g->sync_timer = 0;
                on_sync_timeout(*g, t.generation);
                return;
            case timer_kind::offset_expiration:
                return;
            case timer_kind::consumer_session:
            case timer_kind::consumer_rebalance:
                on_consumer_timer(*g, id, t);
                return;
        }
    }

    void schedule_expiration() {
        cancel(expiration_timer);
        expiration_timer = schedule(timer_kind::offset_expiration, "", "", 0,
                                    now + config.offsets_retention_check_interval);
    }

    void schedule_heartbeat(group& g, member& m, milliseconds timeout) {
        cancel(m.heartbeat_timer);
        m.heartbeat_timer =
            schedule(timer_kind::heartbeat, g.group_id, m.member_id, 0, now + timeout);
    }
    void schedule_heartbeat(group& g, member& m) { schedule_heartbeat(g, m, m.session_timeout); }

    // ---- groups --------------------------------------------------------------

    group* find_group(std::string_view id) {
        auto it = groups.find(id);
        return it == groups.end() ? nullptr : &it->second;
    }
    group* find_group(std::string_view id, uint64_t incarnation) {
        group* g = find_group(id);
        return g != nullptr && g->incarnation == incarnation ? g : nullptr;
    }

    group& create_group(std::string_view id) {
        auto [it, inserted] = groups.try_emplace(std::string(id));
        group& g = it->second;
        if (inserted) {
            g.group_id = std::string(id);
            g.incarnation = next_incarnation++;
        }
        return g;
    }

    void transition(group& g, group_state s) {
        g.state = s;
        g.state_timestamp = now;
    }

    // Drops every member and timer of `g` (its waiting requests get
    // `error`), keeping offsets.
    void clear_membership(group& g, group_error error) {
        for (auto& [id, m] : g.members) {
            cancel(m.heartbeat_timer);
            complete_join(std::exchange(m.awaiting_join, nullptr), join_error(error, id));
            complete_sync(std::exchange(m.awaiting_sync, nullptr), sync_error(error));
        }
        g.members.clear();
        g.static_members.clear();
        for (auto& [id, timer] : g.pending_members) {
            cancel(timer);
        }
        g.pending_members.clear();
        g.pending_sync_members.clear();
        cancel(g.join_timer);
        g.join_kind = join_timer_kind::none;
        cancel(g.sync_timer);
        g.leader_id.reset();
        g.new_member_added = false;
        for (auto& [id, m] : g.cg.members) {
            cancel(m.session_timer);
            cancel(m.rebalance_timer);
        }
    }

    void erase_group(group& g) {
        clear_membership(g, group_error::coordinator_not_available);
        std::string id = g.group_id;
        groups.erase(id);
    }

    bool supports_protocols(const group& g, const std::string& protocol_type,
                            const std::vector<join_protocol>& protocols) const {
        if (g.state == group_state::empty) {
            return !protocol_type.empty() && !protocols.empty();
        }
        if (!g.protocol_type || *g.protocol_type != protocol_type) {
            return false;
        }
        for (const auto& p : protocols) {
            size_t supporting = 0;
            for (const auto& [id, m] : g.members) {
                if (m.metadata_for(p.name) != nullptr) {
                    ++supporting;
                }
            }
            if (supporting == g.members.size()) {
                return true;
            }
        }
        return false;
    }

    // The protocol every member supports that most members list first among
    // those; ties go to the one the leader prefers.
    std::string select_protocol(group& g) {
        std::vector<member*> ordered = g.in_join_order();
        const member* leader = g.leader_id ? g.find(*g.leader_id) : nullptr;
        if (leader == nullptr) {
            leader = ordered.front();
        }
        std::vector<std::string> candidates;
        for (const auto& p : leader->protocols) {
            bool everyone = std::all_of(ordered.begin(), ordered.end(), [&](const member* m) {
                return m->metadata_for(p.name) != nullptr;
            });
            if (everyone) {
                candidates.push_back(p.name);
            }
        }
        if (candidates.empty()) {
            abort_with("group " + g.group_id + ": no protocol supported by every member");
        }
        std::map<std::string, size_t> votes;
        for (const member* m : ordered) {
            for (const auto& p : m->protocols) {
                if (std::find(candidates.begin(), candidates.end(), p.name) != candidates.end()) {
                    ++votes[p.name];
                    break;
                }
            }
        }
        std::string best = candidates.front();
        for (const auto& c : candidates) {
            if (votes[c] > votes[best]) {
                best = c;
            }
        }
        return best;
    }

    std::optional<std::set<std::string, std::less<>>> compute_subscribed_topics(group& g) {
        if (!g.protocol_type || *g.protocol_type != k_consumer_protocol_type || g.members.empty() ||
            !g.protocol_name) {
            return std::nullopt;
        }
        std::set<std::string, std::less<>> topics;
        for (auto& [id, m] : g.members) {
            const byte_vector* metadata = m.metadata_for(*g.protocol_name);
            if (metadata == nullptr) {
                return std::nullopt;
            }
            auto subscribed = consumer_subscription_topics(*metadata);
            if (!subscribed) {
                return std::nullopt;
            }
            topics.insert(subscribed->begin(), subscribed->end());
        }
        return topics;
    }

    std::vector<join_group_member> current_member_metadata(group& g) {
        std::vector<join_group_member> out;
        for (member* m : g.in_join_order()) {
            const byte_vector* metadata =
                g.protocol_name ? m->metadata_for(*g.protocol_name) : nullptr;
            out.push_back({m->member_id, m->group_instance_id,
                           metadata != nullptr ? *metadata : byte_vector{}});
        }
        return out;
    }

    join_group_response current_generation_response(group& g, const member& m, bool with_members) {
        join_group_response r;
        r.generation_id = g.generation_id;
        r.protocol_type = g.protocol_type;
        r.protocol_name = g.protocol_name;
        r.leader_id = g.leader_id.value_or("");
        r.member_id = m.member_id;
        if (with_members) {
            r.members = current_member_metadata(g);
        }
        return r;
    }

    // The group metadata record: members in join order with their metadata
    // for the chosen protocol, and `assignments` when given (else the
    // members' current ones).
    log_record group_record(group& g, const std::map<std::string, byte_vector>* assignments) {
        group_records::group_metadata_value v;
        v.protocol_type = g.protocol_type.value_or("");
        v.generation = g.generation_id;
        v.protocol = g.protocol_name;
        v.leader = g.leader_id;
        v.current_state_timestamp_ms = g.state_timestamp ? to_ms(*g.state_timestamp) : -1;
        for (member* m : g.in_join_order()) {
            group_records::member_value mv;
            mv.member_id = m->member_id;
            mv.group_instance_id = m->group_instance_id;
            mv.client_id = m->client_id;
            mv.client_host = m->client_host;
            mv.rebalance_timeout_ms = clamp_ms(m->rebalance_timeout);
            mv.session_timeout_ms = clamp_ms(m->session_timeout);
            const byte_vector* metadata =
                g.protocol_name ? m->metadata_for(*g.protocol_name) : nullptr;
            if (metadata != nullptr) {
                mv.subscription = *metadata;
            }
            if (assignments != nullptr) {
                auto it = assignments->find(m->member_id);
                if (it != assignments->end()) {
                    mv.assignment = it->second;
                }
            } else {
                mv.assignment = m->assignment;
            }
            v.members.push_back(std::move(mv));
        }
        return {group_records::encode_key(group_records::group_metadata_key{g.group_id}),
                group_records::encode_value(v)};
    }

    static log_record group_tombstone(const std::string& group_id) {
        return {group_records::encode_key(group_records::group_metadata_key{group_id}),
                std::nullopt};
    }

    // The tombstones that delete group `g` (its classic metadata, or every
    // record of a consumer group).
    static void append_group_tombstones(std::vector<log_record>& records, const group& g) {
        if (!g.consumer) {
            records.push_back(group_tombstone(g.group_id));
            return;
        }
        for (const auto& [id, m] : g.cg.members) {
            append_member_tombstones(records, g.group_id, id);
        }
        for (int16_t type : {group_records::k_consumer_partition_metadata_key,
                             group_records::k_consumer_target_metadata_key,
                             group_records::k_consumer_group_metadata_key}) {
            records.push_back(
                {group_records::encode_key(group_records::consumer_group_key{type, g.group_id, ""}),
                 std::nullopt});
        }
    }

    static void append_member_tombstones(std::vector<log_record>& records,
                                         const std::string& group_id,
                                         const std::string& member_id) {
        for (int16_t type : {group_records::k_consumer_current_assignment_key,
                             group_records::k_consumer_target_member_key,
                             group_records::k_consumer_member_metadata_key}) {
            records.push_back({group_records::encode_key(
                                   group_records::consumer_group_key{type, group_id, member_id}),
                               std::nullopt});
        }
    }

    static log_record offset_tombstone(const std::string& group_id, const topic_partition& tp) {
        return {group_records::encode_key(
                    group_records::offset_commit_key{group_id, tp.topic, tp.partition}),
                std::nullopt};
    }

    // ---- membership primitives -------------------------------------------------

    void add_member(group& g, member m) {
        if (m.group_instance_id) {
            if (g.static_members.count(*m.group_instance_id) > 0) {
                abort_with("group " + g.group_id + ": static member " + *m.group_instance_id +
                           " added twice");
            }
            g.static_members[*m.group_instance_id] = m.member_id;
        }
        if (g.members.empty()) {
            g.protocol_type = m.protocol_type;
        }
        if (!g.leader_id) {
            g.leader_id = m.member_id;
        }
        auto pending = g.pending_members.find(m.member_id);
        if (pending != g.pending_members.end()) {
            cancel(pending->second);
            g.pending_members.erase(pending);
        }
        std::string id = m.member_id;
        g.members.emplace(std::move(id), std::move(m));
    }

    // Removes a member or pending member, without rebalancing. A JoinGroup
    // or SyncGroup it still has waiting is answered UNKNOWN_MEMBER_ID (a
    // JoinGroup with no member id, so that the client may join again).
    void remove_member(group& g, const std::string& member_id) {
        auto it = g.members.find(member_id);
        if (it != g.members.end()) {
            member& m = it->second;
            complete_join(std::exchange(m.awaiting_join, nullptr),
                          join_error(group_error::unknown_member_id, ""));
            complete_sync(std::exchange(m.awaiting_sync, nullptr),
                          sync_error(group_error::unknown_member_id));
            cancel(m.heartbeat_timer);
            if (it->second.group_instance_id) {
                auto s = g.static_members.find(*it->second.group_instance_id);
                if (s != g.static_members.end() && s->second == member_id) {
                    g.static_members.erase(s);
                }
            }
            g.members.erase(it);
        }
        if (g.is_leader(member_id)) {
            auto ordered = g.in_join_order();
            g.leader_id = ordered.empty() ? std::nullopt
                                          : std::optional<std::string>(ordered.front()->member_id);
        }
        auto pending = g.pending_members.find(member_id);
        if (pending != g.pending_members.end()) {
            cancel(pending->second);
            g.pending_members.erase(pending);
        }
        g.pending_sync_members.erase(member_id);
    }

    void remove_member_and_update_group(group& g, const std::string& member_id) {
        remove_member(g, member_id);
        switch (g.state) {
            case group_state::stable:
            case group_state::completing_rebalance:
                maybe_prepare_rebalance(g);
                break;
            case group_state::preparing_rebalance:
                try_complete_join(g);
                break;
            case group_state::empty:
            case group_state::dead:
                break;
        }
    }

    void remove_pending_member(group& g, const std::string& member_id) {
        remove_member(g, member_id);
        try_complete_join(g);
    }

    void update_member(member& m, const join_group_request& r, join_group_callback cb) {
        m.protocols = r.protocols;
        m.rebalance_timeout = r.rebalance_timeout;
        m.session_timeout = r.session_timeout;
        m.client_id = r.client_id;
        m.client_host = r.client_host;
        if (m.awaiting_join && cb) {
            // A retried JoinGroup replaces the one still waiting.
            complete_join(std::exchange(m.awaiting_join, nullptr),
                          join_error(group_error::rebalance_in_progress, m.member_id));
        }
        m.awaiting_join = std::move(cb);
    }

    // Gives the member of a static instance a new member id; the old id's
    // waiting requests are fenced.
    member& replace_static_member(group& g, const std::string& instance_id,
                                  const std::string& old_id, const std::string& new_id) {
        auto node = g.members.extract(old_id);
        if (node.empty()) {
            abort_with("group " + g.group_id + ": static member " + old_id + " missing");
        }
        member& m = node.mapped();
        complete_join(std::exchange(m.awaiting_join, nullptr),
                      join_error(group_error::fenced_instance_id, old_id));
        complete_sync(std::exchange(m.awaiting_sync, nullptr),
                      sync_error(group_error::fenced_instance_id));
        cancel(m.heartbeat_timer);
        node.key() = new_id;
        m.member_id = new_id;
        g.members.insert(std::move(node));
        if (g.is_leader(old_id)) {
            g.leader_id = new_id;
        }
        g.static_members[instance_id] = new_id;
        if (g.pending_sync_members.erase(old_id) > 0) {
            g.pending_sync_members.insert(new_id);
        }
        return g.members.at(new_id);
    }

    group_error validate_current_member(group& g, const std::string& member_id,
                                        const std::optional<std::string>& instance_id) {
        if (instance_id && g.static_members.count(*instance_id) == 0) {
            return group_error::unknown_member_id;
        }
        if (is_static_member_fenced(g, instance_id, member_id)) {
            return group_error::fenced_instance_id;
        }
        if (!g.has(member_id)) {
            return group_error::unknown_member_id;
        }
        return group_error::none;
    }

    bool is_static_member_fenced(group& g, const std::optional<std::string>& instance_id,
                                 const std::string& member_id) {
        if (!instance_id) {
            return false;
        }
        auto it = g.static_members.find(*instance_id);
        return it != g.static_members.end() && it->second != member_id;
    }

    // ---- rebalance -------------------------------------------------------------

    void maybe_prepare_rebalance(group& g) {
        if (g.state == group_state::stable || g.state == group_state::completing_rebalance ||
            g.state == group_state::empty) {
            prepare_rebalance(g);
        }
    }

    void prepare_rebalance(group& g) {
        if (g.state == group_state::completing_rebalance) {
            reset_and_propagate_assignment_error(g, group_error::rebalance_in_progress);
        }
        cancel(g.sync_timer);
        cancel(g.join_timer);
        bool from_empty = g.state == group_state::empty;
        transition(g, group_state::preparing_rebalance);
        if (from_empty) {
            g.join_kind = join_timer_kind::initial;
            g.new_member_added = false;
            g.initial_delay = initial_round();
            g.initial_remaining =
                std::max(g.rebalance_timeout() - initial_round(), milliseconds(0));
            g.join_timer = schedule(timer_kind::join, g.group_id, "", 0, now + initial_round());
        } else {
            g.join_kind = join_timer_kind::rebalance;
            g.join_timer =
                schedule(timer_kind::join, g.group_id, "", 0, now + g.rebalance_timeout());
            try_complete_join(g);
        }
    }

    // One round of an Empty group's first rebalance (see group_config).
    milliseconds initial_round() const {
        return std::max(config.initial_rebalance_delay, config.min_initial_round);
    }

    // A rebalance (not an initial delay) completes as soon as every member
    // has rejoined and no member id handed out is still unused.
    void try_complete_join(group& g) {
        if (g.state == group_state::preparing_rebalance &&
            g.join_kind == join_timer_kind::rebalance && g.all_members_joined()) {
            complete_join_phase(g);
        }
    }

    void on_join_timer(group& g) {
        if (g.join_kind == join_timer_kind::initial && g.new_member_added &&
            g.initial_remaining.count() != 0) {
            // Members are still arriving: wait once more, within the
            // rebalance timeout in all.
            g.new_member_added = false;
            milliseconds delay = std::min(initial_round(), g.initial_remaining);
            milliseconds remaining =
                std::max(g.initial_remaining - g.initial_delay, milliseconds(0));
            g.initial_delay = delay;
            g.initial_remaining = remaining;
            g.join_timer = schedule(timer_kind::join, g.group_id, "", 0, now + delay);
            return;
        }
        complete_join_phase(g);
    }

    bool maybe_elect_new_joined_leader(group& g) {
        if (!g.leader_id) {
            return false;
        }
        member* leader = g.find(*g.leader_id);
        if (leader != nullptr && leader->awaiting_join_response()) {
            return true;
        }
        for (member* m : g.in_join_order()) {
            if (m->awaiting_join_response()) {
                g.leader_id = m->member_id;
                return true;
            }
        }
        return false;
    }

    void complete_join_phase(group& g) {
        cancel(g.join_timer);
        g.join_kind = join_timer_kind::none;
        // Dynamic members that did not rejoin are dropped; static ones stay
        // (their session timeout decides).
        std::vector<std::string> gone;
        for (auto& [id, m] : g.members) {
            if (!m.awaiting_join_response() && !m.group_instance_id) {
                gone.push_back(id);
            }
        }
        for (const auto& id : gone) {
            remove_member(g, id);
        }
        if (!maybe_elect_new_joined_leader(g) && !g.members.empty()) {
            // Nobody rejoined: wait another rebalance timeout, until session
            // timeouts have removed the silent static members.
            g.join_kind = join_timer_kind::rebalance;
            g.join_timer =
                schedule(timer_kind::join, g.group_id, "", 0, now + g.rebalance_timeout());
            return;
        }
        init_next_generation(g);
        if (g.state == group_state::empty) {
            queue_append({group_record(g, nullptr)}, nullptr);
            return;
        }
        for (member* m : g.in_join_order()) {
            complete_join(std::exchange(m->awaiting_join, nullptr),
                          current_generation_response(g, *m, g.is_leader(m->member_id)));
            schedule_heartbeat(g, *m);
            m->is_new = false;
            g.pending_sync_members.insert(m->member_id);
        }
        g.sync_timer = schedule(timer_kind::sync, g.group_id, "", g.generation_id,
                                now + g.rebalance_timeout());
    }

    void init_next_generation(group& g) {
        ++g.generation_id;
        if (!g.members.empty()) {
            g.protocol_name = select_protocol(g);
            g.subscribed_topics = compute_subscribed_topics(g);
            transition(g, group_state::completing_rebalance);
        } else {
            g.protocol_name.reset();
            g.subscribed_topics.reset();
            transition(g, group_state::empty);
        }
        g.pending_sync_members.clear();
    }

    // Members that did not send SyncGroup within the rebalance timeout are
    // removed, and the group rebalances without them.
    void on_sync_timeout(group& g, int32_t generation) {
        if (generation != g.generation_id ||
            (g.state != group_state::completing_rebalance && g.state != group_state::stable)) {
            return;
        }
        std::vector<std::string> silent(g.pending_sync_members.begin(),
                                        g.pending_sync_members.end());
        for (const auto& id : silent) {
            remove_member(g, id);
        }
        prepare_rebalance(g);
    }

    void remove_pending_sync_member(group& g, const std::string& member_id) {
        g.pending_sync_members.erase(member_id);
        if (g.pending_sync_members.empty()) {
            cancel(g.sync_timer);
        }
    }

    void reset_and_propagate_assignment_error(group& g, group_error e) {
        for (auto& [id, m] : g.members) {
            m.assignment.clear();
        }
        propagate_assignment(g, e);
    }

    void propagate_assignment(group& g, group_error e) {
        for (member* m : g.in_join_order()) {
            if (!m->awaiting_sync) {
                continue;
            }
            sync_group_response r;
            r.error = e;
            if (e == group_error::none) {
                r.protocol_type = g.protocol_type;
                r.protocol_name = g.protocol_name;
                r.assignment = m->assignment;
            }
            complete_sync(std::exchange(m->awaiting_sync, nullptr), std::move(r));
            schedule_heartbeat(g, *m);
        }
    }

    // ---- JoinGroup -------------------------------------------------------------

    bool accept_joining_member(group& g, const std::string& member_id) {
        switch (g.state) {
            case group_state::empty:
            case group_state::dead:
                return true;
            case group_state::preparing_rebalance: {
                member* m = g.find(member_id);
                return (m != nullptr && m->awaiting_join_response()) ||
                       g.awaiting_join_count() < config.max_group_size;
            }
            case group_state::completing_rebalance:
            case group_state::stable:
                return g.has(member_id) || g.members.size() < config.max_group_size;
        }
        return false;
    }

    // The strings of a join that a group metadata record would hold.
    static bool join_strings_fit(const join_group_request& r) {
        auto fits = [](const std::string& v) { return v.size() <= k_max_record_string; };
        return fits(r.client_id) && fits(r.client_host) && fits(r.protocol_type) &&
               (!r.group_instance_id || fits(*r.group_instance_id)) &&
               std::all_of(r.protocols.begin(), r.protocols.end(),
                           [&](const join_protocol& p) { return fits(p.name); });
    }

    void join_group(join_group_request r, join_group_callback cb) {
        if (r.group_id.empty() || r.group_id.size() > k_max_record_string) {
            return complete_join(std::move(cb),
                                 join_error(group_error::invalid_group_id, std::move(r.member_id)));
        }
        if (!join_strings_fit(r)) {
            return complete_join(std::move(cb),
                                 join_error(group_error::invalid_request, std::move(r.member_id)));
        }
        if (r.session_timeout < config.min_session_timeout ||
            r.session_timeout > config.max_session_timeout) {
            return complete_join(std::move(cb), join_error(group_error::invalid_session_timeout,
                                                           std::move(r.member_id)));
        }
        bool unknown = r.member_id.empty();
        group* g = find_group(r.group_id);
        if (g != nullptr && g->consumer) {
            if (!g->cg.members.empty()) {
                return complete_join(
                    std::move(cb),
                    join_error(group_error::inconsistent_group_protocol, std::move(r.member_id)));
            }
            convert_to_classic(*g);
        }
        if (g == nullptr) {
            if (!unknown) {
                return complete_join(std::move(cb), join_error(group_error::unknown_member_id,
                                                               std::move(r.member_id)));
            }
            g = &create_group(r.group_id);
        }
        // A restarted static member takes its old place rather than adding
        // one, so a full group still lets it back (Kafka counts it as new).
        std::string joining = r.member_id;
        if (unknown && r.group_instance_id) {
            auto existing = g->static_members.find(*r.group_instance_id);
            if (existing != g->static_members.end()) {
                joining = existing->second;
            }
        }
        if (!accept_joining_member(*g, joining)) {
            if (!unknown) {
                remove_member(*g, r.member_id);
            }
            complete_join(std::move(cb), join_error(group_error::group_max_size_reached, ""));
        } else if (unknown) {
            new_member_join(*g, r, std::move(cb));
        } else {
            current_member_join(*g, r, std::move(cb));
        }
        try_complete_join(*g);
    }

    void new_member_join(group& g, const join_group_request& r, join_group_callback cb) {
        if (!supports_protocols(g, r.protocol_type, r.protocols)) {
            return complete_join(std::move(cb),
                                 join_error(group_error::inconsistent_group_protocol, ""));
        }
        std::string new_id =
            ids(member_id_prefix(r.group_instance_id ? *r.group_instance_id : r.client_id));
        if (r.group_instance_id) {
            auto existing = g.static_members.find(*r.group_instance_id);
            if (existing != g.static_members.end()) {
                std::string old_id = existing->second;
                update_static_member_and_rebalance(g, old_id, new_id, r, std::move(cb));
            } else {
                add_member_and_rebalance(g, new_id, r, std::move(cb));
            }
        } else if (r.require_known_member_id) {
            // The member must come back with this id; until then it holds
            // the rebalance, for at most its session timeout.
            g.pending_members[new_id] = schedule(timer_kind::pending_member, g.group_id, new_id, 0,
                                                 now + r.session_timeout);
            complete_join(std::move(cb), join_error(group_error::member_id_required, new_id));
        } else {
            add_member_and_rebalance(g, new_id, r, std::move(cb));
        }
    }

    void current_member_join(group& g, const join_group_request& r, join_group_callback cb) {
        if (!supports_protocols(g, r.protocol_type, r.protocols)) {
            return complete_join(std::move(cb),
                                 join_error(group_error::inconsistent_group_protocol, r.member_id));
        }
        if (g.pending_members.count(r.member_id) > 0 && !r.group_instance_id) {
            return add_member_and_rebalance(g, r.member_id, r, std::move(cb));
        }
        bool instance_unknown =
            r.group_instance_id && g.static_members.count(*r.group_instance_id) == 0;
        if (is_static_member_fenced(g, r.group_instance_id, r.member_id)) {
            return complete_join(std::move(cb),
                                 join_error(group_error::fenced_instance_id, r.member_id));
        }
        member* m = g.find(r.member_id);
        if (m == nullptr || instance_unknown) {
            return complete_join(std::move(cb),
                                 join_error(group_error::unknown_member_id, r.member_id));
        }
        switch (g.state) {
            case group_state::preparing_rebalance:
                update_member(*m, r, std::move(cb));
                maybe_prepare_rebalance(g);
                return;
            case group_state::completing_rebalance:
                if (m->protocols == r.protocols) {
                    // It missed the JoinGroup answer: give it again.
                    return complete_join(std::move(cb), current_generation_response(
                                                            g, *m, g.is_leader(m->member_id)));
                }
                update_member(*m, r, std::move(cb));
                maybe_prepare_rebalance(g);
                return;
            case group_state::stable:
                if (g.is_leader(m->member_id) || m->protocols != r.protocols) {
                    // The leader rejoins to make the group rebalance (for
                    // changes the metadata does not show, like new partitions).
                    update_member(*m, r, std::move(cb));
                    maybe_prepare_rebalance(g);
                    return;
                }
                return complete_join(std::move(cb), current_generation_response(g, *m, false));
            case group_state::empty:
            case group_state::dead:
                return complete_join(std::move(cb),
                                     join_error(group_error::unknown_member_id, r.member_id));
        }
    }

    void add_member_and_rebalance(group& g, const std::string& member_id,
                                  const join_group_request& r, join_group_callback cb) {
        member m;
        m.member_id = member_id;
        m.group_instance_id = r.group_instance_id;
        m.client_id = r.client_id;
        m.client_host = r.client_host;
        m.session_timeout = r.session_timeout;
        m.rebalance_timeout = r.rebalance_timeout;
        m.protocol_type = r.protocol_type;
        m.protocols = r.protocols;
        m.awaiting_join = std::move(cb);
        m.is_new = true;
        m.join_order = g.next_join_order++;
        if (g.state == group_state::preparing_rebalance && g.generation_id == 0) {
            g.new_member_added = true;
        }
        add_member(g, std::move(m));
        schedule_heartbeat(g, g.members.at(member_id), config.new_member_join_timeout);
        maybe_prepare_rebalance(g);
    }

    // A static member rejoins without its member id (it restarted): it
    // takes over the old member's place under a new id. In a Stable group
    // whose protocol choice this does not change, there is no rebalance:
    // the new id is made durable and the member gets the current generation
    // (and, at SyncGroup, its current assignment).
    void update_static_member_and_rebalance(group& g, const std::string& old_id,
                                            const std::string& new_id, const join_group_request& r,
                                            join_group_callback cb) {
        const std::string& instance_id = *r.group_instance_id;
        std::optional<std::string> current_leader = g.leader_id;
        member& m = replace_static_member(g, instance_id, old_id, new_id);
        member before = m;  // for a revert (without callbacks)
        before.awaiting_join = nullptr;
        before.awaiting_sync = nullptr;
        update_member(m, r, std::move(cb));
        schedule_heartbeat(g, m);
        switch (g.state) {
            case group_state::stable: {
                if (g.protocol_name && select_protocol(g) == *g.protocol_name) {
                    uint64_t incarnation = g.incarnation;
                    int32_t generation = g.generation_id;
                    bool skip = r.supports_skip_assignment;
                    queue_append({group_record(g, nullptr)},
                                 [this, group_id = g.group_id, incarnation, generation, instance_id,
                                  old_id, new_id, before, current_leader, skip](status st) {
                                     on_static_member_stored(group_id, incarnation, generation,
                                                             instance_id, old_id, new_id, before,
                                                             current_leader, skip, st);
                                 });
                } else {
                    maybe_prepare_rebalance(g);
                }
                return;
            }
            case group_state::completing_rebalance:
                maybe_prepare_rebalance(g);
                return;
            case group_state::preparing_rebalance:
                return;
            case group_state::empty:
            case group_state::dead:
                abort_with("group " + g.group_id + ": static member in a group without members");
        }
    }

    void on_static_member_stored(const std::string& group_id, uint64_t incarnation,
                                 int32_t generation, const std::string& instance_id,
                                 const std::string& old_id, const std::string& new_id,
                                 const member& before,
                                 const std::optional<std::string>& current_leader, bool skip,
                                 const status& st) {
        group* g = find_group(group_id, incarnation);
        if (g == nullptr) {
            return;
        }
        member* m = g->find(new_id);
        // Answered already (removed, fenced again, or a rebalance began and
        // will answer it).
        if (m == nullptr || !m->awaiting_join_response() || g->state != group_state::stable ||
            g->generation_id != generation) {
            return;
        }
        if (!st) {
            // The new id is not durable: give the instance its old id back.
            join_group_callback cb = std::exchange(m->awaiting_join, nullptr);
            member& old = replace_static_member(*g, instance_id, new_id, old_id);
            old.protocols = before.protocols;
            old.rebalance_timeout = before.rebalance_timeout;
            old.session_timeout = before.session_timeout;
            old.client_id = before.client_id;
            old.client_host = before.client_host;
            schedule_heartbeat(*g, old);
            join_group_response r;
            r.error = group_log_error(st);
            r.generation_id = g->generation_id;
            r.protocol_type = g->protocol_type;
            r.protocol_name = g->protocol_name;
            r.leader_id = current_leader.value_or("");
            complete_join(std::move(cb), std::move(r));
            return;
        }
        join_group_response r;
        if (skip) {
            // v9+: the leader learns it leads, but must not reassign.
            bool leads = g->is_leader(new_id);
            r = current_generation_response(*g, *m, leads);
            r.skip_assignment = leads;
        } else {
            // Before v9, answer with the old leader id so that a restarted
            // leader does not think it leads and reassign for nothing.
            r = current_generation_response(*g, *m, false);
            r.leader_id = current_leader.value_or("");
        }
        complete_join(std::exchange(m->awaiting_join, nullptr), std::move(r));
    }

    // ---- SyncGroup -------------------------------------------------------------

    void sync_group(sync_group_request r, sync_group_callback cb) {
        if (r.group_id.empty()) {
            return complete_sync(std::move(cb), sync_error(group_error::invalid_group_id));
        }
        group* g = find_group(r.group_id);
        if (g == nullptr) {
            return complete_sync(std::move(cb), sync_error(group_error::unknown_member_id));
        }
        group_error e = validate_current_member(*g, r.member_id, r.group_instance_id);
        if (e == group_error::none && r.generation_id != g->generation_id) {
            e = group_error::illegal_generation;
        }
        if (e == group_error::none && r.protocol_type && g->protocol_type != r.protocol_type) {
            e = group_error::inconsistent_group_protocol;
        }
        if (e == group_error::none && r.protocol_name && g->protocol_name != r.protocol_name) {
            e = group_error::inconsistent_group_protocol;
        }
        if (e != group_error::none) {
            return complete_sync(std::move(cb), sync_error(e));
        }
        member& m = *g->find(r.member_id);
        switch (g->state) {
            case group_state::empty:
            case group_state::dead:
                return complete_sync(std::move(cb), sync_error(group_error::unknown_member_id));
            case group_state::preparing_rebalance:
                return complete_sync(std::move(cb), sync_error(group_error::rebalance_in_progress));
            case group_state::completing_rebalance: {
                if (m.awaiting_sync) {
                    complete_sync(std::exchange(m.awaiting_sync, nullptr),
                                  sync_error(group_error::rebalance_in_progress));
                }
                m.awaiting_sync = std::move(cb);
                remove_pending_sync_member(*g, r.member_id);
                if (g->is_leader(r.member_id)) {
                    leader_sync(*g, r);
                }
                return;
            }
            case group_state::stable: {
                remove_pending_sync_member(*g, r.member_id);
                sync_group_response out;
                out.protocol_type = g->protocol_type;
                out.protocol_name = g->protocol_name;
                out.assignment = m.assignment;
                complete_sync(std::move(cb), std::move(out));
                schedule_heartbeat(*g, m);
                return;
            }
        }
    }

    // The leader's assignments (members it left out get an empty one) are
    // made durable, then given to every member waiting, and the group is
    // Stable; if the group moved on meanwhile, they are dropped.
    void leader_sync(group& g, const sync_group_request& r) {
        std::map<std::string, byte_vector> assignments;
        for (const auto& [id, m] : g.members) {
            assignments[id] = {};
        }
        for (const auto& a : r.assignments) {
            auto it = assignments.find(a.member_id);
            if (it != assignments.end()) {
                it->second = a.assignment;
            }
        }
        log_record record = group_record(g, &assignments);
        queue_append({std::move(record)}, [this, group_id = g.group_id, incarnation = g.incarnation,
                                           generation = g.generation_id,
                                           assignments = std::move(assignments)](status st) {
            group* grp = find_group(group_id, incarnation);
            if (grp == nullptr || grp->state != group_state::completing_rebalance ||
                grp->generation_id != generation) {
                return;
            }
            if (!st) {
                reset_and_propagate_assignment_error(*grp, group_log_error(st));
                maybe_prepare_rebalance(*grp);
                return;
            }
            for (auto& [id, m] : grp->members) {
                auto it = assignments.find(id);
                m.assignment = it != assignments.end() ? it->second : byte_vector{};
            }
            propagate_assignment(*grp, group_error::none);
            transition(*grp, group_state::stable);
        });
    }

    // ---- Heartbeat, LeaveGroup -------------------------------------------------

    group_error heartbeat(const heartbeat_request& r) {
        if (r.group_id.empty()) {
            return group_error::invalid_group_id;
        }
        group* g = find_group(r.group_id);
        if (g == nullptr) {
            return group_error::unknown_member_id;
        }
        group_error e = validate_current_member(*g, r.member_id, r.group_instance_id);
        if (e != group_error::none) {
            return e;
        }
        if (r.generation_id != g->generation_id) {
            return group_error::illegal_generation;
        }
        member& m = *g->find(r.member_id);
        switch (g->state) {
            case group_state::empty:
            case group_state::dead:
                return group_error::unknown_member_id;
            case group_state::completing_rebalance:
            case group_state::stable:
                schedule_heartbeat(*g, m);
                return group_error::none;
            case group_state::preparing_rebalance:
                schedule_heartbeat(*g, m);
                return group_error::rebalance_in_progress;
        }
        return group_error::none;
    }

    leave_group_response leave_group(const leave_group_request& r) {
        leave_group_response out;
        if (r.group_id.empty()) {
            out.error = group_error::invalid_group_id;
            return out;
        }
        group* g = find_group(r.group_id);
        for (const auto& lm : r.members) {
            leave_group_member_result result{lm.member_id, lm.group_instance_id, group_error::none};
            if (g == nullptr) {
                result.error = group_error::unknown_member_id;
            } else if (lm.member_id.empty()) {
                // Administrative removal of a static member by instance id.
                auto it = lm.group_instance_id ? g->static_members.find(*lm.group_instance_id)
                                               : g->static_members.end();
                if (it == g->static_members.end()) {
                    result.error = group_error::unknown_member_id;
                } else {
                    std::string id = it->second;
                    remove_member_and_update_group(*g, id);
                }
            } else if (g->pending_members.count(lm.member_id) > 0) {
                remove_pending_member(*g, lm.member_id);
            } else {
                result.error = validate_current_member(*g, lm.member_id, lm.group_instance_id);
                if (result.error == group_error::none) {
                    remove_member_and_update_group(*g, lm.member_id);
                }
            }
            out.members.push_back(std::move(result));
        }
        return out;
    }

    // ---- offsets -----------------------------------------------------------------

    group_error validate_offset_commit(group& g, const offset_commit_request& r) {
        if (r.generation_id >= 0 || !r.member_id.empty() || r.group_instance_id) {
            group_error e = validate_current_member(g, r.member_id, r.group_instance_id);
            if (e != group_error::none) {
                return e;
            }
            return r.generation_id == g.generation_id ? group_error::none
                                                      : group_error::illegal_generation;
        }
        // Without generation and member id, only when nobody is a member.
        return g.state == group_state::empty ? group_error::none : group_error::unknown_member_id;
    }

    void commit_offsets(offset_commit_request r, offset_commit_callback cb) {
        auto all = [&](group_error e) {
            std::vector<partition_result> out;
            for (const auto& p : r.partitions) {
                out.push_back({p.partition, e});
            }
            complete(std::move(cb), std::move(out));
        };
        if (r.group_id.size() > k_max_record_string) {
            return all(group_error::invalid_group_id);
        }
        group* g = find_group(r.group_id);
        if (g == nullptr) {
            if (r.generation_id >= 0) {
                // v9+ (usable by consumer group members) says the group is
                // gone; older versions that the generation is stale.
                return all(r.api_version && *r.api_version >= 9 ? group_error::group_id_not_found
                                                                : group_error::illegal_generation);
            }
            g = &create_group(r.group_id);  // a group that only stores offsets
        }
        if (g->consumer) {
            std::vector<group_error> errors;
            group_error ce = validate_consumer_offset_commit(*g, r, errors);
            if (ce != group_error::none) {
                return all(ce);
            }
            return store_offsets(*g, std::move(r), std::move(cb), std::move(errors));
        }
        group_error e = validate_offset_commit(*g, r);
        if (e != group_error::none) {
            return all(e);
        }
        switch (g->state) {
            case group_state::empty:
                break;
            case group_state::stable:
            case group_state::preparing_rebalance:
                // Commits count as heartbeats; during a rebalance the next
                // heartbeat tells the member to rejoin.
                schedule_heartbeat(*g, *g->find(r.member_id));
                break;
            case group_state::completing_rebalance:
                return all(group_error::rebalance_in_progress);
            case group_state::dead:
                return all(group_error::coordinator_not_available);
        }
        store_offsets(*g, std::move(r), std::move(cb));
    }

    // `errors`, when not empty, has one entry per partition: those set are
    // answered as they are and not stored.
    void store_offsets(group& g, offset_commit_request r, offset_commit_callback cb,
                       std::vector<group_error> errors = {}) {
        std::vector<partition_result> results;
        std::vector<log_record> records;
        std::vector<std::pair<topic_partition, committed_offset>> values;
        for (size_t i = 0; i < r.partitions.size(); ++i) {
            const auto& p = r.partitions[i];
            results.push_back({p.partition, group_error::none});
            if (i < errors.size() && errors[i] != group_error::none) {
                results.back().error = errors[i];
                continue;
            }
            if (p.metadata.size() >
                std::min(config.offset_metadata_max_bytes, k_max_record_string)) {
                results.back().error = group_error::offset_metadata_too_large;
                continue;
            }
            committed_offset c;
            c.offset = p.offset;
            c.leader_epoch = p.leader_epoch;
            c.metadata = p.metadata;
            c.commit_timestamp = now;
            c.expire_timestamp = p.expire_timestamp;
            group_records::offset_commit_value v;
            v.offset = c.offset;
            v.leader_epoch = c.leader_epoch;
            v.metadata = c.metadata;
            v.commit_timestamp_ms = to_ms(c.commit_timestamp);
            if (c.expire_timestamp) {
                v.expire_timestamp_ms = to_ms(*c.expire_timestamp);
            }
            records.push_back({group_records::encode_key(group_records::offset_commit_key{
                                   g.group_id, p.partition.topic, p.partition.partition}),
                               group_records::encode_value(v)});
            values.emplace_back(p.partition, std::move(c));
        }
        if (values.empty()) {
            return complete(std::move(cb), std::move(results));
        }
        for (const auto& [tp, c] : values) {
            ++g.pending_commits[tp].in_flight;
        }
        // The sequence is known only once queued: the callback reads it from
        // a shared slot.
        auto seq_slot = std::make_shared<uint64_t>(0);
        *seq_slot = queue_append(
            std::move(records), [this, group_id = g.group_id, incarnation = g.incarnation, seq_slot,
                                 values = std::move(values), results = std::move(results),
                                 cb = std::move(cb)](status st) mutable {
                uint64_t seq = *seq_slot;
                if (group* grp = find_group(group_id, incarnation)) {
                    for (auto& [tp, c] : values) {
                        auto pc = grp->pending_commits.find(tp);
                        uint64_t fence = pc != grp->pending_commits.end() ? pc->second.fence : 0;
                        if (st && seq > fence) {
                            auto existing = grp->offsets.find(tp);
                            if (existing == grp->offsets.end() || existing->second.log_seq < seq) {
                                c.log_seq = seq;
                                grp->offsets[tp] = c;
                            }
                        }
                        if (pc != grp->pending_commits.end() && --pc->second.in_flight == 0) {
                            grp->pending_commits.erase(pc);
                        }
                    }
                }
                group_error e = st ? group_error::none : commit_log_error(st);
                for (auto& res : results) {
                    if (res.error == group_error::none) {
                        res.error = e;
                    }
                }
                complete(std::move(cb), std::move(results));
            });
    }

    offset_fetch_response fetch_offsets(std::string_view group_id,
                                        const std::optional<std::vector<topic_partition>>& tps,
                                        const offset_fetch_member& member) {
        offset_fetch_response out;
        group* g = find_group(group_id);
        if (g != nullptr && g->consumer) {
            out.error = validate_consumer_offset_fetch(*g, member);
            if (out.error != group_error::none) {
                return out;
            }
        }
        auto fetched = [](const topic_partition& tp, const committed_offset& c) {
            return fetched_offset{tp, c.offset, c.leader_epoch, c.metadata, group_error::none};
        };
        if (!tps) {
            if (g != nullptr) {
                for (const auto& [tp, c] : g->offsets) {
                    out.partitions.push_back(fetched(tp, c));
                }
            }
            return out;
        }
        for (const auto& tp : *tps) {
            const committed_offset* c = nullptr;
            if (g != nullptr) {
                auto it = g->offsets.find(tp);
                c = it != g->offsets.end() ? &it->second : nullptr;
            }
            out.partitions.push_back(
                c != nullptr ? fetched(tp, *c) : fetched_offset{tp, -1, -1, "", group_error::none});
        }
        return out;
    }

    // Removes offsets and queues their tombstones; a commit of one of them
    // still in flight is fenced by the tombstones' sequence, so that it
    // cannot bring the offset back when it completes. An Empty group left
    // without offsets stays until the retention check removes it (Kafka's
    // periodic cleanup), so DeleteGroups right after still finds it. `done`
    // gets the append's outcome; it is called at once with ok() if nothing
    // needed writing.
    void remove_offsets(group& g, const std::vector<topic_partition>& tps,
                        std::function<void(status)> done) {
        std::vector<log_record> records;
        uint64_t seq = next_append_seq;  // the sequence queue_append() will give
        for (const auto& tp : tps) {
            bool erased = g.offsets.erase(tp) > 0;
            auto pc = g.pending_commits.find(tp);
            if (pc != g.pending_commits.end()) {
                pc->second.fence = seq;
            }
            if (erased || pc != g.pending_commits.end()) {
                records.push_back(offset_tombstone(g.group_id, tp));
            }
        }
        if (records.empty()) {
            return done(ok());
        }
        uint64_t queued = queue_append(std::move(records), std::move(done));
        if (queued != seq) {
            abort_with("remove_offsets: append sequence moved");
        }
    }

    void delete_offsets(std::string group_id, std::vector<topic_partition> tps,
                        offset_delete_callback cb) {
        offset_delete_response out;
        if (group_id.empty()) {
            out.error = group_error::invalid_group_id;
            return complete(std::move(cb), std::move(out));
        }
        group* g = find_group(group_id);
        if (g == nullptr) {
            out.error = group_error::group_id_not_found;
            return complete(std::move(cb), std::move(out));
        }
        std::vector<topic_partition> eligible;
        switch (g->state) {
            case group_state::empty:
                eligible = tps;
                break;
            case group_state::preparing_rebalance:
            case group_state::completing_rebalance:
            case group_state::stable:
                if (g->protocol_type == k_consumer_protocol_type) {
                    for (const auto& tp : tps) {
                        if (!g->subscribed_to(tp.topic)) {
                            eligible.push_back(tp);
                        }
                    }
                    break;
                }
                out.error = group_error::non_empty_group;
                return complete(std::move(cb), std::move(out));
            case group_state::dead:
                out.error = group_error::group_id_not_found;
                return complete(std::move(cb), std::move(out));
        }
        for (const auto& tp : tps) {
            bool ok = std::find(eligible.begin(), eligible.end(), tp) != eligible.end();
            out.partitions.push_back(
                {tp, ok ? group_error::none : group_error::group_subscribed_to_topic});
        }
        if (eligible.empty()) {
            return complete(std::move(cb), std::move(out));
        }
        remove_offsets(*g, eligible,
                       [this, out = std::move(out), cb = std::move(cb)](status st) mutable {
                           if (!st) {
                               for (auto& p : out.partitions) {
                                   if (p.error == group_error::none) {
                                       p.error = group_log_error(st);
                                   }
                               }
                           }
                           complete(std::move(cb), std::move(out));
                       });
    }

    void delete_groups(std::vector<std::string> ids_to_delete, delete_groups_callback cb) {
        std::vector<delete_group_result> results;
        std::vector<log_record> records;
        std::set<std::string> seen;
        for (auto& id : ids_to_delete) {
            if (!seen.insert(id).second) {
                continue;
            }
            group* g = find_group(id);
            if (g == nullptr) {
                results.push_back({id, group_error::group_id_not_found});
            } else if (g->state != group_state::empty) {
                results.push_back({id, group_error::non_empty_group});
            } else {
                // Offsets, and those of commits in flight (which are then
                // dropped: the group they complete for is gone).
                std::set<topic_partition> all;
                for (const auto& [tp, c] : g->offsets) {
                    all.insert(tp);
                }
                for (const auto& [tp, pc] : g->pending_commits) {
                    all.insert(tp);
                }
                for (const auto& tp : all) {
                    records.push_back(offset_tombstone(id, tp));
                }
                append_group_tombstones(records, *g);
                erase_group(*g);
                results.push_back({id, group_error::none});
            }
        }
        if (records.empty()) {
            return complete(std::move(cb), std::move(results));
        }
        queue_append(std::move(records),
                     [this, results = std::move(results), cb = std::move(cb)](status st) mutable {
                         if (!st) {
                             for (auto& res : results) {
                                 if (res.error == group_error::none) {
                                     res.error = group_log_error(st);
                                 }
                             }
                         }
                         complete(std::move(cb), std::move(results));
                     });
    }

    // Offsets retention (Kafka's rules):
    //   Empty group with a protocol type: all offsets, retention counted from
    //     when the group became Empty (else from each commit);
    //   Stable consumer group with known subscriptions: offsets of topics no
    //     member subscribes to, counted from each commit;
    //   group without protocol type (offsets only): counted from each commit;
    //   a commit with its own expiry expires then instead.
    // Offsets with a commit in flight stay. An Empty group left without
    // offsets is deleted.
    void expire_offsets() {
        std::vector<log_record> records;
        std::vector<std::string> group_ids;
        for (const auto& [id, g] : groups) {
            group_ids.push_back(id);
        }
        for (const auto& id : group_ids) {
            group& g = groups.at(id);
            bool from_state = false;
            bool skip_subscribed = false;
            if (g.consumer) {
                // Kafka's rule for consumer groups: from each commit, and
                // only topics no member subscribes to.
                skip_subscribed = !g.cg.members.empty();
            } else if (g.protocol_type && g.state == group_state::empty) {
                from_state = true;
            } else if (g.protocol_type == k_consumer_protocol_type && g.subscribed_topics &&
                       g.state == group_state::stable) {
                skip_subscribed = true;
            } else if (g.protocol_type) {
                continue;
            }
            std::vector<topic_partition> expired;
            for (const auto& [tp, c] : g.offsets) {
                if (g.pending_commits.count(tp) > 0 ||
                    (skip_subscribed && g.subscribed_to(tp.topic))) {
                    continue;
                }
                bool due;
                if (c.expire_timestamp) {
                    due = now >= *c.expire_timestamp;
                } else {
                    time_point base =
                        from_state && g.state_timestamp ? *g.state_timestamp : c.commit_timestamp;
                    // Replayed timestamps are whatever the log holds: an
                    // elapsed time too large for 64 bits is simply due.
                    int64_t elapsed = 0;
                    due = __builtin_sub_overflow(now.time_since_epoch().count(),
                                                 base.time_since_epoch().count(), &elapsed)
                              ? base < now
                              : time_point::duration(elapsed) >= config.offsets_retention;
                }
                if (due) {
                    expired.push_back(tp);
                }
            }
            for (const auto& tp : expired) {
                g.offsets.erase(tp);
                records.push_back(offset_tombstone(id, tp));
            }
            if (g.state == group_state::empty && !g.has_offsets()) {
                append_group_tombstones(records, g);
                erase_group(g);
            }
        }
        if (!records.empty()) {
            queue_append(std::move(records), nullptr);
        }
    }

    // ---- consumer groups (KIP-848) -------------------------------------------------
    //
    // A heartbeat: validate; find or create the group and the member; apply
    // the member's changes (a new or changed subscription bumps the group
    // epoch, and so does a change in the subscribed topics' metadata);
    // recompute the target assignment when the group epoch is ahead of it;
    // move the member one reconciliation step towards its target; write what
    // changed and answer when it is durable.

    static std::string_view consumer_group_state_name(const group& g) {
        const consumer_group_state& cg = g.cg;
        if (cg.members.empty()) {
            return "Empty";
        }
        if (cg.group_epoch > cg.assignment_epoch) {
            return "Assigning";
        }
        for (const auto& [id, m] : cg.members) {
            if (m.assignment.state != member_state::stable ||
                m.assignment.member_epoch != cg.assignment_epoch) {
                return "Reconciling";
            }
        }
        return "Stable";
    }

    // The classic fields the shared offset code reads.
    static void update_consumer_summary(group& g) {
        g.protocol_type = std::string(k_consumer_protocol_type);
        g.state = g.cg.members.empty() ? group_state::empty : group_state::stable;
        std::set<std::string, std::less<>> topics;
        for (const auto& [id, m] : g.cg.members) {
            topics.insert(m.topic_names.begin(), m.topic_names.end());
            if (m.topic_regex) {
                auto r = g.cg.regexes.find(*m.topic_regex);
                if (r != g.cg.regexes.end()) {
                    topics.insert(r->second.topics.begin(), r->second.topics.end());
                }
            }
        }
        g.subscribed_topics = std::move(topics);
    }

    void reset_consumer_state(group& g) {
        for (auto& [id, m] : g.cg.members) {
            cancel(m.session_timer);
            cancel(m.rebalance_timer);
        }
        g.cg = consumer_group_state{};
        g.consumer = false;
        g.protocol_type.reset();
        g.subscribed_topics.reset();
        g.state = group_state::empty;
    }

    // An empty consumer group taken over by a JoinGroup: its records are
    // deleted, its offsets stay.
    void convert_to_classic(group& g) {
        std::vector<log_record> records;
        append_group_tombstones(records, g);
        reset_consumer_state(g);
        g.state_timestamp = now;
        queue_append(std::move(records), nullptr);
    }

    // An empty classic group (or one that only stores offsets) taken over by
    // a consumer group heartbeat.
    void convert_to_consumer(group& g) {
        if (g.has_metadata_record) {
            queue_append({group_tombstone(g.group_id)}, nullptr);
        }
        clear_membership(g, group_error::coordinator_not_available);
        g.has_metadata_record = false;
        g.generation_id = 0;
        g.protocol_name.reset();
        g.consumer = true;
        g.cg = consumer_group_state{};
        update_consumer_summary(g);
    }

    static consumer_heartbeat_response heartbeat_error(group_error e, std::string message = {}) {
        consumer_heartbeat_response r;
        r.error = e;
        if (!message.empty()) {
            r.error_message = std::move(message);
        }
        return r;
    }

    static std::optional<partition_assignment> to_assignment(
        const std::optional<std::vector<consumer_topic_partitions>>& tps) {
        if (!tps) {
            return std::nullopt;
        }
        partition_assignment out;
        for (const auto& tp : *tps) {
            out[tp.topic_id].insert(tp.partitions.begin(), tp.partitions.end());
        }
        return out;
    }

    std::vector<consumer_topic_partitions> to_wire(const group& g,
                                                   const partition_assignment& a) const {
        std::vector<consumer_topic_partitions> out;
        for (const auto& [id, ps] : a) {
            if (ps.empty()) {
                continue;
            }
            consumer_topic_partitions tp;
            tp.topic_id = id;
            for (const auto& [name, md] : g.cg.subscription_metadata) {
                if (md.id == id) {
                    tp.topic_name = name;
                    break;
                }
            }
            tp.partitions.assign(ps.begin(), ps.end());
            out.push_back(std::move(tp));
        }
        return out;
    }

    // Kafka's checks of a heartbeat that need no group state.
    std::pair<group_error, std::string> validate_consumer_heartbeat(
        const consumer_heartbeat_request& r) const {
        auto invalid = [](std::string m) {
            return std::pair{group_error::invalid_request, std::move(m)};
        };
        // Keys hold these as int16-length strings.
        constexpr size_t max_key_string = static_cast<size_t>(std::numeric_limits<int16_t>::max());
        if (r.group_id.empty()) {
            return invalid("GroupId can't be empty.");
        }
        if ((r.api_version >= 1 || r.member_epoch > 0 || r.member_epoch == -1) &&
            r.member_id.empty()) {
            return invalid("MemberId can't be empty.");
        }
        if (r.group_id.size() > max_key_string || r.member_id.size() > max_key_string) {
            return invalid("GroupId or MemberId is too long.");
        }
        if (r.instance_id && r.instance_id->empty()) {
            return invalid("InstanceId can't be empty.");
        }
        if (r.rack_id && r.rack_id->empty()) {
            return invalid("RackId can't be empty.");
        }
        if (r.member_epoch == 0) {
            if (r.rebalance_timeout_ms == -1) {
                return invalid("RebalanceTimeoutMs must be provided in first request.");
            }
            if (!r.topic_partitions || !r.topic_partitions->empty()) {
                return invalid("TopicPartitions must be empty when (re-)joining.");
            }
            if (!r.subscribed_topic_names && !r.subscribed_topic_regex) {
                return invalid(
                    "Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when "
                    "(re-)joining.");
            }
        } else if (r.member_epoch == -2) {
            if (!r.instance_id) {
                return invalid("InstanceId can't be null.");
            }
        } else if (r.member_epoch < -2) {
            return invalid("MemberEpoch is invalid.");
        }
        if (r.rebalance_timeout_ms < -1) {
            return invalid("RebalanceTimeoutMs is invalid.");
        }
        if (r.server_assignor &&
            std::find(config.consumer_assignors.begin(), config.consumer_assignors.end(),
                      *r.server_assignor) == config.consumer_assignors.end()) {
            return {group_error::unsupported_assignor,
                    "ServerAssignor " + *r.server_assignor + " is not supported."};
        }
        if (r.subscribed_topic_regex && !r.subscribed_topic_regex->empty()) {
            RE2 re(*r.subscribed_topic_regex, RE2::Quiet);
            if (!re.ok()) {
                return {group_error::invalid_regular_expression,
                        "SubscribedTopicRegex `" + *r.subscribed_topic_regex +
                            "` is not a valid regular expression: " + re.error() + "."};
            }
        }
        return {group_error::none, {}};
    }

    void consumer_group_heartbeat(consumer_heartbeat_request r, consumer_heartbeat_callback cb) {
        auto [e, message] = validate_consumer_heartbeat(r);
        if (e != group_error::none) {
            return complete(std::move(cb), heartbeat_error(e, std::move(message)));
        }
        if (r.member_epoch == -1 || r.member_epoch == -2) {
            return consumer_leave(r, std::move(cb));
        }
        group* g = find_group(r.group_id);
        if (g == nullptr || !g->consumer) {
            if (r.member_epoch != 0) {
                return complete(std::move(cb),
                                heartbeat_error(group_error::group_id_not_found,
                                                "Group " + r.group_id + " not found."));
            }
            if (g != nullptr && !(g->state == group_state::empty && g->members.empty() &&
                                  g->pending_members.empty())) {
                return complete(std::move(cb), heartbeat_error(group_error::group_id_not_found,
                                                               "Group " + r.group_id +
                                                                   " is not a consumer group."));
            }
            if (config.consumer_max_group_size == 0) {
                return complete(std::move(cb),
                                heartbeat_error(group_error::group_max_size_reached));
            }
            g = g != nullptr ? g : &create_group(r.group_id);
            convert_to_consumer(*g);
        }
        consumer_group_state& cg = g->cg;
        if (cg.members.size() >= config.consumer_max_group_size &&
            (r.member_id.empty() || cg.members.count(r.member_id) == 0)) {
            return complete(std::move(cb), heartbeat_error(group_error::group_max_size_reached));
        }
        consumer_changes changes;
        auto owned = to_assignment(r.topic_partitions);

        // The member: new, existing, or a static member taking over.
        std::string member_id = r.member_id;
        if (member_id.empty()) {
            member_id = ids(member_id_prefix(r.instance_id ? *r.instance_id : r.client_id));
        }
        consumer_member* existing = nullptr;
        std::optional<consumer_member> replaced;  // a static member's previous incarnation
        if (r.instance_id) {
            auto s = cg.static_members.find(*r.instance_id);
            if (r.member_epoch == 0) {
                if (s != cg.static_members.end() && s->second != member_id) {
                    consumer_member& old = cg.members.at(s->second);
                    if (old.assignment.member_epoch != -2) {
                        return complete(
                            std::move(cb),
                            heartbeat_error(group_error::unreleased_instance_id,
                                            "Instance id " + *r.instance_id + " is in use by " +
                                                old.member_id + "."));
                    }
                    replaced = old;
                } else if (s != cg.static_members.end()) {
                    existing = &cg.members.at(s->second);
                }
            } else {
                if (s == cg.static_members.end()) {
                    return complete(std::move(cb), heartbeat_error(group_error::unknown_member_id,
                                                                   "Instance id " + *r.instance_id +
                                                                       " is unknown."));
                }
                if (s->second != member_id) {
                    return complete(std::move(cb),
                                    heartbeat_error(group_error::fenced_instance_id,
                                                    "Static member " + member_id +
                                                        " was fenced by " + s->second + "."));
                }
                existing = &cg.members.at(s->second);
            }
        }
        if (existing == nullptr && !replaced) {
            auto it = cg.members.find(member_id);
            if (it != cg.members.end()) {
                existing = &it->second;
            } else if (r.member_epoch != 0) {
                return complete(std::move(cb),
                                heartbeat_error(group_error::unknown_member_id,
                                                "Member " + member_id + " is not in group " +
                                                    r.group_id + "."));
            }
        }
        if (existing != nullptr && r.member_epoch != 0) {
            const member_assignment_state& a = existing->assignment;
            bool fenced = r.member_epoch > a.member_epoch;
            if (r.member_epoch < a.member_epoch) {
                // The answer that gave the new epoch may have been lost: the
                // previous epoch is accepted while the member owns no more
                // than it is assigned.
                fenced = r.member_epoch != a.previous_member_epoch || !owned ||
                         !is_subset(*owned, a.assigned);
            }
            if (fenced) {
                return complete(std::move(cb), heartbeat_error(group_error::fenced_member_epoch,
                                                               "The member epoch " +
                                                                   std::to_string(r.member_epoch) +
                                                                   " is not the current one (" +
                                                                   std::to_string(a.member_epoch) +
                                                                   "). The member must rejoin."));
            }
        }

        bool is_new = existing == nullptr;
        consumer_member updated;
        if (existing != nullptr) {
            updated = *existing;
        } else if (replaced) {
            // The new incarnation inherits the old one's assignment and
            // epoch; the old one's records are deleted.
            updated = *replaced;
            updated.session_timer = 0;
            updated.rebalance_timer = 0;
            partition_assignment inherited;
            if (auto t = cg.target.find(replaced->member_id); t != cg.target.end()) {
                inherited = t->second;
            }
            remove_consumer_member(*g, replaced->member_id, changes, false);
            updated.member_id = member_id;
            updated.assignment.member_epoch = std::max(updated.assignment.previous_member_epoch, 0);
            cg.target[member_id] = std::move(inherited);
            changes.targets.insert(member_id);
        } else {
            updated.member_id = member_id;
        }
        if (existing != nullptr && r.member_epoch == 0) {
            // A known member joining again has lost its partitions (it
            // sends none): it starts over, and they are free.
            updated.assignment = member_assignment_state{};
            updated.assigned_epochs.clear();
        }
        bool subscription_changed = is_new && !replaced;
        if (r.instance_id) {
            updated.instance_id = r.instance_id;
        }
        if (r.rack_id) {
            updated.rack_id = r.rack_id;
        }
        if (r.rebalance_timeout_ms != -1) {
            updated.rebalance_timeout_ms = r.rebalance_timeout_ms;
        }
        if (r.server_assignor && updated.server_assignor != r.server_assignor) {
            updated.server_assignor = r.server_assignor;
            subscription_changed = true;
        }
        if (r.subscribed_topic_names) {
            std::vector<std::string> names = *r.subscribed_topic_names;
            std::sort(names.begin(), names.end());
            names.erase(std::unique(names.begin(), names.end()), names.end());
            if (names != updated.topic_names) {
                updated.topic_names = std::move(names);
                subscription_changed = true;
            }
        }
        if (r.subscribed_topic_regex) {
            std::optional<std::string> regex;
            if (!r.subscribed_topic_regex->empty()) {
                regex = r.subscribed_topic_regex;
            }
            if (regex != updated.topic_regex) {
                updated.topic_regex = std::move(regex);
                subscription_changed = true;
            }
        }
        updated.client_id = r.client_id;
        updated.client_host = r.client_host;
        if (is_new || replaced || !same_member_metadata(*existing, updated)) {
            changes.member_metadata.insert(member_id);
        }

        // Store the member; from here on the request cannot fail.
        consumer_member& m = cg.members[member_id];
        uint64_t session_timer = m.session_timer;
        uint64_t rebalance_timer = m.rebalance_timer;
        partition_assignment assigned_before = m.assignment.assigned;
        m = std::move(updated);
        m.session_timer = session_timer;
        m.rebalance_timer = rebalance_timer;
        if (m.instance_id) {
            cg.static_members[*m.instance_id] = member_id;
        }
        cg.unwritten_removals.erase(member_id);
        if (existing != nullptr && r.member_epoch == 0) {
            changes.current.insert(member_id);
        }

        bool bump = cg.group_epoch == 0 || subscription_changed;
        if (refresh_subscription_metadata(*g, changes)) {
            bump = true;
        }
        if (bump) {
            ++cg.group_epoch;
            changes.group_epoch = true;
        }
        if (cg.group_epoch > cg.assignment_epoch) {
            compute_target_assignment(*g, changes);
        }
        reconcile_member(*g, m, owned, changes);
        schedule_consumer_session(*g, m);
        update_consumer_summary(*g);

        consumer_heartbeat_response out;
        out.member_id = member_id;
        out.member_epoch = m.assignment.member_epoch;
        out.heartbeat_interval_ms = clamp_ms(config.consumer_heartbeat_interval);
        bool full_request = r.member_epoch == 0 ||
                            (r.rebalance_timeout_ms != -1 && r.subscribed_topic_names && owned);
        if (full_request || m.assignment.assigned != assigned_before) {
            out.assignment = to_wire(*g, m.assignment.assigned);
        }
        answer_when_durable(*g, changes, std::move(cb), std::move(out));
    }

    static bool same_member_metadata(const consumer_member& a, const consumer_member& b) {
        return a.instance_id == b.instance_id && a.rack_id == b.rack_id &&
               a.client_id == b.client_id && a.client_host == b.client_host &&
               a.topic_names == b.topic_names && a.topic_regex == b.topic_regex &&
               a.server_assignor == b.server_assignor &&
               a.rebalance_timeout_ms == b.rebalance_timeout_ms;
    }

    // Writes the changes (if any) and answers `cb` once they, and every
    // earlier write of the group, are durable.
    void answer_when_durable(group& g, consumer_changes& changes, consumer_heartbeat_callback cb,
                             consumer_heartbeat_response out) {
        auto answer = [this, cb = std::move(cb), out = std::move(out)](status st) mutable {
            if (!st) {
                out = heartbeat_error(group_log_error(st));
            }
            complete(std::move(cb), std::move(out));
        };
        if (changes.any() || g.cg.dirty) {
            write_consumer_changes(g, changes, std::move(answer));
            return;
        }
        auto& last = g.cg.last_write;
        if (last && !last->done) {
            last->waiters.push_back(std::move(answer));
        } else {
            answer(ok());
        }
    }

    void write_consumer_changes(group& g, const consumer_changes& c,
                                std::function<void(status)> done) {
        consumer_group_state& cg = g.cg;
        std::vector<log_record> records;
        const std::string& gid = g.group_id;
        std::set<std::string> removed = c.removed;
        if (cg.dirty) {
            removed.insert(cg.unwritten_removals.begin(), cg.unwritten_removals.end());
        }
        for (const auto& id : removed) {
            if (cg.members.count(id) == 0) {
                append_member_tombstones(records, gid, id);
            }
        }
        bool full = cg.dirty;
        auto member_metadata = full ? all_member_ids(g) : c.member_metadata;
        auto targets = full ? all_member_ids(g) : c.targets;
        auto current = full ? all_member_ids(g) : c.current;
        for (const auto& id : member_metadata) {
            if (auto it = cg.members.find(id); it != cg.members.end()) {
                records.push_back(member_metadata_record(gid, it->second));
            }
        }
        if (full || c.partition_metadata) {
            records.push_back(partition_metadata_record(g));
        }
        if (full || c.group_epoch) {
            records.push_back({group_records::encode_key(group_records::consumer_group_key{
                                   group_records::k_consumer_group_metadata_key, gid, ""}),
                               group_records::encode_value(
                                   group_records::consumer_group_metadata_value{cg.group_epoch})});
        }
        for (const auto& id : targets) {
            if (cg.members.count(id) == 0) {
                continue;
            }
            group_records::consumer_target_member_value v;
            auto t = cg.target.find(id);
            if (t != cg.target.end()) {
                v.partitions = t->second;
            }
            records.push_back({group_records::encode_key(group_records::consumer_group_key{
                                   group_records::k_consumer_target_member_key, gid, id}),
                               group_records::encode_value(v)});
        }
        if (full || c.target_epoch) {
            records.push_back(
                {group_records::encode_key(group_records::consumer_group_key{
                     group_records::k_consumer_target_metadata_key, gid, ""}),
                 group_records::encode_value(
                     group_records::consumer_target_metadata_value{cg.assignment_epoch})});
        }
        for (const auto& id : current) {
            if (auto it = cg.members.find(id); it != cg.members.end()) {
                records.push_back(current_assignment_record(gid, it->second));
            }
        }
        if (full) {
            cg.dirty = false;
        }
        auto barrier = std::make_shared<write_barrier>();
        cg.last_write = barrier;
        queue_append(std::move(records), [this, gid, incarnation = g.incarnation, barrier, removed,
                                          done = std::move(done)](status st) mutable {
            barrier->done = true;
            barrier->result = st;
            if (group* grp = find_group(gid, incarnation)) {
                if (!st) {
                    // The log may now miss these records: the next write
                    // rewrites the whole group.
                    grp->cg.dirty = true;
                    grp->cg.unwritten_removals.insert(removed.begin(), removed.end());
                } else if (grp->cg.last_write == barrier) {
                    grp->cg.last_write.reset();
                }
            }
            if (done) {
                done(st);
            }
            for (auto& w : barrier->waiters) {
                w(st);
            }
        });
    }

    static std::set<std::string> all_member_ids(const group& g) {
        std::set<std::string> out;
        for (const auto& [id, m] : g.cg.members) {
            out.insert(id);
        }
        return out;
    }

    static log_record member_metadata_record(const std::string& gid, const consumer_member& m) {
        group_records::consumer_member_metadata_value v;
        v.instance_id = m.instance_id;
        v.rack_id = m.rack_id;
        v.client_id = m.client_id;
        v.client_host = m.client_host;
        v.subscribed_topic_names = m.topic_names;
        v.subscribed_topic_regex = m.topic_regex;
        v.server_assignor = m.server_assignor;
        v.rebalance_timeout_ms = m.rebalance_timeout_ms;
        return {group_records::encode_key(group_records::consumer_group_key{
                    group_records::k_consumer_member_metadata_key, gid, m.member_id}),
                group_records::encode_value(v)};
    }

    static log_record partition_metadata_record(const group& g) {
        group_records::consumer_partition_metadata_value v;
        for (const auto& [name, md] : g.cg.subscription_metadata) {
            v.topics.push_back({md.id, name, md.partition_count});
        }
        return {group_records::encode_key(group_records::consumer_group_key{
                    group_records::k_consumer_partition_metadata_key, g.group_id, ""}),
                group_records::encode_value(v)};
    }

    static log_record current_assignment_record(const std::string& gid, const consumer_member& m) {
        group_records::consumer_current_assignment_value v;
        v.member_epoch = m.assignment.member_epoch;
        v.previous_member_epoch = m.assignment.previous_member_epoch;
        v.state = static_cast<int8_t>(m.assignment.state);
        v.assigned = m.assignment.assigned;
        v.pending_revocation = m.assignment.pending_revocation;
        v.assigned_epochs = m.assigned_epochs;
        return {group_records::encode_key(group_records::consumer_group_key{
                    group_records::k_consumer_current_assignment_key, gid, m.member_id}),
                group_records::encode_value(v)};
    }

    // The topics a member subscribes to (by name or through its regex).
    std::set<std::string> member_topics(const group& g, const consumer_member& m) const {
        std::set<std::string> out(m.topic_names.begin(), m.topic_names.end());
        if (m.topic_regex) {
            auto r = g.cg.regexes.find(*m.topic_regex);
            if (r != g.cg.regexes.end()) {
                out.insert(r->second.topics.begin(), r->second.topics.end());
            }
        }
        return out;
    }

    // Resolves the members' regexes (new ones at once, known ones once
    // their refresh interval passed), then looks up every subscribed topic.
    // Returns whether the metadata changed (the group epoch must be bumped).
    bool refresh_subscription_metadata(group& g, consumer_changes& changes) {
        consumer_group_state& cg = g.cg;
        std::set<std::string> regexes;
        for (const auto& [id, m] : cg.members) {
            if (m.topic_regex) {
                regexes.insert(*m.topic_regex);
            }
        }
        for (auto it = cg.regexes.begin(); it != cg.regexes.end();) {
            it = regexes.count(it->first) > 0 ? std::next(it) : cg.regexes.erase(it);
        }
        std::optional<std::vector<std::string>> all_topics;
        for (const auto& regex : regexes) {
            auto known = cg.regexes.find(regex);
            if (known != cg.regexes.end() &&
                now - known->second.resolved_at < config.consumer_regex_refresh_interval) {
                continue;
            }
            if (!all_topics) {
                all_topics = topic_source.list ? topic_source.list() : std::vector<std::string>{};
            }
            resolved_regex resolved;
            resolved.resolved_at = now;
            RE2 re(regex, RE2::Quiet);
            if (re.ok()) {
                for (const auto& t : *all_topics) {
                    if (RE2::FullMatch(t, re)) {
                        resolved.topics.insert(t);
                    }
                }
            }
            cg.regexes[regex] = std::move(resolved);
        }
        std::map<std::string, topic_metadata, std::less<>> metadata;
        for (const auto& [id, m] : cg.members) {
            for (const auto& name : member_topics(g, m)) {
                if (metadata.count(name) > 0 || !topic_source.lookup) {
                    continue;
                }
                auto md = topic_source.lookup(name);
                if (md && md->partition_count > 0) {
                    metadata[name] = *md;
                }
            }
        }
        auto same = [](const auto& a, const auto& b) {
            return a.size() == b.size() &&
                   std::equal(a.begin(), a.end(), b.begin(), [](const auto& x, const auto& y) {
                       return x.first == y.first && x.second.id == y.second.id &&
                              x.second.partition_count == y.second.partition_count;
                   });
        };
        if (same(metadata, cg.subscription_metadata)) {
            return false;
        }
        cg.subscription_metadata = std::move(metadata);
        changes.partition_metadata = true;
        return true;
    }

    // The members' most common server assignor, else the default.
    std::string choose_assignor(const group& g) const {
        std::map<std::string, size_t> votes;
        for (const auto& [id, m] : g.cg.members) {
            if (m.server_assignor) {
                ++votes[*m.server_assignor];
            }
        }
        std::string best = config.consumer_assignors.empty() ? std::string(k_uniform_assignor)
                                                             : config.consumer_assignors.front();
        size_t best_votes = 0;
        for (const auto& [name, n] : votes) {
            if (n > best_votes) {
                best = name;
                best_votes = n;
            }
        }
        return best;
    }

    void compute_target_assignment(group& g, consumer_changes& changes) {
        consumer_group_state& cg = g.cg;
        std::map<topic_id, int32_t> topic_counts;
        for (const auto& [name, md] : cg.subscription_metadata) {
            topic_counts[md.id] = md.partition_count;
        }
        std::vector<assignor_member> members;
        for (const auto& [id, m] : cg.members) {
            assignor_member am;
            am.member_id = id;
            for (const auto& name : member_topics(g, m)) {
                auto md = cg.subscription_metadata.find(name);
                if (md != cg.subscription_metadata.end()) {
                    am.subscribed.insert(md->second.id);
                }
            }
            auto t = cg.target.find(id);
            if (t != cg.target.end()) {
                am.current_target = t->second;
            }
            members.push_back(std::move(am));
        }
        cg.assignor = choose_assignor(g);
        auto result = compute_assignment(cg.assignor, members, topic_counts);
        for (auto& [id, a] : result) {
            for (auto it = a.begin(); it != a.end();) {
                it = it->second.empty() ? a.erase(it) : std::next(it);
            }
            auto& slot = cg.target[id];
            if (slot != a) {
                slot = std::move(a);
                changes.targets.insert(id);
            } else if (cg.members.count(id) > 0 && changes.member_metadata.count(id) > 0) {
                changes.targets.insert(id);  // a new member's (empty) target
            }
        }
        cg.assignment_epoch = cg.group_epoch;
        changes.target_epoch = true;
    }

    void reconcile_member(group& g, consumer_member& m,
                          const std::optional<partition_assignment>& owned,
                          consumer_changes& changes) {
        consumer_group_state& cg = g.cg;
        static const partition_assignment none;
        auto t = cg.target.find(m.member_id);
        const partition_assignment& target = t != cg.target.end() ? t->second : none;
        auto owned_elsewhere = [&](const topic_id& topic, int32_t partition) {
            for (const auto& [id, other] : cg.members) {
                if (id == m.member_id) {
                    continue;
                }
                for (const auto* a :
                     {&other.assignment.assigned, &other.assignment.pending_revocation}) {
                    auto it = a->find(topic);
                    if (it != a->end() && it->second.count(partition) > 0) {
                        return true;
                    }
                }
            }
            return false;
        };
        member_assignment_state next =
            reconcile(m.assignment, target, cg.assignment_epoch, owned, owned_elsewhere);
        if (next == m.assignment) {
            return;
        }
        bool was_revoking = m.assignment.state == member_state::unrevoked_partitions;
        // Partitions keep the epoch they were first assigned at.
        std::map<partition_key, int32_t> epochs;
        for (const auto& [topic, ps] : next.assigned) {
            for (int32_t p : ps) {
                auto old = m.assigned_epochs.find({topic, p});
                epochs[{topic, p}] =
                    old != m.assigned_epochs.end() ? old->second : next.member_epoch;
            }
        }
        m.assigned_epochs = std::move(epochs);
        m.assignment = std::move(next);
        changes.current.insert(m.member_id);
        if (m.assignment.state == member_state::unrevoked_partitions) {
            if (!was_revoking) {
                // The member has its rebalance timeout to give them up.
                cancel(m.rebalance_timer);
                m.rebalance_timer =
                    schedule(timer_kind::consumer_rebalance, g.group_id, m.member_id,
                             m.assignment.member_epoch,
                             now + milliseconds(std::max<int32_t>(m.rebalance_timeout_ms, 0)));
            }
        } else {
            cancel(m.rebalance_timer);
        }
    }

    void schedule_consumer_session(group& g, consumer_member& m) {
        cancel(m.session_timer);
        m.session_timer = schedule(timer_kind::consumer_session, g.group_id, m.member_id, 0,
                                   now + config.consumer_session_timeout);
    }

    // Removes a member: its records are deleted and, when `bump`, the group
    // epoch moves on (the others' target is recomputed at their next
    // heartbeat).
    void remove_consumer_member(group& g, const std::string& member_id, consumer_changes& changes,
                                bool bump = true) {
        consumer_group_state& cg = g.cg;
        auto it = cg.members.find(member_id);
        if (it == cg.members.end()) {
            return;
        }
        cancel(it->second.session_timer);
        cancel(it->second.rebalance_timer);
        if (it->second.instance_id) {
            auto s = cg.static_members.find(*it->second.instance_id);
            if (s != cg.static_members.end() && s->second == member_id) {
                cg.static_members.erase(s);
            }
        }
        cg.target.erase(member_id);
        cg.members.erase(it);
        changes.removed.insert(member_id);
        changes.member_metadata.erase(member_id);
        changes.targets.erase(member_id);
        changes.current.erase(member_id);
        if (bump) {
            refresh_subscription_metadata(g, changes);
            ++cg.group_epoch;
            changes.group_epoch = true;
        }
        update_consumer_summary(g);
    }

    void consumer_leave(const consumer_heartbeat_request& r, consumer_heartbeat_callback cb) {
        group* g = find_group(r.group_id);
        if (g == nullptr || !g->consumer) {
            return complete(std::move(cb), heartbeat_error(group_error::group_id_not_found,
                                                           "Group " + r.group_id + " not found."));
        }
        consumer_group_state& cg = g->cg;
        std::string member_id = r.member_id;
        if (r.instance_id) {
            auto s = cg.static_members.find(*r.instance_id);
            if (s == cg.static_members.end()) {
                return complete(std::move(cb),
                                heartbeat_error(group_error::unknown_member_id,
                                                "Instance id " + *r.instance_id + " is unknown."));
            }
            if (s->second != member_id) {
                return complete(std::move(cb),
                                heartbeat_error(group_error::fenced_instance_id,
                                                "Static member " + member_id + " was fenced by " +
                                                    s->second + "."));
            }
        }
        auto it = cg.members.find(member_id);
        if (it == cg.members.end()) {
            return complete(
                std::move(cb),
                heartbeat_error(group_error::unknown_member_id,
                                "Member " + member_id + " is not in group " + r.group_id + "."));
        }
        consumer_changes changes;
        consumer_heartbeat_response out;
        out.member_id = member_id;
        out.member_epoch = r.member_epoch;
        out.heartbeat_interval_ms = 0;
        if (r.member_epoch == -2) {
            // A static member leaving for a while keeps its place and its
            // partitions (until its session expires).
            consumer_member& m = it->second;
            m.assignment.previous_member_epoch = m.assignment.member_epoch;
            m.assignment.member_epoch = -2;
            m.assignment.pending_revocation.clear();
            cancel(m.rebalance_timer);
            changes.current.insert(member_id);
        } else {
            remove_consumer_member(*g, member_id, changes);
        }
        answer_when_durable(*g, changes, std::move(cb), std::move(out));
    }

    void on_consumer_timer(group& g, uint64_t id, const timer_entry& t) {
        if (!g.consumer) {
            return;
        }
        auto it = g.cg.members.find(t.member_id);
        if (it == g.cg.members.end()) {
            return;
        }
        consumer_member& m = it->second;
        if (t.kind == timer_kind::consumer_session) {
            if (m.session_timer != id) {
                return;
            }
            m.session_timer = 0;
        } else {
            if (m.rebalance_timer != id) {
                return;
            }
            m.rebalance_timer = 0;
            if (m.assignment.state != member_state::unrevoked_partitions ||
                m.assignment.member_epoch != t.generation) {
                return;
            }
        }
        consumer_changes changes;
        remove_consumer_member(g, t.member_id, changes);
        write_consumer_changes(g, changes, nullptr);
    }

    // ---- consumer groups: offsets, describe ----------------------------------------

    std::optional<topic_id> topic_id_of(const group& g, const std::string& topic) const {
        auto md = g.cg.subscription_metadata.find(topic);
        if (md != g.cg.subscription_metadata.end()) {
            return md->second.id;
        }
        if (topic_source.lookup) {
            if (auto found = topic_source.lookup(topic)) {
                return found->id;
            }
        }
        return std::nullopt;
    }

    // Kafka's rules: a commit with a negative epoch to a group without
    // members is a simple commit; otherwise the member must exist and commit
    // with v9+ at its epoch. An older epoch is accepted for the partitions
    // the member has owned since that epoch (their fetch positions are
    // still its own); the others get STALE_MEMBER_EPOCH.
    group_error validate_consumer_offset_commit(group& g, const offset_commit_request& r,
                                                std::vector<group_error>& errors) const {
        const consumer_group_state& cg = g.cg;
        if (r.generation_id < 0 && cg.members.empty()) {
            return group_error::none;
        }
        auto it = cg.members.find(r.member_id);
        if (it == cg.members.end()) {
            return group_error::unknown_member_id;
        }
        if (r.api_version && *r.api_version < 9) {
            return group_error::unsupported_version;
        }
        const consumer_member& m = it->second;
        if (r.generation_id == m.assignment.member_epoch) {
            return group_error::none;
        }
        if (r.generation_id > m.assignment.member_epoch || r.generation_id < 0) {
            return group_error::stale_member_epoch;
        }
        errors.assign(r.partitions.size(), group_error::none);
        for (size_t i = 0; i < r.partitions.size(); ++i) {
            const auto& tp = r.partitions[i].partition;
            auto id = topic_id_of(g, tp.topic);
            auto since = id ? m.assigned_epochs.find({*id, tp.partition}) : m.assigned_epochs.end();
            if (since == m.assigned_epochs.end() || since->second > r.generation_id) {
                errors[i] = group_error::stale_member_epoch;
            }
        }
        return group_error::none;
    }

    group_error validate_consumer_offset_fetch(const group& g,
                                               const offset_fetch_member& member) const {
        if (!member.member_id && member.member_epoch < 0) {
            return group_error::none;
        }
        auto it = g.cg.members.find(member.member_id.value_or(""));
        if (it == g.cg.members.end()) {
            return group_error::unknown_member_id;
        }
        return member.member_epoch == it->second.assignment.member_epoch
                   ? group_error::none
                   : group_error::stale_member_epoch;
    }

    // DescribeGroups (the classic API) of a consumer group.
    group_description describe_consumer_group_classic(const group& g) const {
        group_description d;
        d.group_id = g.group_id;
        d.state = g.state;
        d.state_name = consumer_group_state_name(g);
        d.protocol_type = std::string(k_consumer_protocol_type);
        if (d.state_name == "Stable") {
            d.protocol_data = g.cg.assignor;
        }
        for (const auto& [id, m] : g.cg.members) {
            described_member dm;
            dm.member_id = id;
            dm.group_instance_id = m.instance_id;
            dm.client_id = m.client_id;
            dm.client_host = m.client_host;
            d.members.push_back(std::move(dm));
        }
        return d;
    }

    std::vector<consumer_group_description> describe_consumer_groups(
        const std::vector<std::string>& ids_to_describe) const {
        std::vector<consumer_group_description> out;
        for (const auto& id : ids_to_describe) {
            consumer_group_description d;
            d.group_id = id;
            auto it = groups.find(id);
            if (id.empty()) {
                d.error = group_error::invalid_group_id;
            } else if (it == groups.end() || !it->second.consumer) {
                d.error = group_error::group_id_not_found;
                d.error_message = it == groups.end() ? "Group " + id + " not found."
                                                     : "Group " + id + " is not a consumer group.";
            } else {
                const group& g = it->second;
                d.state = consumer_group_state_name(g);
                d.group_epoch = g.cg.group_epoch;
                d.assignment_epoch = g.cg.assignment_epoch;
                d.assignor_name = g.cg.assignor.empty() ? choose_assignor(g) : g.cg.assignor;
                for (const auto& [mid, m] : g.cg.members) {
                    consumer_member_description md;
                    md.member_id = mid;
                    md.instance_id = m.instance_id;
                    md.rack_id = m.rack_id;
                    md.member_epoch = m.assignment.member_epoch;
                    md.client_id = m.client_id;
                    md.client_host = m.client_host;
                    md.subscribed_topic_names = m.topic_names;
                    md.subscribed_topic_regex = m.topic_regex;
                    md.assignment = to_wire(g, m.assignment.assigned);
                    auto t = g.cg.target.find(mid);
                    if (t != g.cg.target.end()) {
                        md.target_assignment = to_wire(g, t->second);
                    }
                    d.members.push_back(std::move(md));
                }
            }
            out.push_back(std::move(d));
        }
        return out;
    }

    // ---- consumer groups: replay -------------------------------------------------------

    template <typename T>
    static status decoded(const result<T>& r) {
        if (!r) {
            return error(r.error_value().code, r.error_value().message);
        }
        return ok();
    }

    status replay_consumer_record(const group_records::consumer_group_key& key,
                                  const std::optional<byte_vector>& value) {
        group* existing = find_group(key.group_id);
        if (!value && (existing == nullptr || !existing->consumer)) {
            return ok();  // a tombstone of something already gone
        }
        group& g = existing != nullptr ? *existing : create_group(key.group_id);
        if (!g.consumer) {
            // The group became a consumer group (its classic metadata, if
            // any, was deleted by an earlier record).
            clear_membership(g, group_error::coordinator_not_available);
            g.has_metadata_record = false;
            g.consumer = true;
            g.cg = consumer_group_state{};
        }
        consumer_group_state& cg = g.cg;
        using namespace group_records;
        switch (key.type) {
            case k_consumer_group_metadata_key: {
                if (!value) {
                    reset_consumer_state(g);
                    g.state_timestamp.reset();
                    if (!g.has_offsets()) {
                        erase_group(g);
                    }
                    return ok();
                }
                auto v = decode_consumer_group_metadata_value(*value);
                if (!v) {
                    return decoded(v);
                }
                cg.group_epoch = v->epoch;
                return ok();
            }
            case k_consumer_partition_metadata_key: {
                cg.subscription_metadata.clear();
                if (!value) {
                    return ok();
                }
                auto v = decode_consumer_partition_metadata_value(*value);
                if (!v) {
                    return decoded(v);
                }
                for (const auto& t : v->topics) {
                    cg.subscription_metadata[t.topic_name] = {t.topic_id, t.partition_count};
                }
                return ok();
            }
            case k_consumer_target_metadata_key: {
                if (!value) {
                    cg.assignment_epoch = 0;
                    return ok();
                }
                auto v = decode_consumer_target_metadata_value(*value);
                if (!v) {
                    return decoded(v);
                }
                cg.assignment_epoch = v->assignment_epoch;
                return ok();
            }
            case k_consumer_member_metadata_key: {
                if (!value) {
                    cg.members.erase(key.member_id);
                    return ok();
                }
                auto v = decode_consumer_member_metadata_value(*value);
                if (!v) {
                    return decoded(v);
                }
                consumer_member& m = cg.members[key.member_id];
                m.member_id = key.member_id;
                m.instance_id = v->instance_id;
                m.rack_id = v->rack_id;
                m.client_id = v->client_id;
                m.client_host = v->client_host;
                m.topic_names = v->subscribed_topic_names;
                m.topic_regex = v->subscribed_topic_regex;
                m.server_assignor = v->server_assignor;
                m.rebalance_timeout_ms = v->rebalance_timeout_ms;
                return ok();
            }
            case k_consumer_target_member_key: {
                if (!value) {
                    cg.target.erase(key.member_id);
                    return ok();
                }
                auto v = decode_consumer_target_member_value(*value);
                if (!v) {
                    return decoded(v);
                }
                cg.target[key.member_id] = v->partitions;
                return ok();
            }
            case k_consumer_current_assignment_key: {
                auto it = cg.members.find(key.member_id);
                if (!value) {
                    if (it != cg.members.end()) {
                        it->second.assignment = member_assignment_state{};
                        it->second.assigned_epochs.clear();
                    }
                    return ok();
                }
                auto v = decode_consumer_current_assignment_value(*value);
                if (!v) {
                    return decoded(v);
                }
                consumer_member& m = cg.members[key.member_id];
                m.member_id = key.member_id;
                m.assignment.member_epoch = v->member_epoch;
                m.assignment.previous_member_epoch = v->previous_member_epoch;
                switch (v->state) {
                    case 0:
                    case 1:
                    case 2:
                        m.assignment.state = static_cast<member_state>(v->state);
                        break;
                    default:
                        m.assignment.state = member_state::unknown;
                }
                m.assignment.assigned = v->assigned;
                m.assignment.pending_revocation = v->pending_revocation;
                m.assigned_epochs.clear();
                for (const auto& [t, ps] : v->assigned) {
                    for (int32_t p : ps) {
                        auto e = v->assigned_epochs.find({t, p});
                        m.assigned_epochs[{t, p}] =
                            e != v->assigned_epochs.end() ? e->second : v->member_epoch;
                    }
                }
                return ok();
            }
            default:
                return error(errc::unsupported, "consumer group key " + std::to_string(key.type));
        }
    }

    // After replay: rebuild what is derived (static members, the classic
    // summary) and start the members' timers now, as Kafka does.
    void finish_consumer_replay() {
        for (auto& [id, g] : groups) {
            if (!g.consumer) {
                continue;
            }
            consumer_group_state& cg = g.cg;
            cg.static_members.clear();
            for (auto& [mid, m] : cg.members) {
                if (m.instance_id) {
                    cg.static_members[*m.instance_id] = mid;
                }
                schedule_consumer_session(g, m);
                cancel(m.rebalance_timer);
                if (m.assignment.state == member_state::unrevoked_partitions) {
                    m.rebalance_timer = schedule(
                        timer_kind::consumer_rebalance, g.group_id, mid, m.assignment.member_epoch,
                        now + milliseconds(std::max<int32_t>(m.rebalance_timeout_ms, 0)));
                }
            }
            cg.assignor = choose_assignor(g);
            update_consumer_summary(g);
        }
    }

    // ---- describe, list --------------------------------------------------------

    group_description describe_group(std::string_view group_id) {
        group_description d;
        d.group_id = std::string(group_id);
        group* g = find_group(group_id);
        if (g == nullptr) {
            return d;  // Dead, as Kafka answers for an unknown group
        }
        if (g->consumer) {
            return describe_consumer_group_classic(*g);
        }
        d.state = g->state;
        d.state_name = group_state_name(g->state);
        d.protocol_type = g->protocol_type.value_or("");
        bool stable = g->state == group_state::stable;
        if (stable) {
            d.protocol_data = g->protocol_name.value_or("");
        }
        for (member* m : g->in_join_order()) {
            described_member dm;
            dm.member_id = m->member_id;
            dm.group_instance_id = m->group_instance_id;
            dm.client_id = m->client_id;
            dm.client_host = m->client_host;
            if (stable) {
                if (const byte_vector* md = m->metadata_for(d.protocol_data)) {
                    dm.metadata = *md;
                }
                dm.assignment = m->assignment;
            }
            d.members.push_back(std::move(dm));
        }
        return d;
    }

    std::vector<listed_group> list_groups(const std::vector<std::string>& states,
                                          const std::vector<std::string>& types) {
        std::vector<listed_group> out;
        auto wanted = [](const std::vector<std::string>& filter, std::string_view value) {
            return filter.empty() || std::any_of(filter.begin(), filter.end(),
                                                 [&](const auto& f) { return iequals(f, value); });
        };
        for (const auto& [id, g] : groups) {
            std::string_view type = g.consumer ? "consumer" : "classic";
            std::string_view name =
                g.consumer ? consumer_group_state_name(g) : group_state_name(g.state);
            if (!wanted(types, type) || !wanted(states, name)) {
                continue;
            }
            listed_group lg;
            lg.group_id = id;
            lg.protocol_type = g.protocol_type.value_or("");
            lg.state = g.state;
            lg.state_name = name;
            lg.type = type;
            out.push_back(std::move(lg));
        }
        return out;
    }

    // ---- replay ------------------------------------------------------------------

    status replay(std::span<const log_record> records) {
        for (size_t i = 0; i < records.size(); ++i) {
            const log_record& rec = records[i];
            auto key = group_records::decode_key(rec.key);
            if (!key) {
                return error(key.error_value().code,
                             "record " + std::to_string(i) + ": " + key.error_value().message);
            }
            if (auto* ok = std::get_if<group_records::offset_commit_key>(&*key)) {
                topic_partition tp{ok->topic, ok->partition};
                group& g = create_group(ok->group_id);
                if (rec.value) {
                    auto v = group_records::decode_offset_commit_value(*rec.value);
                    if (!v) {
                        return error(v.error_value().code, "record " + std::to_string(i) + ": " +
                                                               v.error_value().message);
                    }
                    committed_offset c;
                    c.offset = v->offset;
                    c.leader_epoch = v->leader_epoch;
                    c.metadata = v->metadata;
                    c.commit_timestamp = from_ms(v->commit_timestamp_ms);
                    if (v->expire_timestamp_ms) {
                        c.expire_timestamp = from_ms(*v->expire_timestamp_ms);
                    }
                    g.offsets[tp] = std::move(c);
                } else {
                    g.offsets.erase(tp);
                    drop_if_unused(g);
                }
            } else if (auto* ck = std::get_if<group_records::consumer_group_key>(&*key)) {
                status st = replay_consumer_record(*ck, rec.value);
                if (!st) {
                    return error(st.error_value().code,
                                 "record " + std::to_string(i) + ": " + st.error_value().message);
                }
            } else {
                const auto& gk = std::get<group_records::group_metadata_key>(*key);
                if (rec.value) {
                    auto v = group_records::decode_group_metadata_value(*rec.value);
                    if (!v) {
                        return error(v.error_value().code, "record " + std::to_string(i) + ": " +
                                                               v.error_value().message);
                    }
                    group& lg = create_group(gk.group_id);
                    if (lg.consumer) {
                        reset_consumer_state(lg);
                    }
                    load_group(lg, *v);
                } else if (group* g = find_group(gk.group_id)) {
                    clear_membership(*g, group_error::coordinator_not_available);
                    g->state = group_state::empty;
                    g->state_timestamp.reset();
                    g->generation_id = 0;
                    g->protocol_type.reset();
                    g->protocol_name.reset();
                    g->subscribed_topics.reset();
                    g->has_metadata_record = false;
                    drop_if_unused(*g);
                }
            }
        }
        finish_consumer_replay();
        return ok();
    }

    void drop_if_unused(group& g) {
        if (!g.consumer && !g.has_metadata_record && g.members.empty() && !g.has_offsets()) {
            erase_group(g);
        }
    }

    void load_group(group& g, const group_records::group_metadata_value& v) {
        clear_membership(g, group_error::coordinator_not_available);
        g.protocol_type =
            v.protocol_type.empty() ? std::nullopt : std::optional<std::string>(v.protocol_type);
        g.generation_id = v.generation;
        g.protocol_name = v.protocol;
        g.state_timestamp = v.current_state_timestamp_ms >= 0
                                ? std::optional<time_point>(from_ms(v.current_state_timestamp_ms))
                                : std::nullopt;
        for (const auto& mv : v.members) {
            member m;
            m.member_id = mv.member_id;
            m.group_instance_id = mv.group_instance_id;
            m.client_id = mv.client_id;
            m.client_host = mv.client_host;
            m.rebalance_timeout = milliseconds(mv.rebalance_timeout_ms);
            m.session_timeout = milliseconds(mv.session_timeout_ms);
            m.protocol_type = v.protocol_type;
            if (v.protocol) {
                m.protocols.push_back({*v.protocol, mv.subscription});
            }
            m.assignment = mv.assignment;
            m.join_order = g.next_join_order++;
            if (m.group_instance_id) {
                g.static_members[*m.group_instance_id] = m.member_id;
            }
            std::string id = m.member_id;
            g.members.emplace(std::move(id), std::move(m));
        }
        g.leader_id = v.leader && g.has(*v.leader) ? v.leader : std::nullopt;
        if (!g.leader_id && !g.members.empty()) {
            g.leader_id = g.in_join_order().front()->member_id;
        }
        g.state = g.members.empty() ? group_state::empty : group_state::stable;
        g.subscribed_topics = compute_subscribed_topics(g);
        g.has_metadata_record = true;
        for (auto& [id, m] : g.members) {
            schedule_heartbeat(g, m);
        }
        if (g.members.size() > config.max_group_size) {
            prepare_rebalance(g);  // lets members that fit rejoin
        }
    }
};

// ---- names -----------------------------------------------------------------

std::string_view group_error_name(group_error e) {
    switch (e) {
        case group_error::unknown_server_error:
            return "UNKNOWN_SERVER_ERROR";
        case group_error::none:
            return "NONE";
        case group_error::offset_metadata_too_large:
            return "OFFSET_METADATA_TOO_LARGE";
        case group_error::coordinator_not_available:
            return "COORDINATOR_NOT_AVAILABLE";
        case group_error::not_coordinator:
            return "NOT_COORDINATOR";
        case group_error::illegal_generation:
            return "ILLEGAL_GENERATION";
        case group_error::inconsistent_group_protocol:
            return "INCONSISTENT_GROUP_PROTOCOL";
        case group_error::invalid_group_id:
            return "INVALID_GROUP_ID";
        case group_error::unknown_member_id:
            return "UNKNOWN_MEMBER_ID";
        case group_error::invalid_session_timeout:
            return "INVALID_SESSION_TIMEOUT";
        case group_error::rebalance_in_progress:
            return "REBALANCE_IN_PROGRESS";
        case group_error::invalid_commit_offset_size:
            return "INVALID_COMMIT_OFFSET_SIZE";
        case group_error::non_empty_group:
            return "NON_EMPTY_GROUP";
        case group_error::group_id_not_found:
            return "GROUP_ID_NOT_FOUND";
        case group_error::member_id_required:
            return "MEMBER_ID_REQUIRED";
        case group_error::group_max_size_reached:
            return "GROUP_MAX_SIZE_REACHED";
        case group_error::fenced_instance_id:
            return "FENCED_INSTANCE_ID";
        case group_error::group_subscribed_to_topic:
            return "GROUP_SUBSCRIBED_TO_TOPIC";
        case group_error::unsupported_version:
            return "UNSUPPORTED_VERSION";
        case group_error::invalid_request:
            return "INVALID_REQUEST";
        case group_error::fenced_member_epoch:
            return "FENCED_MEMBER_EPOCH";
        case group_error::unreleased_instance_id:
            return "UNRELEASED_INSTANCE_ID";
        case group_error::unsupported_assignor:
            return "UNSUPPORTED_ASSIGNOR";
        case group_error::stale_member_epoch:
            return "STALE_MEMBER_EPOCH";
        case group_error::invalid_regular_expression:
            return "INVALID_REGULAR_EXPRESSION";
    }
    return "?";
}

std::string_view group_state_name(group_state s) {
    switch (s) {
        case group_state::empty:
            return "Empty";
        case group_state::preparing_rebalance:
            return "PreparingRebalance";
        case group_state::completing_rebalance:
            return "CompletingRebalance";
        case group_state::stable:
            return "Stable";
        case group_state::dead:
            return "Dead";
    }
    return "?";
}

// ---- public API: each call is one scope --------------------------------------

group_coordinator::group_coordinator(group_config config, coordinator_log& log, clock_fn clock,
                                     member_id_generator ids, topic_metadata_source topics)
    : _impl(std::make_shared<impl>(std::move(config), log, std::move(clock), std::move(ids),
                                   std::move(topics))) {
    impl::scope sc(*_impl);
    _impl->schedule_expiration();
}

group_coordinator::~group_coordinator() = default;

void group_coordinator::join_group(join_group_request request, join_group_callback done) {
    impl::scope sc(*_impl);
    _impl->join_group(std::move(request), std::move(done));
}

void group_coordinator::sync_group(sync_group_request request, sync_group_callback done) {
    impl::scope sc(*_impl);
    _impl->sync_group(std::move(request), std::move(done));
}

group_error group_coordinator::heartbeat(const heartbeat_request& request) {
    impl::scope sc(*_impl);
    return _impl->heartbeat(request);
}

leave_group_response group_coordinator::leave_group(const leave_group_request& request) {
    impl::scope sc(*_impl);
    return _impl->leave_group(request);
}

void group_coordinator::commit_offsets(offset_commit_request request, offset_commit_callback done) {
    impl::scope sc(*_impl);
    _impl->commit_offsets(std::move(request), std::move(done));
}

offset_fetch_response group_coordinator::fetch_offsets(
    std::string_view group_id, const std::optional<std::vector<topic_partition>>& partitions,
    bool /*require_stable*/, const offset_fetch_member& member) {
    impl::scope sc(*_impl);
    return _impl->fetch_offsets(group_id, partitions, member);
}

void group_coordinator::delete_offsets(std::string group_id,
                                       std::vector<topic_partition> partitions,
                                       offset_delete_callback done) {
    impl::scope sc(*_impl);
    _impl->delete_offsets(std::move(group_id), std::move(partitions), std::move(done));
}

void group_coordinator::delete_groups(std::vector<std::string> group_ids,
                                      delete_groups_callback done) {
    impl::scope sc(*_impl);
    _impl->delete_groups(std::move(group_ids), std::move(done));
}

group_description group_coordinator::describe_group(std::string_view group_id) {
    impl::scope sc(*_impl);
    return _impl->describe_group(group_id);
}

std::vector<listed_group> group_coordinator::list_groups(
    const std::vector<std::string>& states_filter, const std::vector<std::string>& types_filter) {
    impl::scope sc(*_impl);
    return _impl->list_groups(states_filter, types_filter);
}

void group_coordinator::consumer_group_heartbeat(consumer_heartbeat_request request,
                                                 consumer_heartbeat_callback done) {
    impl::scope sc(*_impl);
    _impl->consumer_group_heartbeat(std::move(request), std::move(done));
}

std::vector<consumer_group_description> group_coordinator::describe_consumer_groups(
    const std::vector<std::string>& group_ids) {
    impl::scope sc(*_impl);
    return _impl->describe_consumer_groups(group_ids);
}

void group_coordinator::tick() {
    impl::scope sc(*_impl);
}

std::optional<time_point> group_coordinator::next_deadline() const {
    if (_impl->timer_queue.empty()) {
        return std::nullopt;
    }
    return _impl->timer_queue.begin()->first;
}

status group_coordinator::replay(std::span<const log_record> records) {
    impl::scope sc(*_impl);
    return _impl->replay(records);
}

}  // namespace floe::coordinator
