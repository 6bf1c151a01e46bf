// The consumer-group APIs over real connections (tests/broker_fixture.h):
// FindCoordinator for groups, the classic protocol (JoinGroup, SyncGroup,
// Heartbeat, LeaveGroup) with members on separate connections, committed
// offsets (OffsetCommit, OffsetFetch, OffsetDelete), DescribeGroups,
// ListGroups, DeleteGroups, the consumer group protocol of KIP-848
// (ConsumerGroupHeartbeat, ConsumerGroupDescribe), state kept across a
// broker restart, and malformed bodies of every group API.
//
// The broker runs with a short initial rebalance delay (50 ms) so that a
// first generation forms quickly; later rebalances complete as soon as every
// member rejoined, which the tests make happen explicitly. Every wait is
// bounded: client receives by the client's timeout, polling loops by a
// count.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "coordinator/group_coordinator.h"
#include "kafka/broker/tests/broker_fixture.h"
#include "kafka/protocol/errors.h"
#include "kafka/protocol/generated/consumer_group_describe_request.h"
#include "kafka/protocol/generated/consumer_group_describe_response.h"
#include "kafka/protocol/generated/consumer_group_heartbeat_request.h"
#include "kafka/protocol/generated/consumer_group_heartbeat_response.h"
#include "kafka/protocol/generated/delete_groups_request.h"
#include "kafka/protocol/generated/delete_groups_response.h"
#include "kafka/protocol/generated/describe_groups_request.h"
#include "kafka/protocol/generated/describe_groups_response.h"
#include "kafka/protocol/generated/find_coordinator_request.h"
#include "kafka/protocol/generated/find_coordinator_response.h"
#include "kafka/protocol/generated/heartbeat_request.h"
#include "kafka/protocol/generated/heartbeat_response.h"
#include "kafka/protocol/generated/join_group_request.h"
#include "kafka/protocol/generated/join_group_response.h"
#include "kafka/protocol/generated/leave_group_request.h"
#include "kafka/protocol/generated/leave_group_response.h"
#include "kafka/protocol/generated/list_groups_request.h"
#include "kafka/protocol/generated/list_groups_response.h"
#include "kafka/protocol/generated/offset_commit_request.h"
#include "kafka/protocol/generated/offset_commit_response.h"
#include "kafka/protocol/generated/offset_delete_request.h"
#include "kafka/protocol/generated/offset_delete_response.h"
#include "kafka/protocol/generated/offset_fetch_request.h"
#include "kafka/protocol/generated/offset_fetch_response.h"
#include "kafka/protocol/generated/request_header.h"
#include "kafka/protocol/generated/sync_group_request.h"
#include "kafka/protocol/generated/sync_group_response.h"

namespace floe::kafka {
namespace {

using namespace std::chrono_literals;
using testing::BrokerTest;
using testing::harness_options;
using testing::kafka_client;
using group_error = coordinator::group_error;

constexpr int16_t wire(group_error e) {
    return static_cast<int16_t>(e);
}

constexpr int16_t k_ok = 0;
constexpr int16_t k_unknown_partition = code(error_code::unknown_topic_or_partition);
constexpr int16_t k_not_available = code(error_code::coordinator_not_available);
constexpr int16_t k_metadata_too_large = wire(group_error::offset_metadata_too_large);
constexpr int16_t k_illegal_generation = wire(group_error::illegal_generation);
constexpr int16_t k_invalid_group_id = wire(group_error::invalid_group_id);
constexpr int16_t k_unknown_member = wire(group_error::unknown_member_id);
constexpr int16_t k_invalid_session_timeout = wire(group_error::invalid_session_timeout);
constexpr int16_t k_rebalance_in_progress = wire(group_error::rebalance_in_progress);
constexpr int16_t k_non_empty_group = wire(group_error::non_empty_group);
constexpr int16_t k_group_not_found = wire(group_error::group_id_not_found);
constexpr int16_t k_member_id_required = wire(group_error::member_id_required);
constexpr int16_t k_fenced_instance = wire(group_error::fenced_instance_id);
constexpr int16_t k_subscribed_to_topic = wire(group_error::group_subscribed_to_topic);
constexpr int16_t k_unsupported_version = wire(group_error::unsupported_version);
constexpr int16_t k_invalid_request = wire(group_error::invalid_request);
constexpr int16_t k_fenced_member_epoch = wire(group_error::fenced_member_epoch);
constexpr int16_t k_unsupported_assignor = wire(group_error::unsupported_assignor);
constexpr int16_t k_stale_member_epoch = wire(group_error::stale_member_epoch);

byte_vector bytes_of(std::string_view s) {
    return byte_vector(s.begin(), s.end());
}

// A ConsumerProtocolSubscription v0: the topics, null user data (what the
// coordinator reads for OffsetDelete's GROUP_SUBSCRIBED_TO_TOPIC).
byte_vector subscription(const std::vector<std::string>& topics) {
    byte_vector out;
    byte_writer w(out);
    w.write_int16(0);
    w.write_int32(static_cast<int32_t>(topics.size()));
    for (const auto& t : topics) {
        w.write_int16(static_cast<int16_t>(t.size()));
        w.write_bytes(std::string_view(t));
    }
    w.write_int32(-1);
    return out;
}

template <typename Request>
byte_vector encoded(const Request& req, int16_t version) {
    byte_vector out;
    byte_writer writer(out);
    req.encode(writer, version);
    return out;
}

// Sends `req` at `version` framed with a request header whose client id is
// `client_id` (kafka_client always sends "floe-test") and reads the answer.
template <typename Response, typename Request>
std::optional<Response> call_as(kafka_client& client, const std::string& client_id,
                                const Request& req, int16_t version) {
    request_header header;
    header.request_api_key = Request::api_key;
    header.request_api_version = version;
    header.correlation_id = 4242;
    header.client_id = client_id;
    byte_vector frame;
    byte_writer writer(frame);
    writer.write_int32(0);
    header.encode(writer, Request::header_version(version));
    req.encode(writer, version);
    writer.patch_int32(0, static_cast<int32_t>(frame.size() - 4));
    if (!client.send_bytes(frame)) {
        ADD_FAILURE() << "send failed";
        return std::nullopt;
    }
    auto got = client.connection().read_response(Response::header_version(version));
    if (!got || got->correlation_id != 4242) {
        ADD_FAILURE() << "no answer";
        return std::nullopt;
    }
    Response out;
    byte_reader reader(got->body);
    if (!out.decode(reader, version) || !reader.ok() || !reader.at_end()) {
        ADD_FAILURE() << "answer does not decode";
        return std::nullopt;
    }
    return out;
}

// ---- classic-protocol requests ---------------------------------------------

struct join_spec {
    std::string group = {};
    std::string member_id = {};
    byte_vector metadata = subscription({"t"});
    std::optional<std::string> instance = std::nullopt;
    int32_t session_timeout_ms = 10000;
    int32_t rebalance_timeout_ms = 10000;
    std::string protocol_name = "range";
};

join_group_request join_request(const join_spec& s) {
    join_group_request req;
    req.group_id = s.group;
    req.session_timeout_ms = s.session_timeout_ms;
    req.rebalance_timeout_ms = s.rebalance_timeout_ms;
    req.member_id = s.member_id;
    req.group_instance_id = s.instance;
    req.protocol_type = "consumer";
    req.protocols.push_back({s.protocol_name, s.metadata, {}});
    return req;
}

sync_group_request sync_request(const std::string& group, int32_t generation,
                                const std::string& member_id,
                                std::map<std::string, std::string> assignments = {},
                                std::optional<std::string> instance = std::nullopt) {
    sync_group_request req;
    req.group_id = group;
    req.generation_id = generation;
    req.member_id = member_id;
    req.group_instance_id = std::move(instance);
    for (auto& [id, a] : assignments) {
        req.assignments.push_back({id, bytes_of(a), {}});
    }
    return req;
}

heartbeat_request heartbeat(const std::string& group, int32_t generation,
                            const std::string& member_id,
                            std::optional<std::string> instance = std::nullopt) {
    heartbeat_request req;
    req.group_id = group;
    req.generation_id = generation;
    req.member_id = member_id;
    req.group_instance_id = std::move(instance);
    return req;
}

// ---- offsets ----------------------------------------------------------------

struct commit_entry {
    std::string topic = {};
    int32_t partition = 0;
    int64_t offset = 0;
    int32_t leader_epoch = -1;
    std::optional<std::string> metadata = "";
};

offset_commit_request commit_request(const std::string& group,
                                     const std::vector<commit_entry>& entries,
                                     int32_t generation = -1, const std::string& member_id = "") {
    offset_commit_request req;
    req.group_id = group;
    req.generation_id_or_member_epoch = generation;
    req.member_id = member_id;
    for (const auto& e : entries) {
        if (req.topics.empty() || req.topics.back().name != e.topic) {
            req.topics.push_back({e.topic, {}, {}});
        }
        offset_commit_request::offset_commit_request_partition p;
        p.partition_index = e.partition;
        p.committed_offset = e.offset;
        p.committed_leader_epoch = e.leader_epoch;
        p.committed_metadata = e.metadata;
        req.topics.back().partitions.push_back(std::move(p));
    }
    return req;
}

// "topic:partition=error" for every partition of a commit answer.
std::map<std::string, int16_t> commit_errors(const offset_commit_response& res) {
    std::map<std::string, int16_t> out;
    for (const auto& t : res.topics) {
        for (const auto& p : t.partitions) {
            out[t.name + ":" + std::to_string(p.partition_index)] = p.error_code;
        }
    }
    return out;
}

// One fetched offset, whatever the version's layout.
struct fetched {
    int64_t offset = -1;
    int32_t leader_epoch = -1;
    std::optional<std::string> metadata;
    int16_t error = 0;
    bool operator==(const fetched&) const = default;
};

std::ostream& operator<<(std::ostream& os, const fetched& f) {
    return os << "{offset " << f.offset << ", epoch " << f.leader_epoch << ", metadata "
              << (f.metadata ? "\"" + f.metadata->substr(0, 40) + "\"" : "null") << ", error "
              << f.error << "}";
}

using fetched_map = std::map<std::string, fetched>;  // "topic:partition"

// ---- the consumer group protocol ----------------------------------------------

using cg_request = consumer_group_heartbeat_request;
using cg_response = consumer_group_heartbeat_response;

// One KIP-848 member on its own connection, with what it owns.
struct cg_member {
    std::unique_ptr<kafka_client> client;
    int16_t version = 0;
    std::string id;
    int32_t epoch = 0;
    std::set<int32_t> owned;  // partitions of the one subscribed topic
};

class GroupsTest : public BrokerTest {
protected:
    harness_options options() override {
        harness_options o;
        o.broker.groups.offsets_partitions = 4;
        o.broker.groups.config.initial_rebalance_delay = 50ms;
        return o;
    }

    void SetUp() override {
        BrokerTest::SetUp();
        if (HasFatalFailure()) {
            return;
        }
        auto client = connect();
        ASSERT_TRUE(client);
        ASSERT_TRUE(await_coordinator(*client, "any-group"));
    }

    // Asks FindCoordinator for `group` until this node answers (the offsets
    // topic is created on first use), at most ~10 s. Answers other than
    // COORDINATOR_NOT_AVAILABLE fail the test.
    bool await_coordinator(kafka_client& client, const std::string& group,
                           bool* saw_not_available = nullptr) {
        for (int attempt = 0; attempt < 200; ++attempt) {
            find_coordinator_request req;
            req.key = group;
            req.key_type = 0;
            auto res = client.call<find_coordinator_response>(req, 3);
            if (!res) {
                return false;
            }
            if (res->error_code == k_ok) {
                EXPECT_EQ(res->node_id, 1);
                EXPECT_EQ(res->host, "127.0.0.1");
                EXPECT_EQ(res->port, harness().port());
                return res->node_id == 1 && res->port == harness().port();
            }
            if (res->error_code != k_not_available) {
                ADD_FAILURE() << "FindCoordinator: error " << res->error_code;
                return false;
            }
            EXPECT_EQ(res->node_id, -1);
            if (saw_not_available != nullptr) {
                *saw_not_available = true;
            }
            std::this_thread::sleep_for(50ms);
        }
        ADD_FAILURE() << "no coordinator for " << group << " within 10 s";
        return false;
    }

