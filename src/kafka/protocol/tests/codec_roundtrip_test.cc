// Tests of the generated Kafka codecs (src/kafka/protocol/generated/).
//
// Every message at every version: randomize -> encode -> decode -> equal ->
// encode again -> identical bytes, for several seeds, and every strict prefix
// of an encoding fails to decode. Then hand-written byte layouts for the cases
// that matter most on the wire.
#include <gtest/gtest.h>

#include <cstdlib>
#include <new>
#include <random>
#include <string>

#include "kafka/protocol/generated/api_registry.h"
#include "kafka/protocol/generated/testing/randomize.h"
#include "kafka/protocol/wire.h"

// Largest single allocation made through operator new since the last reset,
// to show that hostile lengths are rejected before allocating. The replacement
// pairs malloc with free, which GCC cannot see through.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
namespace {
size_t largest_allocation = 0;
}  // namespace

void* operator new(size_t size) {
    if (size > largest_allocation) {
        largest_allocation = size;
    }
    if (void* p = std::malloc(size == 0 ? 1 : size)) {
        return p;
    }
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, size_t) noexcept {
    std::free(p);
}

namespace floe::kafka {
namespace {

constexpr uint64_t seeds_per_version = 6;

byte_vector encode_at(const auto& value, int16_t version) {
    byte_vector out;
    byte_writer writer(out);
    value.encode(writer, version);
    return out;
}

template <typename T>
void expect_round_trips(const char* name) {
    for (int16_t version = T::min_version; version <= T::max_version; ++version) {
        for (uint64_t seed = 0; seed < seeds_per_version; ++seed) {
            SCOPED_TRACE(std::string(name) + " v" + std::to_string(version) + " seed " +
                         std::to_string(seed));
            std::mt19937_64 rng(seed * 1000 + static_cast<uint64_t>(version));
            T original;
            testing::randomize(original, rng, version);
            byte_vector first = encode_at(original, version);

            T decoded;
            byte_reader reader(first);
            status decoded_status = decoded.decode(reader, version);
            ASSERT_TRUE(decoded_status.has_value()) << decoded_status.error_value().to_string();
            ASSERT_TRUE(reader.at_end()) << reader.remaining() << " bytes left over";
            ASSERT_TRUE(decoded == original);
            ASSERT_EQ(encode_at(decoded, version), first);

            // Corrupted encodings decode to a value or an error, never a crash
            // (meaningful under ASan/UBSan: make asan).
            for (int mutation = 0; mutation < 16 && !first.empty(); ++mutation) {
                byte_vector corrupted = first;
                size_t flips = 1 + rng() % 3;
                for (size_t f = 0; f < flips; ++f) {
                    corrupted[rng() % corrupted.size()] = static_cast<uint8_t>(rng());
                }
                T ignored;
                byte_reader corrupted_reader(corrupted);
                (void)ignored.decode(corrupted_reader, version);
            }

            if (seed == 0) {
                // Decoding is deterministic and consumes the whole encoding, so
                // every strict prefix runs out of input.
                for (size_t length = 0; length < first.size(); ++length) {
                    T partial;
                    byte_reader prefix(byte_span(first).first(length));
                    ASSERT_FALSE(partial.decode(prefix, version).has_value())
                        << "prefix of " << length << " of " << first.size() << " bytes";
                }
            }
        }
    }
}

// One test per generated message, named after its C++ type.
template <typename T>
class round_trip_test : public ::testing::Test {
  public:
    explicit round_trip_test(const char* name) : _name(name) {}
    void TestBody() override { expect_round_trips<T>(_name); }

