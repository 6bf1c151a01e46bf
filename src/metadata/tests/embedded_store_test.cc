#include "metadata/embedded_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "metadata/tests/test_util.h"

namespace floe::metadata {
namespace {

using namespace std::chrono_literals;
using testing::temp_dir;
using testing::watch_collector;

class MetadataEmbeddedStore : public ::testing::Test {
protected:
    void SetUp() override { reopen(); }

    void reopen(int64_t history_revisions = 10000) {
        _store.reset();
        embedded_store_options options;
        options.directory = _dir.path();
        options.history_revisions = history_revisions;
        auto opened = embedded_store::open(options);
        ASSERT_TRUE(opened.has_value()) << opened.error_value().to_string();
        _store = std::move(opened).value();
    }
    void close() { _store.reset(); }

    embedded_store& store() { return *_store; }

    revision_t put(const std::string& key, const std::string& value, lease_id lease = 0) {
        auto r = _store->put(key, value, lease);
        EXPECT_TRUE(r.has_value()) << r.error_value().to_string();
        return r.has_value() ? *r : -1;
    }
    key_value must_get(const std::string& key) {
        auto r = _store->get(key);
        EXPECT_TRUE(r.has_value() && r->has_value()) << "missing " << key;
        return r.has_value() && r->has_value() ? **r : key_value{};
    }
    bool exists(const std::string& key) {
        auto r = _store->get(key);
        EXPECT_TRUE(r.has_value());
        return r.has_value() && r->has_value();
    }
    revision_t revision() { return _store->current_revision().value(); }

    // Runs a txn with one compare; true when the success branch ran.
    bool holds(compare condition) {
        txn_request request;
        request.compares.push_back(std::move(condition));
        auto r = _store->txn(request);
        EXPECT_TRUE(r.has_value()) << r.error_value().to_string();
        return r.has_value() && r->succeeded;
    }