    // A first JoinGroup (v4+) without member id: MEMBER_ID_REQUIRED and the
    // id to join with.
    std::string required_member_id(kafka_client& client, join_spec spec, int16_t version) {
        spec.member_id.clear();
        auto res = client.call<join_group_response>(join_request(spec), version);
        EXPECT_TRUE(res);
        if (!res) {
            return {};
        }
        EXPECT_EQ(res->error_code, k_member_id_required) << "JoinGroup v" << version;
        EXPECT_FALSE(res->member_id.empty());
        EXPECT_EQ(res->member_id.rfind("floe-test-", 0), 0u) << res->member_id;
        EXPECT_EQ(res->generation_id, -1);
        return res->member_id;
    }

    join_group_response join(kafka_client& client, const join_spec& spec, int16_t version) {
        auto res = client.call<join_group_response>(join_request(spec), version);
        EXPECT_TRUE(res) << "JoinGroup v" << version;
        return res ? *res : join_group_response{};
    }

    sync_group_response sync(kafka_client& client, const sync_group_request& req, int16_t version) {
        auto res = client.call<sync_group_response>(req, version);
        EXPECT_TRUE(res) << "SyncGroup v" << version;
        return res ? *res : sync_group_response{};
    }

    int16_t beat(kafka_client& client, const heartbeat_request& req, int16_t version = 4) {
        auto res = client.call<heartbeat_response>(req, version);
        EXPECT_TRUE(res) << "Heartbeat v" << version;
        return res ? res->error_code : INT16_MIN;
    }

    // Heartbeats until the answer is `wanted` (another connection's request
    // takes effect asynchronously), at most ~5 s.
    bool beat_until(kafka_client& client, const heartbeat_request& req, int16_t wanted) {
        int16_t got = INT16_MIN;
        for (int attempt = 0; attempt < 500; ++attempt) {
            got = beat(client, req);
            if (got == wanted) {
                return true;
            }
            std::this_thread::sleep_for(10ms);
        }
        ADD_FAILURE() << "heartbeat answered " << got << ", not " << wanted;
        return false;
    }

    // A one-member Stable group: joins (MEMBER_ID_REQUIRED first), syncs
    // with assignment "a". Returns {member id, generation}.
    std::pair<std::string, int32_t> stable_group(kafka_client& client, join_spec spec) {
        spec.member_id = required_member_id(client, spec, 5);
        auto joined = join(client, spec, 5);
        EXPECT_EQ(joined.error_code, k_ok);
        EXPECT_EQ(joined.leader, spec.member_id);
        auto synced = sync(
            client,
            sync_request(spec.group, joined.generation_id, spec.member_id, {{spec.member_id, "a"}}),
            3);
        EXPECT_EQ(synced.error_code, k_ok);
        return {spec.member_id, joined.generation_id};
    }

    offset_commit_response commit(kafka_client& client, const offset_commit_request& req,
                                  int16_t version) {
        auto res = client.call<offset_commit_response>(req, version);
        EXPECT_TRUE(res) << "OffsetCommit v" << version;
        return res ? *res : offset_commit_response{};
    }

    // OffsetFetch of one group at `version` (1..9); `partitions` nullopt:
    // all committed (v2+). Returns the offsets and the group-level error.
    std::pair<fetched_map, int16_t> fetch_offsets(
        kafka_client& client, const std::string& group, int16_t version,
        std::optional<std::vector<std::pair<std::string, int32_t>>> partitions,
        std::optional<std::string> member_id = std::nullopt, int32_t member_epoch = -1) {
        offset_fetch_request req;
        fetched_map out;
        int16_t group_error_code = 0;
        if (version < 8) {
            req.group_id = group;
            if (partitions) {
                req.topics.emplace();
                for (const auto& [topic, index] : *partitions) {
                    if (req.topics->empty() || req.topics->back().name != topic) {
                        req.topics->push_back({topic, {}, {}});
                    }
                    req.topics->back().partition_indexes.push_back(index);
                }
            } else {
                req.topics = std::nullopt;
            }
            auto res = client.call<offset_fetch_response>(req, version);
            EXPECT_TRUE(res) << "OffsetFetch v" << version;
            if (!res) {
                return {out, INT16_MIN};
            }
            group_error_code = res->error_code;
            for (const auto& t : res->topics) {
                for (const auto& p : t.partitions) {
                    out[t.name + ":" + std::to_string(p.partition_index)] = {
                        p.committed_offset, p.committed_leader_epoch, p.metadata, p.error_code};
                }
            }
            return {out, group_error_code};
        }
        offset_fetch_request::offset_fetch_request_group g;
        g.group_id = group;
        g.member_id = std::move(member_id);
        g.member_epoch = member_epoch;
        if (partitions) {
            g.topics.emplace();
            for (const auto& [topic, index] : *partitions) {
                if (g.topics->empty() || g.topics->back().name != topic) {
                    g.topics->push_back({topic, {}, {}});
                }
                g.topics->back().partition_indexes.push_back(index);
            }
        } else {
            g.topics = std::nullopt;
        }
        req.groups.push_back(std::move(g));
        auto res = client.call<offset_fetch_response>(req, version);
        EXPECT_TRUE(res) << "OffsetFetch v" << version;
        if (!res || res->groups.size() != 1) {
            ADD_FAILURE() << "OffsetFetch v" << version << ": no group in the answer";
            return {out, INT16_MIN};
        }
        EXPECT_EQ(res->groups[0].group_id, group);
        for (const auto& t : res->groups[0].topics) {
            for (const auto& p : t.partitions) {
                out[t.name + ":" + std::to_string(p.partition_index)] = {
                    p.committed_offset, p.committed_leader_epoch, p.metadata, p.error_code};
            }
        }
        return {out, res->groups[0].error_code};
    }

    describe_groups_response::described_group describe(kafka_client& client,
                                                       const std::string& group,
                                                       int16_t version = 5) {
        describe_groups_request req;
        req.groups = {group};
        auto res = client.call<describe_groups_response>(req, version);
        EXPECT_TRUE(res);
        if (!res || res->groups.size() != 1) {
            ADD_FAILURE() << "DescribeGroups: no group in the answer";
            return {};
        }
        return res->groups[0];
    }

    // group id -> "type/state/protocol type" (type only from v5, state from v4).
    std::map<std::string, std::string> list(kafka_client& client, int16_t version,
                                            std::vector<std::string> states = {},
                                            std::vector<std::string> types = {}) {
        list_groups_request req;
        req.states_filter = std::move(states);
        req.types_filter = std::move(types);
        auto res = client.call<list_groups_response>(req, version);
        EXPECT_TRUE(res) << "ListGroups v" << version;
        std::map<std::string, std::string> out;
        if (!res) {
            return out;
        }
        EXPECT_EQ(res->error_code, k_ok);
        for (const auto& g : res->groups) {
            out[g.group_id] = g.group_type + "/" + g.group_state + "/" + g.protocol_type;
        }
        return out;
    }

    // ---- KIP-848 -----------------------------------------------------------------

    cg_response cg_call(cg_member& m, const cg_request& req) {
        auto res = m.client->call<cg_response>(req, m.version);
        EXPECT_TRUE(res) << "ConsumerGroupHeartbeat v" << m.version;
        return res ? *res : cg_response{};
    }

    static cg_request cg_join_request(const std::string& group, const cg_member& m,
                                      const std::vector<std::string>& topics) {
        cg_request req;
        req.group_id = group;
        req.member_id = m.id;
        req.member_epoch = 0;
        req.rebalance_timeout_ms = 10000;
        req.subscribed_topic_names = topics;
        req.topic_partitions.emplace();
        return req;
    }

    // Takes the assignment of an answer (one topic, `topic_id`) if it has one.
    static void take_assignment(cg_member& m, const cg_response& res,
                                const std::array<uint8_t, 16>& topic_id) {
        m.epoch = res.member_epoch;
        if (!res.assignment) {
            return;
        }
        m.owned.clear();
        for (const auto& tp : res.assignment->topic_partitions) {
            EXPECT_EQ(tp.topic_id.bytes, topic_id);
            m.owned.insert(tp.partitions.begin(), tp.partitions.end());
        }
    }

    // A steady-state heartbeat: the epoch and the partitions owned now.
    cg_response cg_beat(cg_member& m, const std::string& group,
                        const std::array<uint8_t, 16>& topic_id) {
        cg_request req;
        req.group_id = group;
        req.member_id = m.id;
        req.member_epoch = m.epoch;
        req.topic_partitions.emplace();
        if (!m.owned.empty()) {
            consumer_group_heartbeat_request::topic_partitions_type tp;
            tp.topic_id.bytes = topic_id;
            tp.partitions.assign(m.owned.begin(), m.owned.end());
            req.topic_partitions->push_back(std::move(tp));
        }
        auto res = cg_call(m, req);
        EXPECT_EQ(res.error_code, k_ok) << res.error_message.value_or("");
        if (res.error_code == k_ok) {
            take_assignment(m, res, topic_id);
        }
        return res;
    }

    // Heartbeats every member in turn until their owned partitions are
    // disjoint, cover 0..partitions-1 and their epochs agree (at most 50
    // rounds).
    bool reconcile(std::vector<cg_member*> members, const std::string& group,
                   const std::array<uint8_t, 16>& topic_id, int32_t partitions) {
        for (int round = 0; round < 50; ++round) {
            for (auto* m : members) {
                cg_beat(*m, group, topic_id);
            }
            std::multiset<int32_t> all;
            std::set<int32_t> epochs;
            for (auto* m : members) {
                all.insert(m->owned.begin(), m->owned.end());
                epochs.insert(m->epoch);
            }
            std::multiset<int32_t> wanted;
            for (int32_t p = 0; p < partitions; ++p) {
                wanted.insert(p);
            }
            if (all == wanted && epochs.size() == 1) {
                return true;
            }
        }
        ADD_FAILURE() << "members did not reconcile in 50 rounds";
        return false;
    }

