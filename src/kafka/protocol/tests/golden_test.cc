// Golden request frames captured from real Kafka clients (kcat/librdkafka 2.0.2,
// librdkafka 2.16, the Java client 4.1) by tools/capture/capture-all.sh.
//
// For every file listed in tests/golden/expected.json: the request header
// decodes at the listed header version with the listed api key, version,
// client id and correlation id; the body decodes with the generated codec to
// its last byte; re-encoding header and body gives back the captured bytes;
// and the key fields equal expected.json (written by
// tools/capture/make_expected.py, whose produce records are checked against
// what the clients were told to send). Produce record batches are split,
// validated (CRC, codec) and decoded down to each record's key, value and
// headers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "kafka/protocol/generated/api_versions_request.h"
#include "kafka/protocol/generated/create_topics_request.h"
#include "kafka/protocol/generated/describe_topic_partitions_request.h"
#include "kafka/protocol/generated/fetch_request.h"
#include "kafka/protocol/generated/find_coordinator_request.h"
#include "kafka/protocol/generated/heartbeat_request.h"
#include "kafka/protocol/generated/init_producer_id_request.h"
#include "kafka/protocol/generated/join_group_request.h"
#include "kafka/protocol/generated/leave_group_request.h"
#include "kafka/protocol/generated/list_offsets_request.h"
#include "kafka/protocol/generated/metadata_request.h"
#include "kafka/protocol/generated/offset_commit_request.h"
#include "kafka/protocol/generated/offset_fetch_request.h"
#include "kafka/protocol/generated/produce_request.h"
#include "kafka/protocol/generated/request_header.h"
#include "kafka/protocol/generated/sync_group_request.h"
#include "kafka/protocol/record_batch.h"

namespace floe::kafka {
namespace {

// --- just enough JSON for expected.json ---------------------------------------

struct json {
    enum class kind { null, boolean, number, string, array, object };
    kind type = kind::null;
    bool boolean = false;
    int64_t number = 0;  // expected.json holds integers only
    std::string text;
    std::vector<json> items;        // array elements
    std::vector<std::string> keys;  // object member names ...
    std::vector<json> values;       // ... and their values, in order

    bool is_null() const { return type == kind::null; }
    bool has(std::string_view key) const {
        return std::find(keys.begin(), keys.end(), key) != keys.end();
    }
    const json& operator[](std::string_view key) const {
        static const json missing;
        auto it = std::find(keys.begin(), keys.end(), key);
        if (it == keys.end()) {
            ADD_FAILURE() << "expected.json: no field " << key;
            return missing;
        }
        return values[static_cast<size_t>(it - keys.begin())];
    }
    const json& operator[](size_t i) const { return items.at(i); }
    size_t size() const { return items.size(); }
    int64_t i64() const { return number; }
    const std::string& str() const { return text; }
};

class json_parser {
  public:
    explicit json_parser(std::string_view text) : _text(text) {}

    json parse() {
        json out = value();
        skip_space();
        if (_pos != _text.size()) {
            fail("trailing characters");
        }
        return out;
    }
    bool ok() const { return _ok; }

