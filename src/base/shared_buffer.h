// shared_buffer: an immutable, reference-counted byte range. Copies share the
// bytes; the bytes live until the last copy is gone. This is how data moves
// between the WAL, caches and fetch responses without being copied: a fetch
// response is a list of shared_buffers written with one gathered write.
//
//   auto whole = shared_buffer::copy_of(bytes);   // one allocation
//   shared_buffer part = whole.slice(10, 5);      // shares it, no copy
//
// Threading: immutable, so any thread may read or copy it.
#pragma once

#include <memory>

#include "base/bytes.h"
#include "base/result.h"

namespace floe {

class shared_buffer {
public:
    shared_buffer() = default;

    // Takes ownership of `bytes`.
    static shared_buffer adopt(byte_vector bytes) {
        auto owner = std::make_shared<const byte_vector>(std::move(bytes));
        byte_span view(*owner);
        return shared_buffer(std::move(owner), view);
    }
    static shared_buffer copy_of(byte_span bytes) {
        return adopt(byte_vector(bytes.begin(), bytes.end()));
    }

    byte_span span() const { return _view; }
    const uint8_t* data() const { return _view.data(); }
    size_t size() const { return _view.size(); }
    bool empty() const { return _view.empty(); }

    // The sub-range [start, start + length); aborts when it is outside this
    // buffer (a caller bug, not an input error).
    shared_buffer slice(size_t start, size_t length) const {
        if (start > _view.size() || length > _view.size() - start) {
            abort_with("shared_buffer::slice out of range");
        }
        return shared_buffer(_owner, _view.subspan(start, length));
    }

private:
    shared_buffer(std::shared_ptr<const byte_vector> owner, byte_span view)
        : _owner(std::move(owner)), _view(view) {}

    std::shared_ptr<const byte_vector> _owner;
    byte_span _view;
};

}  // namespace floe
