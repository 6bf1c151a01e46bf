// server: Floe's Kafka listener. Accepts TCP connections, reads request
// frames, starts a request_handler coroutine per request and writes the
// responses back in request order (handler.h states the ordering contract).
//
// Threads: `shards` threads, each running one asio::io_context (a shard).
// The acceptor lives on shard 0 and hands each accepted socket to the next
// shard, round-robin; a connection then lives on that shard for its whole
// life: its reads, writes, handlers and timers all run there. Nothing here
// blocks a shard.
//
// Per connection:
//   - frames are assembled without trusting the size prefix (frame_assembler.h);
//   - up to max_in_flight requests run at once; while that many are started
//     and not yet written, the connection is not read (back-pressure);
//   - responses are written in request order, each as one gathered write of
//     size prefix + response header + the handler's body segments (several
//     finished responses may share one write);
//   - a malformed frame or header, an unknown api key or a request the
//     handler does not accept closes that connection only, with one log line
//     naming the peer and the reason;
//   - a connection with nothing in flight and no bytes received for
//     idle_timeout is closed;
//   - end of input from the peer stops reading; requests in flight finish,
//     their responses are written, then the connection closes.
//
// Stopping: stop() stops accepting, stops reading every connection, lets the
// requests in flight finish and their responses be written, closes the
// connections and joins the shard threads, all within stop_timeout; requests
// still running at that deadline are abandoned (their coroutine frames are
// destroyed by ~server). Storage that completes into shards (async.h) must
// be stopped before the server is destroyed.
//
// Threading: construct, start() and destroy from one owning thread.
// stop() may be called from any thread that is not a shard (for instance a
// thread waiting in sigwait(), or a test); concurrent and repeated calls are
// safe. shard_count(), shard_executor(), port() and counters() may be called
// from any thread after construction.
#pragma once

#include <asio/io_context.hpp>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "kafka/protocol/frame.h"
#include "kafka/server/handler.h"

namespace floe::kafka {

struct server_options {
    std::string host = "127.0.0.1";  // a literal IPv4 or IPv6 address
    uint16_t port = 9092;            // 0: any free port (see server::port())
    size_t shards = 0;               // 0: std::thread::hardware_concurrency()
    // Largest request frame accepted (Kafka's socket.request.max.bytes).
    int32_t max_request_bytes = default_max_frame_size;
    // Kafka's connections.max.idle.ms; zero: never close idle connections.
    std::chrono::milliseconds idle_timeout{600'000};
    // Requests of one connection started and not yet written (>= 1).
    size_t max_in_flight = 16;
    // Open connections across all shards; further connections are accepted
    // and closed at once (with a rate-limited log line).
    size_t max_connections = 10'000;
    // Upper bound on stop()'s duration.
    std::chrono::milliseconds stop_timeout{30'000};
};

// Monotonic counters (and the current number of open connections).
struct server_counters {
    uint64_t connections_accepted = 0;
    uint64_t connections_rejected = 0;  // over max_connections
    uint64_t connections_open = 0;
    uint64_t requests = 0;         // handed to the handler
    uint64_t protocol_errors = 0;  // connections closed for a malformed request
};

class server {
public:
    // Creates the shards' io_contexts (so shard_executor() works before
    // start()); starts no thread and binds nothing.
    explicit server(server_options options);
    // Calls stop().
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    // Binds host:port, starts the shard threads and accepts connections,
    // handing requests to `handler`, which must outlive the server. Errors:
    // errc::invalid_argument for a bad address or option, errc::io when the
    // address cannot be bound. Call at most once.
    status start(request_handler& handler);

    // See "Stopping" above. Returns once the shard threads have exited.
    void stop();

    // The bound port (useful with port 0); 0 before start().
    uint16_t port() const { return _bound_port.load(std::memory_order_acquire); }
    size_t shard_count() const { return _shards.size(); }
    // The executor of shard `shard` (< shard_count()): post or co_spawn work
    // there to run it on that shard's thread.
    asio::io_context::executor_type shard_executor(size_t shard);
    server_counters counters() const;

    // The shard whose thread is calling (of whichever server), or nullopt on
    // any other thread.
    static std::optional<size_t> current_shard();

    struct shard;  // internal (server.cc)

private:
    friend class connection;
    friend struct server_internals;

    server_options _options;
    std::vector<std::unique_ptr<shard>> _shards;
    request_handler* _handler = nullptr;
    std::atomic<uint16_t> _bound_port{0};
    std::mutex _stop_mutex;  // serialises stop(); guards _started and _stopped
    bool _started = false;
    bool _stopped = false;

    std::atomic<uint64_t> _next_connection_id{1};
    std::atomic<uint64_t> _accepted{0};
    std::atomic<uint64_t> _rejected{0};
    std::atomic<uint64_t> _open{0};
    std::atomic<uint64_t> _requests{0};
    std::atomic<uint64_t> _protocol_errors{0};
    std::atomic<size_t> _threads_exited{0};
};

}  // namespace floe::kafka