  private:
    void fail(const char* what) {
        if (_ok) {
            ADD_FAILURE() << "expected.json: " << what << " at offset " << _pos;
        }
        _ok = false;
        _pos = _text.size();
    }
    void skip_space() {
        while (_pos < _text.size() &&
               std::string_view(" \t\r\n").find(_text[_pos]) != std::string_view::npos) {
            ++_pos;
        }
    }
    bool eat(char c) {
        skip_space();
        if (_pos < _text.size() && _text[_pos] == c) {
            ++_pos;
            return true;
        }
        return false;
    }
    bool eat_word(std::string_view word) {
        if (_text.substr(_pos, word.size()) == word) {
            _pos += word.size();
            return true;
        }
        return false;
    }
    std::string string_literal() {
        std::string out;
        if (!eat('"')) {
            fail("expected string");
            return out;
        }
        while (_pos < _text.size() && _text[_pos] != '"') {
            char c = _text[_pos++];
            if (c != '\\') {
                out.push_back(c);
                continue;
            }
            if (_pos >= _text.size()) {
                break;
            }
            char e = _text[_pos++];
            switch (e) {
                case 'n':
                    out.push_back('\n');
                    break;
                case 't':
                    out.push_back('\t');
                    break;
                case 'r':
                    out.push_back('\r');
                    break;
                case 'b':
                    out.push_back('\b');
                    break;
                case 'f':
                    out.push_back('\f');
                    break;
                case 'u': {
                    auto code = static_cast<unsigned>(
                        std::stoul(std::string(_text.substr(_pos, 4)), nullptr, 16));
                    _pos += 4;
                    if (code < 0x80) {
                        out.push_back(static_cast<char>(code));
                    } else if (code < 0x800) {
                        out.push_back(static_cast<char>(0xC0 | (code >> 6)));
                        out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
                    } else {
                        out.push_back(static_cast<char>(0xE0 | (code >> 12)));
                        out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
                        out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
                    }
                    break;
                }
                default:
                    out.push_back(e);
                    break;
            }
        }
        if (!eat('"')) {
            fail("unterminated string");
        }
        return out;
    }
    json value() {
        json out;
        skip_space();
        if (_pos >= _text.size()) {
            fail("unexpected end");
            return out;
        }
        char c = _text[_pos];
        if (c == '{') {
            out.type = json::kind::object;
            ++_pos;
            if (eat('}')) {
                return out;
            }
            do {
                std::string key = string_literal();
                if (!eat(':')) {
                    fail("expected ':'");
                    return out;
                }
                out.keys.push_back(std::move(key));
                out.values.push_back(value());
            } while (eat(','));
            if (!eat('}')) {
                fail("expected '}'");
            }
        } else if (c == '[') {
            out.type = json::kind::array;
            ++_pos;
            if (eat(']')) {
                return out;
            }
            do {
                out.items.push_back(value());
            } while (eat(','));
            if (!eat(']')) {
                fail("expected ']'");
            }
        } else if (c == '"') {
            out.type = json::kind::string;
            out.text = string_literal();
        } else if (eat_word("true")) {
            out.type = json::kind::boolean;
            out.boolean = true;
        } else if (eat_word("false")) {
            out.type = json::kind::boolean;
        } else if (eat_word("null")) {
            out.type = json::kind::null;
        } else {
            size_t end = _pos;
            while (end < _text.size() &&
                   std::string_view("-0123456789").find(_text[end]) != std::string_view::npos) {
                ++end;
            }
            if (end == _pos || (end < _text.size() && std::string_view(".eE").find(_text[end]) !=
                                                          std::string_view::npos)) {
                fail("expected an integer");
                return out;
            }
            out.type = json::kind::number;
            out.number = std::stoll(std::string(_text.substr(_pos, end - _pos)));
            _pos = end;
        }
        return out;
    }

    std::string_view _text;
    size_t _pos = 0;
    bool _ok = true;
};

// --- helpers --------------------------------------------------------------------

std::filesystem::path golden_dir() {
    if (const char* source = std::getenv("FLOE_SOURCE_DIR")) {
        return std::filesystem::path(source) / "src/kafka/protocol/tests/golden";
    }
    return FLOE_GOLDEN_DIR;
}

byte_vector read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return byte_vector(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

const json& expected() {
    static const json doc = [] {
        byte_vector text = read_file(golden_dir() / "expected.json");
        return json_parser(
                   std::string_view(reinterpret_cast<const char*>(text.data()), text.size()))
            .parse();
    }();
    return doc;
}

std::string text_of(const std::optional<byte_vector>& bytes) {
    return bytes ? std::string(bytes->begin(), bytes->end()) : std::string("<null>");
}

std::string hex(const uuid& id) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (uint8_t b : id.bytes) {
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 15]);
    }
    return out;
}

void expect_string(const json& want, const std::optional<std::string>& got) {
    if (want.is_null()) {
        EXPECT_FALSE(got.has_value()) << *got;
    } else {
        ASSERT_TRUE(got.has_value()) << "want " << want.str();
        EXPECT_EQ(*got, want.str());
    }
}

