// The server over real loopback sockets, with a scripted handler.
//
// A request body is a command for test_handler: op (1 byte), delay in ms
// (int32), then any payload. The handler waits `delay`, then answers with the
// whole request body (as two zero-copy slices of the request frame):
//   'e' echo      'n' no response (acks=0)   'c' echo, then close
//   'x' throw     'g' wait for the gate, then echo
//   'h' hop to the next shard and back (run_on), then echo
// Bodies that are not commands are echoed at once.
#include "kafka/server/server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

#include "base/log.h"
#include "kafka/protocol/generated/api_registry.h"
#include "kafka/server/async.h"
#include "kafka/server/tests/test_client.h"

namespace floe::kafka {
namespace {

using testing::test_client;
using namespace std::chrono_literals;

constexpr int16_t kProduce = 0;
constexpr int16_t kFetch = 1;  // not accepted by test_handler
constexpr int16_t kMetadata = 3;
constexpr int16_t kApiVersions = 18;

byte_vector command(char op, int32_t delay_ms, std::string_view payload = {}) {
    byte_vector out;
    out.reserve(5 + payload.size());
    byte_writer writer(out);
    writer.write_uint8(static_cast<uint8_t>(op));
    writer.write_int32(delay_ms);
    writer.write_bytes(payload);
    return out;
}

// Waits (polling) until `condition` holds or `limit` passes.
template <typename F>
bool eventually(F condition, std::chrono::milliseconds limit = 20s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!condition()) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(2ms);
    }
    return true;
}

// Sends log lines to a vector for the life of the object.
class log_capture {
public:
    explicit log_capture(log::level level) : _previous(log::current_level()) {
        log::set_level(level);
        log::set_sink([this](std::string_view line) {
            std::lock_guard lock(_mutex);
            _lines.emplace_back(line);
        });
    }
    ~log_capture() {
        log::set_sink({});
        log::set_level(_previous);
    }
    bool contains_all(std::initializer_list<std::string_view> parts) {
        std::lock_guard lock(_mutex);
        return std::any_of(_lines.begin(), _lines.end(), [&](const std::string& line) {
            return std::all_of(parts.begin(), parts.end(), [&](std::string_view part) {
                return line.find(part) != std::string::npos;
            });
        });
    }

private:
    log::level _previous;
    std::mutex _mutex;
    std::vector<std::string> _lines;  // guarded by _mutex
};

class test_handler final : public request_handler {
public:
    bool accepts(int16_t key, int16_t version) const override {
        return key != kFetch && request_header_version(key, version) >= 0;
    }

    asio::awaitable<response> handle(request& r) override {
        {
            std::lock_guard lock(_mutex);
            _started[r.connection_id].push_back(r.header.correlation_id);
            _versions[r.header.correlation_id] = r.api_version();
        }
        check_shard(r);
        int now_in_flight = ++_in_flight;
        int seen = _max_in_flight.load();
        while (now_in_flight > seen && !_max_in_flight.compare_exchange_weak(seen, now_in_flight)) {
        }
        struct leave {
            std::atomic<int>& count;
            ~leave() { --count; }
        } leaving{_in_flight};

        byte_reader reader(r.body);
        char op = static_cast<char>(reader.read_uint8());
        int32_t delay = reader.read_int32();
        if (!reader.ok() || fast) {
            op = 'e';
            delay = 0;
        }
        delay = std::clamp(delay, 0, 5000);
        if (op == 'x') {
            throw std::runtime_error("scripted failure");
        }
        if (delay > 0) {
            asio::steady_timer timer(co_await asio::this_coro::executor,
                                     std::chrono::milliseconds(delay));
            co_await timer.async_wait(asio::use_awaitable);
        }
        if (op == 'h') {
            size_t next = (r.shard + 1) % hop_server->shard_count();
            auto there = co_await run_on(hop_server->shard_executor(next),
                                         [] { return server::current_shard(); });
            if (there != std::optional<size_t>(next)) {
                ++wrong_thread;
            }
        }
        if (op == 'g') {
            status passed = co_await await_callback<status>([this](completion<status> done) {
                std::lock_guard lock(_mutex);
                if (_gate_open) {
                    done(ok());
                } else {
                    _gate.push_back(std::move(done));
                }
            });
            EXPECT_TRUE(passed.has_value());
        }
        check_shard(r);
        {
            std::lock_guard lock(_mutex);
            _completed[r.connection_id].push_back(r.header.correlation_id);
        }
        response out;
        out.send = op != 'n';
        out.close_connection = op == 'c';
        size_t offset = static_cast<size_t>(r.body.data() - r.frame.data());
        size_t first = std::min<size_t>(1, r.body.size());
        out.body.push_back(r.frame.slice(offset, first));
        out.body.push_back(r.frame.slice(offset + first, r.body.size() - first));
        co_return out;
    }

