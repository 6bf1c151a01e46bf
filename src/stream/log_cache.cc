#include "stream/log_cache.h"

#include <algorithm>

namespace floe::stream {

void log_cache::put(stream_id stream, cached_entry entry) {
    std::lock_guard lock(_mutex);
    auto& s = _streams[stream];
    if (!s.entries.empty() && s.entries.back().end_offset() != entry.base_offset) {
        for (const auto& old : s.entries) {
            _bytes -= cost(old);
        }
        _live_entries -= s.entries.size();
        s.entries.clear();
    }
    _bytes += cost(entry);
    ++_live_entries;
    _order.emplace_back(stream, entry.base_offset);
    s.entries.push_back(std::move(entry));
    evict_locked();
    compact_order_locked();
}

void log_cache::evict_locked() {
    while (_bytes > _capacity && !_order.empty()) {
        auto [stream, base] = _order.front();
        _order.pop_front();
        auto it = _streams.find(stream);
        if (it == _streams.end() || it->second.entries.empty() ||
            it->second.entries.front().base_offset != base) {
            continue;  // already trimmed or replaced
        }
        _bytes -= cost(it->second.entries.front());
        --_live_entries;
        it->second.entries.pop_front();
        if (it->second.entries.empty()) {
            _streams.erase(it);
        }
    }
}

void log_cache::compact_order_locked() {
    if (_order.size() <= 2 * _live_entries + 64) {
        return;
    }
    std::deque<std::pair<stream_id, offset>> live;
    for (const auto& item : _order) {
        auto it = _streams.find(item.first);
        if (it == _streams.end()) {
            continue;
        }
        const auto& entries = it->second.entries;
        auto pos =
            std::lower_bound(entries.begin(), entries.end(), item.second,
                             [](const cached_entry& e, offset o) { return e.base_offset < o; });
        if (pos != entries.end() && pos->base_offset == item.second) {
            live.push_back(item);
        }
    }
    _order = std::move(live);
}

std::vector<cached_entry> log_cache::read(stream_id stream, offset from, size_t max_bytes) const {
    std::lock_guard lock(_mutex);
    std::vector<cached_entry> out;
    auto it = _streams.find(stream);
    if (it == _streams.end()) {
        return out;
    }
    const auto& entries = it->second.entries;
    auto pos = std::partition_point(entries.begin(), entries.end(),
                                    [&](const cached_entry& e) { return e.end_offset() <= from; });
    if (pos == entries.end() || pos->base_offset > from) {
        return out;
    }
    size_t total = 0;
    for (; pos != entries.end(); ++pos) {
        if (!out.empty() && total + pos->payload.size() > max_bytes) {
            break;
        }
        total += pos->payload.size();
        out.push_back(*pos);
    }
    return out;
}

std::optional<std::pair<offset, offset>> log_cache::cached_range(stream_id stream) const {
    std::lock_guard lock(_mutex);
    auto it = _streams.find(stream);
    if (it == _streams.end() || it->second.entries.empty()) {
        return std::nullopt;
    }
    return std::make_pair(it->second.entries.front().base_offset,
                          it->second.entries.back().end_offset());
}

void log_cache::trim(stream_id stream, offset before) {
    std::lock_guard lock(_mutex);
    auto it = _streams.find(stream);
    if (it == _streams.end()) {
        return;
    }
    auto& entries = it->second.entries;
    while (!entries.empty() && entries.front().end_offset() <= before) {
        _bytes -= cost(entries.front());
        --_live_entries;
        entries.pop_front();
    }
    if (entries.empty()) {
        _streams.erase(it);
    }
    compact_order_locked();
}

void log_cache::drop_stream(stream_id stream) {
    std::lock_guard lock(_mutex);
    auto it = _streams.find(stream);
    if (it == _streams.end()) {
        return;
    }
    for (const auto& e : it->second.entries) {
        _bytes -= cost(e);
    }
    _live_entries -= it->second.entries.size();
    _streams.erase(it);
    compact_order_locked();
}

size_t log_cache::size_bytes() const {
    std::lock_guard lock(_mutex);
    return _bytes;
}

}  // namespace floe::stream
