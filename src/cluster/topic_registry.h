// topic_registry: the topics of a cluster -- names, ids, partitions (each one
// stream) and per-topic config overrides -- kept in the metadata store and
// cached in memory.
//
// Layout in the metadata store (see metadata/registry_keys.h for the rest):
//
//   /floe/topics/<name>   encoded topic_info (format below), one key per topic
//
// A partition is one stream: partition i of a topic is stream
// `partitions[i]`, allocated from the "stream" id counter when the partition
// is created and never reused.
//
//   auto registry = topic_registry::open(store);
//   auto t = (*registry)->create("orders", 6, {{"retention.ms", "3600000"}});
//   t->partitions[2]   // the stream holding orders-2
//
// Validation here is structural only (names, counts); the Kafka layer checks
// config names and values before calling set_configs().
//
// Threading: thread-safe. Mutations are blocking metadata transactions (call
// them from a blocking pool); find()/list() read the in-memory cache.
// Concurrent creators of one name: exactly one wins, the others get
// errc::conflict. Changes made by other processes are seen after refresh().
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/strong_id.h"
#include "metadata/store.h"

namespace floe::cluster {

using topic_uuid = std::array<uint8_t, 16>;

struct topic_info {
    std::string name;
    topic_uuid id{};
    std::vector<stream_id> partitions;           // index = partition number
    std::map<std::string, std::string> configs;  // overrides set by users
    bool operator==(const topic_info&) const = default;
};

inline constexpr std::string_view topics_prefix = "/floe/topics/";
// Most partitions one topic may have.
inline constexpr int32_t max_partitions = 100000;

// Kafka's topic name rules: 1 to 249 characters of [a-zA-Z0-9._-], not "."
// or "..". Returns a message saying what is wrong, or nullopt when valid.
std::optional<std::string> invalid_topic_name(std::string_view name);

// Encoding of a topic record (big-endian): version int8 (1), id 16 bytes,
// partition count int32, stream ids uint64 each, config count int32, then
// per config: key length int16, key, value length int32, value.
std::string encode_topic(const topic_info& topic);
result<topic_info> decode_topic(std::string_view name, std::string_view bytes);

class topic_registry {
public:
    static result<std::unique_ptr<topic_registry>> open(std::shared_ptr<metadata::store> store);

    // Creates a topic with `partitions` partitions. errc::conflict when the
    // name exists; errc::invalid_argument for a bad name or count.
    result<topic_info> create(std::string_view name, int32_t partitions,
                              std::map<std::string, std::string> configs);
    // Deletes the topic record (its streams are the caller's to delete).
    // errc::not_found when there is no such topic.
    result<topic_info> remove(std::string_view name);
    // Grows the topic to `total` partitions. errc::invalid_argument when
    // `total` is not larger than the current count.
    result<topic_info> add_partitions(std::string_view name, int32_t total);
    // Replaces the topic's config overrides.
    result<topic_info> set_configs(std::string_view name,
                                   std::map<std::string, std::string> configs);

    std::optional<topic_info> find(std::string_view name) const;
    std::optional<topic_info> find(const topic_uuid& id) const;
    std::vector<topic_info> list() const;
    // Re-reads every topic from the store.
    status refresh();

private:
    explicit topic_registry(std::shared_ptr<metadata::store> store);
    // Read-modify-write of one topic with a compare on its mod revision.
    result<topic_info> update(std::string_view name,
                              const std::function<status(topic_info&)>& change);
    void remember(const topic_info& topic);

    const std::shared_ptr<metadata::store> _store;
    mutable std::mutex _mutex;
    std::map<std::string, topic_info, std::less<>> _topics;  // guarded by _mutex
};

std::string topic_key(std::string_view name);
// Lower-case hex with dashes is not Kafka's form; Kafka prints topic ids in
// URL-safe base64 without padding (22 characters).
std::string topic_uuid_to_string(const topic_uuid& id);

}  // namespace floe::cluster