    void open_gate() {
        std::vector<completion<status>> waiting;
        {
            std::lock_guard lock(_mutex);
            _gate_open = true;
            waiting.swap(_gate);
        }
        for (auto& done : waiting) {
            done(ok());
        }
    }

    std::vector<int32_t> started(uint64_t connection) {
        std::lock_guard lock(_mutex);
        return _started[connection];
    }
    std::vector<int32_t> completed(uint64_t connection) {
        std::lock_guard lock(_mutex);
        return _completed[connection];
    }
    std::map<uint64_t, std::vector<int32_t>> all_started() {
        std::lock_guard lock(_mutex);
        return _started;
    }
    size_t started_count() {
        std::lock_guard lock(_mutex);
        size_t n = 0;
        for (auto& [c, ids] : _started) {
            n += ids.size();
        }
        return n;
    }
    int16_t version_of(int32_t correlation_id) {
        std::lock_guard lock(_mutex);
        return _versions[correlation_id];
    }

    std::atomic<int> _in_flight{0};
    std::atomic<int> _max_in_flight{0};
    std::atomic<int> wrong_thread{0};
    bool fast = false;             // set before start(): echo everything at once
    server* hop_server = nullptr;  // for 'h'

private:
    void check_shard(const request& r) {
        if (server::current_shard() != std::optional<size_t>(r.shard)) {
            ++wrong_thread;
        }
    }

    std::mutex _mutex;
    std::map<uint64_t, std::vector<int32_t>> _started;    // guarded by _mutex
    std::map<uint64_t, std::vector<int32_t>> _completed;  // guarded by _mutex
    std::map<int32_t, int16_t> _versions;                 // guarded by _mutex
    std::vector<completion<status>> _gate;                // guarded by _mutex
    bool _gate_open = false;                              // guarded by _mutex
};

class ServerTest : public ::testing::Test {
protected:
    void start(server_options options = {}) {
        options.host = "127.0.0.1";
        options.port = 0;
        if (options.shards == 0) {
            options.shards = 2;
        }
        _server = std::make_unique<server>(options);
        _handler.hop_server = _server.get();
        auto started = _server->start(_handler);
        ASSERT_TRUE(started.has_value()) << started.error_value().to_string();
    }

    void TearDown() override {
        if (_server) {
            _handler.open_gate();
            _server->stop();
            _server.reset();
        }
        EXPECT_EQ(_handler.wrong_thread.load(), 0) << "a handler ran off its shard";
    }

    std::unique_ptr<test_client> connect() {
        auto c = test_client::connect(_server->port());
        EXPECT_NE(c, nullptr) << "connect: " << std::strerror(errno);
        return c;
    }

    // One echo round trip on `c`.
    static void expect_echo(test_client& c, int32_t correlation_id) {
        auto body = command('e', 0, "ping");
        ASSERT_TRUE(c.send_request(kMetadata, 1, correlation_id, body));
        auto reply = c.read_response(0);
        ASSERT_TRUE(reply.has_value());
        EXPECT_EQ(reply->correlation_id, correlation_id);
        EXPECT_EQ(reply->body, body);
    }

    test_handler _handler;  // outlives the server
    std::unique_ptr<server> _server;
};

TEST_F(ServerTest, PipelinedResponsesArriveInRequestOrder) {
    start({.max_in_flight = 16});
    auto c = connect();
    ASSERT_NE(c, nullptr);
    constexpr int kRequests = 160;
    byte_vector all;
    std::vector<byte_vector> bodies;
    for (int i = 0; i < kRequests; ++i) {
        // Within each window of 16, later requests finish first.
        bodies.push_back(command('e', 15 - i % 16, "payload-" + std::to_string(i)));
        auto frame = test_client::frame_request(kMetadata, 1, 1000 + i, bodies.back());
        all.insert(all.end(), frame.begin(), frame.end());
    }
    ASSERT_TRUE(c->send_bytes(all));
    for (int i = 0; i < kRequests; ++i) {
        auto reply = c->read_response(0);
        ASSERT_TRUE(reply.has_value()) << "response " << i;
        ASSERT_EQ(reply->correlation_id, 1000 + i);
        ASSERT_EQ(reply->body, bodies[i]);
    }
    auto started = _handler.all_started();
    ASSERT_EQ(started.size(), 1u);
    auto& order = started.begin()->second;
    std::vector<int32_t> expected(kRequests);
    for (int i = 0; i < kRequests; ++i) {
        expected[i] = 1000 + i;
    }
    EXPECT_EQ(order, expected) << "handlers started out of arrival order";
    auto completed = _handler.completed(started.begin()->first);
    EXPECT_NE(completed, expected) << "handlers should have finished out of order";
    EXPECT_GT(_handler._max_in_flight.load(), 1);
    EXPECT_LE(_handler._max_in_flight.load(), 16);
}

