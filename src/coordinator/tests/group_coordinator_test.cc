// The classic group protocol, rule by rule, with an injected clock (time
// only moves when a test says so) and an in-memory coordinator_log whose
// appends a test can hold, complete or fail.
#include "coordinator/group_coordinator.h"

#include <gtest/gtest.h>

#include <deque>
#include <limits>
#include <map>
#include <set>

#include "coordinator/group_records.h"

using namespace floe;
using namespace floe::coordinator;
using namespace std::chrono_literals;

namespace floe::coordinator {
void PrintTo(group_error e, std::ostream* out) {
    *out << group_error_name(e);
}
void PrintTo(group_state s, std::ostream* out) {
    *out << group_state_name(s);
}
}  // namespace floe::coordinator

namespace {

// ---- an in-memory log ---------------------------------------------------------

class memory_log : public coordinator_log {
public:
    // When held, appends wait for complete_next(); else they are durable at
    // once (and complete inside append()).
    bool hold = false;
    std::vector<log_record> durable;
    size_t appends = 0;

    void append(std::vector<log_record> records, std::function<void(status)> done) override {
        ++appends;
        if (hold) {
            _waiting.push_back({std::move(records), std::move(done)});
            return;
        }
        finish({std::move(records), std::move(done)}, ok());
    }

    size_t waiting() const { return _waiting.size(); }
    void complete_next(status st = ok()) {
        ASSERT_FALSE(_waiting.empty());
        auto w = std::move(_waiting.front());
        _waiting.pop_front();
        finish(std::move(w), std::move(st));
    }
    void complete_all() {
        while (!_waiting.empty()) {
            complete_next();
        }
    }

    // The log after compaction: the last record of each key, tombstones
    // dropped, in the order of those last records.
    std::vector<log_record> compacted() const {
        std::map<byte_vector, size_t> last;
        for (size_t i = 0; i < durable.size(); ++i) {
            last[durable[i].key] = i;
        }
        std::vector<log_record> out;
        for (size_t i = 0; i < durable.size(); ++i) {
            if (last[durable[i].key] == i && durable[i].value) {
                out.push_back(durable[i]);
            }
        }
        return out;
    }

private:
    struct pending {
        std::vector<log_record> records;
        std::function<void(status)> done;
    };
    void finish(pending p, status st) {
        if (st) {
            durable.insert(durable.end(), p.records.begin(), p.records.end());
        }
        p.done(st);
    }
    std::deque<pending> _waiting;
};

// ---- the consumer protocol, as a test leader would run it ---------------------

byte_vector subscription(const std::vector<std::string>& topics) {
    byte_writer w;
    w.write_int16(1);  // version 1: topics, user data, owned partitions
    w.write_int32(static_cast<int32_t>(topics.size()));
    for (const auto& t : topics) {
        w.write_int16(static_cast<int16_t>(t.size()));
        w.write_bytes(std::string_view(t));
    }
    w.write_int32(-1);  // no user data
    w.write_int32(0);   // no owned partitions
    return std::move(w.buffer());
}

using owned = std::map<std::string, std::vector<int32_t>>;  // topic -> partitions

byte_vector encode_assignment(const owned& partitions) {
    byte_writer w;
    w.write_int16(0);
    w.write_int32(static_cast<int32_t>(partitions.size()));
    for (const auto& [topic, ps] : partitions) {
        w.write_int16(static_cast<int16_t>(topic.size()));
        w.write_bytes(std::string_view(topic));
        w.write_int32(static_cast<int32_t>(ps.size()));
        for (int32_t p : ps) {
            w.write_int32(p);
        }
    }
    w.write_int32(-1);
    return std::move(w.buffer());
}

owned decode_assignment(const byte_vector& bytes) {
    owned out;
    if (bytes.empty()) {
        return out;
    }
    byte_reader r(bytes);
    r.read_int16();
    int32_t topics = r.read_int32();
    for (int32_t i = 0; i < topics; ++i) {
        auto name = r.read_span(static_cast<size_t>(r.read_int16()));
        std::string topic(name.begin(), name.end());
        int32_t n = r.read_int32();
        for (int32_t j = 0; j < n; ++j) {
            out[topic].push_back(r.read_int32());
        }
    }
    EXPECT_TRUE(r.ok());
    return out;
}

// The leader's job: every partition of every subscribed topic, round robin
// over the members in the order the coordinator listed them.
std::vector<sync_group_assignment> assign(const std::vector<join_group_member>& members,
                                          const std::map<std::string, int32_t>& partitions) {
    std::vector<owned> per_member(members.size());
    size_t next = 0;
    for (const auto& [topic, count] : partitions) {
        for (int32_t p = 0; p < count; ++p) {
            per_member[next++ % members.size()][topic].push_back(p);
        }
    }
    std::vector<sync_group_assignment> out;
    for (size_t i = 0; i < members.size(); ++i) {
        out.push_back({members[i].member_id, encode_assignment(per_member[i])});
    }
    return out;
}

// One partition of an OffsetCommit.
offset_commit_partition at(std::string topic, int32_t p, int64_t offset, std::string md = "",
                           int32_t epoch = -1) {
    offset_commit_partition c;
    c.partition = {std::move(topic), p};
    c.offset = offset;
    c.metadata = std::move(md);
    c.leader_epoch = epoch;
    return c;
}

template <typename T>
struct slot {
    std::optional<T> value;
    int calls = 0;
    bool done() const { return calls > 0; }
    const T& operator*() const { return *value; }
    const T* operator->() const { return &*value; }
    decltype(auto) operator[](size_t i) const { return (*value)[i]; }
};

// ---- fixture ---------------------------------------------------------------------

class GroupTest : public ::testing::Test {
protected:
    time_point now{std::chrono::milliseconds(1'700'000'000'000)};
    memory_log log;
    group_config config;
    std::unique_ptr<group_coordinator> gc;
    int next_member = 0;
    std::map<std::string, int32_t> partitions{{"t", 6}};

    void SetUp() override { start(); }

    void start() {
        gc = std::make_unique<group_coordinator>(
            config, log, [this] { return now; },
            [this](std::string_view prefix) {
                return std::string(prefix) + "-" + std::to_string(++next_member);
            });
    }
    // A broker restart: a fresh coordinator rebuilt from the durable log.
    void restart(bool compact = false) {
        gc.reset();
        start();
        auto records = compact ? log.compacted() : log.durable;
        ASSERT_TRUE(gc->replay(records).has_value());
    }

    void advance(std::chrono::milliseconds d) {
        now += d;
        gc->tick();
    }

    join_group_request join_request(std::string member_id, std::string client = "client",
                                    std::optional<std::string> instance = std::nullopt) {
        join_group_request r;
        r.group_id = "g";
        r.member_id = std::move(member_id);
        r.group_instance_id = std::move(instance);
        r.client_id = std::move(client);
        r.client_host = "/127.0.0.1";
        r.session_timeout = 10s;
        r.rebalance_timeout = 30s;
        r.protocol_type = "consumer";
        r.protocols = {{"range", subscription({"t"})}};
        return r;
    }

    std::shared_ptr<slot<join_group_response>> join(join_group_request r) {
        auto s = std::make_shared<slot<join_group_response>>();
        gc->join_group(std::move(r), [s](join_group_response resp) {
            s->value = std::move(resp);
            ++s->calls;
        });
        return s;
    }

    // The v4+ first join: MEMBER_ID_REQUIRED, then the join with that id.
    // Returns the waiting second join; its member id is in `id`.
    std::shared_ptr<slot<join_group_response>> join_new(std::string client, std::string& id) {
        auto first = join(join_request("", client));
        EXPECT_TRUE(first->done());
        EXPECT_EQ(first->value->error, group_error::member_id_required);
        id = first->value->member_id;
        EXPECT_FALSE(id.empty());
        return join(join_request(id, client));
    }

    std::shared_ptr<slot<sync_group_response>> sync(std::string member_id, int32_t generation,
                                                    std::vector<sync_group_assignment> a = {},
                                                    std::optional<std::string> instance = {}) {
        sync_group_request r;
        r.group_id = "g";
        r.generation_id = generation;
        r.member_id = std::move(member_id);
        r.group_instance_id = std::move(instance);
        r.assignments = std::move(a);
        auto s = std::make_shared<slot<sync_group_response>>();
        gc->sync_group(std::move(r), [s](sync_group_response resp) {
            s->value = std::move(resp);
            ++s->calls;
        });
        return s;
    }

    group_error heartbeat(const std::string& member_id, int32_t generation,
                          std::optional<std::string> instance = {}) {
        return gc->heartbeat({"g", generation, member_id, std::move(instance)});
    }

    std::shared_ptr<slot<std::vector<partition_result>>> commit(
        std::string member_id, int32_t generation, std::vector<offset_commit_partition> ps,
        std::string group_id = "g", std::optional<std::string> instance = {}) {
        offset_commit_request r;
        r.group_id = std::move(group_id);
        r.generation_id = generation;
        r.member_id = std::move(member_id);
        r.group_instance_id = std::move(instance);
        r.partitions = std::move(ps);
        auto s = std::make_shared<slot<std::vector<partition_result>>>();
        gc->commit_offsets(std::move(r), [s](std::vector<partition_result> resp) {
            s->value = std::move(resp);
            ++s->calls;
        });
        return s;
    }

    std::shared_ptr<slot<offset_delete_response>> delete_offsets(std::string group_id,
                                                                 std::vector<topic_partition> tps) {
        auto s = std::make_shared<slot<offset_delete_response>>();
        gc->delete_offsets(std::move(group_id), std::move(tps), [s](offset_delete_response r) {
            s->value = std::move(r);
            ++s->calls;
        });
        return s;
    }

    std::shared_ptr<slot<std::vector<delete_group_result>>> delete_groups(
        std::vector<std::string> ids) {
        auto s = std::make_shared<slot<std::vector<delete_group_result>>>();
        gc->delete_groups(std::move(ids), [s](std::vector<delete_group_result> r) {
            s->value = std::move(r);
            ++s->calls;
        });
        return s;
    }

