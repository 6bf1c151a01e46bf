#include "stream/block_cache.h"

namespace floe::stream {

std::optional<shared_buffer> block_cache::get(object_id object, uint64_t position) {
    std::lock_guard lock(_mutex);
    auto it = _index.find(key{object, position});
    if (it == _index.end()) {
        ++_misses;
        return std::nullopt;
    }
    ++_hits;
    _lru.splice(_lru.begin(), _lru, it->second);
    return it->second->block;
}

void block_cache::put(object_id object, uint64_t position, shared_buffer block) {
    std::lock_guard lock(_mutex);
    key k{object, position};
    auto it = _index.find(k);
    if (it != _index.end()) {
        _bytes -= it->second->block.size() + kBlockOverhead;
        _lru.erase(it->second);
        _index.erase(it);
    }
    _bytes += block.size() + kBlockOverhead;
    _lru.push_front(slot{k, std::move(block)});
    _index.emplace(k, _lru.begin());
    evict_locked();
}

void block_cache::evict_locked() {
    while (_bytes > _capacity && !_lru.empty()) {
        const slot& victim = _lru.back();
        _bytes -= victim.block.size() + kBlockOverhead;
        _index.erase(victim.k);
        _lru.pop_back();
    }
}

void block_cache::erase_object(object_id object) {
    std::lock_guard lock(_mutex);
    for (auto it = _lru.begin(); it != _lru.end();) {
        if (it->k.object == object) {
            _bytes -= it->block.size() + kBlockOverhead;
            _index.erase(it->k);
            it = _lru.erase(it);
        } else {
            ++it;
        }
    }
}

size_t block_cache::size_bytes() const {
    std::lock_guard lock(_mutex);
    return _bytes;
}

uint64_t block_cache::hits() const {
    std::lock_guard lock(_mutex);
    return _hits;
}

uint64_t block_cache::misses() const {
    std::lock_guard lock(_mutex);
    return _misses;
}

}  // namespace floe::stream
