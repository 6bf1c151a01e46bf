#include "app/config.h"

#include <arpa/inet.h>

#include <toml++/toml.h>
#include <algorithm>
#include <array>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>
#include <tuple>
#include <vector>

namespace floe::app {

namespace {

constexpr int64_t kMaxInt32 = std::numeric_limits<int32_t>::max();
constexpr int64_t kMaxInt64 = std::numeric_limits<int64_t>::max();

constexpr std::array<std::string_view, 6> kLogLevels = {"trace", "debug", "info",
                                                        "warn",  "error", "off"};
constexpr std::array<std::string_view, 2> kObjectStoreTypes = {"local", "s3"};
constexpr std::array<std::string_view, 2> kMetadataTypes = {"embedded", "etcd"};

using string_field_t = std::string* (*)(config&);
using integer_field_t = int64_t* (*)(config&);
using boolean_field_t = bool* (*)(config&);

setting text(std::string_view name, std::string_view default_value, std::string_view description,
             string_field_t field) {
    setting s{name, setting_type::string, default_value, description};
    s.string_field = field;
    return s;
}

setting address(std::string_view name, std::string_view default_value, std::string_view description,
                string_field_t field) {
    setting s = text(name, default_value, description, field);
    s.type = setting_type::address;
    return s;
}

setting secret(setting s) {
    s.secret = true;
    return s;
}

setting choice(std::string_view name, std::string_view default_value,
               std::span<const std::string_view> choices, std::string_view description,
               string_field_t field) {
    setting s = text(name, default_value, description, field);
    s.type = setting_type::choice;
    s.choices = choices;
    return s;
}

setting integer(std::string_view name, std::string_view default_value, int64_t min, int64_t max,
                std::string_view description, integer_field_t field) {
    setting s{name, setting_type::integer, default_value, description, min, max};
    s.integer_field = field;
    return s;
}

setting boolean(std::string_view name, std::string_view default_value, std::string_view description,
                boolean_field_t field) {
    setting s{name, setting_type::boolean, default_value, description};
    s.boolean_field = field;
    return s;
}

#define FLOE_FIELD(member) [](config& c) { return &c.member; }

// The table. Defaults mirror the modules' own: the stream store's
// upload_bytes / upload_age and cache sizes (stream/stream_store.h), the WAL's
// max_group_bytes (wal/wal.h), Kafka's broker defaults where Kafka has one.
const std::vector<setting>& table() {
    static const std::vector<setting> rows = {
        address("listen", "127.0.0.1:9092",
                "Address the Kafka listener binds: IP:PORT, [IPv6]:PORT.", FLOE_FIELD(listen)),
        address("advertised_listener", "",
                "HOST:PORT clients are told to connect to; empty: the listen address.",
                FLOE_FIELD(advertised_listener)),
        text("data_dir", "./floe-data",
             "Directory for the WAL, local objects and the embedded metadata store.",
             FLOE_FIELD(data_dir)),
        integer("node_id", "1", 0, kMaxInt32, "This broker's id (Kafka's node.id).",
                FLOE_FIELD(node_id)),
        integer("shards", "0", 0, 1024, "Network threads (shards); 0: one per CPU core.",
                FLOE_FIELD(shards)),
        choice("log_level", "info", kLogLevels, "Lowest level of the log lines written to stderr.",
               FLOE_FIELD(log_level)),
        integer("max_request_bytes", "104857600", 1, kMaxInt32,
                "Largest request accepted; a larger one closes its connection "
                "(Kafka's socket.request.max.bytes).",
                FLOE_FIELD(max_request_bytes)),
        integer("idle_timeout_ms", "600000", 0, kMaxInt64,
                "Close a connection idle this long; 0: never (Kafka's connections.max.idle.ms).",
                FLOE_FIELD(idle_timeout_ms)),
        integer("max_connections", "10000", 1, 10'000'000,
                "Open client connections; further ones are closed at once.",
                FLOE_FIELD(max_connections)),
        boolean("auto_create_topics", "true",
                "Create a topic a client asks for that does not exist "
                "(Kafka's auto.create.topics.enable).",
                FLOE_FIELD(auto_create_topics)),
        integer("default_partitions", "1", 1, 1'000'000,
                "Partitions of an automatically created topic (Kafka's num.partitions).",
                FLOE_FIELD(default_partitions)),
        text("wal.dir", "", "WAL directory; empty: <data_dir>/wal.", FLOE_FIELD(wal.dir)),
        integer("wal.capacity_bytes", "1073741824", 1 << 20, kMaxInt64,
                "Size of the WAL's data ring, a multiple of 4096; fixed when the WAL is created.",
                FLOE_FIELD(wal.capacity_bytes)),
        integer("wal.group_bytes", "1048576", 4096, 1 << 30,
                "Largest group commit (many appends written and synced together).",
                FLOE_FIELD(wal.group_bytes)),
        choice("object_store.type", "local", kObjectStoreTypes,
               "Where objects live: local (a directory) or s3.", FLOE_FIELD(object_store.type)),
        text("object_store.dir", "", "Local object store directory; empty: <data_dir>/objects.",
             FLOE_FIELD(object_store.dir)),
        text("s3.endpoint", "",
             "S3 endpoint URL (http://127.0.0.1:9000); empty: AWS_ENDPOINT_URL_S3, "
             "AWS_ENDPOINT_URL, else AWS's regional endpoint.",
             FLOE_FIELD(s3.endpoint)),
        text("s3.region", "", "S3 region; empty: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1.",
             FLOE_FIELD(s3.region)),
        text("s3.bucket", "", "Bucket for Floe's objects; required when object_store.type is s3.",
             FLOE_FIELD(s3.bucket)),
        text("s3.prefix", "",
             "Key prefix for Floe's objects within the bucket (keys are "
             "<prefix>/n<node>/<object id>); empty: objects.",
             FLOE_FIELD(s3.prefix)),
        boolean("s3.path_style", "false",
                "Path-style requests (http://host/bucket/key). A custom endpoint (s3.endpoint "
                "or AWS_ENDPOINT_URL*) always uses path style, as S3-compatible servers need; "
                "AWS's own endpoints use virtual-hosted style unless this is true.",
                FLOE_FIELD(s3.path_style)),
        text("s3.access_key_id", "", "S3 access key id; empty: AWS_ACCESS_KEY_ID.",
             FLOE_FIELD(s3.access_key_id)),
        secret(text("s3.secret_access_key", "",
                    "S3 secret access key; empty: AWS_SECRET_ACCESS_KEY. Never printed.",
                    FLOE_FIELD(s3.secret_access_key))),
        integer("cache.log_bytes", "67108864", 0, kMaxInt64,
                "Memory for recently produced data (the log cache).", FLOE_FIELD(cache.log_bytes)),
        integer("cache.block_bytes", "67108864", 0, kMaxInt64,
                "Memory for blocks read from objects (the block cache).",
                FLOE_FIELD(cache.block_bytes)),
        integer("upload.bytes", "16777216", 1, kMaxInt64,
                "Upload to the object store once this many acknowledged bytes are pending...",
                FLOE_FIELD(upload.bytes)),
        integer("upload.interval_ms", "1000", 1, kMaxInt64,
                "...or once the oldest pending data is this old.", FLOE_FIELD(upload.interval_ms)),
        integer("log.retention_ms", "604800000", -1, kMaxInt64,
                "Default retention by age of new topics; -1: none (Kafka's retention.ms).",
                FLOE_FIELD(log.retention_ms)),
        integer("log.retention_bytes", "-1", -1, kMaxInt64,
                "Default retention by size per partition; -1: none (Kafka's retention.bytes).",
                FLOE_FIELD(log.retention_bytes)),
        integer("message.max_bytes", "1048588", 1, kMaxInt32,
                "Largest record batch accepted (Kafka's message.max.bytes).",
                FLOE_FIELD(message.max_bytes)),
        choice("metadata.type", "embedded", kMetadataTypes,
               "Metadata store: embedded (SQLite under data_dir); etcd is reserved for later.",
               FLOE_FIELD(metadata.type)),
        integer("group.initial_rebalance_delay_ms", "3000", 0, kMaxInt32,
                "How long the first rebalance of an empty classic group waits for more members "
                "(Kafka's group.initial.rebalance.delay.ms), again while new ones keep joining. "
                "Below 5 ms (e.g. 0) each wait is still 5 ms, so consumers started together "
                "join one generation, as on Kafka.",
                FLOE_FIELD(group.initial_rebalance_delay_ms)),
        integer("group.min_session_timeout_ms", "6000", 1, kMaxInt32,
                "Smallest session timeout a classic group member may ask for "
                "(Kafka's group.min.session.timeout.ms).",
                FLOE_FIELD(group.min_session_timeout_ms)),
        integer("group.max_session_timeout_ms", "1800000", 1, kMaxInt32,
                "Largest session timeout a classic group member may ask for "
                "(Kafka's group.max.session.timeout.ms).",
                FLOE_FIELD(group.max_session_timeout_ms)),
        integer("group.max_size", "2147483647", 1, kMaxInt32,
                "Most members in one group (Kafka's group.max.size and "
                "group.consumer.max.size).",
                FLOE_FIELD(group.max_size)),
        integer("group.consumer.session_timeout_ms", "45000", 1, kMaxInt32,
                "Session timeout of consumer-protocol (KIP-848) members "
                "(Kafka's group.consumer.session.timeout.ms).",
                FLOE_FIELD(group.consumer_session_timeout_ms)),
        integer("group.consumer.heartbeat_interval_ms", "5000", 1, kMaxInt32,
                "Heartbeat interval given to consumer-protocol (KIP-848) members "
                "(Kafka's group.consumer.heartbeat.interval.ms).",
                FLOE_FIELD(group.consumer_heartbeat_interval_ms)),
        integer("offsets.topic_partitions", "16", 1, 1000,
                "Partitions of the internal __consumer_offsets topic, fixed when it is created "
                "(Kafka's offsets.topic.num.partitions).",
                FLOE_FIELD(offsets.topic_partitions)),
        integer("offsets.retention_ms", "604800000", 1, kMaxInt64,
                "Committed offsets of a group without members expire this long after their "
                "commit (Kafka's offsets.retention.minutes).",
                FLOE_FIELD(offsets.retention_ms)),
        integer("offsets.metadata_max_bytes", "4096", 0, kMaxInt32,
                "Largest metadata string of a committed offset "
                "(Kafka's offset.metadata.max.bytes).",
                FLOE_FIELD(offsets.metadata_max_bytes)),
    };
    return rows;
}

#undef FLOE_FIELD

// Where a value came from, for error messages.
std::string origin_of_flag(const setting& s) {
    return s.flag();
}
std::string origin_of_env(const setting& s) {
    return s.environment_variable() + " (" + std::string(s.name) + ")";
}

std::string shown(const setting& s, std::string_view value) {
    if (s.secret) {
        return "the value";
    }
    return "'" + std::string(value) + "'";
}

status check_host_port(const setting& s, std::string_view value, bool ip_only) {
    auto parsed = parse_host_port(value);
    if (!parsed) {
        return parsed.error_value();
    }
    if (ip_only) {
        std::string host = parsed->host;
        in6_addr v6{};
        in_addr v4{};
        if (::inet_pton(AF_INET, host.c_str(), &v4) != 1 &&
            ::inet_pton(AF_INET6, host.c_str(), &v6) != 1) {
            return error(errc::invalid_argument, "'" + host + "' is not an IP address (" +
                                                     std::string(s.name) +
                                                     " binds an address, not a host name)");
        }
    }
    return ok();
}

// Parses `value` (text from a flag, the environment or the table) into cfg.
status assign_text(const setting& s, std::string_view value, config& cfg) {
    switch (s.type) {
        case setting_type::string:
            *s.string_field(cfg) = std::string(value);
            return ok();
        case setting_type::address:
            if (!value.empty()) {
                FLOE_TRY(check_host_port(s, value, s.name == "listen"));
            }
            *s.string_field(cfg) = std::string(value);
            return ok();
        case setting_type::choice: {
            if (std::find(s.choices.begin(), s.choices.end(), value) == s.choices.end()) {
                std::string all;
                for (auto c : s.choices) {
                    all += (all.empty() ? "" : ", ") + std::string(c);
                }
                return error(errc::invalid_argument, shown(s, value) + " is not one of " + all);
            }
            *s.string_field(cfg) = std::string(value);
            return ok();
        }
        case setting_type::boolean:
            if (value == "true") {
                *s.boolean_field(cfg) = true;
            } else if (value == "false") {
                *s.boolean_field(cfg) = false;
            } else {
                return error(errc::invalid_argument, shown(s, value) + " is not true or false");
            }
            return ok();
        case setting_type::integer: {
            int64_t number = 0;
            auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
            if (value.empty() || ec != std::errc() || end != value.data() + value.size()) {
                return error(errc::invalid_argument, shown(s, value) + " is not an integer");
            }
            if (number < s.min || number > s.max) {
                return error(errc::invalid_argument, std::to_string(number) + " is outside " +
                                                         std::to_string(s.min) + ".." +
                                                         std::to_string(s.max));
            }
            *s.integer_field(cfg) = number;
            return ok();
        }
    }
    return error(errc::invalid_argument, "unknown setting type");
}

std::string_view type_name(toml::node_type type) {
    switch (type) {
        case toml::node_type::table:
            return "a table";
        case toml::node_type::array:
            return "an array";
        case toml::node_type::string:
            return "a string";
        case toml::node_type::integer:
            return "an integer";
        case toml::node_type::floating_point:
            return "a floating-point number";
        case toml::node_type::boolean:
            return "a boolean";
        default:
            return "a date or time";
    }
}

// A TOML value into cfg; strings go through assign_text for their checks.
status assign_toml(const setting& s, const toml::node& node, config& cfg) {
    auto wrong = [&](std::string_view expected) {
        return error(errc::invalid_argument, "expected " + std::string(expected) + ", got " +
                                                 std::string(type_name(node.type())));
    };
    switch (s.type) {
        case setting_type::integer: {
            auto value = node.value_exact<int64_t>();
            if (!value) {
                return wrong("an integer");
            }
            return assign_text(s, std::to_string(*value), cfg);
        }
        case setting_type::boolean: {
            auto value = node.value_exact<bool>();
            if (!value) {
                return wrong("true or false");
            }
            *s.boolean_field(cfg) = *value;
            return ok();
        }
        default: {
            auto value = node.value_exact<std::string>();
            if (!value) {
                return wrong("a string");
            }
            return assign_text(s, *value, cfg);
        }
    }
}

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) {
        row[j] = j;
    }
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t above = row[j];
            row[j] =
                std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0u : 1u)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