TEST_F(ServerTest, ResponseHeaderVersionFollowsTheRequest) {
    start();
    auto c = connect();
    ASSERT_NE(c, nullptr);
    auto body = command('e', 0, "flexible");
    // Metadata v12 is flexible: response header v1 (tagged fields).
    ASSERT_TRUE(c->send_request(kMetadata, 12, 7, body));
    auto flexible = c->read_response(1);
    ASSERT_TRUE(flexible.has_value());
    EXPECT_EQ(flexible->correlation_id, 7);
    EXPECT_EQ(flexible->body, body);
    // ApiVersions v3 is flexible too, but its response header is always v0.
    ASSERT_TRUE(c->send_request(kApiVersions, 3, 8, body));
    auto api_versions = c->read_response(0);
    ASSERT_TRUE(api_versions.has_value());
    EXPECT_EQ(api_versions->correlation_id, 8);
    EXPECT_EQ(api_versions->body, body);
}

TEST_F(ServerTest, ApiVersionsAboveTheKnownMaximumReachesTheHandler) {
    start();
    auto c = connect();
    ASSERT_NE(c, nullptr);
    auto body = command('e', 0);
    ASSERT_TRUE(c->send_request(kApiVersions, 99, 5, body, /*header_version=*/2));
    auto reply = c->read_response(0);
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->correlation_id, 5);
    EXPECT_EQ(_handler.version_of(5), 99);
}

TEST_F(ServerTest, FrameArrivingInPiecesIsAssembled) {
    start();
    auto c = connect();
    ASSERT_NE(c, nullptr);
    auto body = command('e', 0, std::string(5000, 'z'));
    auto frame = test_client::frame_request(kMetadata, 1, 3, body);
    size_t cuts[] = {0, 2, 5, 13, 4000, frame.size()};
    for (size_t i = 0; i + 1 < std::size(cuts); ++i) {
        ASSERT_TRUE(c->send_bytes(byte_span(frame).subspan(cuts[i], cuts[i + 1] - cuts[i])));
        std::this_thread::sleep_for(5ms);
    }
    auto reply = c->read_response(0);
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->body, body);
}

TEST_F(ServerTest, LargeFrameIsEchoedIntact) {
    start();
    auto c = connect();
    ASSERT_NE(c, nullptr);
    std::string payload(3 << 20, '\0');
    std::mt19937 random(7);
    for (auto& ch : payload) {
        ch = static_cast<char>(random());
    }
    auto body = command('e', 0, payload);
    ASSERT_TRUE(c->send_request(kProduce, 9, 11, body));
    auto reply = c->read_response(1);  // Produce v9 is flexible
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->correlation_id, 11);
    EXPECT_TRUE(reply->body == body);
}

TEST_F(ServerTest, HandlersReachOtherShardsAndResumeOnTheirOwn) {
    start({.shards = 3});
    std::vector<std::unique_ptr<test_client>> clients;
    for (int i = 0; i < 6; ++i) {  // two connections per shard
        clients.push_back(connect());
        ASSERT_NE(clients.back(), nullptr);
        for (int32_t id = 0; id < 20; ++id) {
            ASSERT_TRUE(clients.back()->send_request(kMetadata, 1, id, command('h', 0)));
        }
    }
    for (auto& c : clients) {
        for (int32_t id = 0; id < 20; ++id) {
            auto reply = c->read_response(0);
            ASSERT_TRUE(reply.has_value());
            EXPECT_EQ(reply->correlation_id, id);
        }
    }
    // TearDown checks that no handler ran or resumed off its shard.
}