    std::optional<int64_t> committed(const std::string& group_id, const topic_partition& tp) {
        auto f = gc->fetch_offsets(group_id, std::vector<topic_partition>{tp});
        EXPECT_EQ(f.partitions.size(), 1u);
        if (f.partitions[0].offset < 0) {
            return std::nullopt;
        }
        return f.partitions[0].offset;
    }

    group_state state(const std::string& group_id = "g") {
        return gc->describe_group(group_id).state;
    }

    struct stable_group {
        std::vector<std::string> ids;  // join order; ids[0] leads
        int32_t generation = 0;
        std::map<std::string, owned> assignment;
    };

    // Forms a Stable group of `n` dynamic members (v4+ joins, all within the
    // initial delay), the leader assigning `partitions`.
    stable_group form_group(int n) {
        stable_group out;
        std::vector<std::shared_ptr<slot<join_group_response>>> joins;
        for (int i = 0; i < n; ++i) {
            std::string id;
            joins.push_back(join_new("client" + std::to_string(i), id));
            out.ids.push_back(id);
        }
        // The initial delay, extended once since members joined during it.
        advance(config.initial_rebalance_delay);
        if (n > 1) {
            EXPECT_FALSE(joins[0]->done());
            advance(config.initial_rebalance_delay);
        }
        for (auto& j : joins) {
            EXPECT_TRUE(j->done());
            EXPECT_EQ(j->value->error, group_error::none);
        }
        out.generation = joins[0]->value->generation_id;
        EXPECT_EQ(joins[0]->value->leader_id, out.ids[0]);
        finish_rebalance(out, joins);
        return out;
    }

    // Given the answered joins of a rebalance, syncs followers then the
    // leader (with its assignment) and records the result.
    void finish_rebalance(stable_group& g,
                          const std::vector<std::shared_ptr<slot<join_group_response>>>& joins) {
        std::vector<std::shared_ptr<slot<sync_group_response>>> syncs;
        const join_group_response* leader = nullptr;
        g.ids.clear();
        for (auto& j : joins) {
            g.ids.push_back(j->value->member_id);
            g.generation = j->value->generation_id;
            if (j->value->leader_id == j->value->member_id) {
                leader = &*j->value;
            }
        }
        EXPECT_NE(leader, nullptr);
        for (auto& j : joins) {
            if (&*j->value != leader) {
                syncs.push_back(sync(j->value->member_id, g.generation));
                EXPECT_FALSE(syncs.back()->done());  // followers wait for the leader
            }
        }
        syncs.push_back(sync(leader->member_id, g.generation, assign(leader->members, partitions)));
        g.assignment.clear();
        size_t i = 0;
        for (auto& j : joins) {
            if (&*j->value == leader) {
                continue;
            }
            EXPECT_TRUE(syncs[i]->done());
            EXPECT_EQ(syncs[i]->value->error, group_error::none);
            g.assignment[j->value->member_id] = decode_assignment(syncs[i]->value->assignment);
            ++i;
        }
        EXPECT_TRUE(syncs.back()->done());
        EXPECT_EQ(syncs.back()->value->error, group_error::none);
        g.assignment[leader->member_id] = decode_assignment(syncs.back()->value->assignment);
        EXPECT_EQ(state(), group_state::stable);
    }

    // Every partition owned exactly once, by the given members only.
    void expect_all_partitions_owned(const stable_group& g, const std::set<std::string>& owners) {
        std::map<std::string, std::multiset<int32_t>> seen;
        for (const auto& [member, own] : g.assignment) {
            if (own.empty()) {
                continue;
            }
            EXPECT_TRUE(owners.count(member) > 0) << member << " owns partitions";
            for (const auto& [topic, ps] : own) {
                seen[topic].insert(ps.begin(), ps.end());
            }
        }
        for (const auto& [topic, count] : partitions) {
            std::multiset<int32_t> expected;
            for (int32_t p = 0; p < count; ++p) {
                expected.insert(p);
            }
            EXPECT_EQ(seen[topic], expected) << topic;
        }
    }
};

}  // namespace

// ---- JoinGroup -----------------------------------------------------------------

TEST_F(GroupTest, JoinRefusesAnEmptyGroupIdAndSessionTimeoutsOutOfBounds) {
    auto r = join_request("");
    r.group_id = "";
    EXPECT_EQ(join(r)->value->error, group_error::invalid_group_id);

    r = join_request("");
    r.session_timeout = 5999ms;
    EXPECT_EQ(join(r)->value->error, group_error::invalid_session_timeout);
    r.session_timeout = 1800001ms;
    EXPECT_EQ(join(r)->value->error, group_error::invalid_session_timeout);
    r.session_timeout = 6000ms;
    EXPECT_EQ(join(r)->value->error, group_error::member_id_required);
    r.session_timeout = 1800000ms;
    EXPECT_EQ(join(r)->value->error, group_error::member_id_required);
}

TEST_F(GroupTest, FirstJoinGetsMemberIdRequiredThenJoinsWithIt) {
    auto first = join(join_request("", "app"));
    ASSERT_TRUE(first->done());
    EXPECT_EQ(first->value->error, group_error::member_id_required);
    EXPECT_EQ(first->value->member_id, "app-1");
    EXPECT_EQ(state(), group_state::empty);  // a pending member is not a member

    auto second = join(join_request("app-1", "app"));
    EXPECT_FALSE(second->done());
    EXPECT_EQ(state(), group_state::preparing_rebalance);
    advance(2999ms);
    EXPECT_FALSE(second->done());
    advance(1ms);  // the initial delay is over
    ASSERT_TRUE(second->done());
    const auto& r = **second;
    EXPECT_EQ(r.error, group_error::none);
    EXPECT_EQ(r.generation_id, 1);
    EXPECT_EQ(r.member_id, "app-1");
    EXPECT_EQ(r.leader_id, "app-1");
    EXPECT_EQ(r.protocol_type, "consumer");
    EXPECT_EQ(r.protocol_name, "range");
    ASSERT_EQ(r.members.size(), 1u);
    EXPECT_EQ(r.members[0].metadata, subscription({"t"}));
    EXPECT_EQ(state(), group_state::completing_rebalance);
}

TEST_F(GroupTest, OldClientsJoinWithoutTheMemberIdRoundTrip) {
    auto r = join_request("", "old");
    r.require_known_member_id = false;  // JoinGroup v0-3
    auto j = join(r);
    EXPECT_FALSE(j->done());
    advance(3s);
    ASSERT_TRUE(j->done());
    EXPECT_EQ(j->value->member_id, "old-1");
    EXPECT_EQ(j->value->error, group_error::none);
}

TEST_F(GroupTest, PendingMemberExpiresAfterItsSessionTimeout) {
    auto first = join(join_request("", "app"));
    std::string id = first->value->member_id;
    advance(10s);  // never came back
    auto late = join(join_request(id, "app"));
    ASSERT_TRUE(late->done());
    EXPECT_EQ(late->value->error, group_error::unknown_member_id);
}

TEST_F(GroupTest, PendingMemberHoldsARebalanceUntilItJoinsOrExpires) {
    auto g = form_group(1);
    // A new member got its id but has not joined with it yet.
    auto pending = join(join_request("", "late"));
    ASSERT_EQ(pending->value->error, group_error::member_id_required);
    // The leader rejoins: every member has joined, but the pending one may
    // still come, so the rebalance waits for it...
    auto leader = join(join_request(g.ids[0]));
    EXPECT_FALSE(leader->done());
    advance(9999ms);
    EXPECT_FALSE(leader->done());
    advance(1ms);  // ...until its session timeout drops it
    ASSERT_TRUE(leader->done());
    EXPECT_EQ(leader->value->generation_id, g.generation + 1);
    EXPECT_EQ(leader->value->members.size(), 1u);
}

TEST_F(GroupTest, UnknownMemberIds) {
    EXPECT_EQ(join(join_request("ghost"))->value->error, group_error::unknown_member_id);
    auto g = form_group(1);
    EXPECT_EQ(join(join_request("ghost"))->value->error, group_error::unknown_member_id);
}

TEST_F(GroupTest, InitialDelayIsExtendedWhileMembersKeepJoining) {
    std::string a, b, c;
    auto ja = join_new("a", a);
    advance(2000ms);
    auto jb = join_new("b", b);
    advance(1000ms);  // t=3000: b arrived during the first delay -> wait 3000 more
    EXPECT_FALSE(ja->done());
    advance(2000ms);
    auto jc = join_new("c", c);  // t=5000
    advance(999ms);
    EXPECT_FALSE(ja->done());  // t=5999
    advance(1ms);              // t=6000: c arrived -> until 9000
    EXPECT_FALSE(ja->done());
    advance(2999ms);
    EXPECT_FALSE(ja->done());
    advance(1ms);
    ASSERT_TRUE(ja->done());
    EXPECT_TRUE(jb->done());
    EXPECT_TRUE(jc->done());
    EXPECT_EQ(ja->value->members.size(), 3u);
    EXPECT_EQ(ja->value->leader_id, a);
    EXPECT_TRUE(jb->value->members.empty());  // only the leader gets the metadata
}

TEST_F(GroupTest, InitialDelayIsCappedByTheRebalanceTimeout) {
    auto r = join_request("", "a");
    r.require_known_member_id = false;
    r.rebalance_timeout = 5000ms;
    auto first = join(r);
    // Members keep arriving every second; the delay may not exceed 5 s.
    std::vector<std::shared_ptr<slot<join_group_response>>> later;
    for (int i = 0; i < 4; ++i) {
        advance(1000ms);
        auto ri = join_request("", "m" + std::to_string(i));
        ri.require_known_member_id = false;
        ri.rebalance_timeout = 5000ms;
        later.push_back(join(ri));
    }
    EXPECT_FALSE(first->done());  // t=4000
    advance(1000ms);              // t=5000
    ASSERT_TRUE(first->done());
    EXPECT_EQ(first->value->members.size(), 5u);
}

