// stream_store over a real S3-compatible server (moto_server) reached through
// the fault-injecting TCP proxy: WAL on a temp file, embedded metadata in a
// temp dir, small upload thresholds, several streams appended to by pipelined
// writers while the proxy injects timeouts, 503 SlowDown, 500s, connection
// resets and slow responses (or fails every request for a while). Checks:
//   (a) no acknowledged append is lost: every offset reads back
//       byte-identical after the faults and after reopening the store;
//   (b) memory stays bounded: the store's pending bytes never exceed the WAL
//       capacity, appends are back-pressured by the WAL while uploads fail
//       (during an outage no more than the WAL capacity is acknowledged), and
//       resident memory grows by less than a fixed slack;
//   (c) progress resumes: once faults stop, every stream's committed end
//       reaches its high watermark and the WAL is trimmed within a bound.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

// shared_buffer.h before strong_id.h: its parameter `offset` would otherwise
// shadow floe::offset (-Wshadow).
#include "base/shared_buffer.h"
#include "objstore/s3_store.h"
#include "objstore/tests/fault_proxy.h"
#include "objstore/tests/moto_server.h"
#include "stream/tests/stream_test_util.h"

namespace floe::stream {
namespace {

using namespace test;
using namespace std::chrono_literals;
using objstore::testing::fault;
using objstore::testing::fault_proxy;

constexpr int k_streams = 3;
constexpr int k_window = 32;  // outstanding appends per writer
// Offered load per writer, bytes per second: enough to fill the WAL within a
// couple of seconds of an outage, little enough to read everything back fast.
constexpr double k_writer_rate = 1.0e6;

// Entry size for (stream, base): 1..12 KiB, recomputable when verifying.
size_t entry_size(uint64_t stream, int64_t base) {
    return 1024 + static_cast<size_t>((static_cast<uint64_t>(base) * 7919 + stream * 131) % 11264);
}

uint64_t resident_bytes() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) {
            return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
        }
    }
    return 0;
}

// One writer per stream: keeps up to k_window appends in flight; an append
// rejected up front (WAL queue full past append_timeout) is retried at the
// same offset.
struct writer {
    uint64_t stream = 0;
    std::mutex mutex;
    std::condition_variable changed;
    int outstanding = 0;       // guarded by mutex
    int64_t acked_end = 0;     // guarded by mutex
    uint64_t acked_bytes = 0;  // guarded by mutex
    uint64_t failed_acks = 0;  // guarded by mutex
    std::atomic<uint64_t> rejected{0};
    std::atomic<uint64_t> unexpected_rejections{0};
    std::atomic<bool> stop{false};
    std::thread thread;

    void run(stream_store& store) {
        int64_t next = 0;
        uint64_t issued = 0;
        const auto started = std::chrono::steady_clock::now();
        while (!stop.load()) {
            std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
            if (static_cast<double>(issued) > k_writer_rate * elapsed.count()) {
                std::this_thread::sleep_for(2ms);
                continue;
            }
            {
                std::unique_lock lock(mutex);
                changed.wait(lock, [&] { return outstanding < k_window; });
                ++outstanding;
            }
            byte_vector payload = make_payload(stream, next, entry_size(stream, next));
            const int64_t base = next;
            const size_t size = payload.size();
            status accepted = store.append(stream_id(stream), epoch(1), offset(base), 2,
                                           1000 + base, payload, [this, base, size](status r) {
                                               std::lock_guard lock(mutex);
                                               if (r) {
                                                   EXPECT_EQ(base, acked_end)
                                                       << "acknowledgements out of order";
                                                   acked_end = base + 2;
                                                   acked_bytes += size;
                                               } else {
                                                   ++failed_acks;
                                               }
                                               --outstanding;
                                               changed.notify_all();
                                           });
            if (!accepted) {
                {
                    std::lock_guard lock(mutex);
                    --outstanding;
                }
                if (accepted.error_value().code == errc::too_large) {
                    ++rejected;  // WAL back-pressure
                } else {
                    ++unexpected_rejections;
                    ADD_FAILURE() << "append rejected: " << accepted.error_value().to_string();
                }
                std::this_thread::sleep_for(10ms);
                continue;
            }
            next += 2;
            issued += size;
        }
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return outstanding == 0; });
    }
    std::pair<int64_t, uint64_t> acked() {
        std::lock_guard lock(mutex);
        return {acked_end, acked_bytes};
    }
};