// " (did you mean 'x'?)" for the closest name within a few edits, else "".
template <typename Name>
std::string suggestion(std::string_view wrong, Name name_of) {
    size_t best = 4;
    std::string found;
    for (const auto& s : table()) {
        std::string candidate = name_of(s);
        size_t d = edit_distance(wrong, candidate);
        if (d < best) {
            best = d;
            found = candidate;
        }
    }
    return found.empty() ? "" : " (did you mean '" + found + "'?)";
}

// Collects every problem; the load fails if there is any.
class problems {
public:
    void add(std::string message) { _messages.push_back(std::move(message)); }
    void add(std::string_view where, const error& e) { add(std::string(where) + ": " + e.message); }
    bool empty() const { return _messages.empty(); }
    error to_error(errc code = errc::invalid_argument) const {
        std::string all;
        for (const auto& m : _messages) {
            all += (all.empty() ? "" : "\n") + m;
        }
        return error(code, all);
    }

private:
    std::vector<std::string> _messages;
};

// A problem found in the file, kept with its position so that problems are
// reported in file order (TOML tables iterate in key order).
struct file_problem {
    uint32_t line = 0;
    uint32_t column = 0;
    std::string message;
};

void apply_table(const toml::table& tbl, const std::string& prefix, const std::string& file,
                 config& cfg, std::vector<file_problem>& found) {
    for (const auto& [key, node] : tbl) {
        std::string name = prefix + std::string(key.str());
        const auto& at = node.source().begin;
        auto report = [&](std::string what) {
            found.push_back({at.line, at.column,
                             file + ":" + std::to_string(at.line) + ":" +
                                 std::to_string(at.column) + ": " + name + ": " + what});
        };
        const setting* s = find_setting(name);
        if (s == nullptr) {
            if (const auto* nested = node.as_table()) {
                bool is_section =
                    std::any_of(table().begin(), table().end(),
                                [&](const setting& r) { return r.name.starts_with(name + "."); });
                if (is_section) {
                    apply_table(*nested, name + ".", file, cfg, found);
                    continue;
                }
            }
            report("unknown setting" +
                   suggestion(name, [](const setting& r) { return std::string(r.name); }));
            continue;
        }
        auto assigned = assign_toml(*s, node, cfg);
        if (!assigned) {
            report(assigned.error_value().message);
        }
    }
}

