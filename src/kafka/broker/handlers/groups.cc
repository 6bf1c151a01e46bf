// Consumer-group APIs of the classic protocol: JoinGroup, SyncGroup,
// Heartbeat, LeaveGroup; committed offsets: OffsetCommit, OffsetFetch,
// OffsetDelete; administration: DescribeGroups, ListGroups, DeleteGroups.
//
// Each handler translates the wire struct into the coordinator's plain
// request (coordinator/group_coordinator.h), asks the group's coordinator on
// the coordinator thread (group_service.h) and translates the answer back.
// The coordinator's error enum carries Kafka's wire codes.
//
// Answers when the group's coordinator is not available (the offsets topic is
// still being created): COORDINATOR_NOT_AVAILABLE, which every client retries
// after a new FindCoordinator. ListGroups answers an empty list then (no
// group can exist before the offsets topic does).
//
// Per-version translation (what older versions lack):
//   JoinGroup   v0: rebalance timeout = session timeout; v0-3: a first join
//               is admitted at once (no MEMBER_ID_REQUIRED); v0-6: protocol
//               name "" instead of null; v9: skip_assignment.
//   LeaveGroup  v0-2: one member by member id; the top-level error is the
//               group's error, else that member's.
//   OffsetCommit v2-4: RetentionTimeMs other than -1 sets the offsets' expiry
//               (commit time + retention).
//   OffsetFetch v0-1: errors per partition only; v2-7: top-level error;
//               v8+: several groups per request.
#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "kafka/broker/broker.h"
#include "kafka/broker/group_service.h"
#include "kafka/broker/handlers/admin.h"
#include "kafka/broker/handlers/codec.h"
#include "kafka/broker/handlers/handlers.h"
#include "kafka/protocol/errors.h"
#include "kafka/protocol/generated/delete_groups_request.h"
#include "kafka/protocol/generated/delete_groups_response.h"
#include "kafka/protocol/generated/describe_groups_request.h"
#include "kafka/protocol/generated/describe_groups_response.h"
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
#include "kafka/protocol/generated/sync_group_request.h"
#include "kafka/protocol/generated/sync_group_response.h"