class StreamS3FaultTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        // Running the binary directly (not through ctest) still finds the venv.
        ::setenv("FLOE_SOURCE_DIR", FLOE_SOURCE_DIR_DEFAULT, 0);
    }

    void SetUp() override {
        auto server = objstore::testing::moto_server::instance();
        ASSERT_TRUE(server) << "cannot start the S3 test server: "
                            << server.error_value().to_string();
        _server = server.value();
        _proxy = std::make_unique<fault_proxy>(_server->port());
        _proxy->set_delay(700ms);  // beyond the request timeout: a timeout

        _config.bucket = objstore::testing::unique_bucket_name();
        _config.access_key = "floe-test";
        _config.secret_key = "floe-test-secret";
        _config.path_style = true;
        _config.endpoint = _server->endpoint();
        auto direct = objstore::s3_store::open(_config);
        ASSERT_TRUE(direct);
        ASSERT_TRUE((*direct)->create_bucket());

        // Short bounds so that injected faults reach the uploader as failures
        // (not only as retries hidden inside the S3 client).
        _config.endpoint = _proxy->endpoint();
        _config.connect_timeout = 300ms;
        _config.request_timeout = 400ms;
        _config.max_attempts = 3;
        _config.backoff_base = 5ms;
        _config.backoff_max = 50ms;
        _config.retry_deadline = 2000ms;

        _dir = make_temp_dir("stream-s3");
        _options = small_options();
        _options.wal.append_timeout = 200ms;
        _options.wal.max_queued_bytes = 256 << 10;
        _options.upload_bytes = 256 << 10;
        _options.upload_age = 50ms;
        _options.max_object_bytes = 1 << 20;
        _options.retry_initial = 5ms;
        _options.retry_max = 200ms;
        _options.object_block_size = 64 << 10;
        _options.max_readahead_blocks = 16;
        _baseline_rss = resident_bytes();
    }

    void TearDown() override {
        stop_sampler();
        _store.reset();
        _objects.reset();
        _meta.reset();
        _proxy.reset();
        if (!_dir.empty()) {
            std::filesystem::remove_all(_dir);
        }
    }

    void open_store() {
        auto s3 = objstore::s3_store::open(_config);
        ASSERT_TRUE(s3) << s3.error_value().to_string();
        _objects = std::shared_ptr<objstore::object_store>(std::move(*s3));
        auto m = metadata::embedded_store::open({.directory = _dir / "meta"});
        ASSERT_TRUE(m.has_value()) << m.error_value().to_string();
        _meta = std::shared_ptr<metadata::store>(std::move(*m));
        auto file =
            posix_file::open((_dir / "wal").string(), wal_format::k_data_offset + k_wal_capacity);
        ASSERT_TRUE(file.has_value()) << file.error_value().to_string();
        auto opened = stream_store::open(_options, std::shared_ptr<wal_file>(std::move(*file)),
                                         _objects, _meta);
        ASSERT_TRUE(opened.has_value()) << opened.error_value().to_string();
        _store = std::move(*opened);
    }

    void reopen_store() {
        _store.reset();
        _objects.reset();
        _meta.reset();
        open_store();
    }

    void start_writers() {
        for (int i = 0; i < k_streams; ++i) {
            auto w = std::make_unique<writer>();
            w->stream = static_cast<uint64_t>(i + 1);
            auto pos = _store->open_stream(stream_id(w->stream), epoch(1));
            ASSERT_TRUE(pos.has_value()) << pos.error_value().to_string();
            _writers.push_back(std::move(w));
        }
        for (auto& w : _writers) {
            w->thread = std::thread([this, raw = w.get()] { raw->run(*_store); });
        }
    }

    void stop_writers() {
        for (auto& w : _writers) {
            w->stop = true;
        }
        for (auto& w : _writers) {
            if (w->thread.joinable()) {
                w->thread.join();
            }
            std::lock_guard lock(w->mutex);
            EXPECT_EQ(w->failed_acks, 0u) << "stream " << w->stream;
        }
    }

    uint64_t total_acked_bytes() {
        uint64_t sum = 0;
        for (auto& w : _writers) {
            sum += w->acked().second;
        }
        return sum;
    }

    // Samples pending bytes and RSS every 5 ms until stopped.
    void start_sampler() {
        _sampler = std::thread([this] {
            while (!_sampler_stop.load()) {
                uint64_t pending = _store->statistics().pending_bytes;
                uint64_t rss = resident_bytes();
                uint64_t seen = _max_pending.load();
                while (pending > seen && !_max_pending.compare_exchange_weak(seen, pending)) {
                }
                seen = _max_rss.load();
                while (rss > seen && !_max_rss.compare_exchange_weak(seen, rss)) {
                }
                std::this_thread::sleep_for(5ms);
            }
        });
    }
    void stop_sampler() {
        _sampler_stop = true;
        if (_sampler.joinable()) {
            _sampler.join();
        }
    }

    // (c): every stream's committed end reaches its high watermark, nothing is
    // pending and the WAL trim position has moved, within `limit`.
    void expect_caught_up(std::chrono::milliseconds limit) {
        auto started = std::chrono::steady_clock::now();
        auto deadline = started + limit;
        bool done = false;
        while (!done && std::chrono::steady_clock::now() < deadline) {
            done = _store->statistics().pending_bytes == 0;
            for (auto& w : _writers) {
                auto info = _store->info(stream_id(w->stream));
                done = done && info && info->record.committed_end == info->high_watermark &&
                       info->high_watermark == offset(w->acked().first);
            }
            if (!done) {
                std::this_thread::sleep_for(10ms);
            }
        }
        auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - started);
        ASSERT_TRUE(done) << "uploads did not catch up within " << limit.count() << " ms";
        EXPECT_GT(_store->statistics().wal_trim_position, 0u);
        std::printf("caught up %lld ms after faults stopped\n",
                    static_cast<long long>(took.count()));
    }

    // (a): every acknowledged offset reads back byte-identical.
    void verify_all() {
        for (auto& w : _writers) {
            const uint64_t stream = w->stream;
            const int64_t end = w->acked().first;
            ASSERT_GT(end, 0) << "stream " << stream << " acknowledged nothing";
            int64_t cursor = 0;
            while (cursor < end) {
                // moto is a Python server: on a loaded machine a ranged GET can
                // time out even with faults off. An I/O error is retried (a
                // bounded number of times); a wrong byte, gap or duplicate never.
                auto entries = _store->read(stream_id(stream), offset(cursor), 1 << 20);
                for (int attempt = 0;
                     attempt < 20 && !entries.has_value() && entries.error_value().code == errc::io;
                     ++attempt) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(200));
                    entries = _store->read(stream_id(stream), offset(cursor), 1 << 20);
                }
                ASSERT_TRUE(entries.has_value()) << "stream " << stream << " at " << cursor << ": "
                                                 << entries.error_value().to_string();
                ASSERT_FALSE(entries->empty()) << "stream " << stream << " at " << cursor;
                for (const auto& e : *entries) {
                    ASSERT_EQ(e.base_offset.value(), cursor) << "gap or duplicate";
                    ASSERT_EQ(e.record_count, 2);
                    byte_vector expected = make_payload(stream, cursor, entry_size(stream, cursor));
                    ASSERT_TRUE(expected.size() == e.payload.size() &&
                                std::equal(expected.begin(), expected.end(), e.payload.data()))
                        << "payload mismatch, stream " << stream << " offset " << cursor;
                    ASSERT_EQ(e.max_timestamp, 1000 + cursor);
                    cursor = e.end_offset().value();
                }
            }
            ASSERT_EQ(cursor, end);
            auto info = _store->info(stream_id(stream));
            ASSERT_TRUE(info.has_value());
            EXPECT_EQ(info->high_watermark, offset(end)) << "stream " << stream;
        }
    }

    void expect_memory_bounded() {
        stop_sampler();
        std::printf("RSS now %llu MiB\n", static_cast<unsigned long long>(resident_bytes() >> 20));
        std::printf(
            "max pending %llu bytes (WAL capacity %llu); RSS baseline %llu MiB, max %llu "
            "MiB\n",
            static_cast<unsigned long long>(_max_pending.load()),
            static_cast<unsigned long long>(k_wal_capacity),
            static_cast<unsigned long long>(_baseline_rss >> 20),
            static_cast<unsigned long long>(_max_rss.load() >> 20));
        EXPECT_GT(_max_pending.load(), 0u);
        EXPECT_LE(_max_pending.load(), k_wal_capacity);
        // The bound that matters is the one above: data waiting for upload
        // never exceeds the WAL's capacity. RSS adds caches (1 + 1 MiB), the
        // WAL queue, one object being built, the S3 client, the proxy, and
        // glibc's per-thread arenas, which grow with the number of busy
        // threads on a loaded machine (seen: +108 MiB under a load of 4).
        EXPECT_LT(_max_rss.load(), _baseline_rss + (256ull << 20));
    }

    objstore::testing::moto_server* _server = nullptr;
    std::unique_ptr<fault_proxy> _proxy;
    objstore::s3_config _config;
    std::filesystem::path _dir;
    stream_store_options _options;
    std::shared_ptr<objstore::object_store> _objects;
    std::shared_ptr<metadata::store> _meta;
    std::unique_ptr<stream_store> _store;
    std::vector<std::unique_ptr<writer>> _writers;
    std::thread _sampler;
    std::atomic<bool> _sampler_stop{false};
    std::atomic<uint64_t> _max_pending{0};
    std::atomic<uint64_t> _max_rss{0};
    uint64_t _baseline_rss = 0;
};