TEST_F(GroupTest, MembersThatDoNotRejoinWithinTheRebalanceTimeoutAreDropped) {
    auto g = form_group(3);
    auto ja = join(join_request(g.ids[0]));  // the leader asks for a rebalance
    EXPECT_FALSE(ja->done());
    EXPECT_EQ(heartbeat(g.ids[1], g.generation), group_error::rebalance_in_progress);
    auto jb = join(join_request(g.ids[1]));
    EXPECT_FALSE(jb->done());
    // The third member keeps heartbeating but never rejoins.
    for (int i = 0; i < 9; ++i) {
        advance(3s);
        EXPECT_EQ(heartbeat(g.ids[2], g.generation), group_error::rebalance_in_progress);
    }
    EXPECT_FALSE(ja->done());
    advance(3s);  // 30 s: the rebalance timeout
    ASSERT_TRUE(ja->done());
    EXPECT_EQ(ja->value->generation_id, g.generation + 1);
    EXPECT_EQ(ja->value->members.size(), 2u);
    EXPECT_EQ(heartbeat(g.ids[2], g.generation), group_error::unknown_member_id);
}

TEST_F(GroupTest, InconsistentGroupProtocol) {
    auto empty_protocols = join_request("");
    empty_protocols.protocols.clear();
    EXPECT_EQ(join(empty_protocols)->value->error, group_error::inconsistent_group_protocol);
    auto no_type = join_request("");
    no_type.protocol_type = "";
    EXPECT_EQ(join(no_type)->value->error, group_error::inconsistent_group_protocol);

    auto g = form_group(1);
    auto other_type = join_request("");
    other_type.protocol_type = "connect";
    EXPECT_EQ(join(other_type)->value->error, group_error::inconsistent_group_protocol);
    auto other_protocol = join_request("");
    other_protocol.protocols = {{"roundrobin", subscription({"t"})}};
    EXPECT_EQ(join(other_protocol)->value->error, group_error::inconsistent_group_protocol);
    // A known member may not switch to a protocol the others lack either.
    auto member_switch = join_request(g.ids[0]);
    member_switch.protocols = {{"roundrobin", subscription({"t"})}};
    auto refused = join(member_switch);
    EXPECT_EQ(refused->value->error, group_error::inconsistent_group_protocol);
    EXPECT_EQ(refused->value->member_id, g.ids[0]);
}

TEST_F(GroupTest, ProtocolIsChosenByVoteAmongThoseEveryMemberSupports) {
    auto with = [&](std::string client, std::vector<std::string> names) {
        auto r = join_request("", client);
        r.require_known_member_id = false;
        r.protocols.clear();
        for (auto& n : names) {
            r.protocols.push_back({n, subscription({"t"})});
        }
        return join(r);
    };
    auto a = with("a", {"sticky", "range", "roundrobin"});
    auto b = with("b", {"roundrobin", "range"});
    auto c = with("c", {"roundrobin", "range", "sticky"});
    advance(6s);  // the initial delay, extended once
    // sticky is not supported by b; a votes range, b and c vote roundrobin.
    EXPECT_EQ(a->value->protocol_name, "roundrobin");
    EXPECT_EQ(b->value->protocol_name, "roundrobin");
}

TEST_F(GroupTest, ProtocolVoteTieGoesToTheLeadersPreference) {
    auto with = [&](std::string client, std::vector<std::string> names) {
        auto r = join_request("", client);
        r.require_known_member_id = false;
        r.protocols.clear();
        for (auto& n : names) {
            r.protocols.push_back({n, subscription({"t"})});
        }
        return join(r);
    };
    auto a = with("a", {"roundrobin", "range"});
    auto b = with("b", {"range", "roundrobin"});
    advance(6s);  // the initial delay, extended once
    EXPECT_EQ(a->value->protocol_name, "roundrobin");
}

TEST_F(GroupTest, GroupMaxSize) {
    config.max_group_size = 2;
    start();
    auto g = form_group(2);
    auto third = join_request("", "third");
    third.require_known_member_id = false;
    auto j = join(third);
    ASSERT_TRUE(j->done());
    EXPECT_EQ(j->value->error, group_error::group_max_size_reached);
    EXPECT_EQ(j->value->member_id, "");
    // Existing members still rejoin.
    auto again = join(join_request(g.ids[0]));
    EXPECT_FALSE(again->done());
}

TEST_F(GroupTest, AFullGroupLetsARestartedStaticMemberBack) {
    config.max_group_size = 2;
    start();
    auto j1 = join(join_request("", "c1", "i1"));
    auto j2 = join(join_request("", "c2", "i2"));
    advance(6s);  // the initial delay, extended once
    stable_group g;
    finish_rebalance(g, {j1, j2});
    auto rejoin = join(join_request("", "c2", "i2"));
    ASSERT_TRUE(rejoin->done());
    EXPECT_EQ(rejoin->value->error, group_error::none);
    EXPECT_EQ(join(join_request("", "c3", "i3"))->value->error,
              group_error::group_max_size_reached);
}

TEST_F(GroupTest, LeaderIsTheFirstJoinerAndIsKeptAcrossRebalances) {
    auto g = form_group(3);
    auto changed = join_request(g.ids[1]);  // a follower changes its subscription
    changed.protocols = {{"range", subscription({"t", "u"})}};
    auto jb = join(changed);
    auto ja = join(join_request(g.ids[0]));
    auto jc = join(join_request(g.ids[2]));
    ASSERT_TRUE(ja->done());
    EXPECT_EQ(ja->value->leader_id, g.ids[0]);
    EXPECT_EQ(jb->value->leader_id, g.ids[0]);
}

TEST_F(GroupTest, ANewLeaderIsChosenWhenTheLeaderDoesNotRejoin) {
    auto g = form_group(3);
    auto jb = join(join_request(g.ids[1], "x"));  // no change: Stable answers at once
    ASSERT_TRUE(jb->done());
    EXPECT_EQ(jb->value->generation_id, g.generation);
    // A follower changing its metadata starts a rebalance the leader misses.
    auto changed = join_request(g.ids[1]);
    changed.protocols = {{"range", subscription({"t", "u"})}};
    jb = join(changed);
    auto jc = join(join_request(g.ids[2]));
    advance(30s);
    ASSERT_TRUE(jb->done());
    EXPECT_EQ(jb->value->leader_id, g.ids[1]);  // the first of those that rejoined
    EXPECT_EQ(jb->value->members.size(), 2u);
    EXPECT_EQ(jc->value->leader_id, g.ids[1]);
}

TEST_F(GroupTest, ARetriedJoinReplacesTheWaitingOne) {
    std::string id;
    auto j1 = join_new("a", id);
    auto j2 = join(join_request(id, "a"));
    ASSERT_TRUE(j1->done());
    EXPECT_EQ(j1->value->error, group_error::rebalance_in_progress);
    EXPECT_FALSE(j2->done());
    advance(3s);
    EXPECT_EQ(j2->value->error, group_error::none);
    EXPECT_EQ(j1->calls, 1);
}

TEST_F(GroupTest, RejoinsWithoutChangeDuringCompletingRebalanceGetTheSameGeneration) {
    std::string a, b;
    auto ja = join_new("a", a);
    auto jb = join_new("b", b);
    advance(6s);  // the initial delay, extended once
    ASSERT_EQ(state(), group_state::completing_rebalance);
    auto again = join(join_request(a, "a"));  // lost its answer; asks again
    ASSERT_TRUE(again->done());
    EXPECT_EQ(again->value->generation_id, 1);
    EXPECT_EQ(again->value->members.size(), 2u);  // still the leader
    auto again_b = join(join_request(b, "b"));
    EXPECT_TRUE(again_b->value->members.empty());
    EXPECT_EQ(state(), group_state::completing_rebalance);
}

// ---- SyncGroup -------------------------------------------------------------------

TEST_F(GroupTest, FullJoinAndSyncOfThreeMembers) {
    std::string a, b, c;
    auto ja = join_new("a", a);
    auto jb = join_new("b", b);
    auto jc = join_new("c", c);
    EXPECT_EQ(state(), group_state::preparing_rebalance);
    advance(3s);
    EXPECT_FALSE(ja->done());  // b and c joined during the initial delay: 3 s more
    advance(3s);
    for (auto* j : {&ja, &jb, &jc}) {
        ASSERT_TRUE((*j)->done());
        EXPECT_EQ((*j)->value->generation_id, 1);
        EXPECT_EQ((*j)->value->leader_id, a);
        EXPECT_EQ((*j)->value->protocol_name, "range");
    }
    ASSERT_EQ(ja->value->members.size(), 3u);
    EXPECT_EQ(ja->value->members[0].member_id, a);
    EXPECT_EQ(ja->value->members[1].member_id, b);
    EXPECT_EQ(ja->value->members[2].member_id, c);

    log.hold = true;
    auto sb = sync(b, 1);
    auto sc = sync(c, 1);
    EXPECT_FALSE(sb->done());
    auto sa = sync(a, 1, assign(ja->value->members, partitions));
    // The assignment is durable before anyone gets it.
    EXPECT_FALSE(sa->done());
    EXPECT_FALSE(sb->done());
    EXPECT_EQ(state(), group_state::completing_rebalance);
    ASSERT_EQ(log.waiting(), 1u);
    log.complete_next();
    ASSERT_TRUE(sa->done() && sb->done() && sc->done());
    EXPECT_EQ(state(), group_state::stable);
    EXPECT_EQ(decode_assignment(sa->value->assignment), (owned{{"t", {0, 3}}}));
    EXPECT_EQ(decode_assignment(sb->value->assignment), (owned{{"t", {1, 4}}}));
    EXPECT_EQ(decode_assignment(sc->value->assignment), (owned{{"t", {2, 5}}}));
    EXPECT_EQ(sb->value->protocol_type, "consumer");
    EXPECT_EQ(sb->value->protocol_name, "range");

    // The durable group record holds generation, leader and assignments.
    ASSERT_EQ(log.durable.size(), 1u);
    auto v = group_records::decode_group_metadata_value(*log.durable[0].value);
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(v->generation, 1);
    EXPECT_EQ(v->leader, a);
    EXPECT_EQ(v->protocol, "range");
    ASSERT_EQ(v->members.size(), 3u);
    EXPECT_EQ(v->members[2].assignment, sc->value->assignment);
    EXPECT_EQ(v->members[2].subscription, subscription({"t"}));

    for (const auto& id : {a, b, c}) {
        EXPECT_EQ(heartbeat(id, 1), group_error::none);
    }
}

