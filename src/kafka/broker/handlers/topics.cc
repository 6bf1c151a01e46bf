// CreateTopics, DeleteTopics and CreatePartitions.
//
// This node is the only broker and the controller: a topic is created with
// replication factor 1 and every partition's replicas are [this node].
// Validation follows Kafka's controller, in its order, with its codes and
// messages; a topic that fails any check is left untouched, the others in the
// same request proceed. A name repeated in one request is answered once,
// with INVALID_REQUEST ("Duplicate topic name."), and is not acted on.
//
// validate_only runs every check and answers as if the change was made,
// without making it. timeout_ms is not used: changes are made before the
// response is sent.
#include <array>
#include <map>
#include <set>

#include "kafka/broker/broker.h"
#include "kafka/broker/handlers/admin.h"
#include "kafka/broker/handlers/codec.h"
#include "kafka/broker/handlers/handlers.h"
#include "kafka/protocol/errors.h"
#include "kafka/protocol/generated/create_partitions_request.h"
#include "kafka/protocol/generated/create_partitions_response.h"
#include "kafka/protocol/generated/create_topics_request.h"
#include "kafka/protocol/generated/create_topics_response.h"
#include "kafka/protocol/generated/delete_topics_request.h"
#include "kafka/protocol/generated/delete_topics_response.h"

