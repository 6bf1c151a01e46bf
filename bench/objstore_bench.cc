// objstore benchmarks: what the S3 backend spends per request on signing and
// payload hashing, and the local backend's durable put and reads.
// Run: ninja -C build-release objstore_bench && build-release/bench/objstore_bench
#include <benchmark/benchmark.h>

#include <filesystem>
#include <random>

#include "objstore/local_store.h"
#include "objstore/sigv4.h"

namespace floe::objstore {
namespace {

byte_vector random_bytes(size_t size) {
    byte_vector out(size);
    std::mt19937_64 rng(1);
    for (auto& b : out) {
        b = static_cast<uint8_t>(rng());
    }
    return out;
}

void bm_sigv4_authorization(benchmark::State& state) {
    sigv4::request req;
    req.method = "PUT";
    req.canonical_uri = "/bucket/streams/0000000042/0000000000001234.obj";
    req.query = {{"partNumber", "3"},
                 {"uploadId", "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA"}};
    req.headers = {{"host", "s3.us-east-1.amazonaws.com"},
                   {"x-amz-date", "20250101T000000Z"},
                   {"x-amz-content-sha256", std::string(sigv4::empty_payload_sha256)}};
    req.payload_sha256 = sigv4::empty_payload_sha256;
    sigv4::signing_context ctx{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                               "us-east-1", "s3", "20250101T000000Z"};
    for (auto _ : state) {
        benchmark::DoNotOptimize(sigv4::authorization(ctx, req));
    }
}
BENCHMARK(bm_sigv4_authorization);

void bm_payload_sha256(benchmark::State& state) {
    byte_vector data = random_bytes(static_cast<size_t>(state.range(0)));
    for (auto _ : state) {
        benchmark::DoNotOptimize(sigv4::sha256_hex(data));
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(bm_payload_sha256)->Arg(1 << 20)->Arg(16 << 20);

class local_fixture {
public:
    local_fixture() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "floe-objstore-bench-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            std::abort();
        }
        _root = pattern;
        _store = std::move(local_store::open(_root).value());
    }
    ~local_fixture() {
        std::error_code ignored;
        std::filesystem::remove_all(_root, ignored);
    }
    local_store& store() { return *_store; }

private:
    std::string _root;
    std::unique_ptr<local_store> _store;
};

void bm_local_put(benchmark::State& state) {
    local_fixture fixture;
    byte_vector data = random_bytes(static_cast<size_t>(state.range(0)));
    uint64_t n = 0;
    for (auto _ : state) {
        if (!fixture.store().put("bench/" + std::to_string(n++ % 64), data)) {
            state.SkipWithError("put failed");
            break;
        }
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(bm_local_put)->Arg(64 << 10)->Arg(4 << 20)->Arg(16 << 20)->UseRealTime();

void bm_local_get_range(benchmark::State& state) {
    local_fixture fixture;
    byte_vector data = random_bytes(16 << 20);
    if (!fixture.store().put("bench/object", data)) {
        state.SkipWithError("put failed");
        return;
    }
    auto length = static_cast<uint64_t>(state.range(0));
    uint64_t offset = 0;
    for (auto _ : state) {
        auto read = fixture.store().get_range("bench/object", offset, length);
        benchmark::DoNotOptimize(read);
        offset = (offset + length) % data.size();
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(bm_local_get_range)->Arg(64 << 10)->Arg(1 << 20);

}  // namespace
}  // namespace floe::objstore

BENCHMARK_MAIN();