TEST_F(ServerTest, StartReportsBadAddressesAndTakenPorts) {
    start();
    server_options taken;
    taken.port = _server->port();
    taken.shards = 1;
    server second(taken);
    auto failed = second.start(_handler);
    ASSERT_FALSE(failed.has_value());
    EXPECT_EQ(failed.error_value().code, errc::io);
    server_options named;
    named.host = "localhost";
    named.shards = 1;
    server third(named);
    auto bad = third.start(_handler);
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error_value().code, errc::invalid_argument);
}

TEST_F(ServerTest, TwoThousandSimultaneousConnectionsAreAllAnswered) {
    constexpr size_t kConnections = 2000;
    // Both ends of every connection live in this process.
    if (!testing::raise_open_file_limit(2 * kConnections + 256)) {
        GTEST_SKIP() << "RLIMIT_NOFILE cannot be raised to " << 2 * kConnections + 256;
    }
    start();
    std::vector<std::unique_ptr<test_client>> clients;
    clients.reserve(kConnections);
    for (size_t i = 0; i < kConnections; ++i) {
        auto c = test_client::connect(_server->port());
        ASSERT_NE(c, nullptr) << "connection " << i << ": " << std::strerror(errno);
        clients.push_back(std::move(c));
    }
    for (size_t i = 0; i < kConnections; ++i) {
        auto body = command('e', static_cast<int32_t>(i % 5), std::to_string(i));
        ASSERT_TRUE(clients[i]->send_request(kMetadata, 1, static_cast<int32_t>(i), body));
    }
    for (size_t i = 0; i < kConnections; ++i) {
        auto reply = clients[i]->read_response(0);
        ASSERT_TRUE(reply.has_value()) << "connection " << i;
        ASSERT_EQ(reply->correlation_id, static_cast<int32_t>(i));
    }
    EXPECT_EQ(_server->counters().connections_open, kConnections);
    EXPECT_EQ(_server->counters().connections_accepted, kConnections);
}

struct bad_input {
    const char* name;
    byte_vector bytes;
    const char* reason;  // part of the expected log line
};

std::vector<bad_input> bad_inputs() {
    std::vector<bad_input> out;
    auto prefix = [](int32_t size, size_t extra) {
        byte_vector bytes;
        byte_writer writer(bytes);
        writer.write_int32(size);
        bytes.resize(bytes.size() + extra, 0x41);
        return bytes;
    };
    out.push_back({"oversized frame", prefix(2 << 20, 100), "exceeds the limit"});
    out.push_back({"negative size", prefix(-16, 16), "negative frame size"});
    out.push_back({"truncated header", prefix(3, 3), "too short for a request header"});
    {
        // Metadata v1 header whose client id claims 100 bytes and has 2.
        byte_vector bytes;
        byte_writer writer(bytes);
        writer.write_int32(12);
        writer.write_int16(kMetadata);
        writer.write_int16(1);
        writer.write_int32(9);
        writer.write_int16(100);
        writer.write_int16(0x4142);
        out.push_back({"truncated client id", bytes, "request header v1"});
    }
    out.push_back({"unknown api key", test_client::frame_request(0, 0, 1, command('e', 0), 1), ""});
    // Patch the key of a well-formed frame to 999.
    out.back().bytes[4] = 0x03;
    out.back().bytes[5] = 0xE7;
    out.back().reason = "unknown api key 999";
    out.push_back({"api not accepted by the handler",
                   test_client::frame_request(kFetch, 4, 1, command('e', 0)), "Fetch v4"});
    out.push_back({"unknown version", test_client::frame_request(kMetadata, 999, 1, {}, 2),
                   "Metadata version 999"});
    out.push_back({"negative ApiVersions version",
                   test_client::frame_request(kApiVersions, -1, 1, {}, 1),
                   "ApiVersions version -1"});
    return out;
}

TEST_F(ServerTest, MalformedInputClosesOnlyThatConnection) {
    start({.max_request_bytes = 1 << 20});
    log_capture capture(log::level::warn);
    auto good = connect();
    ASSERT_NE(good, nullptr);
    expect_echo(*good, 1);
    uint64_t errors = 0;
    for (const auto& input : bad_inputs()) {
        SCOPED_TRACE(input.name);
        auto bad = connect();
        ASSERT_NE(bad, nullptr);
        ASSERT_TRUE(bad->send_bytes(input.bytes));
        EXPECT_TRUE(bad->wait_closed());
        ++errors;
        EXPECT_TRUE(eventually([&] { return _server->counters().protocol_errors == errors; }));
        expect_echo(*good, 2);
        auto fresh = connect();
        ASSERT_NE(fresh, nullptr);
        expect_echo(*fresh, 3);
        EXPECT_TRUE(capture.contains_all(
            {"WARN  kafka.server: closing connection", " from 127.0.0.1:", input.reason}))
            << "no log line naming the peer and '" << input.reason << "'";
    }
}