    temp_dir _dir;
    std::unique_ptr<embedded_store> _store;
};

std::vector<std::string> keys_of(const range_response& r) {
    std::vector<std::string> out;
    for (const auto& kv : r.kvs) {
        out.push_back(kv.key);
    }
    return out;
}

// ---- etcd key semantics -----------------------------------------------------

TEST_F(MetadataEmbeddedStore, RevisionStartsAtOneAndEachPutBumpsItByOne) {
    EXPECT_EQ(revision(), 1);
    EXPECT_EQ(put("a", "1"), 2);
    EXPECT_EQ(put("b", "1"), 3);
    EXPECT_EQ(put("a", "2"), 4);
    EXPECT_EQ(revision(), 4);
}

TEST_F(MetadataEmbeddedStore, PutTracksCreateModRevisionAndVersion) {
    put("a", "x");
    put("other", "y");
    put("a", "z");
    key_value kv = must_get("a");
    EXPECT_EQ(kv.value, "z");
    EXPECT_EQ(kv.create_revision, 2);
    EXPECT_EQ(kv.mod_revision, 4);
    EXPECT_EQ(kv.version, 2);
    EXPECT_EQ(kv.lease, 0);
}

TEST_F(MetadataEmbeddedStore, DeleteThenRecreateResetsVersionAndCreateRevision) {
    put("a", "x");
    put("a", "y");
    auto removed = store().remove("a");
    ASSERT_TRUE(removed.has_value());
    EXPECT_EQ(removed->deleted, 1);
    EXPECT_EQ(removed->revision, 4);
    EXPECT_FALSE(exists("a"));
    EXPECT_EQ(put("a", "z"), 5);
    key_value kv = must_get("a");
    EXPECT_EQ(kv.create_revision, 5);
    EXPECT_EQ(kv.mod_revision, 5);
    EXPECT_EQ(kv.version, 1);
}

TEST_F(MetadataEmbeddedStore, DeletingMissingKeyDoesNotBumpRevision) {
    put("a", "x");
    auto removed = store().remove("nope");
    ASSERT_TRUE(removed.has_value());
    EXPECT_EQ(removed->deleted, 0);
    EXPECT_EQ(removed->revision, 2);
    EXPECT_EQ(revision(), 2);
}

TEST_F(MetadataEmbeddedStore, EmptyKeyIsRejected) {
    auto r = store().put("", "x");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error_value().code, errc::invalid_argument);
}

TEST_F(MetadataEmbeddedStore, BinaryKeysAndValuesRoundTrip) {
    std::string key("k\0\xff", 3);
    std::string value("\0\x01\xfe", 3);
    put(key, value);
    put("k", "");
    EXPECT_EQ(must_get(key).value, value);
    EXPECT_EQ(must_get("k").value, "");
    auto r = store().range({key_range::with_prefix("k"), 0, 0});
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(keys_of(*r), (std::vector<std::string>{"k", key}));
}

// ---- range ------------------------------------------------------------------

TEST_F(MetadataEmbeddedStore, RangeWithPrefixReturnsKeysInOrder) {
    put("/s/b", "2");
    put("/s/a", "1");
    put("/s", "parent");
    put("/t/a", "other");
    put("/s/c", "3");
    auto r = store().range({key_range::with_prefix("/s/"), 0, 0});
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(keys_of(*r), (std::vector<std::string>{"/s/a", "/s/b", "/s/c"}));
    EXPECT_EQ(r->revision, 6);
    EXPECT_FALSE(r->more);
}

TEST_F(MetadataEmbeddedStore, RangeWithLimitSetsMore) {
    for (char c = 'a'; c <= 'e'; ++c) {
        put(std::string("/p/") + c, "v");
    }
    auto limited = store().range({key_range::with_prefix("/p/"), 3, 0});
    ASSERT_TRUE(limited.has_value());
    EXPECT_EQ(keys_of(*limited), (std::vector<std::string>{"/p/a", "/p/b", "/p/c"}));
    EXPECT_TRUE(limited->more);
    // Continue from after the last key, as an etcd client pages.
    auto rest = store().range({key_range::interval("/p/c\x01", prefix_end("/p/")), 3, 0});
    ASSERT_TRUE(rest.has_value());
    EXPECT_EQ(keys_of(*rest), (std::vector<std::string>{"/p/d", "/p/e"}));
    EXPECT_FALSE(rest->more);
    auto exact = store().range({key_range::with_prefix("/p/"), 5, 0});
    ASSERT_TRUE(exact.has_value());
    EXPECT_EQ(exact->kvs.size(), 5u);
    EXPECT_FALSE(exact->more);
}

TEST_F(MetadataEmbeddedStore, RangeIntervalAndFromKeyFollowEtcdEncoding) {
    put("a", "1");
    put("b", "2");
    put("c", "3");
    auto interval = store().range({key_range::interval("a", "c"), 0, 0});
    ASSERT_TRUE(interval.has_value());
    EXPECT_EQ(keys_of(*interval), (std::vector<std::string>{"a", "b"}));
    auto from_key = store().range({key_range::interval("b", std::string(1, '\0')), 0, 0});
    ASSERT_TRUE(from_key.has_value());
    EXPECT_EQ(keys_of(*from_key), (std::vector<std::string>{"b", "c"}));
    auto single = store().range({key_range::single("b"), 0, 0});
    ASSERT_TRUE(single.has_value());
    EXPECT_EQ(keys_of(*single), (std::vector<std::string>{"b"}));
}

TEST_F(MetadataEmbeddedStore, PrefixEndMatchesEtcd) {
    EXPECT_EQ(prefix_end("/a/"), "/a0");
    EXPECT_EQ(prefix_end("a\xff"), "b");
    EXPECT_EQ(prefix_end(""), std::string(1, '\0'));
    EXPECT_EQ(prefix_end("\xff\xff"), std::string(1, '\0'));
}

TEST_F(MetadataEmbeddedStore, RangeAtPastRevisionSeesOldValues) {
    put("a", "1");                                 // 2
    put("b", "1");                                 // 3
    put("a", "2");                                 // 4
    ASSERT_TRUE(store().remove("b").has_value());  // 5
    put("c", "1");                                 // 6
    auto at3 = store().range({key_range::with_prefix(""), 0, 3});
    ASSERT_TRUE(at3.has_value());
    ASSERT_EQ(keys_of(*at3), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(at3->kvs[0].value, "1");
    EXPECT_EQ(at3->kvs[0].mod_revision, 2);
    EXPECT_EQ(at3->kvs[0].version, 1);
    EXPECT_EQ(at3->revision, 6);
    auto at5 = store().range({key_range::with_prefix(""), 0, 5});
    ASSERT_TRUE(at5.has_value());
    ASSERT_EQ(keys_of(*at5), (std::vector<std::string>{"a"}));
    EXPECT_EQ(at5->kvs[0].value, "2");
    EXPECT_EQ(at5->kvs[0].version, 2);
    auto future = store().range({key_range::single("a"), 0, 7});
    ASSERT_FALSE(future.has_value());
    EXPECT_EQ(future.error_value().code, errc::invalid_argument);
}

TEST_F(MetadataEmbeddedStore, CompactionKeepsStateAtAndAfterItsRevision) {
    put("a", "1");                                 // 2
    put("b", "1");                                 // 3
    put("a", "2");                                 // 4
    ASSERT_TRUE(store().remove("b").has_value());  // 5
    put("a", "3");                                 // 6
    ASSERT_TRUE(store().compact(5).has_value());
    EXPECT_EQ(store().compact_revision(), 5);
    auto old = store().range({key_range::with_prefix(""), 0, 4});
    ASSERT_FALSE(old.has_value());
    EXPECT_EQ(old.error_value().code, errc::not_found);
    auto at5 = store().range({key_range::with_prefix(""), 0, 5});
    ASSERT_TRUE(at5.has_value());
    ASSERT_EQ(keys_of(*at5), (std::vector<std::string>{"a"}));
    EXPECT_EQ(at5->kvs[0].value, "2");
    EXPECT_EQ(must_get("a").value, "3");
    EXPECT_EQ(must_get("a").create_revision, 2);
}

TEST_F(MetadataEmbeddedStore, AutoCompactionKeepsConfiguredHistory) {
    reopen(/*history_revisions=*/10);
    for (int i = 0; i < 50; ++i) {
        put("k" + std::to_string(i % 3), std::to_string(i));
    }
    revision_t now = revision();
    EXPECT_GT(store().compact_revision(), 1);
    EXPECT_LE(store().compact_revision(), now - 10);
    auto recent = store().range({key_range::with_prefix("k"), 0, now - 10});
    ASSERT_TRUE(recent.has_value()) << recent.error_value().to_string();
    EXPECT_EQ(recent->kvs.size(), 3u);
}

TEST_F(MetadataEmbeddedStore, RemovePrefixDeletesOnlyThePrefixInOneRevision) {
    put("/x/1", "a");
    put("/x/2", "b");
    put("/x", "parent");
    put("/y/1", "c");
    auto removed = store().remove_prefix("/x/");
    ASSERT_TRUE(removed.has_value());
    EXPECT_EQ(removed->deleted, 2);
    EXPECT_EQ(removed->revision, 6);
    EXPECT_FALSE(exists("/x/1"));
    EXPECT_FALSE(exists("/x/2"));
    EXPECT_TRUE(exists("/x"));
    EXPECT_TRUE(exists("/y/1"));
}

// ---- txn --------------------------------------------------------------------

TEST_F(MetadataEmbeddedStore, TxnCompareValueEachOperator) {
    put("k", "m");
    EXPECT_TRUE(holds(compare::value_is("k", compare_op::equal, "m")));
    EXPECT_FALSE(holds(compare::value_is("k", compare_op::equal, "n")));
    EXPECT_TRUE(holds(compare::value_is("k", compare_op::not_equal, "n")));
    EXPECT_FALSE(holds(compare::value_is("k", compare_op::not_equal, "m")));
    EXPECT_TRUE(holds(compare::value_is("k", compare_op::less, "n")));
    EXPECT_FALSE(holds(compare::value_is("k", compare_op::less, "m")));
    EXPECT_TRUE(holds(compare::value_is("k", compare_op::greater, "l")));
    EXPECT_FALSE(holds(compare::value_is("k", compare_op::greater, "m")));
}

TEST_F(MetadataEmbeddedStore, TxnCompareVersionEachOperator) {
    put("k", "1");
    put("k", "2");  // version 2
    EXPECT_TRUE(holds(compare::version_is("k", compare_op::equal, 2)));
    EXPECT_FALSE(holds(compare::version_is("k", compare_op::equal, 1)));
    EXPECT_TRUE(holds(compare::version_is("k", compare_op::not_equal, 1)));
    EXPECT_FALSE(holds(compare::version_is("k", compare_op::not_equal, 2)));
    EXPECT_TRUE(holds(compare::version_is("k", compare_op::less, 3)));
    EXPECT_FALSE(holds(compare::version_is("k", compare_op::less, 2)));
    EXPECT_TRUE(holds(compare::version_is("k", compare_op::greater, 1)));
    EXPECT_FALSE(holds(compare::version_is("k", compare_op::greater, 2)));
}

TEST_F(MetadataEmbeddedStore, TxnCompareCreateRevisionEachOperator) {
    put("k", "1");  // created at 2
    put("k", "2");
    EXPECT_TRUE(holds(compare::create_revision_is("k", compare_op::equal, 2)));
    EXPECT_FALSE(holds(compare::create_revision_is("k", compare_op::equal, 3)));
    EXPECT_TRUE(holds(compare::create_revision_is("k", compare_op::not_equal, 3)));
    EXPECT_FALSE(holds(compare::create_revision_is("k", compare_op::not_equal, 2)));
    EXPECT_TRUE(holds(compare::create_revision_is("k", compare_op::less, 3)));
    EXPECT_FALSE(holds(compare::create_revision_is("k", compare_op::less, 2)));
    EXPECT_TRUE(holds(compare::create_revision_is("k", compare_op::greater, 1)));
    EXPECT_FALSE(holds(compare::create_revision_is("k", compare_op::greater, 2)));
}

TEST_F(MetadataEmbeddedStore, TxnCompareModRevisionEachOperator) {
    put("k", "1");
    put("k", "2");  // modified at 3
    EXPECT_TRUE(holds(compare::mod_revision_is("k", compare_op::equal, 3)));
    EXPECT_FALSE(holds(compare::mod_revision_is("k", compare_op::equal, 2)));
    EXPECT_TRUE(holds(compare::mod_revision_is("k", compare_op::not_equal, 2)));
    EXPECT_FALSE(holds(compare::mod_revision_is("k", compare_op::not_equal, 3)));
    EXPECT_TRUE(holds(compare::mod_revision_is("k", compare_op::less, 4)));
    EXPECT_FALSE(holds(compare::mod_revision_is("k", compare_op::less, 3)));
    EXPECT_TRUE(holds(compare::mod_revision_is("k", compare_op::greater, 2)));
    EXPECT_FALSE(holds(compare::mod_revision_is("k", compare_op::greater, 3)));
}

TEST_F(MetadataEmbeddedStore, TxnCompareMissingKeyHasZeroFields) {
    EXPECT_TRUE(holds(compare::version_is("missing", compare_op::equal, 0)));
    EXPECT_TRUE(holds(compare::create_revision_is("missing", compare_op::equal, 0)));
    EXPECT_TRUE(holds(compare::mod_revision_is("missing", compare_op::equal, 0)));
    EXPECT_TRUE(holds(compare::value_is("missing", compare_op::equal, "")));
    EXPECT_TRUE(holds(compare::absent("missing")));
    put("present", "x");
    EXPECT_FALSE(holds(compare::absent("present")));
}

TEST_F(MetadataEmbeddedStore, TxnFailedCompareRunsFailureBranchAndWritesNothingElse) {
    put("guard", "v1");  // 2
    txn_request request;
    request.compares.push_back(compare::value_is("guard", compare_op::equal, "v1"));
    request.compares.push_back(compare::version_is("guard", compare_op::equal, 99));
    request.success.push_back(op::put("winner", "yes"));
    request.success.push_back(op::remove("guard"));
    request.failure.push_back(op::get("guard"));
    auto r = store().txn(request);
    ASSERT_TRUE(r.has_value());
    EXPECT_FALSE(r->succeeded);
    EXPECT_EQ(r->revision, 2);
    ASSERT_EQ(r->responses.size(), 1u);
    ASSERT_EQ(r->responses[0].range.kvs.size(), 1u);
    EXPECT_EQ(r->responses[0].range.kvs[0].value, "v1");
    EXPECT_FALSE(exists("winner"));
    EXPECT_TRUE(exists("guard"));
    EXPECT_EQ(revision(), 2);
}

TEST_F(MetadataEmbeddedStore, TxnWritesShareOneRevision) {
    put("old", "x");  // 2
    txn_request request;
    request.compares.push_back(compare::absent("a"));
    request.success.push_back(op::put("a", "1"));
    request.success.push_back(op::put("b", "2"));
    request.success.push_back(op::remove("old"));
    auto r = store().txn(request);
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(r->succeeded);
    EXPECT_EQ(r->revision, 3);
    EXPECT_EQ(r->responses[2].deleted, 1);
    EXPECT_EQ(must_get("a").mod_revision, 3);
    EXPECT_EQ(must_get("b").mod_revision, 3);
    EXPECT_FALSE(exists("old"));
    EXPECT_EQ(revision(), 3);
}

TEST_F(MetadataEmbeddedStore, TxnRangeSeesEarlierWritesInBranch) {
    txn_request request;
    request.success.push_back(op::put("/r/a", "1"));
    request.success.push_back(op::range({key_range::with_prefix("/r/"), 0, 0}));
    auto r = store().txn(request);
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->responses[1].range.kvs.size(), 1u);
    EXPECT_EQ(r->responses[1].range.kvs[0].mod_revision, 2);
}

TEST_F(MetadataEmbeddedStore, TxnWithDuplicateKeyIsRejected) {
    txn_request twice;
    twice.success.push_back(op::put("a", "1"));
    twice.success.push_back(op::put("a", "2"));
    auto r = store().txn(twice);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error_value().code, errc::invalid_argument);
    txn_request put_in_deleted;
    put_in_deleted.success.push_back(op::remove_range(key_range::with_prefix("/d/")));
    put_in_deleted.success.push_back(op::put("/d/x", "1"));
    EXPECT_FALSE(store().txn(put_in_deleted).has_value());
    EXPECT_EQ(revision(), 1);
}

