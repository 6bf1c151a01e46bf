// floe: the broker's command-line entry point.
//
//   floe serve [--listen HOST:PORT] [--data-dir PATH] [--config FILE] ...
//   floe --help | floe serve --help
//
// `serve` loads the configuration (defaults < TOML file < environment <
// flags, see docs/configuration.md), opens the storage (metadata store,
// object store, WAL, stream store), loads every topic and serves Kafka
// clients until SIGTERM or SIGINT. Then it stops accepting, lets requests in
// flight finish, uploads what the WAL holds, closes the WAL and exits 0.
//
// Threading: the main thread starts everything, then waits in sigwait() for
// a stop signal (blocked in every thread, so only sigwait sees it).
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "app/config.h"
#include "base/log.h"
#include "cluster/topic_registry.h"
#include "kafka/broker/broker.h"
#include "kafka/server/async.h"
#include "kafka/server/server.h"
#include "metadata/embedded_store.h"
#include "metadata/registry_keys.h"
#include "objstore/local_store.h"
#include "objstore/s3_store.h"
#include "stream/stream_store.h"
#include "wal/file.h"

namespace {

void print_usage() {
    std::puts(
        "usage: floe <command> [options]\n"
        "\n"
        "commands:\n"
        "  serve      start a single-node broker\n"
        "  --help     show this help and every setting of serve");
}

int fail(const std::string& what) {
    FLOE_LOG(error, "floe", what);
    return 1;
}

std::string environment_or(const char* name, const std::string& fallback) {
    const char* v = std::getenv(name);
    return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

std::string without_trailing_slashes(std::string text) {
    while (!text.empty() && text.back() == '/') {
        text.pop_back();
    }
    return text;
}

// The S3 client settings: each of Floe's s3.* settings, when empty, falls
// back to the standard AWS environment variable (docs/configuration.md).
floe::objstore::s3_config s3_settings(const floe::app::config& cfg) {
    floe::objstore::s3_config c;
    c.bucket = cfg.s3.bucket;
    c.region =
        !cfg.s3.region.empty()
            ? cfg.s3.region
            : environment_or("AWS_REGION", environment_or("AWS_DEFAULT_REGION", "us-east-1"));
    std::string endpoint =
        !cfg.s3.endpoint.empty()
            ? cfg.s3.endpoint
            : environment_or("AWS_ENDPOINT_URL_S3", environment_or("AWS_ENDPOINT_URL", ""));
    if (endpoint.empty()) {
        c.endpoint = "https://s3." + c.region + ".amazonaws.com";
        c.path_style = cfg.s3.path_style;
    } else {
        c.endpoint = without_trailing_slashes(endpoint);
        c.path_style = true;  // S3-compatible servers need path style
    }
    c.access_key = !cfg.s3.access_key_id.empty() ? cfg.s3.access_key_id
                                                 : environment_or("AWS_ACCESS_KEY_ID", "");
    c.secret_key = !cfg.s3.secret_access_key.empty() ? cfg.s3.secret_access_key
                                                     : environment_or("AWS_SECRET_ACCESS_KEY", "");
    c.session_token = environment_or("AWS_SESSION_TOKEN", "");
    return c;
}

floe::result<std::shared_ptr<floe::objstore::object_store>> open_objects(
    const floe::app::config& cfg) {
    if (cfg.object_store.type == "s3") {
        floe::objstore::s3_config c = s3_settings(cfg);
        if (c.access_key.empty() || c.secret_key.empty()) {
            return floe::error(floe::errc::invalid_argument,
                               "S3 credentials missing: set s3.access_key_id and "
                               "s3.secret_access_key (FLOE_S3_ACCESS_KEY_ID, "
                               "FLOE_S3_SECRET_ACCESS_KEY) or AWS_ACCESS_KEY_ID and "
                               "AWS_SECRET_ACCESS_KEY");
        }
        FLOE_LOG(info, "floe", "object store: S3 bucket ", c.bucket, " at ", c.endpoint,
                 " (region ", c.region, c.path_style ? ", path style" : ", virtual-hosted style",
                 ")");
        auto store = floe::objstore::s3_store::open(c);
        if (!store) {
            return floe::error(
                store.error_value().code,
                "S3 bucket " + c.bucket + " at " + c.endpoint + ": " + store.error_value().message);
        }
        return std::shared_ptr<floe::objstore::object_store>(std::move(*store));
    }
    FLOE_LOG(info, "floe", "object store: local directory ", cfg.object_store.dir);
    auto store = floe::objstore::local_store::open(cfg.object_store.dir);
    if (!store) {
        return store.error_value();
    }
    return std::shared_ptr<floe::objstore::object_store>(std::move(*store));
}

int serve(std::span<const std::string_view> args) {
    namespace app = floe::app;
    if (app::wants_help(args)) {
        std::fputs(app::help_text().c_str(), stdout);
        return 0;
    }
    auto loaded = app::load_config(args);
    if (!loaded) {
        std::fprintf(stderr, "floe: %s\n", loaded.error_value().message.c_str());
        return 2;
    }
    const app::config cfg = std::move(*loaded);
    if (auto lvl = floe::log::parse_level(cfg.log_level)) {
        floe::log::set_level(*lvl);
    }
    auto listen = app::parse_host_port(cfg.listen);
    auto advertised = app::parse_host_port(cfg.advertised_listener);
    if (!listen || !advertised) {
        return fail("bad listener address");
    }

    // Stop signals are taken by sigwait() below; block them before any
    // thread starts so every thread inherits the mask.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    signal(SIGPIPE, SIG_IGN);

    std::error_code ec;
    std::filesystem::create_directories(cfg.data_dir, ec);
    std::filesystem::create_directories(cfg.wal.dir, ec);
    if (ec) {
        return fail("cannot create " + cfg.wal.dir + ": " + ec.message());
    }
    auto meta = floe::metadata::embedded_store::open(
        {.directory = std::filesystem::path(cfg.data_dir) / "metadata"});
    if (!meta) {
        return fail("metadata store: " + meta.error_value().to_string());
    }
    std::shared_ptr<floe::metadata::store> metadata(std::move(*meta));
    auto objects = open_objects(cfg);
    if (!objects) {
        return fail("object store: " + objects.error_value().to_string());
    }
    const std::string wal_path = cfg.wal.dir + "/wal.bin";
    const uint64_t wal_bytes =
        floe::wal_format::k_data_offset + static_cast<uint64_t>(cfg.wal.capacity_bytes);
    auto wal_file = floe::posix_file::open(wal_path, wal_bytes);
    if (!wal_file) {
        return fail("WAL file " + wal_path + ": " + wal_file.error_value().to_string());
    }
    floe::stream::stream_store_options store_options;
    store_options.wal.owner = floe::node_id(static_cast<int32_t>(cfg.node_id));
    store_options.wal.capacity = static_cast<uint64_t>(cfg.wal.capacity_bytes);
    store_options.wal.max_group_bytes = static_cast<size_t>(cfg.wal.group_bytes);
    // Appends come from shards, which must never block: a full WAL queue is
    // an error the producer retries.
    store_options.wal.append_timeout = std::chrono::milliseconds(0);
    store_options.log_cache_bytes = static_cast<size_t>(cfg.cache.log_bytes);
    store_options.block_cache_bytes = static_cast<size_t>(cfg.cache.block_bytes);
    store_options.upload_bytes = static_cast<uint64_t>(cfg.upload.bytes);
    store_options.upload_age = std::chrono::milliseconds(cfg.upload.interval_ms);
    if (cfg.object_store.type == "s3" && !without_trailing_slashes(cfg.s3.prefix).empty()) {
        store_options.object_prefix = without_trailing_slashes(cfg.s3.prefix);
    }
    // The WAL owner epoch: each start of this node takes a new one.
    auto owner_epoch = floe::metadata::allocate_id(*metadata, "wal-owner-epoch");
    if (!owner_epoch) {
        return fail("metadata: " + owner_epoch.error_value().to_string());
    }
    store_options.wal.owner_epoch = floe::epoch(*owner_epoch);
    auto store = floe::stream::stream_store::open(
        store_options, std::shared_ptr<floe::wal_file>(std::move(*wal_file)), *objects, metadata);
    if (!store) {
        std::string where = cfg.object_store.type == "s3"
                                ? " (object store: S3 bucket " + cfg.s3.bucket + " at " +
                                      s3_settings(cfg).endpoint + ")"
                                : "";
        return fail("stream store: " + store.error_value().to_string() + where);
    }
    auto topics = floe::cluster::topic_registry::open(metadata);
    if (!topics) {
        return fail("topic registry: " + topics.error_value().to_string());
    }
    floe::kafka::blocking_pool pool(4);
    floe::kafka::broker_options broker_options;
    broker_options.node_id = static_cast<int32_t>(cfg.node_id);
    broker_options.advertised_host = advertised->host;
    broker_options.advertised_port = advertised->port;
    broker_options.auto_create_topics = cfg.auto_create_topics;
    broker_options.default_partitions = static_cast<int32_t>(cfg.default_partitions);
    broker_options.message_max_bytes = static_cast<int32_t>(cfg.message.max_bytes);
    broker_options.topic_defaults["retention.ms"] = std::to_string(cfg.log.retention_ms);
    broker_options.topic_defaults["retention.bytes"] = std::to_string(cfg.log.retention_bytes);
    broker_options.log_dir = cfg.data_dir;
    broker_options.groups.offsets_partitions = static_cast<int32_t>(cfg.offsets.topic_partitions);
    auto& group_config = broker_options.groups.config;
    group_config.initial_rebalance_delay =
        std::chrono::milliseconds(cfg.group.initial_rebalance_delay_ms);
    group_config.min_session_timeout = std::chrono::milliseconds(cfg.group.min_session_timeout_ms);
    group_config.max_session_timeout = std::chrono::milliseconds(cfg.group.max_session_timeout_ms);
    group_config.max_group_size = static_cast<uint32_t>(cfg.group.max_size);
    group_config.consumer_max_group_size = static_cast<uint32_t>(cfg.group.max_size);
    group_config.consumer_session_timeout =
        std::chrono::milliseconds(cfg.group.consumer_session_timeout_ms);
    group_config.consumer_heartbeat_interval =
        std::chrono::milliseconds(cfg.group.consumer_heartbeat_interval_ms);
    group_config.offsets_retention = std::chrono::milliseconds(cfg.offsets.retention_ms);
    group_config.offset_metadata_max_bytes = static_cast<size_t>(cfg.offsets.metadata_max_bytes);
    floe::kafka::broker broker(broker_options, **store, **topics, metadata, pool);
    if (auto started = broker.start(); !started) {
        return fail("broker: " + started.error_value().to_string());
    }

    floe::kafka::server_options server_options;
    server_options.host = listen->host;
    server_options.port = static_cast<uint16_t>(listen->port);
    server_options.shards = static_cast<size_t>(cfg.shards);
    server_options.max_request_bytes = static_cast<int32_t>(cfg.max_request_bytes);
    server_options.idle_timeout = std::chrono::milliseconds(cfg.idle_timeout_ms);
    server_options.max_connections = static_cast<size_t>(cfg.max_connections);
    floe::kafka::server server(server_options);
    if (auto started = server.start(broker); !started) {
        return fail("listener " + cfg.listen + ": " + started.error_value().to_string());
    }
    FLOE_LOG(info, "floe", "serving Kafka on ", listen->host, ":", server.port(), " (node ",
             cfg.node_id, ", data in ", cfg.data_dir, ")");

    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    FLOE_LOG(info, "floe", "received ", strsignal(signal_number), ": stopping");
    server.stop();
    if (auto uploaded = (*store)->upload_now(); !uploaded) {
        FLOE_LOG(warn, "floe", "final upload failed (the WAL keeps the data): ",
                 uploaded.error_value().to_string());
    }
    pool.join();
    store->reset();
    FLOE_LOG(info, "floe", "stopped");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
        print_usage();
        if (argc >= 2) {
            std::puts("");
            std::fputs(floe::app::help_text().c_str(), stdout);
        }
        return argc < 2 ? 2 : 0;
    }
    std::string_view command = argv[1];
    if (command != "serve") {
        std::fprintf(stderr, "floe: unknown command '%s' (try --help)\n", argv[1]);
        return 2;
    }
    std::vector<std::string_view> args(argv + 2, argv + argc);
    return serve(args);
}