  private:
    const char* _name;
};

template <typename T>
bool register_round_trip(const char* name) {
    ::testing::RegisterTest("codec_roundtrip", name, nullptr, nullptr, __FILE__, __LINE__,
                            [name]() -> ::testing::Test* { return new round_trip_test<T>(name); });
    return true;
}

#define FLOE_REGISTER_ROUND_TRIP(type) \
    [[maybe_unused]] const bool registered_##type = register_round_trip<type>(#type);
FLOE_KAFKA_GENERATED_MESSAGES(FLOE_REGISTER_ROUND_TRIP)
#undef FLOE_REGISTER_ROUND_TRIP

template <typename T>
status decode_bytes(T& out, const byte_vector& bytes, int16_t version) {
    byte_reader reader(bytes);
    return out.decode(reader, version);
}

TEST(codec_layout, api_versions_response_v0_and_v3) {
    api_versions_response response;
    response.error_code = 0;
    auto& entry = response.api_keys.emplace_back();
    entry.api_key = 18;
    entry.min_version = 0;
    entry.max_version = 3;
    response.throttle_time_ms = 5;

    // v0: int16 error, int32 array count, 3 x int16 per entry; no throttle time.
    EXPECT_EQ(encode_at(response, 0), (byte_vector{0, 0, 0, 0, 0, 1, 0, 18, 0, 0, 0, 3}));
    // v3: compact array (count + 1), a tagged-field section after each entry and
    // after the body; throttle time present.
    EXPECT_EQ(encode_at(response, 3), (byte_vector{0, 0, 2, 0, 18, 0, 0, 0, 3, 0, 0, 0, 0, 5, 0}));

    // A known tagged field is written only when it differs from its default (-1).
    response.finalized_features_epoch = 7;
    EXPECT_EQ(encode_at(response, 3), (byte_vector{0, 0, 2, 0, 18, 0, 0, 0, 3, 0, 0, 0, 0,
                                                   5, 1, 1, 8, 0,  0, 0, 0, 0, 0, 0, 7}));
    api_versions_response decoded;
    ASSERT_TRUE(decode_bytes(decoded, encode_at(response, 3), 3).has_value());
    EXPECT_EQ(decoded.finalized_features_epoch, 7);
    EXPECT_EQ(decoded, response);

    // The response header of ApiVersions is always v0.
    EXPECT_EQ(api_versions_response::header_version(3), 0);
    EXPECT_EQ(api_versions_request::header_version(3), 2);
    EXPECT_EQ(api_versions_request::header_version(2), 1);
    EXPECT_EQ(metadata_response::header_version(9), 1);
    EXPECT_EQ(metadata_response::header_version(8), 0);
    EXPECT_EQ(controlled_shutdown_request::header_version(0), 0);
}

TEST(codec_layout, request_header_v2_with_null_client_id) {
    request_header header;
    header.request_api_key = 18;
    header.request_api_version = 3;
    header.correlation_id = 7;
    header.client_id = std::nullopt;
    // The client id keeps its int16 length (-1 = null) even in the flexible v2.
    byte_vector expected{0, 18, 0, 3, 0, 0, 0, 7, 0xff, 0xff, 0};
    EXPECT_EQ(encode_at(header, 2), expected);

    request_header decoded;
    decoded.client_id = "stale";
    byte_reader reader(expected);
    ASSERT_TRUE(decoded.decode(reader, 2).has_value());
    EXPECT_TRUE(reader.at_end());
    EXPECT_FALSE(decoded.client_id.has_value());
    EXPECT_EQ(decoded, header);

    header.client_id = "ab";
    EXPECT_EQ(encode_at(header, 2), (byte_vector{0, 18, 0, 3, 0, 0, 0, 7, 0, 2, 'a', 'b', 0}));
    EXPECT_EQ(encode_at(header, 1), (byte_vector{0, 18, 0, 3, 0, 0, 0, 7, 0, 2, 'a', 'b'}));
    EXPECT_EQ(encode_at(header, 0), (byte_vector{0, 18, 0, 3, 0, 0, 0, 7}));
}

TEST(codec_layout, unknown_tagged_fields_are_preserved_byte_for_byte) {
    // ApiVersionsResponse v3 with known tag 1 (finalized features epoch) and
    // unknown tags 4 and 9, in ascending order.
    byte_vector bytes{0, 0, 1,                                // error code, empty compact array
                      0, 0, 0,    0,                          // throttle time
                      3,                                      // three tagged fields
                      1, 8, 0,    0,    0,   0, 0, 0, 0, 42,  // tag 1: int64 42
                      4, 0,                                   // tag 4: empty
                      9, 3, 0xaa, 0xbb, 0xcc};                // tag 9: 3 bytes
    api_versions_response decoded;
    ASSERT_TRUE(decode_bytes(decoded, bytes, 3).has_value());
    EXPECT_EQ(decoded.finalized_features_epoch, 42);
    ASSERT_EQ(decoded.unknown_tagged_fields.size(), 2u);
    EXPECT_EQ(decoded.unknown_tagged_fields[0], (tagged_field{4, {}}));
    EXPECT_EQ(decoded.unknown_tagged_fields[1], (tagged_field{9, {0xaa, 0xbb, 0xcc}}));
    EXPECT_EQ(encode_at(decoded, 3), bytes);

    // Unknown tags below a known one are merged in ascending order on encode.
    api_versions_request request;
    request.client_software_name = "x";
    request.client_software_version = "1";
    request.unknown_tagged_fields = {{0, {1}}, {5, {2, 3}}};
    byte_vector request_bytes = encode_at(request, 3);
    EXPECT_EQ(request_bytes, (byte_vector{2, 'x', 2, '1', 2, 0, 1, 1, 5, 2, 2, 3}));
    api_versions_request request_decoded;
    ASSERT_TRUE(decode_bytes(request_decoded, request_bytes, 3).has_value());
    EXPECT_EQ(request_decoded, request);
}

TEST(codec_layout, tagged_field_section_errors) {
    auto decode_tags = [](byte_vector tags) {
        byte_vector bytes{0, 0, 1, 0, 0, 0, 0};
        bytes.insert(bytes.end(), tags.begin(), tags.end());
        api_versions_response decoded;
        return decode_bytes(decoded, bytes, 3);
    };
    EXPECT_TRUE(decode_tags({2, 4, 0, 5, 0}).has_value());
    // Duplicate and descending tags.
    EXPECT_EQ(decode_tags({2, 4, 0, 4, 0}).error_value().code, errc::corrupt);
    EXPECT_EQ(decode_tags({2, 5, 0, 4, 0}).error_value().code, errc::corrupt);
    // A known tag whose value does not fill its declared size, or overruns it.
    EXPECT_EQ(decode_tags({1, 1, 9, 0, 0, 0, 0, 0, 0, 0, 42, 0}).error_value().code, errc::corrupt);
    EXPECT_EQ(decode_tags({1, 1, 7, 0, 0, 0, 0, 0, 0, 42}).error_value().code, errc::corrupt);
    // A size beyond the input.
    EXPECT_FALSE(decode_tags({1, 9, 200, 1}).has_value());
}

TEST(codec_layout, compact_nullable_string_null_versus_empty) {
    produce_request request;
    request.acks = -1;
    request.timeout_ms = 1000;
    request.transactional_id = std::nullopt;
    byte_vector null_bytes = encode_at(request, 9);
    EXPECT_EQ(null_bytes, (byte_vector{0, 0xff, 0xff, 0, 0, 3, 0xe8, 1, 0}));
    request.transactional_id = "";
    byte_vector empty_bytes = encode_at(request, 9);
    EXPECT_EQ(empty_bytes, (byte_vector{1, 0xff, 0xff, 0, 0, 3, 0xe8, 1, 0}));

    produce_request decoded;
    ASSERT_TRUE(decode_bytes(decoded, null_bytes, 9).has_value());
    EXPECT_FALSE(decoded.transactional_id.has_value());
    ASSERT_TRUE(decode_bytes(decoded, empty_bytes, 9).has_value());
    ASSERT_TRUE(decoded.transactional_id.has_value());
    EXPECT_EQ(*decoded.transactional_id, "");

    // Non-flexible: int16 -1 for null, 0 for empty.
    request.transactional_id = std::nullopt;
    EXPECT_EQ(encode_at(request, 3),
              (byte_vector{0xff, 0xff, 0xff, 0xff, 0, 0, 3, 0xe8, 0, 0, 0, 0}));
}

TEST(codec_layout, truncated_prefixes_fail) {
    metadata_request request;
    request.topics.emplace();
    request.topics->emplace_back().name = "orders";
    request.allow_auto_topic_creation = true;
    for (int16_t version : {int16_t{1}, int16_t{9}, int16_t{12}}) {
        byte_vector bytes = encode_at(request, version);
        for (size_t length = 0; length < bytes.size(); ++length) {
            metadata_request partial;
            byte_reader reader(byte_span(bytes).first(length));
            EXPECT_FALSE(partial.decode(reader, version).has_value()) << length;
            EXPECT_FALSE(reader.ok());
        }
        metadata_request whole;
        EXPECT_TRUE(decode_bytes(whole, bytes, version).has_value());
    }
}

TEST(codec_layout, huge_array_count_fails_without_allocating) {
    // MetadataRequest v1: int32 topic count 2^31-1, then 6 bytes.
    byte_vector bytes{0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0};
    ASSERT_EQ(bytes.size(), 10u);
    metadata_request decoded;
    largest_allocation = 0;
    status result = decode_bytes(decoded, bytes, 1);
    size_t largest = largest_allocation;
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error_value().code, errc::truncated);
    EXPECT_LT(largest, 1024u) << "decode allocated " << largest << " bytes";