TEST_F(StreamS3FaultTest, RandomFaultsLoseNothingAndUploadsResume) {
    open_store();
    start_writers();
    start_sampler();
    _proxy->set_policy(fault_proxy::random(
        20261126, 0.3,
        {fault::slow_down_503, fault::internal_500, fault::reset, fault::reset_mid_request,
         fault::reset_mid_response, fault::delay, fault::slow_response}));

    // A tail reader during the faults: whatever it gets must be right (reads
    // of objects may fail with errc::io while the proxy misbehaves).
    std::atomic<bool> reader_stop{false};
    std::atomic<uint64_t> reads_ok{0};
    std::thread reader([&] {
        int64_t cursor = 0;
        while (!reader_stop.load()) {
            auto entries = _store->read(stream_id(1), offset(cursor), 256 << 10);
            if (!entries || entries->empty()) {
                std::this_thread::sleep_for(5ms);
                continue;
            }
            for (const auto& e : *entries) {
                if (e.base_offset.value() < cursor) {
                    continue;
                }
                byte_vector expected =
                    make_payload(1, e.base_offset.value(), entry_size(1, e.base_offset.value()));
                EXPECT_TRUE(expected.size() == e.payload.size() &&
                            std::equal(expected.begin(), expected.end(), e.payload.data()))
                    << "payload mismatch during faults at " << e.base_offset.value();
                cursor = e.end_offset().value();
            }
            ++reads_ok;
        }
    });

    std::this_thread::sleep_for(8s);
    stop_writers();
    reader_stop = true;
    reader.join();
    auto faulted = _store->statistics();
    std::printf(
        "proxy: %llu requests, %llu faults; store: %llu objects, %llu upload failures, "
        "%llu acknowledged bytes, %llu tail reads\n",
        static_cast<unsigned long long>(_proxy->requests()),
        static_cast<unsigned long long>(_proxy->faults()),
        static_cast<unsigned long long>(faulted.objects_uploaded),
        static_cast<unsigned long long>(faulted.upload_failures),
        static_cast<unsigned long long>(total_acked_bytes()),
        static_cast<unsigned long long>(reads_ok.load()));
    EXPECT_GT(_proxy->faults(), 20u) << "too few faults to mean anything";
    EXPECT_GT(faulted.upload_failures, 0u) << "no fault reached the uploader";
    EXPECT_GT(faulted.objects_uploaded, 0u) << "nothing was uploaded despite retries";

    _proxy->set_policy([](const std::string&) { return fault::none; });
    std::printf("RSS after writing %llu MiB\n",
                static_cast<unsigned long long>(resident_bytes() >> 20));
    expect_caught_up(15s);
    verify_all();
    expect_memory_bounded();

    reopen_store();
    verify_all();
    for (auto& w : _writers) {
        auto info = _store->info(stream_id(w->stream));
        ASSERT_TRUE(info.has_value());
        EXPECT_EQ(info->record.committed_end, offset(w->acked().first));
    }
}