// Decodes a body at `version` from `body`, requires it to consume every byte,
// and requires encode() to give the same bytes back.
template <typename Message>
Message decode_exactly(byte_span body, int16_t version) {
    Message message;
    byte_reader reader(body);
    status decoded = message.decode(reader, version);
    EXPECT_TRUE(decoded.has_value()) << decoded.error_value().to_string();
    EXPECT_TRUE(reader.at_end()) << reader.remaining() << " bytes left";
    byte_vector encoded;
    byte_writer writer(encoded);
    message.encode(writer, version);
    EXPECT_EQ(encoded, byte_vector(body.begin(), body.end())) << "re-encoding differs";
    return message;
}

// --- per-API checks -------------------------------------------------------------

void check_batches(const json& want, byte_span blob) {
    auto split = split_batches(blob, split_mode::produce);
    ASSERT_TRUE(split.has_value()) << split.error_value().to_string();
    ASSERT_EQ(split->batches.size(), want.size());
    for (size_t b = 0; b < want.size(); ++b) {
        const json& wb = want[b];
        const batch_view& batch = split->batches[b];
        const batch_header& h = batch.header;
        EXPECT_EQ(h.base_offset, wb["base_offset"].i64());
        EXPECT_EQ(h.batch_length, wb["batch_length"].i64());
        EXPECT_EQ(h.partition_leader_epoch, wb["partition_leader_epoch"].i64());
        EXPECT_EQ(h.magic, wb["magic"].i64());
        EXPECT_EQ(h.crc, static_cast<uint32_t>(wb["crc"].i64()));
        EXPECT_EQ(h.attributes, wb["attributes"].i64());
        ASSERT_TRUE(h.codec().has_value());
        EXPECT_EQ(static_cast<int>(*h.codec()), wb["compression"].i64());
        EXPECT_EQ(h.is_transactional(), wb["is_transactional"].boolean);
        EXPECT_EQ(h.last_offset_delta, wb["last_offset_delta"].i64());
        EXPECT_EQ(h.base_timestamp, wb["base_timestamp"].i64());
        EXPECT_EQ(h.max_timestamp, wb["max_timestamp"].i64());
        EXPECT_EQ(h.producer_id, wb["producer_id"].i64());
        EXPECT_EQ(h.producer_epoch, wb["producer_epoch"].i64());
        EXPECT_EQ(h.base_sequence, wb["base_sequence"].i64());
        EXPECT_EQ(h.record_count, wb["record_count"].i64());
        EXPECT_EQ(batch.records_payload().size(),
                  static_cast<size_t>(wb["records_payload_length"].i64()));

        status valid = validate_batch(batch, batch_limits{});
        EXPECT_TRUE(valid.has_value()) << valid.error_value().to_string();
        auto records = decode_records(batch, batch_limits{});
        ASSERT_TRUE(records.has_value()) << records.error_value().to_string();
        const json& wr = wb["records"];
        ASSERT_EQ(records->size(), wr.size());
        for (size_t i = 0; i < wr.size(); ++i) {
            const record& r = (*records)[i];
            SCOPED_TRACE("record " + std::to_string(i));
            EXPECT_EQ(text_of(r.key), wr[i]["key"].is_null() ? "<null>" : wr[i]["key"].str());
            EXPECT_EQ(text_of(r.value), wr[i]["value"].is_null() ? "<null>" : wr[i]["value"].str());
            EXPECT_EQ(r.offset, h.base_offset + static_cast<int64_t>(i));
            if (wr[i].has("timestamp_delta")) {
                EXPECT_EQ(r.timestamp, h.base_timestamp + wr[i]["timestamp_delta"].i64());
            }
            const json& wh = wr[i]["headers"];
            ASSERT_EQ(r.headers.size(), wh.size());
            for (size_t k = 0; k < wh.size(); ++k) {
                EXPECT_EQ(r.headers[k].key, wh[k][0].str());
                EXPECT_EQ(text_of(r.headers[k].value), wh[k][1].str());
            }
        }
    }
}