TEST_F(MetadataEmbeddedStore, TxnErrorMidBranchRollsBackEarlierOps) {
    txn_request request;
    request.success.push_back(op::put("first", "1"));
    request.success.push_back(op::put("second", "2", /*lease=*/12345));  // no such lease
    auto r = store().txn(request);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error_value().code, errc::not_found);
    EXPECT_FALSE(exists("first"));
    EXPECT_EQ(revision(), 1);
    EXPECT_EQ(put("third", "3"), 2);
}

TEST_F(MetadataEmbeddedStore, ConcurrentCasIncrementsLoseNoUpdate) {
    put("counter", "0");
    constexpr int threads = 4;
    constexpr int increments = 50;
    std::atomic<int> conflicts{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&] {
            for (int i = 0; i < increments;) {
                auto current = store().get("counter").value().value();
                int next = std::stoi(current.value) + 1;
                txn_request request;
                request.compares.push_back(
                    compare::mod_revision_is("counter", compare_op::equal, current.mod_revision));
                request.success.push_back(op::put("counter", std::to_string(next)));
                auto r = store().txn(request);
                ASSERT_TRUE(r.has_value());
                if (r->succeeded) {
                    ++i;
                } else {
                    ++conflicts;
                }
            }
        });
    }
    for (auto& w : workers) {
        w.join();
    }
    EXPECT_EQ(must_get("counter").value, std::to_string(threads * increments));
    EXPECT_EQ(must_get("counter").version, threads * increments + 1);
}

