// Kafka codec throughput: decoding Produce requests as the broker receives
// them, and encoding Fetch responses as it sends them.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "base/bytes.h"
#include "kafka/protocol/frame.h"
#include "kafka/protocol/generated/fetch_response.h"
#include "kafka/protocol/generated/produce_request.h"
#include "kafka/protocol/generated/request_header.h"
#include "kafka/protocol/record_batch.h"

namespace floe::kafka {
namespace {

// One batch of `count` records with `value_size`-byte values.
byte_vector make_batch(int count, size_t value_size) {
    record_batch_builder builder({});
    std::string value(value_size, 'v');
    for (int i = 0; i < count; ++i) {
        std::string key = "key-" + std::to_string(i);
        builder.append(1700000000000 + i,
                       byte_span(reinterpret_cast<const uint8_t*>(key.data()), key.size()),
                       byte_span(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
    }
    return std::move(builder.build()).value();
}

// A framed Produce request (header v2, body v9 — what current clients send)
// with `partitions` partitions each holding one batch of `per_partition` records.
byte_vector make_produce_frame(int partitions, int per_partition, size_t value_size) {
    constexpr int16_t version = 9;
    produce_request request;
    request.acks = -1;
    request.timeout_ms = 30000;
    auto& topic = request.topic_data.emplace_back();
    topic.name = "bench";
    byte_vector batch = make_batch(per_partition, value_size);
    for (int p = 0; p < partitions; ++p) {
        auto& partition = topic.partition_data.emplace_back();
        partition.index = p;
        partition.records = batch;
    }
    request_header header;
    header.request_api_key = produce_request::api_key;
    header.request_api_version = version;
    header.correlation_id = 7;
    header.client_id = "bench-client";
    byte_vector out;
    byte_writer writer(out);
    size_t start = begin_frame(writer);
    header.encode(writer, produce_request::header_version(version));
    request.encode(writer, version);
    finish_frame(writer, start);
    return out;
}

// Frame + request header v2 + Produce v9 body, as the broker decodes them.
bool decode_produce_frame(const byte_vector& frame_bytes, produce_request& request) {
    auto frame = parse_frame(frame_bytes, default_max_frame_size);
    if (!frame) {
        return false;
    }
    byte_reader reader(frame->payload);
    request_header header;
    return header.decode(reader, 2).has_value() && request.decode(reader, 9).has_value();
}

// Frame + header + body decode of a ~1 MiB Produce request (1 partition,
// 1024 records of 1000 bytes). Bytes/s count the whole frame.
void BM_DecodeProduceRequest1MiB(benchmark::State& state) {
    byte_vector frame_bytes = make_produce_frame(1, 1024, 1000);
    for (auto _ : state) {
        produce_request request;
        if (!decode_produce_frame(frame_bytes, request)) {
            state.SkipWithError("decode failed");
            break;
        }
        benchmark::DoNotOptimize(request);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                            static_cast<int64_t>(frame_bytes.size()));
}
BENCHMARK(BM_DecodeProduceRequest1MiB);

// The same, followed by what a broker must do before appending: split every
// partition's records into batches and validate each (CRC, record walk).
void BM_DecodeAndValidateProduceRequest1MiB(benchmark::State& state) {
    byte_vector frame_bytes = make_produce_frame(1, 1024, 1000);
    for (auto _ : state) {
        produce_request request;
        if (!decode_produce_frame(frame_bytes, request)) {
            state.SkipWithError("decode failed");
            break;
        }
        for (const auto& topic : request.topic_data) {
            for (const auto& partition : topic.partition_data) {
                auto split = split_batches(*partition.records, split_mode::produce);
                for (const auto& batch : split->batches) {
                    if (!validate_batch(batch, {})) {
                        state.SkipWithError("invalid batch");
                    }
                }
            }
        }
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                            static_cast<int64_t>(frame_bytes.size()));
}
BENCHMARK(BM_DecodeAndValidateProduceRequest1MiB);

// Many small partitions: 600 partitions of 10 records × 100 bytes (~0.9 MiB).
void BM_DecodeProduceRequestManyPartitions(benchmark::State& state) {
    byte_vector frame_bytes = make_produce_frame(600, 10, 100);
    for (auto _ : state) {
        produce_request request;
        if (!decode_produce_frame(frame_bytes, request)) {
            state.SkipWithError("decode failed");
            break;
        }
        benchmark::DoNotOptimize(request);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                            static_cast<int64_t>(frame_bytes.size()));
}
BENCHMARK(BM_DecodeProduceRequestManyPartitions);

// Encoding a Fetch response v16 of 6 partitions × ~170 KiB (~1 MiB) into a
// reused buffer, framed with its response header.
void BM_EncodeFetchResponse1MiB(benchmark::State& state) {
    constexpr int16_t version = 16;
    fetch_response response;
    auto& topic = response.responses.emplace_back();
    topic.topic = "bench";
    byte_vector batch = make_batch(170, 1000);
    for (int p = 0; p < 6; ++p) {
        auto& partition = topic.partitions.emplace_back();
        partition.partition_index = p;
        partition.high_watermark = 1000000;
        partition.last_stable_offset = 1000000;
        partition.log_start_offset = 0;
        partition.records = batch;
    }
    byte_vector out;
    for (auto _ : state) {
        out.clear();
        byte_writer writer(out);
        size_t start = begin_frame(writer);
        writer.write_int32(7);    // response header v1: correlation id
        writer.write_uvarint(0);  // and an empty tagged-field section
        response.encode(writer, version);
        finish_frame(writer, start);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                            static_cast<int64_t>(out.size()));
}
BENCHMARK(BM_EncodeFetchResponse1MiB);

}  // namespace
}  // namespace floe::kafka

BENCHMARK_MAIN();