namespace floe::kafka {

namespace {

namespace co = floe::coordinator;
using std::chrono::milliseconds;

constexpr int16_t k_not_available = static_cast<int16_t>(error_code::coordinator_not_available);
constexpr int16_t k_unknown_partition =
    static_cast<int16_t>(error_code::unknown_topic_or_partition);

int16_t wire(co::group_error e) {
    return static_cast<int16_t>(e);
}

std::string client_id(const request& r) {
    return r.header.client_id.value_or("");
}

}  // namespace

asio::awaitable<response> handle_join_group(broker& b, request& r) {
    auto req = decode_request<join_group_request>(r);
    const int16_t version = r.api_version();
    const std::string group_id = req.group_id;
    co::join_group_request in;
    in.group_id = req.group_id;
    in.member_id = req.member_id;
    in.group_instance_id = req.group_instance_id;
    in.client_id = client_id(r);
    in.client_host = client_host(r);
    in.session_timeout = milliseconds(req.session_timeout_ms);
    in.rebalance_timeout =
        milliseconds(version >= 1 ? req.rebalance_timeout_ms : req.session_timeout_ms);
    in.protocol_type = req.protocol_type;
    for (auto& p : req.protocols) {
        in.protocols.push_back({std::move(p.name), std::move(p.metadata)});
    }
    in.require_known_member_id = version >= 4;
    in.supports_skip_assignment = version >= 9;
    auto call = [&in](co::group_coordinator& c, auto reply) {
        c.join_group(std::move(in), std::move(reply));
    };
    auto answer = co_await b.groups().ask<co::join_group_response>(group_id, call);

    join_group_response out;
    if (!answer) {
        out.error_code = k_not_available;
        out.member_id = req.member_id;
        out.protocol_name = version >= 7 ? std::nullopt : std::optional<std::string>("");
        co_return encode_response(out, version);
    }
    out.error_code = wire(answer->error);
    out.generation_id = answer->generation_id;
    out.protocol_type = answer->protocol_type;
    out.protocol_name = answer->protocol_name;
    if (version < 7 && !out.protocol_name) {
        out.protocol_name = "";
    }
    out.leader = answer->leader_id;
    out.skip_assignment = answer->skip_assignment;
    out.member_id = answer->member_id;
    for (auto& m : answer->members) {
        join_group_response::join_group_response_member member;
        member.member_id = std::move(m.member_id);
        member.group_instance_id = std::move(m.group_instance_id);
        member.metadata = std::move(m.metadata);
        out.members.push_back(std::move(member));
    }
    co_return encode_response(out, version);
}

asio::awaitable<response> handle_sync_group(broker& b, request& r) {
    auto req = decode_request<sync_group_request>(r);
    const int16_t version = r.api_version();
    const std::string group_id = req.group_id;
    co::sync_group_request in;
    in.group_id = req.group_id;
    in.generation_id = req.generation_id;
    in.member_id = req.member_id;
    in.group_instance_id = req.group_instance_id;
    if (version >= 5) {
        in.protocol_type = req.protocol_type;
        in.protocol_name = req.protocol_name;
    }
    for (auto& a : req.assignments) {
        in.assignments.push_back({std::move(a.member_id), std::move(a.assignment)});
    }
    auto call = [&in](co::group_coordinator& c, auto reply) {
        c.sync_group(std::move(in), std::move(reply));
    };
    auto answer = co_await b.groups().ask<co::sync_group_response>(group_id, call);

    sync_group_response out;
    if (!answer) {
        out.error_code = k_not_available;
        co_return encode_response(out, version);
    }
    out.error_code = wire(answer->error);
    out.protocol_type = answer->protocol_type;
    out.protocol_name = answer->protocol_name;
    out.assignment = std::move(answer->assignment);
    co_return encode_response(out, version);
}

asio::awaitable<response> handle_heartbeat(broker& b, request& r) {
    auto req = decode_request<heartbeat_request>(r);
    co::heartbeat_request in;
    in.group_id = req.group_id;
    in.generation_id = req.generation_id;
    in.member_id = req.member_id;
    in.group_instance_id = req.group_instance_id;
    auto call = [&in](co::group_coordinator& c, auto reply) { reply(c.heartbeat(in)); };
    auto answer = co_await b.groups().ask<co::group_error>(req.group_id, call);
    heartbeat_response out;
    out.error_code = answer ? wire(*answer) : k_not_available;
    co_return encode_response(out, r.api_version());
}

asio::awaitable<response> handle_leave_group(broker& b, request& r) {
    auto req = decode_request<leave_group_request>(r);
    const int16_t version = r.api_version();
    co::leave_group_request in;
    in.group_id = req.group_id;
    if (version < 3) {
        in.members.push_back({req.member_id, std::nullopt});
    } else {
        for (const auto& m : req.members) {
            in.members.push_back({m.member_id, m.group_instance_id});
        }
    }
    auto call = [&in](co::group_coordinator& c, auto reply) { reply(c.leave_group(in)); };
    auto answer = co_await b.groups().ask<co::leave_group_response>(req.group_id, call);

    leave_group_response out;
    if (!answer) {
        out.error_code = k_not_available;
        co_return encode_response(out, version);
    }
    out.error_code = wire(answer->error);
    if (version < 3) {
        if (answer->error == co::group_error::none && !answer->members.empty()) {
            out.error_code = wire(answer->members.front().error);
        }
        co_return encode_response(out, version);
    }
    for (auto& m : answer->members) {
        leave_group_response::member_response member;
        member.member_id = std::move(m.member_id);
        member.group_instance_id = std::move(m.group_instance_id);
        member.error_code = wire(m.error);
        out.members.push_back(std::move(member));
    }
    co_return encode_response(out, version);
}

asio::awaitable<response> handle_offset_commit(broker& b, request& r) {
    auto req = decode_request<offset_commit_request>(r);
    const int16_t version = r.api_version();
    co::offset_commit_request in;
    in.group_id = req.group_id;
    in.generation_id = version >= 1 ? req.generation_id_or_member_epoch : -1;
    in.member_id = version >= 1 ? req.member_id : std::string();
    in.group_instance_id = req.group_instance_id;
    in.api_version = version;
    const auto now = std::chrono::floor<milliseconds>(std::chrono::system_clock::now());

    // The response mirrors the request; partitions this broker does not have
    // are answered at once, the others by the coordinator (in order).
    offset_commit_response out;
    std::vector<int16_t*> pending;  // response slots of in.partitions, in order
    for (auto& topic : req.topics) {
        auto& topic_out = out.topics.emplace_back();
        topic_out.name = topic.name;
        topic_out.partitions.reserve(topic.partitions.size());
        for (auto& p : topic.partitions) {
            auto& partition_out = topic_out.partitions.emplace_back();
            partition_out.partition_index = p.partition_index;
            if (!b.find_partition(topic.name, p.partition_index)) {
                partition_out.error_code = k_unknown_partition;
                continue;
            }
            co::offset_commit_partition commit;
            commit.partition = {topic.name, p.partition_index};
            commit.offset = p.committed_offset;
            commit.leader_epoch = p.committed_leader_epoch;
            commit.metadata = p.committed_metadata.value_or("");
            if (version >= 2 && version <= 4 && req.retention_time_ms != -1) {
                commit.expire_timestamp = now + milliseconds(req.retention_time_ms);
            }
            in.partitions.push_back(std::move(commit));
        }
    }
    for (auto& topic_out : out.topics) {
        for (auto& partition_out : topic_out.partitions) {
            if (partition_out.error_code == 0) {
                pending.push_back(&partition_out.error_code);
            }
        }
    }
    if (!pending.empty()) {
        auto call = [&in](co::group_coordinator& c, auto reply) {
            c.commit_offsets(std::move(in), std::move(reply));
        };
        auto answer =
            co_await b.groups().ask<std::vector<co::partition_result>>(req.group_id, call);
        for (size_t i = 0; i < pending.size(); ++i) {
            if (!answer) {
                *pending[i] = k_not_available;
            } else if (i < answer->size()) {
                *pending[i] = wire((*answer)[i].error);
            } else {
                *pending[i] = wire(co::group_error::unknown_server_error);
            }
        }
    }
    co_return encode_response(out, version);
}

namespace {

// One group's OffsetFetch: all committed offsets (topics == nullopt) or the
// requested partitions, grouped by topic in request order (or sorted).
struct fetched_group {
    int16_t error = 0;
    std::vector<std::pair<std::string, std::vector<co::fetched_offset>>> topics;
};

asio::awaitable<fetched_group> fetch_group_offsets(
    broker& b, const std::string& group_id,
    const std::optional<std::vector<std::pair<std::string, std::vector<int32_t>>>>& topics,
    bool require_stable, co::offset_fetch_member member = {}) {
    std::optional<std::vector<co::topic_partition>> wanted;
    if (topics) {
        wanted.emplace();
        for (const auto& [name, indexes] : *topics) {
            for (int32_t index : indexes) {
                wanted->push_back({name, index});
            }
        }
    }
    auto call = [&group_id, &wanted, require_stable, &member](co::group_coordinator& c,
                                                              auto reply) {
        reply(c.fetch_offsets(group_id, wanted, require_stable, member));
    };
    auto answer = co_await b.groups().ask<co::offset_fetch_response>(group_id, call);
    fetched_group out;
    if (!answer) {
        out.error = k_not_available;
    } else {
        out.error = wire(answer->error);
    }
    if (topics) {
        // Request order; on a group-level error every partition carries it
        // (what versions without a top-level error show).
        size_t at = 0;
        for (const auto& [name, indexes] : *topics) {
            auto& entry = out.topics.emplace_back(name, std::vector<co::fetched_offset>{});
            for (int32_t index : indexes) {
                co::fetched_offset f;
                if (answer && answer->error == co::group_error::none &&
                    at < answer->partitions.size()) {
                    f = answer->partitions[at];
                } else {
                    f.partition = {name, index};
                    f.error = answer ? answer->error : co::group_error::coordinator_not_available;
                }
                ++at;
                entry.second.push_back(std::move(f));
            }
        }
    } else if (answer) {
        for (auto& f : answer->partitions) {
            if (out.topics.empty() || out.topics.back().first != f.partition.topic) {
                out.topics.emplace_back(f.partition.topic, std::vector<co::fetched_offset>{});
            }
            out.topics.back().second.push_back(std::move(f));
        }
    }
    co_return out;
}

// One partition of an OffsetFetch answer (the v0-7 and v8+ structs have the
// same fields).
template <typename WirePartition>
void fill_fetched(WirePartition& out, const co::fetched_offset& f) {
    out.partition_index = f.partition.partition;
    out.committed_offset = f.offset;
    out.committed_leader_epoch = f.leader_epoch;
    out.metadata = f.metadata;
    out.error_code = wire(f.error);
}

}  // namespace

asio::awaitable<response> handle_offset_fetch(broker& b, request& r) {
    auto req = decode_request<offset_fetch_request>(r);
    const int16_t version = r.api_version();
    offset_fetch_response out;
    if (version < 8) {
        std::optional<std::vector<std::pair<std::string, std::vector<int32_t>>>> topics;
        if (req.topics) {
            topics.emplace();
            for (auto& t : *req.topics) {
                topics->emplace_back(t.name, t.partition_indexes);
            }
        }
        auto group = co_await fetch_group_offsets(b, req.group_id, topics, req.require_stable);
        out.error_code = group.error;
        for (auto& [name, partitions] : group.topics) {
            auto& topic_out = out.topics.emplace_back();
            topic_out.name = name;
            for (auto& f : partitions) {
                auto& p = topic_out.partitions.emplace_back();
                fill_fetched(p, f);
                // v0-1 have no top-level error: each partition carries it.
                if (version < 2 && group.error != 0) {
                    p.error_code = group.error;
                }
            }
        }
        co_return encode_response(out, version);
    }
    for (auto& g : req.groups) {
        std::optional<std::vector<std::pair<std::string, std::vector<int32_t>>>> topics;
        if (g.topics) {
            topics.emplace();
            for (auto& t : *g.topics) {
                topics->emplace_back(t.name, t.partition_indexes);
            }
        }
        co::offset_fetch_member member;
        if (version >= 9) {
            member.member_id = g.member_id;
            member.member_epoch = g.member_epoch;
        }
        auto group =
            co_await fetch_group_offsets(b, g.group_id, topics, req.require_stable, member);
        auto& group_out = out.groups.emplace_back();
        group_out.group_id = g.group_id;
        group_out.error_code = group.error;
        if (group.error != 0) {
            continue;
        }
        for (auto& [name, partitions] : group.topics) {
            auto& topic_out = group_out.topics.emplace_back();
            topic_out.name = name;
            for (auto& f : partitions) {
                fill_fetched(topic_out.partitions.emplace_back(), f);
            }
        }
    }
    co_return encode_response(out, version);
}

asio::awaitable<response> handle_offset_delete(broker& b, request& r) {
    auto req = decode_request<offset_delete_request>(r);
    const int16_t version = r.api_version();
    offset_delete_response out;
    std::vector<co::topic_partition> known;
    for (const auto& t : req.topics) {
        for (const auto& p : t.partitions) {
            if (b.find_partition(t.name, p.partition_index)) {
                known.push_back({t.name, p.partition_index});
            }
        }
    }
    std::map<co::topic_partition, int16_t> errors;
    auto call = [&req, &known](co::group_coordinator& c, auto reply) {
        c.delete_offsets(req.group_id, known, std::move(reply));
    };
    auto answer = co_await b.groups().ask<co::offset_delete_response>(req.group_id, call);
    if (!answer) {
        out.error_code = k_not_available;
        co_return encode_response(out, version);
    }
    if (answer->error != co::group_error::none) {
        out.error_code = wire(answer->error);
        co_return encode_response(out, version);
    }
    for (const auto& result : answer->partitions) {
        errors[result.partition] = wire(result.error);
    }
    for (const auto& t : req.topics) {
        auto& topic_out = out.topics.emplace_back();
        topic_out.name = t.name;
        for (const auto& p : t.partitions) {
            auto& partition_out = topic_out.partitions.emplace_back();
            partition_out.partition_index = p.partition_index;
            auto it = errors.find({t.name, p.partition_index});
            partition_out.error_code = it == errors.end() ? k_unknown_partition : it->second;
        }
    }
    co_return encode_response(out, version);
}

asio::awaitable<response> handle_describe_groups(broker& b, request& r) {
    auto req = decode_request<describe_groups_request>(r);
    const int16_t version = r.api_version();
    group_service& groups = b.groups();
    auto call = [&req, &groups](std::vector<co::group_coordinator*>& all, auto reply) {
        std::vector<co::group_description> described;
        for (const auto& id : req.groups) {
            described.push_back(all[groups.partition_for(id)]->describe_group(id));
        }
        reply(std::move(described));
    };
    groups.ensure_ready();
    auto answer = co_await groups.ask_all<std::vector<co::group_description>>(call);

    describe_groups_response out;
    for (size_t i = 0; i < req.groups.size(); ++i) {
        auto& g = out.groups.emplace_back();
        g.group_id = req.groups[i];
        g.authorized_operations =
            req.include_authorized_operations ? acl_operation::group_all : INT32_MIN;
        if (!answer) {
            g.error_code = k_not_available;
            continue;
        }
        auto& d = (*answer)[i];
        g.error_code = wire(d.error);
        g.group_state = std::string(d.state_name);
        g.protocol_type = std::move(d.protocol_type);
        g.protocol_data = std::move(d.protocol_data);
        for (auto& m : d.members) {
            auto& member = g.members.emplace_back();
            member.member_id = std::move(m.member_id);
            member.group_instance_id = std::move(m.group_instance_id);
            member.client_id = std::move(m.client_id);
            member.client_host = std::move(m.client_host);
            member.member_metadata = std::move(m.metadata);
            member.member_assignment = std::move(m.assignment);
        }
    }
    co_return encode_response(out, version);
}

asio::awaitable<response> handle_list_groups(broker& b, request& r) {
    auto req = decode_request<list_groups_request>(r);
    const int16_t version = r.api_version();
    list_groups_response out;
    if (!b.groups().ready()) {
        co_return encode_response(out, version);  // no offsets topic: no groups
    }
    auto call = [&req](std::vector<co::group_coordinator*>& all, auto reply) {
        std::vector<co::listed_group> listed;
        for (auto* c : all) {
            auto some = c->list_groups(req.states_filter, req.types_filter);
            listed.insert(listed.end(), std::make_move_iterator(some.begin()),
                          std::make_move_iterator(some.end()));
        }
        std::sort(listed.begin(), listed.end(),
                  [](const auto& x, const auto& y) { return x.group_id < y.group_id; });
        reply(std::move(listed));
    };
    auto answer = co_await b.groups().ask_all<std::vector<co::listed_group>>(call);
    if (!answer) {
        out.error_code = k_not_available;
        co_return encode_response(out, version);
    }
    for (auto& g : *answer) {
        auto& listed = out.groups.emplace_back();
        listed.group_id = std::move(g.group_id);
        listed.protocol_type = std::move(g.protocol_type);
        listed.group_state = std::string(g.state_name);
        listed.group_type = std::string(g.type);
    }
    co_return encode_response(out, version);
}

asio::awaitable<response> handle_delete_groups(broker& b, request& r) {
    auto req = decode_request<delete_groups_request>(r);
    const int16_t version = r.api_version();
    group_service& groups = b.groups();
    // Each coordinator deletes its own groups; the answer is complete when
    // every coordinator involved has answered.
    auto call = [&req, &groups](std::vector<co::group_coordinator*>& all, auto reply) {
        std::map<int32_t, std::vector<std::string>> by_partition;
        for (const auto& id : req.groups_names) {
            by_partition[groups.partition_for(id)].push_back(id);
        }
        struct gather {
            size_t outstanding = 0;
            std::vector<co::delete_group_result> results;
            decltype(reply) done;
        };
        auto state = std::make_shared<gather>(gather{by_partition.size(), {}, reply});
        if (by_partition.empty()) {
            reply(std::vector<co::delete_group_result>{});
            return;
        }
        for (auto& [index, ids] : by_partition) {
            all[index]->delete_groups(std::move(ids), [state](auto results) {
                state->results.insert(state->results.end(), results.begin(), results.end());
                if (--state->outstanding == 0) {
                    state->done(std::move(state->results));
                }
            });
        }
    };
    groups.ensure_ready();
    auto answer = co_await groups.ask_all<std::vector<co::delete_group_result>>(call);

    delete_groups_response out;
    std::map<std::string, int16_t> errors;
    if (answer) {
        for (const auto& result : *answer) {
            errors[result.group_id] = wire(result.error);
        }
    }
    std::set<std::string> seen;
    for (const auto& id : req.groups_names) {
        if (!seen.insert(id).second) {
            continue;  // one result per group
        }
        auto& result = out.results.emplace_back();
        result.group_id = id;
        auto it = errors.find(id);
        result.error_code = !answer              ? k_not_available
                            : it == errors.end() ? wire(co::group_error::group_id_not_found)
                                                 : it->second;
    }
    co_return encode_response(out, version);
}

}  // namespace floe::kafka
