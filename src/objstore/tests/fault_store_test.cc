#include "objstore/fault_store.h"

#include <gtest/gtest.h>

#include "objstore/local_store.h"
#include "objstore/tests/test_util.h"

namespace floe::objstore {
namespace {

using testing::as_span;

class fault_store_test : public ::testing::Test {
protected:
    void SetUp() override {
        auto opened = local_store::open(_dir.path());
        ASSERT_TRUE(opened);
        _inner = std::move(opened.value());
    }
    testing::temp_dir _dir;
    std::unique_ptr<local_store> _inner;
};

TEST_F(fault_store_test, fails_exactly_the_nth_call) {
    fault_store store(*_inner);
    store.fail_nth(fault_store::op::put, 2);
    store.fail_nth(fault_store::op::get, 1);
    store.fail_nth(fault_store::op::list, 2);
    EXPECT_TRUE(store.put("a", as_span("1")));
    auto second = store.put("b", as_span("2"));
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error_value().code, errc::io);
    EXPECT_TRUE(store.put("c", as_span("3")));
    EXPECT_EQ(_inner->head("b").error_value().code, errc::not_found);  // never reached
    EXPECT_EQ(store.get("a").error_value().code, errc::io);
    EXPECT_TRUE(store.get_range("a", 0, 1));
    EXPECT_TRUE(store.list(""));
    EXPECT_EQ(store.list("").error_value().code, errc::io);
    EXPECT_EQ(store.calls(fault_store::op::put), 3u);
    EXPECT_EQ(store.failures(fault_store::op::put), 1u);
    EXPECT_EQ(store.failures(fault_store::op::get), 1u);
}

std::vector<bool> outcomes(object_store& inner, uint64_t seed) {
    fault_store store(inner, seed);
    store.set_probability(fault_store::op::head, 0.3);
    std::vector<bool> out;
    for (int i = 0; i < 200; ++i) {
        auto info = store.head("k");
        out.push_back(info.has_value());
    }
    return out;
}

TEST_F(fault_store_test, probability_is_deterministic_by_seed) {
    ASSERT_TRUE(_inner->put("k", as_span("v")));
    auto first = outcomes(*_inner, 7);
    EXPECT_EQ(first, outcomes(*_inner, 7));
    EXPECT_NE(first, outcomes(*_inner, 8));
    auto failed = std::count(first.begin(), first.end(), false);
    EXPECT_GT(failed, 30);
    EXPECT_LT(failed, 90);
}

TEST_F(fault_store_test, fail_all_and_reset) {
    fault_store store(*_inner);
    store.fail_all(true);
    EXPECT_EQ(store.remove("x").error_value().code, errc::io);
    EXPECT_EQ(store.put("x", as_span("v")).error_value().code, errc::io);
    store.reset();
    EXPECT_TRUE(store.put("x", as_span("v")));
    EXPECT_EQ(store.calls(fault_store::op::put), 1u);
}

}  // namespace
}  // namespace floe::objstore
