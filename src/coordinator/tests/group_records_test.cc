// The group record format (docs/format/consumer_offsets.md): exact bytes of
// what Floe writes (so a change of format is never silent), round trips,
// the older versions it reads, and what it refuses.
#include <gtest/gtest.h>

#include "coordinator/consumer_protocol.h"
#include "coordinator/group_records.h"

using namespace floe;
using namespace floe::coordinator;
using namespace floe::coordinator::group_records;

namespace {

byte_vector hex(std::string_view text) {
    byte_vector out;
    int high = -1;
    for (char c : text) {
        int v;
        if (c >= '0' && c <= '9') {
            v = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            v = c - 'a' + 10;
        } else {
            continue;  // spaces and separators
        }
        if (high < 0) {
            high = v;
        } else {
            out.push_back(static_cast<uint8_t>(high * 16 + v));
            high = -1;
        }
    }
    return out;
}

byte_vector bytes_of(std::string_view s) {
    return byte_vector(s.begin(), s.end());
}

}  // namespace

TEST(GroupRecords, OffsetCommitKeyBytes) {
    // version 1 | "g" | "t" | partition 7
    EXPECT_EQ(encode_key(offset_commit_key{"g", "t", 7}), hex("0001 0001 67 0001 74 00000007"));
}

TEST(GroupRecords, GroupMetadataKeyBytes) {
    EXPECT_EQ(encode_key(group_metadata_key{"grp"}), hex("0002 0003 677270"));
}

TEST(GroupRecords, OffsetCommitValueBytes) {
    offset_commit_value v{0x0102, 5, "m", 0x10, std::nullopt};
    // version 3 | offset | leader epoch | "m" | commit timestamp
    EXPECT_EQ(encode_value(v), hex("0003 0000000000000102 00000005 0001 6d 0000000000000010"));
    v.expire_timestamp_ms = 0x20;
    // version 1 (explicit expiry) has no leader epoch
    EXPECT_EQ(encode_value(v),
              hex("0001 0000000000000102 0001 6d 0000000000000010 0000000000000020"));
}

TEST(GroupRecords, GroupMetadataValueBytes) {
    group_metadata_value v;
    v.protocol_type = "consumer";
    v.generation = 3;
    v.protocol = "range";
    v.leader = "a";
    v.current_state_timestamp_ms = 0x99;
    v.members.push_back({"a", "i", "c", "h", 0x100, 0x200, bytes_of("S"), bytes_of("AS")});
    byte_vector expected =
        hex("0003"                             // version
            "0008 636f6e73756d6572"            // "consumer"
            "00000003"                         // generation
            "0005 72616e6765"                  // "range"
            "0001 61"                          // leader "a"
            "0000000000000099"                 // state timestamp
            "00000001"                         // one member
            "0001 61 0001 69 0001 63 0001 68"  // member id, instance id, client id, host
            "00000100 00000200"                // rebalance, session timeouts
            "00000001 53"                      // subscription
            "00000002 4153");                  // assignment
    EXPECT_EQ(encode_value(v), expected);

    group_metadata_value empty;
    empty.protocol_type = "consumer";
    empty.generation = 4;
    EXPECT_EQ(encode_value(empty),
              hex("0003 0008 636f6e73756d6572 00000004 ffff ffff ffffffffffffffff 00000000"));
}

TEST(GroupRecords, RoundTrips) {
    offset_commit_key ok{"group-1", "orders", 12};
    auto k = decode_key(encode_key(ok));
    ASSERT_TRUE(k.has_value());
    EXPECT_EQ(std::get<offset_commit_key>(*k), ok);

    group_metadata_key gk{"group-1"};
    auto k2 = decode_key(encode_key(gk));
    ASSERT_TRUE(k2.has_value());
    EXPECT_EQ(std::get<group_metadata_key>(*k2), gk);

    for (auto expiry : {std::optional<int64_t>{}, std::optional<int64_t>{123456}}) {
        offset_commit_value v{42, expiry ? -1 : 9, "meta", 1'700'000'000'000, expiry};
        auto d = decode_offset_commit_value(encode_value(v));
        ASSERT_TRUE(d.has_value());
        EXPECT_EQ(*d, v);
    }

    group_metadata_value gv;
    gv.protocol_type = "consumer";
    gv.generation = 17;
    gv.protocol = "cooperative-sticky";
    gv.leader = "m1";
    gv.current_state_timestamp_ms = 1'700'000'000'123;
    gv.members.push_back({"m1", std::nullopt, "client-1", "/10.0.0.1", 300000, 45000,
                          bytes_of("sub1"), bytes_of("asg1")});
    gv.members.push_back(
        {"m2", "instance-2", "client-2", "/10.0.0.2", 60000, 10000, {}, bytes_of("asg2")});
    auto d = decode_group_metadata_value(encode_value(gv));
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(*d, gv);
}

