// DescribeConfigs, AlterConfigs and IncrementalAlterConfigs.
//
// Resources: topics (type 2) and this broker (type 4, named by its node id,
// or "" for the cluster-wide dynamic defaults). Anything else is answered
// with INVALID_REQUEST for that resource.
//
// Topic configs: the effective value of each known config, with its source
// (admin.h, topic_config_views). Alterations replace the topic's override
// set in one registry write after every value passed invalid_topic_config();
// a resource is changed whole or not at all. The read-modify-write of
// IncrementalAlterConfigs is not atomic against a concurrent alteration of
// the same topic: the later write wins (broker::set_topic_configs replaces
// the whole set).
//
// Broker configs: Floe reads its settings at start and changes none at
// runtime, so every broker config is read-only. Altering one fails with
// INVALID_CONFIG ("Cannot update these configs dynamically"), as Kafka
// answers for a read-only broker config; requests that change nothing (an
// empty AlterConfigs, DELETE operations, which remove dynamic values that
// cannot exist) succeed.
#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include "kafka/broker/broker.h"
#include "kafka/broker/handlers/admin.h"
#include "kafka/broker/handlers/codec.h"
#include "kafka/broker/handlers/handlers.h"
#include "kafka/protocol/errors.h"
#include "kafka/protocol/generated/alter_configs_request.h"
#include "kafka/protocol/generated/alter_configs_response.h"
#include "kafka/protocol/generated/describe_configs_request.h"
#include "kafka/protocol/generated/describe_configs_response.h"
#include "kafka/protocol/generated/incremental_alter_configs_request.h"
#include "kafka/protocol/generated/incremental_alter_configs_response.h"

namespace floe::kafka {

namespace {

// IncrementalAlterConfigs operations.
enum class alter_op : int8_t { set = 0, remove = 1, append = 2, subtract = 3 };

struct failure {
    error_code code = error_code::none;
    std::string message;
};

// Checks a broker resource name: "" (the cluster-wide defaults) or this
// node's id. nullopt when acceptable.
std::optional<failure> check_broker_name(const broker& b, const std::string& name) {
    if (name.empty()) {
        return std::nullopt;
    }
    int32_t id = 0;
    auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
    if (ec != std::errc() || end != name.data() + name.size()) {
        return failure{error_code::invalid_request,
                       bounded("Broker id must be an integer, but it is: " + name)};
    }
    if (id != b.options().node_id) {
        return failure{
            error_code::invalid_request,
            bounded("Unexpected broker id, expected " + std::to_string(b.options().node_id) +
                    " or empty string, but received " + name)};
    }
    return std::nullopt;
}

failure unsupported_resource(int8_t type) {
    return {error_code::invalid_request, "Floe does not support configs of resource type " +
                                             std::to_string(type) +
                                             " (supported: 2 topic, 4 broker)"};
}

// Validates a whole new override set. nullopt when every value is acceptable.
std::optional<failure> check_topic_configs(const std::map<std::string, std::string>& configs) {
    for (const auto& [name, value] : configs) {
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

// Writes the override set (blocking, on the pool). nullopt on success.
asio::awaitable<std::optional<failure>> store_topic_configs(
    broker& b, std::string name, std::map<std::string, std::string> configs) {
    auto work = [&b, &name, &configs] { return b.set_topic_configs(name, configs); };
    auto operation = on_pool(b.pool(), std::move(work));
    status stored = co_await std::move(operation);
    if (stored) {
        co_return std::nullopt;
    }
    co_return failure{to_kafka_error(stored.error_value()), bounded(stored.error_value().message)};
}

// Comma-separated list items, trimmed, empty items dropped.
std::vector<std::string> split_list(std::string_view value) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= value.size()) {
        size_t comma = value.find(',', start);
        if (comma == std::string_view::npos) {
            comma = value.size();
        }
        std::string_view item = value.substr(start, comma - start);
        size_t a = item.find_first_not_of(" \t");
        size_t z = item.find_last_not_of(" \t");
        if (a != std::string_view::npos) {
            out.emplace_back(item.substr(a, z - a + 1));
        }
        start = comma + 1;
    }
    return out;
}

std::string join_list(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) {
            out += ',';
        }
        out += item;
    }
    return out;
}

std::string_view op_name(alter_op op) {
    return op == alter_op::append ? "APPEND" : "SUBTRACT";
}

}  // namespace

