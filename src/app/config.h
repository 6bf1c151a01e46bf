// Floe's configuration: one table of settings (config.cc) from which the
// loader, `--help` and docs/configuration.md are all produced.
//
// Every setting has a TOML key (dotted: `wal.capacity_bytes` is `capacity_bytes`
// in the `[wal]` table), a type, a default, an environment variable (FLOE_ and
// the key upper-cased with '.' -> '_': FLOE_WAL_CAPACITY_BYTES), a flag
// (--wal-capacity-bytes) and a one-line description. Sizes and durations are
// integers with the unit in the name (_bytes, _ms).
//
// Precedence, lowest first: defaults < TOML file (--config FILE, else
// FLOE_CONFIG) < environment < flags.
//
//   std::vector<std::string_view> args(argv + 2, argv + argc);  // after "serve"
//   if (app::wants_help(args)) { std::fputs(app::help_text().c_str(), stdout); return 0; }
//   auto cfg = app::load_config(args);
//   if (!cfg) { std::fprintf(stderr, "floe: %s\n", cfg.error_value().message.c_str()); return 2; }
//   log::set_level(*log::parse_level(cfg->log_level));
//
// Errors (errc::invalid_argument, or errc::io for an unreadable file) name the
// setting and where the bad value came from; all problems are reported at once,
// one per line. Secret settings never appear in messages, help or describe().
//
// Threading: pure functions (load_config reads the environment through `env`).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"

namespace floe::app {

// The loaded configuration. After load_config() the derived defaults are
// filled in: advertised_listener (= listen), wal.dir (= <data_dir>/wal),
// object_store.dir (= <data_dir>/objects), shards (= CPU cores when 0).
struct config {
    std::string listen;
    std::string advertised_listener;
    std::string data_dir;
    int64_t node_id = 0;
    int64_t shards = 0;
    std::string log_level;
    int64_t max_request_bytes = 0;
    int64_t idle_timeout_ms = 0;
    int64_t max_connections = 0;
    bool auto_create_topics = false;
    int64_t default_partitions = 0;
    struct {
        std::string dir;
        int64_t capacity_bytes = 0;
        int64_t group_bytes = 0;
    } wal;
    struct {
        std::string type;  // "local" or "s3"
        std::string dir;
    } object_store;
    // Empty strings mean: what the S3 client takes from the standard AWS
    // environment (AWS_ENDPOINT_URL_S3, AWS_REGION, AWS_ACCESS_KEY_ID, ...).
    struct {
        std::string endpoint;
        std::string region;
        std::string bucket;
        std::string prefix;
        bool path_style = false;
        std::string access_key_id;
        std::string secret_access_key;
    } s3;
    struct {
        int64_t log_bytes = 0;
        int64_t block_bytes = 0;
    } cache;
    struct {
        int64_t bytes = 0;
        int64_t interval_ms = 0;
    } upload;
    struct {
        int64_t retention_ms = 0;
        int64_t retention_bytes = 0;
    } log;
    struct {
        int64_t max_bytes = 0;
    } message;
    struct {
        std::string type;  // "embedded" ("etcd" is reserved)
    } metadata;
    struct {
        int64_t initial_rebalance_delay_ms = 0;
        int64_t min_session_timeout_ms = 0;
        int64_t max_session_timeout_ms = 0;
        int64_t max_size = 0;
        int64_t consumer_session_timeout_ms = 0;
        int64_t consumer_heartbeat_interval_ms = 0;
    } group;
    struct {
        int64_t topic_partitions = 0;
        int64_t retention_ms = 0;
        int64_t metadata_max_bytes = 0;
    } offsets;

    std::string config_file;  // the TOML file loaded, empty when none
};

enum class setting_type { string, integer, boolean, choice, address };

// One row of the table.
struct setting {
    std::string_view name = {};  // TOML key, e.g. "wal.capacity_bytes"
    setting_type type = setting_type::string;
    std::string_view default_value = {};  // as text, e.g. "1073741824", "true", ""
    std::string_view description = {};    // one line
    int64_t min = 0;                      // integer settings: inclusive bounds
    int64_t max = 0;
    std::span<const std::string_view> choices = {};  // choice settings
    bool secret = false;                             // never printed
    // Where the value lives in `config` (exactly one is set).
    std::string* (*string_field)(config&) = nullptr;
    int64_t* (*integer_field)(config&) = nullptr;
    bool* (*boolean_field)(config&) = nullptr;

    std::string environment_variable() const;  // FLOE_WAL_CAPACITY_BYTES
    std::string flag() const;                  // --wal-capacity-bytes
};

// The table, in documentation order.
std::span<const setting> settings();
const setting* find_setting(std::string_view name);

// Reads an environment variable; nullopt when unset.
using environment = std::function<std::optional<std::string>(std::string_view name)>;
environment process_environment();

// `args`: the command-line arguments after the subcommand ("floe serve ...").
// Flags are `--name value`, `--name=value`, and for booleans `--name` alone
// (true) or `--name=false`.
result<config> load_config(std::span<const std::string_view> args,
                           const environment& env = process_environment());

// The configuration built from the defaults alone (derived values filled in).
config default_config();

// True when `args` holds --help or -h.
bool wants_help(std::span<const std::string_view> args);

// `--help` output for `floe serve`.
std::string help_text();

// The whole of docs/configuration.md.
std::string configuration_markdown();

// "name = value" lines for every setting (secrets as "<set>" or "<empty>"),
// for a start-up log.
std::string describe(const config& cfg);

// "host:port" or "[v6-address]:port" split into its parts; the port must be
// a number in 0-65535.
struct host_port {
    std::string host;
    uint16_t port = 0;
};
result<host_port> parse_host_port(std::string_view text);

}  // namespace floe::app