TEST_F(GroupTest, FailedAssignmentAppendAnswersEveryoneAndRebalances) {
    std::string a, b;
    auto ja = join_new("a", a);
    auto jb = join_new("b", b);
    advance(6s);  // the initial delay, extended once
    log.hold = true;
    auto sb = sync(b, 1);
    auto sa = sync(a, 1, assign(ja->value->members, partitions));
    log.complete_next(error(errc::io, "disk on fire"));
    ASSERT_TRUE(sa->done() && sb->done());
    EXPECT_EQ(sa->value->error, group_error::coordinator_not_available);
    EXPECT_EQ(sb->value->error, group_error::coordinator_not_available);
    EXPECT_EQ(state(), group_state::preparing_rebalance);
    EXPECT_EQ(heartbeat(a, 1), group_error::rebalance_in_progress);
}

TEST_F(GroupTest, FencedLogAnswersNotCoordinator) {
    std::string a;
    auto ja = join_new("a", a);
    advance(3s);
    log.hold = true;
    auto sa = sync(a, 1, assign(ja->value->members, partitions));
    log.complete_next(error(errc::conflict, "fenced"));
    EXPECT_EQ(sa->value->error, group_error::not_coordinator);
}

TEST_F(GroupTest, SyncValidation) {
    EXPECT_EQ(sync("x", 1)->value->error, group_error::unknown_member_id);  // no group
    auto g = form_group(2);
    EXPECT_EQ(sync("x", g.generation)->value->error, group_error::unknown_member_id);
    EXPECT_EQ(sync(g.ids[1], g.generation + 1)->value->error, group_error::illegal_generation);

    sync_group_request r;
    r.group_id = "g";
    r.generation_id = g.generation;
    r.member_id = g.ids[1];
    r.protocol_type = "connect";
    std::optional<sync_group_response> out;
    gc->sync_group(r, [&](sync_group_response s) { out = s; });
    EXPECT_EQ(out->error, group_error::inconsistent_group_protocol);
    r.protocol_type = "consumer";
    r.protocol_name = "roundrobin";
    gc->sync_group(r, [&](sync_group_response s) { out = s; });
    EXPECT_EQ(out->error, group_error::inconsistent_group_protocol);
    r.protocol_name = "range";
    gc->sync_group(r, [&](sync_group_response s) { out = s; });
    EXPECT_EQ(out->error, group_error::none);  // Stable: the current assignment at once
    EXPECT_EQ(decode_assignment(out->assignment), g.assignment[g.ids[1]]);

    r.group_id = "";
    gc->sync_group(r, [&](sync_group_response s) { out = s; });
    EXPECT_EQ(out->error, group_error::invalid_group_id);
}

TEST_F(GroupTest, WaitingFollowersLearnOfANewRebalance) {
    std::string a, b;
    auto ja = join_new("a", a);
    auto jb = join_new("b", b);
    advance(6s);  // the initial delay, extended once
    auto sb = sync(b, 1);
    EXPECT_FALSE(sb->done());
    std::string c;
    auto jc = join_new("c", c);  // a new member: rebalance
    ASSERT_TRUE(sb->done());
    EXPECT_EQ(sb->value->error, group_error::rebalance_in_progress);
    EXPECT_EQ(sync(a, 1)->value->error, group_error::rebalance_in_progress);
}

TEST_F(GroupTest, MembersThatDoNotSyncWithinTheRebalanceTimeoutAreRemoved) {
    std::string a, b;
    auto ja = join_new("a", a);
    auto jb = join_new("b", b);
    advance(6s);  // the initial delay, extended once
    auto sb = sync(b, 1);
    // The leader heartbeats but never syncs: after the rebalance timeout it
    // is removed, and the follower is told to rejoin.
    for (int i = 0; i < 5; ++i) {
        advance(5s);
        EXPECT_EQ(heartbeat(a, 1), group_error::none);
    }
    EXPECT_FALSE(sb->done());
    advance(5s);
    ASSERT_TRUE(sb->done());
    EXPECT_EQ(sb->value->error, group_error::rebalance_in_progress);
    EXPECT_EQ(state(), group_state::preparing_rebalance);
    EXPECT_EQ(heartbeat(a, 1), group_error::unknown_member_id);
    auto again = join(join_request(b, "b"));
    ASSERT_TRUE(again->done());  // the only member left has rejoined
    EXPECT_EQ(again->value->generation_id, 2);
    EXPECT_EQ(again->value->leader_id, b);
}

TEST_F(GroupTest, MembersLeftOutOfTheAssignmentGetAnEmptyOne) {
    std::string a, b;
    auto ja = join_new("a", a);
    auto jb = join_new("b", b);
    advance(6s);  // the initial delay, extended once
    auto sb = sync(b, 1);
    auto sa = sync(a, 1, {{a, encode_assignment({{"t", {0}}})}, {"stranger", {1, 2}}});
    EXPECT_EQ(sb->value->error, group_error::none);
    EXPECT_TRUE(sb->value->assignment.empty());
    EXPECT_EQ(decode_assignment(sa->value->assignment), (owned{{"t", {0}}}));
}

// ---- Heartbeat, session expiry -------------------------------------------------------

TEST_F(GroupTest, HeartbeatErrors) {
    EXPECT_EQ(heartbeat("x", 0), group_error::unknown_member_id);  // no group
    EXPECT_EQ(gc->heartbeat({"", 0, "x", {}}), group_error::invalid_group_id);
    auto g = form_group(2);
    EXPECT_EQ(heartbeat("x", g.generation), group_error::unknown_member_id);
    EXPECT_EQ(heartbeat(g.ids[1], g.generation - 1), group_error::illegal_generation);
    EXPECT_EQ(heartbeat(g.ids[1], g.generation), group_error::none);
    auto j = join(join_request(g.ids[0]));  // leader rejoins
    EXPECT_EQ(heartbeat(g.ids[1], g.generation), group_error::rebalance_in_progress);
}

TEST_F(GroupTest, HeartbeatsKeepAMemberAliveAndSilenceExpiresIt) {
    auto g = form_group(2);
    for (int i = 0; i < 10; ++i) {
        advance(9s);
        EXPECT_EQ(heartbeat(g.ids[0], g.generation), group_error::none);
        EXPECT_EQ(heartbeat(g.ids[1], g.generation), group_error::none);
    }
    advance(9s);
    EXPECT_EQ(heartbeat(g.ids[0], g.generation), group_error::none);
    advance(1s);  // member 1 silent for 10 s
    EXPECT_EQ(state(), group_state::preparing_rebalance);
    EXPECT_EQ(heartbeat(g.ids[1], g.generation), group_error::unknown_member_id);
}

TEST_F(GroupTest, AMemberCrashMakesTheOthersTakeAllPartitions) {
    auto g = form_group(3);
    expect_all_partitions_owned(g, {g.ids[0], g.ids[1], g.ids[2]});
    // The third member crashes; the others heartbeat every 3 s.
    std::vector<std::shared_ptr<slot<join_group_response>>> joins;
    for (int i = 0; i < 4 && joins.empty(); ++i) {
        advance(3s);
        for (int m = 0; m < 2; ++m) {
            group_error e = heartbeat(g.ids[m], g.generation);
            if (e == group_error::rebalance_in_progress) {
                joins.push_back(join(join_request(g.ids[m], "client" + std::to_string(m))));
            } else {
                EXPECT_EQ(e, group_error::none);
            }
        }
    }
    // Found at 12 s (the crash was noticed at 10 s); both rejoined.
    ASSERT_EQ(joins.size(), 2u);
    ASSERT_TRUE(joins[0]->done() && joins[1]->done());  // no wait: all remaining rejoined
    EXPECT_EQ(joins[0]->value->generation_id, g.generation + 1);
    EXPECT_EQ(joins[0]->value->members.size(), 2u);
    stable_group after;
    finish_rebalance(after, joins);
    expect_all_partitions_owned(after, {g.ids[0], g.ids[1]});
    EXPECT_EQ(after.assignment.size(), 2u);
    EXPECT_EQ(gc->describe_group("g").members.size(), 2u);
}

TEST_F(GroupTest, MembersWaitingForARebalanceDoNotExpire) {
    auto g = form_group(2);
    auto ja = join(join_request(g.ids[0]));
    // 25 s: longer than the session timeout, within the rebalance timeout.
    for (int i = 0; i < 5; ++i) {
        advance(5s);
        EXPECT_EQ(heartbeat(g.ids[1], g.generation), group_error::rebalance_in_progress);
    }
    EXPECT_FALSE(ja->done());
    auto jb = join(join_request(g.ids[1]));
    ASSERT_TRUE(ja->done());
    EXPECT_EQ(ja->value->members.size(), 2u);
}

