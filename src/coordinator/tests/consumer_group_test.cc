// The consumer group protocol (KIP-848) of group_coordinator, rule by rule,
// with an injected clock, an in-memory coordinator_log (appends can be held
// or failed) and an in-memory topic catalogue.
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <set>

#include "coordinator/group_coordinator.h"
#include "coordinator/group_records.h"

using namespace floe;
using namespace floe::coordinator;
using namespace std::chrono_literals;

namespace floe::coordinator {
void PrintTo(group_error e, std::ostream* out) {
    *out << group_error_name(e);
}
}  // namespace floe::coordinator

namespace {

class memory_log : public coordinator_log {
public:
    bool hold = false;
    std::optional<status> fail_with;  // every append fails with it
    std::vector<log_record> durable;

    void append(std::vector<log_record> records, std::function<void(status)> done) override {
        if (fail_with) {
            done(*fail_with);
            return;
        }
        if (hold) {
            _waiting.push_back({std::move(records), std::move(done)});
            return;
        }
        durable.insert(durable.end(), records.begin(), records.end());
        done(ok());
    }
    size_t waiting() const { return _waiting.size(); }
    void complete_all() {
        while (!_waiting.empty()) {
            auto w = std::move(_waiting.front());
            _waiting.pop_front();
            durable.insert(durable.end(), w.first.begin(), w.first.end());
            w.second(ok());
        }
    }

private:
    std::deque<std::pair<std::vector<log_record>, std::function<void(status)>>> _waiting;
};

topic_id tid(uint8_t n) {
    topic_id id{};
    id[0] = 0xab;
    id[15] = n;
    return id;
}

using owned_map = std::map<std::string, std::set<int32_t>>;  // topic name -> partitions

struct response_slot {
    std::optional<consumer_heartbeat_response> value;
    int calls = 0;
    bool done() const { return calls > 0; }
    const consumer_heartbeat_response* operator->() const { return &*value; }
};

class ConsumerGroupTest : public ::testing::Test {
protected:
    time_point now{std::chrono::milliseconds(1'700'000'000'000)};
    memory_log log;
    group_config config;
    std::unique_ptr<group_coordinator> gc;
    int next_member = 0;
    // name -> (id, partitions)
    std::map<std::string, topic_metadata> catalogue{{"t", {tid(1), 6}}, {"u", {tid(2), 3}}};

    void SetUp() override { start(); }

    void start() {
        topic_metadata_source source;
        source.lookup = [this](std::string_view name) -> std::optional<topic_metadata> {
            auto it = catalogue.find(std::string(name));
            if (it == catalogue.end()) {
                return std::nullopt;
            }
            return it->second;
        };
        source.list = [this] {
            std::vector<std::string> out;
            for (const auto& [name, md] : catalogue) {
                out.push_back(name);
            }
            return out;
        };
        gc = std::make_unique<group_coordinator>(
            config, log, [this] { return now; },
            [this](std::string_view prefix) {
                return std::string(prefix) + "-" + std::to_string(++next_member);
            },
            source);
    }

    void restart() {
        gc.reset();
        start();
        ASSERT_TRUE(gc->replay(log.durable).has_value());
    }

    void advance(std::chrono::milliseconds d) {
        now += d;
        gc->tick();
    }

    std::string name_of(const topic_id& id) const {
        for (const auto& [name, md] : catalogue) {
            if (md.id == id) {
                return name;
            }
        }
        return "?";
    }

    std::vector<consumer_topic_partitions> wire(const owned_map& owned) const {
        std::vector<consumer_topic_partitions> out;
        for (const auto& [name, ps] : owned) {
            out.push_back({catalogue.at(name).id, "", {ps.begin(), ps.end()}});
        }
        return out;
    }

    owned_map named(const std::vector<consumer_topic_partitions>& tps) const {
        owned_map out;
        for (const auto& tp : tps) {
            out[name_of(tp.topic_id)].insert(tp.partitions.begin(), tp.partitions.end());
        }
        return out;
    }