    std::optional<consumer_group_describe_response::described_group> cg_describe(
        kafka_client& client, const std::string& group) {
        consumer_group_describe_request req;
        req.group_ids = {group};
        auto res = client.call<consumer_group_describe_response>(req, 0);
        EXPECT_TRUE(res);
        if (!res || res->groups.size() != 1) {
            return std::nullopt;
        }
        return res->groups[0];
    }
};

// ---- FindCoordinator ---------------------------------------------------------

class GroupsColdTest : public GroupsTest {
protected:
    void SetUp() override { BrokerTest::SetUp(); }
};

TEST_F(GroupsColdTest, FindCoordinatorAnswersNotAvailableUntilTheOffsetsTopicExists) {
    auto client = connect();
    ASSERT_TRUE(client);
    // Before any group lookup there are no groups and no offsets topic.
    EXPECT_TRUE(list(*client, 4).empty());
    EXPECT_FALSE(harness().registry().find("__consumer_offsets").has_value());
    // The first answer is COORDINATOR_NOT_AVAILABLE (creation is only
    // started by it), then this node.
    find_coordinator_request req;
    req.key = "g";
    auto first = client->call<find_coordinator_response>(req, 2);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->error_code, k_not_available);
    EXPECT_EQ(first->node_id, -1);
    EXPECT_EQ(first->port, -1);
    bool saw_not_available = false;
    ASSERT_TRUE(await_coordinator(*client, "g", &saw_not_available));
    auto topic = harness().registry().find("__consumer_offsets");
    ASSERT_TRUE(topic.has_value());
    EXPECT_EQ(topic->partitions.size(), 4u);
    // Every version, including the batched ones (v4+).
    for (int16_t version = 0; version <= 6; ++version) {
        find_coordinator_request r;
        r.key = "g";
        r.key_type = 0;
        r.coordinator_keys = {"g", "h", ""};
        auto res = client->call<find_coordinator_response>(r, version);
        ASSERT_TRUE(res) << version;
        if (version < 4) {
            EXPECT_EQ(res->error_code, k_ok) << version;
            EXPECT_EQ(res->node_id, 1);
            EXPECT_EQ(res->port, harness().port());
        } else {
            ASSERT_EQ(res->coordinators.size(), 3u);
            for (const auto& c : res->coordinators) {
                EXPECT_EQ(c.error_code, k_ok) << version;
                EXPECT_EQ(c.node_id, 1);
                EXPECT_EQ(c.host, "127.0.0.1");
                EXPECT_EQ(c.port, harness().port());
            }
        }
    }
}

TEST_F(GroupsColdTest, GroupApisBeforeTheOffsetsTopicAnswerNotAvailable) {
    create_topic("t");
    auto client = connect();
    ASSERT_TRUE(client);
    // A JoinGroup before any FindCoordinator: COORDINATOR_NOT_AVAILABLE (and
    // creation starts); the client retries after finding the coordinator.
    auto joined = join(*client, {.group = "early"}, 5);
    EXPECT_TRUE(joined.error_code == k_not_available || joined.error_code == k_member_id_required)
        << joined.error_code;
    ASSERT_TRUE(await_coordinator(*client, "early"));
    auto committed = commit(*client, commit_request("early", {{"t", 0, 5}}), 8);
    EXPECT_EQ(commit_errors(committed)["t:0"], k_ok);
}

// ---- the classic protocol -------------------------------------------------------

TEST_F(GroupsTest, ClassicRebalancesWithThreeMembers) {
    const std::string group = "classic";
    auto a = connect();
    auto b = connect();
    auto c = connect();
    ASSERT_TRUE(a && b && c);
    join_spec spec_a{.group = group, .metadata = bytes_of("meta-a")};
    join_spec spec_b{.group = group, .metadata = bytes_of("meta-b")};
    join_spec spec_c{.group = group, .metadata = bytes_of("meta-c")};

    // Generation 1: A alone (the initial delay, 50 ms, passes).
    spec_a.member_id = required_member_id(*a, spec_a, 4);
    auto a1 = join(*a, spec_a, 4);
    ASSERT_EQ(a1.error_code, k_ok);
    EXPECT_EQ(a1.generation_id, 1);
    EXPECT_EQ(a1.member_id, spec_a.member_id);
    EXPECT_EQ(a1.leader, spec_a.member_id);
    EXPECT_EQ(a1.protocol_name, "range");
    ASSERT_EQ(a1.members.size(), 1u);
    EXPECT_EQ(a1.members[0].metadata, bytes_of("meta-a"));
    auto s1 = sync(*a, sync_request(group, 1, spec_a.member_id, {{spec_a.member_id, "A1"}}), 2);
    EXPECT_EQ(s1.error_code, k_ok);
    EXPECT_EQ(s1.assignment, bytes_of("A1"));
    EXPECT_EQ(beat(*a, heartbeat(group, 1, spec_a.member_id), 0), k_ok);

    // B joins: the group rebalances; A learns it from its heartbeat.
    spec_b.member_id = required_member_id(*b, spec_b, 7);
    ASSERT_TRUE(b->send(join_request(spec_b), 7));
    ASSERT_TRUE(beat_until(*a, heartbeat(group, 1, spec_a.member_id), k_rebalance_in_progress));
    EXPECT_EQ(describe(*c, group).group_state, "PreparingRebalance");
    // A rejoins: everyone is in, generation 2 at once.
    auto a2 = join(*a, spec_a, 6);
    auto b2 = b->receive<join_group_response>(7);
    ASSERT_TRUE(b2);
    ASSERT_EQ(a2.error_code, k_ok);
    ASSERT_EQ(b2->error_code, k_ok);
    EXPECT_EQ(a2.generation_id, 2);
    EXPECT_EQ(b2->generation_id, 2);
    EXPECT_EQ(a2.leader, spec_a.member_id);
    EXPECT_EQ(b2->leader, spec_a.member_id);
    EXPECT_EQ(b2->protocol_type, "consumer");
    EXPECT_EQ(b2->protocol_name, "range");
    EXPECT_TRUE(b2->members.empty());
    ASSERT_EQ(a2.members.size(), 2u);
    std::map<std::string, byte_vector> seen;
    for (const auto& m : a2.members) {
        seen[m.member_id] = m.metadata;
    }
    EXPECT_EQ(seen[spec_a.member_id], bytes_of("meta-a"));
    EXPECT_EQ(seen[spec_b.member_id], bytes_of("meta-b"));
    EXPECT_EQ(describe(*c, group).group_state, "CompletingRebalance");

    // The follower's SyncGroup waits for the leader's assignments.
    ASSERT_TRUE(b->send(sync_request(group, 2, spec_b.member_id), 5));
    auto sa2 = sync(*a,
                    sync_request(group, 2, spec_a.member_id,
                                 {{spec_a.member_id, "A2"}, {spec_b.member_id, "B2"}}),
                    4);
    auto sb2 = b->receive<sync_group_response>(5);
    ASSERT_TRUE(sb2);
    EXPECT_EQ(sa2.error_code, k_ok);
    EXPECT_EQ(sa2.assignment, bytes_of("A2"));
    EXPECT_EQ(sb2->error_code, k_ok);
    EXPECT_EQ(sb2->assignment, bytes_of("B2"));
    EXPECT_EQ(sb2->protocol_type, "consumer");
    EXPECT_EQ(sb2->protocol_name, "range");
    for (int16_t version = 0; version <= 4; ++version) {
        EXPECT_EQ(beat(*a, heartbeat(group, 2, spec_a.member_id), version), k_ok) << version;
        EXPECT_EQ(beat(*b, heartbeat(group, 2, spec_b.member_id), version), k_ok) << version;
    }
    // Wrong generation, unknown member, unknown group.
    EXPECT_EQ(beat(*a, heartbeat(group, 1, spec_a.member_id)), k_illegal_generation);
    EXPECT_EQ(beat(*a, heartbeat(group, 3, spec_a.member_id)), k_illegal_generation);
    EXPECT_EQ(beat(*a, heartbeat(group, 2, "nobody")), k_unknown_member);
    EXPECT_EQ(beat(*a, heartbeat("no-such-group", 2, spec_a.member_id)), k_unknown_member);
    auto stale_sync = sync(*a, sync_request(group, 1, spec_a.member_id), 3);
    EXPECT_EQ(stale_sync.error_code, k_illegal_generation);
    auto stranger_sync = sync(*a, sync_request(group, 2, "nobody"), 3);
    EXPECT_EQ(stranger_sync.error_code, k_unknown_member);

    // C joins with JoinGroup v9: generation 3 with all three.
    spec_c.member_id = required_member_id(*c, spec_c, 9);
    ASSERT_TRUE(c->send(join_request(spec_c), 9));
    ASSERT_TRUE(beat_until(*a, heartbeat(group, 2, spec_a.member_id), k_rebalance_in_progress));
    EXPECT_EQ(beat(*b, heartbeat(group, 2, spec_b.member_id)), k_rebalance_in_progress);
    ASSERT_TRUE(b->send(join_request(spec_b), 8));
    auto a3 = join(*a, spec_a, 5);
    auto b3 = b->receive<join_group_response>(8);
    auto c3 = c->receive<join_group_response>(9);
    ASSERT_TRUE(b3 && c3);
    ASSERT_EQ(a3.error_code, k_ok);
    EXPECT_EQ(a3.generation_id, 3);
    EXPECT_EQ(b3->generation_id, 3);
    EXPECT_EQ(c3->generation_id, 3);
    EXPECT_EQ(c3->leader, spec_a.member_id);
    EXPECT_FALSE(c3->skip_assignment);
    ASSERT_EQ(a3.members.size(), 3u);
    ASSERT_TRUE(b->send(sync_request(group, 3, spec_b.member_id), 1));
    ASSERT_TRUE(c->send(sync_request(group, 3, spec_c.member_id), 0));
    auto sa3 =
        sync(*a,
             sync_request(
                 group, 3, spec_a.member_id,
                 {{spec_a.member_id, "A3"}, {spec_b.member_id, "B3"}, {spec_c.member_id, "C3"}}),
             5);
    auto sb3 = b->receive<sync_group_response>(1);
    auto sc3 = c->receive<sync_group_response>(0);
    ASSERT_TRUE(sb3 && sc3);
    EXPECT_EQ(sa3.assignment, bytes_of("A3"));
    EXPECT_EQ(sb3->assignment, bytes_of("B3"));
    EXPECT_EQ(sc3->assignment, bytes_of("C3"));

    // DescribeGroups of the Stable group, at every version.
    for (int16_t version = 0; version <= 5; ++version) {
        auto d = describe(*c, group, version);
        EXPECT_EQ(d.error_code, k_ok);
        EXPECT_EQ(d.group_id, group);
        EXPECT_EQ(d.group_state, "Stable");
        EXPECT_EQ(d.protocol_type, "consumer");
        EXPECT_EQ(d.protocol_data, "range");
        ASSERT_EQ(d.members.size(), 3u) << version;
        std::map<std::string, std::pair<byte_vector, byte_vector>> members;
        for (const auto& m : d.members) {
            EXPECT_EQ(m.client_id, "floe-test");
            EXPECT_EQ(m.client_host, "/127.0.0.1");
            EXPECT_FALSE(m.group_instance_id.has_value());
            members[m.member_id] = {m.member_metadata, m.member_assignment};
        }
        EXPECT_EQ(members[spec_a.member_id].first, bytes_of("meta-a"));
        EXPECT_EQ(members[spec_b.member_id].second, bytes_of("B3"));
        EXPECT_EQ(members[spec_c.member_id].second, bytes_of("C3"));
    }

    // C leaves with LeaveGroup v1: the others must rejoin.
    leave_group_request leave_c;
    leave_c.group_id = group;
    leave_c.member_id = spec_c.member_id;
    auto left = c->call<leave_group_response>(leave_c, 1);
    ASSERT_TRUE(left);
    EXPECT_EQ(left->error_code, k_ok);
    EXPECT_EQ(beat(*a, heartbeat(group, 3, spec_a.member_id)), k_rebalance_in_progress);
    auto again = c->call<leave_group_response>(leave_c, 2);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->error_code, k_unknown_member);
    // A and B leave in one batch (v3); an unknown member in it fails alone.
    leave_group_request batch;
    batch.group_id = group;
    batch.members = {{spec_a.member_id, std::nullopt, std::nullopt, {}},
                     {"nobody", std::nullopt, std::nullopt, {}},
                     {spec_b.member_id, std::nullopt, std::nullopt, {}}};
    auto batch_left = a->call<leave_group_response>(batch, 3);
    ASSERT_TRUE(batch_left);
    EXPECT_EQ(batch_left->error_code, k_ok);
    ASSERT_EQ(batch_left->members.size(), 3u);
    EXPECT_EQ(batch_left->members[0].member_id, spec_a.member_id);
    EXPECT_EQ(batch_left->members[0].error_code, k_ok);
    EXPECT_EQ(batch_left->members[1].error_code, k_unknown_member);
    EXPECT_EQ(batch_left->members[2].error_code, k_ok);
    auto empty = describe(*c, group);
    EXPECT_EQ(empty.group_state, "Empty");
    EXPECT_TRUE(empty.members.empty());
    EXPECT_EQ(beat(*a, heartbeat(group, 3, spec_a.member_id)), k_unknown_member);
}

TEST_F(GroupsTest, SessionTimeoutBounds) {
    auto client = connect();
    for (int16_t version : {int16_t{0}, int16_t{1}, int16_t{4}, int16_t{9}}) {
        for (int32_t timeout : {0, 5999, 1800001, INT32_MAX, -1}) {
            auto res = join(*client, {.group = "bounds", .session_timeout_ms = timeout}, version);
            EXPECT_EQ(res.error_code, k_invalid_session_timeout)
                << "v" << version << " timeout " << timeout;
        }
    }
    // The bounds themselves are accepted.
    for (int32_t timeout : {6000, 1800000}) {
        join_spec spec{.group = "bounds-" + std::to_string(timeout), .session_timeout_ms = timeout};
        EXPECT_FALSE(required_member_id(*client, spec, 4).empty());
    }
}

TEST_F(GroupsTest, OldJoinGroupVersionsAreAdmittedAtOnce) {
    auto client = connect();
    for (int16_t version = 0; version <= 3; ++version) {
        const std::string group = "old-" + std::to_string(version);
        // No MEMBER_ID_REQUIRED round: the first join is a member.
        auto res = join(*client, {.group = group}, version);
        ASSERT_EQ(res.error_code, k_ok) << version;
        EXPECT_FALSE(res.member_id.empty());
        EXPECT_EQ(res.generation_id, 1);
        EXPECT_EQ(res.leader, res.member_id);
        EXPECT_EQ(res.protocol_name, "range");
        ASSERT_EQ(res.members.size(), 1u);
        auto synced =
            sync(*client, sync_request(group, 1, res.member_id, {{res.member_id, "x"}}), 0);
        EXPECT_EQ(synced.error_code, k_ok);
        EXPECT_EQ(synced.assignment, bytes_of("x"));
        EXPECT_EQ(beat(*client, heartbeat(group, 1, res.member_id), 0), k_ok);
        EXPECT_EQ(describe(*client, group, 0).group_state, "Stable");
        leave_group_request leave;
        leave.group_id = group;
        leave.member_id = res.member_id;
        auto left = client->call<leave_group_response>(leave, 0);
        ASSERT_TRUE(left);
        EXPECT_EQ(left->error_code, k_ok);
        EXPECT_EQ(describe(*client, group, 0).group_state, "Empty");
    }
}

