#include "kafka/server/server.h"

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <deque>
#include <exception>
#include <future>
#include <thread>
#include <unordered_map>

#include "base/log.h"
#include "base/thread_name.h"
#include "kafka/protocol/generated/api_registry.h"
#include "kafka/server/frame_assembler.h"
#include "kafka/server/request_parser.h"

namespace floe::kafka {

namespace {

constexpr std::string_view kComponent = "kafka.server";
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
using steady = std::chrono::steady_clock;

thread_local const server* t_server = nullptr;
thread_local size_t t_shard = 0;

// Wakes the one coroutine waiting in wait(). The waiter re-checks its
// condition after every wake-up, and all parties run on one shard, so a
// notify() with no waiter is simply not needed by anyone.
//
// Threading: owned by one shard.
class wake_event {
public:
    explicit wake_event(const asio::any_io_executor& executor)
        : _timer(executor, steady::time_point::max()) {}

    asio::awaitable<void> wait() {
        _timer.expires_at(steady::time_point::max());
        (void)co_await _timer.async_wait(use_tuple);
    }
    void notify() { _timer.cancel(); }

private:
    asio::steady_timer _timer;
};

std::string endpoint_text(const asio::ip::tcp::endpoint& endpoint) {
    auto address = endpoint.address();
    std::string host = address.to_string();
    if (address.is_v6()) {
        host = "[" + host + "]";
    }
    return host + ":" + std::to_string(endpoint.port());
}

std::string api_text(int16_t key, int16_t version) {
    const api_info* api = find_api(key);
    std::string name = api != nullptr ? std::string(api->name) : "api " + std::to_string(key);
    return name + " v" + std::to_string(version);
}

}  // namespace

class connection;

struct server::shard {
    explicit shard(size_t shard_index) : index(shard_index), context(1) {}

    size_t index;
    asio::io_context context;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
    std::thread thread;
    // The rest is touched only on this shard's thread.
    std::unique_ptr<asio::ip::tcp::acceptor> acceptor;  // shard 0 only
    std::unordered_map<uint64_t, std::shared_ptr<connection>> connections;
    bool stopping = false;
};

// One client connection. Owned by its shard (the shard's connection map and
// the connection's own coroutines hold it); every member runs on that shard.
class connection : public std::enable_shared_from_this<connection> {
public:
    connection(server& owner, server::shard& home, asio::ip::tcp::socket socket, uint64_t id,
               std::string peer)
        : _server(owner),
          _shard(home),
          _socket(std::move(socket)),
          _id(id),
          _peer(std::move(peer)),
          _assembler(owner._options.max_request_bytes),
          _reader_wake(_socket.get_executor()),
          _writer_wake(_socket.get_executor()),
          _idle_timer(_socket.get_executor()),
          _last_activity(steady::now()) {}

    void start() {
        auto self = shared_from_this();
        asio::co_spawn(_socket.get_executor(), read_loop(self), asio::detached);
        asio::co_spawn(_socket.get_executor(), write_loop(self), asio::detached);
        if (_server._options.idle_timeout.count() > 0) {
            asio::co_spawn(_socket.get_executor(), idle_loop(self), asio::detached);
        }
    }

    // Stops reading; requests in flight finish and their responses are
    // written, then the connection closes.
    void drain() {
        if (_closed || _draining) {
            return;
        }
        _draining = true;
        _read_cancel.emit(asio::cancellation_type::terminal);
        _reader_wake.notify();
        _writer_wake.notify();
    }

    // Closes at once (idempotent); `reason` is logged at `level`.
    void close(log::level level, std::string_view reason) {
        if (_closed) {
            return;
        }
        _closed = true;
        if (log::enabled(level)) {
            log::write(level, kComponent,
                       log::concat("closing connection ", _id, " from ", _peer, ": ", reason));
        }
        asio::error_code ignored;
        _socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        _socket.close(ignored);
        _idle_timer.cancel();
        _reader_wake.notify();
        _writer_wake.notify();
        _pipeline.clear();
        _server._open.fetch_sub(1, std::memory_order_acq_rel);
        _shard.connections.erase(_id);  // may drop the map's reference; coroutines hold others
    }

private:
    // A request started and not yet written, in request order.
    struct pending {
        int32_t correlation_id = 0;
        int16_t header_version = 0;  // of the response header
        bool done = false;
        response out;
    };

