// SigV4 against the worked examples in AWS's "Signature Calculations for the
// Authorization Header" (S3 API reference): access key AKIAIOSFODNN7EXAMPLE,
// region us-east-1, bucket examplebucket, 20130524T000000Z.
#include "objstore/sigv4.h"

#include <gtest/gtest.h>

namespace floe::objstore::sigv4 {
namespace {

constexpr std::string_view access_key = "AKIAIOSFODNN7EXAMPLE";
constexpr std::string_view secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr std::string_view host = "examplebucket.s3.amazonaws.com";
constexpr std::string_view date = "20130524T000000Z";

signing_context context() {
    return {access_key, secret_key, "us-east-1", "s3", date};
}

TEST(sigv4, get_object_with_range) {
    request req;
    req.method = "GET";
    req.canonical_uri = uri_encode("/test.txt", false);
    req.headers = {{"Host", std::string(host)},
                   {"Range", "bytes=0-9"},
                   {"x-amz-content-sha256", std::string(empty_payload_sha256)},
                   {"x-amz-date", std::string(date)}};
    req.payload_sha256 = empty_payload_sha256;
    EXPECT_EQ(canonical_request(req),
              "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
              "x-amz-content-sha256:"
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
              "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(string_to_sign(context(), canonical_request(req)),
              "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
              "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
    EXPECT_EQ(authorization(context(), req),
              "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
              "aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
              "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(sigv4, put_object_with_reserved_character_in_key) {
    std::string payload = "Welcome to Amazon S3.";
    request req;
    req.method = "PUT";
    req.canonical_uri = uri_encode("/test$file.text", false);
    EXPECT_EQ(req.canonical_uri, "/test%24file.text");
    req.payload_sha256 = sha256_hex(payload);
    EXPECT_EQ(req.payload_sha256,
              "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    req.headers = {{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                   {"Host", std::string(host)},
                   {"x-amz-content-sha256", req.payload_sha256},
                   {"x-amz-date", std::string(date)},
                   {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
    EXPECT_EQ(string_to_sign(context(), canonical_request(req)),
              "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
              "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
    EXPECT_EQ(authorization(context(), req),
              "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
              "aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;"
              "x-amz-storage-class,"
              "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

request bucket_get(std::vector<std::pair<std::string, std::string>> query) {
    request req;
    req.method = "GET";
    req.canonical_uri = "/";
    req.query = std::move(query);
    req.headers = {{"Host", std::string(host)},
                   {"x-amz-date", std::string(date)},
                   {"x-amz-content-sha256", std::string(empty_payload_sha256)}};
    req.payload_sha256 = empty_payload_sha256;
    return req;
}

TEST(sigv4, get_bucket_lifecycle_with_valueless_parameter) {
    request req = bucket_get({{"lifecycle", ""}});
    EXPECT_EQ(canonical_query(req.query), "lifecycle=");
    EXPECT_EQ(string_to_sign(context(), canonical_request(req)),
              "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
              "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca");
    EXPECT_EQ(signature(context(), string_to_sign(context(), canonical_request(req))),
              "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(sigv4, list_objects_with_sorted_query) {
    request req = bucket_get({{"prefix", "J"}, {"max-keys", "2"}});  // unsorted on purpose
    EXPECT_EQ(canonical_query(req.query), "max-keys=2&prefix=J");
    EXPECT_EQ(string_to_sign(context(), canonical_request(req)),
              "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
              "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7");
    EXPECT_EQ(signature(context(), string_to_sign(context(), canonical_request(req))),
              "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(sigv4, uri_encode_keeps_unreserved_and_optionally_slash) {
    EXPECT_EQ(uri_encode("aZ09-_.~", true), "aZ09-_.~");
    EXPECT_EQ(uri_encode("a/b c+d=e", false), "a/b%20c%2Bd%3De");
    EXPECT_EQ(uri_encode("a/b", true), "a%2Fb");
    EXPECT_EQ(uri_encode("\xc3\xa9", true), "%C3%A9");
}

TEST(sigv4, header_values_are_trimmed_and_names_lowered) {
    request req;
    req.method = "GET";
    req.canonical_uri = "/";
    req.headers = {{"X-Amz-Meta-A", "  one   two  "}};
    req.payload_sha256 = "UNSIGNED-PAYLOAD";
    EXPECT_EQ(canonical_request(req),
              "GET\n/\n\nx-amz-meta-a:one two\n\nx-amz-meta-a\nUNSIGNED-PAYLOAD");
}

TEST(sigv4, amz_date_has_the_basic_iso8601_shape) {
    std::string now = amz_date_now();
    ASSERT_EQ(now.size(), 16u);
    EXPECT_EQ(now[8], 'T');
    EXPECT_EQ(now[15], 'Z');
}

}  // namespace
}  // namespace floe::objstore::sigv4
