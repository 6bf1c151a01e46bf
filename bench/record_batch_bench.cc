// Record batch validation throughput (CRC + full record walk), per codec,
// for a producer-like batch: 1000 records of 100-byte values with 10-byte
// keys and one header each. Bytes/s count the batch's uncompressed records.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "kafka/protocol/record_batch.h"

namespace {

using namespace floe;
using namespace floe::kafka;

struct built_batch {
    byte_vector bytes;
    size_t uncompressed = 0;
};

built_batch make_batch(compression_codec codec, int records, size_t value_size) {
    record_batch_builder b({.codec = codec});
    std::string value(value_size, 'v');
    for (int i = 0; i < records; ++i) {
        std::string key = "key-" + std::to_string(i % 100000);
        for (size_t j = 0; j < value.size(); ++j) {
            value[j] = static_cast<char>('a' + (i * 7 + static_cast<int>(j)) % 26);
        }
        header_input header{"trace-id",
                            byte_span(reinterpret_cast<const uint8_t*>(key.data()), key.size())};
        b.append(1700000000000 + i,
                 byte_span(reinterpret_cast<const uint8_t*>(key.data()), key.size()),
                 byte_span(reinterpret_cast<const uint8_t*>(value.data()), value.size()),
                 std::span(&header, 1));
    }
    built_batch out;
    out.uncompressed = b.records_size();
    out.bytes = std::move(b.build()).value();
    return out;
}

void BM_ValidateBatch(benchmark::State& state) {
    const auto codec = static_cast<compression_codec>(state.range(0));
    const auto value_size = static_cast<size_t>(state.range(1));
    built_batch batch = make_batch(codec, 1000, value_size);
    auto split = split_batches(batch.bytes, split_mode::produce);
    if (!split) {
        state.SkipWithError("split failed");
        return;
    }
    const batch_view view = split->batches[0];
    for (auto _ : state) {
        status st = validate_batch(view, {});
        if (!st) {
            state.SkipWithError("validation failed");
            return;
        }
    }
    state.SetLabel(std::string(codec_name(codec)) + " batch=" + std::to_string(batch.bytes.size()) +
                   "B");
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * batch.uncompressed));
    state.counters["records/s"] = benchmark::Counter(static_cast<double>(state.iterations()) * 1000,
                                                     benchmark::Counter::kIsRate);
}

void BM_SplitBatches(benchmark::State& state) {
    // A Produce request's records field: 16 uncompressed batches.
    byte_vector blob;
    for (int i = 0; i < 16; ++i) {
        built_batch b = make_batch(compression_codec::none, 100, 100);
        blob.insert(blob.end(), b.bytes.begin(), b.bytes.end());
    }
    for (auto _ : state) {
        auto split = split_batches(blob, split_mode::produce);
        benchmark::DoNotOptimize(split);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * blob.size()));
}

void BM_BuildBatch(benchmark::State& state) {
    const auto codec = static_cast<compression_codec>(state.range(0));
    size_t uncompressed = 0;
    for (auto _ : state) {
        built_batch b = make_batch(codec, 1000, 100);
        uncompressed = b.uncompressed;
        benchmark::DoNotOptimize(b.bytes.data());
    }
    state.SetLabel(std::string(codec_name(codec)));
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * uncompressed));
}

BENCHMARK(BM_ValidateBatch)->ArgsProduct({{0, 1, 2, 3, 4}, {100}})->Args({0, 10})->Args({0, 1000});
BENCHMARK(BM_SplitBatches);
BENCHMARK(BM_BuildBatch)->DenseRange(0, 4);

}  // namespace

BENCHMARK_MAIN();