    void protocol_error(std::string_view reason) {
        _server._protocol_errors.fetch_add(1, std::memory_order_relaxed);
        close(log::level::warn, reason);
    }

    void touch() { _last_activity = steady::now(); }

    asio::awaitable<void> read_loop([[maybe_unused]] std::shared_ptr<connection> keep_alive) {
        // Tells the writer, however this coroutine ends. A closed connection
        // needs no telling (and its frame may be destroyed with a stopped
        // shard, when its timers must not be touched).
        struct done_reading {
            connection* c;
            ~done_reading() {
                c->_reading_done = true;
                if (!c->_closed) {
                    c->_writer_wake.notify();
                }
            }
        } guard{this};
        const size_t max_in_flight = _server._options.max_in_flight;
        // Reads that found data keep this coroutine running; after this many
        // in a row it yields, so one fast peer cannot hold the shard.
        constexpr int kReadsBeforeYield = 16;
        int reads_in_a_row = 0;
        // Bounded by the connection's life: every pass either hands out a
        // frame, waits, or receives bytes, and exits once closed or draining.
        for (;;) {
            if (_closed || _draining) {
                co_return;
            }
            if (_pipeline.size() >= max_in_flight) {
                co_await _reader_wake.wait();  // back-pressure: the writer frees slots
                reads_in_a_row = 0;
                continue;
            }
            auto frame = _assembler.next();
            if (!frame) {
                protocol_error(frame.error_value().message);
                co_return;
            }
            if (frame->has_value()) {
                start_request(std::move(**frame));
                continue;
            }
            // Reactor style: read what is there without waiting; when nothing
            // is, wait for readability holding no buffer if no frame is
            // partly received. The socket is edge-triggered underneath, so a
            // wait starts only after a read found the socket empty.
            auto space = _assembler.prepare();
            asio::error_code ec;
            size_t count = _socket.read_some(asio::buffer(space.data(), space.size()), ec);
            if (ec == asio::error::would_block || ec == asio::error::try_again) {
                if (_assembler.buffered() == 0) {
                    _assembler.release();
                }
                auto [wait_error] = co_await _socket.async_wait(
                    asio::ip::tcp::socket::wait_read,
                    asio::bind_cancellation_slot(_read_cancel.slot(), use_tuple));
                if (wait_error && wait_error != asio::error::operation_aborted) {
                    close(log::level::debug, "wait failed: " + wait_error.message());
                }
                if (wait_error) {
                    co_return;
                }
                reads_in_a_row = 0;
                continue;
            }
            if (ec) {
                if (ec == asio::error::eof) {
                    FLOE_LOG(debug, kComponent, "connection ", _id, " from ", _peer,
                             ": end of input");
                } else if (ec != asio::error::operation_aborted) {
                    close(log::level::debug, "read failed: " + ec.message());
                }
                co_return;  // the writer closes once in-flight responses are written
            }
            _assembler.commit(count);
            touch();
            if (++reads_in_a_row >= kReadsBeforeYield) {
                reads_in_a_row = 0;
                auto here = _socket.get_executor();  // no temporaries in co_await (GCC 12)
                co_await asio::post(here, asio::use_awaitable);
            }
        }
    }