status apply_file(const std::string& path, config& cfg) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return error(errc::io, "cannot read config file '" + path + "'");
    }
    std::stringstream content;
    content << in.rdbuf();
    toml::table tbl;
    try {
        tbl = toml::parse(content.str(), path);
    } catch (const toml::parse_error& e) {
        const auto& at = e.source().begin;
        return error(errc::invalid_argument, path + ":" + std::to_string(at.line) + ":" +
                                                 std::to_string(at.column) + ": " +
                                                 std::string(e.description()));
    }
    std::vector<file_problem> found;
    apply_table(tbl, "", path, cfg, found);
    if (found.empty()) {
        return ok();
    }
    std::sort(found.begin(), found.end(), [](const file_problem& a, const file_problem& b) {
        return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    problems all;
    for (auto& p : found) {
        all.add(std::move(p.message));
    }
    return all.to_error();
}

void fill_derived(config& cfg) {
    if (cfg.advertised_listener.empty()) {
        cfg.advertised_listener = cfg.listen;
    }
    if (cfg.wal.dir.empty()) {
        cfg.wal.dir = cfg.data_dir + "/wal";
    }
    if (cfg.object_store.dir.empty()) {
        cfg.object_store.dir = cfg.data_dir + "/objects";
    }
    if (cfg.shards == 0) {
        cfg.shards = std::max<int64_t>(1, std::thread::hardware_concurrency());
    }
}

void check_combinations(const config& cfg, problems& found) {
    if (cfg.wal.capacity_bytes % 4096 != 0) {
        found.add("wal.capacity_bytes: " + std::to_string(cfg.wal.capacity_bytes) +
                  " is not a multiple of 4096");
    }
    if (cfg.wal.group_bytes > cfg.wal.capacity_bytes) {
        found.add("wal.group_bytes: larger than wal.capacity_bytes");
    }
    if (cfg.group.min_session_timeout_ms > cfg.group.max_session_timeout_ms) {
        found.add("group.min_session_timeout_ms: larger than group.max_session_timeout_ms");
    }
    if (cfg.object_store.type == "s3" && cfg.s3.bucket.empty()) {
        found.add("s3.bucket: must be set when object_store.type is s3");
    }
    if (cfg.metadata.type == "etcd") {
        found.add("metadata.type: etcd is reserved and not supported yet; use embedded");
    }
    if (cfg.message.max_bytes > cfg.max_request_bytes) {
        found.add(
            "message.max_bytes: larger than max_request_bytes, so no such batch could "
            "arrive");
    }
    auto advertised = parse_host_port(cfg.advertised_listener);
    if (advertised) {
        if (advertised->host == "0.0.0.0" || advertised->host == "::") {
            found.add("advertised_listener: '" + cfg.advertised_listener +
                      "' is not an address clients can reach; set advertised_listener when "
                      "listen is a wildcard address");
        } else if (advertised->port == 0) {
            found.add("advertised_listener: port 0 is not an address clients can reach");
        }
    }
}

std::string placeholder(const setting& s) {
    switch (s.type) {
        case setting_type::address:
            return "HOST:PORT";
        case setting_type::boolean:
            return "[=true|false]";
        case setting_type::choice: {
            std::string all;
            for (auto c : s.choices) {
                all += (all.empty() ? "" : "|") + std::string(c);
            }
            return all;
        }
        case setting_type::integer:
            if (s.name.ends_with("_bytes") || s.name == "upload.bytes") {
                return "BYTES";
            }
            if (s.name.ends_with("_ms")) {
                return "MS";
            }
            return "N";
        case setting_type::string:
            return s.name.ends_with("dir") ? "DIR" : "TEXT";
    }
    return "VALUE";
}

std::string_view type_label(setting_type type) {
    switch (type) {
        case setting_type::string:
            return "string";
        case setting_type::integer:
            return "integer";
        case setting_type::boolean:
            return "boolean";
        case setting_type::choice:
            return "choice";
        case setting_type::address:
            return "host:port";
    }
    return "?";
}

// Markdown table cell text: no raw '<' (HTML) or '|' (column separator).
std::string markdown_cell(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '<') {
            out += "&lt;";
        } else if (c == '>') {
            out += "&gt;";
        } else if (c == '|') {
            out += "\\|";
        } else {
            out.push_back(c);
        }
    }
    return out;
}

