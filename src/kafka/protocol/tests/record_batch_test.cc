#include "kafka/protocol/record_batch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "base/crc32c.h"

namespace floe::kafka {
namespace {

constexpr compression_codec kAllCodecs[] = {compression_codec::none, compression_codec::gzip,
                                            compression_codec::snappy, compression_codec::lz4,
                                            compression_codec::zstd};

byte_vector bytes_of(std::string_view s) {
    return byte_vector(s.begin(), s.end());
}
byte_span span_of(std::string_view s) {
    return byte_span(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

batch_view view_of(byte_span bytes) {
    auto header = parse_batch_header(bytes);
    if (!header) {
        ADD_FAILURE() << header.error_value().to_string();
        return {};
    }
    return batch_view{*header, bytes.first(header->size_in_bytes())};
}

constexpr int64_t kBaseTs = 1700000000000;

// The golden batch below: two records built through the builder.
byte_vector build_golden(compression_codec codec = compression_codec::none) {
    record_batch_builder b({.codec = codec});
    b.append(kBaseTs, std::nullopt, span_of("hi"));
    header_input h{"h", span_of("x")};
    b.append(kBaseTs + 5, span_of("k"), span_of("v2"), std::span(&h, 1));
    return std::move(b.build()).value();
}

// Independently computed with Python (struct.pack + a bit-at-a-time
// CRC-32C, reflected polynomial 0x82F63B78); the script:
//
//   def crc32c(data):
//       c = 0xFFFFFFFF
//       for b in data:
//           c ^= b
//           for _ in range(8): c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
//       return c ^ 0xFFFFFFFF
//   def uvarint(v):
//       out = b''
//       while v >= 0x80: out += bytes([(v & 0x7f) | 0x80]); v >>= 7
//       return out + bytes([v])
//   def varint(v): return uvarint((v << 1) ^ (v >> 63))
//   def nullable(b): return varint(-1) if b is None else varint(len(b)) + b
//   def record(ts_delta, off_delta, key, value, headers):
//       body = b'\0' + varint(ts_delta) + varint(off_delta) + nullable(key) + nullable(value)
//       body += varint(len(headers))
//       for k, v in headers: body += varint(len(k)) + k + nullable(v)
//       return varint(len(body)) + body
//   base_ts = 1700000000000
//   recs = record(0, 0, None, b'hi', []) + record(5, 1, b'k', b'v2', [(b'h', b'x')])
//   after_crc = struct.pack('>hiqqqhii', 0, 1, base_ts, base_ts + 5, -1, -1, -1, 2) + recs
//   crc = crc32c(after_crc)                                # 0x212500a3
//   batch = struct.pack('>qiibI', 0, 4 + 1 + 4 + len(after_crc), -1, 2, crc) + after_crc
const byte_vector kGolden = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // base offset 0
    0x00, 0x00, 0x00, 0x48,                          // batch length 72
    0xff, 0xff, 0xff, 0xff,                          // partition leader epoch -1
    0x02,                                            // magic
    0x21, 0x25, 0x00, 0xa3,                          // crc
    0x00, 0x00,                                      // attributes
    0x00, 0x00, 0x00, 0x01,                          // last offset delta 1
    0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,  // base timestamp
    0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x05,  // max timestamp
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // producer id -1
    0xff, 0xff,                                      // producer epoch -1
    0xff, 0xff, 0xff, 0xff,                          // base sequence -1
    0x00, 0x00, 0x00, 0x02,                          // record count 2
    // record 0: length 8, attrs, ts 0, offset 0, key null, value "hi", 0 headers
    0x10, 0x00, 0x00, 0x00, 0x01, 0x04, 0x68, 0x69, 0x00,
    // record 1: length 13, attrs, ts 5, offset 1, key "k", value "v2", 1 header h=x
    0x1a, 0x00, 0x0a, 0x02, 0x02, 0x6b, 0x04, 0x76, 0x32, 0x02, 0x02, 0x68, 0x02, 0x78};

TEST(RecordBatch, GoldenBytesFromIndependentEncoder) {
    EXPECT_EQ(build_golden(), kGolden);
    auto header = parse_batch_header(kGolden);
    ASSERT_TRUE(header);
    EXPECT_EQ(header->crc, 0x212500a3u);
    EXPECT_EQ(header->crc, crc32c(byte_span(kGolden).subspan(batch_layout::attributes)));
    EXPECT_EQ(header->batch_length, 72);
    EXPECT_EQ(header->record_count, 2);
    EXPECT_EQ(header->last_offset_delta, 1);
    EXPECT_EQ(header->max_timestamp, kBaseTs + 5);
    EXPECT_EQ(header->producer_id, -1);
}

TEST(RecordBatch, DecodeGolden) {
    auto records = decode_records(view_of(kGolden), {});
    ASSERT_TRUE(records) << records.error_value().to_string();
    ASSERT_EQ(records->size(), 2u);
    const record& r0 = (*records)[0];
    EXPECT_EQ(r0.offset, 0);
    EXPECT_EQ(r0.timestamp, kBaseTs);
    EXPECT_EQ(r0.key, std::nullopt);
    EXPECT_EQ(r0.value, bytes_of("hi"));
    EXPECT_TRUE(r0.headers.empty());
    const record& r1 = (*records)[1];
    EXPECT_EQ(r1.offset, 1);
    EXPECT_EQ(r1.timestamp, kBaseTs + 5);
    EXPECT_EQ(r1.key, bytes_of("k"));
    EXPECT_EQ(r1.value, bytes_of("v2"));
    ASSERT_EQ(r1.headers.size(), 1u);
    EXPECT_EQ(r1.headers[0].key, "h");
    EXPECT_EQ(r1.headers[0].value, bytes_of("x"));
}

TEST(RecordBatch, RoundTripEveryCodec) {
    for (compression_codec codec : kAllCodecs) {
        record_batch_builder b({.base_offset = 1000,
                                .partition_leader_epoch = 7,
                                .codec = codec,
                                .transactional = true,
                                .producer_id = 42,
                                .producer_epoch = 3,
                                .base_sequence = 17});
        std::vector<record> expected;
        for (int i = 0; i < 500; ++i) {
            std::string value =
                "value-" + std::to_string(i) + std::string(static_cast<size_t>(i % 50), 'z');
            std::string key = "key-" + std::to_string(i % 10);
            header_input headers[] = {{"trace", span_of(key)}, {"nullable", std::nullopt}};
            const int64_t ts = kBaseTs + (i * 37) % 1000 - 300;  // not monotonic
            b.append(ts, i % 7 == 0 ? std::nullopt : std::optional(span_of(key)), span_of(value),
                     headers);
            record r;
            r.offset = 1000 + i;
            r.timestamp = ts;
            r.key = i % 7 == 0 ? std::nullopt : std::optional(bytes_of(key));
            r.value = bytes_of(value);
            r.headers = {{"trace", bytes_of(key)}, {"nullable", std::nullopt}};
            expected.push_back(r);
        }
        auto built = b.build();
        ASSERT_TRUE(built);
        auto split = split_batches(*built, split_mode::produce);
        ASSERT_TRUE(split);
        ASSERT_EQ(split->batches.size(), 1u);
        const batch_view& v = split->batches[0];
        EXPECT_EQ(v.header.codec(), codec);
        EXPECT_TRUE(v.header.is_transactional());
        EXPECT_EQ(v.header.producer_id, 42);
        EXPECT_EQ(v.header.producer_epoch, 3);
        EXPECT_EQ(v.header.base_sequence, 17);
        EXPECT_EQ(v.header.partition_leader_epoch, 7);
        EXPECT_EQ(v.header.last_offset(), 1499);
        EXPECT_EQ(v.header.max_timestamp, kBaseTs + 699);
        ASSERT_TRUE(validate_batch(v, {})) << codec_name(codec);
        auto decoded = decode_records(v, {});
        ASSERT_TRUE(decoded) << decoded.error_value().to_string();
        EXPECT_EQ(*decoded, expected) << codec_name(codec);
    }
}

TEST(RecordBatch, SplitSeveralBatchesWithoutCopying) {
    byte_vector blob;
    for (compression_codec codec : kAllCodecs) {
        byte_vector one = build_golden(codec);
        blob.insert(blob.end(), one.begin(), one.end());
    }
    auto split = split_batches(blob, split_mode::produce);
    ASSERT_TRUE(split);
    ASSERT_EQ(split->batches.size(), 5u);
    EXPECT_EQ(split->partial_tail_bytes, 0u);
    EXPECT_EQ(split->batches[0].bytes.data(), blob.data());
    size_t expected_start = 0;
    for (const batch_view& v : split->batches) {
        EXPECT_EQ(v.bytes.data(), blob.data() + expected_start);
        expected_start += v.bytes.size();
        auto records = decode_records(v, {});
        ASSERT_TRUE(records);
        EXPECT_EQ(records->size(), 2u);
    }
    EXPECT_EQ(split_batches({}, split_mode::produce)->batches.size(), 0u);
}

TEST(RecordBatch, FetchModeReportsPartialTail) {
    byte_vector blob = kGolden;
    blob.insert(blob.end(), kGolden.begin(), kGolden.end());
    for (size_t cut = 1; cut < kGolden.size(); ++cut) {
        byte_span data = byte_span(blob).first(kGolden.size() + cut);
        auto fetch = split_batches(data, split_mode::fetch);
        ASSERT_TRUE(fetch) << "cut " << cut << ": " << fetch.error_value().to_string();
        EXPECT_EQ(fetch->batches.size(), 1u);
        EXPECT_EQ(fetch->partial_tail_bytes, cut);
        auto produce = split_batches(data, split_mode::produce);
        ASSERT_FALSE(produce);
        EXPECT_EQ(produce.error_value().code, errc::truncated);
    }
}

// Every prefix of a valid batch (for every codec) is an error, never a crash,
// whether it reaches the splitter, the header parser or validation.
TEST(RecordBatch, EveryTruncationIsAnError) {
    for (compression_codec codec : kAllCodecs) {
        byte_vector batch = build_golden(codec);
        for (size_t n = 0; n < batch.size(); ++n) {
            byte_span prefix = byte_span(batch).first(n);
            auto split = split_batches(prefix, split_mode::produce);
            if (n == 0) {
                EXPECT_TRUE(split);  // no bytes: no batches
                continue;
            }
            EXPECT_FALSE(split) << codec_name(codec) << " prefix " << n;
            EXPECT_FALSE(parse_batch_header(prefix) && n >= batch_layout::header_size &&
                         validate_batch(batch_view{*parse_batch_header(prefix), prefix}, {}))
                << codec_name(codec) << " prefix " << n;
            // A header whose length field is rewritten to match the prefix:
            // the CRC no longer matches, and validation must say so.
            if (n >= batch_layout::header_size) {
                byte_vector shortened(prefix.begin(), prefix.end());
                byte_writer w(shortened);
                w.patch_int32(batch_layout::batch_length,
                              static_cast<int32_t>(n - batch_layout::log_overhead));
                auto v = split_batches(shortened, split_mode::produce);
                ASSERT_TRUE(v);
                EXPECT_FALSE(validate_batch(v->batches[0], {})) << codec_name(codec) << " " << n;
                // ...and with the CRC fixed up, the truncated records are found.
                ASSERT_TRUE(recompute_crc(shortened));
                v = split_batches(shortened, split_mode::produce);
                ASSERT_TRUE(v);
                auto st = validate_batch(v->batches[0], {});
                EXPECT_FALSE(st) << codec_name(codec) << " " << n;
            }
        }
    }
}

TEST(RecordBatch, CorruptedCrcIsCorrupt) {
    for (compression_codec codec : kAllCodecs) {
        byte_vector batch = build_golden(codec);
        for (size_t i = batch_layout::attributes; i < batch.size(); ++i) {
            byte_vector bad = batch;
            bad[i] ^= 0x01;
            auto split = split_batches(bad, split_mode::produce);
            ASSERT_TRUE(split);
            auto st = validate_batch(split->batches[0], {});
            ASSERT_FALSE(st);
            EXPECT_EQ(st.error_value().code, errc::corrupt) << codec_name(codec) << " byte " << i;
        }
        byte_vector bad_crc = batch;
        bad_crc[batch_layout::crc + 3] ^= 0x80;
        auto st = validate_batch(view_of(bad_crc), {});
        ASSERT_FALSE(st);
        EXPECT_EQ(st.error_value().code, errc::corrupt);
        EXPECT_NE(st.error_value().message.find("CRC"), std::string::npos);
    }
}

// Patches header fields of the golden batch and fixes the CRC, so the only
// problem left is the one under test.
byte_vector golden_with(size_t field, int32_t value) {
    byte_vector b = kGolden;
    byte_writer w(b);
    w.patch_int32(field, value);
    EXPECT_TRUE(recompute_crc(b));
    return b;
}

TEST(RecordBatch, RecordCountMismatch) {
    for (int32_t count : {0, 1, 3, 1000, -1}) {
        byte_vector b = golden_with(batch_layout::record_count, count);
        for (offset_rule rule : {offset_rule::contiguous, offset_rule::increasing}) {
            auto st = validate_batch(view_of(b), {.offsets = rule});
            ASSERT_FALSE(st) << count;
            EXPECT_EQ(st.error_value().code, errc::corrupt) << count;
        }
    }
}

TEST(RecordBatch, LastOffsetDeltaMustMatchCountForProduce) {
    byte_vector b = golden_with(batch_layout::last_offset_delta, 5);
    auto st = validate_batch(view_of(b), {.offsets = offset_rule::contiguous});
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error_value().code, errc::corrupt);
    // A compacted batch may keep a larger last offset delta.
    EXPECT_TRUE(validate_batch(view_of(b), {.offsets = offset_rule::increasing}));
    byte_vector small = golden_with(batch_layout::last_offset_delta, 0);
    EXPECT_FALSE(validate_batch(view_of(small), {.offsets = offset_rule::increasing}));
}

TEST(RecordBatch, CompactedBatchWithGaps) {
    record_batch_builder b({.base_offset = 100, .last_offset_delta = 9});
    b.append_at(2, kBaseTs, span_of("a"), span_of("1"));
    b.append_at(7, kBaseTs + 1, span_of("b"), std::nullopt);  // tombstone
    byte_vector batch = std::move(b.build()).value();
    auto v = view_of(batch);
    EXPECT_EQ(v.header.last_offset(), 109);
    EXPECT_FALSE(validate_batch(v, {.offsets = offset_rule::contiguous}));
    auto records = decode_records(v, {.offsets = offset_rule::increasing});
    ASSERT_TRUE(records) << records.error_value().to_string();
    ASSERT_EQ(records->size(), 2u);
    EXPECT_EQ((*records)[0].offset, 102);
    EXPECT_EQ((*records)[1].offset, 107);
    EXPECT_EQ((*records)[1].value, std::nullopt);

    // An empty batch (all records compacted away) is legal in stored data.
    record_batch_builder empty({.base_offset = 5, .last_offset_delta = 3});
    byte_vector e = std::move(empty.build()).value();
    EXPECT_EQ(e.size(), batch_layout::header_size);
    EXPECT_TRUE(validate_batch(view_of(e), {.offsets = offset_rule::increasing}));
    EXPECT_FALSE(validate_batch(view_of(e), {.offsets = offset_rule::contiguous}));
}

TEST(RecordBatch, LegacyMagicIsUnsupported) {
    for (uint8_t magic : {uint8_t{0}, uint8_t{1}}) {
        // A v0/v1 message set entry: offset, size, crc, magic, ...: the magic
        // sits at byte 16 as in v2.
        byte_vector legacy = kGolden;
        legacy[batch_layout::magic] = magic;
        auto split = split_batches(legacy, split_mode::produce);
        ASSERT_FALSE(split);
        EXPECT_EQ(split.error_value().code, errc::unsupported);
        EXPECT_NE(split.error_value().message.find("magic " + std::to_string(magic)),
                  std::string::npos);
        auto fetch = split_batches(legacy, split_mode::fetch);
        ASSERT_FALSE(fetch);
        EXPECT_EQ(fetch.error_value().code, errc::unsupported);
        auto header = parse_batch_header(legacy);
        ASSERT_FALSE(header);
        EXPECT_EQ(header.error_value().code, errc::unsupported);
        // A short legacy message (v0 minimum is 26 bytes) is still reported as legacy.
        auto small = split_batches(byte_span(legacy).first(26), split_mode::produce);
        ASSERT_FALSE(small);
        EXPECT_EQ(small.error_value().code, errc::unsupported);
    }
    byte_vector future = kGolden;
    future[batch_layout::magic] = 3;
    EXPECT_EQ(split_batches(future, split_mode::produce).error_value().code, errc::corrupt);
}

TEST(RecordBatch, BatchLengthBelowMinimumIsCorrupt) {
    byte_vector b = kGolden;
    byte_writer w(b);
    w.patch_int32(batch_layout::batch_length, 48);
    auto split = split_batches(b, split_mode::fetch);
    ASSERT_FALSE(split);
    EXPECT_EQ(split.error_value().code, errc::corrupt);
    w.patch_int32(batch_layout::batch_length, -5);
    EXPECT_EQ(split_batches(b, split_mode::fetch).error_value().code, errc::corrupt);
}

TEST(RecordBatch, UnknownCodecIsUnsupported) {
    byte_vector b = kGolden;
    b[batch_layout::attributes + 1] = 0x05;
    ASSERT_TRUE(recompute_crc(b));
    auto st = validate_batch(view_of(b), {});
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error_value().code, errc::unsupported);
}

// Hand-assembled records with one defect each, wrapped in a valid header.
byte_vector batch_with_records(const byte_vector& records, int32_t count) {
    byte_vector b(kGolden.begin(), kGolden.begin() + batch_layout::header_size);
    b.insert(b.end(), records.begin(), records.end());
    byte_writer w(b);
    w.patch_int32(batch_layout::batch_length,
                  static_cast<int32_t>(b.size() - batch_layout::log_overhead));
    w.patch_int32(batch_layout::record_count, count);
    w.patch_int32(batch_layout::last_offset_delta, count - 1);
    EXPECT_TRUE(recompute_crc(b));
    return b;
}

TEST(RecordBatch, MalformedRecordsAreCorrupt) {
    struct bad_case {
        const char* name;
        byte_vector records;
    };
    const bad_case cases[] = {
        // length 9 declared, 8 bytes of fields
        {"length too long", {0x12, 0x00, 0x00, 0x00, 0x01, 0x04, 'h', 'i', 0x00, 0x00}},
        // length 7 declared, fields need 8
        {"length too short", {0x0e, 0x00, 0x00, 0x00, 0x01, 0x04, 'h', 'i', 0x00}},
        {"negative length", {0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 'h', 'i', 0x00}},
        // key length -2 (zig-zag 3)
        {"key length -2", {0x10, 0x00, 0x00, 0x00, 0x03, 0x04, 'h', 'i', 0x00}},
        // value length -3 (zig-zag 5)
        {"value length -3", {0x10, 0x00, 0x00, 0x00, 0x01, 0x05, 'h', 'i', 0x00}},
        // header count -1
        {"header count -1", {0x10, 0x00, 0x00, 0x00, 0x01, 0x04, 'h', 'i', 0x01}},
        // one header with key length -1 (null header key)
        {"null header key", {0x14, 0x00, 0x00, 0x00, 0x01, 0x04, 'h', 'i', 0x02, 0x01, 0x01}},
        // offset delta 1 for the first record
        {"offset delta 1", {0x10, 0x00, 0x00, 0x02, 0x01, 0x04, 'h', 'i', 0x00}},
        // timestamp delta varint of 11 bytes
        {"varint too long",
         {0x1e, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00, 0x01,
          0x00, 0x00}},
        // offset delta varint beyond 32 bits
        {"offset delta > 32 bits",
         {0x14, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x01, 0x00, 0x00}},
        // trailing byte after the only record
        {"trailing bytes", {0x10, 0x00, 0x00, 0x00, 0x01, 0x04, 'h', 'i', 0x00, 0x00}},
    };
    for (const bad_case& c : cases) {
        byte_vector b = batch_with_records(c.records, 1);
        auto st = validate_batch(view_of(b), {});
        ASSERT_FALSE(st) << c.name;
        EXPECT_EQ(st.error_value().code, errc::corrupt) << c.name;
        EXPECT_FALSE(decode_records(view_of(b), {})) << c.name;
    }
    // Sanity: the unmodified record is accepted by the same wrapper.
    byte_vector good = batch_with_records({0x10, 0x00, 0x00, 0x00, 0x01, 0x04, 'h', 'i', 0x00}, 1);
    EXPECT_TRUE(validate_batch(view_of(good), {}));
}

TEST(RecordBatch, DecompressedSizeIsBounded) {
    for (compression_codec codec : kAllCodecs) {
        if (codec == compression_codec::none) {
            continue;
        }
        record_batch_builder b({.codec = codec});
        byte_vector zeros(4 << 20, 0);
        b.append(kBaseTs, std::nullopt, zeros);
        byte_vector batch = std::move(b.build()).value();
        EXPECT_LT(batch.size(), 1u << 20) << codec_name(codec);
        auto st = validate_batch(view_of(batch), {.max_uncompressed_bytes = 1 << 20});
        ASSERT_FALSE(st) << codec_name(codec);
        EXPECT_EQ(st.error_value().code, errc::too_large) << codec_name(codec);
        EXPECT_TRUE(validate_batch(view_of(batch), {.max_uncompressed_bytes = 5 << 20}));
    }
}

TEST(RecordBatch, InPlaceRewrites) {
    for (compression_codec codec : kAllCodecs) {
        byte_vector b = build_golden(codec);
        ASSERT_TRUE(set_base_offset(b, 123456789));
        ASSERT_TRUE(set_partition_leader_epoch(b, 42));
        ASSERT_TRUE(set_max_timestamp(b, timestamp_type::log_append_time, kBaseTs + 1000));
        auto v = view_of(b);
        EXPECT_EQ(v.header.base_offset, 123456789);
        EXPECT_EQ(v.header.partition_leader_epoch, 42);
        EXPECT_EQ(v.header.max_timestamp, kBaseTs + 1000);
        EXPECT_EQ(v.header.ts_type(), timestamp_type::log_append_time);
        EXPECT_EQ(v.header.codec(), codec);
        // The incremental CRC equals a full recomputation.
        EXPECT_EQ(v.header.crc, crc32c(byte_span(b).subspan(batch_layout::attributes)));
        auto records = decode_records(v, {});
        ASSERT_TRUE(records) << records.error_value().to_string();
        EXPECT_EQ((*records)[0].offset, 123456789);
        EXPECT_EQ((*records)[1].offset, 123456790);
        // LogAppendTime: every record reports the batch's max timestamp.
        EXPECT_EQ((*records)[0].timestamp, kBaseTs + 1000);
        EXPECT_EQ((*records)[1].timestamp, kBaseTs + 1000);
        // Back to CreateTime.
        ASSERT_TRUE(set_max_timestamp(b, timestamp_type::create_time, kBaseTs + 5));
        ASSERT_TRUE(set_base_offset(b, 0));
        ASSERT_TRUE(set_partition_leader_epoch(b, -1));
        EXPECT_EQ(b, build_golden(codec));
    }
    // A corrupt batch stays corrupt after an incremental rewrite.
    byte_vector bad = kGolden;
    bad.back() ^= 1;
    ASSERT_TRUE(set_max_timestamp(bad, timestamp_type::log_append_time, 5));
    EXPECT_EQ(validate_batch(view_of(bad), {}).error_value().code, errc::corrupt);
    byte_vector tiny(10);
    EXPECT_EQ(set_base_offset(tiny, 1).error_value().code, errc::truncated);
}

TEST(RecordBatch, ForEachRecordStopsOnVisitorError) {
    int seen = 0;
    auto st = for_each_record(view_of(kGolden), {}, [&](const record_view& r) -> status {
        ++seen;
        if (r.offset_delta == 0) {
            EXPECT_TRUE(r.value && std::ranges::equal(*r.value, span_of("hi")));
            return error(errc::conflict, "stop");
        }
        return {};
    });
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error_value().code, errc::conflict);
    EXPECT_EQ(seen, 1);
}