namespace floe::kafka {

namespace {

struct failure {
    error_code code = error_code::none;
    std::string message;
};

// Checks manual replica lists: each must be exactly [this node] (the only
// broker). nullopt when they are.
template <typename Assignment>
std::optional<failure> check_replicas(const broker& b, const std::vector<Assignment>& assignments) {
    for (const auto& a : assignments) {
        if (a.broker_ids.empty()) {
            return failure{error_code::invalid_replica_assignment,
                           "The manual partition assignment includes an empty replica list."};
        }
        for (size_t i = 0; i < a.broker_ids.size(); ++i) {
            if (a.broker_ids[i] != b.options().node_id) {
                return failure{error_code::invalid_replica_assignment,
                               "The manual partition assignment includes broker " +
                                   std::to_string(a.broker_ids[i]) +
                                   ", but no such broker is registered."};
            }
            if (i > 0) {
                return failure{error_code::invalid_replica_assignment,
                               "The manual partition assignment includes the partition with a "
                               "duplicate replica " +
                                   std::to_string(a.broker_ids[i]) + "."};
            }
        }
    }
    return std::nullopt;
}

// Kafka refuses a topic whose name equals an existing one's once '.' and '_'
// are treated alike (their metric names would collide).
std::string collision_form(std::string_view name) {
    std::string out(name);
    for (char& c : out) {
        if (c == '.') {
            c = '_';
        }
    }
    return out;
}

// What one CreateTopics entry would create, once checked.
struct topic_plan {
    int32_t partitions = 0;
    std::map<std::string, std::string> configs;
};

std::optional<failure> plan_topic(broker& b, const create_topics_request::creatable_topic& t,
                                  const std::map<std::string, std::string>& existing_forms,
                                  topic_plan& plan) {
    if (auto why = cluster::invalid_topic_name(t.name)) {
        return failure{error_code::invalid_topic_exception, bounded(*why)};
    }
    if (b.topics().find(t.name)) {
        return failure{error_code::topic_already_exists, "Topic '" + t.name + "' already exists."};
    }
    if (is_internal_topic(t.name)) {
        return failure{
            error_code::invalid_request,
            "Topic '" + t.name + "' is internal: Floe creates it when a group needs it."};
    }
    if (auto it = existing_forms.find(collision_form(t.name)); it != existing_forms.end()) {
        return failure{error_code::invalid_topic_exception,
                       "Topic '" + t.name + "' collides with existing topic: " + it->second};
    }
    if (!t.assignments.empty()) {
        if (t.replication_factor != -1) {
            return failure{error_code::invalid_request,
                           "A manual partition assignment was specified, but replication factor "
                           "was not set to -1."};
        }
        if (t.num_partitions != -1) {
            return failure{error_code::invalid_request,
                           "A manual partition assignment was specified, but numPartitions was "
                           "not set to -1."};
        }
        std::set<int32_t> indexes;
        for (const auto& a : t.assignments) {
            if (!indexes.insert(a.partition_index).second) {
                return failure{error_code::invalid_replica_assignment,
                               "Found multiple manual partition assignments for partition " +
                                   std::to_string(a.partition_index)};
            }
        }
        if (auto bad = check_replicas(b, t.assignments)) {
            return bad;
        }
        // Indexes are distinct: they are 0..n-1 exactly when the smallest is
        // 0 and the largest n-1.
        if (*indexes.begin() != 0 ||
            *indexes.rbegin() != static_cast<int32_t>(indexes.size()) - 1) {
            return failure{error_code::invalid_replica_assignment,
                           "partitions should be a consecutive 0-based integer sequence"};
        }
        if (indexes.size() > static_cast<size_t>(cluster::max_partitions)) {
            return failure{error_code::invalid_partitions,
                           "Number of partitions exceeds Floe's limit of " +
                               std::to_string(cluster::max_partitions) + " per topic."};
        }
        plan.partitions = static_cast<int32_t>(indexes.size());
    } else {
        if (t.replication_factor < -1 || t.replication_factor == 0) {
            return failure{error_code::invalid_replication_factor,
                           "Replication factor must be larger than 0, or -1 to use the default "
                           "value."};
        }
        if (t.num_partitions < -1 || t.num_partitions == 0) {
            return failure{error_code::invalid_partitions,
                           "Number of partitions was set to an invalid non-positive value."};
        }
        if (t.replication_factor > 1) {
            const std::string n = std::to_string(t.replication_factor);
            return failure{error_code::invalid_replication_factor,
                           "Unable to replicate the partition " + n +
                               " time(s): The target replication factor of " + n +
                               " cannot be reached because only 1 broker(s) are registered."};
        }
        plan.partitions =
            t.num_partitions == -1 ? b.options().default_partitions : t.num_partitions;
        if (plan.partitions < 1 || plan.partitions > cluster::max_partitions) {
            return failure{error_code::invalid_partitions,
                           "Number of partitions " + std::to_string(plan.partitions) +
                               " is outside Floe's range of 1 to " +
                               std::to_string(cluster::max_partitions) + " per topic."};
        }
    }
    std::string nulls;
    for (const auto& c : t.configs) {
        if (!c.value) {
            nulls += (nulls.empty() ? "" : ",") + c.name;
        } else {
            plan.configs[c.name] = *c.value;  // a repeated name: the last one wins
        }
    }
    if (!nulls.empty()) {
        return failure{error_code::invalid_config,
                       bounded("Null value not supported for topic configs: " + nulls)};
    }
    for (const auto& [name, value] : plan.configs) {
        if (value.size() > max_config_value_bytes) {
            return failure{error_code::invalid_config,
                           bounded("Invalid value for configuration " + name + ": longer than " +
                                   std::to_string(max_config_value_bytes) + " bytes")};
        }
        if (auto why = invalid_topic_config(name, value)) {
            return failure{error_code::invalid_config, bounded(*why)};
        }
    }
    return std::nullopt;
}

}  // namespace

asio::awaitable<response> handle_create_topics(broker& b, request& r) {
    auto req = decode_request<create_topics_request>(r);
    const int16_t version = r.api_version();
    create_topics_response out;
    std::map<std::string, int> occurrences;
    for (const auto& t : req.topics) {
        ++occurrences[t.name];
    }
    // Existing names in their '.'/'_' collision form (computed once).
    std::map<std::string, std::string> existing_forms;
    for (const auto& t : b.topics().list()) {
        existing_forms.emplace(collision_form(t.name), t.name);
    }
    std::set<std::string> answered;
    for (const auto& t : req.topics) {
        if (!answered.insert(t.name).second) {
            continue;
        }
        create_topics_response::creatable_topic_result result;
        result.name = t.name;
        result.error_message = std::nullopt;
        std::optional<failure> failed;
        topic_plan plan;
        cluster::topic_info created;
        if (occurrences[t.name] > 1) {
            failed = failure{error_code::invalid_request, "Duplicate topic name."};
        } else {
            failed = plan_topic(b, t, existing_forms, plan);
        }
        if (!failed && !req.validate_only) {
            auto work = [&b, &t, &plan] {
                return b.create_topic(t.name, plan.partitions, plan.configs);
            };
            auto operation = on_pool(b.pool(), std::move(work));
            auto made = co_await std::move(operation);
            if (made) {
                created = std::move(*made);
                existing_forms.emplace(collision_form(created.name), created.name);
            } else if (made.error_value().code == errc::conflict) {
                failed = failure{error_code::topic_already_exists,
                                 "Topic '" + t.name + "' already exists."};
            } else {
                failed = failure{to_kafka_error(made.error_value()),
                                 bounded(made.error_value().message)};
            }
        }
        if (failed) {
            result.error_code = code(failed->code);
            result.error_message = bounded(failed->message);
            out.topics.push_back(std::move(result));
            continue;
        }
        if (req.validate_only) {
            created.name = t.name;
            created.partitions.resize(static_cast<size_t>(plan.partitions));
            created.configs = plan.configs;
        }
        result.topic_id = to_wire(created.id);
        result.num_partitions = static_cast<int32_t>(created.partitions.size());
        result.replication_factor = 1;
        result.configs.emplace();
        for (const config_view& v : topic_config_views(b, created)) {
            create_topics_response::creatable_topic_configs c;
            c.name = v.name;
            c.value = v.value;
            c.read_only = v.read_only;
            c.config_source = static_cast<int8_t>(v.source);
            c.is_sensitive = v.sensitive;
            result.configs->push_back(std::move(c));
        }
        out.topics.push_back(std::move(result));
    }
    co_return encode_response(out, version);
}

asio::awaitable<response> handle_delete_topics(broker& b, request& r) {
    auto req = decode_request<delete_topics_request>(r);
    const int16_t version = r.api_version();
    // Version 6 names topics by name or by id; earlier versions by name.
    std::vector<delete_topics_request::delete_topic_state> wanted;
    if (version >= 6) {
        wanted = std::move(req.topics);
    } else {
        for (auto& name : req.topic_names) {
            wanted.push_back({std::move(name), {}, {}});
        }
    }
    std::map<std::string, int> name_count;
    std::map<std::array<uint8_t, 16>, int> id_count;
    for (const auto& w : wanted) {
        if (w.name && !w.topic_id.is_zero()) {
            continue;  // refused on its own, below
        }
        if (w.name) {
            ++name_count[*w.name];
        } else if (!w.topic_id.is_zero()) {
            ++id_count[w.topic_id.bytes];
        }
    }
    delete_topics_response out;
    std::set<std::string> names_answered;
    std::set<std::array<uint8_t, 16>> ids_answered;
    for (const auto& w : wanted) {
        delete_topics_response::deletable_topic_result result;
        result.name = w.name;
        result.topic_id = w.topic_id;
        std::optional<failure> failed;
        std::optional<cluster::topic_info> topic;
        if (w.name && !w.topic_id.is_zero()) {
            failed = failure{error_code::invalid_request,
                             "You may not specify both topic name and topic id."};
        } else if (w.name) {
            if (!names_answered.insert(*w.name).second) {
                continue;
            }
            if (name_count[*w.name] > 1) {
                failed = failure{error_code::invalid_request, "Duplicate topic name."};
            } else if (!(topic = b.topics().find(*w.name))) {
                failed = failure{error_code::unknown_topic_or_partition,
                                 "Topic '" + *w.name + "' does not exist."};
            }
        } else if (!w.topic_id.is_zero()) {
            if (!ids_answered.insert(w.topic_id.bytes).second) {
                continue;
            }
            if (id_count[w.topic_id.bytes] > 1) {
                failed = failure{error_code::invalid_request, "Duplicate topic id."};
            } else if (!(topic = b.topics().find(w.topic_id.bytes))) {
                failed = failure{error_code::unknown_topic_id,
                                 "Topic id " + cluster::topic_uuid_to_string(w.topic_id.bytes) +
                                     " does not exist."};
            }
        } else {
            failed =
                failure{error_code::invalid_request, "Neither topic name nor id were specified."};
        }
        if (!failed && is_internal_topic(topic->name)) {
            failed = failure{error_code::invalid_request,
                             "Topic '" + topic->name + "' is internal and cannot be deleted."};
        }
        if (!failed) {
            result.name = topic->name;
            result.topic_id = to_wire(topic->id);
            const std::string name = topic->name;
            auto work = [&b, &name] { return b.delete_topic(name); };
            auto operation = on_pool(b.pool(), std::move(work));
            status deleted = co_await std::move(operation);
            if (!deleted) {
                failed = failure{to_kafka_error(deleted.error_value()),
                                 bounded(deleted.error_value().message)};
            }
        }
        if (failed) {
            result.error_code = code(failed->code);
            result.error_message = bounded(failed->message);
        }
        out.responses.push_back(std::move(result));
    }
    co_return encode_response(out, version);
}

asio::awaitable<response> handle_create_partitions(broker& b, request& r) {
    auto req = decode_request<create_partitions_request>(r);
    const int16_t version = r.api_version();
    std::map<std::string, int> occurrences;
    for (const auto& t : req.topics) {
        ++occurrences[t.name];
    }
    create_partitions_response out;
    std::set<std::string> answered;
    for (const auto& t : req.topics) {
        if (!answered.insert(t.name).second) {
            continue;
        }
        create_partitions_response::create_partitions_topic_result result;
        result.name = t.name;
        std::optional<failure> failed;
        std::optional<cluster::topic_info> topic;
        if (occurrences[t.name] > 1) {
            failed = failure{error_code::invalid_request, "Duplicate topic name."};
        } else if (!(topic = b.topics().find(t.name))) {
            failed = failure{error_code::unknown_topic_or_partition,
                             "Topic '" + t.name + "' does not exist."};
        } else if (is_internal_topic(t.name)) {
            failed = failure{error_code::invalid_request,
                             "Topic '" + t.name +
                                 "' is internal: its partition count decides which partition "
                                 "holds each group."};
        } else {
            const auto current = static_cast<int64_t>(topic->partitions.size());
            const int64_t added = static_cast<int64_t>(t.count) - current;
            if (t.count == current) {
                failed = failure{error_code::invalid_partitions,
                                 "Topic already has " + std::to_string(current) + " partition(s)."};
            } else if (t.count < current) {
                failed = failure{error_code::invalid_partitions,
                                 "The topic " + t.name + " currently has " +
                                     std::to_string(current) + " partition(s); " +
                                     std::to_string(t.count) + " would not be an increase."};
            } else if (t.count > cluster::max_partitions) {
                failed = failure{error_code::invalid_partitions,
                                 "Number of partitions " + std::to_string(t.count) +
                                     " exceeds Floe's limit of " +
                                     std::to_string(cluster::max_partitions) + " per topic."};
            } else if (t.assignments && static_cast<int64_t>(t.assignments->size()) != added) {
                failed = failure{error_code::invalid_replica_assignment,
                                 "Attempted to add " + std::to_string(added) +
                                     " additional partition(s), but only " +
                                     std::to_string(t.assignments->size()) +
                                     " assignment(s) were specified."};
            } else if (t.assignments) {
                failed = check_replicas(b, *t.assignments);
            }
        }
        if (!failed && !req.validate_only) {
            const int32_t total = t.count;
            auto work = [&b, &t, total] { return b.add_partitions(t.name, total); };
            auto operation = on_pool(b.pool(), std::move(work));
            status grown = co_await std::move(operation);
            if (!grown) {
                failed = failure{grown.error_value().code == errc::not_found
                                     ? error_code::unknown_topic_or_partition
                                 : grown.error_value().code == errc::invalid_argument
                                     ? error_code::invalid_partitions
                                     : to_kafka_error(grown.error_value()),
                                 bounded(grown.error_value().message)};
            }
        }
        if (failed) {
            result.error_code = code(failed->code);
            result.error_message = bounded(failed->message);
        }
        out.results.push_back(std::move(result));
    }
    co_return encode_response(out, version);
}

}  // namespace floe::kafka