asio::awaitable<response> handle_describe_configs(broker& b, request& r) {
    auto req = decode_request<describe_configs_request>(r);
    const int16_t version = r.api_version();
    describe_configs_response out;
    for (const auto& resource : req.resources) {
        describe_configs_response::describe_configs_result result;
        result.resource_type = resource.resource_type;
        result.resource_name = resource.resource_name;
        result.error_message = std::nullopt;
        std::vector<config_view> views;
        std::optional<failure> failed;
        if (resource.resource_type == config_resource::topic) {
            topic_lookup found = lookup_topic(b, resource.resource_name);
            if (found.topic) {
                views = topic_config_views(b, *found.topic);
            } else {
                failed = failure{found.code, found.message};
            }
        } else if (resource.resource_type == config_resource::broker) {
            failed = check_broker_name(b, resource.resource_name);
            // The default resource ("") holds the cluster-wide dynamic
            // defaults, of which Floe has none.
            if (!failed && !resource.resource_name.empty()) {
                views = broker_config_views(b);
            }
        } else {
            failed = unsupported_resource(resource.resource_type);
        }
        if (failed) {
            result.error_code = code(failed->code);
            result.error_message = failed->message;
            out.results.push_back(std::move(result));
            continue;
        }
        // Null or empty: every config.
        std::set<std::string_view> wanted;
        if (resource.configuration_keys) {
            wanted.insert(resource.configuration_keys->begin(), resource.configuration_keys->end());
        }
        for (const config_view& v : views) {
            if (!wanted.empty() && !wanted.contains(v.name)) {
                continue;
            }
            describe_configs_response::describe_configs_resource_result entry;
            entry.name = v.name;
            entry.value = v.value;
            entry.read_only = v.read_only;
            entry.is_default = v.source == config_source::default_config;
            entry.config_source = static_cast<int8_t>(v.source);
            entry.is_sensitive = v.sensitive;
            entry.config_type = static_cast<int8_t>(v.type);
            if (req.include_synonyms) {
                for (const auto& s : v.synonyms) {
                    entry.synonyms.push_back({s.name, s.value, static_cast<int8_t>(s.source), {}});
                }
            }
            if (req.include_documentation) {
                entry.documentation = std::string(v.doc);
            } else {
                entry.documentation = std::nullopt;
            }
            result.configs.push_back(std::move(entry));
        }
        out.results.push_back(std::move(result));
    }
    co_return encode_response(out, version);
}

namespace {

using resource_key = std::pair<int8_t, std::string>;

// The resources named more than once in an Alter request (each is answered
// once, with INVALID_REQUEST).
template <typename Resources>
std::set<resource_key> repeated_resources(const Resources& resources) {
    std::set<resource_key> seen;
    std::set<resource_key> repeated;
    for (const auto& resource : resources) {
        resource_key key(resource.resource_type, resource.resource_name);
        if (!seen.insert(key).second) {
            repeated.insert(std::move(key));
        }
    }
    return repeated;
}

// Broker settings come from Floe's configuration; `names` lists the ones a
// request tried to change.
failure broker_configs_refused(const std::string& names) {
    return failure{error_code::invalid_config,
                   bounded("Cannot update these configs dynamically: " + names +
                           " (Floe reads broker settings from its configuration at start)")};
}

}  // namespace

asio::awaitable<response> handle_alter_configs(broker& b, request& r) {
    auto req = decode_request<alter_configs_request>(r);
    const int16_t version = r.api_version();
    alter_configs_response out;
    const std::set<resource_key> duplicated = repeated_resources(req.resources);
    std::set<resource_key> answered;
    for (const auto& resource : req.resources) {
        auto key = std::make_pair(resource.resource_type, resource.resource_name);
        if (!answered.insert(key).second) {
            continue;  // one answer per resource
        }
        alter_configs_response::alter_configs_resource_response result;
        result.resource_type = resource.resource_type;
        result.resource_name = resource.resource_name;
        result.error_message = std::nullopt;
        std::optional<failure> failed;
        if (duplicated.contains(key)) {
            failed = failure{error_code::invalid_request, "Duplicate resource."};
        } else if (resource.resource_type == config_resource::topic) {
            topic_lookup found = lookup_topic(b, resource.resource_name);
            std::map<std::string, std::string> configs;
            std::string nulls;
            for (const auto& c : resource.configs) {
                if (!c.value) {
                    nulls += (nulls.empty() ? "" : ", ") + c.name;
                } else {
                    configs[c.name] = *c.value;  // a repeated name: the last one wins
                }
            }
            if (!found.topic) {
                failed = failure{found.code, found.message};
            } else if (!nulls.empty()) {
                failed = failure{error_code::invalid_request,
                                 bounded("Null value not supported for : " + nulls)};
            } else {
                failed = check_topic_configs(configs);
            }
            if (!failed && !req.validate_only) {
                auto operation = store_topic_configs(b, resource.resource_name, std::move(configs));
                failed = co_await std::move(operation);
            }
        } else if (resource.resource_type == config_resource::broker) {
            failed = check_broker_name(b, resource.resource_name);
            std::string names;
            for (const auto& c : resource.configs) {
                names += (names.empty() ? "" : ", ") + c.name;
            }
            if (!failed && !names.empty()) {
                failed = broker_configs_refused(names);
            }
        } else {
            failed = unsupported_resource(resource.resource_type);
        }
        if (failed) {
            result.error_code = code(failed->code);
            result.error_message = failed->message;
        }
        out.responses.push_back(std::move(result));
    }
    co_return encode_response(out, version);
}