TEST_F(GroupTest, NewMemberJoinTimesOut) {
    config.new_member_join_timeout = 20s;
    start();
    auto g = form_group(1);
    // The leader heartbeats but does not rejoin, so the rebalance waits its
    // full timeout; a new member waits no longer than the new-member timeout.
    std::string id;
    auto jn = join_new("new", id);
    for (int i = 0; i < 3; ++i) {
        advance(5s);
        EXPECT_EQ(heartbeat(g.ids[0], g.generation), group_error::rebalance_in_progress);
    }
    EXPECT_FALSE(jn->done());
    advance(5s);
    ASSERT_TRUE(jn->done());
    EXPECT_EQ(jn->value->error, group_error::unknown_member_id);
    EXPECT_EQ(jn->value->member_id, "");
    advance(10s);  // the rebalance timeout drops the leader, which never rejoined
    EXPECT_EQ(state(), group_state::empty);
}

// ---- LeaveGroup -----------------------------------------------------------------------

TEST_F(GroupTest, LeaveOfOneMemberTriggersARebalance) {
    auto g = form_group(2);
    auto r = gc->leave_group({"g", {{g.ids[1], {}}}});
    EXPECT_EQ(r.error, group_error::none);
    ASSERT_EQ(r.members.size(), 1u);
    EXPECT_EQ(r.members[0].error, group_error::none);
    EXPECT_EQ(state(), group_state::preparing_rebalance);
    auto ja = join(join_request(g.ids[0]));
    ASSERT_TRUE(ja->done());
    EXPECT_EQ(ja->value->members.size(), 1u);
}

TEST_F(GroupTest, LeaveInABatchWithPerMemberErrors) {
    auto ri = join_request("", "s", "instance-1");
    ri.require_known_member_id = false;
    auto js = join(ri);
    std::string a;
    auto ja = join_new("a", a);
    advance(6s);  // the initial delay, extended once
    std::string s = js->value->member_id;
    auto r = gc->leave_group(
        {"g", {{"ghost", {}}, {"wrong-id", "instance-1"}, {"", "instance-unknown"}, {a, {}}}});
    ASSERT_EQ(r.members.size(), 4u);
    EXPECT_EQ(r.members[0].error, group_error::unknown_member_id);
    EXPECT_EQ(r.members[1].error, group_error::fenced_instance_id);
    EXPECT_EQ(r.members[1].group_instance_id, "instance-1");
    EXPECT_EQ(r.members[2].error, group_error::unknown_member_id);
    EXPECT_EQ(r.members[3].error, group_error::none);
    // An administrator removes the static member by instance id alone.
    r = gc->leave_group({"g", {{"", "instance-1"}}});
    EXPECT_EQ(r.members[0].error, group_error::none);
    EXPECT_TRUE(gc->describe_group("g").members.empty());
    EXPECT_EQ(gc->leave_group({"nope", {{"x", {}}}}).members[0].error,
              group_error::unknown_member_id);
    EXPECT_EQ(gc->leave_group({"", {{"x", {}}}}).error, group_error::invalid_group_id);
}

TEST_F(GroupTest, LastMemberLeavingEmptiesTheGroupAndBumpsTheGeneration) {
    auto g = form_group(1);
    size_t records = log.durable.size();
    gc->leave_group({"g", {{g.ids[0], {}}}});
    EXPECT_EQ(state(), group_state::empty);
    ASSERT_EQ(log.durable.size(), records + 1);
    auto v = group_records::decode_group_metadata_value(*log.durable.back().value);
    EXPECT_EQ(v->generation, g.generation + 1);
    EXPECT_TRUE(v->members.empty());
    EXPECT_FALSE(v->protocol.has_value());
    EXPECT_EQ(v->protocol_type, "consumer");
    EXPECT_EQ(v->current_state_timestamp_ms, now.time_since_epoch().count());
}

TEST_F(GroupTest, PendingMemberMayLeave) {
    auto first = join(join_request("", "p"));
    auto r = gc->leave_group({"g", {{first->value->member_id, {}}}});
    EXPECT_EQ(r.members[0].error, group_error::none);
    EXPECT_EQ(join(join_request(first->value->member_id, "p"))->value->error,
              group_error::unknown_member_id);
}

// ---- static membership ---------------------------------------------------------------------

TEST_F(GroupTest, StaticMemberRejoinsWithoutRebalance) {
    std::map<std::string, std::shared_ptr<slot<join_group_response>>> joins;
    for (std::string instance : {"i1", "i2"}) {
        auto r = join_request("", "c-" + instance, instance);
        joins[instance] = join(r);
        EXPECT_FALSE(joins[instance]->done());  // static members need no member id round trip
    }
    advance(6s);  // the initial delay, extended once
    std::vector<std::shared_ptr<slot<join_group_response>>> list{joins["i1"], joins["i2"]};
    stable_group g;
    finish_rebalance(g, list);
    std::string old_id = g.ids[1];
    size_t appends = log.appends;

    // i2 restarts: it joins again without its member id and the same metadata.
    auto rejoin = join(join_request("", "c-i2", "i2"));
    ASSERT_TRUE(rejoin->done());
    EXPECT_EQ(rejoin->value->error, group_error::none);
    EXPECT_NE(rejoin->value->member_id, old_id);
    EXPECT_EQ(rejoin->value->generation_id, g.generation);  // no new generation
    EXPECT_EQ(rejoin->value->leader_id, g.ids[0]);
    EXPECT_EQ(state(), group_state::stable);
    EXPECT_EQ(log.appends, appends + 1);  // its new member id is made durable
    std::string new_id = rejoin->value->member_id;

    auto s = sync(new_id, g.generation, {}, "i2");
    ASSERT_TRUE(s->done());
    EXPECT_EQ(decode_assignment(s->value->assignment), g.assignment[old_id]);
    // The old incarnation is fenced.
    EXPECT_EQ(heartbeat(old_id, g.generation, "i2"), group_error::fenced_instance_id);
    EXPECT_EQ(heartbeat(new_id, g.generation, "i2"), group_error::none);
    EXPECT_EQ(heartbeat(g.ids[0], g.generation), group_error::none);
}

TEST_F(GroupTest, StaticLeaderRejoiningIsToldToSkipTheAssignment) {
    auto r1 = join_request("", "c1", "i1");
    auto r2 = join_request("", "c2", "i2");
    auto j1 = join(r1);
    auto j2 = join(r2);
    advance(6s);  // the initial delay, extended once
    stable_group g;
    finish_rebalance(g, {j1, j2});
    // Before v9, a restarted leader is told the old leader id: it syncs as a
    // follower and gets its assignment back.
    auto old_style = join(join_request("", "c1", "i1"));
    EXPECT_EQ(old_style->value->leader_id, g.ids[0]);
    EXPECT_NE(old_style->value->member_id, g.ids[0]);
    EXPECT_TRUE(old_style->value->members.empty());
    EXPECT_FALSE(old_style->value->skip_assignment);
    // v9: it learns it leads (leader id = its new id, members listed) but
    // must skip the assignment.
    auto v9 = join_request("", "c1", "i1");
    v9.supports_skip_assignment = true;
    auto j = join(v9);
    EXPECT_EQ(j->value->leader_id, j->value->member_id);
    EXPECT_TRUE(j->value->skip_assignment);
    EXPECT_EQ(j->value->members.size(), 2u);
    EXPECT_EQ(state(), group_state::stable);
}

TEST_F(GroupTest, StaticMemberWithAnotherProtocolChoiceRebalances) {
    auto j1 = join(join_request("", "c1", "i1"));
    auto r2 = join_request("", "c2", "i2");
    r2.protocols = {{"range", subscription({"t"})}, {"roundrobin", subscription({"t"})}};
    auto j2 = join(r2);
    advance(6s);  // the initial delay, extended once
    stable_group g;
    finish_rebalance(g, {j1, j2});
    // i1 comes back preferring roundrobin: the vote now ties, and the
    // leader (i1) prefers roundrobin, so the choice would change.
    auto r1 = join_request("", "c1", "i1");
    r1.protocols = {{"roundrobin", subscription({"t"})}, {"range", subscription({"t"})}};
    auto again = join(r1);
    EXPECT_FALSE(again->done());
    EXPECT_EQ(state(), group_state::preparing_rebalance);
}

TEST_F(GroupTest, StaticMemberRejoinFailingToPersistKeepsTheOldId) {
    auto j1 = join(join_request("", "c1", "i1"));
    auto j2 = join(join_request("", "c2", "i2"));
    advance(6s);  // the initial delay, extended once
    stable_group g;
    finish_rebalance(g, {j1, j2});
    log.hold = true;
    auto rejoin = join(join_request("", "c2", "i2"));
    EXPECT_FALSE(rejoin->done());
    log.complete_next(error(errc::io, "boom"));
    ASSERT_TRUE(rejoin->done());
    EXPECT_EQ(rejoin->value->error, group_error::coordinator_not_available);
    EXPECT_EQ(heartbeat(g.ids[1], g.generation, "i2"), group_error::none);
}

TEST_F(GroupTest, StaticMemberThatDoesNotRejoinStaysThroughARebalance) {
    auto j1 = join(join_request("", "c1", "i1"));
    auto j2 = join(join_request("", "c2", "i2"));
    advance(6s);  // the initial delay, extended once
    stable_group g;
    finish_rebalance(g, {j1, j2});
    auto ja = join(join_request(g.ids[0], "c1", "i1"));  // the leader rejoins
    // i2 heartbeats but does not rejoin.
    for (int i = 0; i < 3; ++i) {
        advance(9s);
        EXPECT_EQ(heartbeat(g.ids[1], g.generation, "i2"), group_error::rebalance_in_progress);
    }
    EXPECT_FALSE(ja->done());
    advance(3s);  // the rebalance timeout: the static member is kept
    ASSERT_TRUE(ja->done());
    EXPECT_EQ(ja->value->members.size(), 2u);
    // ...until its session expires (restarted when the join phase ended).
    advance(9s);
    EXPECT_EQ(heartbeat(g.ids[0], g.generation + 1, "i1"), group_error::none);
    EXPECT_EQ(gc->describe_group("g").members.size(), 2u);
    advance(1s);
    EXPECT_EQ(gc->describe_group("g").members.size(), 1u);
}