// ---- leases -----------------------------------------------------------------

TEST_F(MetadataEmbeddedStore, LeaseGrantAttachAndTimeToLive) {
    auto lease = store().grant(30);
    ASSERT_TRUE(lease.has_value());
    EXPECT_NE(lease->id, 0);
    EXPECT_EQ(lease->ttl_seconds, 30);
    put("/n/2", "b", lease->id);
    put("/n/1", "a", lease->id);
    put("/n/3", "c");
    EXPECT_EQ(must_get("/n/1").lease, lease->id);
    auto ttl = store().time_to_live(lease->id);
    ASSERT_TRUE(ttl.has_value());
    EXPECT_EQ(ttl->granted_ttl_seconds, 30);
    EXPECT_GT(ttl->remaining_ttl_seconds, 28);
    EXPECT_LE(ttl->remaining_ttl_seconds, 30);
    EXPECT_EQ(ttl->keys, (std::vector<std::string>{"/n/1", "/n/2"}));
    // Re-putting without the lease detaches the key.
    put("/n/2", "b");
    EXPECT_EQ(store().time_to_live(lease->id)->keys, (std::vector<std::string>{"/n/1"}));
    EXPECT_TRUE(holds(compare::lease_is("/n/1", compare_op::equal, lease->id)));
}