asio::awaitable<response> handle_incremental_alter_configs(broker& b, request& r) {
    auto req = decode_request<incremental_alter_configs_request>(r);
    const int16_t version = r.api_version();
    incremental_alter_configs_response out;
    const std::set<resource_key> duplicated = repeated_resources(req.resources);
    std::set<resource_key> answered;
    for (const auto& resource : req.resources) {
        auto key = std::make_pair(resource.resource_type, resource.resource_name);
        if (!answered.insert(key).second) {
            continue;
        }
        incremental_alter_configs_response::alter_configs_resource_response result;
        result.resource_type = resource.resource_type;
        result.resource_name = resource.resource_name;
        result.error_message = std::nullopt;
        std::optional<failure> failed;
        // Checks that do not depend on the resource type.
        std::set<std::string_view> names;
        for (const auto& c : resource.configs) {
            if (!names.insert(c.name).second) {
                failed = failure{error_code::invalid_request,
                                 bounded("Error due to duplicate config keys: " + c.name)};
                break;
            }
            if (c.config_operation < 0 || c.config_operation > 3) {
                failed =
                    failure{error_code::invalid_request,
                            bounded("Unknown operation type " + std::to_string(c.config_operation) +
                                    " for config " + c.name)};
                break;
            }
            if (!c.value && static_cast<alter_op>(c.config_operation) != alter_op::remove) {
                failed = failure{error_code::invalid_request,
                                 bounded("Null value not supported for : " + c.name)};
                break;
            }
        }
        if (duplicated.contains(key)) {
            failed = failure{error_code::invalid_request, "Duplicate resource."};
        } else if (failed) {
            // reported below
        } else if (resource.resource_type == config_resource::topic) {
            topic_lookup found = lookup_topic(b, resource.resource_name);
            if (!found.topic) {
                failed = failure{found.code, found.message};
            }
            std::map<std::string, std::string> configs;
            if (found.topic) {
                configs = found.topic->configs;
            }
            for (const auto& c : resource.configs) {
                if (failed) {
                    break;
                }
                const auto op = static_cast<alter_op>(c.config_operation);
                if (op == alter_op::set) {
                    configs[c.name] = *c.value;
                } else if (op == alter_op::remove) {
                    configs.erase(c.name);
                } else {
                    const topic_config_def* def = find_topic_config(c.name);
                    if (def == nullptr) {
                        failed = failure{error_code::invalid_config,
                                         bounded("Unknown topic config name: " + c.name)};
                        break;
                    }
                    if (def->type != config_type::list) {
                        failed = failure{error_code::invalid_config,
                                         bounded("Can't " + std::string(op_name(op)) + " to key " +
                                                 c.name + " because its type is not LIST.")};
                        break;
                    }
                    auto it = configs.find(c.name);
                    std::vector<std::string> items = split_list(
                        it != configs.end() ? it->second
                                            : b.topic_config_value(*found.topic, c.name));
                    for (const auto& item : split_list(*c.value)) {
                        auto at = std::find(items.begin(), items.end(), item);
                        if (op == alter_op::append && at == items.end()) {
                            items.push_back(item);
                        } else if (op == alter_op::subtract) {
                            std::erase(items, item);
                        }
                    }
                    configs[c.name] = join_list(items);
                }
            }
            if (!failed) {
                failed = check_topic_configs(configs);
            }
            if (!failed && !req.validate_only) {
                auto operation = store_topic_configs(b, resource.resource_name, std::move(configs));
                failed = co_await std::move(operation);
            }
        } else if (resource.resource_type == config_resource::broker) {
            failed = check_broker_name(b, resource.resource_name);
            std::string changed;
            for (const auto& c : resource.configs) {
                if (static_cast<alter_op>(c.config_operation) != alter_op::remove) {
                    changed += (changed.empty() ? "" : ", ") + c.name;
                }
            }
            if (!failed && !changed.empty()) {
                failed = broker_configs_refused(changed);
            }
        } else {
            failed = unsupported_resource(resource.resource_type);
        }
        if (failed) {
            result.error_code = code(failed->code);
            result.error_message = failed->message;
        }
        out.responses.push_back(std::move(result));
    }
    co_return encode_response(out, version);
}

}  // namespace floe::kafka
