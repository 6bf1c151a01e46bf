// AWS Signature Version 4 for S3 requests (header-based signing), written
// for Floe; see README.md for why it is hand-written.
//
//   canonical request = METHOD \n CanonicalURI \n CanonicalQuery \n
//                       CanonicalHeaders \n SignedHeaders \n PayloadHash
//   string to sign    = "AWS4-HMAC-SHA256" \n amz_date \n scope \n
//                       hex(sha256(canonical request))
//   signing key       = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, yyyymmdd), region),
//                       service), "aws4_request")
//
// Checked against the worked examples in AWS's SigV4 documentation (see
// tests/sigv4_test.cc). All functions are pure and thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/bytes.h"

namespace floe::objstore::sigv4 {

// SHA-256 of an empty payload, hex.
inline constexpr std::string_view empty_payload_sha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string sha256_hex(byte_span data);
std::string sha256_hex(std::string_view data);
std::string hex(byte_span data);

// RFC 3986 percent-encoding as SigV4 defines it: unreserved characters
// (A-Z a-z 0-9 - _ . ~) stay, everything else becomes %XX (upper case);
// '/' stays when encode_slash is false (object key paths).
std::string uri_encode(std::string_view text, bool encode_slash);

struct request {
    std::string method;  // "GET", "PUT", ...
    // The path as sent on the wire, already encoded (uri_encode(path, false)).
    std::string canonical_uri;
    // Query parameters, not encoded; a parameter without value has "".
    std::vector<std::pair<std::string, std::string>> query;
    // Headers to sign (name in any case); host and x-amz-date must be present.
    std::vector<std::pair<std::string, std::string>> headers;
    std::string payload_sha256;  // hex, or "UNSIGNED-PAYLOAD"
};

// "a=1&b=" with names and values encoded and sorted: the canonical query.
std::string canonical_query(const std::vector<std::pair<std::string, std::string>>& query);
std::string canonical_request(const request& req);
// "host;range;x-amz-date": lower-case, sorted, ';'-joined.
std::string signed_headers(const request& req);

struct signing_context {
    std::string_view access_key;
    std::string_view secret_key;
    std::string_view region;
    std::string_view service = "s3";
    std::string_view amz_date;  // "20130524T000000Z"
};

std::string string_to_sign(const signing_context& ctx, std::string_view canonical);
std::string signature(const signing_context& ctx, std::string_view string_to_sign);
// The full Authorization header value.
std::string authorization(const signing_context& ctx, const request& req);

// "YYYYMMDDTHHMMSSZ" for the current UTC time.
std::string amz_date_now();

}  // namespace floe::objstore::sigv4
