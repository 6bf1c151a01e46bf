// fault_injecting_store: wraps another store and makes chosen calls fail, so
// modules above metadata (stream commits, ownership, id allocation) can test
// their error paths against the real semantics of the wrapped store.
//
// Two failure kinds, each armed for the next N write calls (put, remove,
// remove_prefix, txn, grant, keep_alive, revoke):
//   fail_writes(n, code)        the call fails with `code` and changes nothing
//   lose_write_responses(n)     the call IS applied, then reports errc::io, as
//                               when a client times out after etcd committed;
//                               callers must treat such errors as "maybe applied"
// Reads (get, range, time_to_live) and watch pass through unless
// fail_reads(n, code) is armed.
//
// Threading: thread-safe; the counters are atomics, and the wrapped store is
// thread-safe itself. The wrapped store must outlive this one.
#pragma once

#include <atomic>
#include <cstdint>

#include "metadata/store.h"

namespace floe::metadata {

class fault_injecting_store final : public store {
public:
    explicit fault_injecting_store(store& inner) : _inner(inner) {}

    void fail_writes(int64_t count, errc code = errc::io) {
        _write_code.store(code);
        _failed_writes.store(count);
    }
    void lose_write_responses(int64_t count) { _lost_responses.store(count); }
    void fail_reads(int64_t count, errc code = errc::io) {
        _read_code.store(code);
        _failed_reads.store(count);
    }
    // Number of calls that were failed or had their response lost so far.
    int64_t injected() const { return _injected.load(); }

    result<std::optional<key_value>> get(std::string_view key) override {
        FLOE_TRY(before_read());
        return _inner.get(key);
    }
    result<range_response> range(const range_request& request) override {
        FLOE_TRY(before_read());
        return _inner.range(request);
    }
    result<revision_t> put(std::string_view key, std::string_view value,
                           lease_id lease = 0) override {
        return write([&] { return _inner.put(key, value, lease); });
    }
    result<delete_response> remove(std::string_view key) override {
        return write([&] { return _inner.remove(key); });
    }
    result<delete_response> remove_prefix(std::string_view prefix) override {
        return write([&] { return _inner.remove_prefix(prefix); });
    }
    result<txn_response> txn(const txn_request& request) override {
        return write([&] { return _inner.txn(request); });
    }
    status compact(revision_t revision) override { return _inner.compact(revision); }
    result<lease_grant> grant(int64_t ttl_seconds) override {
        return write([&] { return _inner.grant(ttl_seconds); });
    }
    result<int64_t> keep_alive(lease_id id) override {
        return write([&] { return _inner.keep_alive(id); });
    }
    status revoke(lease_id id) override {
        return write([&] { return _inner.revoke(id); });
    }
    result<lease_status> time_to_live(lease_id id) override {
        FLOE_TRY(before_read());
        return _inner.time_to_live(id);
    }
    result<watch_handle> watch(std::string_view prefix, revision_t start_revision,
                               watch_callback callback) override {
        return _inner.watch(prefix, start_revision, std::move(callback));
    }

private:
    // Takes one unit from `counter` if any is left.
    static bool take(std::atomic<int64_t>& counter) {
        int64_t left = counter.load();
        while (left > 0) {
            if (counter.compare_exchange_weak(left, left - 1)) {
                return true;
            }
        }
        return false;
    }
    status before_read() {
        if (take(_failed_reads)) {
            ++_injected;
            return error(_read_code.load(), "injected read failure");
        }
        return ok();
    }
    template <typename Call>
    auto write(Call&& call) -> decltype(call()) {
        if (take(_failed_writes)) {
            ++_injected;
            return error(_write_code.load(), "injected write failure (not applied)");
        }
        auto out = call();
        if (out.has_value() && take(_lost_responses)) {
            ++_injected;
            return error(errc::io, "injected lost response (write was applied)");
        }
        return out;
    }

    store& _inner;
    std::atomic<int64_t> _failed_writes{0};
    std::atomic<int64_t> _lost_responses{0};
    std::atomic<int64_t> _failed_reads{0};
    std::atomic<errc> _write_code{errc::io};
    std::atomic<errc> _read_code{errc::io};
    std::atomic<int64_t> _injected{0};
};

}  // namespace floe::metadata
