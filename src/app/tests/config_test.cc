#include "app/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

namespace floe::app {
namespace {

// A fake environment for one test.
struct fake_env {
    std::map<std::string, std::string, std::less<>> vars;
    environment lookup() const {
        return [this](std::string_view name) -> std::optional<std::string> {
            auto it = vars.find(name);
            if (it == vars.end()) {
                return std::nullopt;
            }
            return it->second;
        };
    }
};

// A TOML file removed when the test ends.
class temp_file {
public:
    explicit temp_file(std::string_view content) {
        static int counter = 0;
        _path = std::filesystem::temp_directory_path() /
                ("floe-config-test-" + std::to_string(::getpid()) + "-" +
                 std::to_string(counter++) + ".toml");
        std::ofstream(_path) << content;
    }
    ~temp_file() { std::filesystem::remove(_path); }
    std::string path() const { return _path.string(); }

private:
    std::filesystem::path _path;
};

result<config> load(std::vector<std::string_view> args, const fake_env& env = {}) {
    return load_config(args, env.lookup());
}

std::string load_error(std::vector<std::string_view> args, const fake_env& env = {}) {
    auto loaded = load(std::move(args), env);
    EXPECT_FALSE(loaded.has_value());
    return loaded.has_value() ? std::string() : loaded.error_value().message;
}

bool has(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
}

TEST(Config, DefaultsAndDerivedValues) {
    auto loaded = load({});
    ASSERT_TRUE(loaded.has_value()) << loaded.error_value().message;
    const config& c = *loaded;
    EXPECT_EQ(c.listen, "127.0.0.1:9092");
    EXPECT_EQ(c.advertised_listener, "127.0.0.1:9092");
    EXPECT_EQ(c.data_dir, "./floe-data");
    EXPECT_EQ(c.node_id, 1);
    EXPECT_EQ(c.shards, std::max<int64_t>(1, std::thread::hardware_concurrency()));
    EXPECT_EQ(c.log_level, "info");
    EXPECT_EQ(c.max_request_bytes, 104857600);
    EXPECT_EQ(c.idle_timeout_ms, 600000);
    EXPECT_EQ(c.max_connections, 10000);
    EXPECT_TRUE(c.auto_create_topics);
    EXPECT_EQ(c.default_partitions, 1);
    EXPECT_EQ(c.wal.dir, "./floe-data/wal");
    EXPECT_EQ(c.wal.capacity_bytes, int64_t{1} << 30);
    EXPECT_EQ(c.wal.group_bytes, 1 << 20);
    EXPECT_EQ(c.object_store.type, "local");
    EXPECT_EQ(c.object_store.dir, "./floe-data/objects");
    EXPECT_FALSE(c.s3.path_style);
    EXPECT_EQ(c.s3.secret_access_key, "");
    EXPECT_EQ(c.cache.log_bytes, 64 << 20);
    EXPECT_EQ(c.cache.block_bytes, 64 << 20);
    EXPECT_EQ(c.upload.bytes, 16 << 20);
    EXPECT_EQ(c.upload.interval_ms, 1000);
    EXPECT_EQ(c.log.retention_ms, 7 * 24 * 3600 * 1000LL);
    EXPECT_EQ(c.log.retention_bytes, -1);
    EXPECT_EQ(c.message.max_bytes, 1048588);
    EXPECT_EQ(c.metadata.type, "embedded");
    EXPECT_EQ(c.config_file, "");
    EXPECT_EQ(describe(default_config()), describe(c));
}

TEST(Config, NamesFollowTheRule) {
    const setting* capacity = find_setting("wal.capacity_bytes");
    ASSERT_NE(capacity, nullptr);
    EXPECT_EQ(capacity->environment_variable(), "FLOE_WAL_CAPACITY_BYTES");
    EXPECT_EQ(capacity->flag(), "--wal-capacity-bytes");
    EXPECT_EQ(find_setting("object_store.type")->environment_variable(), "FLOE_OBJECT_STORE_TYPE");
    std::set<std::string> envs, flags;
    for (const auto& s : settings()) {
        EXPECT_TRUE(envs.insert(s.environment_variable()).second) << s.name;
        EXPECT_TRUE(flags.insert(s.flag()).second) << s.name;
        EXPECT_FALSE(s.description.empty()) << s.name;
        EXPECT_EQ(s.description.find('\n'), std::string_view::npos) << s.name;
        for (char ch : s.name) {
            EXPECT_TRUE((ch >= 'a' && ch <= 'z') || ch == '_' || ch == '.' ||
                        (ch >= '0' && ch <= '9'))
                << s.name;
        }
        EXPECT_NE(s.flag(), "--config");
        EXPECT_NE(s.flag(), "--help");
        EXPECT_NE(s.environment_variable(), "FLOE_CONFIG");
    }
}

TEST(Config, PrecedenceIsDefaultsFileEnvironmentFlags) {
    temp_file file(
        "shards = 2\n"
        "node_id = 7\n"
        "data_dir = \"/from/file\"\n"
        "default_partitions = 5\n");
    fake_env env;
    env.vars["FLOE_CONFIG"] = file.path();
    env.vars["FLOE_NODE_ID"] = "8";
    env.vars["FLOE_SHARDS"] = "3";
    auto loaded = load({"--shards", "4"}, env);
    ASSERT_TRUE(loaded.has_value()) << loaded.error_value().message;
    EXPECT_EQ(loaded->shards, 4);                  // flag over env over file
    EXPECT_EQ(loaded->node_id, 8);                 // env over file
    EXPECT_EQ(loaded->data_dir, "/from/file");     // file over default
    EXPECT_EQ(loaded->wal.dir, "/from/file/wal");  // derived after merging
    EXPECT_EQ(loaded->default_partitions, 5);
    EXPECT_EQ(loaded->idle_timeout_ms, 600000);  // default
    EXPECT_EQ(loaded->config_file, file.path());
}

TEST(Config, ConfigFlagWinsOverConfigVariable) {
    temp_file from_flag("node_id = 11\n");
    temp_file from_env("node_id = 12\n");
    fake_env env;
    env.vars["FLOE_CONFIG"] = from_env.path();
    auto loaded = load({"--config=" + from_flag.path()}, env);
    ASSERT_TRUE(loaded.has_value()) << loaded.error_value().message;
    EXPECT_EQ(loaded->node_id, 11);
}

TEST(Config, TomlSectionsAndDottedKeys) {
    temp_file file(
        "listen = \"127.0.0.1:19092\"\n"
        "cache.log_bytes = 8192\n"
        "[wal]\n"
        "group_bytes = 8192\n"
        "capacity_bytes = 2_097_152\n"
        "dir = \"/wal\"\n"
        "[object_store]\n"
        "type = \"s3\"\n"
        "[s3]\n"
        "bucket = \"floe\"\n"
        "path_style = true\n"
        "endpoint = \"http://127.0.0.1:9000\"\n"
        "[log]\n"
        "retention_bytes = 1000\n");
    auto loaded = load({"--config", file.path()});
    ASSERT_TRUE(loaded.has_value()) << loaded.error_value().message;
    EXPECT_EQ(loaded->listen, "127.0.0.1:19092");
    EXPECT_EQ(loaded->advertised_listener, "127.0.0.1:19092");
    EXPECT_EQ(loaded->cache.log_bytes, 8192);
    EXPECT_EQ(loaded->wal.group_bytes, 8192);
    EXPECT_EQ(loaded->wal.capacity_bytes, 2097152);
    EXPECT_EQ(loaded->wal.dir, "/wal");
    EXPECT_EQ(loaded->object_store.type, "s3");
    EXPECT_EQ(loaded->s3.bucket, "floe");
    EXPECT_TRUE(loaded->s3.path_style);
    EXPECT_EQ(loaded->s3.endpoint, "http://127.0.0.1:9000");
    EXPECT_EQ(loaded->log.retention_bytes, 1000);
}

TEST(Config, EnvironmentVariablesAreParsedPerType) {
    fake_env env;
    env.vars["FLOE_AUTO_CREATE_TOPICS"] = "false";
    env.vars["FLOE_LOG_LEVEL"] = "debug";
    env.vars["FLOE_LOG_RETENTION_MS"] = "-1";
    env.vars["FLOE_ADVERTISED_LISTENER"] = "broker-1.example.com:9092";
    env.vars["FLOE_UNRELATED"] = "ignored";
    auto loaded = load({}, env);
    ASSERT_TRUE(loaded.has_value()) << loaded.error_value().message;
    EXPECT_FALSE(loaded->auto_create_topics);
    EXPECT_EQ(loaded->log_level, "debug");
    EXPECT_EQ(loaded->log.retention_ms, -1);
    EXPECT_EQ(loaded->advertised_listener, "broker-1.example.com:9092");
}

TEST(Config, FlagForms) {
    auto loaded = load({"--s3-path-style", "--auto-create-topics=false", "--listen=[::1]:9093",
                        "--idle-timeout-ms", "0", "--object-store-dir", "/objects"});
    ASSERT_TRUE(loaded.has_value()) << loaded.error_value().message;
    EXPECT_TRUE(loaded->s3.path_style);
    EXPECT_FALSE(loaded->auto_create_topics);
    EXPECT_EQ(loaded->listen, "[::1]:9093");
    EXPECT_EQ(loaded->idle_timeout_ms, 0);
    EXPECT_EQ(loaded->object_store.dir, "/objects");
}

TEST(Config, FileErrorsNameTheSettingAndTheLine) {
    temp_file file(
        "node_id = 1\n"
        "shardz = 2\n"
        "[wal]\n"
        "capacity_bytes = \"big\"\n"
        "[nonsense]\n"
        "x = 1\n");
    auto message = load_error({"--config", file.path()});
    // In file order, each with its line and column.
    std::string path = file.path();
    EXPECT_EQ(message, path + ":2:10: shardz: unknown setting (did you mean 'shards'?)\n" + path +
                           ":4:18: wal.capacity_bytes: expected an integer, got a string\n" + path +
                           ":5:1: nonsense: unknown setting");
}

TEST(Config, TomlSyntaxErrorAndMissingFile) {
    temp_file broken("node_id = = 1\n");
    auto message = load_error({"--config", broken.path()});
    EXPECT_TRUE(has(message, broken.path() + ":1:")) << message;
    auto missing = load({"--config", "/nonexistent/floe.toml"});
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error_value().code, errc::io);
    EXPECT_TRUE(has(missing.error_value().message, "/nonexistent/floe.toml"));
}

TEST(Config, BadValuesAreAllReportedWithTheirSource) {
    fake_env env;
    env.vars["FLOE_NODE_ID"] = "one";
    auto message =
        load_error({"--shards", "9999", "--log-level", "loud", "--listen", "localhost:9092",
                    "--max-request-bytes=12x", "--auto-create-topics=maybe"},
                   env);
    EXPECT_TRUE(has(message, "FLOE_NODE_ID (node_id): 'one' is not an integer")) << message;
    EXPECT_TRUE(has(message, "--shards: 9999 is outside 0..1024")) << message;
    EXPECT_TRUE(has(message, "--log-level: 'loud' is not one of trace, debug, info")) << message;
    EXPECT_TRUE(has(message, "--listen: 'localhost' is not an IP address")) << message;
    EXPECT_TRUE(has(message, "--max-request-bytes: '12x' is not an integer")) << message;
    EXPECT_TRUE(has(message, "--auto-create-topics: 'maybe' is not true or false")) << message;
}

TEST(Config, UnknownFlagsAndMissingValues) {
    auto message = load_error({"--shard", "2", "stray", "--node-id"});
    EXPECT_TRUE(has(message, "unknown option '--shard' (did you mean '--shards'?)")) << message;
    EXPECT_TRUE(has(message, "unexpected argument 'stray'")) << message;
    EXPECT_TRUE(has(message, "--node-id: needs a value")) << message;
}

TEST(Config, CombinationsAreChecked) {
    EXPECT_TRUE(has(load_error({"--object-store-type", "s3"}), "s3.bucket: must be set"));
    EXPECT_TRUE(has(load_error({"--metadata-type", "etcd"}), "not supported yet"));
    EXPECT_TRUE(has(load_error({"--wal-capacity-bytes", "1048577"}), "multiple of 4096"));
    EXPECT_TRUE(has(load_error({"--listen", "0.0.0.0:9092"}), "advertised_listener"));
    auto wildcard =
        load({"--listen", "0.0.0.0:9092", "--advertised-listener", "broker.example.com:9092"});
    EXPECT_TRUE(wildcard.has_value()) << wildcard.error_value().message;
    EXPECT_TRUE(has(load_error({"--message-max-bytes", "2000", "--max-request-bytes", "1000"}),
                    "message.max_bytes"));
}

TEST(Config, SecretsAreNeverPrinted) {
    temp_file file("[s3]\nsecret_access_key = 42\n");
    fake_env env;
    env.vars["FLOE_S3_SECRET_ACCESS_KEY"] = "hunter2";
    auto message = load_error({"--config", file.path(), "--shards", "x"}, env);
    EXPECT_TRUE(has(message, "s3.secret_access_key: expected a string, got an integer")) << message;
    EXPECT_FALSE(has(message, "hunter2"));
    // The message names the file, whose random temporary name may hold "42".
    std::string without_path = message;
    for (size_t at; (at = without_path.find(file.path())) != std::string::npos;) {
        without_path.erase(at, file.path().size());
    }
    EXPECT_FALSE(has(without_path, "42")) << message;
    auto loaded = load({"--s3-secret-access-key", "hunter2"});
    ASSERT_TRUE(loaded.has_value());
    EXPECT_EQ(loaded->s3.secret_access_key, "hunter2");
    std::string shown = describe(*loaded);
    EXPECT_FALSE(has(shown, "hunter2"));
    EXPECT_TRUE(has(shown, "s3.secret_access_key = <set>"));
    EXPECT_TRUE(has(describe(default_config()), "s3.secret_access_key = <empty>"));
}

TEST(Config, HelpListsEverySetting) {
    std::string help = help_text();
    EXPECT_TRUE(help.starts_with("usage: floe serve"));
    EXPECT_TRUE(has(help, "--config FILE"));
    EXPECT_TRUE(has(help, "FLOE_CONFIG"));
    for (const auto& s : settings()) {
        EXPECT_TRUE(has(help, "  " + s.flag())) << s.name;
        EXPECT_TRUE(has(help, "; env " + s.environment_variable() + ")\n")) << s.name;
        EXPECT_TRUE(has(help, s.description)) << s.name;
    }
    EXPECT_TRUE(has(help, "--wal-capacity-bytes BYTES"));
    EXPECT_TRUE(has(help, "--object-store-type local|s3"));
    EXPECT_TRUE(has(help, "--s3-path-style[=true|false]\n"));
    EXPECT_TRUE(has(help, "(default 1073741824; env FLOE_WAL_CAPACITY_BYTES)"));
    EXPECT_TRUE(wants_help(std::vector<std::string_view>{"--shards", "2", "--help"}));
    EXPECT_FALSE(wants_help(std::vector<std::string_view>{"--shards", "2"}));
    // --help among other flags does not make them invalid.
    EXPECT_TRUE(load({"--help"}).has_value());
}

TEST(Config, HostPortParsing) {
    auto v4 = parse_host_port("10.0.0.1:9092");
    ASSERT_TRUE(v4.has_value());
    EXPECT_EQ(v4->host, "10.0.0.1");
    EXPECT_EQ(v4->port, 9092);
    auto v6 = parse_host_port("[::1]:0");
    ASSERT_TRUE(v6.has_value());
    EXPECT_EQ(v6->host, "::1");
    EXPECT_EQ(v6->port, 0);
    for (std::string_view bad : {"", "9092", ":9092", "host:", "host:65536", "host:-1", "::1:9092",
                                 "[::1]9092", "[::1]"}) {
        EXPECT_FALSE(parse_host_port(bad).has_value()) << bad;
    }
}

TEST(Config, DocumentedExampleLoadsAsTheDefaults) {
    std::string markdown = configuration_markdown();
    size_t begin = markdown.find("```toml\n");
    size_t end = markdown.find("```", begin + 8);
    ASSERT_NE(begin, std::string::npos);
    ASSERT_NE(end, std::string::npos);
    temp_file example(markdown.substr(begin + 8, end - begin - 8));
    auto loaded = load({"--config", example.path()});
    ASSERT_TRUE(loaded.has_value()) << loaded.error_value().message;
    EXPECT_EQ(describe(*loaded), describe(default_config()));
}

// docs/configuration.md is generated from the table; like the codec
// generator's check, the suite fails when the committed file is stale.
TEST(Config, ConfigurationDocIsUpToDate) {
    const char* source = std::getenv("FLOE_SOURCE_DIR");
    ASSERT_NE(source, nullptr) << "FLOE_SOURCE_DIR is set by ctest (floe_test)";
    std::filesystem::path doc = std::filesystem::path(source) / "docs" / "configuration.md";
    std::ifstream in(doc, std::ios::binary);
    ASSERT_TRUE(in.good()) << doc << " is missing";
    std::stringstream content;
    content << in.rdbuf();
    EXPECT_TRUE(content.str() == configuration_markdown())
        << doc << " is out of date with src/app/config.cc; regenerate it with\n"
        << "  <build>/src/app/floe_config_docs docs/configuration.md";
}

}  // namespace
}  // namespace floe::app