    consumer_heartbeat_request join_request(std::string member_id,
                                            std::vector<std::string> topics = {"t"},
                                            std::optional<std::string> instance = std::nullopt) {
        consumer_heartbeat_request r;
        r.group_id = "g";
        r.member_id = std::move(member_id);
        r.member_epoch = 0;
        r.instance_id = std::move(instance);
        r.rebalance_timeout_ms = 30000;
        r.subscribed_topic_names = std::move(topics);
        r.topic_partitions = std::vector<consumer_topic_partitions>{};
        r.client_id = "client";
        r.client_host = "/127.0.0.1";
        return r;
    }

    std::shared_ptr<response_slot> send(consumer_heartbeat_request r) {
        auto s = std::make_shared<response_slot>();
        gc->consumer_group_heartbeat(std::move(r), [s](consumer_heartbeat_response resp) {
            s->value = std::move(resp);
            ++s->calls;
        });
        return s;
    }

    consumer_heartbeat_response call(consumer_heartbeat_request r) {
        auto s = send(std::move(r));
        EXPECT_TRUE(s->done());
        EXPECT_EQ(s->calls, 1);
        return s->value.value_or(consumer_heartbeat_response{});
    }

    consumer_heartbeat_response join(std::string member_id, std::vector<std::string> topics = {"t"},
                                     std::optional<std::string> instance = std::nullopt) {
        return call(join_request(std::move(member_id), std::move(topics), std::move(instance)));
    }

    // A regular heartbeat reporting the partitions owned (nullopt: none given).
    consumer_heartbeat_response beat(const std::string& member_id, int32_t epoch,
                                     std::optional<owned_map> owned = std::nullopt,
                                     std::optional<std::string> instance = std::nullopt) {
        consumer_heartbeat_request r;
        r.group_id = "g";
        r.member_id = member_id;
        r.member_epoch = epoch;
        r.instance_id = std::move(instance);
        if (owned) {
            r.topic_partitions = wire(*owned);
        }
        r.client_id = "client";
        r.client_host = "/127.0.0.1";
        return call(std::move(r));
    }

    consumer_heartbeat_response leave(const std::string& member_id, int32_t epoch = -1,
                                      std::optional<std::string> instance = std::nullopt) {
        consumer_heartbeat_request r;
        r.group_id = "g";
        r.member_id = member_id;
        r.member_epoch = epoch;
        r.instance_id = std::move(instance);
        return call(std::move(r));
    }

    consumer_group_description describe(const std::string& id = "g") {
        auto d = gc->describe_consumer_groups({id});
        EXPECT_EQ(d.size(), 1u);
        return d.front();
    }

    const consumer_member_description* member(const consumer_group_description& d,
                                              const std::string& id) {
        for (const auto& m : d.members) {
            if (m.member_id == id) {
                return &m;
            }
        }
        return nullptr;
    }

    // Heartbeats every member (reporting what it was last given) until no
    // answer changes; returns each member's (epoch, partitions).
    std::map<std::string, std::pair<int32_t, owned_map>> converge(
        std::map<std::string, std::pair<int32_t, owned_map>> state) {
        for (int round = 0; round < 10; ++round) {
            bool changed = false;
            for (auto& [id, s] : state) {
                auto r = beat(id, s.first, s.second);
                EXPECT_EQ(r.error, group_error::none) << id;
                owned_map next = r.assignment ? named(*r.assignment) : s.second;
                if (r.member_epoch != s.first || next != s.second) {
                    changed = true;
                }
                s = {r.member_epoch, next};
            }
            if (!changed) {
                break;
            }
        }
        return state;
    }