std::string default_shown(const setting& s) {
    return s.default_value.empty() ? std::string("(empty)") : std::string(s.default_value);
}

}  // namespace

std::string setting::environment_variable() const {
    std::string out = "FLOE_";
    for (char c : name) {
        out.push_back(c == '.' ? '_'
                               : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    }
    return out;
}

std::string setting::flag() const {
    std::string out = "--";
    for (char c : name) {
        out.push_back(c == '.' || c == '_' ? '-' : c);
    }
    return out;
}

std::span<const setting> settings() {
    return table();
}

const setting* find_setting(std::string_view name) {
    for (const auto& s : table()) {
        if (s.name == name) {
            return &s;
        }
    }
    return nullptr;
}

environment process_environment() {
    return [](std::string_view name) -> std::optional<std::string> {
        const char* value = std::getenv(std::string(name).c_str());
        if (value == nullptr) {
            return std::nullopt;
        }
        return std::string(value);
    };
}

result<host_port> parse_host_port(std::string_view text) {
    auto bad = [&](std::string_view why) {
        return error(errc::invalid_argument,
                     "'" + std::string(text) + "' is not HOST:PORT (" + std::string(why) + ")");
    };
    host_port out;
    std::string_view port;
    if (text.starts_with('[')) {
        size_t close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            return bad("an IPv6 address is written [address]:port");
        }
        out.host = std::string(text.substr(1, close - 1));
        port = text.substr(close + 2);
    } else {
        size_t colon = text.rfind(':');
        if (colon == std::string_view::npos) {
            return bad("no port");
        }
        out.host = std::string(text.substr(0, colon));
        if (out.host.find(':') != std::string::npos) {
            return bad("an IPv6 address is written [address]:port");
        }
        port = text.substr(colon + 1);
    }
    if (out.host.empty()) {
        return bad("no host");
    }
    unsigned number = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || number > 65535) {
        return bad("the port must be a number in 0-65535");
    }
    out.port = static_cast<uint16_t>(number);
    return out;
}