TEST_F(GroupsTest, StaticMembership) {
    const std::string group = "static";
    auto first = connect();
    auto second = connect();
    join_spec spec{.group = group, .instance = "instance-1"};
    // A static member needs no MEMBER_ID_REQUIRED round, at any version.
    auto joined = join(*first, spec, 5);
    ASSERT_EQ(joined.error_code, k_ok);
    EXPECT_EQ(joined.member_id.rfind("instance-1-", 0), 0u) << joined.member_id;
    const std::string old_id = joined.member_id;
    auto synced =
        sync(*first,
             sync_request(group, joined.generation_id, old_id, {{old_id, "s"}}, "instance-1"), 3);
    EXPECT_EQ(synced.error_code, k_ok);
    EXPECT_EQ(beat(*first, heartbeat(group, joined.generation_id, old_id, "instance-1"), 3), k_ok);
    auto d = describe(*first, group, 4);
    ASSERT_EQ(d.members.size(), 1u);
    EXPECT_EQ(d.members[0].group_instance_id, "instance-1");

    // The same instance restarts (no member id): it takes the place over,
    // without a new generation, and the old incarnation is fenced.
    auto rejoined = join(*second, spec, 5);
    ASSERT_EQ(rejoined.error_code, k_ok);
    const std::string new_id = rejoined.member_id;
    EXPECT_NE(new_id, old_id);
    EXPECT_EQ(rejoined.generation_id, joined.generation_id);
    EXPECT_EQ(beat(*first, heartbeat(group, joined.generation_id, old_id, "instance-1"), 3),
              k_fenced_instance);
    join_spec stale = spec;
    stale.member_id = old_id;
    EXPECT_EQ(join(*first, stale, 5).error_code, k_fenced_instance);
    EXPECT_EQ(sync(*first, sync_request(group, joined.generation_id, old_id, {}, "instance-1"), 3)
                  .error_code,
              k_fenced_instance);
    auto stale_commit = commit(*first, commit_request(group, {}, joined.generation_id, old_id), 7);
    (void)stale_commit;  // no partitions: nothing to report
    EXPECT_EQ(beat(*second, heartbeat(group, joined.generation_id, new_id, "instance-1"), 4), k_ok);
    // LeaveGroup v3 with the old id is fenced; by instance id alone works.
    leave_group_request leave;
    leave.group_id = group;
    leave.members = {{old_id, "instance-1", std::nullopt, {}}};
    auto fenced = first->call<leave_group_response>(leave, 4);
    ASSERT_TRUE(fenced);
    ASSERT_EQ(fenced->members.size(), 1u);
    EXPECT_EQ(fenced->members[0].error_code, k_fenced_instance);
    leave.members = {{"", "instance-1", "going away", {}}};
    auto left = first->call<leave_group_response>(leave, 5);
    ASSERT_TRUE(left);
    EXPECT_EQ(left->error_code, k_ok);
    ASSERT_EQ(left->members.size(), 1u);
    EXPECT_EQ(left->members[0].error_code, k_ok);
    EXPECT_EQ(left->members[0].group_instance_id, "instance-1");
    EXPECT_EQ(describe(*first, group).group_state, "Empty");
}

// ---- offsets ----------------------------------------------------------------------

TEST_F(GroupsTest, OffsetCommitAndFetchAtEveryVersion) {
    create_topic("t", 3);
    auto client = connect();
    for (int16_t commit_version = 2; commit_version <= 9; ++commit_version) {
        const std::string group = "offsets-v" + std::to_string(commit_version);
        const bool has_epoch = commit_version >= 6;
        auto res = commit(*client,
                          commit_request(group, {{"t", 0, 100 + commit_version, 7, "meta-0"},
                                                 {"t", 1, 200, 8, std::nullopt},
                                                 {"t", 2, 300, -1, "ü ☃ metadata"}}),
                          commit_version);
        EXPECT_EQ(commit_errors(res),
                  (std::map<std::string, int16_t>{{"t:0", k_ok}, {"t:1", k_ok}, {"t:2", k_ok}}))
            << commit_version;
        for (int16_t fetch_version = 1; fetch_version <= 9; ++fetch_version) {
            auto [offsets, error] = fetch_offsets(*client, group, fetch_version,
                                                  std::vector<std::pair<std::string, int32_t>>{
                                                      {"t", 0}, {"t", 1}, {"t", 2}, {"t", 7}});
            EXPECT_EQ(error, k_ok);
            const bool shows_epoch = fetch_version >= 5;
            const int32_t epoch0 = has_epoch && shows_epoch ? 7 : -1;
            const int32_t epoch1 = has_epoch && shows_epoch ? 8 : -1;
            EXPECT_EQ(offsets["t:0"], (fetched{100 + commit_version, epoch0, "meta-0", 0}))
                << commit_version << "/" << fetch_version;
            EXPECT_EQ(offsets["t:1"], (fetched{200, epoch1, "", 0}))
                << commit_version << "/" << fetch_version;
            EXPECT_EQ(offsets["t:2"], (fetched{300, -1, "ü ☃ metadata", 0}));
            // Nothing committed: offset -1, no error.
            EXPECT_EQ(offsets["t:7"].offset, -1);
            EXPECT_EQ(offsets["t:7"].error, k_ok);
            // Null topics (v2+): every committed partition.
            if (fetch_version >= 2) {
                auto [all, all_error] = fetch_offsets(*client, group, fetch_version, std::nullopt);
                EXPECT_EQ(all_error, k_ok);
                EXPECT_EQ(all.size(), 3u) << fetch_version;
                EXPECT_EQ(all["t:0"].offset, 100 + commit_version);
            }
        }
    }
    // A later commit replaces the offset and its metadata.
    commit(*client, commit_request("offsets-v9", {{"t", 0, 5000, 9, "later"}}), 9);
    auto [later, later_error] = fetch_offsets(*client, "offsets-v9", 9, std::nullopt);
    EXPECT_EQ(later["t:0"], (fetched{5000, 9, "later", 0}));
    // An unknown group has nothing committed.
    auto [unknown, unknown_error] = fetch_offsets(*client, "never-committed", 7, std::nullopt);
    EXPECT_EQ(unknown_error, k_ok);
    EXPECT_TRUE(unknown.empty());
}

TEST_F(GroupsTest, OffsetFetchOfSeveralGroupsInOneRequest) {
    create_topic("t", 2);
    create_topic("u", 1);
    auto client = connect();
    commit(*client, commit_request("g1", {{"t", 0, 10, 1, "g1-t0"}, {"t", 1, 11}}), 8);
    commit(*client, commit_request("g2", {{"u", 0, 20, 2, "g2-u0"}}), 8);
    for (int16_t version : {int16_t{8}, int16_t{9}}) {
        offset_fetch_request req;
        req.groups.push_back({"g1", std::nullopt, -1, std::nullopt, {}});
        offset_fetch_request::offset_fetch_request_group g2;
        g2.group_id = "g2";
        g2.topics = std::vector<offset_fetch_request::offset_fetch_request_topics>{{"u", {0}, {}},
                                                                                   {"t", {1}, {}}};
        req.groups.push_back(g2);
        req.groups.push_back({"g3", std::nullopt, -1, std::nullopt, {}});
        auto res = client->call<offset_fetch_response>(req, version);
        ASSERT_TRUE(res);
        ASSERT_EQ(res->groups.size(), 3u);
        EXPECT_EQ(res->groups[0].group_id, "g1");
        EXPECT_EQ(res->groups[0].error_code, k_ok);
        ASSERT_EQ(res->groups[0].topics.size(), 1u);
        EXPECT_EQ(res->groups[0].topics[0].name, "t");
        ASSERT_EQ(res->groups[0].topics[0].partitions.size(), 2u);
        EXPECT_EQ(res->groups[0].topics[0].partitions[0].committed_offset, 10);
        EXPECT_EQ(res->groups[0].topics[0].partitions[0].committed_leader_epoch, 1);
        EXPECT_EQ(res->groups[0].topics[0].partitions[0].metadata, "g1-t0");
        EXPECT_EQ(res->groups[0].topics[0].partitions[1].committed_offset, 11);
        EXPECT_EQ(res->groups[1].group_id, "g2");
        ASSERT_EQ(res->groups[1].topics.size(), 2u);
        EXPECT_EQ(res->groups[1].topics[0].name, "u");
        EXPECT_EQ(res->groups[1].topics[0].partitions[0].committed_offset, 20);
        EXPECT_EQ(res->groups[1].topics[0].partitions[0].metadata, "g2-u0");
        EXPECT_EQ(res->groups[1].topics[1].name, "t");
        EXPECT_EQ(res->groups[1].topics[1].partitions[0].committed_offset, -1);
        EXPECT_EQ(res->groups[2].group_id, "g3");
        EXPECT_EQ(res->groups[2].error_code, k_ok);
        EXPECT_TRUE(res->groups[2].topics.empty());
    }
}

TEST_F(GroupsTest, OffsetCommitErrorsPerPartition) {
    create_topic("t", 2);
    auto client = connect();
    // Unknown topic and partition fail alone; the rest of the request commits.
    auto res = commit(*client,
                      commit_request("partial", {{"t", 0, 1},
                                                 {"t", 99, 2},
                                                 {"t", -1, 2},
                                                 {"missing", 0, 3},
                                                 {"t", 1, 4, -1, std::string(4097, 'm')}}),
                      8);
    EXPECT_EQ(commit_errors(res),
              (std::map<std::string, int16_t>{{"t:0", k_ok},
                                              {"t:99", k_unknown_partition},
                                              {"t:-1", k_unknown_partition},
                                              {"missing:0", k_unknown_partition},
                                              {"t:1", k_metadata_too_large}}));
    // The metadata limit is inclusive.
    auto limit =
        commit(*client, commit_request("partial", {{"t", 1, 5, -1, std::string(4096, 'm')}}), 2);
    EXPECT_EQ(commit_errors(limit)["t:1"], k_ok);
    auto [offsets, error] = fetch_offsets(*client, "partial", 6, std::nullopt);
    EXPECT_EQ(offsets.size(), 2u);
    EXPECT_EQ(offsets["t:0"].offset, 1);
    EXPECT_EQ(offsets["t:1"].offset, 5);
    EXPECT_EQ(offsets["t:1"].metadata->size(), 4096u);
    EXPECT_EQ(offsets.count("missing:0"), 0u);
}

TEST_F(GroupsTest, OffsetCommitToAnActiveGroup) {
    create_topic("t", 1);
    auto client = connect();
    auto [member_id, generation] = stable_group(*client, {.group = "active"});
    // The member at its generation commits.
    auto ok = commit(*client, commit_request("active", {{"t", 0, 7}}, generation, member_id), 7);
    EXPECT_EQ(commit_errors(ok)["t:0"], k_ok);
    // A wrong generation, an unknown member, or a simple commit do not.
    auto wrong =
        commit(*client, commit_request("active", {{"t", 0, 8}}, generation + 1, member_id), 7);
    EXPECT_EQ(commit_errors(wrong)["t:0"], k_illegal_generation);
    auto older =
        commit(*client, commit_request("active", {{"t", 0, 8}}, generation - 1, member_id), 2);
    EXPECT_EQ(commit_errors(older)["t:0"], k_illegal_generation);
    auto stranger =
        commit(*client, commit_request("active", {{"t", 0, 8}}, generation, "nobody"), 8);
    EXPECT_EQ(commit_errors(stranger)["t:0"], k_unknown_member);
    auto simple = commit(*client, commit_request("active", {{"t", 0, 8}}), 8);
    EXPECT_EQ(commit_errors(simple)["t:0"], k_unknown_member);
    auto [offsets, error] = fetch_offsets(*client, "active", 7, std::nullopt);
    EXPECT_EQ(offsets["t:0"].offset, 7);
    // A commit with a generation to a group that does not exist.
    auto ghost = commit(*client, commit_request("ghost", {{"t", 0, 1}}, 3, "m"), 8);
    EXPECT_EQ(commit_errors(ghost)["t:0"], k_illegal_generation);
    auto ghost9 = commit(*client, commit_request("ghost", {{"t", 0, 1}}, 3, "m"), 9);
    EXPECT_EQ(commit_errors(ghost9)["t:0"], k_group_not_found);
}

