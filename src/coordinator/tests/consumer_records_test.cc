// The consumer group records (key types 3-8, docs/format/consumer_offsets.md):
// exact bytes, round trips, and what is refused.
#include <gtest/gtest.h>

#include "coordinator/group_records.h"

using namespace floe;
using namespace floe::coordinator::group_records;

namespace {

uuid id_of(uint8_t n) {
    uuid id{};
    id[15] = n;
    return id;
}

template <typename T, typename D>
void round_trip(const T& value, D decode) {
    auto bytes = encode_value(value);
    auto back = decode(bytes);
    ASSERT_TRUE(back.has_value()) << back.error_value().message;
    EXPECT_EQ(*back, value);
    // Every truncation is refused, never a crash.
    for (size_t n = 0; n < bytes.size(); ++n) {
        EXPECT_FALSE(decode(byte_span(bytes.data(), n)).has_value()) << n;
    }
}

}  // namespace

TEST(ConsumerRecords, KeyBytes) {
    // type 3 | "g"
    EXPECT_EQ(encode_key(consumer_group_key{k_consumer_group_metadata_key, "g", ""}),
              (byte_vector{0x00, 0x03, 0x00, 0x01, 'g'}));
    // type 8 | "g" | "m"
    EXPECT_EQ(encode_key(consumer_group_key{k_consumer_current_assignment_key, "g", "m"}),
              (byte_vector{0x00, 0x08, 0x00, 0x01, 'g', 0x00, 0x01, 'm'}));
    auto key = decode_key(encode_key(consumer_group_key{k_consumer_member_metadata_key, "g", "m"}));
    ASSERT_TRUE(key.has_value());
    EXPECT_EQ(std::get<consumer_group_key>(*key),
              (consumer_group_key{k_consumer_member_metadata_key, "g", "m"}));
    EXPECT_FALSE(decode_key(byte_vector{0x00, 0x09, 0x00, 0x01, 'g'}).has_value());
}

TEST(ConsumerRecords, ValueBytes) {
    // version 0 | epoch 7 | no tagged fields
    EXPECT_EQ(encode_value(consumer_group_metadata_value{7}),
              (byte_vector{0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00}));
    consumer_target_member_value t;
    t.partitions[id_of(1)] = {0, 2};
    byte_vector expected{0x00, 0x00, 0x02};  // version 0 | 1 topic (compact)
    for (int i = 0; i < 15; ++i) {
        expected.push_back(0);
    }
    expected.push_back(1);  // the uuid
    for (int b : {0x03, 0, 0, 0, 0, 0, 0, 0, 2, 0x00, 0x00}) {
        expected.push_back(static_cast<uint8_t>(b));  // 2 partitions, 0, 2, no tags | no tags
    }
    EXPECT_EQ(encode_value(t), expected);
}

TEST(ConsumerRecords, RoundTrips) {
    round_trip(consumer_group_metadata_value{12}, decode_consumer_group_metadata_value);
    round_trip(consumer_partition_metadata_value{{{id_of(1), "t", 6}, {id_of(2), "u", 1}}},
               decode_consumer_partition_metadata_value);
    consumer_member_metadata_value m;
    m.instance_id = "inst";
    m.client_id = "c";
    m.client_host = "/1.2.3.4";
    m.subscribed_topic_names = {"a", "b"};
    m.subscribed_topic_regex = "x.*";
    m.server_assignor = "range";
    m.rebalance_timeout_ms = 30000;
    round_trip(m, decode_consumer_member_metadata_value);
    round_trip(consumer_target_metadata_value{5}, decode_consumer_target_metadata_value);
    consumer_current_assignment_value c;
    c.member_epoch = 5;
    c.previous_member_epoch = 4;
    c.state = 1;
    c.assigned[id_of(1)] = {0, 1};
    c.pending_revocation[id_of(2)] = {3};
    c.assigned_epochs[{id_of(1), 0}] = 3;
    c.assigned_epochs[{id_of(1), 1}] = 5;
    round_trip(c, decode_consumer_current_assignment_value);
}

TEST(ConsumerRecords, RefusesOtherVersionsAndHugeLengths) {
    auto bytes = encode_value(consumer_group_metadata_value{1});
    bytes[1] = 1;  // value version 1
    auto v = decode_consumer_group_metadata_value(bytes);
    ASSERT_FALSE(v.has_value());
    EXPECT_EQ(v.error_value().code, errc::unsupported);
    // A topic array claiming 2^31 entries in a few bytes.
    byte_vector huge{0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x07};
    EXPECT_FALSE(decode_consumer_target_member_value(huge).has_value());
    // Trailing bytes.
    auto t = encode_value(consumer_target_metadata_value{1});
    t.push_back(0);
    EXPECT_FALSE(decode_consumer_target_metadata_value(t).has_value());
}