// The committed seed inputs of fuzz_record_batch are valid batches (a seed
// that does not parse teaches the fuzzer nothing). With FLOE_WRITE_FUZZ_CORPUS
// naming a directory, the seeds are rewritten there instead; from the
// repository root:
//   FLOE_WRITE_FUZZ_CORPUS=src/kafka/protocol/fuzz/corpus/fuzz_record_batch
//   <build>/src/kafka/protocol/record_batch_test --gtest_filter='*FuzzSeeds*'
TEST(RecordBatch, FuzzSeedsAreValidBatches) {
    const char* dir = std::getenv("FLOE_WRITE_FUZZ_CORPUS");
    if (dir == nullptr) {
        const char* source = std::getenv("FLOE_SOURCE_DIR");
        ASSERT_NE(source, nullptr) << "FLOE_SOURCE_DIR is set by the build for every test";
        auto seeds =
            std::filesystem::path(source) / "src/kafka/protocol/fuzz/corpus/fuzz_record_batch";
        size_t checked = 0;
        for (const auto& entry : std::filesystem::directory_iterator(seeds)) {
            std::ifstream in(entry.path(), std::ios::binary);
            byte_vector bytes((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
            auto split = split_batches(bytes, split_mode::produce);
            ASSERT_TRUE(split.has_value())
                << entry.path() << ": " << split.error_value().to_string();
            for (const auto& batch : split->batches) {
                auto valid = validate_batch(batch, {.offsets = offset_rule::increasing});
                EXPECT_TRUE(valid.has_value())
                    << entry.path() << ": " << valid.error_value().to_string();
            }
            ++checked;
        }
        EXPECT_GE(checked, 7u);
        return;
    }
    std::filesystem::create_directories(dir);
    auto write = [&](const std::string& name, const byte_vector& bytes) {
        std::ofstream out(std::filesystem::path(dir) / name, std::ios::binary);
        out.write(reinterpret_cast<const char*>(bytes.data()),
                  static_cast<std::streamsize>(bytes.size()));
    };
    for (compression_codec codec : kAllCodecs) {
        byte_vector batch = build_golden(codec);
        write("golden_" + std::string(codec_name(codec)), batch);
    }
    byte_vector two = build_golden(compression_codec::zstd);
    byte_vector lz4 = build_golden(compression_codec::lz4);
    two.insert(two.end(), lz4.begin(), lz4.end());
    write("two_batches_zstd_lz4", two);
    record_batch_builder compacted({.base_offset = 100, .last_offset_delta = 9});
    compacted.append_at(2, kBaseTs, span_of("a"), span_of("1"));
    compacted.append_at(7, kBaseTs + 1, span_of("b"), std::nullopt);
    write("compacted_gaps", std::move(compacted.build()).value());
}

}  // namespace
}  // namespace floe::kafka