void check_produce(const json& want, byte_span body, int16_t version) {
    auto m = decode_exactly<produce_request>(body, version);
    expect_string(want["transactional_id"], m.transactional_id);
    EXPECT_EQ(m.acks, want["acks"].i64());
    EXPECT_EQ(m.timeout_ms, want["timeout_ms"].i64());
    const json& topics = want["topics"];
    ASSERT_EQ(m.topic_data.size(), topics.size());
    for (size_t t = 0; t < topics.size(); ++t) {
        EXPECT_EQ(m.topic_data[t].name, topics[t]["name"].str());
        const json& parts = topics[t]["partitions"];
        ASSERT_EQ(m.topic_data[t].partition_data.size(), parts.size());
        for (size_t p = 0; p < parts.size(); ++p) {
            const auto& pd = m.topic_data[t].partition_data[p];
            EXPECT_EQ(pd.index, parts[p]["index"].i64());
            ASSERT_TRUE(pd.records.has_value());
            EXPECT_EQ(static_cast<int64_t>(pd.records->size()), parts[p]["records_length"].i64());
            check_batches(parts[p]["batches"], *pd.records);
        }
    }
}

void check_fetch(const json& want, byte_span body, int16_t version) {
    auto m = decode_exactly<fetch_request>(body, version);
    EXPECT_EQ(m.max_wait_ms, want["max_wait_ms"].i64());
    EXPECT_EQ(m.min_bytes, want["min_bytes"].i64());
    if (version >= 3) {
        EXPECT_EQ(m.max_bytes, want["max_bytes"].i64());
    }
    if (version >= 7) {
        EXPECT_EQ(m.session_id, want["session_id"].i64());
        EXPECT_EQ(m.session_epoch, want["session_epoch"].i64());
    }
    if (version >= 11) {
        EXPECT_EQ(m.rack_id, want["rack_id"].str());
    }
    const json& topics = want["topics"];
    ASSERT_EQ(m.topics.size(), topics.size());
    for (size_t t = 0; t < topics.size(); ++t) {
        if (version >= 13) {
            EXPECT_EQ(hex(m.topics[t].topic_id), topics[t]["topic_id"].str());
        } else {
            EXPECT_EQ(m.topics[t].topic, topics[t]["topic"].str());
        }
        const json& parts = topics[t]["partitions"];
        ASSERT_EQ(m.topics[t].partitions.size(), parts.size());
        for (size_t p = 0; p < parts.size(); ++p) {
            EXPECT_EQ(m.topics[t].partitions[p].partition, parts[p]["partition"].i64());
            EXPECT_EQ(m.topics[t].partitions[p].fetch_offset, parts[p]["fetch_offset"].i64());
            EXPECT_EQ(m.topics[t].partitions[p].partition_max_bytes,
                      parts[p]["partition_max_bytes"].i64());
        }
    }
}

void check_list_offsets(const json& want, byte_span body, int16_t version) {
    auto m = decode_exactly<list_offsets_request>(body, version);
    EXPECT_EQ(m.replica_id, want["replica_id"].i64());
    const json& topics = want["topics"];
    ASSERT_EQ(m.topics.size(), topics.size());
    for (size_t t = 0; t < topics.size(); ++t) {
        EXPECT_EQ(m.topics[t].name, topics[t]["name"].str());
        const json& parts = topics[t]["partitions"];
        ASSERT_EQ(m.topics[t].partitions.size(), parts.size());
        for (size_t p = 0; p < parts.size(); ++p) {
            EXPECT_EQ(m.topics[t].partitions[p].partition_index, parts[p]["partition_index"].i64());
            EXPECT_EQ(m.topics[t].partitions[p].timestamp, parts[p]["timestamp"].i64());
        }
    }
}

void check_metadata(const json& want, byte_span body, int16_t version) {
    auto m = decode_exactly<metadata_request>(body, version);
    const json& topics = want["topics"];
    if (topics.is_null()) {
        EXPECT_FALSE(m.topics.has_value());
    } else {
        ASSERT_TRUE(m.topics.has_value());
        ASSERT_EQ(m.topics->size(), topics.size());
        for (size_t t = 0; t < topics.size(); ++t) {
            expect_string(topics[t]["name"], (*m.topics)[t].name);
        }
    }
    if (version >= 4) {
        EXPECT_EQ(m.allow_auto_topic_creation, want["allow_auto_topic_creation"].boolean);
    }
}