TEST_F(ServerTest, IdleConnectionIsClosed) {
    start({.idle_timeout = 200ms});
    auto idle = connect();
    ASSERT_NE(idle, nullptr);
    EXPECT_TRUE(idle->wait_closed());
    EXPECT_TRUE(eventually([&] { return _server->counters().connections_open == 0; }));
}

TEST_F(ServerTest, RequestSlowerThanTheIdleTimeoutIsNotIdle) {
    start({.idle_timeout = 100ms});
    auto c = connect();
    ASSERT_NE(c, nullptr);
    auto body = command('e', 600);
    ASSERT_TRUE(c->send_request(kMetadata, 1, 4, body));
    auto reply = c->read_response(0);
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->correlation_id, 4);
}

TEST_F(ServerTest, StopFinishesAnInFlightRequestAndDeliversItsResponse) {
    start();
    auto c = connect();
    ASSERT_NE(c, nullptr);
    auto body = command('e', 500, "slow");
    ASSERT_TRUE(c->send_request(kMetadata, 1, 21, body));
    ASSERT_TRUE(eventually([&] { return _handler._in_flight.load() == 1; }));
    std::thread stopper([&] { _server->stop(); });
    auto reply = c->read_response(0);
    stopper.join();
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->correlation_id, 21);
    EXPECT_EQ(reply->body, body);
    EXPECT_TRUE(c->wait_closed());
    EXPECT_EQ(test_client::connect(_server->port()), nullptr) << "still accepting after stop()";
}

TEST_F(ServerTest, StopIsBoundedWhenARequestNeverFinishes) {
    start({.stop_timeout = 300ms});
    auto c = connect();
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->send_request(kMetadata, 1, 1, command('g', 0)));
    ASSERT_TRUE(eventually([&] { return _handler._in_flight.load() == 1; }));
    auto before = std::chrono::steady_clock::now();
    _server->stop();
    EXPECT_LT(std::chrono::steady_clock::now() - before, 20s);
    EXPECT_TRUE(c->wait_closed());
    // The gate opens only now (TearDown), into a stopped shard: nothing runs.
}

TEST_F(ServerTest, EndOfInputStillDeliversInFlightResponses) {
    start();
    auto c = connect();
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->send_request(kMetadata, 1, 1, command('e', 200)));
    ASSERT_TRUE(c->send_request(kMetadata, 1, 2, command('e', 0)));
    ::shutdown(c->fd(), SHUT_WR);
    for (int32_t id : {1, 2}) {
        auto reply = c->read_response(0);
        ASSERT_TRUE(reply.has_value());
        EXPECT_EQ(reply->correlation_id, id);
    }
    EXPECT_TRUE(c->wait_closed());
}

TEST_F(ServerTest, NoResponseRequestsKeepTheOrderOfTheRest) {
    start();
    auto c = connect();
    ASSERT_NE(c, nullptr);
    const char ops[] = {'e', 'n', 'n', 'e', 'n', 'e', 'e', 'n', 'e', 'n'};
    const int32_t delays[] = {30, 0, 10, 0, 25, 5, 0, 15, 1, 0};
    byte_vector all;
    std::vector<int32_t> answered;
    for (int i = 0; i < 10; ++i) {
        auto frame = test_client::frame_request(kProduce, 3, 100 + i, command(ops[i], delays[i]));
        all.insert(all.end(), frame.begin(), frame.end());
        if (ops[i] == 'e') {
            answered.push_back(100 + i);
        }
    }
    ASSERT_TRUE(c->send_bytes(all));
    for (int32_t id : answered) {
        auto reply = c->read_response(0);
        ASSERT_TRUE(reply.has_value());
        EXPECT_EQ(reply->correlation_id, id);
    }
    expect_echo(*c, 500);  // and nothing stray in between
}

TEST_F(ServerTest, BackPressureLimitsRequestsInFlight) {
    start({.max_in_flight = 2});
    auto c = connect();
    ASSERT_NE(c, nullptr);
    byte_vector all;
    for (int i = 0; i < 6; ++i) {
        auto frame = test_client::frame_request(kMetadata, 1, i, command('g', 0));
        all.insert(all.end(), frame.begin(), frame.end());
    }
    ASSERT_TRUE(c->send_bytes(all));
    ASSERT_TRUE(eventually([&] { return _handler.started_count() == 2; }));
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(_handler.started_count(), 2u) << "more than max_in_flight requests were started";
    _handler.open_gate();
    for (int i = 0; i < 6; ++i) {
        auto reply = c->read_response(0);
        ASSERT_TRUE(reply.has_value());
        EXPECT_EQ(reply->correlation_id, i);
    }
    EXPECT_EQ(_handler._max_in_flight.load(), 2);
}

