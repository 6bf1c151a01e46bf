#include "coordinator/group_coordinator.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <utility>

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
enum class timer_kind { heartbeat, pending_member, join, sync, offset_expiration };

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
    impl(group_config c, coordinator_log& l, clock_fn clk, member_id_generator g)
        : config(c), log(l), clock(std::move(clk)), ids(std::move(g)) {
        if (!ids) {
            ids = random_member_id;
        }
    }

    group_config config;
    coordinator_log& log;
    clock_fn clock;
    member_id_generator ids;

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
            g.initial_delay = config.initial_rebalance_delay;
            g.initial_remaining =
                std::max(g.rebalance_timeout() - config.initial_rebalance_delay, milliseconds(0));
            g.join_timer =
                schedule(timer_kind::join, g.group_id, "", 0, now + config.initial_rebalance_delay);
        } else {
            g.join_kind = join_timer_kind::rebalance;
            g.join_timer =
                schedule(timer_kind::join, g.group_id, "", 0, now + g.rebalance_timeout());
            try_complete_join(g);
        }
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
            milliseconds delay = std::min(config.initial_rebalance_delay, g.initial_remaining);
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

    void join_group(join_group_request r, join_group_callback cb) {
        if (r.group_id.empty()) {
            return complete_join(std::move(cb),
                                 join_error(group_error::invalid_group_id, std::move(r.member_id)));
        }
        if (r.session_timeout < config.min_session_timeout ||
            r.session_timeout > config.max_session_timeout) {
            return complete_join(std::move(cb), join_error(group_error::invalid_session_timeout,
                                                           std::move(r.member_id)));
        }
        bool unknown = r.member_id.empty();
        group* g = find_group(r.group_id);
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
        std::string new_id = ids(r.group_instance_id ? *r.group_instance_id : r.client_id);
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
        group* g = find_group(r.group_id);
        if (g == nullptr) {
            if (r.generation_id >= 0) {
                return all(group_error::illegal_generation);
            }
            g = &create_group(r.group_id);  // a group that only stores offsets
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

    void store_offsets(group& g, offset_commit_request r, offset_commit_callback cb) {
        std::vector<partition_result> results;
        std::vector<log_record> records;
        std::vector<std::pair<topic_partition, committed_offset>> values;
        for (const auto& p : r.partitions) {
            results.push_back({p.partition, group_error::none});
            if (p.metadata.size() > config.offset_metadata_max_bytes) {
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
                                        const std::optional<std::vector<topic_partition>>& tps) {
        offset_fetch_response out;
        group* g = find_group(group_id);
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
    // without offsets is deleted as well (Kafka's cleanup). `done` gets the
    // append's outcome; it is called at once with ok() if nothing needed
    // writing.
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
        if (g.state == group_state::empty && !g.has_offsets()) {
            records.push_back(group_tombstone(g.group_id));
            erase_group(g);
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
                records.push_back(group_tombstone(id));
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
            if (g.protocol_type && g.state == group_state::empty) {
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
                    due = now - base >= config.offsets_retention;
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
                records.push_back(group_tombstone(id));
                erase_group(g);
            }
        }
        if (!records.empty()) {
            queue_append(std::move(records), nullptr);
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
        d.state = g->state;
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
        if (!types.empty() && std::none_of(types.begin(), types.end(), [](const std::string& t) {
                return iequals(t, "classic");
            })) {
            return out;
        }
        for (const auto& [id, g] : groups) {
            std::string_view name = group_state_name(g.state);
            if (!states.empty() &&
                std::none_of(states.begin(), states.end(),
                             [&](const std::string& s) { return iequals(s, name); })) {
                continue;
            }
            out.push_back({id, g.protocol_type.value_or(""), g.state});
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
            } else {
                const auto& gk = std::get<group_records::group_metadata_key>(*key);
                if (rec.value) {
                    auto v = group_records::decode_group_metadata_value(*rec.value);
                    if (!v) {
                        return error(v.error_value().code, "record " + std::to_string(i) + ": " +
                                                               v.error_value().message);
                    }
                    load_group(create_group(gk.group_id), *v);
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
        return ok();
    }

    void drop_if_unused(group& g) {
        if (!g.has_metadata_record && g.members.empty() && !g.has_offsets()) {
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
                                     member_id_generator ids)
    : _impl(std::make_shared<impl>(config, log, std::move(clock), std::move(ids))) {
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
    bool /*require_stable*/) {
    impl::scope sc(*_impl);
    return _impl->fetch_offsets(group_id, partitions);
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