void check_api_versions(const json& want, byte_span body, int16_t version) {
    auto m = decode_exactly<api_versions_request>(body, version);
    if (version >= 3) {
        EXPECT_EQ(m.client_software_name, want["client_software_name"].str());
        EXPECT_EQ(m.client_software_version, want["client_software_version"].str());
    }
}

void check_init_producer_id(const json& want, byte_span body, int16_t version) {
    auto m = decode_exactly<init_producer_id_request>(body, version);
    expect_string(want["transactional_id"], m.transactional_id);
    EXPECT_EQ(m.transaction_timeout_ms, want["transaction_timeout_ms"].i64());
}

void check_find_coordinator(const json& want, byte_span body, int16_t version) {
    auto m = decode_exactly<find_coordinator_request>(body, version);
    if (version <= 3) {
        EXPECT_EQ(m.key, want["key"].str());
    } else {
        const json& keys = want["coordinator_keys"];
        ASSERT_EQ(m.coordinator_keys.size(), keys.size());
        for (size_t i = 0; i < keys.size(); ++i) {
            EXPECT_EQ(m.coordinator_keys[i], keys[i].str());
        }
    }
    if (version >= 1) {
        EXPECT_EQ(m.key_type, want["key_type"].i64());
    }
}

void check_join_group(const json& want, byte_span body, int16_t version) {
    auto m = decode_exactly<join_group_request>(body, version);
    EXPECT_EQ(m.group_id, want["group_id"].str());
    EXPECT_EQ(m.session_timeout_ms, want["session_timeout_ms"].i64());
    EXPECT_EQ(m.member_id, want["member_id"].str());
    EXPECT_EQ(m.protocol_type, want["protocol_type"].str());
    const json& protocols = want["protocols"];
    ASSERT_EQ(m.protocols.size(), protocols.size());
    for (size_t i = 0; i < protocols.size(); ++i) {
        EXPECT_EQ(m.protocols[i].name, protocols[i]["name"].str());
        EXPECT_EQ(static_cast<int64_t>(m.protocols[i].metadata.size()),
                  protocols[i]["metadata_length"].i64());
    }
}

void check_sync_group(const json& want, byte_span body, int16_t version) {
    auto m = decode_exactly<sync_group_request>(body, version);
    EXPECT_EQ(m.group_id, want["group_id"].str());
    EXPECT_EQ(m.generation_id, want["generation_id"].i64());
    EXPECT_EQ(m.member_id, want["member_id"].str());
    ASSERT_EQ(m.assignments.size(), want["assignments"].size());
    for (size_t i = 0; i < m.assignments.size(); ++i) {
        EXPECT_EQ(m.assignments[i].member_id, want["assignments"][i]["member_id"].str());
    }
}

void check_heartbeat(const json& want, byte_span body, int16_t version) {
    auto m = decode_exactly<heartbeat_request>(body, version);
    EXPECT_EQ(m.group_id, want["group_id"].str());
    EXPECT_EQ(m.generation_id, want["generation_id"].i64());
    EXPECT_EQ(m.member_id, want["member_id"].str());
}

void check_leave_group(const json& want, byte_span body, int16_t version) {
    auto m = decode_exactly<leave_group_request>(body, version);
    EXPECT_EQ(m.group_id, want["group_id"].str());
    if (version <= 2) {
        EXPECT_EQ(m.member_id, want["member_id"].str());
    } else {
        ASSERT_EQ(m.members.size(), want["members"].size());
        for (size_t i = 0; i < m.members.size(); ++i) {
            EXPECT_EQ(m.members[i].member_id, want["members"][i]["member_id"].str());
        }
    }
}