TEST_F(ServerTest, HandlerExceptionClosesTheConnectionAfterEarlierResponses) {
    start();
    auto c = connect();
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->send_request(kMetadata, 1, 1, command('e', 50)));
    ASSERT_TRUE(c->send_request(kMetadata, 1, 2, command('x', 0)));
    auto first = c->read_response(0);
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->correlation_id, 1);
    EXPECT_TRUE(c->wait_closed());
    auto other = connect();
    ASSERT_NE(other, nullptr);
    expect_echo(*other, 3);
}

TEST_F(ServerTest, HandlerCanCloseTheConnectionAfterItsResponse) {
    start();
    auto c = connect();
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->send_request(kMetadata, 1, 1, command('c', 0)));
    auto reply = c->read_response(0);
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->correlation_id, 1);
    EXPECT_TRUE(c->wait_closed());
}

TEST_F(ServerTest, ConnectionsBeyondTheLimitAreRefused) {
    start({.max_connections = 3});
    std::vector<std::unique_ptr<test_client>> clients;
    for (int i = 0; i < 3; ++i) {
        clients.push_back(connect());
        ASSERT_NE(clients.back(), nullptr);
        expect_echo(*clients.back(), i);
    }
    auto extra = connect();
    ASSERT_NE(extra, nullptr);  // the kernel completes the handshake
    EXPECT_TRUE(extra->wait_closed());
    EXPECT_GE(_server->counters().connections_rejected, 1u);
    clients.pop_back();
    ASSERT_TRUE(eventually([&] { return _server->counters().connections_open == 2; }));
    auto again = connect();
    ASSERT_NE(again, nullptr);
    expect_echo(*again, 9);
}

TEST_F(ServerTest, RandomBytesOnManyConnectionsNeverHurtTheServer) {
    _handler.fast = true;
    start({.max_request_bytes = 64 << 10});
    log_capture quiet(log::level::error);
    uint32_t seed = std::random_device{}();
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 random(seed);
    auto good = connect();
    ASSERT_NE(good, nullptr);
    for (int round = 0; round < 4; ++round) {
        std::vector<std::unique_ptr<test_client>> clients;
        for (int i = 0; i < 50; ++i) {
            auto c = test_client::connect(_server->port(), 2s);
            ASSERT_NE(c, nullptr);
            byte_vector bytes;
            switch (random() % 3) {
                case 0: {  // pure noise
                    bytes.resize(random() % 3000);
                    for (auto& b : bytes) {
                        b = static_cast<uint8_t>(random());
                    }
                    break;
                }
                case 1: {  // a valid request with noise flipped into it
                    byte_vector body(random() % 200);
                    bytes = test_client::frame_request(static_cast<int16_t>(random() % 20),
                                                       static_cast<int16_t>(random() % 10), 1, body,
                                                       static_cast<int16_t>(random() % 3));
                    for (int flips = 0; flips < 3 && !bytes.empty(); ++flips) {
                        bytes[random() % bytes.size()] ^=
                            static_cast<uint8_t>(1u << (random() % 8));
                    }
                    break;
                }
                default: {  // a plausible frame size followed by noise
                    byte_writer writer(bytes);
                    size_t size = random() % 400;
                    writer.write_int32(static_cast<int32_t>(size));
                    for (size_t k = 0; k < size; ++k) {
                        writer.write_uint8(static_cast<uint8_t>(random()));
                    }
                    break;
                }
            }
            (void)c->send_bytes(bytes);
            clients.push_back(std::move(c));
        }
        // End of input makes the server finish with each connection, so every
        // byte above has been looked at once all of them are closed.
        for (auto& c : clients) {
            ::shutdown(c->fd(), SHUT_WR);
        }
        for (auto& c : clients) {
            EXPECT_TRUE(c->wait_closed());
        }
        expect_echo(*good, round);
    }
    EXPECT_TRUE(eventually([&] { return _server->counters().connections_open == 1; }));
    auto fresh = connect();
    ASSERT_NE(fresh, nullptr);
    expect_echo(*fresh, 99);
}

}  // namespace
}  // namespace floe::kafka