TEST_F(GroupTest, StaleStaticMemberIdIsFenced) {
    auto j1 = join(join_request("", "c1", "i1"));
    advance(3s);
    std::string id = j1->value->member_id;
    EXPECT_EQ(join(join_request("other", "c1", "i1"))->value->error,
              group_error::fenced_instance_id);
    EXPECT_EQ(join(join_request(id, "c1", "i9"))->value->error, group_error::unknown_member_id);
    EXPECT_EQ(sync("other", 1, {}, "i1")->value->error, group_error::fenced_instance_id);
    auto s = sync(id, 1, {}, "i1");  // the leader's sync: Stable
    auto rejoin = join(join_request("", "c1", "i1"));
    EXPECT_EQ(rejoin->value->error, group_error::none);
    EXPECT_EQ(heartbeat(id, 1, "i1"), group_error::fenced_instance_id);
    EXPECT_EQ((*commit(id, 1, {at("t", 0, 1)}, "g", "i1"))[0].error,
              group_error::fenced_instance_id);
}

TEST_F(GroupTest, WaitingJoinOfAReplacedStaticIncarnationIsFenced) {
    auto j1 = join(join_request("", "c1", "i1"));
    std::string b;
    auto jb = join_new("c2", b);
    advance(6s);  // the initial delay, extended once
    stable_group g;
    finish_rebalance(g, {j1, jb});
    // The leader i1 rejoins (a rebalance) and waits for b...
    auto old_incarnation = join(join_request(g.ids[0], "c1", "i1"));
    EXPECT_FALSE(old_incarnation->done());
    // ...then i1 restarts and joins without member id: the old wait is fenced
    // and the new incarnation takes its place in the rebalance.
    auto fresh = join(join_request("", "c1", "i1"));
    ASSERT_TRUE(old_incarnation->done());
    EXPECT_EQ(old_incarnation->value->error, group_error::fenced_instance_id);
    EXPECT_FALSE(fresh->done());
    auto jb2 = join(join_request(b, "c2"));
    ASSERT_TRUE(fresh->done());  // everyone has rejoined
    EXPECT_EQ(fresh->value->error, group_error::none);
    EXPECT_EQ(fresh->value->generation_id, g.generation + 1);
    EXPECT_EQ(fresh->value->leader_id, fresh->value->member_id);  // it kept the lead
    EXPECT_EQ(fresh->value->members.size(), 2u);
    EXPECT_EQ(jb2->value->leader_id, fresh->value->member_id);
}

// ---- offsets ------------------------------------------------------------------------------

TEST_F(GroupTest, SimpleCommitsNeedNoGroupAndAreFetched) {
    auto c =
        commit("", -1, {at("t", 0, 100, "hello", 7), at("t", 1, 200), at("u", 0, 5)}, "simple");
    ASSERT_TRUE(c->done());
    for (const auto& r : **c) {
        EXPECT_EQ(r.error, group_error::none);
    }
    auto all = gc->fetch_offsets("simple", std::nullopt);
    ASSERT_EQ(all.partitions.size(), 3u);
    EXPECT_EQ(all.partitions[0].partition, (topic_partition{"t", 0}));
    EXPECT_EQ(all.partitions[0].offset, 100);
    EXPECT_EQ(all.partitions[0].leader_epoch, 7);
    EXPECT_EQ(all.partitions[0].metadata, "hello");
    EXPECT_EQ(all.partitions[2].partition, (topic_partition{"u", 0}));

    auto some = gc->fetch_offsets("simple", std::vector<topic_partition>{{"t", 1}, {"t", 9}});
    ASSERT_EQ(some.partitions.size(), 2u);
    EXPECT_EQ(some.partitions[0].offset, 200);
    EXPECT_EQ(some.partitions[1].offset, -1);
    EXPECT_EQ(some.partitions[1].metadata, "");
    EXPECT_EQ(some.partitions[1].error, group_error::none);
    EXPECT_TRUE(gc->fetch_offsets("none", std::nullopt).partitions.empty());

    auto d = gc->describe_group("simple");
    EXPECT_EQ(d.state, group_state::empty);
    EXPECT_EQ(d.protocol_type, "");
}

TEST_F(GroupTest, CommitValidation) {
    EXPECT_EQ((*commit("m", 3, {at("t", 0, 1)}, "nogroup"))[0].error,
              group_error::illegal_generation);
    auto g = form_group(2);
    EXPECT_EQ((*commit("", -1, {at("t", 0, 1)}))[0].error, group_error::unknown_member_id);
    EXPECT_EQ((*commit("x", g.generation, {at("t", 0, 1)}))[0].error,
              group_error::unknown_member_id);
    EXPECT_EQ((*commit(g.ids[0], g.generation + 1, {at("t", 0, 1)}))[0].error,
              group_error::illegal_generation);
    EXPECT_EQ((*commit(g.ids[0], g.generation, {at("t", 0, 1)}))[0].error, group_error::none);
    // During PreparingRebalance the current generation may still commit.
    auto ja = join(join_request(g.ids[0]));
    EXPECT_EQ((*commit(g.ids[1], g.generation, {at("t", 1, 1)}))[0].error, group_error::none);
    // In CompletingRebalance nobody may.
    auto jb = join(join_request(g.ids[1]));
    ASSERT_EQ(state(), group_state::completing_rebalance);
    EXPECT_EQ((*commit(g.ids[1], g.generation + 1, {at("t", 1, 2)}))[0].error,
              group_error::rebalance_in_progress);
    // Once empty, simple commits are allowed again, members' are not.
    gc->leave_group({"g", {{g.ids[0], {}}, {g.ids[1], {}}}});
    ASSERT_EQ(state(), group_state::empty);
    EXPECT_EQ((*commit("", -1, {at("t", 0, 9)}))[0].error, group_error::none);
    EXPECT_EQ((*commit(g.ids[0], g.generation + 2, {at("t", 0, 9)}))[0].error,
              group_error::unknown_member_id);
}

TEST_F(GroupTest, StaticMemberCommitWithAStaleIdIsFenced) {
    auto j1 = join(join_request("", "c1", "i1"));
    advance(3s);
    stable_group g;
    finish_rebalance(g, {j1});
    EXPECT_EQ((*commit("stale", 1, {at("t", 0, 1)}, "g", "i1"))[0].error,
              group_error::fenced_instance_id);
    EXPECT_EQ((*commit(g.ids[0], 1, {at("t", 0, 1)}, "g", "i1"))[0].error, group_error::none);
}

TEST_F(GroupTest, OffsetMetadataTooLarge) {
    std::string big(4097, 'x');
    std::string fits(4096, 'x');
    size_t appends = log.appends;
    auto c = commit("", -1, {at("t", 0, 1, big), at("t", 1, 2, fits)}, "s");
    EXPECT_EQ((*c)[0].error, group_error::offset_metadata_too_large);
    EXPECT_EQ((*c)[1].error, group_error::none);
    EXPECT_EQ(committed("s", {"t", 0}), std::nullopt);
    EXPECT_EQ(committed("s", {"t", 1}), 2);
    auto all_big = commit("", -1, {at("t", 0, 1, big)}, "s");
    EXPECT_EQ((*all_big)[0].error, group_error::offset_metadata_too_large);
    EXPECT_EQ(log.appends, appends + 1);  // nothing to write for the second
}

TEST_F(GroupTest, CommitAnswersOnlyOnceDurable) {
    log.hold = true;
    auto c = commit("", -1, {at("t", 0, 42)}, "s");
    EXPECT_FALSE(c->done());
    EXPECT_EQ(committed("s", {"t", 0}), std::nullopt);
    log.complete_next();
    ASSERT_TRUE(c->done());
    EXPECT_EQ((*c)[0].error, group_error::none);
    EXPECT_EQ(committed("s", {"t", 0}), 42);
}

TEST_F(GroupTest, FailedCommitAppends) {
    log.hold = true;
    auto c1 = commit("", -1, {at("t", 0, 1)}, "s");
    auto c2 = commit("", -1, {at("t", 0, 2)}, "s");
    auto c3 = commit("", -1, {at("t", 0, 3)}, "s");
    log.complete_next(error(errc::io, "x"));
    log.complete_next(error(errc::too_large, "x"));
    log.complete_next(error(errc::conflict, "x"));
    EXPECT_EQ((*c1)[0].error, group_error::coordinator_not_available);
    EXPECT_EQ((*c2)[0].error, group_error::invalid_commit_offset_size);
    EXPECT_EQ((*c3)[0].error, group_error::not_coordinator);
    EXPECT_EQ(committed("s", {"t", 0}), std::nullopt);
}

TEST_F(GroupTest, CommitsApplyInLogOrder) {
    log.hold = true;
    auto c1 = commit("", -1, {at("t", 0, 1)}, "s");
    auto c2 = commit("", -1, {at("t", 0, 2)}, "s");
    log.complete_next();
    EXPECT_EQ(committed("s", {"t", 0}), 1);
    log.complete_next();
    EXPECT_EQ(committed("s", {"t", 0}), 2);
}