TEST_F(MetadataEmbeddedStore, PutWithUnknownLeaseIsNotFound) {
    auto r = store().put("k", "v", 777);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error_value().code, errc::not_found);
}

TEST_F(MetadataEmbeddedStore, LeaseKeepAliveExtendsLife) {
    auto lease = store().grant(2);
    ASSERT_TRUE(lease.has_value());
    put("held", "v", lease->id);
    for (int i = 0; i < 3; ++i) {
        std::this_thread::sleep_for(800ms);
        auto kept = store().keep_alive(lease->id);
        ASSERT_TRUE(kept.has_value()) << "iteration " << i;
        EXPECT_EQ(*kept, 2);
    }
    // 2.4 s after a 2 s grant: alive only because of the keep-alives.
    EXPECT_TRUE(exists("held"));
    EXPECT_TRUE(store().time_to_live(lease->id).has_value());
}

TEST_F(MetadataEmbeddedStore, LeaseExpiryDeletesAttachedKeysInOneRevision) {
    auto lease = store().grant(1);
    ASSERT_TRUE(lease.has_value());
    put("/e/a", "1", lease->id);  // 2
    put("/e/b", "2", lease->id);  // 3
    put("/e/c", "3");             // 4
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (exists("/e/a") && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_FALSE(exists("/e/a"));
    EXPECT_FALSE(exists("/e/b"));
    EXPECT_TRUE(exists("/e/c"));
    EXPECT_EQ(revision(), 5);
    auto kept = store().keep_alive(lease->id);
    ASSERT_FALSE(kept.has_value());
    EXPECT_EQ(kept.error_value().code, errc::not_found);
    EXPECT_FALSE(store().time_to_live(lease->id).has_value());
}

TEST_F(MetadataEmbeddedStore, WatchSeesLeaseExpiryAsOneRevision) {
    auto lease = store().grant(1).value();
    put("/l/a", "1", lease.id);  // 2
    put("/l/b", "2", lease.id);  // 3
    watch_collector seen;
    auto handle = store().watch("/l/", 0, seen.callback());
    ASSERT_TRUE(handle.has_value());
    ASSERT_TRUE(seen.wait_for_events(2));
    auto responses = seen.responses();
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_EQ(responses[0].revision, 4);
    ASSERT_EQ(responses[0].events.size(), 2u);
    EXPECT_EQ(responses[0].events[0].type, event_type::remove);
    EXPECT_EQ(responses[0].events[0].kv.key, "/l/a");
    EXPECT_EQ(responses[0].events[1].kv.key, "/l/b");
}

TEST_F(MetadataEmbeddedStore, LeaseTtlOutOfRangeIsRejected) {
    EXPECT_EQ(store().grant(0).error_value().code, errc::invalid_argument);
    EXPECT_EQ(store().grant(-5).error_value().code, errc::invalid_argument);
    EXPECT_EQ(store().grant(max_lease_ttl_seconds + 1).error_value().code, errc::invalid_argument);
    EXPECT_TRUE(store().grant(max_lease_ttl_seconds).has_value());
}

TEST_F(MetadataEmbeddedStore, LeaseRevokeDeletesAttachedKeys) {
    auto lease = store().grant(60);
    ASSERT_TRUE(lease.has_value());
    put("/r/a", "1", lease->id);
    put("/r/b", "2", lease->id);
    ASSERT_TRUE(store().revoke(lease->id).has_value());
    EXPECT_FALSE(exists("/r/a"));
    EXPECT_FALSE(exists("/r/b"));
    EXPECT_EQ(revision(), 4);
    EXPECT_EQ(store().revoke(lease->id).error_value().code, errc::not_found);
    EXPECT_EQ(store().keep_alive(lease->id).error_value().code, errc::not_found);
}

TEST_F(MetadataEmbeddedStore, LeaseIdsAreNotReusedAfterRevokeOrReopen) {
    auto first = store().grant(60).value();
    ASSERT_TRUE(store().revoke(first.id).has_value());
    auto second = store().grant(60).value();
    EXPECT_NE(second.id, first.id);
    reopen();
    auto third = store().grant(60).value();
    EXPECT_NE(third.id, first.id);
    EXPECT_NE(third.id, second.id);
}

TEST_F(MetadataEmbeddedStore, LeaseWithinDeadlineSurvivesReopen) {
    auto lease = store().grant(60).value();
    put("/live", "v", lease.id);
    reopen();
    EXPECT_TRUE(exists("/live"));
    auto ttl = store().time_to_live(lease.id);
    ASSERT_TRUE(ttl.has_value());
    EXPECT_GT(ttl->remaining_ttl_seconds, 55);
    EXPECT_TRUE(store().keep_alive(lease.id).has_value());
}

TEST_F(MetadataEmbeddedStore, LeaseWhoseDeadlinePassedWhileClosedExpiresOnReopen) {
    auto lease = store().grant(1).value();
    put("/gone", "v", lease.id);
    put("/stays", "v");
    close();
    std::this_thread::sleep_for(1200ms);
    reopen();
    EXPECT_FALSE(exists("/gone"));
    EXPECT_TRUE(exists("/stays"));
    EXPECT_EQ(revision(), 4);
    EXPECT_EQ(store().keep_alive(lease.id).error_value().code, errc::not_found);
}

// ---- watch ------------------------------------------------------------------

TEST_F(MetadataEmbeddedStore, WatchReplaysFromPastRevisionThenLive) {
    put("/w/a", "1");    // 2
    put("/w/b", "1");    // 3
    put("/other", "x");  // 4
    put("/w/a", "2");    // 5
    watch_collector seen;
    auto handle = store().watch("/w/", 3, seen.callback());
    ASSERT_TRUE(handle.has_value());
    put("/w/c", "1");                                 // 6
    ASSERT_TRUE(store().remove("/w/a").has_value());  // 7
    ASSERT_TRUE(seen.wait_for_events(4));
    auto events = seen.events();
    ASSERT_EQ(events.size(), 4u);
    EXPECT_EQ(events[0].kv.key, "/w/b");
    EXPECT_EQ(events[0].kv.mod_revision, 3);
    EXPECT_EQ(events[1].kv.key, "/w/a");
    EXPECT_EQ(events[1].kv.mod_revision, 5);
    EXPECT_EQ(events[1].kv.version, 2);
    EXPECT_EQ(events[1].kv.create_revision, 2);
    EXPECT_EQ(events[2].kv.key, "/w/c");
    EXPECT_EQ(events[2].type, event_type::put);
    EXPECT_EQ(events[2].kv.mod_revision, 6);
    EXPECT_EQ(events[3].kv.key, "/w/a");
    EXPECT_EQ(events[3].type, event_type::remove);
    EXPECT_EQ(events[3].kv.mod_revision, 7);
}

TEST_F(MetadataEmbeddedStore, WatchDeliversEveryRevisionInOrderUnderConcurrentWrites) {
    watch_collector seen;
    std::atomic<bool> go{false};
    std::thread writer([&] {
        go = true;
        for (int i = 0; i < 100; ++i) {
            put("/c/" + std::to_string(i % 7), std::to_string(i));
        }
    });
    while (!go) {
        std::this_thread::yield();
    }
    // Start from revision 2 while writes race with the registration.
    auto handle = store().watch("/c/", 2, seen.callback());
    ASSERT_TRUE(handle.has_value());
    writer.join();
    ASSERT_TRUE(seen.wait_for_events(100));
    auto events = seen.events();
    ASSERT_EQ(events.size(), 100u);
    for (size_t i = 0; i < events.size(); ++i) {
        EXPECT_EQ(events[i].kv.mod_revision, static_cast<revision_t>(i) + 2);
        EXPECT_EQ(events[i].kv.value, std::to_string(i));
    }
}

TEST_F(MetadataEmbeddedStore, WatchFromZeroSeesOnlyNewChanges) {
    put("/z/old", "x");
    watch_collector seen;
    auto handle = store().watch("/z/", 0, seen.callback());
    ASSERT_TRUE(handle.has_value());
    put("/z/new", "y");
    ASSERT_TRUE(seen.wait_for_events(1));
    std::this_thread::sleep_for(50ms);
    auto events = seen.events();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].kv.key, "/z/new");
}