    void start_request(shared_buffer frame) {
        auto parsed = parse_request_header(frame.span());
        if (!parsed) {
            protocol_error(parsed.error_value().message);
            return;
        }
        int16_t key = parsed->header.request_api_key;
        int16_t version = parsed->header.request_api_version;
        if (key != static_cast<int16_t>(api_key::api_versions) &&
            !_server._handler->accepts(key, version)) {
            protocol_error(api_text(key, version) + " is not supported");
            return;
        }
        uint64_t sequence = _front_sequence + _pipeline.size();
        pending& slot = _pipeline.emplace_back();
        slot.correlation_id = parsed->header.correlation_id;
        slot.header_version = response_header_version(key, version);
        request r;
        r.header = std::move(parsed->header);
        r.header_version = parsed->header_version;
        r.body = frame.span().subspan(parsed->body_offset);
        r.frame = std::move(frame);
        r.connection_id = _id;
        r.peer = _peer;
        r.shard = _shard.index;
        _server._requests.fetch_add(1, std::memory_order_relaxed);
        // The handler runs here (or, at the latest, before anything queued
        // after it on this shard) until its first suspension.
        asio::co_spawn(_socket.get_executor(),
                       run_request(shared_from_this(), sequence, std::move(r)), asio::detached);
    }

    asio::awaitable<void> run_request([[maybe_unused]] std::shared_ptr<connection> keep_alive,
                                      uint64_t sequence, request r) {
        response out;
        std::string failure;
        try {
            out = co_await _server._handler->handle(r);
        } catch (const std::exception& e) {
            failure = e.what();
        } catch (...) {
            failure = "unknown exception";
        }
        if (!failure.empty()) {
            FLOE_LOG(error, kComponent, "handler for ", api_text(r.api_key(), r.api_version()),
                     " failed: ", failure);
            out = response{};
            out.send = false;
            out.close_connection = true;
        }
        if (_closed || sequence < _front_sequence) {
            co_return;  // the connection is gone; nothing to write
        }
        pending& slot = _pipeline[sequence - _front_sequence];
        slot.out = std::move(out);
        slot.done = true;
        if (sequence == _front_sequence) {
            _writer_wake.notify();
        }
    }

    asio::awaitable<void> write_loop([[maybe_unused]] std::shared_ptr<connection> keep_alive) {
        byte_vector headers;
        std::vector<asio::const_buffer> buffers;
        std::vector<shared_buffer> segments;  // keep the bodies alive during the write
        for (;;) {
            if (_closed) {
                co_return;
            }
            if (_pipeline.empty() || !_pipeline.front().done) {
                if (_reading_done && _pipeline.empty()) {
                    close(log::level::debug, "done");
                    co_return;
                }
                co_await _writer_wake.wait();
                continue;
            }
            // Every finished response at the front goes into one write.
            size_t finished = 0;
            while (finished < _pipeline.size() && _pipeline[finished].done) {
                ++finished;
            }
            // Size prefix, correlation id and (v1) an empty tagged-field
            // section: at most 9 bytes each. Reserved up front so that
            // `headers` never moves once buffers point into it.
            constexpr size_t kMaxHeaderBytes = 9;
            headers.clear();
            headers.reserve(finished * kMaxHeaderBytes);
            buffers.clear();
            segments.clear();
            bool close_after = false;
            for (size_t i = 0; i < finished; ++i) {
                pending& p = _pipeline[i];
                if (p.out.send) {
                    size_t body_size = 0;
                    for (const auto& segment : p.out.body) {
                        body_size += segment.size();
                    }
                    size_t header_size = 4 + (p.header_version >= 1 ? 1 : 0);
                    if (header_size + body_size > static_cast<size_t>(INT32_MAX)) {
                        close(log::level::error, "response of " + std::to_string(body_size) +
                                                     " bytes is too large to frame");
                        co_return;
                    }
                    size_t start = headers.size();
                    byte_writer writer(headers);
                    writer.write_int32(static_cast<int32_t>(header_size + body_size));
                    writer.write_int32(p.correlation_id);
                    if (p.header_version >= 1) {
                        writer.write_uvarint(0);  // no tagged fields
                    }
                    buffers.emplace_back(headers.data() + start, headers.size() - start);
                    for (auto& segment : p.out.body) {
                        if (!segment.empty()) {
                            buffers.emplace_back(segment.data(), segment.size());
                            segments.push_back(std::move(segment));
                        }
                    }
                }
                if (p.out.close_connection) {
                    close_after = true;
                    finished = i + 1;  // later responses are never sent
                    break;
                }
            }
            if (!buffers.empty()) {
                auto [ec, written] = co_await asio::async_write(_socket, buffers, use_tuple);
                (void)written;
                if (ec) {
                    close(log::level::debug, "write failed: " + ec.message());
                    co_return;
                }
                if (_closed) {
                    co_return;
                }
            }
            for (size_t i = 0; i < finished; ++i) {
                _pipeline.pop_front();
            }
            _front_sequence += finished;
            touch();
            _reader_wake.notify();
            if (close_after) {
                close(log::level::debug, "closed by the request handler");
                co_return;
            }
        }
    }