TEST_F(GroupsTest, OffsetDelete) {
    create_topic("t", 2);
    create_topic("u", 1);
    auto client = connect();
    auto [member_id, generation] =
        stable_group(*client, {.group = "od", .metadata = subscription({"t"})});
    commit(*client,
           commit_request("od", {{"t", 0, 1}, {"t", 1, 2}, {"u", 0, 3}}, generation, member_id), 8);
    offset_delete_request req;
    req.group_id = "od";
    req.topics = {{"t", {{0}}}, {"u", {{0}}}, {"missing", {{0}}}};
    auto res = client->call<offset_delete_response>(req, 0);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->error_code, k_ok);
    ASSERT_EQ(res->topics.size(), 3u);
    EXPECT_EQ(res->topics[0].partitions[0].error_code, k_subscribed_to_topic);
    EXPECT_EQ(res->topics[1].partitions[0].error_code, k_ok);
    EXPECT_EQ(res->topics[2].partitions[0].error_code, k_unknown_partition);
    auto [kept, kept_error] = fetch_offsets(*client, "od", 8, std::nullopt);
    EXPECT_EQ(kept.size(), 2u);
    EXPECT_EQ(kept.count("u:0"), 0u);

    // Once the member left (Empty), the subscribed topic's offsets go too.
    leave_group_request leave;
    leave.group_id = "od";
    leave.member_id = member_id;
    ASSERT_TRUE(client->call<leave_group_response>(leave, 2));
    req.topics = {{"t", {{0}, {1}}}};
    res = client->call<offset_delete_response>(req, 0);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->error_code, k_ok);
    ASSERT_EQ(res->topics.size(), 1u);
    EXPECT_EQ(res->topics[0].partitions[0].error_code, k_ok);
    EXPECT_EQ(res->topics[0].partitions[1].error_code, k_ok);
    auto [gone, gone_error] = fetch_offsets(*client, "od", 8, std::nullopt);
    EXPECT_TRUE(gone.empty());

    // Unknown and empty group ids.
    req.group_id = "no-such-group";
    res = client->call<offset_delete_response>(req, 0);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->error_code, k_group_not_found);
    req.group_id = "";
    res = client->call<offset_delete_response>(req, 0);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->error_code, k_invalid_group_id);
}

TEST_F(GroupsTest, OffsetsAndGroupsSurviveRestart) {
    create_topic("t", 3);
    std::string member_id;
    int32_t generation = 0;
    {
        auto client = connect();
        commit(*client,
               commit_request("durable", {{"t", 0, 42, 3, "zero"},
                                          {"t", 1, 43, -1, std::nullopt},
                                          {"t", 2, 44, 5, std::string(4096, 'x')}}),
               9);
        // A later commit of the same partition is what comes back.
        commit(*client, commit_request("durable", {{"t", 0, 45, 4, "zero-2"}}), 8);
        std::tie(member_id, generation) =
            stable_group(*client, {.group = "alive", .metadata = bytes_of("alive-meta")});
        commit(*client, commit_request("alive", {{"t", 0, 9, 1, "m"}}, generation, member_id), 7);
        // A group whose offsets were deleted stays deleted.
        commit(*client, commit_request("deleted", {{"t", 0, 1}}), 8);
        delete_groups_request del;
        del.groups_names = {"deleted"};
        auto deleted = client->call<delete_groups_response>(del, 2);
        ASSERT_TRUE(deleted);
        EXPECT_EQ(deleted->results[0].error_code, k_ok);
    }
    restart();
    auto client = connect();
    ASSERT_TRUE(await_coordinator(*client, "durable"));
    auto [offsets, error] = fetch_offsets(*client, "durable", 9, std::nullopt);
    EXPECT_EQ(error, k_ok);
    ASSERT_EQ(offsets.size(), 3u);
    EXPECT_EQ(offsets["t:0"], (fetched{45, 4, "zero-2", 0}));
    EXPECT_EQ(offsets["t:1"], (fetched{43, -1, "", 0}));
    EXPECT_EQ(offsets["t:2"], (fetched{44, 5, std::string(4096, 'x'), 0}));
    auto [old_layout, old_error] = fetch_offsets(
        *client, "durable", 5, std::vector<std::pair<std::string, int32_t>>{{"t", 0}});
    EXPECT_EQ(old_layout["t:0"], (fetched{45, 4, "zero-2", 0}));
    // The group with a member comes back Stable, with the member.
    auto d = describe(*client, "alive");
    EXPECT_EQ(d.group_state, "Stable");
    EXPECT_EQ(d.protocol_data, "range");
    ASSERT_EQ(d.members.size(), 1u);
    EXPECT_EQ(d.members[0].member_id, member_id);
    EXPECT_EQ(d.members[0].client_host, "/127.0.0.1");
    EXPECT_EQ(d.members[0].member_metadata, bytes_of("alive-meta"));
    EXPECT_EQ(d.members[0].member_assignment, bytes_of("a"));
    EXPECT_EQ(beat(*client, heartbeat("alive", generation, member_id)), k_ok);
    auto [alive, alive_error] = fetch_offsets(*client, "alive", 9, std::nullopt);
    EXPECT_EQ(alive["t:0"], (fetched{9, 1, "m", 0}));
    auto listed = list(*client, 5);
    EXPECT_EQ(listed.count("deleted"), 0u);
    EXPECT_EQ(listed["alive"], "classic/Stable/consumer");
    EXPECT_EQ(listed["durable"], "classic/Empty/");
    auto [deleted, deleted_error] = fetch_offsets(*client, "deleted", 9, std::nullopt);
    EXPECT_TRUE(deleted.empty());
    // And a second restart changes nothing.
    restart();
    client = connect();
    ASSERT_TRUE(await_coordinator(*client, "durable"));
    auto [again, again_error] = fetch_offsets(*client, "durable", 9, std::nullopt);
    EXPECT_EQ(again, offsets);
}

// ---- administration ----------------------------------------------------------------

TEST_F(GroupsTest, DescribeListAndDeleteGroups) {
    create_topic("t", 1);
    auto client = connect();
    auto [member_id, generation] = stable_group(*client, {.group = "busy"});
    commit(*client, commit_request("idle", {{"t", 0, 5}}), 8);
    // An unknown group is described as Dead, without an error.
    auto unknown = describe(*client, "unknown", 0);
    EXPECT_EQ(unknown.error_code, k_ok);
    EXPECT_EQ(unknown.group_state, "Dead");
    EXPECT_TRUE(unknown.members.empty());
    auto idle = describe(*client, "idle", 3);
    EXPECT_EQ(idle.group_state, "Empty");
    EXPECT_EQ(idle.protocol_type, "");
    // Authorized operations only when asked (v3+).
    describe_groups_request with_ops;
    with_ops.groups = {"busy", "idle"};
    with_ops.include_authorized_operations = true;
    auto ops = client->call<describe_groups_response>(with_ops, 3);
    ASSERT_TRUE(ops);
    ASSERT_EQ(ops->groups.size(), 2u);
    EXPECT_NE(ops->groups[0].authorized_operations, INT32_MIN);
    EXPECT_EQ(ops->groups[1].group_id, "idle");
    EXPECT_EQ(describe(*client, "busy", 3).authorized_operations, INT32_MIN);

    for (int16_t version = 0; version <= 5; ++version) {
        auto listed = list(*client, version);
        ASSERT_EQ(listed.size(), 2u) << version;
        EXPECT_EQ(listed.count("busy"), 1u);
        EXPECT_EQ(listed.count("idle"), 1u);
    }
    auto all = list(*client, 5);
    EXPECT_EQ(all["busy"], "classic/Stable/consumer");
    EXPECT_EQ(all["idle"], "classic/Empty/");
    // States filter (v4+, any case) and types filter (v5).
    EXPECT_EQ(list(*client, 4, {"Stable"}),
              (std::map<std::string, std::string>{{"busy", "/Stable/consumer"}}));
    EXPECT_EQ(list(*client, 4, {"empty"}).size(), 1u);
    EXPECT_EQ(list(*client, 4, {"empty"}).count("idle"), 1u);
    EXPECT_EQ(list(*client, 4, {"Dead"}).size(), 0u);
    EXPECT_EQ(list(*client, 5, {"Stable", "Empty"}).size(), 2u);
    EXPECT_EQ(list(*client, 5, {}, {"classic"}).size(), 2u);
    EXPECT_EQ(list(*client, 5, {}, {"Consumer"}).size(), 0u);
    EXPECT_EQ(list(*client, 5, {"Empty"}, {"CLASSIC"}).size(), 1u);

    // DeleteGroups: a group with members is not deleted, an unknown one is
    // not found, an empty one goes with its offsets.
    for (int16_t version = 0; version <= 2; ++version) {
        const std::string name = "doomed-" + std::to_string(version);
        commit(*client, commit_request(name, {{"t", 0, 1}}), 8);
        delete_groups_request req;
        req.groups_names = {"busy", name, "unknown", name};
        auto res = client->call<delete_groups_response>(req, version);
        ASSERT_TRUE(res) << version;
        ASSERT_EQ(res->results.size(), 3u);
        std::map<std::string, int16_t> errors;
        for (const auto& r : res->results) {
            errors[r.group_id] = r.error_code;
        }
        EXPECT_EQ(errors["busy"], k_non_empty_group);
        EXPECT_EQ(errors[name], k_ok);
        EXPECT_EQ(errors["unknown"], k_group_not_found);
        auto [offsets, error] = fetch_offsets(*client, name, 9, std::nullopt);
        EXPECT_TRUE(offsets.empty());
        EXPECT_EQ(describe(*client, name).group_state, "Dead");
    }
    // Once its member left, the busy group can be deleted too.
    leave_group_request leave;
    leave.group_id = "busy";
    leave.member_id = member_id;
    ASSERT_TRUE(client->call<leave_group_response>(leave, 0));
    delete_groups_request req;
    req.groups_names = {"busy", "idle"};
    auto res = client->call<delete_groups_response>(req, 1);
    ASSERT_TRUE(res);
    for (const auto& r : res->results) {
        EXPECT_EQ(r.error_code, k_ok) << r.group_id;
    }
    EXPECT_TRUE(list(*client, 5).empty());
    auto [idle_offsets, idle_error] = fetch_offsets(*client, "idle", 3, std::nullopt);
    EXPECT_TRUE(idle_offsets.empty());
}

// ---- the consumer group protocol (KIP-848) ---------------------------------------------

// Offsets partitions are compacted: after many commits of the same
// partitions the log holds far fewer records than were committed, and a
// restart reads back the last commit of each.
class GroupsCompactionTest : public GroupsTest {
protected:
    harness_options options() override {
        harness_options o = GroupsTest::options();
        o.broker.groups.offsets_partitions = 1;
        o.broker.groups.log.compact_min_records = 100;
        return o;
    }
};

TEST_F(GroupsCompactionTest, CommitsAreCompactedAndTheLastOnesSurviveRestart) {
    create_topic("t", 3);
    {
        auto client = connect();
        for (int i = 0; i < 600; ++i) {
            auto res = commit(
                *client,
                commit_request("compacted", {{"t", i % 3, i, -1, "m" + std::to_string(i)}}), 8);
            ASSERT_EQ(commit_errors(res)["t:" + std::to_string(i % 3)], k_ok) << i;
        }
    }
    // The snapshots moved the offsets partition's start (the trim runs on
    // the blocking pool after the snapshot is durable).
    auto offsets_partition = node().find_partition("__consumer_offsets", 0);
    ASSERT_TRUE(offsets_partition);
    for (int i = 0; i < 200 && offsets_partition->offsets().log_start_offset == 0; ++i) {
        std::this_thread::sleep_for(10ms);
    }
    const auto bounds = offsets_partition->offsets();
    EXPECT_GT(bounds.log_start_offset, 0);
    EXPECT_LT(bounds.high_watermark - bounds.log_start_offset, 300);
    restart();
    auto client = connect();
    ASSERT_TRUE(await_coordinator(*client, "compacted"));
    auto [offsets, error] = fetch_offsets(*client, "compacted", 8, std::nullopt);
    EXPECT_EQ(error, k_ok);
    ASSERT_EQ(offsets.size(), 3u);
    EXPECT_EQ(offsets["t:0"], (fetched{597, -1, "m597", 0}));
    EXPECT_EQ(offsets["t:1"], (fetched{598, -1, "m598", 0}));
    EXPECT_EQ(offsets["t:2"], (fetched{599, -1, "m599", 0}));
}