TEST_F(MetadataEmbeddedStore, WatchTxnEventsArriveAsOneResponse) {
    watch_collector seen;
    auto handle = store().watch("/t/", 0, seen.callback());
    ASSERT_TRUE(handle.has_value());
    txn_request request;
    request.success.push_back(op::put("/t/a", "1"));
    request.success.push_back(op::put("/elsewhere", "1"));
    request.success.push_back(op::put("/t/b", "1"));
    ASSERT_TRUE(store().txn(request).has_value());
    ASSERT_TRUE(seen.wait_for_events(2));
    auto responses = seen.responses();
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_EQ(responses[0].revision, 2);
    ASSERT_EQ(responses[0].events.size(), 2u);
    EXPECT_EQ(responses[0].events[0].kv.key, "/t/a");
    EXPECT_EQ(responses[0].events[1].kv.key, "/t/b");
}

TEST_F(MetadataEmbeddedStore, WatchFromCompactedRevisionReportsCompaction) {
    for (int i = 0; i < 5; ++i) {
        put("/k", std::to_string(i));
    }
    ASSERT_TRUE(store().compact(4).has_value());
    watch_collector seen;
    auto handle = store().watch("/k", 2, seen.callback());
    ASSERT_TRUE(handle.has_value());
    ASSERT_TRUE(seen.wait_for_failure());
    auto responses = seen.responses();
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_EQ(responses[0].failure->code, errc::not_found);
    EXPECT_EQ(responses[0].compact_revision, 4);
    // A watch from the compaction revision itself still replays.
    watch_collector from_compaction;
    auto ok_handle = store().watch("/k", 4, from_compaction.callback());
    ASSERT_TRUE(ok_handle.has_value());
    ASSERT_TRUE(from_compaction.wait_for_events(3));
    EXPECT_EQ(from_compaction.events()[0].kv.mod_revision, 4);
}