    asio::awaitable<void> idle_loop([[maybe_unused]] std::shared_ptr<connection> keep_alive) {
        // Clamped so that adding it to a time point cannot overflow.
        const auto timeout = std::min<std::chrono::milliseconds>(
            _server._options.idle_timeout, std::chrono::hours(24 * 365 * 100));
        while (!_closed) {
            auto now = steady::now();
            auto deadline = _last_activity + timeout;
            if (now >= deadline && _pipeline.empty()) {
                close(log::level::info, "idle for " + std::to_string(timeout.count()) + " ms");
                co_return;
            }
            _idle_timer.expires_at(now >= deadline ? now + timeout : deadline);
            (void)co_await _idle_timer.async_wait(use_tuple);
        }
    }

    server& _server;
    server::shard& _shard;
    asio::ip::tcp::socket _socket;
    const uint64_t _id;
    const std::string _peer;
    frame_assembler _assembler;
    std::deque<pending> _pipeline;  // front is request number _front_sequence
    uint64_t _front_sequence = 0;
    wake_event _reader_wake;  // slots freed, or draining/closed
    wake_event _writer_wake;  // the front finished, or reading ended, or closed
    asio::steady_timer _idle_timer;
    asio::cancellation_signal _read_cancel;
    steady::time_point _last_activity;
    bool _draining = false;
    bool _reading_done = false;
    bool _closed = false;
};

// The acceptor and shard plumbing, with access to server's members.
struct server_internals {
    static asio::awaitable<void> accept_loop(server& s) {
        auto& acceptor = *s._shards[0]->acceptor;
        size_t next_shard = 0;
        uint64_t rejected_since_log = 0;
        steady::time_point last_reject_log{};
        asio::steady_timer backoff(acceptor.get_executor());
        while (acceptor.is_open()) {
            server::shard& target = *s._shards[next_shard];
            next_shard = (next_shard + 1) % s._shards.size();
            // A named executor: no temporaries in a co_await expression (GCC 12).
            asio::any_io_executor destination = target.context.get_executor();
            auto [ec, socket] = co_await acceptor.async_accept(destination, use_tuple);
            if (ec) {
                if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
                    co_return;
                }
                FLOE_LOG(warn, kComponent, "accept failed: ", ec.message());
                // Out of descriptors or memory: do not spin.
                backoff.expires_after(std::chrono::milliseconds(100));
                (void)co_await backoff.async_wait(use_tuple);
                continue;
            }
            if (s._open.load(std::memory_order_acquire) >= s._options.max_connections) {
                s._rejected.fetch_add(1, std::memory_order_relaxed);
                ++rejected_since_log;
                asio::error_code ignored;
                socket.close(ignored);
                auto now = steady::now();
                if (now - last_reject_log >= std::chrono::seconds(1)) {
                    FLOE_LOG(warn, kComponent, "rejected ", rejected_since_log,
                             " connection(s): at the limit of ", s._options.max_connections,
                             " open connections");
                    rejected_since_log = 0;
                    last_reject_log = now;
                }
                continue;
            }
            s._open.fetch_add(1, std::memory_order_acq_rel);
            s._accepted.fetch_add(1, std::memory_order_relaxed);
            asio::post(target.context, [&s, &target, socket = std::move(socket)]() mutable {
                adopt(s, target, std::move(socket));
            });
        }
    }