TEST(GroupRecords, ReadsOlderValueVersions) {
    // Offset commit value v0 / v2: offset, metadata, commit timestamp.
    for (const char* version : {"0000", "0002"}) {
        auto v = decode_offset_commit_value(
            hex(std::string(version) + "0000000000000005 0000 0000000000000009"));
        ASSERT_TRUE(v.has_value()) << version;
        EXPECT_EQ(v->offset, 5);
        EXPECT_EQ(v->leader_epoch, -1);
        EXPECT_EQ(v->commit_timestamp_ms, 9);
        EXPECT_FALSE(v->expire_timestamp_ms.has_value());
    }
    // v1 with expire timestamp -1 means no expiry.
    auto v1 = decode_offset_commit_value(
        hex("0001 0000000000000005 0000 0000000000000009 ffffffffffffffff"));
    ASSERT_TRUE(v1.has_value());
    EXPECT_FALSE(v1->expire_timestamp_ms.has_value());

    // Group metadata value v0: no rebalance timeout, state timestamp or
    // instance id.
    auto g0 =
        decode_group_metadata_value(hex("0000 0001 63 00000002 0001 72 0001 61 00000001"
                                        "0001 61 0001 63 0001 68 00002710 00000000 00000000"));
    ASSERT_TRUE(g0.has_value()) << g0.error_value().to_string();
    EXPECT_EQ(g0->generation, 2);
    EXPECT_EQ(g0->current_state_timestamp_ms, -1);
    ASSERT_EQ(g0->members.size(), 1u);
    EXPECT_EQ(g0->members[0].session_timeout_ms, 10000);
    EXPECT_EQ(g0->members[0].rebalance_timeout_ms, 10000);
    EXPECT_FALSE(g0->members[0].group_instance_id.has_value());

    // v2: rebalance timeout and state timestamp, no instance id.
    auto g2 = decode_group_metadata_value(
        hex("0002 0001 63 00000002 ffff ffff 0000000000000007 00000001"
            "0001 61 0001 63 0001 68 00000005 00000006 00000000 00000000"));
    ASSERT_TRUE(g2.has_value()) << g2.error_value().to_string();
    EXPECT_EQ(g2->current_state_timestamp_ms, 7);
    EXPECT_EQ(g2->members[0].rebalance_timeout_ms, 5);
    EXPECT_EQ(g2->members[0].session_timeout_ms, 6);
    EXPECT_FALSE(g2->protocol.has_value());
}

TEST(GroupRecords, RefusesWhatItCannotRead) {
    EXPECT_EQ(decode_key(hex("0063 0001 67")).error_value().code, errc::unsupported);
    EXPECT_EQ(decode_key(hex("00")).error_value().code, errc::truncated);
    EXPECT_EQ(decode_key(hex("0002 0001 67 00")).error_value().code, errc::corrupt);  // trailing
    EXPECT_EQ(decode_key(hex("0001 0005 67")).error_value().code, errc::truncated);
    EXPECT_EQ(decode_offset_commit_value(hex("0004 0000000000000005 ffffffff 0000 00"))
                  .error_value()
                  .code,
              errc::unsupported);
    EXPECT_EQ(decode_group_metadata_value(hex("0004")).error_value().code, errc::unsupported);
    EXPECT_FALSE(decode_group_metadata_value(hex("0003 0001 63 00000001 ffff ffff "
                                                 "0000000000000000 ffffffff"))
                     .has_value());                          // negative member count
    EXPECT_FALSE(decode_key(hex("0002 ffff")).has_value());  // null group id
}

TEST(ConsumerProtocol, ReadsTheTopicsOfAnySubscriptionVersion) {
    // v0: version, topics ["a", "bc"], user data null
    auto v0 = consumer_subscription_topics(hex("0000 00000002 0001 61 0002 6263 ffffffff"));
    ASSERT_TRUE(v0.has_value());
    EXPECT_EQ(*v0, (std::vector<std::string>{"a", "bc"}));
    // v3: the same prefix, then owned partitions, generation and rack.
    auto v3 =
        consumer_subscription_topics(hex("0003 00000001 0001 61 ffffffff 00000000 00000005 ffff"));
    ASSERT_TRUE(v3.has_value());
    EXPECT_EQ(*v3, (std::vector<std::string>{"a"}));
    // A future version is read the same way.
    EXPECT_TRUE(consumer_subscription_topics(hex("0009 00000000")).has_value());

    EXPECT_FALSE(consumer_subscription_topics(hex("00")).has_value());
    EXPECT_FALSE(consumer_subscription_topics(hex("ffff 00000000")).has_value());
    EXPECT_FALSE(consumer_subscription_topics(hex("0000 00000002 0001 61")).has_value());
    EXPECT_FALSE(consumer_subscription_topics(hex("0000 ffffffff")).has_value());
}
