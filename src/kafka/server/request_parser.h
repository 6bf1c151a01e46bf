// Parsing the request header at the front of a request frame's payload.
//
// The api key and version are read first; they choose the header version
// (request_header_version()). An ApiVersions request whose version is above
// the highest Floe knows is parsed with the header version of the highest
// known ApiVersions version, so that the handler can answer it with
// UNSUPPORTED_VERSION (KIP-511: clients probe with their newest version).
//
// Threading: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/bytes.h"
#include "base/result.h"
#include "kafka/protocol/generated/request_header.h"

namespace floe::kafka {

struct parsed_request_header {
    request_header header;
    int16_t header_version = 0;
    size_t body_offset = 0;  // the body starts at payload[body_offset]
};

// errc::truncated / errc::corrupt for a malformed header, errc::unsupported
// for an unknown api key or a version outside the api's range (other than
// the ApiVersions case above).
result<parsed_request_header> parse_request_header(byte_span payload);

// Version of the response header for a request: 0 for ApiVersions (always)
// and for non-flexible versions, 1 (with tagged fields) for flexible ones.
int16_t response_header_version(int16_t api_key, int16_t api_version);

}  // namespace floe::kafka