    // On the target shard: wraps an accepted socket in a connection.
    static void adopt(server& s, server::shard& home, asio::ip::tcp::socket socket) {
        asio::error_code ec;
        auto remote = socket.remote_endpoint(ec);
        std::string peer = ec ? std::string("unknown peer") : endpoint_text(remote);
        asio::error_code ignored;
        socket.set_option(asio::ip::tcp::no_delay(true), ignored);
        // read_loop's read_some() must report would_block, never block the shard.
        socket.non_blocking(true, ec);
        if (ec) {
            FLOE_LOG(warn, kComponent, "dropping connection from ", peer,
                     ": cannot make its socket non-blocking: ", ec.message());
            socket.close(ignored);
            s._open.fetch_sub(1, std::memory_order_acq_rel);
            return;
        }
        uint64_t id = s._next_connection_id.fetch_add(1, std::memory_order_relaxed);
        auto c = std::make_shared<connection>(s, home, std::move(socket), id, std::move(peer));
        home.connections.emplace(id, c);
        c->start();
        if (home.stopping) {
            c->drain();
        }
    }

    static void for_each_connection(server::shard& home, void (*action)(connection&)) {
        // close() erases from the map: iterate over a snapshot.
        std::vector<std::shared_ptr<connection>> all;
        all.reserve(home.connections.size());
        for (auto& [id, c] : home.connections) {
            all.push_back(c);
        }
        for (auto& c : all) {
            action(*c);
        }
    }
};

server::server(server_options options) : _options(std::move(options)) {
    size_t count = _options.shards;
    if (count == 0) {
        count = std::max<size_t>(1, std::thread::hardware_concurrency());
    }
    _shards.reserve(count);
    for (size_t i = 0; i < count; ++i) {
        _shards.push_back(std::make_unique<shard>(i));
    }
}

server::~server() {
    stop();
    // Connections first: their sockets belong to the shards' io_contexts.
    for (auto& s : _shards) {
        s->connections.clear();
        s->acceptor.reset();
    }
}

asio::io_context::executor_type server::shard_executor(size_t index) {
    if (index >= _shards.size()) {
        abort_with("server::shard_executor: no shard " + std::to_string(index));
    }
    return _shards[index]->context.get_executor();
}

std::optional<size_t> server::current_shard() {
    if (t_server == nullptr) {
        return std::nullopt;
    }
    return t_shard;
}

server_counters server::counters() const {
    server_counters out;
    out.connections_accepted = _accepted.load(std::memory_order_relaxed);
    out.connections_rejected = _rejected.load(std::memory_order_relaxed);
    out.connections_open = _open.load(std::memory_order_relaxed);
    out.requests = _requests.load(std::memory_order_relaxed);
    out.protocol_errors = _protocol_errors.load(std::memory_order_relaxed);
    return out;
}