void check_offset_fetch(const json& want, byte_span body, int16_t version) {
    auto m = decode_exactly<offset_fetch_request>(body, version);
    if (version <= 7) {
        EXPECT_EQ(m.group_id, want["group_id"].str());
    } else {
        ASSERT_EQ(m.groups.size(), want["groups"].size());
        for (size_t i = 0; i < m.groups.size(); ++i) {
            EXPECT_EQ(m.groups[i].group_id, want["groups"][i]["group_id"].str());
            const json& topics = want["groups"][i]["topics"];
            ASSERT_EQ(m.groups[i].topics.has_value(), !topics.is_null());
            if (!topics.is_null()) {
                ASSERT_EQ(m.groups[i].topics->size(), topics.size());
                for (size_t t = 0; t < topics.size(); ++t) {
                    EXPECT_EQ((*m.groups[i].topics)[t].name, topics[t]["name"].str());
                }
            }
        }
    }
}

void check_offset_commit(const json& want, byte_span body, int16_t version) {
    auto m = decode_exactly<offset_commit_request>(body, version);
    EXPECT_EQ(m.group_id, want["group_id"].str());
    EXPECT_EQ(m.generation_id_or_member_epoch, want["generation_id_or_member_epoch"].i64());
    EXPECT_EQ(m.member_id, want["member_id"].str());
    const json& topics = want["topics"];
    ASSERT_EQ(m.topics.size(), topics.size());
    for (size_t t = 0; t < topics.size(); ++t) {
        EXPECT_EQ(m.topics[t].name, topics[t]["name"].str());
        const json& parts = topics[t]["partitions"];
        ASSERT_EQ(m.topics[t].partitions.size(), parts.size());
        for (size_t p = 0; p < parts.size(); ++p) {
            EXPECT_EQ(m.topics[t].partitions[p].partition_index, parts[p]["partition_index"].i64());
            EXPECT_EQ(m.topics[t].partitions[p].committed_offset,
                      parts[p]["committed_offset"].i64());
        }
    }
}

void check_create_topics(const json& want, byte_span body, int16_t version) {
    auto m = decode_exactly<create_topics_request>(body, version);
    EXPECT_EQ(m.timeout_ms, want["timeout_ms"].i64());
    const json& topics = want["topics"];
    ASSERT_EQ(m.topics.size(), topics.size());
    for (size_t t = 0; t < topics.size(); ++t) {
        EXPECT_EQ(m.topics[t].name, topics[t]["name"].str());
        EXPECT_EQ(m.topics[t].num_partitions, topics[t]["num_partitions"].i64());
        EXPECT_EQ(m.topics[t].replication_factor, topics[t]["replication_factor"].i64());
        const json& configs = topics[t]["configs"];
        ASSERT_EQ(m.topics[t].configs.size(), configs.size());
        for (size_t c = 0; c < configs.size(); ++c) {
            EXPECT_EQ(m.topics[t].configs[c].name, configs[c][0].str());
            expect_string(configs[c][1], m.topics[t].configs[c].value);
        }
    }
}

void check_describe_topic_partitions(const json& want, byte_span body, int16_t version) {
    auto m = decode_exactly<describe_topic_partitions_request>(body, version);
    EXPECT_EQ(m.response_partition_limit, want["response_partition_limit"].i64());
    EXPECT_EQ(m.cursor.has_value(), !want["cursor"].is_null());
    const json& topics = want["topics"];
    ASSERT_EQ(m.topics.size(), topics.size());
    for (size_t t = 0; t < topics.size(); ++t) {
        EXPECT_EQ(m.topics[t].name, topics[t].str());
    }
}

using body_check = void (*)(const json&, byte_span, int16_t);

struct api_entry {
    body_check check;
    int16_t (*header_version)(int16_t);
};

