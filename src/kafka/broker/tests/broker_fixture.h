// Test support: a real single-node broker in the test process, serving Kafka
// on a loopback port, and a blocking client that speaks the protocol with the
// generated codecs.
//
//   class ListOffsetsTest : public floe::kafka::testing::BrokerTest {};
//   TEST_F(ListOffsetsTest, Latest) {
//       create_topic("t", 2);
//       append("t", 0, {.values = {"a", "b"}});
//       auto client = connect();
//       list_offsets_request req;  ...
//       auto res = client->call<list_offsets_response>(req, 7);
//       ASSERT_TRUE(res);
//   }
//
// The harness owns, under one temp directory: an embedded metadata store, a
// local object store, a WAL file (wal_capacity bytes), the stream store, the
// topic registry, the blocking pool, the broker and the server. Data written
// through append() goes straight to a partition (no Produce request), so tests
// of other APIs do not depend on the produce path.
//
// restart() stops everything but keeps the directory and starts a new broker
// on it, as a process restart would (tests of state rebuilt at start).
//
// The server's port is taken with free_loopback_port() before the broker is
// built (the broker advertises it); when another process takes the port
// first, start() tries another, a few times.
//
// Every client receive waits at most the client's timeout (30 s by default),
// so a server bug fails the test instead of hanging it.
//
// Threading: one harness per test, used from the test's thread; a client is
// used by one thread.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/testing/loopback.h"
#include "cluster/topic_registry.h"
#include "kafka/broker/broker.h"
#include "kafka/protocol/generated/api_registry.h"
#include "kafka/protocol/generated/api_versions_request.h"
#include "kafka/protocol/generated/api_versions_response.h"
#include "kafka/protocol/record_batch.h"
#include "kafka/server/async.h"
#include "kafka/server/server.h"
#include "kafka/server/tests/test_client.h"
#include "metadata/embedded_store.h"
#include "objstore/local_store.h"
#include "stream/stream_store.h"
#include "wal/file.h"
#include "wal/wal_format.h"

namespace floe::kafka::testing {

// A connection speaking Kafka requests encoded with the generated codecs.
class kafka_client {
public:
    explicit kafka_client(std::unique_ptr<test_client> connection)
        : _connection(std::move(connection)) {}

    // Sends `request` (a generated *_request struct) at `version`, framed
    // with the request header version the API needs. False when the peer is
    // gone.
    template <typename Request>
    bool send(const Request& request, int16_t version) {
        byte_vector body;
        byte_writer writer(body);
        request.encode(writer, version);
        _last_correlation_id = _next_correlation_id++;
        return _connection->send_request(Request::api_key, version, _last_correlation_id, body);
    }

    // Reads the response to the last request sent and decodes it as
    // `Response` at `version`. nullopt (with a test failure) when the
    // connection closed, the correlation id differs or the body does not
    // decode exactly.
    template <typename Response>
    std::optional<Response> receive(int16_t version) {
        auto got = _connection->read_response(Response::header_version(version));
        if (!got) {
            ADD_FAILURE() << "no response (connection closed or timed out)";
            return std::nullopt;
        }
        if (got->correlation_id != _last_correlation_id) {
            ADD_FAILURE() << "correlation id " << got->correlation_id << ", expected "
                          << _last_correlation_id;
            return std::nullopt;
        }
        Response out;
        byte_reader reader(got->body);
        status decoded = out.decode(reader, version);
        if (!decoded || !reader.ok() || !reader.at_end()) {
            ADD_FAILURE() << "response does not decode at version " << version << ": "
                          << (decoded ? reader.failure().message : decoded.error_value().message)
                          << " (" << reader.remaining() << " bytes left)";
            return std::nullopt;
        }
        return out;
    }

    // send() then receive().
    template <typename Response, typename Request>
    std::optional<Response> call(const Request& request, int16_t version) {
        if (!send(request, version)) {
            ADD_FAILURE() << "send failed";
            return std::nullopt;
        }
        return receive<Response>(version);
    }

    // A request with a hand-made body (header_version -1: the one the API and
    // version need). For malformed-input tests.
    bool send_raw(int16_t api_key, int16_t version, byte_span body, int16_t header_version = -1) {
        _last_correlation_id = _next_correlation_id++;
        return _connection->send_request(api_key, version, _last_correlation_id, body,
                                         header_version);
    }
    // Bytes as they are (no framing).
    bool send_bytes(byte_span bytes) { return _connection->send_bytes(bytes); }

    // True when a response to the last request arrives (its body is not
    // decoded), for requests the broker answers whatever follows their body.
    bool answered(int16_t api_key, int16_t version) {
        const api_info* api = find_api(api_key);
        const bool flexible = api != nullptr && version >= api->flexible_min_version;
        // ApiVersions answers with response header v0 at every version.
        const int16_t header = flexible && api_key != 18 ? 1 : 0;
        auto got = _connection->read_response(header);
        return got && got->correlation_id == _last_correlation_id;
    }

    // True when the server closed the connection within the timeout.
    bool closed() { return _connection->wait_closed(); }