TEST_F(GroupsTest, ConsumerGroupAssignsReconcilesAndSurvivesRestart) {
    const std::string group = "cg";
    auto topic = create_topic("k", 4);
    const auto topic_id = topic.id;
    cg_member one{connect(), 0, "", 0, {}};
    cg_member two{connect(), 1, "member-two-id", 0, {}};
    ASSERT_TRUE(one.client && two.client);

    // An unknown assignor is refused before anything else.
    auto bad_assignor_request = cg_join_request(group, one, {"k"});
    bad_assignor_request.server_assignor = "nope";
    auto bad_assignor = cg_call(one, bad_assignor_request);
    EXPECT_EQ(bad_assignor.error_code, k_unsupported_assignor);
    EXPECT_TRUE(bad_assignor.error_message.has_value());

    // v0: the server gives the member id; v1: the client brings it.
    auto joined_one = cg_call(one, cg_join_request(group, one, {"k"}));
    ASSERT_EQ(joined_one.error_code, k_ok) << joined_one.error_message.value_or("");
    ASSERT_TRUE(joined_one.member_id.has_value());
    one.id = *joined_one.member_id;
    EXPECT_FALSE(one.id.empty());
    EXPECT_GE(joined_one.member_epoch, 1);
    EXPECT_EQ(joined_one.heartbeat_interval_ms, 5000);
    ASSERT_TRUE(joined_one.assignment.has_value());
    take_assignment(one, joined_one, topic_id);
    auto joined_two = cg_call(two, cg_join_request(group, two, {"k"}));
    ASSERT_EQ(joined_two.error_code, k_ok) << joined_two.error_message.value_or("");
    EXPECT_EQ(joined_two.member_id, "member-two-id");
    take_assignment(two, joined_two, topic_id);
    EXPECT_GT(two.epoch, joined_one.member_epoch);

    ASSERT_TRUE(reconcile({&one, &two}, group, topic_id, 4));
    EXPECT_EQ(one.owned.size(), 2u);
    EXPECT_EQ(two.owned.size(), 2u);
    auto admin = connect();
    auto described = cg_describe(*admin, group);
    ASSERT_TRUE(described);
    EXPECT_EQ(described->error_code, k_ok);
    EXPECT_EQ(described->group_state, "Stable");
    EXPECT_EQ(described->assignor_name, "uniform");
    EXPECT_EQ(described->group_epoch, one.epoch);
    EXPECT_EQ(described->assignment_epoch, one.epoch);
    ASSERT_EQ(described->members.size(), 2u);
    for (const auto& m : described->members) {
        EXPECT_TRUE(m.member_id == one.id || m.member_id == two.id) << m.member_id;
        EXPECT_EQ(m.member_epoch, one.epoch);
        EXPECT_EQ(m.client_id, "floe-test");
        EXPECT_EQ(m.client_host, "/127.0.0.1");
        EXPECT_EQ(m.subscribed_topic_names, std::vector<std::string>{"k"});
        ASSERT_EQ(m.assignment.topic_partitions.size(), 1u);
        EXPECT_EQ(m.assignment.topic_partitions[0].topic_name, "k");
        EXPECT_EQ(m.assignment.topic_partitions[0].topic_id.bytes, topic_id);
        const auto& mine = m.member_id == one.id ? one.owned : two.owned;
        EXPECT_EQ(std::set<int32_t>(m.assignment.topic_partitions[0].partitions.begin(),
                                    m.assignment.topic_partitions[0].partitions.end()),
                  mine);
        EXPECT_EQ(m.target_assignment, m.assignment);
    }
    // The classic APIs see it too.
    EXPECT_EQ(list(*admin, 5)[group], "consumer/Stable/consumer");
    EXPECT_EQ(list(*admin, 5, {}, {"consumer"}).size(), 1u);
    EXPECT_EQ(list(*admin, 5, {}, {"classic"}).size(), 0u);
    auto classic_view = describe(*admin, group);
    EXPECT_EQ(classic_view.protocol_type, "consumer");
    EXPECT_EQ(classic_view.members.size(), 2u);

    // Wrong epochs and strangers.
    cg_request fenced_request;
    fenced_request.group_id = group;
    fenced_request.member_id = one.id;
    fenced_request.member_epoch = one.epoch + 1;
    EXPECT_EQ(cg_call(one, fenced_request).error_code, k_fenced_member_epoch);
    fenced_request.member_epoch = one.epoch - 1;  // older, and owning partitions it was not given
    fenced_request.topic_partitions.emplace();
    fenced_request.topic_partitions->push_back({uuid{topic_id}, {0, 1, 2, 3}, {}});
    EXPECT_EQ(cg_call(one, fenced_request).error_code, k_fenced_member_epoch);
    cg_request stranger;
    stranger.group_id = group;
    stranger.member_id = "nobody";
    stranger.member_epoch = 1;
    EXPECT_EQ(cg_call(one, stranger).error_code, k_unknown_member);
    // The members keep their places after those refusals.
    cg_beat(one, group, topic_id);
    EXPECT_EQ(one.owned.size(), 2u);

    // Offsets: v9 with the member epoch; a newer epoch is stale; before v9
    // a consumer group member cannot commit.
    const int32_t owned_partition = *one.owned.begin();
    auto committed =
        commit(*one.client,
               commit_request(group, {{"k", owned_partition, 77, 1, "cg"}}, one.epoch, one.id), 9);
    EXPECT_EQ(commit_errors(committed)["k:" + std::to_string(owned_partition)], k_ok);
    auto stale = commit(
        *one.client, commit_request(group, {{"k", owned_partition, 78}}, one.epoch + 1, one.id), 9);
    EXPECT_EQ(commit_errors(stale)["k:" + std::to_string(owned_partition)], k_stale_member_epoch);
    auto old_version = commit(
        *one.client, commit_request(group, {{"k", owned_partition, 78}}, one.epoch, one.id), 8);
    EXPECT_EQ(commit_errors(old_version)["k:" + std::to_string(owned_partition)],
              k_unsupported_version);
    auto unknown_member = commit(
        *one.client, commit_request(group, {{"k", owned_partition, 78}}, one.epoch, "nobody"), 9);
    EXPECT_EQ(commit_errors(unknown_member)["k:" + std::to_string(owned_partition)],
              k_unknown_member);
    auto [offsets, fetch_error] =
        fetch_offsets(*one.client, group, 9, std::nullopt, one.id, one.epoch);
    EXPECT_EQ(fetch_error, k_ok);
    EXPECT_EQ(offsets["k:" + std::to_string(owned_partition)], (fetched{77, 1, "cg", 0}));
    auto [stale_fetch, stale_fetch_error] =
        fetch_offsets(*one.client, group, 9, std::nullopt, one.id, one.epoch + 1);
    EXPECT_EQ(stale_fetch_error, k_stale_member_epoch);
    // Without member (admin tools): not checked.
    auto [admin_fetch, admin_fetch_error] = fetch_offsets(*admin, group, 8, std::nullopt);
    EXPECT_EQ(admin_fetch_error, k_ok);
    EXPECT_EQ(admin_fetch.size(), 1u);

    // The group survives a restart: same members, epochs and assignments.
    const auto before = *described;
    restart();
    admin = connect();
    ASSERT_TRUE(await_coordinator(*admin, group));
    auto after = cg_describe(*admin, group);
    ASSERT_TRUE(after);
    EXPECT_EQ(after->group_epoch, before.group_epoch);
    EXPECT_EQ(after->assignment_epoch, before.assignment_epoch);
    EXPECT_EQ(after->assignor_name, before.assignor_name);
    EXPECT_EQ(after->group_state, "Stable");
    ASSERT_EQ(after->members.size(), before.members.size());
    for (size_t i = 0; i < before.members.size(); ++i) {
        EXPECT_EQ(after->members[i].member_id, before.members[i].member_id);
        EXPECT_EQ(after->members[i].member_epoch, before.members[i].member_epoch);
        EXPECT_EQ(after->members[i].assignment, before.members[i].assignment);
        EXPECT_EQ(after->members[i].subscribed_topic_names,
                  before.members[i].subscribed_topic_names);
        EXPECT_EQ(after->members[i].client_host, before.members[i].client_host);
    }
    auto [restarted_offsets, restarted_error] = fetch_offsets(*admin, group, 8, std::nullopt);
    EXPECT_EQ(restarted_offsets["k:" + std::to_string(owned_partition)], (fetched{77, 1, "cg", 0}));

    // The members carry on (new connections) and two leaves: one gets all.
    one.client = connect();
    two.client = connect();
    cg_beat(one, group, topic_id);
    cg_beat(two, group, topic_id);
    cg_request leave;
    leave.group_id = group;
    leave.member_id = two.id;
    leave.member_epoch = -1;
    auto left = cg_call(two, leave);
    EXPECT_EQ(left.error_code, k_ok);
    EXPECT_EQ(left.member_epoch, -1);
    ASSERT_TRUE(reconcile({&one}, group, topic_id, 4));
    EXPECT_EQ(one.owned, (std::set<int32_t>{0, 1, 2, 3}));
    auto alone = cg_describe(*admin, group);
    ASSERT_TRUE(alone);
    ASSERT_EQ(alone->members.size(), 1u);
    EXPECT_EQ(alone->members[0].member_id, one.id);
    EXPECT_EQ(alone->members[0].member_epoch, one.epoch);
    // The one that left is unknown now.
    leave.member_epoch = two.epoch;
    EXPECT_EQ(cg_call(two, leave).error_code, k_unknown_member);
    // A classic JoinGroup to the consumer group with members is refused.
    auto classic = join(*admin, {.group = group, .member_id = "x"}, 5);
    EXPECT_EQ(classic.error_code, wire(group_error::inconsistent_group_protocol));
}

TEST_F(GroupsTest, ConsumerGroupDescribeErrors) {
    create_topic("k", 1);
    auto client = connect();
    stable_group(*client, {.group = "classic-one"});
    consumer_group_describe_request req;
    req.group_ids = {"", "unknown", "classic-one"};
    req.include_authorized_operations = true;
    auto res = client->call<consumer_group_describe_response>(req, 0);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->groups.size(), 3u);
    EXPECT_EQ(res->groups[0].error_code, k_invalid_group_id);
    EXPECT_EQ(res->groups[1].error_code, k_group_not_found);
    EXPECT_EQ(res->groups[2].error_code, k_group_not_found);
    // A heartbeat to a classic group with members is refused too.
    cg_member m{connect(), 1, "m", 0, {}};
    auto joined = cg_call(m, cg_join_request("classic-one", m, {"k"}));
    EXPECT_EQ(joined.error_code, k_group_not_found);
    // Joins that lack what a first heartbeat needs are invalid.
    auto no_subscription = cg_join_request("cg2", m, {"k"});
    no_subscription.subscribed_topic_names.reset();
    EXPECT_EQ(cg_call(m, no_subscription).error_code, k_invalid_request);
    auto no_timeout = cg_join_request("cg2", m, {"k"});
    no_timeout.rebalance_timeout_ms = -1;
    EXPECT_EQ(cg_call(m, no_timeout).error_code, k_invalid_request);
    cg_member v1_without_id{connect(), 1, "", 0, {}};
    EXPECT_EQ(cg_call(v1_without_id, cg_join_request("cg2", v1_without_id, {"k"})).error_code,
              k_invalid_request);
}

// ---- bad input ----------------------------------------------------------------------