TEST_F(StreamS3FaultTest, OutageBackPressuresAppendsThenRecovers) {
    open_store();
    start_writers();
    start_sampler();
    std::this_thread::sleep_for(1s);  // some data committed before the outage

    // Every request fails: 500, 503, resets, or no answer at all.
    auto counter = std::make_shared<std::atomic<uint64_t>>(0);
    _proxy->set_policy([counter](const std::string&) {
        static constexpr fault kinds[] = {fault::internal_500, fault::slow_down_503, fault::reset,
                                          fault::black_hole};
        return kinds[counter->fetch_add(1) % 4];
    });
    // Requests already past the proxy when the outage began may still succeed;
    // count from a moment later.
    std::this_thread::sleep_for(2500ms);
    auto before = _store->statistics();
    uint64_t acked_before = total_acked_bytes();
    uint64_t rejected_before = 0;
    for (auto& w : _writers) {
        rejected_before += w->rejected.load();
    }
    std::this_thread::sleep_for(6s);
    auto during = _store->statistics();
    uint64_t acked_during = total_acked_bytes() - acked_before;
    uint64_t rejected_during = 0;
    for (auto& w : _writers) {
        rejected_during += w->rejected.load();
    }
    rejected_during -= rejected_before;
    std::printf(
        "outage: %llu bytes acknowledged in 6 s, %llu appends rejected by WAL "
        "back-pressure, %llu upload failures, pending %llu\n",
        static_cast<unsigned long long>(acked_during),
        static_cast<unsigned long long>(rejected_during),
        static_cast<unsigned long long>(during.upload_failures - before.upload_failures),
        static_cast<unsigned long long>(during.pending_bytes));
    EXPECT_EQ(during.objects_uploaded, before.objects_uploaded) << "an upload got through";
    EXPECT_GT(during.upload_failures, before.upload_failures);
    // Nothing can be trimmed, so at most one WAL's worth is acknowledged, and
    // the writers are then held back (rejected after append_timeout).
    EXPECT_LE(acked_during, k_wal_capacity);
    EXPECT_GT(rejected_during, 0u);

    // Recovery: faults stop while the writers keep going, then they stop.
    _proxy->set_policy([](const std::string&) { return fault::none; });
    auto resumed = total_acked_bytes();
    std::this_thread::sleep_for(3s);
    EXPECT_GT(total_acked_bytes(), resumed + (1u << 20)) << "appends did not resume";
    stop_writers();
    expect_caught_up(15s);
    verify_all();
    expect_memory_bounded();

    reopen_store();
    verify_all();
}

}  // namespace
}  // namespace floe::stream