    test_client& connection() { return *_connection; }

private:
    std::unique_ptr<test_client> _connection;
    int32_t _next_correlation_id = 1;
    int32_t _last_correlation_id = 0;
};

// What append() writes: one batch of `values` (null keys), CreateTime
// timestamps first_timestamp, first_timestamp + timestamp_step, ...
struct batch_spec {
    std::vector<std::string> values;
    int64_t first_timestamp = 1000;
    int64_t timestamp_step = 1;
    int64_t producer_id = no_producer_id;
    int16_t producer_epoch = no_producer_epoch;
    int32_t base_sequence = no_sequence;
    compression_codec codec = compression_codec::none;
};

struct harness_options {
    // node_id, auto_create_topics, default_partitions, topic_defaults... are
    // used as given; advertised_host/port and log_dir are set by the harness.
    broker_options broker;
    uint64_t wal_capacity = 64 << 20;
    size_t shards = 2;
    size_t pool_threads = 2;
};

class broker_harness {
public:
    explicit broker_harness(harness_options options = {}) : _options(std::move(options)) {}
    ~broker_harness() { stop(); }
    broker_harness(const broker_harness&) = delete;
    broker_harness& operator=(const broker_harness&) = delete;

    // Builds everything and starts serving. Call once.
    status start() {
        std::string templ =
            (std::filesystem::temp_directory_path() / "floe-broker-XXXXXX").string();
        if (::mkdtemp(templ.data()) == nullptr) {
            return error(errc::io, "mkdtemp failed");
        }
        _dir = templ;
        return open();
    }

    // Stops everything as stop() does but keeps the directory, then starts a
    // new broker on it (the same metadata, objects and WAL): what a process
    // restart does. The port changes; connect again afterwards.
    status restart() {
        shut_down();
        ++_restarts;
        return open();
    }

    // Stops serving and releases everything (also done by the destructor).
    void stop() {
        shut_down();
        if (!_dir.empty()) {
            std::error_code ec;
            std::filesystem::remove_all(_dir, ec);
            _dir.clear();
        }
    }

    uint16_t port() const { return _server ? _server->port() : 0; }
    broker& node() { return *_broker; }
    stream::stream_store& store() { return *_store; }
    cluster::topic_registry& registry() { return *_registry; }
    metadata::store& metadata() { return *_metadata; }
    server& listener() { return *_server; }
    const std::filesystem::path& dir() const { return _dir; }

    // A new connection; nullptr (with a test failure) when it cannot connect.
    std::unique_ptr<kafka_client> connect(
        std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
        auto c = test_client::connect(port(), timeout);
        if (!c) {
            ADD_FAILURE() << "cannot connect to 127.0.0.1:" << port();
            return nullptr;
        }
        return std::make_unique<kafka_client>(std::move(c));
    }

    // True when a new connection gets an answer to ApiVersions (v3): the
    // server still serves after whatever a test did to other connections.
    bool serving() {
        auto client = connect();
        if (!client) {
            return false;
        }
        api_versions_request request;
        request.client_software_name = "floe-test";
        request.client_software_version = "1";
        auto answer = client->call<api_versions_response>(request, 3);
        return answer.has_value() && answer->error_code == 0 && !answer->api_keys.empty();
    }

    // Creates a topic directly through the broker (no request).
    result<cluster::topic_info> create_topic(const std::string& name, int32_t partitions = 1,
                                             std::map<std::string, std::string> configs = {}) {
        return _broker->create_topic(name, partitions, std::move(configs));
    }

