#include "objstore/fault_store.h"

namespace floe::objstore {

namespace {

size_t index(fault_store::op operation) {
    return static_cast<size_t>(operation);
}

std::string_view name(fault_store::op operation) {
    switch (operation) {
        case fault_store::op::put:
            return "put";
        case fault_store::op::get:
            return "get";
        case fault_store::op::head:
            return "head";
        case fault_store::op::remove:
            return "remove";
        case fault_store::op::list:
            return "list";
    }
    return "?";
}

}  // namespace

fault_store::fault_store(object_store& inner, uint64_t seed) : _inner(inner), _rng(seed) {}

void fault_store::fail_nth(op operation, uint64_t nth) {
    if (nth == 0) {
        return;
    }
    std::lock_guard lock(_mutex);
    _nth[index(operation)].insert(nth);
}

void fault_store::set_probability(op operation, double probability) {
    std::lock_guard lock(_mutex);
    _probability[index(operation)] = probability;
}

void fault_store::fail_all(bool enabled) {
    std::lock_guard lock(_mutex);
    _fail_all = enabled;
}

void fault_store::reset() {
    std::lock_guard lock(_mutex);
    for (size_t i = 0; i < op_count; ++i) {
        _nth[i].clear();
        _probability[i] = 0;
        _calls[i] = 0;
        _failures[i] = 0;
    }
    _fail_all = false;
}

uint64_t fault_store::calls(op operation) const {
    std::lock_guard lock(_mutex);
    return _calls[index(operation)];
}

uint64_t fault_store::failures(op operation) const {
    std::lock_guard lock(_mutex);
    return _failures[index(operation)];
}

bool fault_store::should_fail(op operation) {
    std::lock_guard lock(_mutex);
    size_t i = index(operation);
    uint64_t call = ++_calls[i];
    bool fail = _fail_all || _nth[i].contains(call);
    // Draw for every call while a probability is set, so the sequence of
    // outcomes depends only on the seed and the call order.
    if (_probability[i] > 0) {
        bool drawn = std::uniform_real_distribution<double>(0.0, 1.0)(_rng) < _probability[i];
        fail = fail || drawn;
    }
    if (fail) {
        ++_failures[i];
    }
    return fail;
}

error fault_store::injected(op operation, std::string_view key) {
    return error(errc::io,
                 "injected fault: " + std::string(name(operation)) + " " + std::string(key));
}

status fault_store::put(std::string_view key, byte_span data) {
    if (should_fail(op::put)) {
        return injected(op::put, key);
    }
    return _inner.put(key, data);
}

result<byte_vector> fault_store::get(std::string_view key) {
    if (should_fail(op::get)) {
        return injected(op::get, key);
    }
    return _inner.get(key);
}

result<byte_vector> fault_store::get_range(std::string_view key, uint64_t offset, uint64_t length) {
    if (should_fail(op::get)) {
        return injected(op::get, key);
    }
    return _inner.get_range(key, offset, length);
}

result<object_info> fault_store::head(std::string_view key) {
    if (should_fail(op::head)) {
        return injected(op::head, key);
    }
    return _inner.head(key);
}

status fault_store::remove(std::string_view key) {
    if (should_fail(op::remove)) {
        return injected(op::remove, key);
    }
    return _inner.remove(key);
}

result<std::vector<object_info>> fault_store::list(std::string_view prefix) {
    if (should_fail(op::list)) {
        return injected(op::list, prefix);
    }
    return _inner.list(prefix);
}

}  // namespace floe::objstore
