// The consumer group protocol of KIP-848 (group.protocol=consumer):
// ConsumerGroupHeartbeat and ConsumerGroupDescribe. The coordinator computes
// assignments on the server (coordinator/group_coordinator.h); these handlers
// translate the wire structs, field for field.
//
// Topics travel by id on the wire; ConsumerGroupDescribe adds their names.
// When the group's coordinator is not available (the offsets topic is being
// created), both answer COORDINATOR_NOT_AVAILABLE and clients retry.
#include "kafka/broker/broker.h"
#include "kafka/broker/group_service.h"
#include "kafka/broker/handlers/admin.h"
#include "kafka/broker/handlers/codec.h"
#include "kafka/broker/handlers/handlers.h"
#include "kafka/protocol/errors.h"
#include "kafka/protocol/generated/consumer_group_describe_request.h"
#include "kafka/protocol/generated/consumer_group_describe_response.h"
#include "kafka/protocol/generated/consumer_group_heartbeat_request.h"
#include "kafka/protocol/generated/consumer_group_heartbeat_response.h"

namespace floe::kafka {

namespace {

namespace co = floe::coordinator;

constexpr int16_t k_not_available = static_cast<int16_t>(error_code::coordinator_not_available);

template <typename Wire>
Wire to_wire(const co::consumer_topic_partitions& tp) {
    Wire out;
    out.topic_id.bytes = tp.topic_id;
    out.partitions = tp.partitions;
    if constexpr (requires { out.topic_name; }) {
        out.topic_name = tp.topic_name;
    }
    return out;
}

}  // namespace

asio::awaitable<response> handle_consumer_group_heartbeat(broker& b, request& r) {
    auto req = decode_request<consumer_group_heartbeat_request>(r);
    const int16_t version = r.api_version();
    const std::string group_id = req.group_id;
    co::consumer_heartbeat_request in;
    in.api_version = version;
    in.group_id = req.group_id;
    in.member_id = req.member_id;
    in.member_epoch = req.member_epoch;
    in.instance_id = req.instance_id;
    in.rack_id = req.rack_id;
    in.rebalance_timeout_ms = req.rebalance_timeout_ms;
    in.subscribed_topic_names = std::move(req.subscribed_topic_names);
    in.subscribed_topic_regex = std::move(req.subscribed_topic_regex);
    in.server_assignor = std::move(req.server_assignor);
    if (req.topic_partitions) {
        in.topic_partitions.emplace();
        for (auto& tp : *req.topic_partitions) {
            co::consumer_topic_partitions owned;
            owned.topic_id = tp.topic_id.bytes;
            owned.partitions = std::move(tp.partitions);
            in.topic_partitions->push_back(std::move(owned));
        }
    }
    in.client_id = r.header.client_id.value_or("");
    in.client_host = client_host(r);
    auto call = [&in](co::group_coordinator& c, auto reply) {
        c.consumer_group_heartbeat(std::move(in), std::move(reply));
    };
    auto answer = co_await b.groups().ask<co::consumer_heartbeat_response>(group_id, call);

    consumer_group_heartbeat_response out;
    if (!answer) {
        out.error_code = k_not_available;
        out.error_message = "The coordinator is not available.";
        co_return encode_response(out, version);
    }
    out.error_code = static_cast<int16_t>(answer->error);
    out.error_message = std::move(answer->error_message);
    out.member_id = std::move(answer->member_id);
    out.member_epoch = answer->member_epoch;
    out.heartbeat_interval_ms = answer->heartbeat_interval_ms;
    if (answer->assignment) {
        out.assignment.emplace();
        for (const auto& tp : *answer->assignment) {
            out.assignment->topic_partitions.push_back(
                to_wire<consumer_group_heartbeat_response::topic_partitions_type>(tp));
        }
    }
    co_return encode_response(out, version);
}

asio::awaitable<response> handle_consumer_group_describe(broker& b, request& r) {
    auto req = decode_request<consumer_group_describe_request>(r);
    const int16_t version = r.api_version();
    group_service& groups = b.groups();
    auto call = [&req, &groups](std::vector<co::group_coordinator*>& all, auto reply) {
        std::vector<co::consumer_group_description> described;
        for (const auto& id : req.group_ids) {
            auto one = all[groups.partition_for(id)]->describe_consumer_groups({id});
            described.push_back(std::move(one.front()));
        }
        reply(std::move(described));
    };
    groups.ensure_ready();
    auto answer = co_await groups.ask_all<std::vector<co::consumer_group_description>>(call);

    consumer_group_describe_response out;
    for (size_t i = 0; i < req.group_ids.size(); ++i) {
        auto& g = out.groups.emplace_back();
        g.group_id = req.group_ids[i];
        g.authorized_operations =
            req.include_authorized_operations ? acl_operation::group_all : INT32_MIN;
        if (!answer) {
            g.error_code = k_not_available;
            g.error_message = "The coordinator is not available.";
            continue;
        }
        auto& d = (*answer)[i];
        g.error_code = static_cast<int16_t>(d.error);
        g.error_message = std::move(d.error_message);
        g.group_state = std::string(d.state);
        g.group_epoch = d.group_epoch;
        g.assignment_epoch = d.assignment_epoch;
        g.assignor_name = std::move(d.assignor_name);
        for (auto& m : d.members) {
            auto& member = g.members.emplace_back();
            member.member_id = std::move(m.member_id);
            member.instance_id = std::move(m.instance_id);
            member.rack_id = std::move(m.rack_id);
            member.member_epoch = m.member_epoch;
            member.client_id = std::move(m.client_id);
            member.client_host = std::move(m.client_host);
            member.subscribed_topic_names = std::move(m.subscribed_topic_names);
            member.subscribed_topic_regex = std::move(m.subscribed_topic_regex);
            for (const auto& tp : m.assignment) {
                member.assignment.topic_partitions.push_back(
                    to_wire<consumer_group_describe_response::topic_partitions_type>(tp));
            }
            for (const auto& tp : m.target_assignment) {
                member.target_assignment.topic_partitions.push_back(
                    to_wire<consumer_group_describe_response::topic_partitions_type>(tp));
            }
        }
    }
    co_return encode_response(out, version);
}

}  // namespace floe::kafka