TEST_F(GroupTest, OffsetDelete) {
    EXPECT_EQ(delete_offsets("nope", {{"t", 0}})->value->error, group_error::group_id_not_found);
    EXPECT_EQ(delete_offsets("", {{"t", 0}})->value->error, group_error::invalid_group_id);
    commit("", -1, {at("t", 0, 1), at("t", 1, 1)}, "s");
    auto d = delete_offsets("s", {{"t", 0}});
    ASSERT_TRUE(d->done());
    EXPECT_EQ(d->value->error, group_error::none);
    ASSERT_EQ(d->value->partitions.size(), 1u);
    EXPECT_EQ(d->value->partitions[0].error, group_error::none);
    EXPECT_EQ(committed("s", {"t", 0}), std::nullopt);
    EXPECT_EQ(committed("s", {"t", 1}), 1);
    ASSERT_FALSE(log.durable.back().value.has_value());  // a tombstone
    // Deleting the last offset of an empty group leaves the group until the
    // retention check removes it (as Kafka's periodic cleanup does), so it
    // can still be deleted by name in between.
    delete_offsets("s", {{"t", 1}});
    EXPECT_EQ(gc->describe_group("s").state, group_state::empty);
    EXPECT_EQ(gc->list_groups().size(), 1u);
    advance(config.offsets_retention_check_interval);
    EXPECT_EQ(gc->describe_group("s").state, group_state::dead);
    EXPECT_TRUE(gc->list_groups().empty());
    commit("", -1, {at("t", 0, 1)}, "s2");
    delete_offsets("s2", {{"t", 0}});
    auto deleted = delete_groups({"s2"});
    ASSERT_TRUE(deleted->done());
    ASSERT_EQ(deleted->value->size(), 1u);
    EXPECT_EQ((*deleted->value)[0].error, group_error::none);
}

TEST_F(GroupTest, OffsetDeleteRefusesTopicsAConsumerGroupSubscribesTo) {
    auto g = form_group(2);
    commit(g.ids[0], g.generation, {at("t", 0, 5), at("old", 0, 7)});
    auto d = delete_offsets("g", {{"t", 0}, {"old", 0}});
    ASSERT_TRUE(d->done());
    EXPECT_EQ(d->value->error, group_error::none);
    EXPECT_EQ(d->value->partitions[0].error, group_error::group_subscribed_to_topic);
    EXPECT_EQ(d->value->partitions[1].error, group_error::none);
    EXPECT_EQ(committed("g", {"t", 0}), 5);
    EXPECT_EQ(committed("g", {"old", 0}), std::nullopt);
}

TEST_F(GroupTest, OffsetDeleteOfANonConsumerGroupWithMembersIsRefused) {
    auto r = join_request("", "c");
    r.protocol_type = "connect";
    r.protocols = {{"v1", {1, 2, 3}}};
    r.require_known_member_id = false;
    auto j = join(r);
    advance(3s);
    EXPECT_EQ(delete_offsets("g", {{"t", 0}})->value->error, group_error::non_empty_group);
}

TEST_F(GroupTest, OffsetDeleteIsNotUndoneByACommitStillInFlight) {
    commit("", -1, {at("t", 1, 1)}, "s");  // keeps the group alive
    log.hold = true;
    auto c = commit("", -1, {at("t", 0, 1)}, "s");
    auto d = delete_offsets("s", {{"t", 0}});
    log.complete_all();
    EXPECT_EQ((*c)[0].error, group_error::none);
    EXPECT_EQ(d->value->partitions[0].error, group_error::none);
    EXPECT_EQ(committed("s", {"t", 0}), std::nullopt);
    restart();  // the log agrees
    EXPECT_EQ(committed("s", {"t", 0}), std::nullopt);
    EXPECT_EQ(committed("s", {"t", 1}), 1);
}

TEST_F(GroupTest, DeleteGroups) {
    auto g = form_group(1);
    commit("", -1, {at("t", 0, 1)}, "s");
    log.hold = true;
    auto d = delete_groups({"s", "g", "nope", "s"});
    EXPECT_FALSE(d->done());  // answered once the tombstones are durable
    EXPECT_EQ(gc->describe_group("s").state, group_state::dead);
    log.complete_next();
    ASSERT_TRUE(d->done());
    EXPECT_EQ(**d, (std::vector<delete_group_result>{{"s", group_error::none},
                                                     {"g", group_error::non_empty_group},
                                                     {"nope", group_error::group_id_not_found}}));
    EXPECT_EQ(committed("s", {"t", 0}), std::nullopt);
    log.hold = false;
    restart();
    EXPECT_EQ(gc->describe_group("s").state, group_state::dead);
    EXPECT_EQ(gc->describe_group("g").state, group_state::stable);
}

// ---- retention -----------------------------------------------------------------------------

TEST_F(GroupTest, OffsetsOfASimpleGroupExpireSevenDaysAfterTheirCommit) {
    commit("", -1, {at("t", 0, 1)}, "s");
    advance(std::chrono::hours(24 * 3));
    commit("", -1, {at("t", 1, 1)}, "s");
    advance(std::chrono::hours(24 * 4));  // 7 days after the first commit (+ check interval)
    advance(10min);
    EXPECT_EQ(committed("s", {"t", 0}), std::nullopt);
    EXPECT_EQ(committed("s", {"t", 1}), 1);
    advance(std::chrono::hours(24 * 3));
    EXPECT_EQ(gc->describe_group("s").state, group_state::dead);  // no offsets left
    // Tombstones for both offsets and the group.
    int tombstones = 0;
    for (const auto& r : log.durable) {
        tombstones += r.value ? 0 : 1;
    }
    EXPECT_EQ(tombstones, 3);
}

TEST_F(GroupTest, OffsetsOfAnEmptyGroupExpireSevenDaysAfterItBecameEmpty) {
    auto g = form_group(1);
    commit(g.ids[0], g.generation, {at("t", 0, 1)});
    // Members keep the group alive (and their offsets) for 8 days.
    for (auto end = now + std::chrono::hours(24 * 8); now < end;) {
        now += 9s;
        ASSERT_EQ(heartbeat(g.ids[0], g.generation), group_error::none);
    }
    EXPECT_EQ(committed("g", {"t", 0}), 1);
    gc->leave_group({"g", {{g.ids[0], {}}}});
    advance(std::chrono::hours(24 * 7) - 1min);
    EXPECT_EQ(committed("g", {"t", 0}), 1);
    advance(11min);  // the next check (every 10 minutes)
    EXPECT_EQ(committed("g", {"t", 0}), std::nullopt);
    EXPECT_EQ(gc->describe_group("g").state, group_state::dead);
}

TEST_F(GroupTest, AStableConsumerGroupLosesOnlyOffsetsOfTopicsItNoLongerReads) {
    auto g = form_group(1);
    commit(g.ids[0], g.generation, {at("t", 0, 1), at("gone", 0, 1)});
    for (auto end = now + std::chrono::hours(24 * 7) + 10min; now < end;) {
        now += 9s;
        ASSERT_EQ(heartbeat(g.ids[0], g.generation), group_error::none);
    }
    EXPECT_EQ(committed("g", {"t", 0}), 1);
    EXPECT_EQ(committed("g", {"gone", 0}), std::nullopt);
}

TEST_F(GroupTest, ACommitMayCarryItsOwnExpiry) {
    auto p = at("t", 0, 1);
    p.expire_timestamp = now + 1h;
    commit("", -1, {p}, "s");
    commit("", -1, {at("t", 1, 1)}, "s");
    advance(1h - 1min);
    EXPECT_EQ(committed("s", {"t", 0}), 1);
    advance(11min);  // the next check (every 10 minutes)
    EXPECT_EQ(committed("s", {"t", 0}), std::nullopt);
    EXPECT_EQ(committed("s", {"t", 1}), 1);
}

// ---- describe, list ------------------------------------------------------------------------

TEST_F(GroupTest, DescribeAndList) {
    auto g = form_group(2);
    auto d = gc->describe_group("g");
    EXPECT_EQ(d.error, group_error::none);
    EXPECT_EQ(d.state, group_state::stable);
    EXPECT_EQ(group_state_name(d.state), "Stable");
    EXPECT_EQ(d.protocol_type, "consumer");
    EXPECT_EQ(d.protocol_data, "range");
    ASSERT_EQ(d.members.size(), 2u);
    EXPECT_EQ(d.members[0].member_id, g.ids[0]);
    EXPECT_EQ(d.members[0].client_id, "client0");
    EXPECT_EQ(d.members[0].client_host, "/127.0.0.1");
    EXPECT_EQ(d.members[0].metadata, subscription({"t"}));
    EXPECT_EQ(decode_assignment(d.members[1].assignment), g.assignment[g.ids[1]]);

    auto j = join(join_request(g.ids[0]));  // rebalancing: no metadata shown
    d = gc->describe_group("g");
    EXPECT_EQ(d.state, group_state::preparing_rebalance);
    EXPECT_EQ(d.protocol_data, "");
    EXPECT_TRUE(d.members[0].metadata.empty());
    EXPECT_TRUE(d.members[0].assignment.empty());

    EXPECT_EQ(gc->describe_group("nope").state, group_state::dead);
    EXPECT_EQ(gc->describe_group("nope").error, group_error::none);

    commit("", -1, {at("t", 0, 1)}, "a-simple");
    auto all = gc->list_groups();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].group_id, "a-simple");
    EXPECT_EQ(all[0].protocol_type, "");
    EXPECT_EQ(all[0].state, group_state::empty);
    EXPECT_EQ(all[1].group_id, "g");
    EXPECT_EQ(all[1].protocol_type, "consumer");
    EXPECT_EQ(all[1].type, "classic");
    EXPECT_EQ(gc->list_groups({"preparingrebalance"}).size(), 1u);
    EXPECT_EQ(gc->list_groups({"Stable", "Empty"}).size(), 1u);
    EXPECT_EQ(gc->list_groups({}, {"consumer"}).size(), 0u);
    EXPECT_EQ(gc->list_groups({}, {"Classic"}).size(), 2u);
}

// ---- replay after a restart ---------------------------------------------------------------------

