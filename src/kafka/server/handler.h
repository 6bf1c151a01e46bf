// The interface between the network layer (server.h) and the code that
// answers Kafka requests.
//
// Ordering contract, per connection:
//   - Requests are started in arrival order. handle() of request n runs, on
//     the connection's shard, until its first suspension (its first co_await
//     that does not complete at once) before handle() of request n + 1 is
//     called. A handler that posts work to another shard or queue before its
//     first suspension therefore posts it in request order (Produce relies on
//     this to keep one connection's appends in order).
//   - After that first suspension, up to server_options::max_in_flight
//     requests of the connection run concurrently and may finish in any order.
//   - Responses are written in request order, whatever order handlers finish.
//
// Threading: handle() is always called on, and must resume on, the shard in
// request::shard (use async.h to reach other threads). accepts() is called
// from every shard at once: it must be thread-safe (typically a constant
// table).
#pragma once

#include <asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/shared_buffer.h"
#include "kafka/protocol/generated/request_header.h"

namespace floe::kafka {

struct request {
    request_header header;  // decoded (generated struct)
    int16_t header_version = 0;
    byte_span body;       // the bytes after the header; owned by `frame`
    shared_buffer frame;  // owns the request bytes while the handler runs
    uint64_t connection_id = 0;
    std::string peer;  // "127.0.0.1:54321"
    size_t shard = 0;  // the shard running this connection

    int16_t api_key() const { return header.request_api_key; }
    int16_t api_version() const { return header.request_api_version; }
};

struct response {
    // Body segments after the response header, written with one gathered
    // write (no copying of segments). The server prepends the size prefix
    // and the response header.
    std::vector<shared_buffer> body;
    bool send = true;               // false: no response at all (Produce with acks=0)
    bool close_connection = false;  // close after sending (or instead of, when !send)
};

class request_handler {
public:
    virtual ~request_handler() = default;

    // Whether (key, version) is served. Requests that are not are answered by
    // closing the connection (with a log line), except ApiVersions, which
    // always reaches handle(): it answers versions it does not serve itself,
    // with UNSUPPORTED_VERSION and a v0 body.
    virtual bool accepts(int16_t api_key, int16_t api_version) const = 0;

    // Runs on the connection's shard. The server writes the size prefix and
    // the response header (correlation id; header v1 with tagged fields for
    // flexible versions, always v0 for ApiVersions). An exception escaping
    // handle() closes the connection (with a log line) and nothing is sent
    // for that request; errors that Kafka defines belong in the response.
    virtual asio::awaitable<response> handle(request& r) = 0;
};

}  // namespace floe::kafka