    // Appends one batch to a partition and waits until it is durable.
    // Returns the outcome (base_offset, or an error code).
    produce_outcome append(const std::string& topic, int32_t index, const batch_spec& spec) {
        produce_outcome failed;
        failed.error = error_code::unknown_server_error;
        auto part = _broker->find_partition(topic, index);
        if (!part) {
            failed.error = error_code::unknown_topic_or_partition;
            return failed;
        }
        record_batch_builder::options bo;
        bo.codec = spec.codec;
        bo.producer_id = spec.producer_id;
        bo.producer_epoch = spec.producer_epoch;
        bo.base_sequence = spec.base_sequence;
        record_batch_builder builder(bo);
        int64_t timestamp = spec.first_timestamp;
        for (const auto& value : spec.values) {
            builder.append(timestamp, std::nullopt,
                           byte_span(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
            timestamp += spec.timestamp_step;
        }
        auto built = builder.build();
        if (!built) {
            failed.message = built.error_value().message;
            return failed;
        }
        shared_buffer records = shared_buffer::adopt(std::move(*built));
        auto split = split_batches(records.span(), split_mode::produce);
        if (!split) {
            failed.message = split.error_value().message;
            return failed;
        }
        auto promise = std::make_shared<std::promise<produce_outcome>>();
        auto future = promise->get_future();
        part->append(records, split->batches, -1,
                     [promise](produce_outcome outcome) { promise->set_value(outcome); });
        if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
            failed.message = "append not durable within 30 s";
            return failed;
        }
        return future.get();
    }

private:
    // Opens the backends in _dir and starts the broker and the server.
    status open() {
        auto meta = metadata::embedded_store::open({.directory = _dir / "meta"});
        if (!meta) {
            return meta.error_value();
        }
        _metadata = std::shared_ptr<metadata::store>(std::move(*meta));
        auto objects = objstore::local_store::open((_dir / "objects").string());
        if (!objects) {
            return objects.error_value();
        }
        auto wal_file = posix_file::open((_dir / "wal").string(),
                                         wal_format::k_data_offset + _options.wal_capacity);
        if (!wal_file) {
            return wal_file.error_value();
        }
        stream::stream_store_options so;
        so.wal.owner = node_id(_options.broker.node_id);
        so.wal.owner_epoch = epoch(1 + _restarts);
        so.wal.capacity = _options.wal_capacity;
        so.wal.append_timeout = std::chrono::milliseconds(0);
        so.log_cache_bytes = 8 << 20;
        so.block_cache_bytes = 4 << 20;
        so.build_memory_bytes = 16 << 20;
        so.maintenance_interval = std::chrono::milliseconds(0);
        auto store = stream::stream_store::open(
            so, std::shared_ptr<floe::wal_file>(std::move(*wal_file)),
            std::shared_ptr<objstore::object_store>(std::move(*objects)), _metadata);
        if (!store) {
            return store.error_value();
        }
        _store = std::move(*store);
        auto registry = cluster::topic_registry::open(_metadata);
        if (!registry) {
            return registry.error_value();
        }
        _registry = std::move(*registry);
        _pool = std::make_unique<blocking_pool>(_options.pool_threads);
        // The port may be taken between free_loopback_port() and the bind.
        for (int attempt = 0; attempt < 5; ++attempt) {
            broker_options bo = _options.broker;
            bo.advertised_host = "127.0.0.1";
            bo.advertised_port = floe::testing::free_loopback_port();
            bo.log_dir = (_dir / "wal").string();
            auto node = std::make_unique<broker>(bo, *_store, *_registry, _metadata, *_pool);
            FLOE_TRY(node->start());
            server_options options;
            options.host = "127.0.0.1";
            options.port = static_cast<uint16_t>(bo.advertised_port);
            options.shards = _options.shards;
            options.stop_timeout = std::chrono::milliseconds(10000);
            auto listener = std::make_unique<server>(options);
            status started = listener->start(*node);
            if (started) {
                _broker = std::move(node);
                _server = std::move(listener);
                return ok();
            }
            if (started.error_value().code != errc::io) {
                return started.error_value();
            }
        }
        return error(errc::io, "no free loopback port could be bound");
    }

    // Stops the server and releases everything but the directory.
    void shut_down() {
        if (_server) {
            _server->stop();
        }
        if (_pool) {
            _pool->join();
        }
        // The store first: it waits for accepted appends, whose completions
        // call into partitions (owned by the broker) and post to the shards
        // (owned by the server). The handler (broker) outlives the server.
        _store.reset();
        _server.reset();
        _broker.reset();
        _registry.reset();
        _pool.reset();
        _metadata.reset();
    }

    harness_options _options;
    std::filesystem::path _dir;
    int _restarts = 0;
    std::shared_ptr<metadata::store> _metadata;
    std::unique_ptr<stream::stream_store> _store;
    std::unique_ptr<cluster::topic_registry> _registry;
    std::unique_ptr<blocking_pool> _pool;
    std::unique_ptr<broker> _broker;
    std::unique_ptr<server> _server;
};

// A gtest fixture with a started harness. Override options() to change the
// broker's settings.
class BrokerTest : public ::testing::Test {
protected:
    virtual harness_options options() { return {}; }

    void SetUp() override {
        _harness = std::make_unique<broker_harness>(options());
        status started = _harness->start();
        ASSERT_TRUE(started.has_value()) << started.error_value().to_string();
    }
    void TearDown() override { _harness.reset(); }

    broker_harness& harness() { return *_harness; }
    broker& node() { return _harness->node(); }
    // Restarts the broker on the same data or fails the test. Connections
    // made before are closed; connect again.
    void restart() {
        status restarted = _harness->restart();
        ASSERT_TRUE(restarted.has_value()) << restarted.error_value().to_string();
    }
    std::unique_ptr<kafka_client> connect() { return _harness->connect(); }

    // Creates a topic or fails the test.
    cluster::topic_info create_topic(const std::string& name, int32_t partitions = 1,
                                     std::map<std::string, std::string> configs = {}) {
        auto made = _harness->create_topic(name, partitions, std::move(configs));
        EXPECT_TRUE(made.has_value()) << (made ? "" : made.error_value().to_string());
        return made ? *made : cluster::topic_info{};
    }
    // Appends or fails the test; returns the base offset (-1 on failure).
    int64_t append(const std::string& topic, int32_t index, const batch_spec& spec) {
        produce_outcome out = _harness->append(topic, index, spec);
        EXPECT_EQ(out.error, error_code::none) << out.message;
        return out.error == error_code::none ? out.base_offset : -1;
    }

    std::unique_ptr<broker_harness> _harness;
};

}  // namespace floe::kafka::testing
