// Helpers shared by the handlers: decoding a request body with the generated
// codecs and encoding a response into one shared buffer.
//
// A body that does not decode (truncated, bad lengths) throws
// malformed_request: the server closes the connection with a log line, as
// Kafka does for an invalid request. Bytes after a complete body are ignored,
// as Kafka ignores them: librdkafka 2.16 sends three extra bytes after its
// all-topics Metadata v12 body, and Kafka answers it.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "base/bytes.h"
#include "base/shared_buffer.h"
#include "kafka/protocol/generated/api_registry.h"
#include "kafka/server/async.h"
#include "kafka/server/handler.h"

namespace floe::kafka {

struct malformed_request : std::runtime_error {
    using std::runtime_error::runtime_error;
};

template <typename Message>
Message decode_request(const request& r) {
    Message m;
    byte_reader reader(r.body);
    status decoded = m.decode(reader, r.api_version());
    if (!decoded || !reader.ok()) {
        const error& e = decoded ? reader.failure() : decoded.error_value();
        throw malformed_request("malformed " + std::string(find_api(r.api_key())->name) + " v" +
                                std::to_string(r.api_version()) + " request body: " + e.message);
    }
    return m;
}

// GCC 12 may destroy a temporary that lives across a co_await twice: never
// write `co_await f([captures] {...})` with a capturing lambda (or any other
// temporary with a destructor) in the expression; name it first:
//   auto read = [p, at] { return p->read(at, 1 << 20); };
//   auto entries = co_await on_pool(b.pool(), std::move(read));
//
// Runs the blocking callable `function` on the pool and resumes on the
// caller's shard with its result (any type, including result<T>, which has
// no default constructor).
template <typename F>
asio::awaitable<std::invoke_result_t<F&>> on_pool(blocking_pool& pool, F function) {
    using value_t = std::invoke_result_t<F&>;
    // A named local, not a temporary in the co_await expression (see
    // run_on in async.h).
    auto wrapper = [fn = std::move(function)]() mutable { return std::optional<value_t>(fn()); };
    auto operation = run_blocking(pool, std::move(wrapper));
    auto wrapped = co_await std::move(operation);
    co_return std::move(*wrapped);
}

template <typename Message>
response encode_response(const Message& m, int16_t version) {
    byte_vector out;
    byte_writer writer(out);
    m.encode(writer, version);
    response res;
    res.body.push_back(shared_buffer::adopt(std::move(out)));
    return res;
}

}  // namespace floe::kafka