config default_config() {
    config cfg;
    for (const auto& s : table()) {
        auto assigned = assign_text(s, s.default_value, cfg);
        if (!assigned) {
            abort_with("config table: bad default for " + std::string(s.name) + ": " +
                       assigned.error_value().message);
        }
    }
    fill_derived(cfg);
    return cfg;
}

bool wants_help(std::span<const std::string_view> args) {
    return std::any_of(args.begin(), args.end(),
                       [](std::string_view a) { return a == "--help" || a == "-h"; });
}

result<config> load_config(std::span<const std::string_view> args, const environment& env) {
    config cfg;
    for (const auto& s : table()) {
        if (!assign_text(s, s.default_value, cfg)) {
            abort_with("config table: bad default for " + std::string(s.name));
        }
    }
    problems found;

    // Flags are parsed first (they name the file) and applied last.
    struct flag_value {
        const setting* s;
        std::string value;
    };
    std::vector<flag_value> flags;
    std::optional<std::string> file_flag;
    for (size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        if (!arg.starts_with("--")) {
            found.add("unexpected argument '" + std::string(arg) + "' (see --help)");
            continue;
        }
        std::string_view name = arg;
        std::optional<std::string> value;
        if (size_t eq = arg.find('='); eq != std::string_view::npos) {
            name = arg.substr(0, eq);
            value = std::string(arg.substr(eq + 1));
        }
        if (name == "--help") {
            continue;
        }
        const setting* s = nullptr;
        if (name != "--config") {
            for (const auto& row : table()) {
                if (row.flag() == name) {
                    s = &row;
                }
            }
            if (s == nullptr) {
                found.add("unknown option '" + std::string(name) + "'" +
                          suggestion(name, [](const setting& r) { return r.flag(); }) +
                          " (see --help)");
                continue;
            }
        }
        if (!value) {
            if (s != nullptr && s->type == setting_type::boolean) {
                value = "true";
            } else if (i + 1 < args.size()) {
                value = std::string(args[++i]);
            } else {
                found.add(std::string(name) + ": needs a value");
                continue;
            }
        }
        if (s == nullptr) {
            file_flag = *value;
        } else {
            flags.push_back({s, *value});
        }
    }

    std::optional<std::string> file = file_flag ? file_flag : env("FLOE_CONFIG");
    if (file && !file->empty()) {
        cfg.config_file = *file;
        auto applied = apply_file(*file, cfg);
        if (!applied) {
            if (applied.error_value().code == errc::io) {
                return applied.error_value();
            }
            found.add(applied.error_value().message);
        }
    }
    for (const auto& s : table()) {
        auto value = env(s.environment_variable());
        if (!value) {
            continue;
        }
        auto assigned = assign_text(s, *value, cfg);
        if (!assigned) {
            found.add(origin_of_env(s), assigned.error_value());
        }
    }
    for (const auto& f : flags) {
        auto assigned = assign_text(*f.s, f.value, cfg);
        if (!assigned) {
            found.add(origin_of_flag(*f.s), assigned.error_value());
        }
    }
    if (!found.empty()) {
        return found.to_error();
    }
    fill_derived(cfg);
    check_combinations(cfg, found);
    if (!found.empty()) {
        return found.to_error();
    }
    return cfg;
}