    std::shared_ptr<std::vector<partition_result>> commit(
        std::string member_id, int32_t epoch, std::vector<std::pair<std::string, int32_t>> tps,
        std::optional<int16_t> version = 9) {
        offset_commit_request r;
        r.group_id = "g";
        r.generation_id = epoch;
        r.member_id = std::move(member_id);
        r.api_version = version;
        for (auto& [t, p] : tps) {
            offset_commit_partition c;
            c.partition = {t, p};
            c.offset = 42;
            r.partitions.push_back(c);
        }
        auto out = std::make_shared<std::vector<partition_result>>();
        gc->commit_offsets(std::move(r), [out](std::vector<partition_result> res) { *out = res; });
        return out;
    }
};

size_t total(const owned_map& m) {
    size_t n = 0;
    for (const auto& [t, ps] : m) {
        n += ps.size();
    }
    return n;
}

// ---- join, reconcile, leave ---------------------------------------------------------

TEST_F(ConsumerGroupTest, FirstMemberGetsEveryPartitionAtEpochOne) {
    auto r = join("m1");
    EXPECT_EQ(r.error, group_error::none);
    EXPECT_EQ(r.member_id, "m1");
    EXPECT_EQ(r.member_epoch, 1);
    EXPECT_EQ(r.heartbeat_interval_ms, 5000);
    ASSERT_TRUE(r.assignment);
    EXPECT_EQ(named(*r.assignment), (owned_map{{"t", {0, 1, 2, 3, 4, 5}}}));
    auto d = describe();
    EXPECT_EQ(d.error, group_error::none);
    EXPECT_EQ(d.state, "Stable");
    EXPECT_EQ(d.group_epoch, 1);
    EXPECT_EQ(d.assignment_epoch, 1);
    EXPECT_EQ(d.assignor_name, "uniform");
    // A heartbeat with nothing new carries no assignment.
    auto again = beat("m1", 1);
    EXPECT_EQ(again.member_epoch, 1);
    EXPECT_FALSE(again.assignment);
}

TEST_F(ConsumerGroupTest, PartitionsMoveOnlyAfterThePreviousOwnerRevokedThem) {
    auto a = join("a");
    owned_map a_owned = named(*a.assignment);
    auto b = join("b");
    EXPECT_EQ(b.member_epoch, 2);
    ASSERT_TRUE(b.assignment);
    EXPECT_TRUE(b.assignment->empty());  // all of b's target is still a's
    EXPECT_EQ(describe().state, "Reconciling");

    // a is told to keep only its part; it stays at epoch 1 until it revokes.
    auto a2 = beat("a", 1, a_owned);
    EXPECT_EQ(a2.member_epoch, 1);
    ASSERT_TRUE(a2.assignment);
    owned_map a_kept = named(*a2.assignment);
    EXPECT_EQ(total(a_kept), 3u);
    // b still waits: a has not confirmed.
    auto b2 = beat("b", 2, owned_map{});
    EXPECT_FALSE(b2.assignment);
    auto d = describe();
    EXPECT_EQ(member(d, "a")->assignment.size(), 1u);
    EXPECT_EQ(member(d, "b")->assignment.size(), 0u);

    // a confirms: it moves to epoch 2; then b gets the rest.
    auto a3 = beat("a", 1, a_kept);
    EXPECT_EQ(a3.member_epoch, 2);
    auto b3 = beat("b", 2, owned_map{});
    ASSERT_TRUE(b3.assignment);
    owned_map b_owned = named(*b3.assignment);
    EXPECT_EQ(total(b_owned), 3u);
    for (int32_t p : b_owned["t"]) {
        EXPECT_EQ(a_kept["t"].count(p), 0u) << "partition " << p << " owned twice";
    }
    EXPECT_EQ(describe().state, "Stable");
}

TEST_F(ConsumerGroupTest, LeavingMemberFreesItsPartitions) {
    join("a");
    join("b");
    auto state = converge({{"a", {1, {{"t", {0, 1, 2, 3, 4, 5}}}}}, {"b", {2, {}}}});
    EXPECT_EQ(total(state["a"].second) + total(state["b"].second), 6u);
    auto l = leave("b");
    EXPECT_EQ(l.error, group_error::none);
    EXPECT_EQ(l.member_epoch, -1);
    auto d = describe();
    EXPECT_EQ(d.group_epoch, 3);
    EXPECT_EQ(d.members.size(), 1u);
    auto a = beat("a", state["a"].first, state["a"].second);
    EXPECT_EQ(a.member_epoch, 3);
    EXPECT_EQ(named(*a.assignment), (owned_map{{"t", {0, 1, 2, 3, 4, 5}}}));
    // A member that left is unknown.
    EXPECT_EQ(beat("b", 2).error, group_error::unknown_member_id);
    EXPECT_EQ(leave("b").error, group_error::unknown_member_id);
}

TEST_F(ConsumerGroupTest, StaticMemberRejoinsUnderNewIdWithItsAssignment) {
    auto a = join("a1", {"t"}, "inst-a");
    auto b = join("b", {"t"});
    auto state =
        converge({{"a1", {a.member_epoch, named(*a.assignment)}}, {"b", {b.member_epoch, {}}}});
    owned_map a_owned = state["a1"].second;
    int32_t epoch_before = describe().group_epoch;

    // While a1 holds the instance id, another cannot take it.
    EXPECT_EQ(join("a2", {"t"}, "inst-a").error, group_error::unreleased_instance_id);
    // A wrong member id for the instance is fenced.
    EXPECT_EQ(beat("zz", 3, std::nullopt, "inst-zz").error, group_error::unknown_member_id);
    EXPECT_EQ(beat("zz", 3, std::nullopt, "inst-a").error, group_error::fenced_instance_id);
    EXPECT_EQ(beat("b", state["b"].first, std::nullopt, "inst-a").error,
              group_error::fenced_instance_id);

    auto l = leave("a1", -2, "inst-a");
    EXPECT_EQ(l.error, group_error::none);
    EXPECT_EQ(l.member_epoch, -2);
    auto back = join("a2", {"t"}, "inst-a");
    EXPECT_EQ(back.error, group_error::none);
    EXPECT_EQ(back.member_id, "a2");
    ASSERT_TRUE(back.assignment);
    EXPECT_EQ(named(*back.assignment), a_owned);  // no rebalance
    auto d = describe();
    EXPECT_EQ(d.group_epoch, epoch_before);
    EXPECT_EQ(member(d, "a1"), nullptr);
    ASSERT_NE(member(d, "a2"), nullptr);
    EXPECT_EQ(member(d, "a2")->instance_id, "inst-a");
}

// ---- timeouts ------------------------------------------------------------------------

TEST_F(ConsumerGroupTest, SessionTimeoutFencesTheMember) {
    join("a");
    auto b = join("b");
    advance(30s);
    beat("a", 1);
    advance(20s);  // b: 50 s without a heartbeat (session 45 s)
    auto d = describe();
    EXPECT_EQ(d.members.size(), 1u);
    EXPECT_EQ(member(d, "b"), nullptr);
    EXPECT_EQ(d.group_epoch, 3);
    EXPECT_EQ(beat("b", b.member_epoch).error, group_error::unknown_member_id);
}

TEST_F(ConsumerGroupTest, MemberThatDoesNotRevokeInTimeIsFenced) {
    auto a = join("a");
    join("b");
    auto a2 = beat("a", 1, named(*a.assignment));  // told to revoke
    ASSERT_EQ(describe().state, "Reconciling");
    // a keeps heartbeating but never gives the partitions up.
    for (int i = 0; i < 5; ++i) {
        advance(5s);
        EXPECT_EQ(beat("a", 1, named(*a.assignment)).error, group_error::none);
        EXPECT_FALSE(beat("b", 2, owned_map{}).assignment);
    }
    advance(10s);  // 35 s > rebalance timeout 30 s
    auto d = describe();
    EXPECT_EQ(member(d, "a"), nullptr);
    auto b = beat("b", 2, owned_map{});
    EXPECT_EQ(b.member_epoch, 3);
    EXPECT_EQ(named(*b.assignment), (owned_map{{"t", {0, 1, 2, 3, 4, 5}}}));
    EXPECT_EQ(beat("a", 1).error, group_error::unknown_member_id);
    (void)a2;
}

// ---- epochs and request errors --------------------------------------------------------

TEST_F(ConsumerGroupTest, EpochChecks) {
    auto a = join("a");
    join("b");
    EXPECT_EQ(beat("a", 5).error, group_error::fenced_member_epoch);
    auto a2 = beat("a", 1, named(*a.assignment));
    auto a3 = beat("a", 1, named(*a2.assignment));
    ASSERT_EQ(a3.member_epoch, 2);
    // The previous epoch is accepted while owning a subset of the assignment
    // (the answer with the new epoch may have been lost)...
    EXPECT_EQ(beat("a", 1, named(*a2.assignment)).error, group_error::none);
    // ...but not without owned partitions or with more than assigned.
    EXPECT_EQ(beat("a", 1).error, group_error::fenced_member_epoch);
    EXPECT_EQ(beat("a", 1, named(*a.assignment)).error, group_error::fenced_member_epoch);
    EXPECT_EQ(beat("a", 0).error, group_error::invalid_request);  // a join needs its fields
    EXPECT_EQ(beat("nobody", 1).error, group_error::unknown_member_id);
}

TEST_F(ConsumerGroupTest, InvalidRequestsGetKafkaErrors) {
    auto r = join_request("m");
    r.group_id = "";
    EXPECT_EQ(call(r).error, group_error::invalid_request);
    r = join_request("");  // v1: the client makes the id
    EXPECT_EQ(call(r).error, group_error::invalid_request);
    r = join_request("m");
    r.rebalance_timeout_ms = -1;
    EXPECT_EQ(call(r).error, group_error::invalid_request);
    r = join_request("m");
    r.topic_partitions.reset();
    EXPECT_EQ(call(r).error, group_error::invalid_request);
    r = join_request("m");
    r.topic_partitions = wire({{"t", {0}}});
    EXPECT_EQ(call(r).error, group_error::invalid_request);
    r = join_request("m");
    r.subscribed_topic_names.reset();
    EXPECT_EQ(call(r).error, group_error::invalid_request);
    r = join_request("m");
    r.instance_id = "";
    EXPECT_EQ(call(r).error, group_error::invalid_request);
    r = join_request("m");
    r.member_epoch = -3;
    EXPECT_EQ(call(r).error, group_error::invalid_request);
    r = join_request("m");
    r.member_epoch = -2;  // a static leave without instance id
    EXPECT_EQ(call(r).error, group_error::invalid_request);
    r = join_request("m");
    r.server_assignor = "sticky";
    EXPECT_EQ(call(r).error, group_error::unsupported_assignor);
    r = join_request("m");
    r.subscribed_topic_regex = "(unclosed";
    EXPECT_EQ(call(r).error, group_error::invalid_regular_expression);
    r = join_request("m");
    r.member_id = std::string(40000, 'x');
    EXPECT_EQ(call(r).error, group_error::invalid_request);
    r = join_request("m");
    r.member_epoch = 3;  // no such group
    EXPECT_EQ(call(r).error, group_error::group_id_not_found);
    EXPECT_TRUE(gc->list_groups().empty());  // nothing was created
    EXPECT_TRUE(log.durable.empty());
}

TEST_F(ConsumerGroupTest, VersionZeroJoinGetsAServerMemberId) {
    auto r = join_request("");
    r.api_version = 0;
    r.client_id = "cli";
    auto resp = call(r);
    EXPECT_EQ(resp.error, group_error::none);
    EXPECT_EQ(resp.member_id, "cli-1");
    EXPECT_EQ(resp.member_epoch, 1);
}

TEST_F(ConsumerGroupTest, GroupMaxSize) {
    config.consumer_max_group_size = 1;
    start();
    join("a");
    EXPECT_EQ(join("b").error, group_error::group_max_size_reached);
    EXPECT_EQ(beat("a", 1).error, group_error::none);
}

TEST_F(ConsumerGroupTest, ClassicAndConsumerGroupsDoNotMix) {
    // A classic group with a member.
    join_group_request j;
    j.group_id = "c";
    j.client_id = "x";
    j.session_timeout = 10s;
    j.rebalance_timeout = 10s;
    j.protocol_type = "consumer";
    j.protocols = {{"range", {}}};
    j.require_known_member_id = false;
    gc->join_group(j, [](join_group_response) {});
    auto r = join_request("m");
    r.group_id = "c";
    EXPECT_EQ(call(r).error, group_error::group_id_not_found);

    // JoinGroup to a consumer group with members.
    join("m");
    j.group_id = "g";
    std::optional<join_group_response> jr;
    gc->join_group(j, [&](join_group_response resp) { jr = resp; });
    ASSERT_TRUE(jr);
    EXPECT_EQ(jr->error, group_error::inconsistent_group_protocol);
    EXPECT_EQ(gc->heartbeat({"g", 1, "m", std::nullopt}), group_error::unknown_member_id);

    // Once empty, a JoinGroup turns it into a classic group.
    leave("m");
    jr.reset();
    gc->join_group(j, [&](join_group_response resp) { jr = resp; });
    advance(4s);
    ASSERT_TRUE(jr);
    EXPECT_EQ(jr->error, group_error::none);
    EXPECT_EQ(gc->describe_consumer_groups({"g"})[0].error, group_error::group_id_not_found);
}

TEST_F(ConsumerGroupTest, EmptyClassicGroupWithOffsetsBecomesConsumerGroup) {
    auto c = commit("", -1, {{"t", 0}});
    ASSERT_EQ(c->size(), 1u);
    EXPECT_EQ((*c)[0].error, group_error::none);
    EXPECT_EQ(join("m").error, group_error::none);
    auto f = gc->fetch_offsets("g", std::nullopt);
    ASSERT_EQ(f.partitions.size(), 1u);
    EXPECT_EQ(f.partitions[0].offset, 42);
    EXPECT_EQ(gc->list_groups()[0].type, "consumer");
}

// ---- assignors, metadata ------------------------------------------------------------

TEST_F(ConsumerGroupTest, RangeAssignorChosenByTheMembers) {
    auto r = join_request("a", {"t", "u"});
    r.server_assignor = "range";
    auto a = call(r);
    r = join_request("b", {"t", "u"});
    r.server_assignor = "range";
    auto b = call(r);
    auto s = converge({{"a", {a.member_epoch, named(*a.assignment)}}, {"b", {b.member_epoch, {}}}});
    EXPECT_EQ(s["a"].second, (owned_map{{"t", {0, 1, 2}}, {"u", {0, 1}}}));
    EXPECT_EQ(s["b"].second, (owned_map{{"t", {3, 4, 5}}, {"u", {2}}}));
    EXPECT_EQ(describe().assignor_name, "range");
}

TEST_F(ConsumerGroupTest, AddedPartitionsAreAssigned) {
    auto a = join("a");
    catalogue["t"].partition_count = 8;
    auto r = beat("a", 1, named(*a.assignment));
    EXPECT_EQ(r.member_epoch, 2);
    ASSERT_TRUE(r.assignment);
    EXPECT_EQ(named(*r.assignment), (owned_map{{"t", {0, 1, 2, 3, 4, 5, 6, 7}}}));
    // A subscribed topic that appears later is picked up too.
    auto b = join("b", {"t", "new"});
    (void)b;
    catalogue["new"] = {tid(9), 2};
    auto d0 = describe().group_epoch;
    beat("a", r.member_epoch, named(*r.assignment));
    EXPECT_EQ(describe().group_epoch, d0 + 1);
}

TEST_F(ConsumerGroupTest, RegexSubscription) {
    catalogue["orders-eu"] = {tid(5), 2};
    catalogue["orders-us"] = {tid(6), 2};
    auto r = join_request("a", {});
    r.subscribed_topic_names.reset();
    r.subscribed_topic_regex = "orders-.*";
    auto a = call(r);
    ASSERT_EQ(a.error, group_error::none);
    EXPECT_EQ(named(*a.assignment), (owned_map{{"orders-eu", {0, 1}}, {"orders-us", {0, 1}}}));
    auto d = describe();
    EXPECT_EQ(d.members[0].subscribed_topic_regex, "orders-.*");
    // A matching topic created later is found at the next refresh.
    catalogue["orders-jp"] = {tid(7), 1};
    advance(11s);
    auto again = beat("a", a.member_epoch, named(*a.assignment));
    ASSERT_TRUE(again.assignment);
    EXPECT_EQ(named(*again.assignment)["orders-jp"], (std::set<int32_t>{0}));
}

// ---- offsets ----------------------------------------------------------------------------

TEST_F(ConsumerGroupTest, OffsetCommitsAreCheckedAgainstMemberEpochs) {
    auto a = join("a");
    auto ok_commit = commit("a", 1, {{"t", 0}});
    EXPECT_EQ((*ok_commit)[0].error, group_error::none);
    EXPECT_EQ((*commit("a", 2, {{"t", 0}}))[0].error, group_error::stale_member_epoch);
    EXPECT_EQ((*commit("x", 1, {{"t", 0}}))[0].error, group_error::unknown_member_id);
    EXPECT_EQ((*commit("", -1, {{"t", 0}}))[0].error, group_error::unknown_member_id);
    EXPECT_EQ((*commit("a", 1, {{"t", 0}}, 8))[0].error, group_error::unsupported_version);

    // b joins; a keeps p0-p2 (epoch 2 after revoking) and may still commit
    // with epoch 1 the partitions it owned since epoch 1, not newer ones.
    join("b");
    auto a2 = beat("a", 1, named(*a.assignment));
    auto a3 = beat("a", 1, named(*a2.assignment));
    ASSERT_EQ(a3.member_epoch, 2);
    int32_t kept = *named(*a2.assignment)["t"].begin();
    int32_t gone = -1;
    for (int32_t p = 0; p < 6; ++p) {
        if (named(*a2.assignment)["t"].count(p) == 0) {
            gone = p;
            break;
        }
    }
    auto mixed = commit("a", 1, {{"t", kept}, {"t", gone}});
    EXPECT_EQ((*mixed)[0].error, group_error::none);
    EXPECT_EQ((*mixed)[1].error, group_error::stale_member_epoch);

    // OffsetFetch v9.
    EXPECT_EQ(gc->fetch_offsets("g", std::nullopt, false, {"a", 2}).error, group_error::none);
    EXPECT_EQ(gc->fetch_offsets("g", std::nullopt, false, {"a", 1}).error,
              group_error::stale_member_epoch);
    EXPECT_EQ(gc->fetch_offsets("g", std::nullopt, false, {"zz", 1}).error,
              group_error::unknown_member_id);
    EXPECT_EQ(gc->fetch_offsets("g", std::nullopt).error, group_error::none);  // admin

    // Once the group is empty, simple commits are accepted.
    leave("a");
    leave("b");
    EXPECT_EQ((*commit("", -1, {{"t", 1}}))[0].error, group_error::none);
}

// ---- describe, list, delete ------------------------------------------------------------

TEST_F(ConsumerGroupTest, DescribeListAndDelete) {
    join("a");
    auto l = gc->list_groups();
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0].type, "consumer");
    EXPECT_EQ(l[0].state_name, "Stable");
    EXPECT_EQ(l[0].protocol_type, "consumer");
    EXPECT_EQ(gc->list_groups({}, {"classic"}).size(), 0u);
    EXPECT_EQ(gc->list_groups({"stable"}, {"Consumer"}).size(), 1u);
    EXPECT_EQ(gc->list_groups({"Empty"}).size(), 0u);

    auto dg = gc->describe_group("g");
    EXPECT_EQ(dg.protocol_type, "consumer");
    EXPECT_EQ(dg.state_name, "Stable");
    EXPECT_EQ(dg.protocol_data, "uniform");
    ASSERT_EQ(dg.members.size(), 1u);
    EXPECT_EQ(dg.members[0].client_id, "client");

    auto cd = gc->describe_consumer_groups({"g", "nope", ""});
    EXPECT_EQ(cd[0].members[0].target_assignment, cd[0].members[0].assignment);
    EXPECT_EQ(cd[0].members[0].assignment[0].topic_name, "t");
    EXPECT_EQ(cd[1].error, group_error::group_id_not_found);
    EXPECT_EQ(cd[2].error, group_error::invalid_group_id);

    commit("a", 1, {{"t", 0}, {"u", 0}});
    std::optional<offset_delete_response> od;
    gc->delete_offsets("g", {{"t", 0}, {"u", 0}}, [&](offset_delete_response r) { od = r; });
    ASSERT_TRUE(od);
    EXPECT_EQ(od->partitions[0].error, group_error::group_subscribed_to_topic);
    EXPECT_EQ(od->partitions[1].error, group_error::none);

    std::vector<delete_group_result> del;
    gc->delete_groups({"g"}, [&](std::vector<delete_group_result> r) { del = r; });
    EXPECT_EQ(del[0].error, group_error::non_empty_group);
    leave("a");
    EXPECT_EQ(gc->list_groups()[0].state_name, "Empty");
    gc->delete_groups({"g"}, [&](std::vector<delete_group_result> r) { del = r; });
    EXPECT_EQ(del[0].error, group_error::none);
    EXPECT_TRUE(gc->list_groups().empty());
    restart();
    EXPECT_TRUE(gc->list_groups().empty());
}