const std::map<int16_t, api_entry>& apis() {
    static const std::map<int16_t, api_entry> table = {
        {produce_request::api_key, {check_produce, produce_request::header_version}},
        {fetch_request::api_key, {check_fetch, fetch_request::header_version}},
        {list_offsets_request::api_key, {check_list_offsets, list_offsets_request::header_version}},
        {metadata_request::api_key, {check_metadata, metadata_request::header_version}},
        {offset_commit_request::api_key,
         {check_offset_commit, offset_commit_request::header_version}},
        {offset_fetch_request::api_key, {check_offset_fetch, offset_fetch_request::header_version}},
        {find_coordinator_request::api_key,
         {check_find_coordinator, find_coordinator_request::header_version}},
        {join_group_request::api_key, {check_join_group, join_group_request::header_version}},
        {heartbeat_request::api_key, {check_heartbeat, heartbeat_request::header_version}},
        {leave_group_request::api_key, {check_leave_group, leave_group_request::header_version}},
        {sync_group_request::api_key, {check_sync_group, sync_group_request::header_version}},
        {api_versions_request::api_key, {check_api_versions, api_versions_request::header_version}},
        {create_topics_request::api_key,
         {check_create_topics, create_topics_request::header_version}},
        {init_producer_id_request::api_key,
         {check_init_producer_id, init_producer_id_request::header_version}},
        {describe_topic_partitions_request::api_key,
         {check_describe_topic_partitions, describe_topic_partitions_request::header_version}},
    };
    return table;
}

// --- tests ------------------------------------------------------------------------

TEST(golden_requests, every_captured_file_is_listed) {
    std::vector<std::string> listed;
    for (const json& file : expected()["files"].items) {
        listed.push_back(file["path"].str());
    }
    size_t on_disk = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(golden_dir())) {
        if (entry.path().extension() == ".bin") {
            ++on_disk;
            std::string relative = std::filesystem::relative(entry.path(), golden_dir()).string();
            EXPECT_NE(std::find(listed.begin(), listed.end(), relative), listed.end()) << relative;
        }
    }
    EXPECT_EQ(on_disk, listed.size());
    EXPECT_GT(on_disk, 0u);
}

TEST(golden_requests, every_client_produced_every_codec) {
    // client directory -> codecs seen in its produce batches
    std::map<std::string, std::set<int64_t>> codecs;
    for (const json& file : expected()["files"].items) {
        if (file["api_key"].i64() != produce_request::api_key) {
            continue;
        }
        std::string client = file["path"].str().substr(0, file["path"].str().find('/'));
        for (const json& topic : file["body"]["topics"].items) {
            for (const json& partition : topic["partitions"].items) {
                for (const json& batch : partition["batches"].items) {
                    codecs[client].insert(batch["compression"].i64());
                }
            }
        }
    }
    EXPECT_EQ(codecs.size(), 3u);
    for (const auto& [client, seen] : codecs) {
        EXPECT_EQ(seen, (std::set<int64_t>{0, 1, 2, 3, 4})) << client;
    }
}

TEST(golden_requests, headers_and_bodies_decode_as_expected) {
    const json& files = expected()["files"];
    ASSERT_GT(files.size(), 0u);
    for (const json& file : files.items) {
        SCOPED_TRACE(file["path"].str());
        byte_vector frame = read_file(golden_dir() / file["path"].str());
        ASSERT_EQ(static_cast<int64_t>(frame.size()), file["size"].i64());
        const auto api_key = static_cast<int16_t>(file["api_key"].i64());
        const auto version = static_cast<int16_t>(file["api_version"].i64());
        const auto header_version = static_cast<int16_t>(file["header_version"].i64());
        auto api = apis().find(api_key);
        ASSERT_NE(api, apis().end()) << "no check for api key " << api_key;
        EXPECT_EQ(api->second.header_version(version), header_version);

        request_header header;
        byte_reader reader(frame);
        status decoded = header.decode(reader, header_version);
        ASSERT_TRUE(decoded.has_value()) << decoded.error_value().to_string();
        EXPECT_EQ(header.request_api_key, api_key);
        EXPECT_EQ(header.request_api_version, version);
        EXPECT_EQ(header.correlation_id, file["correlation_id"].i64());
        expect_string(file["client_id"], header.client_id);
        const size_t body_offset = reader.position();
        ASSERT_EQ(static_cast<int64_t>(body_offset), file["body_offset"].i64());

        byte_vector reencoded;
        byte_writer writer(reencoded);
        header.encode(writer, header_version);
        EXPECT_EQ(reencoded,
                  byte_vector(frame.begin(), frame.begin() + static_cast<ptrdiff_t>(body_offset)));

        api->second.check(file["body"], byte_span(frame).subspan(body_offset), version);
    }
}

}  // namespace
}  // namespace floe::kafka