TEST_F(GroupTest, ReplayRestoresGroupsMembersAssignmentsAndOffsets) {
    auto j1 = join(join_request("", "c1", "i1"));
    std::string b;
    auto jb = join_new("c2", b);
    advance(6s);  // the initial delay, extended once
    stable_group g;
    finish_rebalance(g, {j1, jb});
    commit(g.ids[0], g.generation, {at("t", 0, 10, "m0", 3), at("t", 1, 11)});
    commit(g.ids[1], g.generation, {at("t", 1, 12)});
    commit("", -1, {at("x", 0, 1)}, "simple");
    auto before = gc->describe_group("g");

    for (bool compact : {false, true}) {
        restart(compact);
        auto after = gc->describe_group("g");
        EXPECT_EQ(after.state, group_state::stable);
        EXPECT_EQ(after.protocol_data, "range");
        ASSERT_EQ(after.members.size(), 2u);
        for (size_t i = 0; i < 2; ++i) {
            EXPECT_EQ(after.members[i].member_id, before.members[i].member_id);
            EXPECT_EQ(after.members[i].group_instance_id, before.members[i].group_instance_id);
            EXPECT_EQ(after.members[i].client_id, before.members[i].client_id);
            EXPECT_EQ(after.members[i].metadata, before.members[i].metadata);
            EXPECT_EQ(after.members[i].assignment, before.members[i].assignment);
        }
        auto f = gc->fetch_offsets("g", std::nullopt);
        ASSERT_EQ(f.partitions.size(), 2u);
        EXPECT_EQ(f.partitions[0].offset, 10);
        EXPECT_EQ(f.partitions[0].leader_epoch, 3);
        EXPECT_EQ(f.partitions[0].metadata, "m0");
        EXPECT_EQ(f.partitions[1].offset, 12);
        EXPECT_EQ(committed("simple", {"x", 0}), 1);
        // Members carry on with their generation.
        EXPECT_EQ(heartbeat(g.ids[0], g.generation, "i1"), group_error::none);
        EXPECT_EQ(heartbeat(g.ids[1], g.generation), group_error::none);
    }

    // The static member restarts too: it gets its assignment with no
    // rebalance.
    auto rejoin = join(join_request("", "c1", "i1"));
    ASSERT_TRUE(rejoin->done());
    EXPECT_EQ(rejoin->value->generation_id, g.generation);
    auto s = sync(rejoin->value->member_id, g.generation, {}, "i1");
    EXPECT_EQ(decode_assignment(s->value->assignment), g.assignment[g.ids[0]]);
    EXPECT_EQ(state(), group_state::stable);

    // A member that never comes back after the restart expires.
    advance(10s);
    EXPECT_EQ(heartbeat(g.ids[1], g.generation), group_error::unknown_member_id);
}

TEST_F(GroupTest, ReplayHasCompactedSemantics) {
    using namespace group_records;
    auto offset_record = [](std::string group, int32_t p, std::optional<int64_t> offset) {
        log_record r;
        r.key = encode_key(offset_commit_key{std::move(group), "t", p});
        if (offset) {
            r.value = encode_value(offset_commit_value{*offset, -1, "", 1, std::nullopt});
        }
        return r;
    };
    group_metadata_value gv;
    gv.protocol_type = "consumer";
    gv.generation = 5;
    std::vector<log_record> records{
        offset_record("a", 0, 1),
        offset_record("a", 0, 2),  // the last value wins
        offset_record("a", 1, 3),
        offset_record("a", 1, std::nullopt),  // a tombstone deletes
        {encode_key(group_metadata_key{"a"}), encode_value(gv)},
        {encode_key(group_metadata_key{"a"}), std::nullopt},  // group gone, offsets stay
        offset_record("b", 0, 1),
        offset_record("b", 0, std::nullopt),  // nothing left of b
        {encode_key(group_metadata_key{"c"}), encode_value(gv)},
    };
    ASSERT_TRUE(gc->replay(records).has_value());
    EXPECT_EQ(committed("a", {"t", 0}), 2);
    EXPECT_EQ(committed("a", {"t", 1}), std::nullopt);
    auto a = gc->describe_group("a");
    EXPECT_EQ(a.state, group_state::empty);
    EXPECT_EQ(a.protocol_type, "");
    EXPECT_EQ(gc->describe_group("b").state, group_state::dead);
    auto c = gc->describe_group("c");
    EXPECT_EQ(c.state, group_state::empty);
    EXPECT_EQ(c.protocol_type, "consumer");

    // Key type 99: not one Floe knows (3-8 are the consumer group keys).
    std::vector<log_record> bad{{{0x00, 0x63}, std::nullopt}};
    auto st = gc->replay(bad);
    ASSERT_FALSE(st.has_value());
    EXPECT_EQ(st.error_value().code, errc::unsupported);
}

TEST_F(GroupTest, ReplayedEmptyGroupKeepsItsGenerationAndRetentionClock) {
    auto g = form_group(1);
    commit(g.ids[0], g.generation, {at("t", 0, 1)});
    gc->leave_group({"g", {{g.ids[0], {}}}});
    advance(std::chrono::hours(24 * 6));
    restart();
    EXPECT_EQ(state(), group_state::empty);
    // A new member starts the next generation.
    std::string id;
    auto j = join_new("n", id);
    advance(3s);
    EXPECT_EQ(j->value->generation_id, g.generation + 2);
    gc->leave_group({"g", {{id, {}}}});

    // Retention counts from the Empty transition recorded in the log.
    restart();
    advance(std::chrono::hours(24 * 7) - 1min);
    EXPECT_EQ(committed("g", {"t", 0}), 1);
    advance(11min);
    EXPECT_EQ(committed("g", {"t", 0}), std::nullopt);
}

TEST_F(GroupTest, ReplayedCommitTimesAtTheEndsOfTheClockExpireWithoutOverflow) {
    // The log may hold any commit time (found by fuzz_group_replay: the
    // retention check subtracted it from now and overflowed).
    using namespace group_records;
    auto offset_record = [](int32_t p, int64_t commit_ms) {
        log_record r;
        r.key = encode_key(offset_commit_key{"s", "t", p});
        r.value = encode_value(offset_commit_value{7, -1, "", commit_ms, std::nullopt});
        return r;
    };
    std::vector<log_record> records{
        offset_record(0, std::numeric_limits<int64_t>::min()),  // long ago: due
        offset_record(1, std::numeric_limits<int64_t>::max()),  // far future: kept
        offset_record(2,
                      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch())
                          .count()),  // now: kept until seven days pass
    };
    ASSERT_TRUE(gc->replay(records).has_value());
    advance(10min);
    EXPECT_EQ(committed("s", {"t", 0}), std::nullopt);
    EXPECT_EQ(committed("s", {"t", 1}), 7);
    EXPECT_EQ(committed("s", {"t", 2}), 7);
    advance(std::chrono::hours(24 * 7));
    EXPECT_EQ(committed("s", {"t", 1}), 7);
    EXPECT_EQ(committed("s", {"t", 2}), std::nullopt);
}

// ---- plumbing -----------------------------------------------------------------------------------

TEST_F(GroupTest, CallbacksMayCallTheCoordinatorAgain) {
    std::string id;
    auto first = join(join_request("", "a"));
    id = first->value->member_id;
    std::optional<sync_group_response> synced;
    gc->join_group(join_request(id, "a"), [&](join_group_response r) {
        // The leader syncs from inside its JoinGroup callback.
        gc->sync_group({"g", r.generation_id, r.member_id, {}, {}, {}, {{r.member_id, {7}}}},
                       [&](sync_group_response s) { synced = s; });
    });
    advance(3s);
    ASSERT_TRUE(synced.has_value());
    EXPECT_EQ(synced->assignment, byte_vector{7});
}

TEST_F(GroupTest, NextDeadlineIsTheEarliestTimer) {
    // Only the offset retention check is pending at first.
    EXPECT_EQ(gc->next_deadline(), now + 10min);
    auto first = join(join_request("", "a"));
    EXPECT_EQ(gc->next_deadline(), now + 10s);  // the pending member's expiry
    join(join_request(first->value->member_id, "a"));
    EXPECT_EQ(gc->next_deadline(), now + 3s);  // the initial delay
}

TEST_F(GroupTest, ZeroInitialDelayStillWaitsOneShortRoundPerNewMember) {
    config.initial_rebalance_delay = 0ms;
    start();
    EXPECT_EQ(config.min_initial_round, 5ms);
    std::string a, b, c;
    auto ja = join_new("a", a);
    EXPECT_FALSE(ja->done());
    advance(3ms);
    auto jb = join_new("b", b);  // within the first round
    advance(2ms);                // first round over; b joined during it
    EXPECT_FALSE(ja->done());
    advance(4ms);
    auto jc = join_new("c", c);  // within the second round
    advance(1ms);
    EXPECT_FALSE(ja->done());
    advance(5ms);  // a third round, since c joined; nobody new: done
    for (const auto& j : {ja, jb, jc}) {
        ASSERT_TRUE(j->done());
        EXPECT_EQ(j->value->error, group_error::none);
        EXPECT_EQ(j->value->generation_id, 1);
    }
    EXPECT_EQ(ja->value->members.size(), 3u);  // one generation for all three
}

TEST_F(GroupTest, ZeroInitialDelayAndNoMinimumRoundCompletesTheJoinAtOnce) {
    config.initial_rebalance_delay = 0ms;
    config.min_initial_round = 0ms;
    start();
    std::string id;
    auto j = join_new("a", id);
    ASSERT_TRUE(j->done());
    EXPECT_EQ(j->value->generation_id, 1);
}

TEST_F(GroupTest, MinimumInitialRoundDoesNotShortenOrLengthenAConfiguredDelay) {
    config.initial_rebalance_delay = 100ms;
    start();
    std::string id;
    auto j = join_new("a", id);
    advance(99ms);
    EXPECT_FALSE(j->done());
    advance(1ms);
    ASSERT_TRUE(j->done());
    EXPECT_EQ(j->value->generation_id, 1);
}

TEST_F(GroupTest, ErrorAndStateNames) {
    EXPECT_EQ(group_error_name(group_error::member_id_required), "MEMBER_ID_REQUIRED");
    EXPECT_EQ(static_cast<int16_t>(group_error::group_subscribed_to_topic), 86);
    EXPECT_EQ(group_state_name(group_state::completing_rebalance), "CompletingRebalance");
}