    // Flexible: compact count 2^32-2 (uvarint 0xffffffff).
    byte_vector compact{0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0, 0};
    largest_allocation = 0;
    result = decode_bytes(decoded, compact, 9);
    largest = largest_allocation;
    ASSERT_FALSE(result.has_value());
    EXPECT_LT(largest, 1024u) << "decode allocated " << largest << " bytes";

    // A string length beyond the input.
    byte_vector long_string{0x7f, 0xff, 'a'};
    largest_allocation = 0;
    byte_reader reader(long_string);
    std::string out;
    wire::read_string(reader, out, false);
    largest = largest_allocation;
    EXPECT_FALSE(reader.ok());
    EXPECT_LT(largest, 1024u);
}

TEST(codec_layout, null_where_not_nullable_is_corrupt) {
    // ProduceRequest v0: acks, timeout, then the topic array as null (-1); the
    // array is never nullable.
    byte_vector bytes{0, 1, 0, 0, 0, 100, 0xff, 0xff, 0xff, 0xff};
    produce_request decoded;
    status result = decode_bytes(decoded, bytes, 0);
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error_value().code, errc::corrupt);

    // MetadataRequest v0 topics are not nullable, v1+ are.
    byte_vector null_topics{0xff, 0xff, 0xff, 0xff};
    metadata_request metadata;
    EXPECT_EQ(decode_bytes(metadata, null_topics, 0).error_value().code, errc::corrupt);
    ASSERT_TRUE(decode_bytes(metadata, null_topics, 1).has_value());
    EXPECT_FALSE(metadata.topics.has_value());