status server::start(request_handler& handler) {
    std::lock_guard lock(_stop_mutex);
    if (_started || _stopped) {
        return error(errc::invalid_argument, "server::start: already started or stopped");
    }
    if (_options.max_in_flight == 0 || _options.max_request_bytes <= 0 ||
        _options.max_connections == 0 || _options.idle_timeout.count() < 0) {
        return error(errc::invalid_argument,
                     "server options: max_in_flight, max_request_bytes and max_connections "
                     "must be positive and idle_timeout not negative");
    }
    asio::error_code ec;
    auto address = asio::ip::make_address(_options.host, ec);
    if (ec) {
        return error(errc::invalid_argument,
                     "listen address '" + _options.host + "' is not an IP address");
    }
    asio::ip::tcp::endpoint endpoint(address, _options.port);
    auto acceptor = std::make_unique<asio::ip::tcp::acceptor>(_shards[0]->context);
    std::string where = endpoint_text(endpoint);
    acceptor->open(endpoint.protocol(), ec);
    if (!ec) {
        acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    }
    if (!ec) {
        acceptor->bind(endpoint, ec);
    }
    if (!ec) {
        acceptor->listen(asio::socket_base::max_listen_connections, ec);
    }
    if (ec) {
        return error(errc::io, "cannot listen on " + where + ": " + ec.message());
    }
    _bound_port.store(acceptor->local_endpoint(ec).port(), std::memory_order_release);
    _shards[0]->acceptor = std::move(acceptor);
    _handler = &handler;
    for (auto& s : _shards) {
        s->work.emplace(s->context.get_executor());
    }
    asio::co_spawn(_shards[0]->context, server_internals::accept_loop(*this), asio::detached);
    for (auto& s : _shards) {
        shard* self = s.get();
        s->thread = std::thread([this, self] {
            t_server = this;
            t_shard = self->index;
            set_thread_name("kafka-shard-" + std::to_string(self->index));
            // A completion handler that throws is a bug in Floe; log it and
            // keep serving the shard's other connections.
            for (;;) {
                try {
                    self->context.run();
                    break;
                } catch (const std::exception& e) {
                    FLOE_LOG(error, kComponent, "shard ", self->index, ": ", e.what());
                }
            }
            t_server = nullptr;
            _threads_exited.fetch_add(1, std::memory_order_acq_rel);
        });
    }
    _started = true;
    FLOE_LOG(info, kComponent, "listening on ", address.is_v6() ? "[" : "", _options.host,
             address.is_v6() ? "]" : "", ":", port(), " with ", _shards.size(), " shard(s)");
    return ok();
}

void server::stop() {
    std::lock_guard lock(_stop_mutex);
    if (_stopped) {
        return;
    }
    _stopped = true;
    if (!_started) {
        return;
    }
    if (t_server == this) {
        abort_with("server::stop called from one of its own shard threads");
    }
    const auto deadline = steady::now() + _options.stop_timeout;
    auto on_every_shard = [this](auto action) {
        for (auto& s : _shards) {
            asio::post(s->context, [sh = s.get(), action] { action(*sh); });
        }
    };

    // 1. Stop accepting (the acceptor belongs to shard 0).
    auto closed = std::make_shared<std::promise<void>>();
    auto closed_future = closed->get_future();
    asio::post(_shards[0]->context, [this, closed] {
        asio::error_code ignored;
        _shards[0]->acceptor->close(ignored);
        closed->set_value();
    });
    closed_future.wait_until(deadline);

    // 2. Stop reading; in-flight requests finish and are answered.
    on_every_shard([](shard& s) {
        s.stopping = true;
        server_internals::for_each_connection(s, [](connection& c) { c.drain(); });
    });
    // Bounded by the deadline.
    while (_open.load(std::memory_order_acquire) > 0 && steady::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    size_t still_open = _open.load(std::memory_order_acquire);

    // 3. Close what is left and let the shards run out of work.
    on_every_shard([](shard& s) {
        server_internals::for_each_connection(
            s, [](connection& c) { c.close(log::level::info, "server stopping"); });
        s.work.reset();
    });
    while (_threads_exited.load(std::memory_order_acquire) < _shards.size() &&
           steady::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (_threads_exited.load(std::memory_order_acquire) < _shards.size()) {
        FLOE_LOG(warn, kComponent, "stop timeout of ", _options.stop_timeout.count(),
                 " ms reached with ", still_open,
                 " connection(s) still busy; abandoning their requests");
        for (auto& s : _shards) {
            s->context.stop();
        }
    }
    for (auto& s : _shards) {
        if (s->thread.joinable()) {
            s->thread.join();
        }
    }
    // With the threads gone this thread owns the shards: close whatever the
    // deadline left open, so that no peer waits for ~server.
    for (auto& s : _shards) {
        server_internals::for_each_connection(
            *s, [](connection& c) { c.close(log::level::info, "server stopped"); });
    }
    FLOE_LOG(info, kComponent, "stopped");
}

}  // namespace floe::kafka