std::string help_text() {
    std::string out =
        "usage: floe serve [--config FILE] [options]\n"
        "\n"
        "Starts a broker. Settings come from, lowest precedence first: defaults, the TOML\n"
        "file given by --config (or FLOE_CONFIG), environment variables, options.\n"
        "\n"
        "options:\n"
        "  --config FILE\n"
        "        TOML configuration file.\n"
        "        (env FLOE_CONFIG)\n"
        "  --help\n"
        "        Show this help.\n";
    for (const auto& s : table()) {
        std::string separator = s.type == setting_type::boolean ? "" : " ";
        out += "  " + s.flag() + separator + placeholder(s) + "\n";
        out += "        " + std::string(s.description) + "\n";
        out += "        (default " + default_shown(s) + "; env " + s.environment_variable() + ")\n";
    }
    return out;
}

std::string configuration_markdown() {
    std::string out =
        "# Configuration\n"
        "\n"
        "<!-- Generated from the settings table in src/app/config.cc; do not edit.\n"
        "     Regenerate: <build>/src/app/floe_config_docs docs/configuration.md -->\n"
        "\n"
        "`floe serve` reads its settings from, lowest precedence first:\n"
        "\n"
        "1. the defaults below;\n"
        "2. a TOML file named by `--config FILE` or, without that flag, by the\n"
        "   `FLOE_CONFIG` environment variable;\n"
        "3. environment variables: `FLOE_` and the setting's name in upper case with\n"
        "   `.` replaced by `_`;\n"
        "4. command-line flags: `--` and the name with `.` and `_` replaced by `-`,\n"
        "   as `--name value` or `--name=value` (a boolean flag alone means true).\n"
        "\n"
        "An unknown key in the file, an unknown flag or a value of the wrong type or\n"
        "range stops the broker with a message naming the setting. Sizes and\n"
        "durations are integers with the unit in the name (`_bytes`, `_ms`). Dotted\n"
        "names are keys of a TOML table: `wal.dir` is `dir` under `[wal]`.\n"
        "Secrets are never printed.\n"
        "\n"
        "| setting | type | default | environment | flag | description |\n"
        "|---|---|---|---|---|---|\n";
    for (const auto& s : table()) {
        std::string type(type_label(s.type));
        if (s.type == setting_type::choice) {
            type.clear();
            for (auto c : s.choices) {
                type += (type.empty() ? "" : " \\| ") + std::string(c);
            }
        }
        std::string shown_default =
            s.default_value.empty() ? "(empty)" : "`" + std::string(s.default_value) + "`";
        out += "| `" + std::string(s.name) + "` | " + type + " | " + shown_default + " | `" +
               s.environment_variable() + "` | `" + s.flag() + "` | " +
               markdown_cell(s.description) + " |\n";
    }
    out +=
        "\n"
        "## Example\n"
        "\n"
        "Every setting at its default, as a TOML file:\n"
        "\n"
        "```toml\n";
    std::string section;
    for (const auto& s : table()) {
        std::string_view name = s.name;
        std::string this_section;
        if (size_t dot = name.find('.'); dot != std::string_view::npos) {
            this_section = std::string(name.substr(0, dot));
            name = name.substr(dot + 1);
        }
        if (this_section != section) {
            out += "\n[" + this_section + "]\n";
            section = this_section;
        }
        std::string value(s.default_value);
        if (s.type != setting_type::integer && s.type != setting_type::boolean) {
            value = "\"" + value + "\"";
        }
        out += std::string(name) + " = " + value + "\n";
    }
    out += "```\n";
    return out;
}

std::string describe(const config& cfg) {
    config copy = cfg;
    std::string out;
    for (const auto& s : table()) {
        std::string value;
        if (s.string_field != nullptr) {
            value = *s.string_field(copy);
            if (s.secret) {
                value = value.empty() ? "<empty>" : "<set>";
            }
        } else if (s.integer_field != nullptr) {
            value = std::to_string(*s.integer_field(copy));
        } else {
            value = *s.boolean_field(copy) ? "true" : "false";
        }
        out += std::string(s.name) + " = " + value + "\n";
    }
    return out;
}

}  // namespace floe::app
