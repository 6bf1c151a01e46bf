// consumer_protocol: the one piece of the Kafka consumer's embedded protocol
// (protocol type "consumer") the group coordinator looks inside: the topics a
// member subscribes to, to refuse OffsetDelete on a topic the group consumes
// (GROUP_SUBSCRIBED_TO_TOPIC) and to expire offsets of topics a stable group
// no longer consumes.
//
// A subscription (ConsumerProtocolSubscription, any version) starts with
//
//   int16 version (>= 0), int32 topic count, count x (int16 length, UTF-8)
//
// and every later version only appends fields (user data, owned partitions,
// generation, rack), so reading this prefix is enough for all versions; the
// rest is not looked at.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"

namespace floe::coordinator {

inline constexpr std::string_view k_consumer_protocol_type = "consumer";

// The subscribed topics, or nullopt when `metadata` is not a subscription
// (truncated, negative version, count or length).
std::optional<std::vector<std::string>> consumer_subscription_topics(byte_span metadata);

}  // namespace floe::coordinator
