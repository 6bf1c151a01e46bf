#include <gtest/gtest.h>

#include "stream/stream_metadata.h"

namespace floe::stream {
namespace {

TEST(StreamMetadata, StreamRecordRoundTrip) {
    stream_record r{epoch(3), offset(10), offset(42), node_id(1)};
    std::string bytes = encode_stream_record(r);
    ASSERT_EQ(bytes.size(), 30u);
    // The worked example in stream_metadata.h.
    EXPECT_EQ(static_cast<uint8_t>(bytes[0]), 'S');
    EXPECT_EQ(static_cast<uint8_t>(bytes[1]), 1);
    EXPECT_EQ(static_cast<uint8_t>(bytes[9]), 3);
    EXPECT_EQ(static_cast<uint8_t>(bytes[17]), 10);
    EXPECT_EQ(static_cast<uint8_t>(bytes[25]), 42);
    EXPECT_EQ(static_cast<uint8_t>(bytes[29]), 1);
    auto decoded = decode_stream_record(bytes);
    ASSERT_TRUE(decoded.has_value()) << decoded.error_value().to_string();
    EXPECT_EQ(*decoded, r);
}

TEST(StreamMetadata, ObjectRecordRoundTrip) {
    object_record r;
    r.key = "objects/n1/00000000000000000007";
    r.size = 123456;
    r.state = object_state::marked_for_deletion;
    r.ranges = {{stream_id(1), offset(0), offset(10)}, {stream_id(9), offset(5), offset(6)}};
    auto decoded = decode_object_record(encode_object_record(r));
    ASSERT_TRUE(decoded.has_value()) << decoded.error_value().to_string();
    EXPECT_EQ(*decoded, r);
    object_record empty;
    auto decoded_empty = decode_object_record(encode_object_record(empty));
    ASSERT_TRUE(decoded_empty.has_value());
    EXPECT_EQ(*decoded_empty, empty);
}

TEST(StreamMetadata, EveryTruncationAndTrailerIsCorrupt) {
    object_record r;
    r.key = "objects/n1/1";
    r.size = 99;
    r.ranges = {{stream_id(1), offset(0), offset(10)}};
    for (std::string bytes : {encode_object_record(r),
                              encode_stream_record({epoch(1), offset(0), offset(1), node_id(2)})}) {
        bool is_object = bytes[0] == 'O';
        for (size_t n = 0; n < bytes.size(); ++n) {
            std::string cut = bytes.substr(0, n);
            bool failed = is_object ? !decode_object_record(cut).has_value()
                                    : !decode_stream_record(cut).has_value();
            EXPECT_TRUE(failed) << "prefix " << n;
        }
        std::string longer = bytes + "x";
        EXPECT_FALSE(is_object ? decode_object_record(longer).has_value()
                               : decode_stream_record(longer).has_value());
    }
}

TEST(StreamMetadata, RefusesWrongKindAndNewerVersion) {
    std::string bytes = encode_stream_record({epoch(1), offset(0), offset(1), node_id(2)});
    EXPECT_EQ(decode_object_record(bytes).error_value().code, errc::corrupt);
    bytes[1] = 2;
    EXPECT_EQ(decode_stream_record(bytes).error_value().code, errc::unsupported);
}

}  // namespace
}  // namespace floe::stream