// ---- durability, replay ------------------------------------------------------------------

TEST_F(ConsumerGroupTest, AnswersWaitForDurability) {
    log.hold = true;
    auto first = send(join_request("a"));
    EXPECT_FALSE(first->done());
    // A heartbeat that changes nothing still waits for the earlier write.
    auto second = send(join_request("a"));
    EXPECT_FALSE(second->done());
    log.complete_all();
    EXPECT_TRUE(first->done());
    EXPECT_EQ(first->value->member_epoch, 1);
    EXPECT_TRUE(second->done());

    log.hold = false;
    log.fail_with = error(errc::conflict, "fenced");
    EXPECT_EQ(join("b").error, group_error::not_coordinator);
    log.fail_with.reset();
    // The next write rewrites the whole group, so the log catches up.
    EXPECT_EQ(beat("b", 2).error, group_error::none);
    restart();
    EXPECT_EQ(describe().members.size(), 2u);
}

TEST_F(ConsumerGroupTest, ReplayRestoresTheGroupExactly) {
    auto a = join("a", {"t", "u"}, "inst");
    auto b = join("b", {"t"});
    beat("a", a.member_epoch, named(*a.assignment));  // a revoking now
    commit("a", 1, {{"t", 0}});
    auto before = describe();
    auto list_before = gc->list_groups();
    restart();
    auto after = describe();
    EXPECT_EQ(after.state, before.state);
    EXPECT_EQ(after.group_epoch, before.group_epoch);
    EXPECT_EQ(after.assignment_epoch, before.assignment_epoch);
    EXPECT_EQ(after.assignor_name, before.assignor_name);
    ASSERT_EQ(after.members.size(), before.members.size());
    for (size_t i = 0; i < after.members.size(); ++i) {
        const auto& x = before.members[i];
        const auto& y = after.members[i];
        EXPECT_EQ(y.member_id, x.member_id);
        EXPECT_EQ(y.instance_id, x.instance_id);
        EXPECT_EQ(y.member_epoch, x.member_epoch);
        EXPECT_EQ(y.client_id, x.client_id);
        EXPECT_EQ(y.subscribed_topic_names, x.subscribed_topic_names);
        EXPECT_EQ(y.assignment, x.assignment);
        EXPECT_EQ(y.target_assignment, x.target_assignment);
    }
    EXPECT_EQ(gc->list_groups()[0].state_name, list_before[0].state_name);
    EXPECT_EQ(gc->fetch_offsets("g", std::nullopt, false, {"a", 1}).partitions.size(), 1u);
    // The group goes on: a finishes revoking, b gets its partitions.
    auto a_now = member(after, "a");
    owned_map a_owned;
    for (const auto& tp : a_now->assignment) {
        a_owned[tp.topic_name].insert(tp.partitions.begin(), tp.partitions.end());
    }
    EXPECT_EQ(beat("a", 1, a_owned).member_epoch, 2);
    auto b2 = beat("b", b.member_epoch, owned_map{});
    ASSERT_TRUE(b2.assignment);
    EXPECT_FALSE(b2.assignment->empty());
    // Sessions restart at replay: members that never come back expire.
    advance(46s);
    EXPECT_EQ(describe().members.size(), 0u);
}

}  // namespace