// A body assembled field by field.
class body_writer {
public:
    body_writer& i8(int8_t v) {
        byte_writer(_bytes).write_int8(v);
        return *this;
    }
    body_writer& i16(int16_t v) {
        byte_writer(_bytes).write_int16(v);
        return *this;
    }
    body_writer& i32(int32_t v) {
        byte_writer(_bytes).write_int32(v);
        return *this;
    }
    body_writer& i64(int64_t v) {
        byte_writer(_bytes).write_int64(v);
        return *this;
    }
    body_writer& uvarint(uint64_t v) {
        byte_writer(_bytes).write_uvarint(v);
        return *this;
    }
    body_writer& str(std::string_view s) {
        i16(static_cast<int16_t>(s.size()));
        byte_writer(_bytes).write_bytes(s);
        return *this;
    }
    body_writer& compact_str(std::string_view s) {
        uvarint(s.size() + 1);
        byte_writer(_bytes).write_bytes(s);
        return *this;
    }
    byte_vector done() const { return _bytes; }

private:
    byte_vector _bytes;
};

class GroupsBadInputTest : public GroupsTest {
protected:
    void SetUp() override {
        GroupsTest::SetUp();
        if (HasFatalFailure()) {
            return;
        }
        create_topic("t", 2);
        create_topic("k", 2);
        // A bystander group, Stable, with a committed offset, on its own
        // connection: bad requests elsewhere must not disturb it.
        _bystander = connect();
        ASSERT_TRUE(_bystander);
        std::tie(_bystander_id, _bystander_generation) =
            stable_group(*_bystander, {.group = "bystander"});
        auto res = commit(*_bystander,
                          commit_request("bystander", {{"t", 0, 11, 2, "kept"}},
                                         _bystander_generation, _bystander_id),
                          8);
        ASSERT_EQ(commit_errors(res)["t:0"], k_ok);
    }

    // The bystander connection is still served and its group unchanged.
    void expect_bystander_unaffected(const std::string& what) {
        EXPECT_EQ(beat(*_bystander, heartbeat("bystander", _bystander_generation, _bystander_id)),
                  k_ok)
            << "after " << what;
        auto [offsets, error] = fetch_offsets(*_bystander, "bystander", 8, std::nullopt);
        EXPECT_EQ(offsets["t:0"], (fetched{11, 2, "kept", 0})) << "after " << what;
        auto d = describe(*_bystander, "bystander");
        EXPECT_EQ(d.group_state, "Stable") << "after " << what;
        EXPECT_EQ(d.members.size(), 1u) << "after " << what;
    }

    std::unique_ptr<kafka_client> quick_connect() { return harness().connect(5s); }

    void expect_closed(int16_t key, int16_t version, const byte_vector& body,
                       const std::string& what) {
        auto client = quick_connect();
        ASSERT_TRUE(client);
        ASSERT_TRUE(client->send_raw(key, version, body)) << what;
        EXPECT_TRUE(client->closed()) << what;
    }

    void expect_answered(int16_t key, int16_t version, const byte_vector& body,
                         const std::string& what) {
        auto client = quick_connect();
        ASSERT_TRUE(client);
        ASSERT_TRUE(client->send_raw(key, version, body)) << what;
        EXPECT_TRUE(client->answered(key, version)) << what;
    }

    // Every proper prefix of `body` closes its connection; the body with
    // bytes after it is answered (Kafka ignores them); the bystander is
    // served throughout.
    void expect_malformed_closed(int16_t key, int16_t version, const byte_vector& body,
                                 const std::string& what) {
        for (size_t cut = 0; cut < body.size(); ++cut) {
            byte_vector prefix(body.begin(), body.begin() + static_cast<ptrdiff_t>(cut));
            expect_closed(
                key, version, prefix,
                what + " cut to " + std::to_string(cut) + " of " + std::to_string(body.size()));
            if (HasFailure()) {
                return;  // one report per body is enough
            }
        }
        byte_vector one = body;
        one.push_back(0);
        expect_answered(key, version, one, what + " + 1 trailing byte");
        byte_vector many = body;
        many.insert(many.end(), 64, 0x41);
        expect_answered(key, version, many, what + " + 64 trailing bytes");
        expect_bystander_unaffected(what);
    }

    std::unique_ptr<kafka_client> _bystander;
    std::string _bystander_id;
    int32_t _bystander_generation = 0;
};

TEST_F(GroupsBadInputTest, TruncatedAndTrailingBodiesOfEveryGroupApi) {
    join_spec spec{.group = "victim", .member_id = "m-1", .instance = "i-1"};
    auto join_req = join_request(spec);
    auto sync_req = sync_request("victim", 1, "m-1", {{"m-1", "abc"}}, "i-1");
    sync_req.protocol_type = "consumer";
    sync_req.protocol_name = "range";
    auto heartbeat_req = heartbeat("victim", 1, "m-1", "i-1");
    leave_group_request leave_req;
    leave_req.group_id = "victim";
    leave_req.member_id = "m-1";
    leave_req.members = {{"m-1", "i-1", "r", {}}};
    auto commit_req = commit_request("victim", {{"t", 0, 1, 1, "md"}, {"t", 1, 2}}, 1, "m-1");
    commit_req.group_instance_id = "i-1";
    offset_fetch_request fetch_req;
    fetch_req.group_id = "victim";
    fetch_req.topics =
        std::vector<offset_fetch_request::offset_fetch_request_topic>{{"t", {0, 1}, {}}};
    fetch_req.groups.push_back({"victim", "m-1", 3, std::nullopt, {}});
    fetch_req.groups[0].topics =
        std::vector<offset_fetch_request::offset_fetch_request_topics>{{"t", {0}, {}}};
    describe_groups_request describe_req;
    describe_req.groups = {"victim", "bystander"};
    list_groups_request list_req;
    list_req.states_filter = {"Stable"};
    list_req.types_filter = {"classic"};
    delete_groups_request delete_req;
    delete_req.groups_names = {"victim", "other"};
    offset_delete_request offset_delete_req;
    offset_delete_req.group_id = "victim";
    offset_delete_req.topics = {{"t", {{0}, {1}}}};
    cg_request cg_req;
    cg_req.group_id = "victim-cg";
    cg_req.member_id = "m-1";
    cg_req.instance_id = "i";
    cg_req.rack_id = "r";
    cg_req.rebalance_timeout_ms = 1000;
    cg_req.subscribed_topic_names = std::vector<std::string>{"k"};
    cg_req.subscribed_topic_regex = "k.*";
    cg_req.server_assignor = "uniform";
    cg_req.topic_partitions.emplace();
    cg_req.topic_partitions->push_back({uuid{}, {0, 1}, {}});
    consumer_group_describe_request cg_describe_req;
    cg_describe_req.group_ids = {"victim-cg"};
    cg_describe_req.include_authorized_operations = true;

    struct body_case {
        int16_t key;
        int16_t version;
        byte_vector body;
        std::string name;
    };
    std::vector<body_case> cases;
    auto add = [&](const auto& req, std::initializer_list<int16_t> versions) {
        for (int16_t v : versions) {
            cases.push_back({std::decay_t<decltype(req)>::api_key, v, encoded(req, v),
                             std::string(find_api(std::decay_t<decltype(req)>::api_key)->name) +
                                 " v" + std::to_string(v)});
        }
    };
    add(commit_req, {2, 7, 9});
    add(fetch_req, {1, 7, 8});
    add(join_req, {0, 5, 9});
    add(heartbeat_req, {3, 4});
    add(leave_req, {0, 3, 5});
    add(sync_req, {3, 5});
    add(describe_req, {0, 5});
    add(list_req, {3, 5});
    add(delete_req, {1, 2});
    add(offset_delete_req, {0});
    add(cg_req, {0, 1});
    add(cg_describe_req, {0});
    for (const auto& c : cases) {
        expect_malformed_closed(c.key, c.version, c.body, c.name);
    }
    // ListGroups v0-2 have an empty body: bytes after it are ignored.
    expect_answered(list_groups_request::api_key, 0, byte_vector{0}, "ListGroups v0 + 1 byte");
    expect_answered(list_groups_request::api_key, 2, byte_vector(10, 1),
                    "ListGroups v2 + 10 bytes");
    expect_bystander_unaffected("trailing ListGroups bytes");
    // None of it created anything.
    auto client = connect();
    auto listed = list(*client, 5);
    EXPECT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed.count("bystander"), 1u);
}

TEST_F(GroupsBadInputTest, HugeCountsAndLengths) {
    // Non-flexible arrays and strings (int32 counts, int16 lengths).
    expect_closed(describe_groups_request::api_key, 0, body_writer().i32(INT32_MAX).done(),
                  "DescribeGroups huge group count");
    expect_closed(describe_groups_request::api_key, 0, body_writer().i32(-2).done(),
                  "DescribeGroups negative group count");
    expect_closed(delete_groups_request::api_key, 1, body_writer().i32(1000000).str("g").done(),
                  "DeleteGroups huge group count");
    expect_closed(join_group_request::api_key, 5,
                  body_writer()
                      .str("g")
                      .i32(10000)
                      .i32(10000)
                      .str("")
                      .i16(-1)
                      .str("consumer")
                      .i32(INT32_MAX)
                      .done(),
                  "JoinGroup huge protocol count");
    expect_closed(join_group_request::api_key, 5,
                  body_writer()
                      .str("g")
                      .i32(10000)
                      .i32(10000)
                      .str("")
                      .i16(-1)
                      .str("consumer")
                      .i32(1)
                      .str("range")
                      .i32(INT32_MAX)
                      .done(),
                  "JoinGroup metadata longer than the body");
    expect_closed(join_group_request::api_key, 5, body_writer().i16(30000).done(),
                  "JoinGroup group id longer than the body");
    expect_closed(join_group_request::api_key, 5, body_writer().i16(-1).done(),
                  "JoinGroup null group id");
    expect_closed(sync_group_request::api_key, 3,
                  body_writer().str("g").i32(1).str("m").i16(-1).i32(500000000).done(),
                  "SyncGroup huge assignment count");
    expect_closed(offset_commit_request::api_key, 2,
                  body_writer().str("g").i32(-1).str("").i64(-1).i32(INT32_MAX).done(),
                  "OffsetCommit huge topic count");
    expect_closed(
        offset_commit_request::api_key, 2,
        body_writer().str("g").i32(-1).str("").i64(-1).i32(1).str("t").i32(300000000).done(),
        "OffsetCommit huge partition count");
    expect_closed(offset_fetch_request::api_key, 1,
                  body_writer().str("g").i32(1).str("t").i32(INT32_MAX).done(),
                  "OffsetFetch huge partition index count");
    expect_closed(offset_fetch_request::api_key, 1, body_writer().str("g").i32(-1).done(),
                  "OffsetFetch v1 null topics");
    expect_closed(offset_delete_request::api_key, 0,
                  body_writer().str("g").i32(1).str("t").i32(INT32_MAX).done(),
                  "OffsetDelete huge partition count");
    expect_closed(leave_group_request::api_key, 3, body_writer().str("g").i32(INT32_MAX).done(),
                  "LeaveGroup huge member count");
    // Flexible ones (uvarint counts and lengths).
    expect_closed(list_groups_request::api_key, 4, body_writer().uvarint(UINT32_MAX).done(),
                  "ListGroups huge states count");
    expect_closed(offset_fetch_request::api_key, 8,
                  body_writer().uvarint(1u << 30).compact_str("g").done(),
                  "OffsetFetch v8 huge group count");
    expect_closed(delete_groups_request::api_key, 2, body_writer().uvarint(2000000000).done(),
                  "DeleteGroups v2 huge group count");
    expect_closed(consumer_group_heartbeat_request::api_key, 0,
                  body_writer()
                      .compact_str("g")
                      .compact_str("")
                      .i32(0)
                      .uvarint(0)
                      .uvarint(0)
                      .i32(1000)
                      .uvarint(UINT32_MAX)
                      .done(),
                  "ConsumerGroupHeartbeat huge topic name count");
    expect_closed(consumer_group_describe_request::api_key, 0,
                  body_writer().uvarint(1u << 31).done(), "ConsumerGroupDescribe huge group count");
    expect_closed(heartbeat_request::api_key, 4, body_writer().uvarint(1u << 20).done(),
                  "Heartbeat v4 group id longer than the body");
    expect_bystander_unaffected("huge counts");
    EXPECT_TRUE(harness().serving());
}

