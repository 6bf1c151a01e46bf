#include "wal/fault_file.h"

#include <algorithm>
#include <cstring>
#include <random>
#include <string>

namespace floe {
namespace {

constexpr size_t k_block = 4096;

error dead_error() {
    return error(errc::io, "fault_file: crashed");
}

}  // namespace

fault_file::fault_file(uint64_t size) : _current(size, 0), _durable(size, 0) {}

fault_file::fault_file(byte_vector image) : _current(image), _durable(std::move(image)) {}

uint64_t fault_file::size() const {
    std::lock_guard lock(_mutex);
    return _current.size();
}

status fault_file::write(uint64_t offset, byte_span data) {
    std::lock_guard lock(_mutex);
    if (_dead) {
        return dead_error();
    }
    if (offset % k_block != 0 || data.size() % k_block != 0) {
        return error(errc::invalid_argument, "fault_file: unaligned write at " +
                                                 std::to_string(offset) + " length " +
                                                 std::to_string(data.size()));
    }
    if (offset + data.size() > _current.size()) {
        return error(errc::invalid_argument, "fault_file: write past the end");
    }
    uint64_t index = ++_writes;
    if (index == _fail_write) {
        return error(errc::io, "fault_file: injected failure of write " + std::to_string(index));
    }
    if (index == _tear_write) {
        size_t n = std::min(_tear_prefix, data.size());
        std::memcpy(_current.data() + offset, data.data(), n);
        std::memcpy(_durable.data() + offset, data.data(), n);
        return error(errc::io, "fault_file: injected torn write " + std::to_string(index));
    }
    std::memcpy(_current.data() + offset, data.data(), data.size());
    _unsynced.push_back({offset, data.size()});
    return ok();
}

status fault_file::read(uint64_t offset, std::span<uint8_t> out) {
    std::lock_guard lock(_mutex);
    if (_dead) {
        return dead_error();
    }
    if (offset + out.size() > _current.size()) {
        return error(errc::truncated, "fault_file: read past the end");
    }
    std::memcpy(out.data(), _current.data() + offset, out.size());
    return ok();
}

status fault_file::sync() {
    std::lock_guard lock(_mutex);
    if (_dead) {
        return dead_error();
    }
    uint64_t index = ++_syncs;
    if (index == _fail_sync) {
        return error(errc::io, "fault_file: injected failure of sync " + std::to_string(index));
    }
    for (const auto& w : _unsynced) {
        std::memcpy(_durable.data() + w.offset, _current.data() + w.offset, w.length);
    }
    _unsynced.clear();
    return ok();
}

void fault_file::fail_write(uint64_t nth) {
    std::lock_guard lock(_mutex);
    _fail_write = nth;
}

void fault_file::fail_sync(uint64_t nth) {
    std::lock_guard lock(_mutex);
    _fail_sync = nth;
}

void fault_file::tear_write(uint64_t nth, size_t prefix_bytes) {
    std::lock_guard lock(_mutex);
    _tear_write = nth;
    _tear_prefix = prefix_bytes;
}

byte_vector fault_file::crash(std::optional<uint64_t> seed) {
    std::lock_guard lock(_mutex);
    _dead = true;
    byte_vector image = _durable;
    if (seed) {
        size_t total_blocks = 0;
        for (const auto& w : _unsynced) {
            total_blocks += w.length / k_block;
        }
        std::mt19937_64 rng(*seed);
        size_t keep = total_blocks == 0 ? 0 : static_cast<size_t>(rng() % (total_blocks + 1));
        for (const auto& w : _unsynced) {
            for (size_t b = 0; b < w.length / k_block && keep > 0; ++b, --keep) {
                uint64_t at = w.offset + b * k_block;
                std::memcpy(image.data() + at, _current.data() + at, k_block);
            }
        }
    }
    return image;
}

uint64_t fault_file::write_count() const {
    std::lock_guard lock(_mutex);
    return _writes;
}

uint64_t fault_file::sync_count() const {
    std::lock_guard lock(_mutex);
    return _syncs;
}

byte_vector fault_file::current_image() const {
    std::lock_guard lock(_mutex);
    return _current;
}

byte_vector fault_file::durable_image() const {
    std::lock_guard lock(_mutex);
    return _durable;
}

}  // namespace floe
