// registry_keys: the layout of Floe's registries in the metadata store, and
// allocate_id(), which hands out cluster-unique ids with a compare-and-swap.
//
// Layout (every Floe key lives under /floe/; ids are zero-padded decimal so
// that a prefix range returns them in numeric order):
//
//   /floe/streams/<stream id, 20 digits>   stream metadata (owner epoch, offsets);
//                                          encoding defined by the stream module
//   /floe/objects/<object id, 20 digits>   object records (what an object holds)
//   /floe/nodes/<node id, 10 digits>       broker registrations, attached to the
//                                          broker's lease so they vanish with it
//   /floe/ids/<counter name>               last id handed out by allocate_id(),
//                                          decimal ASCII ("0" is never handed out)
//
//   stream_key(stream_id{7}) == "/floe/streams/00000000000000000007"
//
// Threading: pure functions; allocate_id() is safe to call from any thread and
// from any number of processes sharing the store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "base/strong_id.h"
#include "metadata/store.h"

namespace floe::metadata {

inline constexpr std::string_view streams_prefix = "/floe/streams/";
inline constexpr std::string_view objects_prefix = "/floe/objects/";
inline constexpr std::string_view nodes_prefix = "/floe/nodes/";
inline constexpr std::string_view ids_prefix = "/floe/ids/";

// Counter names used with allocate_id().
inline constexpr std::string_view stream_id_counter = "stream";
inline constexpr std::string_view object_id_counter = "object";

std::string stream_key(stream_id id);
std::string object_key(object_id id);
// node ids are non-negative (Kafka broker ids).
std::string node_key(node_id id);
std::string id_counter_key(std::string_view counter_name);

// The id in a key produced by the matching *_key() function, or nullopt when
// `key` does not have that shape.
std::optional<stream_id> parse_stream_key(std::string_view key);
std::optional<object_id> parse_object_key(std::string_view key);
std::optional<node_id> parse_node_key(std::string_view key);

// Reserves `count` consecutive ids from the named counter and returns the
// first; ids start at 1 and are never handed out twice, across threads,
// processes and restarts. Retries its compare-and-swap while other writers
// win; errc::conflict only if it loses `max_attempts` times in a row.
result<uint64_t> allocate_id(store& metadata, std::string_view counter_name, uint64_t count = 1,
                             int max_attempts = 1000);

}  // namespace floe::metadata
