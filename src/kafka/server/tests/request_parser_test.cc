#include "kafka/server/request_parser.h"

#include <gtest/gtest.h>

#include "kafka/protocol/generated/api_registry.h"

namespace floe::kafka {
namespace {

byte_vector header_bytes(int16_t key, int16_t version, int16_t header_version,
                         std::string_view body = "BODY") {
    request_header header;
    header.request_api_key = key;
    header.request_api_version = version;
    header.correlation_id = 77;
    header.client_id = "client";
    byte_vector out;
    byte_writer writer(out);
    header.encode(writer, header_version);
    writer.write_bytes(body);
    return out;
}

TEST(RequestParser, ClassicHeader) {
    auto bytes = header_bytes(3, 1, 1);
    auto parsed = parse_request_header(bytes);
    ASSERT_TRUE(parsed.has_value()) << parsed.error_value().to_string();
    EXPECT_EQ(parsed->header.request_api_key, 3);
    EXPECT_EQ(parsed->header.request_api_version, 1);
    EXPECT_EQ(parsed->header.correlation_id, 77);
    EXPECT_EQ(parsed->header.client_id, "client");
    EXPECT_EQ(parsed->header_version, 1);
    EXPECT_EQ(parsed->body_offset, bytes.size() - 4);
}

TEST(RequestParser, FlexibleHeaderWithTaggedFields) {
    request_header header;
    header.request_api_key = 3;
    header.request_api_version = 12;
    header.correlation_id = 5;
    header.unknown_tagged_fields.push_back({9, {1, 2, 3}});
    byte_vector bytes;
    byte_writer writer(bytes);
    header.encode(writer, 2);
    size_t header_size = bytes.size();
    writer.write_bytes(std::string_view("xyz"));
    auto parsed = parse_request_header(bytes);
    ASSERT_TRUE(parsed.has_value()) << parsed.error_value().to_string();
    EXPECT_EQ(parsed->header_version, 2);
    EXPECT_EQ(parsed->body_offset, header_size);
    EXPECT_EQ(parsed->header, header);
}

TEST(RequestParser, ControlledShutdownV0HasNoClientId) {
    auto bytes = header_bytes(7, 0, 0);
    auto parsed = parse_request_header(bytes);
    ASSERT_TRUE(parsed.has_value()) << parsed.error_value().to_string();
    EXPECT_EQ(parsed->header_version, 0);
    EXPECT_EQ(parsed->body_offset, 8u);
}

TEST(RequestParser, ApiVersionsAboveTheMaximumUsesTheNewestHeader) {
    auto bytes = header_bytes(18, 1000, 2);
    auto parsed = parse_request_header(bytes);
    ASSERT_TRUE(parsed.has_value()) << parsed.error_value().to_string();
    EXPECT_EQ(parsed->header.request_api_version, 1000);
    EXPECT_EQ(parsed->header_version, 2);
    EXPECT_EQ(parsed->body_offset, bytes.size() - 4);
}

TEST(RequestParser, Rejections) {
    byte_vector three = {0, 3, 0};
    EXPECT_EQ(parse_request_header(three).error_value().code, errc::truncated);
    auto unknown = header_bytes(3, 1, 1);
    unknown[0] = 0x7F;  // key 0x7F00
    EXPECT_EQ(parse_request_header(unknown).error_value().code, errc::unsupported);
    EXPECT_EQ(parse_request_header(header_bytes(3, 13, 2)).error_value().code, errc::unsupported);
    EXPECT_EQ(parse_request_header(header_bytes(18, -1, 1)).error_value().code, errc::unsupported);
    auto cut = header_bytes(3, 1, 1, "");
    cut.pop_back();  // inside the client id
    EXPECT_EQ(parse_request_header(cut).error_value().code, errc::truncated);
}

TEST(RequestParser, ResponseHeaderVersions) {
    EXPECT_EQ(response_header_version(18, 3), 0);  // ApiVersions: always v0
    EXPECT_EQ(response_header_version(18, 99), 0);
    EXPECT_EQ(response_header_version(3, 8), 0);
    EXPECT_EQ(response_header_version(3, 9), 1);
    EXPECT_EQ(response_header_version(0, 9), 1);
    EXPECT_EQ(response_header_version(0, 8), 0);
}

}  // namespace
}  // namespace floe::kafka