    // A null non-nullable string: the topic name in ProduceRequest v9 (compact 0).
    byte_vector null_name{0, 0, 1, 0, 0, 0, 100, 2, 0, 1, 0, 0};
    EXPECT_EQ(decode_bytes(decoded, null_name, 9).error_value().code, errc::corrupt);
}

TEST(codec_layout, null_into_non_nullable_version_encodes_empty) {
    metadata_request request;
    request.topics = std::nullopt;
    // v0 has no null array: written as empty.
    EXPECT_EQ(encode_at(request, 0), (byte_vector{0, 0, 0, 0}));
    EXPECT_EQ(encode_at(request, 1), (byte_vector{0xff, 0xff, 0xff, 0xff}));
}

TEST(codec_layout, defaults_follow_the_spec) {
    metadata_request metadata;
    EXPECT_TRUE(metadata.allow_auto_topic_creation);  // default true
    list_offsets_request offsets;
    EXPECT_EQ(offsets.replica_id, 0);
    fetch_request fetch;
    EXPECT_FALSE(fetch.cluster_id.has_value());  // default null
    EXPECT_EQ(fetch.replica_id, -1);
    EXPECT_EQ(fetch.max_bytes, 0x7fffffff);
    produce_request produce;
    EXPECT_FALSE(produce.topic_data.size());
}

TEST(codec_api_registry, random_bytes_never_crash_decode_request_body) {
    std::mt19937_64 rng(42);
    for (const api_info& api : all_apis()) {
        for (int16_t version = api.min_version; version <= api.max_version; ++version) {
            for (int round = 0; round < 32; ++round) {
                byte_vector bytes(rng() % 64);
                for (uint8_t& b : bytes) {
                    // Mostly small values, so lengths and counts are often plausible.
                    b = static_cast<uint8_t>(rng() % 4 == 0 ? rng() : rng() % 3);
                }
                byte_reader reader(bytes);
                (void)decode_request_body(api.key, version, reader);
            }
        }
    }
}

TEST(codec_api_registry, table_and_decode_request_body) {
    ASSERT_FALSE(all_apis().empty());
    const api_info* produce = find_api(0);
    ASSERT_NE(produce, nullptr);
    EXPECT_EQ(produce->name, "Produce");
    EXPECT_EQ(produce->max_version, produce_request::max_version);
    EXPECT_EQ(produce->flexible_min_version, produce_request::flexible_min_version);
    EXPECT_EQ(static_cast<int16_t>(api_key::api_versions), 18);
    EXPECT_EQ(find_api(-1), nullptr);
    for (size_t i = 1; i < all_apis().size(); ++i) {
        EXPECT_LT(all_apis()[i - 1].key, all_apis()[i].key);
    }

    api_versions_request request;
    request.client_software_name = "floe";
    request.client_software_version = "1";
    byte_vector bytes = encode_at(request, 3);
    byte_reader reader(bytes);
    EXPECT_TRUE(decode_request_body(18, 3, reader).has_value());
    EXPECT_TRUE(reader.at_end());

    byte_reader unknown_key(bytes);
    EXPECT_EQ(decode_request_body(-5, 0, unknown_key).error_value().code, errc::unsupported);
    EXPECT_FALSE(unknown_key.ok());
    byte_reader bad_version(bytes);
    EXPECT_EQ(decode_request_body(18, 99, bad_version).error_value().code, errc::unsupported);
}

}  // namespace
}  // namespace floe::kafka