TEST_F(GroupsBadInputTest, LongestAndEmptyGroupIds) {
    auto client = connect();
    // The longest group id an int16 string holds.
    const std::string longest(32767, 'g');
    auto member_id = required_member_id(*client, {.group = longest}, 5);
    auto joined = join(*client, {.group = longest, .member_id = member_id}, 5);
    EXPECT_EQ(joined.error_code, k_ok);
    auto synced = sync(*client, sync_request(longest, joined.generation_id, member_id), 3);
    EXPECT_EQ(synced.error_code, k_ok);
    auto committed = commit(*client, commit_request(longest, {{"t", 1, 3, 1, "long"}}), 2);
    EXPECT_EQ(commit_errors(committed)["t:1"], k_unknown_member);  // a simple commit
    committed = commit(
        *client, commit_request(longest, {{"t", 1, 3, 1, "long"}}, joined.generation_id, member_id),
        7);
    EXPECT_EQ(commit_errors(committed)["t:1"], k_ok);
    auto [offsets, error] = fetch_offsets(*client, longest, 7, std::nullopt);
    EXPECT_EQ(offsets["t:1"].offset, 3);
    EXPECT_EQ(describe(*client, longest).group_state, "Stable");
    EXPECT_EQ(list(*client, 3).count(longest), 1u);

    // An empty group id: INVALID_GROUP_ID where Kafka answers it.
    EXPECT_EQ(join(*client, {.group = ""}, 5).error_code, k_invalid_group_id);
    EXPECT_EQ(join(*client, {.group = ""}, 0).error_code, k_invalid_group_id);
    EXPECT_EQ(sync(*client, sync_request("", 1, "m"), 3).error_code, k_invalid_group_id);
    EXPECT_EQ(beat(*client, heartbeat("", 1, "m")), k_invalid_group_id);
    leave_group_request leave;
    leave.group_id = "";
    leave.member_id = "m";
    auto left = client->call<leave_group_response>(leave, 1);
    ASSERT_TRUE(left);
    EXPECT_EQ(left->error_code, k_invalid_group_id);
    offset_delete_request od;
    od.group_id = "";
    od.topics = {{"t", {{0}}}};
    auto deleted = client->call<offset_delete_response>(od, 0);
    ASSERT_TRUE(deleted);
    EXPECT_EQ(deleted->error_code, k_invalid_group_id);
    cg_member m{connect(), 1, "m-empty", 0, {}};
    auto cg_empty = cg_join_request("", m, {"k"});
    EXPECT_EQ(cg_call(m, cg_empty).error_code, k_invalid_request);  // Kafka's answer
    consumer_group_describe_request cg_describe_empty;
    cg_describe_empty.group_ids = {""};
    auto cg_described = client->call<consumer_group_describe_response>(cg_describe_empty, 0);
    ASSERT_TRUE(cg_described);
    ASSERT_EQ(cg_described->groups.size(), 1u);
    EXPECT_EQ(cg_described->groups[0].error_code, k_invalid_group_id);
    // Kafka keeps OffsetCommit/OffsetFetch with "" working (old clients) and
    // describes "" as Dead.
    auto empty_commit = commit(*client, commit_request("", {{"t", 0, 9}}), 8);
    EXPECT_EQ(commit_errors(empty_commit)["t:0"], k_ok);
    auto [empty_offsets, empty_error] = fetch_offsets(*client, "", 3, std::nullopt);
    EXPECT_EQ(empty_offsets["t:0"].offset, 9);
    EXPECT_EQ(describe(*client, "").group_state, "Empty");

    expect_bystander_unaffected("the longest and empty group ids");
    EXPECT_TRUE(harness().serving());
    restart();
    client = connect();
    ASSERT_TRUE(await_coordinator(*client, longest));
    EXPECT_EQ(describe(*client, longest).group_state, "Stable");
    auto [replayed, replayed_error] = fetch_offsets(*client, longest, 7, std::nullopt);
    EXPECT_EQ(replayed["t:1"].offset, 3);
}

// Regression: a JoinGroup (v6+) or OffsetCommit (v8+) carrying a group id,
// instance id or protocol name longer than 32767 bytes (possible in flexible
// versions), or a client id so long that the member id built from it was,
// made the coordinator write a group record it cannot encode: the broker
// aborted ("group record string longer than 32767 bytes").
TEST_F(GroupsBadInputTest, StringsLongerThanGroupRecordsHoldDoNotAbortTheBroker) {
    auto client = connect();
    // Flexible versions can carry longer strings than the group records
    // hold (int16 lengths): refused, not a crash.
    const std::string too_long(40000, 'h');
    auto long_join = join(*client, {.group = too_long}, 9);
    EXPECT_EQ(long_join.error_code, k_invalid_group_id);
    auto long_commit = commit(*client, commit_request(too_long, {{"t", 0, 1}}), 8);
    EXPECT_EQ(commit_errors(long_commit)["t:0"], k_invalid_group_id);
    auto long_instance = join(*client, {.group = "fine", .instance = too_long}, 9);
    EXPECT_EQ(long_instance.error_code, k_invalid_request);
    join_spec long_protocol{.group = "fine", .protocol_name = too_long};
    EXPECT_EQ(join(*client, long_protocol, 9).error_code, k_invalid_request);
    cg_member m{connect(), 1, "m-long", 0, {}};
    auto long_cg = cg_join_request(too_long, m, {"k"});
    EXPECT_EQ(cg_call(m, long_cg).error_code, k_invalid_request);
    // Consumer group records hold the other strings as compact strings:
    // long ones are accepted (as Kafka does) and replayed after a restart.
    auto long_cg_instance = cg_join_request("cg-long", m, {"k"});
    long_cg_instance.instance_id = too_long;
    EXPECT_EQ(cg_call(m, long_cg_instance).error_code, k_ok);
    auto long_cg_rack = cg_join_request("cg-long-rack", m, {"k"});
    long_cg_rack.rack_id = too_long;
    EXPECT_EQ(cg_call(m, long_cg_rack).error_code, k_ok);
    auto long_cg_topic = cg_join_request("cg-long-topic", m, {too_long});
    EXPECT_EQ(cg_call(m, long_cg_topic).error_code, k_ok);
    auto long_cg_regex = cg_join_request("cg-long-regex", m, {});
    long_cg_regex.subscribed_topic_names.reset();
    long_cg_regex.subscribed_topic_regex = std::string(40000, 'k');
    EXPECT_EQ(cg_call(m, long_cg_regex).error_code, k_ok);

    // The longest client id a request header holds: member ids are built
    // from it, cut to fit the group records.
    const std::string long_client(32767, 'c');
    auto long_client_connection = connect();
    join_spec by_long_client{.group = "long-client"};
    auto required = call_as<join_group_response>(*long_client_connection, long_client,
                                                 join_request(by_long_client), 5);
    ASSERT_TRUE(required);
    EXPECT_EQ(required->error_code, k_member_id_required);
    EXPECT_LE(required->member_id.size(), 32767u);
    EXPECT_EQ(required->member_id.rfind("ccc", 0), 0u);
    by_long_client.member_id = required->member_id;
    auto long_joined = call_as<join_group_response>(*long_client_connection, long_client,
                                                    join_request(by_long_client), 5);
    ASSERT_TRUE(long_joined);
    EXPECT_EQ(long_joined->error_code, k_ok);
    auto long_synced = call_as<sync_group_response>(
        *long_client_connection, long_client,
        sync_request("long-client", long_joined->generation_id, required->member_id,
                     {{required->member_id, "x"}}),
        3);
    ASSERT_TRUE(long_synced);
    EXPECT_EQ(long_synced->error_code, k_ok);
    auto long_described = describe(*client, "long-client");
    EXPECT_EQ(long_described.group_state, "Stable");
    ASSERT_EQ(long_described.members.size(), 1u);
    EXPECT_EQ(long_described.members[0].client_id, long_client);
    cg_member nameless{connect(), 0, "", 0, {}};
    auto cg_long_client = call_as<cg_response>(
        *nameless.client, long_client, cg_join_request("cg-long-client", nameless, {"k"}), 0);
    ASSERT_TRUE(cg_long_client);
    EXPECT_EQ(cg_long_client->error_code, k_ok);
    ASSERT_TRUE(cg_long_client->member_id.has_value());
    EXPECT_LE(cg_long_client->member_id->size(), 32767u);

    expect_bystander_unaffected("strings longer than group records hold");
    EXPECT_TRUE(harness().serving());

    // All of it is replayed after a restart.
    restart();
    client = connect();
    ASSERT_TRUE(await_coordinator(*client, "long-client"));
    auto long_client_group = describe(*client, "long-client");
    ASSERT_EQ(long_client_group.members.size(), 1u);
    EXPECT_EQ(long_client_group.members[0].member_id, required->member_id);
    for (const char* id : {"cg-long", "cg-long-rack", "cg-long-topic", "cg-long-regex"}) {
        auto d = cg_describe(*client, id);
        ASSERT_TRUE(d);
        EXPECT_EQ(d->error_code, k_ok) << id;
        EXPECT_EQ(d->members.size(), 1u) << id;
    }
    auto long_instance_group = cg_describe(*client, "cg-long");
    ASSERT_TRUE(long_instance_group && long_instance_group->members.size() == 1);
    EXPECT_EQ(long_instance_group->members[0].instance_id, too_long);
}

TEST_F(GroupsBadInputTest, NonsenseValuesThatDecode) {
    auto client = connect();
    // Negative partitions, offsets and epochs, unknown protocol types.
    auto res = commit(*client,
                      commit_request("odd", {{"t", INT32_MIN, -5}, {"t", 0, -100, INT32_MIN}}), 8);
    EXPECT_EQ(commit_errors(res)["t:-2147483648"], k_unknown_partition);
    EXPECT_EQ(commit_errors(res)["t:0"], k_ok);
    auto [offsets, error] = fetch_offsets(
        *client, "odd", 8, std::vector<std::pair<std::string, int32_t>>{{"t", 0}, {"t", -1}});
    EXPECT_EQ(offsets["t:0"].offset, -100);
    EXPECT_EQ(offsets["t:-1"].offset, -1);
    // A JoinGroup without protocols, or of another protocol type than the
    // group's, is inconsistent.
    join_group_request none;
    none.group_id = "bystander";
    none.session_timeout_ms = 10000;
    none.protocol_type = "consumer";
    auto no_protocols = client->call<join_group_response>(none, 5);
    ASSERT_TRUE(no_protocols);
    EXPECT_EQ(no_protocols->error_code, wire(group_error::inconsistent_group_protocol));
    join_spec other{.group = "bystander"};
    auto other_type = join_request(other);
    other_type.protocol_type = "connect";
    auto mismatch = client->call<join_group_response>(other_type, 9);
    ASSERT_TRUE(mismatch);
    EXPECT_EQ(mismatch->error_code, wire(group_error::inconsistent_group_protocol));
    // Heartbeats and leaves of strangers in the bystander's group.
    EXPECT_EQ(beat(*client, heartbeat("bystander", _bystander_generation, "stranger")),
              k_unknown_member);
    EXPECT_EQ(beat(*client, heartbeat("bystander", INT32_MIN, _bystander_id)),
              k_illegal_generation);
    leave_group_request leave;
    leave.group_id = "bystander";
    leave.members = {{"stranger", std::nullopt, std::nullopt, {}},
                     {_bystander_id, "wrong-instance", std::nullopt, {}}};
    auto left = client->call<leave_group_response>(leave, 4);
    ASSERT_TRUE(left);
    ASSERT_EQ(left->members.size(), 2u);
    EXPECT_EQ(left->members[0].error_code, k_unknown_member);
    EXPECT_NE(left->members[1].error_code, k_ok);
    // DeleteGroups of the bystander (it has a member) and of nothing.
    delete_groups_request del;
    del.groups_names = {"bystander"};
    auto not_deleted = client->call<delete_groups_response>(del, 2);
    ASSERT_TRUE(not_deleted);
    EXPECT_EQ(not_deleted->results[0].error_code, k_non_empty_group);
    del.groups_names.clear();
    auto nothing = client->call<delete_groups_response>(del, 2);
    ASSERT_TRUE(nothing);
    EXPECT_TRUE(nothing->results.empty());
    // OffsetDelete of the bystander's subscribed topic.
    offset_delete_request od;
    od.group_id = "bystander";
    od.topics = {{"t", {{0}}}};
    auto od_res = client->call<offset_delete_response>(od, 0);
    ASSERT_TRUE(od_res);
    ASSERT_EQ(od_res->topics.size(), 1u);
    EXPECT_EQ(od_res->topics[0].partitions[0].error_code, k_subscribed_to_topic);
    expect_bystander_unaffected("nonsense values");
}

}  // namespace
}  // namespace floe::kafka
