// Produce over a real connection: offsets, acks, validation, topic configs
// that change what is stored, idempotent producers (across a restart too)
// and pipelined requests.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "kafka/broker/tests/data_fixture.h"
#include "kafka/protocol/generated/metadata_request.h"
#include "kafka/protocol/generated/metadata_response.h"

namespace floe::kafka {
namespace {

using namespace testing;

// CRC-32 (IEEE, as legacy magic 0/1 messages use), bit by bit.
uint32_t crc32_ieee(byte_span bytes) {
    uint32_t crc = 0xffffffffu;
    for (uint8_t b : bytes) {
        crc ^= b;
        for (int i = 0; i < 8; ++i) {
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
        }
    }
    return ~crc;
}

// A legacy (magic 1) message set of one message: offset, size, crc, magic,
// attributes, timestamp, key (null), value.
byte_vector legacy_message_set(std::string_view value) {
    byte_vector body;  // magic .. value: what the CRC covers
    byte_writer body_writer(body);
    body_writer.write_int8(1);  // magic
    body_writer.write_int8(0);  // attributes: no compression, CreateTime
    body_writer.write_int64(wall_clock_ms());
    body_writer.write_int32(-1);  // null key
    body_writer.write_int32(static_cast<int32_t>(value.size()));
    body_writer.write_bytes(value);
    byte_vector out;
    byte_writer writer(out);
    writer.write_int64(0);
    writer.write_int32(static_cast<int32_t>(body.size() + 4));
    writer.write_uint32(crc32_ieee(body));
    writer.write_bytes(byte_span(body));
    return out;
}

// One record "v" with `timestamp`, whatever its value.
byte_vector single_record_batch(int64_t timestamp) {
    record_batch_builder builder({});
    builder.append(timestamp, std::nullopt, bytes_of("v"));
    auto built = builder.build();
    EXPECT_TRUE(built.has_value());
    return built ? std::move(*built) : byte_vector{};
}

class ProduceTest : public DataTest {};

TEST_F(ProduceTest, BaseOffsetsAreContiguousAcrossRequests) {
    create_topic("t");
    auto client = connect();
    auto first = produce(*client, "t", 0, make_batch({.values = {"a", "b", "c"}}), 1);
    EXPECT_EQ(first.error_code, 0);
    EXPECT_EQ(first.base_offset, 0);
    EXPECT_EQ(first.log_append_time_ms, -1);
    EXPECT_EQ(first.log_start_offset, 0);
    auto second = produce(*client, "t", 0, make_batch({.values = {"d", "e"}}), -1);
    EXPECT_EQ(second.error_code, 0);
    EXPECT_EQ(second.base_offset, 3);
    // Another connection and an older version continue the same sequence.
    auto third = produce("t", 0, make_batch({.values = {"f"}}), 1, 3);
    EXPECT_EQ(third.error_code, 0);
    EXPECT_EQ(third.base_offset, 5);
    EXPECT_EQ(offsets_of_partition("t", 0).high_watermark, 6);
    auto fetched = fetch("t", 0, 0);
    ASSERT_TRUE(fetched.records.has_value());
    auto records = decode_all(*fetched.records);
    EXPECT_EQ(values_of(records), (strings{"a", "b", "c", "d", "e", "f"}));
    EXPECT_EQ(offsets_of(records), (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
}

TEST_F(ProduceTest, AcksZeroSendsNoResponseButAppends) {
    create_topic("t");
    auto client = connect();
    ASSERT_TRUE(
        client->send(produce_request_for("t", 0, make_batch({.values = {"x", "y"}}), 0), 9));
    // The next response on the connection answers the next request.
    metadata_request meta;
    meta.topics = std::vector<metadata_request::metadata_request_topic>{};
    meta.topics->push_back({{}, std::string("t"), {}});
    auto answered = client->call<metadata_response>(meta, 9);
    ASSERT_TRUE(answered);
    ASSERT_EQ(answered->topics.size(), 1u);
    EXPECT_EQ(answered->topics[0].error_code, 0);
    ASSERT_TRUE(wait_for_high_watermark("t", 0, 2));
    auto fetched = fetch("t", 0, 0);
    ASSERT_TRUE(fetched.records.has_value());
    EXPECT_EQ(values_of(decode_all(*fetched.records)), (strings{"x", "y"}));
    // A later acks=1 produce on the same connection continues after them.
    auto next = produce(*client, "t", 0, make_batch({.values = {"z"}}), 1);
    EXPECT_EQ(next.error_code, 0);
    EXPECT_EQ(next.base_offset, 2);
}

TEST_F(ProduceTest, SeveralTopicsAndPartitionsInOneRequest) {
    create_topic("a", 2);
    create_topic("b", 1);
    auto client = connect();
    for (int round = 0; round < 2; ++round) {
        produce_request req;
        req.acks = -1;
        req.timeout_ms = 10000;
        req.topic_data.push_back({"a",
                                  {{0, make_batch({.values = {"a0", "a0"}}), {}},
                                   {1, make_batch({.values = {"a1"}}), {}}},
                                  {}});
        req.topic_data.push_back({"b", {{0, make_batch({.values = {"b", "b", "b"}}), {}}}, {}});
        auto res = client->call<produce_response>(req, 7);
        ASSERT_TRUE(res);
        ASSERT_EQ(res->responses.size(), 2u);
        EXPECT_EQ(res->responses[0].name, "a");
        EXPECT_EQ(res->responses[1].name, "b");
        ASSERT_EQ(res->responses[0].partition_responses.size(), 2u);
        ASSERT_EQ(res->responses[1].partition_responses.size(), 1u);
        const auto& a0 = res->responses[0].partition_responses[0];
        const auto& a1 = res->responses[0].partition_responses[1];
        const auto& b0 = res->responses[1].partition_responses[0];
        EXPECT_EQ(a0.index, 0);
        EXPECT_EQ(a1.index, 1);
        EXPECT_EQ(b0.index, 0);
        EXPECT_EQ(a0.error_code, 0);
        EXPECT_EQ(a1.error_code, 0);
        EXPECT_EQ(b0.error_code, 0);
        EXPECT_EQ(a0.base_offset, 2 * round);
        EXPECT_EQ(a1.base_offset, round);
        EXPECT_EQ(b0.base_offset, 3 * round);
    }
    EXPECT_EQ(offsets_of_partition("a", 0).high_watermark, 4);
    EXPECT_EQ(offsets_of_partition("a", 1).high_watermark, 2);
    EXPECT_EQ(offsets_of_partition("b", 0).high_watermark, 6);
}

TEST_F(ProduceTest, UnknownTopicOrPartition) {
    create_topic("t", 2);
    auto client = connect();
    produce_request req;
    req.acks = 1;
    req.timeout_ms = 10000;
    req.topic_data.push_back({"t",
                              {{0, make_batch({.values = {"ok"}}), {}},
                               {2, make_batch({.values = {"no"}}), {}},
                               {-1, make_batch({.values = {"no"}}), {}}},
                              {}});
    req.topic_data.push_back({"missing", {{0, make_batch({.values = {"no"}}), {}}}, {}});
    auto res = client->call<produce_response>(req, 11);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->responses.size(), 2u);
    ASSERT_EQ(res->responses[0].partition_responses.size(), 3u);
    EXPECT_EQ(res->responses[0].partition_responses[0].error_code, 0);
    EXPECT_EQ(res->responses[0].partition_responses[0].base_offset, 0);
    for (size_t i = 1; i < 3; ++i) {
        EXPECT_EQ(res->responses[0].partition_responses[i].error_code,
                  code(error_code::unknown_topic_or_partition));
        EXPECT_EQ(res->responses[0].partition_responses[i].base_offset, -1);
    }
    EXPECT_EQ(res->responses[1].name, "missing");
    ASSERT_EQ(res->responses[1].partition_responses.size(), 1u);
    EXPECT_EQ(res->responses[1].partition_responses[0].error_code,
              code(error_code::unknown_topic_or_partition));
    // Produce does not create topics.
    EXPECT_FALSE(harness().registry().find("missing").has_value());
    EXPECT_EQ(offsets_of_partition("t", 0).high_watermark, 1);
    EXPECT_EQ(offsets_of_partition("t", 1).high_watermark, 0);
}

TEST_F(ProduceTest, InvalidRequiredAcks) {
    create_topic("t");
    for (int16_t acks : {int16_t{2}, int16_t{-2}, int16_t{100}}) {
        auto answer = produce("t", 0, make_batch({.values = {"a"}}), acks);
        EXPECT_EQ(answer.error_code, code(error_code::invalid_required_acks)) << acks;
        EXPECT_EQ(answer.base_offset, -1);
    }
    EXPECT_EQ(offsets_of_partition("t", 0).high_watermark, 0);
}

TEST_F(ProduceTest, BadCrcIsCorruptMessage) {
    create_topic("t");
    byte_vector batch = make_batch({.values = {"hello", "world"}});
    batch.back() ^= 0x01;  // covered by the CRC
    auto answer = produce("t", 0, batch);
    EXPECT_EQ(answer.error_code, code(error_code::corrupt_message));
    EXPECT_EQ(answer.base_offset, -1);
    EXPECT_TRUE(answer.error_message.has_value());
    // A batch cut short, and a batch followed by a stray byte.
    byte_vector whole = make_batch({.values = {"a"}});
    byte_vector cut(whole.begin(), whole.end() - 3);
    EXPECT_EQ(produce("t", 0, cut).error_code, code(error_code::corrupt_message));
    byte_vector stray = whole;
    stray.push_back(0);
    EXPECT_EQ(produce("t", 0, stray).error_code, code(error_code::corrupt_message));
    EXPECT_EQ(offsets_of_partition("t", 0).high_watermark, 0);
    EXPECT_EQ(produce("t", 0, whole).base_offset, 0);
}

TEST_F(ProduceTest, BatchLargerThanMaxMessageBytes) {
    create_topic("small", 1, {{"max.message.bytes", "1000"}});
    auto big = produce("small", 0, make_batch({.values = {std::string(2000, 'x')}}));
    EXPECT_EQ(big.error_code, code(error_code::message_too_large));
    EXPECT_EQ(big.base_offset, -1);
    // The limit is on the batch as sent: compressed, the same value fits.
    auto compressed =
        produce("small", 0,
                make_batch({.values = {std::string(2000, 'x')}, .codec = compression_codec::gzip}));
    EXPECT_EQ(compressed.error_code, 0);
    EXPECT_EQ(compressed.base_offset, 0);
    auto fits = produce("small", 0, make_batch({.values = {std::string(500, 'y')}}));
    EXPECT_EQ(fits.error_code, 0);
    EXPECT_EQ(fits.base_offset, 1);
}

TEST_F(ProduceTest, ControlBatchIsInvalidRecord) {
    create_topic("t");
    auto answer = produce("t", 0, make_batch({.values = {"marker"}, .control = true}));
    EXPECT_EQ(answer.error_code, code(error_code::invalid_record));
    EXPECT_EQ(offsets_of_partition("t", 0).high_watermark, 0);
}

TEST_F(ProduceTest, TimestampOutsideTheTopicWindowIsInvalid) {
    create_topic("t", 1,
                 {{"message.timestamp.before.max.ms", "3600000"},
                  {"message.timestamp.after.max.ms", "3600000"}});
    const int64_t day = 24 * 3600 * 1000;
    auto old =
        produce("t", 0, make_batch({.values = {"a"}, .first_timestamp = wall_clock_ms() - day}));
    EXPECT_EQ(old.error_code, code(error_code::invalid_timestamp));
    auto future =
        produce("t", 0, make_batch({.values = {"a"}, .first_timestamp = wall_clock_ms() + day}));
    EXPECT_EQ(future.error_code, code(error_code::invalid_timestamp));
    // One bad record refuses the whole batch.
    record_batch_builder mixed({});
    mixed.append(wall_clock_ms(), std::nullopt, bytes_of("now"));
    mixed.append(wall_clock_ms() + day, std::nullopt, bytes_of("later"));
    auto mixed_batch = mixed.build();
    ASSERT_TRUE(mixed_batch.has_value());
    EXPECT_EQ(produce("t", 0, *mixed_batch).error_code, code(error_code::invalid_timestamp));
    EXPECT_EQ(produce("t", 0, single_record_batch(INT64_MIN + 10)).error_code,
              code(error_code::invalid_timestamp));
    EXPECT_EQ(produce("t", 0, single_record_batch(INT64_MAX - 10)).error_code,
              code(error_code::invalid_timestamp));
    EXPECT_EQ(offsets_of_partition("t", 0).high_watermark, 0);
    auto now = produce("t", 0, make_batch({.values = {"a", "b"}}));
    EXPECT_EQ(now.error_code, 0);
    EXPECT_EQ(now.base_offset, 0);
}

TEST_F(ProduceTest, TimestampCheckDoesNotOverflow) {
    // Only the past is bounded: a timestamp so far back that "now - ts"
    // overflows is still too old, not (wrapped around) in the future.
    create_topic("past", 1,
                 {{"message.timestamp.before.max.ms", "3600000"},
                  {"message.timestamp.after.max.ms", "9223372036854775807"}});
    EXPECT_EQ(produce("past", 0, single_record_batch(INT64_MIN + 10)).error_code,
              code(error_code::invalid_timestamp));
    EXPECT_EQ(produce("past", 0, single_record_batch(INT64_MAX)).error_code, 0);
    // Unbounded both ways (Kafka's default before.max.ms): anything goes.
    create_topic("open", 1, {{"message.timestamp.after.max.ms", "9223372036854775807"}});
    EXPECT_EQ(produce("open", 0, single_record_batch(INT64_MIN)).error_code, 0);
    EXPECT_EQ(produce("open", 0, single_record_batch(INT64_MAX)).error_code, 0);
}

TEST_F(ProduceTest, RecordsWithoutTimestampAreNotJudged) {
    // As in Kafka, a record with no timestamp (-1) has nothing to check.
    create_topic("t", 1, {{"message.timestamp.before.max.ms", "3600000"}});
    auto answer = produce("t", 0, single_record_batch(no_timestamp));
    EXPECT_EQ(answer.error_code, 0);
    EXPECT_EQ(answer.base_offset, 0);
}

TEST_F(ProduceTest, ProducerMayNotSendLogAppendTimeBatches) {
    create_topic("t");
    byte_vector batch = make_batch({.values = {"a"}});
    std::span<uint8_t> bytes(batch.data(), batch.size());
    ASSERT_TRUE(set_max_timestamp(bytes, timestamp_type::log_append_time, 1234).has_value());
    EXPECT_EQ(produce("t", 0, batch).error_code, code(error_code::invalid_timestamp));
    EXPECT_EQ(offsets_of_partition("t", 0).high_watermark, 0);
}

TEST_F(ProduceTest, LogAppendTimeTopicStampsTheBatch) {
    create_topic("t", 1,
                 {{"message.timestamp.type", "LogAppendTime"},
                  {"message.timestamp.before.max.ms", "3600000"}});
    const int64_t before = wall_clock_ms();
    // CreateTime timestamps far in the past are not judged on such a topic.
    auto answer = produce("t", 0, make_batch({.values = {"a", "b"}, .first_timestamp = 1000}));
    const int64_t after = wall_clock_ms();
    ASSERT_EQ(answer.error_code, 0);
    EXPECT_EQ(answer.base_offset, 0);
    EXPECT_GE(answer.log_append_time_ms, before);
    EXPECT_LE(answer.log_append_time_ms, after);
    auto fetched = fetch("t", 0, 0);
    ASSERT_TRUE(fetched.records.has_value());
    auto batches = batches_of(*fetched.records);
    ASSERT_EQ(batches.size(), 1u);
    EXPECT_EQ(batches[0].header.ts_type(), timestamp_type::log_append_time);
    EXPECT_EQ(batches[0].header.max_timestamp, answer.log_append_time_ms);
    auto records = decode_all(*fetched.records);  // also checks the CRC
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[0].timestamp, answer.log_append_time_ms);
    EXPECT_EQ(records[1].timestamp, answer.log_append_time_ms);
    // Versions before 2 have no log_append_time_ms field; the batch is still stamped.
    auto old = produce("t", 0, make_batch({.values = {"c"}}), 1, 1);
    EXPECT_EQ(old.error_code, 0);
    EXPECT_EQ(old.base_offset, 2);
}

TEST_F(ProduceTest, RetryOnLogAppendTimeTopicGetsTheOriginalAppendTime) {
    create_topic("t", 1, {{"message.timestamp.type", "LogAppendTime"}});
    byte_vector batch =
        make_batch({.values = {"a"}, .producer_id = 31, .producer_epoch = 0, .base_sequence = 0});
    auto first = produce("t", 0, batch);
    ASSERT_EQ(first.error_code, 0);
    ASSERT_GE(first.log_append_time_ms, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a later clock for the retry
    auto retried = produce("t", 0, batch);
    EXPECT_EQ(retried.error_code, 0);
    EXPECT_EQ(retried.base_offset, first.base_offset);
    EXPECT_EQ(retried.log_append_time_ms, first.log_append_time_ms);
    // The same after a restart (the state is rebuilt from the stored batch).
    restart();
    auto after_restart = produce("t", 0, batch);
    EXPECT_EQ(after_restart.base_offset, first.base_offset);
    EXPECT_EQ(after_restart.log_append_time_ms, first.log_append_time_ms);
}

TEST_F(ProduceTest, LegacyMessageSetIsUnsupportedForMessageFormat) {
    create_topic("t");
    for (int16_t version : {int16_t{0}, int16_t{2}, int16_t{3}, int16_t{8}, int16_t{11}}) {
        auto answer = produce("t", 0, legacy_message_set("old"), -1, version);
        EXPECT_EQ(answer.error_code, code(error_code::unsupported_for_message_format)) << version;
    }
    EXPECT_EQ(offsets_of_partition("t", 0).high_watermark, 0);
}

TEST_F(ProduceTest, NullOrEmptyRecordsAreRefused) {
    create_topic("t");
    auto null_records = produce("t", 0, std::nullopt);
    EXPECT_EQ(null_records.error_code, code(error_code::invalid_record));
    auto empty = produce("t", 0, byte_vector{});
    EXPECT_EQ(empty.error_code, code(error_code::invalid_record));
    EXPECT_EQ(offsets_of_partition("t", 0).high_watermark, 0);
}

TEST_F(ProduceTest, TransactionsAreRefused) {
    create_topic("t");
    auto transactional = produce("t", 0,
                                 make_batch({.values = {"a"},
                                             .producer_id = 10,
                                             .producer_epoch = 0,
                                             .base_sequence = 0,
                                             .transactional = true}));
    EXPECT_EQ(transactional.error_code, code(error_code::invalid_txn_state));
    auto client = connect();
    auto req = produce_request_for("t", 0, make_batch({.values = {"a"}}));
    req.transactional_id = "tx";
    auto res = client->call<produce_response>(req, 8);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->responses.size(), 1u);
    EXPECT_EQ(res->responses[0].partition_responses[0].error_code,
              code(error_code::transactional_id_authorization_failed));
    EXPECT_EQ(offsets_of_partition("t", 0).high_watermark, 0);
}

TEST_F(ProduceTest, TopicCompressionTypeRecompresses) {
    create_topic("gz", 1, {{"compression.type", "gzip"}});
    records_spec lz4{.values = {"a", "bb", "ccc"},
                     .key = "k",
                     .codec = compression_codec::lz4,
                     .header_value = "v"};
    records_spec plain{.values = {"dddd", "e"}, .first_timestamp = 5000};
    records_spec gzip{.values = {"f"}, .codec = compression_codec::gzip};
    byte_vector lz4_batch = make_batch(lz4);
    byte_vector plain_batch = make_batch(plain);
    byte_vector gzip_batch = make_batch(gzip);
    EXPECT_EQ(produce("gz", 0, lz4_batch).base_offset, 0);
    EXPECT_EQ(produce("gz", 0, plain_batch).base_offset, 3);
    EXPECT_EQ(produce("gz", 0, gzip_batch).base_offset, 5);

    auto fetched = fetch("gz", 0, 0);
    ASSERT_TRUE(fetched.records.has_value());
    auto batches = batches_of(*fetched.records);
    ASSERT_EQ(batches.size(), 3u);
    for (const auto& b : batches) {
        EXPECT_EQ(b.header.codec(), compression_codec::gzip) << b.header.base_offset;
    }
    // A batch already in the topic's codec is stored as sent.
    EXPECT_EQ(byte_vector(batches[2].bytes.begin(), batches[2].bytes.end()),
              as_stored(gzip_batch, 5));
    // The records read back are the records sent.
    byte_vector sent =
        concat({as_stored(lz4_batch, 0), as_stored(plain_batch, 3), as_stored(gzip_batch, 5)});
    EXPECT_EQ(decode_all(*fetched.records), decode_all(sent));
    EXPECT_EQ(batches[1].header.max_timestamp, 5001);
}

TEST_F(ProduceTest, UncompressedTopicStoresPlainBatches) {
    create_topic("plain", 1, {{"compression.type", "uncompressed"}});
    byte_vector zstd = make_batch({.values = {"a", "b"}, .codec = compression_codec::zstd});
    EXPECT_EQ(produce("plain", 0, zstd).base_offset, 0);
    auto fetched = fetch("plain", 0, 0);
    ASSERT_TRUE(fetched.records.has_value());
    auto batches = batches_of(*fetched.records);
    ASSERT_EQ(batches.size(), 1u);
    EXPECT_EQ(batches[0].header.codec(), compression_codec::none);
    EXPECT_EQ(decode_all(*fetched.records), decode_all(as_stored(zstd, 0)));
}

constexpr int64_t k_producer = 4000;

records_spec idempotent(strings values, int32_t sequence, int16_t epoch = 0,
                        int64_t producer = k_producer) {
    return {.values = std::move(values),
            .producer_id = producer,
            .producer_epoch = epoch,
            .base_sequence = sequence};
}

TEST_F(ProduceTest, RetriedBatchGetsItsOriginalOffset) {
    create_topic("t");
    auto client = connect();
    byte_vector first = make_batch(idempotent({"a", "b", "c"}, 0));
    EXPECT_EQ(produce(*client, "t", 0, first).base_offset, 0);
    EXPECT_EQ(produce(*client, "t", 0, make_batch({.values = {"plain"}})).base_offset, 3);
    byte_vector second = make_batch(idempotent({"d", "e"}, 3));
    EXPECT_EQ(produce(*client, "t", 0, second).base_offset, 4);
    // Retries of both (the older one is still among the last five batches).
    auto retry_first = produce(*client, "t", 0, first);
    EXPECT_EQ(retry_first.error_code, 0);
    EXPECT_EQ(retry_first.base_offset, 0);
    auto retry_second = produce("t", 0, second);
    EXPECT_EQ(retry_second.error_code, 0);
    EXPECT_EQ(retry_second.base_offset, 4);
    EXPECT_EQ(offsets_of_partition("t", 0).high_watermark, 6);
    auto fetched = fetch("t", 0, 0);
    ASSERT_TRUE(fetched.records.has_value());
    EXPECT_EQ(values_of(decode_all(*fetched.records)), (strings{"a", "b", "c", "plain", "d", "e"}));
    // The producer continues where it was.
    EXPECT_EQ(produce(*client, "t", 0, make_batch(idempotent({"f"}, 5))).base_offset, 6);
}

TEST_F(ProduceTest, SequenceGapIsOutOfOrder) {
    create_topic("t");
    EXPECT_EQ(produce("t", 0, make_batch(idempotent({"a", "b", "c"}, 0))).base_offset, 0);
    auto gap = produce("t", 0, make_batch(idempotent({"x"}, 5)));
    EXPECT_EQ(gap.error_code, code(error_code::out_of_order_sequence_number));
    EXPECT_EQ(gap.base_offset, -1);
    // Overlapping the last batch without repeating it is out of order too.
    auto overlap = produce("t", 0, make_batch(idempotent({"y", "z"}, 2)));
    EXPECT_EQ(overlap.error_code, code(error_code::out_of_order_sequence_number));
    EXPECT_EQ(offsets_of_partition("t", 0).high_watermark, 3);
    EXPECT_EQ(produce("t", 0, make_batch(idempotent({"d"}, 3))).base_offset, 3);
    // Another producer id has its own sequence.
    EXPECT_EQ(produce("t", 0, make_batch(idempotent({"e"}, 0, 0, k_producer + 1))).base_offset, 4);
}

TEST_F(ProduceTest, ProducerEpochs) {
    create_topic("t");
    EXPECT_EQ(produce("t", 0, make_batch(idempotent({"a", "b"}, 0, 0))).base_offset, 0);
    // A new epoch starts again at sequence 0 ...
    auto bumped = produce("t", 0, make_batch(idempotent({"c"}, 0, 1)));
    EXPECT_EQ(bumped.error_code, 0);
    EXPECT_EQ(bumped.base_offset, 2);
    // ... and not anywhere else.
    auto bad_start = produce("t", 0, make_batch(idempotent({"x"}, 7, 2)));
    EXPECT_EQ(bad_start.error_code, code(error_code::out_of_order_sequence_number));
    // The older epoch is fenced, even with the sequence it would have used next.
    auto fenced = produce("t", 0, make_batch(idempotent({"y"}, 2, 0)));
    EXPECT_EQ(fenced.error_code, code(error_code::invalid_producer_epoch));
    EXPECT_EQ(fenced.base_offset, -1);
    EXPECT_EQ(offsets_of_partition("t", 0).high_watermark, 3);
    EXPECT_EQ(produce("t", 0, make_batch(idempotent({"d"}, 1, 1))).base_offset, 3);
}

TEST_F(ProduceTest, ProducerStateSurvivesRestart) {
    create_topic("t");
    byte_vector first = make_batch(idempotent({"a", "b", "c"}, 0, 1));
    byte_vector second = make_batch(idempotent({"d"}, 3, 1));
    EXPECT_EQ(produce("t", 0, first).base_offset, 0);
    EXPECT_EQ(produce("t", 0, make_batch({.values = {"plain"}})).base_offset, 3);
    EXPECT_EQ(produce("t", 0, second).base_offset, 4);
    restart();
    EXPECT_EQ(offsets_of_partition("t", 0).high_watermark, 5);
    // Retries are answered with their original offsets, not appended again.
    auto retried = produce("t", 0, second);
    EXPECT_EQ(retried.error_code, 0);
    EXPECT_EQ(retried.base_offset, 4);
    auto older = produce("t", 0, first);
    EXPECT_EQ(older.error_code, 0);
    EXPECT_EQ(older.base_offset, 0);
    // Sequence and epoch checks continue from the stored batches.
    EXPECT_EQ(produce("t", 0, make_batch(idempotent({"x"}, 9, 1))).error_code,
              code(error_code::out_of_order_sequence_number));
    EXPECT_EQ(produce("t", 0, make_batch(idempotent({"x"}, 4, 0))).error_code,
              code(error_code::invalid_producer_epoch));
    EXPECT_EQ(produce("t", 0, make_batch(idempotent({"e"}, 4, 1))).base_offset, 5);
    auto fetched = fetch("t", 0, 0);
    ASSERT_TRUE(fetched.records.has_value());
    EXPECT_EQ(values_of(decode_all(*fetched.records)), (strings{"a", "b", "c", "plain", "d", "e"}));
}

TEST_F(ProduceTest, PipelinedRequestsAreAnsweredInOrder) {
    create_topic("t");
    auto client = connect();
    constexpr int k_requests = 12;
    const int16_t version = 9;
    // Correlation ids of a new client start at 1.
    for (int i = 0; i < k_requests; ++i) {
        auto req = produce_request_for(
            "t", 0, make_batch({.values = {"p" + std::to_string(i), "q" + std::to_string(i)}}));
        ASSERT_TRUE(client->send(req, version));
    }
    int64_t previous = -1;
    for (int i = 0; i < k_requests; ++i) {
        auto got = client->connection().read_response(produce_response::header_version(version));
        ASSERT_TRUE(got.has_value()) << "response " << i;
        EXPECT_EQ(got->correlation_id, i + 1);
        auto res = decode_body<produce_response>(got->body, version);
        ASSERT_TRUE(res);
        ASSERT_EQ(res->responses.size(), 1u);
        ASSERT_EQ(res->responses[0].partition_responses.size(), 1u);
        const auto& p = res->responses[0].partition_responses[0];
        EXPECT_EQ(p.error_code, 0);
        EXPECT_EQ(p.base_offset, 2 * i);
        EXPECT_GT(p.base_offset, previous);
        previous = p.base_offset;
    }
    auto fetched = fetch("t", 0, 0);
    ASSERT_TRUE(fetched.records.has_value());
    auto records = decode_all(*fetched.records);
    ASSERT_EQ(records.size(), size_t{2 * k_requests});
    for (int i = 0; i < k_requests; ++i) {
        EXPECT_EQ(text_of(records[static_cast<size_t>(2 * i)].value), "p" + std::to_string(i));
    }
}

}  // namespace
}  // namespace floe::kafka