TEST_F(MetadataEmbeddedStore, WatchCancelStopsDelivery) {
    watch_collector seen;
    auto handle = store().watch("/c/", 0, seen.callback());
    ASSERT_TRUE(handle.has_value());
    put("/c/1", "x");
    ASSERT_TRUE(seen.wait_for_events(1));
    handle->cancel();
    EXPECT_FALSE(handle->active());
    put("/c/2", "x");
    // Another watcher proves the dispatcher moved past the write.
    watch_collector witness;
    auto other = store().watch("/c/", 1, witness.callback());
    ASSERT_TRUE(witness.wait_for_events(2));
    EXPECT_EQ(seen.events().size(), 1u);
}

TEST_F(MetadataEmbeddedStore, WatchCallbackMayCallTheStore) {
    std::atomic<int> echoed{0};
    auto handle = store().watch("/in/", 0, [&](const watch_response& response) {
        for (const auto& e : response.events) {
            auto r = store().put("/out/" + e.kv.key.substr(4), e.kv.value);
            if (r.has_value()) {
                ++echoed;
            }
        }
    });
    ASSERT_TRUE(handle.has_value());
    put("/in/a", "1");
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (echoed == 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_EQ(echoed.load(), 1);
    EXPECT_EQ(must_get("/out/a").value, "1");
}

TEST_F(MetadataEmbeddedStore, WatchHandleOutlivingStoreIsHarmless) {
    watch_collector seen;
    auto handle = store().watch("/", 0, seen.callback());
    ASSERT_TRUE(handle.has_value());
    close();
    handle->cancel();
}

// ---- durability -------------------------------------------------------------

TEST_F(MetadataEmbeddedStore, SecondOpenOfSameDirectoryConflicts) {
    embedded_store_options options;
    options.directory = _dir.path();
    auto second = embedded_store::open(options);
    ASSERT_FALSE(second.has_value());
    EXPECT_EQ(second.error_value().code, errc::conflict);
    close();
    EXPECT_TRUE(embedded_store::open(options).has_value());
}

TEST_F(MetadataEmbeddedStore, ReopenAfterCloseKeepsDataAndRevision) {
    put("a", "1");
    put("a", "2");
    put("b", "1");
    ASSERT_TRUE(store().remove("b").has_value());
    revision_t before = revision();
    reopen();
    EXPECT_EQ(revision(), before);
    key_value a = must_get("a");
    EXPECT_EQ(a.value, "2");
    EXPECT_EQ(a.version, 2);
    EXPECT_EQ(a.create_revision, 2);
    EXPECT_FALSE(exists("b"));
    EXPECT_EQ(put("c", "1"), before + 1);
    // History survives too: a watch from the start replays every change.
    watch_collector seen;
    auto handle = store().watch("", 2, seen.callback());
    ASSERT_TRUE(seen.wait_for_events(5));
}

TEST_F(MetadataEmbeddedStore, AcknowledgedPutsSurviveSigkill) {
    close();
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::close(fds[0]);
        embedded_store_options options;
        options.directory = _dir.path();
        auto opened = embedded_store::open(options);
        if (!opened) {
            _exit(2);
        }
        auto& s = **opened;
        for (int32_t i = 0;; ++i) {
            // Even iterations are plain puts, odd ones a txn writing a pair.
            bool acked;
            if (i % 2 == 0) {
                acked = s.put("/crash/" + std::to_string(i), std::string(100, 'v')).has_value();
            } else {
                txn_request request;
                request.success.push_back(op::put("/crash/" + std::to_string(i), "v"));
                request.success.push_back(op::put("/pair/" + std::to_string(i), "v"));
                acked = s.txn(request).has_value();
            }
            if (!acked) {
                _exit(3);
            }
            if (write(fds[1], &i, sizeof(i)) != sizeof(i)) {
                _exit(4);
            }
        }
    }
    ::close(fds[1]);
    int32_t last_acked = -1;
    int32_t value;
    bool killed = false;
    while (read(fds[0], &value, sizeof(value)) == sizeof(value)) {
        last_acked = value;
        if (!killed && last_acked >= 150) {
            kill(child, SIGKILL);
            killed = true;
        }
    }
    ::close(fds[0]);
    int wstatus = 0;
    ASSERT_EQ(waitpid(child, &wstatus, 0), child);
    ASSERT_TRUE(WIFSIGNALED(wstatus)) << "child exited with " << WEXITSTATUS(wstatus);
    ASSERT_GE(last_acked, 150);
    reopen();
    for (int32_t i = 0; i <= last_acked; ++i) {
        ASSERT_TRUE(exists("/crash/" + std::to_string(i))) << "acknowledged put " << i << " lost";
    }
    // A txn is all or nothing even when the kill lands inside it.
    auto crash = store().range({key_range::with_prefix("/crash/"), 0, 0}).value();
    auto pairs = store().range({key_range::with_prefix("/pair/"), 0, 0}).value();
    size_t odd = 0;
    for (const auto& kv : crash.kvs) {
        if (std::stoi(kv.key.substr(7)) % 2 == 1) {
            ++odd;
            EXPECT_TRUE(exists("/pair/" + kv.key.substr(7))) << kv.key << " without its pair";
        }
    }
    EXPECT_EQ(pairs.kvs.size(), odd);
    // The store stays consistent: revision covers every acknowledged put and
    // the next write continues from it.
    revision_t after = revision();
    EXPECT_GE(after, last_acked + 2);
    EXPECT_EQ(put("/after", "x"), after + 1);
}

}  // namespace
}  // namespace floe::metadata
