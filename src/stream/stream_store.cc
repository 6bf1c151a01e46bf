#include "stream/stream_store.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>
#include <utility>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "base/thread_name.h"
#include "metadata/registry_keys.h"
#include "wal/recovery.h"

namespace floe::stream {
namespace {

// Where an upload round or a compaction puts a stream's data: an object of
// its own (a stream object, keyed by the stream) once the stream has
// `stream_object_bytes` in it, else the one stream-set object.
constexpr stream_id k_stream_set_output(UINT64_MAX);
stream_id output_slot(const std::map<stream_id, uint64_t>& stream_bytes, stream_id stream,
                      uint64_t stream_object_bytes) {
    auto found = stream_bytes.find(stream);
    bool own = found != stream_bytes.end() && found->second >= stream_object_bytes;
    return own ? stream : k_stream_set_output;
}

// The WAL payload of an entry is this header followed by the entry's bytes.
void encode_wal_payload_header(int64_t max_timestamp,
                               std::array<uint8_t, kWalPayloadHeaderSize>& out) {
    out[0] = kWalPayloadVersion;
    auto ts = static_cast<uint64_t>(max_timestamp);
    for (size_t i = 0; i < 8; ++i) {
        out[1 + i] = static_cast<uint8_t>(ts >> (56 - 8 * i));  // big-endian, as byte_writer
    }
}

struct wal_payload {
    int64_t max_timestamp = -1;
    byte_span payload;
};

result<wal_payload> decode_wal_payload(byte_span bytes) {
    byte_reader in(bytes);
    uint8_t version = in.read_uint8();
    int64_t max_timestamp = in.read_int64();
    if (!in.ok()) {
        return error(errc::corrupt, "stream WAL payload shorter than its header");
    }
    if (version != kWalPayloadVersion) {
        return error(errc::unsupported, "stream WAL payload version " + std::to_string(version));
    }
    return wal_payload{max_timestamp, bytes.subspan(kWalPayloadHeaderSize)};
}

error out_of_range(stream_id stream, offset start, offset low, offset high) {
    return error(errc::not_found, "offset out of range: stream " + std::to_string(stream.value()) +
                                      " offset " + std::to_string(start.value()) + " outside [" +
                                      std::to_string(low.value()) + ", " +
                                      std::to_string(high.value()) + "]");
}

// Fixes glibc malloc's mmap threshold once per process (see
// stream_store_options::tune_allocator).
void tune_allocator_once() {
#if defined(__GLIBC__)
    static std::once_flag once;
    std::call_once(once, [] { (void)::mallopt(M_MMAP_THRESHOLD, 128 << 10); });
#endif
}

}  // namespace

stream_store::stream_store(stream_store_options options,
                           std::shared_ptr<objstore::object_store> objects,
                           std::shared_ptr<metadata::store> meta)
    : _options(std::move(options)),
      _objects(std::move(objects)),
      _meta(std::move(meta)),
      _log_cache(_options.log_cache_bytes),
      _block_cache(_options.block_cache_bytes) {}

result<std::unique_ptr<stream_store>> stream_store::open(
    stream_store_options options, std::shared_ptr<wal_file> wal_file,
    std::shared_ptr<objstore::object_store> objects, std::shared_ptr<metadata::store> meta) {
    if (!wal_file || !objects || !meta) {
        return error(errc::invalid_argument, "stream_store needs a WAL file, objects and metadata");
    }
    if (options.tune_allocator) {
        tune_allocator_once();
    }
    std::unique_ptr<stream_store> store(
        new stream_store(std::move(options), std::move(objects), std::move(meta)));
    FLOE_TRY(store->load_metadata());
    FLOE_TRY(store->recover_wal(*wal_file));
    auto opened = wal::open(wal_file, store->_options.wal);
    if (!opened) {
        return opened.error_value();
    }
    store->_wal = std::move(*opened);
    store->_wal_acked_end = store->_wal->start_position();
    FLOE_TRY(store->collect_garbage());
    store->_pending_since = std::chrono::steady_clock::now();
    store->_uploader = std::thread([s = store.get()] {
        set_thread_name("stream-upload");
        s->uploader_loop();
    });
    if (store->_options.maintenance_interval.count() > 0) {
        store->_maintenance = std::thread([s = store.get()] {
            set_thread_name("stream-maint");
            s->maintenance_loop();
        });
    }
    return store;
}

stream_store::~stream_store() {
    {
        std::lock_guard lock(_mutex);
        _stopping = true;
    }
    _uploader_wake.notify_all();
    if (_uploader.joinable()) {
        _uploader.join();
    }
    if (_maintenance.joinable()) {
        _maintenance.join();
    }
    if (_wal) {
        (void)_wal->close();
    }
}

std::string stream_store::object_key_for(object_id id) const {
    char digits[32];
    std::snprintf(digits, sizeof(digits), "%020llu", static_cast<unsigned long long>(id.value()));
    return own_object_prefix() + digits;
}

std::string stream_store::own_object_prefix() const {
    return _options.object_prefix + "/n" + std::to_string(_options.wal.owner.value()) + "/";
}

void stream_store::remember_object_locked(object_id id, const object_record& record,
                                          metadata::revision_t mod_revision) {
    object_meta& meta = _object_meta[id];
    bool was_marked = meta.state == object_state::marked_for_deletion && !meta.key.empty();
    meta.key = record.key;
    meta.size = record.size;
    meta.state = record.state;
    meta.ranges = record.ranges;
    meta.mod_revision = mod_revision;
    if (record.state != object_state::committed) {
        if (!was_marked) {
            meta.marked_since = std::chrono::steady_clock::now();
        }
        return;
    }
    for (const auto& range : record.ranges) {
        auto it = _streams.find(range.stream);
        if (it != _streams.end()) {
            it->second.objects[range.start] = object_ref{range.end, id};
        }
    }
}

void stream_store::adopt_committed_objects_locked(stream_id stream,
                                                  const std::vector<metadata::key_value>& objects) {
    stream_state& st = _streams[stream];
    for (const auto& kv : objects) {
        auto id = metadata::parse_object_key(kv.key);
        auto decoded = decode_object_record(kv.value);
        if (!id || !decoded || decoded->state != object_state::committed) {
            continue;
        }
        object_meta& meta = _object_meta[*id];
        meta.key = decoded->key;
        meta.size = decoded->size;
        meta.state = decoded->state;
        meta.ranges = decoded->ranges;
        meta.mod_revision = kv.mod_revision;
        for (const auto& range : decoded->ranges) {
            if (range.stream == stream) {
                st.objects[range.start] = object_ref{range.end, *id};
            }
        }
    }
}

// ---- recovery ---------------------------------------------------------------

status stream_store::load_metadata() {
    auto streams = _meta->range({metadata::key_range::with_prefix(metadata::streams_prefix)});
    if (!streams) {
        return streams.error_value();
    }
    auto objects = _meta->range({metadata::key_range::with_prefix(metadata::objects_prefix)});
    if (!objects) {
        return objects.error_value();
    }
    std::lock_guard lock(_mutex);
    for (const auto& kv : streams->kvs) {
        auto id = metadata::parse_stream_key(kv.key);
        if (!id) {
            continue;
        }
        auto record = decode_stream_record(kv.value);
        if (!record) {
            return error(errc::corrupt, kv.key + ": " + record.error_value().message);
        }
        stream_state& st = _streams[*id];
        st.record = *record;
        st.record_value = kv.value;
        st.known_in_metadata = true;
        st.next_offset = record->committed_end;
        st.high_watermark = record->committed_end;
    }
    for (const auto& kv : objects->kvs) {
        auto id = metadata::parse_object_key(kv.key);
        if (!id) {
            continue;
        }
        auto record = decode_object_record(kv.value);
        if (!record) {
            return error(errc::corrupt, kv.key + ": " + record.error_value().message);
        }
        remember_object_locked(*id, *record, kv.mod_revision);
    }
    return ok();
}

status stream_store::recover_wal(wal_file& file) {
    auto recovered = recover(file);
    if (!recovered) {
        if (recovered.error_value().code == errc::not_found) {
            return ok();  // a never-initialised WAL: nothing to replay
        }
        return recovered.error_value();
    }
    std::lock_guard lock(_mutex);
    for (const auto& rec : recovered->records) {
        auto it = _streams.find(rec.stream);
        if (it == _streams.end()) {
            continue;  // the stream no longer exists
        }
        stream_state& st = it->second;
        offset end = rec.base_offset + rec.record_count;
        if (end <= st.high_watermark) {
            continue;  // already in objects (or a replayed duplicate)
        }
        if (rec.base_offset != st.high_watermark) {
            return error(errc::corrupt,
                         "WAL record of stream " + std::to_string(rec.stream.value()) +
                             " at offset " + std::to_string(rec.base_offset.value()) +
                             " leaves a gap after " + std::to_string(st.high_watermark.value()));
        }
        auto decoded = decode_wal_payload(rec.payload);
        if (!decoded) {
            return decoded.error_value();
        }
        shared_buffer data = shared_buffer::copy_of(decoded->payload);
        st.pending[rec.base_offset] = pending_entry{end, decoded->max_timestamp, rec.where,
                                                    static_cast<uint32_t>(data.size())};
        _pending_bytes += data.size();
        _log_cache.put(rec.stream,
                       cached_entry{rec.base_offset, static_cast<int32_t>(rec.record_count),
                                    decoded->max_timestamp, data});
        st.high_watermark = end;
        st.next_offset = end;
    }
    return ok();
}

status stream_store::collect_garbage() {
    const std::string prefix = own_object_prefix();
    auto listed = _objects->list(prefix);
    if (!listed) {
        return listed.error_value();
    }
    std::set<std::string> known;
    {
        std::lock_guard lock(_mutex);
        for (const auto& [id, meta] : _object_meta) {
            known.insert(meta.key);
        }
    }
    uint64_t deleted = 0;
    for (const auto& info : listed.value()) {
        if (known.count(info.key) == 0) {
            FLOE_TRY(_objects->remove(info.key));
            ++deleted;
        }
    }
    std::lock_guard lock(_mutex);
    _stats.garbage_deleted += deleted;
    return ok();
}

// ---- open / close / trim ----------------------------------------------------

result<stream_position> stream_store::open_stream(stream_id stream, epoch stream_epoch) {
    std::lock_guard meta_lock(_metadata_mutex);
    const std::string key = metadata::stream_key(stream);
    auto current = _meta->get(key);
    if (!current) {
        return current.error_value();
    }
    stream_record record;
    metadata::txn_request txn;
    if (current->has_value()) {
        auto decoded = decode_stream_record((*current)->value);
        if (!decoded) {
            return decoded.error_value();
        }
        if (stream_epoch < decoded->owner_epoch) {
            return error(errc::conflict, "stream " + std::to_string(stream.value()) +
                                             " is owned at epoch " +
                                             std::to_string(decoded->owner_epoch.value()));
        }
        record = *decoded;
        txn.compares.push_back(
            metadata::compare::value_is(key, metadata::compare_op::equal, (*current)->value));
    } else {
        txn.compares.push_back(metadata::compare::absent(key));
    }
    record.owner_epoch = stream_epoch;
    record.owner = _options.wal.owner;
    const std::string value = encode_stream_record(record);
    txn.success.push_back(metadata::op::put(key, value));
    auto committed = _meta->txn(txn);
    if (!committed) {
        return committed.error_value();
    }
    if (!committed->succeeded) {
        return error(errc::conflict,
                     "stream " + std::to_string(stream.value()) + " changed while opening");
    }
    bool unknown_objects = false;
    stream_position position;
    {
        std::lock_guard lock(_mutex);
        stream_state& st = _streams[stream];
        if (!st.known_in_metadata || st.fenced || record.committed_end > st.high_watermark) {
            // Taken over from elsewhere, or created: start from metadata.
            unknown_objects = record.committed_end > offset(0);
            st.pending.clear();
            st.objects.clear();
            st.high_watermark = record.committed_end;
            st.next_offset = record.committed_end;
            _log_cache.drop_stream(stream);
        }
        st.record = record;
        st.record_value = value;
        st.known_in_metadata = true;
        st.open = true;
        st.fenced = false;
        st.open_epoch = stream_epoch;
        position = {record.start_offset, st.next_offset};
    }
    if (unknown_objects) {
        // Objects written by the previous owner.
        auto objects = _meta->range({metadata::key_range::with_prefix(metadata::objects_prefix)});
        if (!objects) {
            return objects.error_value();
        }
        std::lock_guard lock(_mutex);
        adopt_committed_objects_locked(stream, objects->kvs);
    }
    return position;
}

status stream_store::close_stream(stream_id stream) {
    std::lock_guard lock(_mutex);
    auto it = _streams.find(stream);
    if (it == _streams.end()) {
        return error(errc::not_found, "unknown stream " + std::to_string(stream.value()));
    }
    it->second.open = false;
    return ok();
}

status stream_store::trim(stream_id stream, offset new_start) {
    std::lock_guard meta_lock(_metadata_mutex);
    stream_record record;
    std::string old_value;
    {
        std::lock_guard lock(_mutex);
        auto it = _streams.find(stream);
        if (it == _streams.end() || !it->second.known_in_metadata) {
            return error(errc::not_found, "unknown stream " + std::to_string(stream.value()));
        }
        stream_state& st = it->second;
        if (st.fenced) {
            return error(errc::conflict, "stream " + std::to_string(stream.value()) + " is fenced");
        }
        if (new_start > st.high_watermark) {
            return error(errc::invalid_argument, "trim beyond the high watermark");
        }
        if (new_start <= st.record.start_offset) {
            return ok();
        }
        record = st.record;
        old_value = st.record_value;
    }
    record.start_offset = new_start;
    const std::string key = metadata::stream_key(stream);
    const std::string value = encode_stream_record(record);
    metadata::txn_request txn;
    txn.compares.push_back(
        metadata::compare::value_is(key, metadata::compare_op::equal, old_value));
    txn.success.push_back(metadata::op::put(key, value));
    auto committed = _meta->txn(txn);
    if (!committed) {
        return committed.error_value();
    }
    if (!committed->succeeded) {
        std::lock_guard lock(_mutex);
        _streams[stream].fenced = true;
        return error(errc::conflict,
                     "stream " + std::to_string(stream.value()) + " was taken over (trim refused)");
    }
    std::lock_guard lock(_mutex);
    stream_state& st = _streams[stream];
    st.record = record;
    st.record_value = value;
    _log_cache.trim(stream, new_start);
    return ok();
}

// ---- append -----------------------------------------------------------------

status stream_store::append(stream_id stream, epoch stream_epoch, offset base_offset,
                            int32_t record_count, int64_t max_timestamp, byte_span payload,
                            append_done done) {
    return append(stream, stream_epoch, base_offset, record_count, max_timestamp,
                  shared_buffer::copy_of(payload), std::move(done));
}

status stream_store::append(stream_id stream, epoch stream_epoch, offset base_offset,
                            int32_t record_count, int64_t max_timestamp, shared_buffer data,
                            append_done done) {
    if (record_count < 1) {
        return error(errc::invalid_argument, "record_count must be at least 1");
    }
    std::lock_guard append_lock(_append_mutex);
    {
        std::lock_guard lock(_mutex);
        if (_failed) {
            return *_failed;
        }
        auto it = _streams.find(stream);
        if (it != _streams.end() && it->second.fenced) {
            return error(errc::conflict,
                         "stream " + std::to_string(stream.value()) + " was taken over (fenced)");
        }
        if (it == _streams.end() || !it->second.open) {
            return error(errc::not_found,
                         "stream " + std::to_string(stream.value()) + " is not open");
        }
        stream_state& st = it->second;
        if (st.open_epoch != stream_epoch) {
            return error(errc::conflict, "stream " + std::to_string(stream.value()) +
                                             " is open at epoch " +
                                             std::to_string(st.open_epoch.value()) +
                                             (st.fenced ? " and fenced" : ""));
        }
        if (base_offset != st.next_offset) {
            return error(errc::invalid_argument,
                         "append at offset " + std::to_string(base_offset.value()) +
                             " but the next offset of stream " + std::to_string(stream.value()) +
                             " is " + std::to_string(st.next_offset.value()));
        }
        st.next_offset = base_offset + record_count;
    }
    std::array<uint8_t, kWalPayloadHeaderSize> wal_prefix{};
    encode_wal_payload_header(max_timestamp, wal_prefix);
    const auto caller = std::this_thread::get_id();
    auto returned = std::make_shared<std::atomic<bool>>(false);
    std::optional<error> inline_error;
    _wal->append(
        stream, stream_epoch, base_offset, static_cast<uint32_t>(record_count), wal_prefix, data,
        [this, stream, base_offset, record_count, max_timestamp, data, done, caller, returned,
         &inline_error](result<wal_position> written) {
            if (!written) {
                if (std::this_thread::get_id() == caller && !returned->load()) {
                    inline_error = written.error_value();  // rejected up front
                    return;
                }
                {
                    std::lock_guard lock(_mutex);
                    if (!_failed) {
                        _failed = written.error_value();
                    }
                }
                done(written.error_value());
                return;
            }
            if (!on_appended(stream, base_offset, record_count, max_timestamp, data, *written)) {
                done(error(errc::conflict, "stream " + std::to_string(stream.value()) +
                                               " was taken over before the append "
                                               "was durable"));
                return;
            }
            done(ok());
        });
    returned->store(true);
    if (inline_error) {
        std::lock_guard lock(_mutex);
        _streams[stream].next_offset = base_offset;  // nothing after it was appended
        return *inline_error;
    }
    return ok();
}

bool stream_store::on_appended(stream_id stream, offset base, int32_t count, int64_t max_timestamp,
                               const shared_buffer& payload, wal_position where) {
    bool wake = false;
    {
        std::lock_guard lock(_mutex);
        stream_state& st = _streams[stream];
        offset end = base + count;
        _wal_acked_end = std::max(_wal_acked_end, where.position + where.length);
        if (st.fenced) {
            return false;  // taken over while in flight: no longer ours to serve or upload
        }
        st.pending[base] =
            pending_entry{end, max_timestamp, where, static_cast<uint32_t>(payload.size())};
        if (_pending_bytes == 0) {
            _pending_since = std::chrono::steady_clock::now();
        }
        _pending_bytes += payload.size();
        _log_cache.put(stream, cached_entry{base, count, max_timestamp, payload});
        st.high_watermark = end;  // WAL callbacks run in WAL order: in offset order
        wake = _pending_bytes >= _options.upload_bytes;
    }
    if (wake) {
        _uploader_wake.notify_all();
    }
    return true;
}

// ---- read -------------------------------------------------------------------

result<std::vector<stream_entry>> stream_store::read(stream_id stream, offset start,
                                                     size_t max_bytes) {
    offset high_watermark;
    {
        std::lock_guard lock(_mutex);
        auto it = _streams.find(stream);
        if (it == _streams.end() || !it->second.known_in_metadata) {
            return error(errc::not_found, "unknown stream " + std::to_string(stream.value()));
        }
        const stream_state& st = it->second;
        if (start < st.record.start_offset || start > st.high_watermark) {
            return out_of_range(stream, start, st.record.start_offset, st.high_watermark);
        }
        high_watermark = st.high_watermark;
    }
    std::vector<stream_entry> out;
    size_t bytes = 0;
    offset cursor = start;
    int misses = 0;
    // Appends `chunk` (which starts with the entry holding `cursor`) while it
    // stays contiguous, below the high watermark and within max_bytes.
    auto take = [&](std::vector<stream_entry>& chunk) {
        bool full = false;
        for (auto& e : chunk) {
            if (e.base_offset >= high_watermark || e.end_offset() <= cursor ||
                e.base_offset > cursor) {
                break;
            }
            if (!out.empty() && bytes + e.payload.size() > max_bytes) {
                full = true;
                break;
            }
            bytes += e.payload.size();
            cursor = e.end_offset();
            out.push_back(std::move(e));
        }
        return full;
    };
    while (cursor < high_watermark && (out.empty() || bytes < max_bytes)) {
        size_t budget = out.empty() ? max_bytes : max_bytes - bytes;
        auto chunk = _log_cache.read(stream, cursor, budget);
        if (chunk.empty()) {
            auto from_wal = read_from_wal(stream, cursor, budget);
            if (!from_wal) {
                return from_wal.error_value();
            }
            chunk = std::move(*from_wal);
        }
        if (chunk.empty()) {
            auto from_objects = read_from_objects(stream, cursor);
            if (!from_objects && from_objects.error_value().code == errc::not_found &&
                ++misses <= 3) {
                continue;  // the object was replaced and deleted meanwhile: look again
            }
            if (!from_objects) {
                return from_objects.error_value();
            }
            chunk = std::move(*from_objects);
        }
        offset before = cursor;
        if (take(chunk)) {
            break;
        }
        if (cursor == before) {
            // Raced with an upload moving the offset between sources: retry.
            if (++misses > 3) {
                return error(errc::corrupt, "no source holds offset " +
                                                std::to_string(cursor.value()) + " of stream " +
                                                std::to_string(stream.value()));
            }
        } else {
            misses = 0;
        }
    }
    return out;
}

result<std::vector<stream_entry>> stream_store::read_from_wal(stream_id stream, offset from,
                                                              size_t budget) {
    std::vector<std::pair<offset, pending_entry>> wanted;
    {
        std::lock_guard lock(_mutex);
        const stream_state& st = _streams[stream];
        auto it = st.pending.upper_bound(from);
        if (it == st.pending.begin()) {
            return std::vector<stream_entry>{};
        }
        --it;
        if (it->second.end <= from) {
            return std::vector<stream_entry>{};
        }
        size_t total = 0;
        for (; it != st.pending.end(); ++it) {
            if (!wanted.empty() && total + it->second.payload_bytes > budget) {
                break;
            }
            total += it->second.payload_bytes;
            wanted.emplace_back(it->first, it->second);
        }
    }
    std::vector<stream_entry> out;
    for (const auto& [base, p] : wanted) {
        auto payload = pending_payload(stream, base, p.where);
        if (!payload) {
            break;  // trimmed after an upload: the rest is in objects
        }
        out.push_back(stream_entry{base, static_cast<int32_t>(p.end - base), p.max_timestamp,
                                   std::move(*payload)});
    }
    return out;
}

result<shared_buffer> stream_store::pending_payload(stream_id stream, offset base,
                                                    wal_position where) {
    auto cached = _log_cache.read(stream, base, 0);
    if (!cached.empty() && cached.front().base_offset == base) {
        return cached.front().payload;
    }
    auto record = _wal->read(where);
    if (!record) {
        return record.error_value();
    }
    if (record->stream != stream || record->base_offset != base) {
        return error(errc::corrupt, "WAL record at position " + std::to_string(where.position) +
                                        " is not the expected entry");
    }
    auto decoded = decode_wal_payload(record->payload);
    if (!decoded) {
        return decoded.error_value();
    }
    {
        std::lock_guard lock(_mutex);
        ++_stats.wal_reads;
    }
    return shared_buffer::copy_of(decoded->payload);
}

result<std::shared_ptr<const std::vector<block_index>>> stream_store::object_index(object_id id) {
    object_meta meta;
    {
        std::lock_guard lock(_mutex);
        auto cached = _indexes.find(id);
        if (cached != _indexes.end()) {
            return cached->second;
        }
        auto it = _object_meta.find(id);
        if (it == _object_meta.end()) {
            return error(errc::not_found, "unknown object " + std::to_string(id.value()));
        }
        meta = it->second;
    }
    if (meta.size < object_layout::kFooterSize) {
        return error(errc::corrupt, "object " + meta.key + " is too small");
    }
    auto tail = _objects->get_range(meta.key, meta.size - object_layout::kFooterSize,
                                    object_layout::kFooterSize);
    if (!tail) {
        return tail.error_value();
    }
    auto footer = parse_footer(*tail, meta.size);
    if (!footer) {
        return footer.error_value();
    }
    auto index_bytes = _objects->get_range(meta.key, footer->index_position, footer->index_length);
    if (!index_bytes) {
        return index_bytes.error_value();
    }
    auto blocks = parse_index(*index_bytes, *footer);
    if (!blocks) {
        return blocks.error_value();
    }
    auto shared = std::make_shared<const std::vector<block_index>>(std::move(*blocks));
    std::lock_guard lock(_mutex);
    _indexes[id] = shared;
    return shared;
}

result<shared_buffer> stream_store::fetch_block(object_id id,
                                                const std::vector<block_index>& blocks,
                                                size_t block, size_t window) {
    if (auto hit = _block_cache.get(id, blocks[block].position)) {
        return *hit;
    }
    // One ranged GET for `block` and up to window-1 following blocks of the
    // same stream that are not cached (blocks are packed back to back).
    size_t last = block;
    while (last + 1 < blocks.size() && last + 1 < block + window &&
           blocks[last + 1].stream == blocks[block].stream) {
        ++last;
    }
    std::string key;
    {
        std::lock_guard lock(_mutex);
        auto it = _object_meta.find(id);
        if (it == _object_meta.end()) {
            return error(errc::not_found, "object " + std::to_string(id.value()) + " was deleted");
        }
        key = it->second.key;
        ++_stats.object_block_fetches;
    }
    uint64_t begin = blocks[block].position;
    uint64_t end = blocks[last].position + blocks[last].size;
    auto bytes = _objects->get_range(key, begin, end - begin);
    if (!bytes) {
        return bytes.error_value();
    }
    if (bytes->size() != end - begin) {
        return error(errc::corrupt, "object " + key + " is shorter than its index says");
    }
    if (last == block) {
        shared_buffer whole = shared_buffer::adopt(std::move(*bytes));
        _block_cache.put(id, blocks[block].position, whole);
        return whole;
    }
    // Each block of a read-ahead GET is cached in its own buffer: a slice
    // would keep the whole GET buffer alive until its last block is evicted,
    // so the cache would pin more than it accounts.
    shared_buffer first;
    for (size_t i = block; i <= last; ++i) {
        shared_buffer part = shared_buffer::copy_of(
            byte_span(bytes->data() + (blocks[i].position - begin), blocks[i].size));
        if (i == block) {
            first = part;
        }
        _block_cache.put(id, blocks[i].position, part);
    }
    return first;
}

result<std::vector<stream_entry>> stream_store::block_entries(object_id id,
                                                              const block_index& index,
                                                              const shared_buffer& block) {
    auto parsed = parse_block(block.span(), index, id);
    if (!parsed) {
        return parsed.error_value();
    }
    std::vector<stream_entry> out;
    out.reserve(parsed->size());
    for (const auto& e : *parsed) {
        size_t at = static_cast<size_t>(e.payload.data() - block.data());
        out.push_back(stream_entry{e.base_offset, e.record_count, e.max_timestamp,
                                   block.slice(at, e.payload.size())});
    }
    return out;
}

result<std::vector<stream_entry>> stream_store::read_from_objects(stream_id stream, offset from) {
    object_id id;
    {
        std::lock_guard lock(_mutex);
        const stream_state& st = _streams[stream];
        auto it = st.objects.upper_bound(from);
        if (it == st.objects.begin()) {
            return std::vector<stream_entry>{};
        }
        --it;
        if (it->second.end <= from) {
            return std::vector<stream_entry>{};
        }
        id = it->second.id;
    }
    auto index = object_index(id);
    if (!index) {
        return index.error_value();
    }
    const auto& blocks = **index;
    auto found = find_block(blocks, stream, from);
    if (found == blocks.end() || found->stream != stream || found->start_offset > from) {
        return error(errc::corrupt, "object " + std::to_string(id.value()) +
                                        " does not hold offset " + std::to_string(from.value()) +
                                        " of stream " + std::to_string(stream.value()));
    }
    size_t block = static_cast<size_t>(found - blocks.begin());
    size_t window = 1;
    {
        std::lock_guard lock(_mutex);
        stream_state& st = _streams[stream];
        if (st.last_object == id && st.last_block + 1 == block) {
            st.readahead =
                std::min(st.readahead * 2, std::max<size_t>(1, _options.max_readahead_blocks));
        } else if (!(st.last_object == id && st.last_block == block)) {
            st.readahead = 1;
        }
        st.last_object = id;
        st.last_block = block;
        window = st.readahead;
    }
    auto bytes = fetch_block(id, blocks, block, window);
    if (!bytes) {
        return bytes.error_value();
    }
    auto entries = block_entries(id, blocks[block], *bytes);
    if (!entries) {
        return entries.error_value();
    }
    std::vector<stream_entry> out;
    for (auto& e : *entries) {
        if (e.end_offset() > from) {
            out.push_back(std::move(e));
        }
    }
    return out;
}

result<std::optional<offset>> stream_store::find_offset_by_timestamp(stream_id stream,
                                                                     int64_t timestamp) {
    offset start;
    std::vector<std::pair<offset, object_ref>> objects;
    std::vector<std::pair<offset, pending_entry>> pending;
    {
        std::lock_guard lock(_mutex);
        auto it = _streams.find(stream);
        if (it == _streams.end() || !it->second.known_in_metadata) {
            return error(errc::not_found, "unknown stream " + std::to_string(stream.value()));
        }
        const stream_state& st = it->second;
        start = st.record.start_offset;
        for (const auto& [base, ref] : st.objects) {
            if (ref.end > start) {
                objects.emplace_back(base, ref);
            }
        }
        for (const auto& [base, p] : st.pending) {
            if (p.end > start) {
                pending.emplace_back(base, p);
            }
        }
    }
    for (const auto& [range_start, ref] : objects) {
        auto index = object_index(ref.id);
        if (!index) {
            return index.error_value();
        }
        const auto& blocks = **index;
        for (size_t i = 0; i < blocks.size(); ++i) {
            const block_index& b = blocks[i];
            if (b.stream != stream || b.end_offset <= start || b.max_timestamp < timestamp) {
                continue;
            }
            auto bytes = fetch_block(ref.id, blocks, i, 1);
            if (!bytes) {
                return bytes.error_value();
            }
            auto entries = block_entries(ref.id, b, *bytes);
            if (!entries) {
                return entries.error_value();
            }
            for (const auto& e : *entries) {
                if (e.end_offset() > start && e.max_timestamp >= timestamp) {
                    return std::optional<offset>(std::max(e.base_offset, start));
                }
            }
        }
    }
    for (const auto& [base, p] : pending) {
        if (p.max_timestamp >= timestamp) {
            return std::optional<offset>(std::max(base, start));
        }
    }
    return std::optional<offset>();
}

// ---- upload -----------------------------------------------------------------

bool stream_store::upload_due_locked() const {
    if (_pending_bytes == 0) {
        return false;
    }
    return _pending_bytes >= _options.upload_bytes ||
           std::chrono::steady_clock::now() - _pending_since >= _options.upload_age;
}

bool stream_store::sleep_for(std::chrono::milliseconds d) {
    std::unique_lock lock(_mutex);
    _uploader_wake.wait_for(lock, d, [this] { return _stopping; });
    return !_stopping;
}

void stream_store::uploader_loop() {
    auto backoff = _options.retry_initial;
    const auto tick = std::max(std::chrono::milliseconds(1),
                               std::min(_options.upload_age / 4, std::chrono::milliseconds(50)));
    auto last_round = std::chrono::steady_clock::now();
    while (true) {
        bool due = false;
        {
            std::unique_lock lock(_mutex);
            _uploader_wake.wait_for(lock, tick,
                                    [this] { return _stopping || upload_due_locked(); });
            if (_stopping) {
                return;
            }
            due = upload_due_locked();
        }
        if (!due) {
            if (std::chrono::steady_clock::now() - last_round > kSpareBufferIdle) {
                std::lock_guard upload_lock(_upload_mutex);
                _spare_object_buffer = page_aligned_bytes();
            }
            continue;
        }
        uint64_t uploaded_before = statistics().objects_uploaded;
        status done = upload_round();
        last_round = std::chrono::steady_clock::now();
        if (done) {
            backoff = _options.retry_initial;
            if (statistics().objects_uploaded == uploaded_before && !sleep_for(tick)) {
                return;  // nothing was uploadable: do not spin
            }
            continue;
        }
        {
            std::lock_guard lock(_mutex);
            ++_stats.upload_failures;
        }
        if (!sleep_for(backoff)) {
            return;
        }
        backoff = std::min(backoff * 2, _options.retry_max);
    }
}

size_t stream_store::upload_round_limit() const {
    size_t limit = _options.max_object_bytes;
    if (_options.build_memory_bytes != 0) {
        limit = std::min(limit, _options.build_memory_bytes / 2);
    }
    return std::max<size_t>(limit, 1);
}

size_t stream_store::compaction_group_limit() const {
    size_t limit = _options.compaction_max_bytes;
    if (_options.build_memory_bytes != 0) {
        limit = std::min(limit, _options.build_memory_bytes / 3);
    }
    return std::max<size_t>(limit, 1);
}

status stream_store::upload_now() {
    return upload_round();
}

status stream_store::upload_round() {
    // Object building of uploads and compactions never overlaps, so each may
    // use build_memory_bytes (see upload_round_limit).
    std::lock_guard build_lock(_build_mutex);
    std::lock_guard upload_lock(_upload_mutex);
    // 1. What to upload: each stream's pending entries from its committed end,
    //    within upload_round_limit() in total.
    std::vector<upload_item> items;
    {
        const size_t limit = upload_round_limit();
        std::lock_guard lock(_mutex);
        size_t total = 0;
        for (const auto& [id, st] : _streams) {
            if (st.fenced || !st.known_in_metadata) {
                continue;
            }
            offset expected = st.record.committed_end;
            for (const auto& [base, p] : st.pending) {
                if (base != expected || (!items.empty() && total + p.payload_bytes > limit)) {
                    break;
                }
                items.push_back(upload_item{id, base, p});
                total += p.payload_bytes;
                expected = p.end;
            }
        }
    }
    if (items.empty()) {
        return ok();
    }
    // 2. Build the objects (payloads from the log cache, else the WAL): one
    //    stream object per stream with at least stream_object_bytes, one
    //    stream-set object with the rest.
    std::map<stream_id, uint64_t> stream_bytes;
    for (const auto& item : items) {
        stream_bytes[item.stream] += item.pending.payload_bytes;
    }
    struct building {
        object_id id;
        object_builder builder;
        object_record record;
    };
    std::vector<building> outputs;
    auto slot_of = [&](stream_id stream) {
        return output_slot(stream_bytes, stream, _options.stream_object_bytes);
    };
    // Entries and payload bytes per output, to size each object's buffer once.
    std::map<stream_id, std::pair<size_t, size_t>> output_size;
    for (const auto& item : items) {
        auto& [entries, bytes] = output_size[slot_of(item.stream)];
        entries += 1;
        bytes += item.pending.payload_bytes;
    }
    std::map<stream_id, size_t> output_of;  // output slot -> index in outputs
    auto output_for = [&](stream_id stream) -> result<size_t> {
        stream_id slot = slot_of(stream);
        auto found = output_of.find(slot);
        if (found != output_of.end()) {
            return found->second;
        }
        auto id = next_object_id();
        if (!id) {
            return id.error_value();
        }
        outputs.push_back(building{*id, object_builder(*id, _options.object_block_size), {}});
        outputs.back().record.key = object_key_for(*id);
        if (_spare_object_buffer.capacity() > 0) {
            outputs.back().builder.adopt_buffer(std::exchange(_spare_object_buffer, {}));
        }
        const auto& [entries, bytes] = output_size[slot];
        outputs.back().builder.reserve(entries, bytes);
        output_of[slot] = outputs.size() - 1;
        return outputs.size() - 1;
    };
    std::map<stream_id, offset> new_ends;
    for (const auto& item : items) {
        auto payload = pending_payload(item.stream, item.base, item.pending.where);
        if (!payload) {
            return payload.error_value();
        }
        auto which = output_for(item.stream);
        if (!which) {
            return which.error_value();
        }
        building& out = outputs[*which];
        entry e{item.base, static_cast<int32_t>(item.pending.end - item.base),
                item.pending.max_timestamp, payload->span()};
        FLOE_TRY(out.builder.add(item.stream, e));
        auto& ranges = out.record.ranges;
        if (!ranges.empty() && ranges.back().stream == item.stream) {
            ranges.back().end = item.pending.end;
        } else {
            ranges.push_back(object_range{item.stream, item.base, item.pending.end});
        }
        new_ends[item.stream] = item.pending.end;
    }
    std::vector<std::pair<object_id, object_record>> records;
    size_t stream_objects = 0;
    for (auto& out : outputs) {
        page_aligned_bytes bytes = out.builder.finish();
        out.record.size = bytes.size();
        // 3. Put (the uploader's caller retries with backoff on failure; an
        //    object put before a failure is garbage for the next recovery).
        FLOE_TRY(_objects->put(out.record.key, bytes));
        records.emplace_back(out.id, std::move(out.record));
        if (bytes.capacity() > _spare_object_buffer.capacity()) {
            _spare_object_buffer = std::move(bytes);
        }
    }
    for (const auto& [stream, index] : output_of) {
        stream_objects += stream != k_stream_set_output ? 1 : 0;
    }
    // 4. Commit atomically; fenced streams make the commit fail.
    status committed = commit_objects(records, new_ends);
    if (!committed) {
        return committed;
    }
    {
        std::lock_guard lock(_mutex);
        _stats.stream_objects_uploaded += stream_objects;
    }
    // 5. Trim the WAL to the lowest position still pending.
    uint64_t trim_to = 0;
    {
        std::lock_guard lock(_mutex);
        trim_to = _wal_acked_end;
        for (const auto& [sid, st] : _streams) {
            if (!st.pending.empty()) {
                trim_to = std::min(trim_to, st.pending.begin()->second.where.position);
            }
        }
    }
    if (trim_to > _wal->trim_position()) {
        FLOE_TRY(_wal->trim(trim_to));
    }
    std::lock_guard lock(_mutex);
    _stats.wal_trim_position = _wal->trim_position();
    return ok();
}

result<object_id> stream_store::next_object_id() {
    // Needs _upload_mutex (held by the caller).
    if (_id_pool_next == _id_pool_end) {
        auto allocated = metadata::allocate_id(*_meta, metadata::object_id_counter, kObjectIdBatch);
        if (!allocated) {
            return allocated.error_value();
        }
        _id_pool_next = *allocated;
        _id_pool_end = *allocated + kObjectIdBatch;
    }
    return object_id(_id_pool_next++);
}

status stream_store::commit_objects(const std::vector<std::pair<object_id, object_record>>& objects,
                                    const std::map<stream_id, offset>& new_ends) {
    std::lock_guard meta_lock(_metadata_mutex);
    metadata::txn_request txn;
    std::map<stream_id, std::pair<stream_record, std::string>> updated;
    {
        std::lock_guard lock(_mutex);
        for (const auto& [sid, end] : new_ends) {
            const stream_state& st = _streams[sid];
            const std::string key = metadata::stream_key(sid);
            txn.compares.push_back(
                metadata::compare::value_is(key, metadata::compare_op::equal, st.record_value));
            stream_record r = st.record;
            r.committed_end = end;
            std::string value = encode_stream_record(r);
            txn.success.push_back(metadata::op::put(key, value));
            updated[sid] = {r, std::move(value)};
        }
    }
    for (const auto& [id, record] : objects) {
        const std::string object_record_key = metadata::object_key(id);
        txn.compares.push_back(metadata::compare::absent(object_record_key));
        txn.success.push_back(metadata::op::put(object_record_key, encode_object_record(record)));
    }
    const std::string first_key = metadata::object_key(objects.front().first);
    auto response = _meta->txn(txn);
    bool applied = false;
    metadata::revision_t revision = 0;
    if (!response) {
        // Unknown outcome (e.g. the response was lost): the object records
        // tell whether the commit happened. If it did not, the entries stay
        // pending and the objects are garbage for the next recovery.
        auto check = _meta->get(first_key);
        if (!check || !check->has_value()) {
            return response.error_value();
        }
        applied = true;
        revision = (*check)->mod_revision;
    } else {
        revision = response->revision;
    }
    if (!applied && !response->succeeded) {
        // Some stream record changed under us: a new owner took it over, or
        // an earlier commit of ours whose response was lost moved it.
        for (const auto& [id, record] : objects) {
            (void)_objects->remove(record.key);
        }
        std::vector<stream_id> fenced;
        std::vector<stream_id> stale;
        for (const auto& [sid, end] : new_ends) {
            auto current = _meta->get(metadata::stream_key(sid));
            if (!current) {
                return current.error_value();
            }
            std::lock_guard lock(_mutex);
            const stream_state& st = _streams[sid];
            if (current->has_value() && (*current)->value == st.record_value) {
                continue;
            }
            auto decoded = current->has_value()
                               ? decode_stream_record((*current)->value)
                               : result<stream_record>(error(errc::not_found, "gone"));
            if (decoded && decoded->owner_epoch == st.record.owner_epoch &&
                decoded->owner == _options.wal.owner) {
                stale.push_back(sid);
            } else {
                fenced.push_back(sid);
            }
        }
        for (stream_id sid : stale) {
            FLOE_TRY(resync_stream(sid));
        }
        std::lock_guard lock(_mutex);
        for (stream_id sid : fenced) {
            stream_state& st = _streams[sid];
            st.fenced = true;
            st.open = false;
            for (const auto& [base, p] : st.pending) {
                _pending_bytes -= std::min<uint64_t>(_pending_bytes, p.payload_bytes);
            }
            st.pending.clear();  // no longer ours to upload
        }
        if (!fenced.empty()) {
            ++_stats.commits_fenced;
        }
        return error(errc::conflict, "upload commit refused: " + std::to_string(fenced.size()) +
                                         " stream(s) taken over, " + std::to_string(stale.size()) +
                                         " resynchronised");
    }
    std::lock_guard lock(_mutex);
    for (const auto& [id, record] : objects) {
        remember_object_locked(id, record, revision);
    }
    for (auto& [sid, rv] : updated) {
        stream_state& st = _streams[sid];
        st.record.committed_end = rv.first.committed_end;
        st.record_value = encode_stream_record(st.record);
        auto end = st.pending.lower_bound(rv.first.committed_end);
        for (auto it = st.pending.begin(); it != end; ++it) {
            _pending_bytes -= std::min<uint64_t>(_pending_bytes, it->second.payload_bytes);
        }
        st.pending.erase(st.pending.begin(), end);
    }
    _pending_since = std::chrono::steady_clock::now();
    _stats.objects_uploaded += objects.size();
    return ok();
}

status stream_store::resync_stream(stream_id stream) {
    // Needs _metadata_mutex (held by the caller).
    const std::string key = metadata::stream_key(stream);
    auto current = _meta->get(key);
    if (!current) {
        return current.error_value();
    }
    if (!current->has_value()) {
        return error(errc::not_found, key + " vanished");
    }
    auto record = decode_stream_record((*current)->value);
    if (!record) {
        return record.error_value();
    }
    auto objects = _meta->range({metadata::key_range::with_prefix(metadata::objects_prefix)});
    if (!objects) {
        return objects.error_value();
    }
    std::lock_guard lock(_mutex);
    stream_state& st = _streams[stream];
    st.record = *record;
    st.record_value = (*current)->value;
    adopt_committed_objects_locked(stream, objects->kvs);
    auto end = st.pending.lower_bound(record->committed_end);
    for (auto it = st.pending.begin(); it != end; ++it) {
        _pending_bytes -= std::min<uint64_t>(_pending_bytes, it->second.payload_bytes);
    }
    st.pending.erase(st.pending.begin(), end);
    return ok();
}

// ---- maintenance: compaction, retention, deletion ---------------------------

void stream_store::set_retention(stream_id stream, retention_policy policy) {
    std::lock_guard lock(_mutex);
    _retention[stream] = policy;
}

void stream_store::set_compaction_commit_hook(std::function<void()> hook) {
    std::lock_guard lock(_compaction_mutex);
    _compaction_commit_hook = std::move(hook);
}

std::vector<object_id> stream_store::live_objects() const {
    const std::string prefix = own_object_prefix();
    std::vector<object_id> out;
    std::lock_guard lock(_mutex);
    for (const auto& [id, meta] : _object_meta) {
        if (meta.state == object_state::committed && meta.key.starts_with(prefix)) {
            out.push_back(id);
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

void stream_store::forget_ranges_locked(object_id id, const std::vector<object_range>& ranges) {
    for (const auto& range : ranges) {
        auto st = _streams.find(range.stream);
        if (st == _streams.end()) {
            continue;
        }
        auto it = st->second.objects.find(range.start);
        if (it != st->second.objects.end() && it->second.id == id) {
            st->second.objects.erase(it);
        }
    }
}

void stream_store::maintenance_loop() {
    while (sleep_for(_options.maintenance_interval)) {
        // Errors and conflicts are retried in the next round.
        for (int group = 0; group < 16; ++group) {
            uint64_t before = statistics().compactions;
            if (!run_compaction_once() || statistics().compactions == before) {
                break;
            }
        }
        (void)run_retention_once();
    }
}

status stream_store::reload_object(object_id id) {
    auto current = _meta->get(metadata::object_key(id));
    if (!current) {
        return current.error_value();
    }
    std::lock_guard lock(_mutex);
    auto known = _object_meta.find(id);
    if (known != _object_meta.end()) {
        forget_ranges_locked(id, known->second.ranges);
    }
    if (!current->has_value()) {
        _object_meta.erase(id);
        _indexes.erase(id);
        return ok();
    }
    auto record = decode_object_record((*current)->value);
    if (!record) {
        return record.error_value();
    }
    remember_object_locked(id, *record, (*current)->mod_revision);
    return ok();
}

status stream_store::run_compaction_once() {
    std::lock_guard compaction_lock(_compaction_mutex);
    const std::string prefix = own_object_prefix();
    // 1. The group: small committed objects of this node, in id order, whose
    //    streams are all owned here, while each stream's kept ranges stay
    //    contiguous and the total stays within compaction_group_limit(). Ranges
    //    (and blocks) wholly below their stream's start offset are dropped.
    struct member {
        object_id id;
        object_meta meta;
    };
    std::vector<member> group;
    std::map<stream_id, offset> starts;
    {
        std::lock_guard lock(_mutex);
        std::vector<object_id> ids;
        for (const auto& [id, meta] : _object_meta) {
            if (meta.state == object_state::committed &&
                meta.size < _options.compaction_small_object_bytes &&
                meta.key.starts_with(prefix)) {
                ids.push_back(id);
            }
        }
        std::sort(ids.begin(), ids.end());
        // Each stream's kept ranges in the group form one interval [first,
        // end); an object joins when each of its ranges extends that interval
        // on either side. Several passes, since ids (upload and compaction
        // outputs interleave) are not in offset order.
        std::map<stream_id, std::pair<offset, offset>> spans;
        std::set<object_id> taken;
        size_t total = 0;
        bool grew = true;
        while (grew) {
            grew = false;
            for (object_id id : ids) {
                const object_meta& meta = _object_meta[id];
                if (taken.count(id) != 0 ||
                    (!group.empty() && total + meta.size > compaction_group_limit())) {
                    continue;
                }
                bool usable = true;
                for (const auto& range : meta.ranges) {
                    auto st = _streams.find(range.stream);
                    if (st == _streams.end() || !st->second.known_in_metadata ||
                        st->second.fenced || st->second.record.owner != _options.wal.owner) {
                        usable = false;
                        break;
                    }
                    if (range.end <= st->second.record.start_offset) {
                        continue;
                    }
                    auto span = spans.find(range.stream);
                    if (span != spans.end() && span->second.second != range.start &&
                        span->second.first != range.end) {
                        usable = false;
                        break;
                    }
                }
                if (!usable) {
                    continue;
                }
                for (const auto& range : meta.ranges) {
                    offset start = _streams[range.stream].record.start_offset;
                    starts[range.stream] = start;
                    if (range.end <= start) {
                        continue;
                    }
                    auto [span, added] = spans.try_emplace(range.stream, range.start, range.end);
                    if (!added) {
                        span->second.first = std::min(span->second.first, range.start);
                        span->second.second = std::max(span->second.second, range.end);
                    }
                }
                group.push_back(member{id, meta});
                taken.insert(id);
                total += meta.size;
                grew = true;
            }
        }
    }
    if (group.size() < 2) {
        return ok();
    }
    // Held while the sources and outputs are in memory (until the puts):
    // uploads wait meanwhile (build_memory_bytes is shared).
    std::unique_lock build_lock(_build_mutex);
    auto failed = [this](status s) {
        std::lock_guard lock(_mutex);
        ++_stats.compaction_failures;
        return s;
    };
    // 2. Read the group and plan each stream's blocks in offset order.
    std::vector<byte_vector> bodies;
    std::vector<object_view> views;
    for (const auto& m : group) {
        auto bytes = _objects->get(m.meta.key);
        if (!bytes) {
            return failed(bytes.error_value());
        }
        auto view = parse_object(*bytes);
        if (!view) {
            return failed(view.error_value());
        }
        bodies.push_back(std::move(*bytes));
        views.push_back(std::move(*view));
    }
    struct block_ref {
        size_t object = 0;
        size_t block = 0;
    };
    std::map<stream_id, std::vector<block_ref>> plan;
    std::map<stream_id, uint64_t> stream_bytes;
    for (size_t o = 0; o < views.size(); ++o) {
        for (size_t b = 0; b < views[o].blocks.size(); ++b) {
            const block_index& index = views[o].blocks[b];
            if (index.end_offset <= starts[index.stream]) {
                continue;
            }
            plan[index.stream].push_back(block_ref{o, b});
            stream_bytes[index.stream] += index.size;
        }
    }
    for (auto& [stream, refs] : plan) {
        std::sort(refs.begin(), refs.end(), [&](const block_ref& a, const block_ref& b) {
            return views[a.object].blocks[a.block].start_offset <
                   views[b.object].blocks[b.block].start_offset;
        });
        for (size_t i = 1; i < refs.size(); ++i) {
            if (views[refs[i].object].blocks[refs[i].block].start_offset !=
                views[refs[i - 1].object].blocks[refs[i - 1].block].end_offset) {
                return failed(error(errc::corrupt, "compaction group of stream " +
                                                       std::to_string(stream.value()) +
                                                       " is not contiguous"));
            }
        }
    }
    // 3. Build: a stream object per stream with stream_object_bytes, one
    //    stream-set object with the rest.
    struct building {
        object_id id;
        object_builder builder;
        object_record record;
    };
    std::vector<building> outputs;
    std::map<stream_id, size_t> output_of;
    auto slot_of = [&](stream_id stream) {
        return output_slot(stream_bytes, stream, _options.stream_object_bytes);
    };
    // Entries and bytes per output, to size each object's buffer once (block
    // sizes include their entry headers: a slight overestimate).
    std::map<stream_id, std::pair<size_t, size_t>> output_size;
    for (const auto& [stream, refs] : plan) {
        auto& [entries, bytes] = output_size[slot_of(stream)];
        for (const auto& ref : refs) {
            const block_index& index = views[ref.object].blocks[ref.block];
            entries += index.entry_count;
            bytes += index.size;
        }
    }
    for (const auto& [stream, refs] : plan) {
        stream_id slot = slot_of(stream);
        auto found = output_of.find(slot);
        size_t which = 0;
        if (found == output_of.end()) {
            result<object_id> id = error(errc::io, "unset");
            {
                std::lock_guard upload_lock(_upload_mutex);
                id = next_object_id();
            }
            if (!id) {
                return failed(id.error_value());
            }
            outputs.push_back(building{*id, object_builder(*id, _options.object_block_size), {}});
            outputs.back().record.key = object_key_for(*id);
            const auto& [entries, bytes] = output_size[slot];
            outputs.back().builder.reserve(entries, bytes);
            which = outputs.size() - 1;
            output_of[slot] = which;
        } else {
            which = found->second;
        }
        building& out = outputs[which];
        for (const auto& ref : refs) {
            const block_index& index = views[ref.object].blocks[ref.block];
            byte_span body(bodies[ref.object]);
            if (index.position + index.size > body.size()) {
                return failed(error(errc::corrupt, "block beyond its object"));
            }
            auto entries =
                parse_block(body.subspan(index.position, index.size), index, group[ref.object].id);
            if (!entries) {
                return failed(entries.error_value());
            }
            for (const auto& e : *entries) {
                FLOE_TRY(out.builder.add(
                    stream, entry{e.base_offset, e.record_count, e.max_timestamp, e.payload}));
            }
        }
        out.record.ranges.push_back(
            object_range{stream, views[refs.front().object].blocks[refs.front().block].start_offset,
                         views[refs.back().object].blocks[refs.back().block].end_offset});
    }
    bodies.clear();
    auto remove_outputs = [&] {
        for (const auto& out : outputs) {
            (void)_objects->remove(out.record.key);
        }
    };
    for (auto& out : outputs) {
        page_aligned_bytes bytes = out.builder.finish();
        out.record.size = bytes.size();
        status put = _objects->put(out.record.key, bytes);
        if (!put) {
            remove_outputs();  // best effort; recovery collects what is left
            return failed(put);
        }
    }
    build_lock.unlock();
    if (_compaction_commit_hook) {
        _compaction_commit_hook();
    }
    // 4. Commit: new records in, old records marked, all in one transaction
    //    that requires every old record to be unchanged.
    metadata::txn_request txn;
    for (const auto& m : group) {
        const std::string key = metadata::object_key(m.id);
        txn.compares.push_back(metadata::compare::mod_revision_is(key, metadata::compare_op::equal,
                                                                  m.meta.mod_revision));
        object_record marked{m.meta.key, m.meta.size, object_state::marked_for_deletion,
                             m.meta.ranges};
        txn.success.push_back(metadata::op::put(key, encode_object_record(marked)));
    }
    for (const auto& out : outputs) {
        const std::string key = metadata::object_key(out.id);
        txn.compares.push_back(metadata::compare::absent(key));
        txn.success.push_back(metadata::op::put(key, encode_object_record(out.record)));
    }
    // Probe for an unknown outcome: a new record exists only if the commit
    // happened (with no outputs, the first old record being marked suffices:
    // either way nothing readable is lost).
    const std::string probe_key =
        metadata::object_key(outputs.empty() ? group.front().id : outputs.front().id);
    metadata::revision_t revision = 0;
    {
        std::lock_guard meta_lock(_metadata_mutex);
        auto response = _meta->txn(txn);
        if (!response) {
            // Unknown outcome: the first old record says whether it happened.
            auto check = _meta->get(probe_key);
            if (!check) {
                return failed(response.error_value());  // outputs: garbage for recovery
            }
            auto decoded = check->has_value() ? decode_object_record((*check)->value)
                                              : result<object_record>(error(errc::not_found, ""));
            bool applied =
                decoded.has_value() &&
                (outputs.empty() ? decoded->state == object_state::marked_for_deletion : true);
            if (!applied) {
                remove_outputs();
                for (const auto& m : group) {
                    (void)reload_object(m.id);
                }
                return failed(response.error_value());
            }
            revision = (*check)->mod_revision;
        } else if (!response->succeeded) {
            remove_outputs();
            for (const auto& m : group) {
                (void)reload_object(m.id);
            }
            return failed(
                error(errc::conflict, "compaction refused: a replaced object record changed"));
        } else {
            revision = response->revision;
        }
    }
    // 5. Switch the readers' maps from the old ranges to the new ones at once.
    std::lock_guard lock(_mutex);
    const auto now = std::chrono::steady_clock::now();
    for (const auto& m : group) {
        object_meta& meta = _object_meta[m.id];
        forget_ranges_locked(m.id, meta.ranges);
        meta.state = object_state::marked_for_deletion;
        meta.mod_revision = revision;
        meta.marked_since = now;
    }
    for (const auto& out : outputs) {
        remember_object_locked(out.id, out.record, revision);
    }
    ++_stats.compactions;
    _stats.objects_compacted += group.size();
    _stats.objects_marked += group.size();
    return ok();
}

status stream_store::mark_for_deletion(object_id id) {
    object_meta meta;
    {
        std::lock_guard lock(_mutex);
        auto it = _object_meta.find(id);
        if (it == _object_meta.end() || it->second.state != object_state::committed) {
            return ok();
        }
        meta = it->second;
    }
    const std::string key = metadata::object_key(id);
    metadata::txn_request txn;
    txn.compares.push_back(
        metadata::compare::mod_revision_is(key, metadata::compare_op::equal, meta.mod_revision));
    object_record marked{meta.key, meta.size, object_state::marked_for_deletion, meta.ranges};
    txn.success.push_back(metadata::op::put(key, encode_object_record(marked)));
    auto response = _meta->txn(txn);
    if (!response || !response->succeeded) {
        FLOE_TRY(reload_object(id));  // learn what changed (or whether it applied)
        if (!response) {
            return response.error_value();
        }
        return error(errc::conflict, key + " changed");
    }
    std::lock_guard lock(_mutex);
    object_meta& current = _object_meta[id];
    forget_ranges_locked(id, current.ranges);
    current.state = object_state::marked_for_deletion;
    current.mod_revision = response->revision;
    current.marked_since = std::chrono::steady_clock::now();
    ++_stats.objects_marked;
    return ok();
}

status stream_store::run_retention_once() {
    status first_error = ok();
    auto note = [&](status s) {
        if (!s && first_error) {
            first_error = s;
        }
    };
    {
        std::lock_guard retention_lock(_retention_mutex);
        // 1. Each stream's new start offset, over its committed object ranges.
        struct stream_plan {
            stream_id stream;
            retention_policy policy;
            offset start;
            std::vector<object_ref> ranges;  // in offset order, above start
            uint64_t pending_bytes = 0;
        };
        std::vector<stream_plan> plans;
        {
            std::lock_guard lock(_mutex);
            for (const auto& [sid, policy] : _retention) {
                auto it = _streams.find(sid);
                if (it == _streams.end() || !it->second.known_in_metadata || it->second.fenced ||
                    it->second.record.owner != _options.wal.owner) {
                    continue;
                }
                const stream_state& st = it->second;
                stream_plan p{sid, policy, st.record.start_offset, {}, 0};
                for (const auto& [base, ref] : st.objects) {
                    if (ref.end > p.start) {
                        p.ranges.push_back(ref);
                    }
                }
                for (const auto& [base, pending] : st.pending) {
                    p.pending_bytes += pending.payload_bytes;
                }
                plans.push_back(std::move(p));
            }
        }
        const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
        for (const auto& p : plans) {
            // Bytes and max timestamp of each range, from the object indexes.
            std::vector<std::pair<uint64_t, int64_t>> sizes;
            bool indexed = true;
            for (const auto& ref : p.ranges) {
                auto index = object_index(ref.id);
                if (!index) {
                    note(index.error_value());
                    indexed = false;
                    break;
                }
                uint64_t bytes = 0;
                int64_t max_ts = -1;
                for (const auto& b : **index) {
                    if (b.stream == p.stream) {
                        bytes += b.size;
                        max_ts = std::max(max_ts, b.max_timestamp);
                    }
                }
                sizes.emplace_back(bytes, max_ts);
            }
            if (!indexed) {
                continue;
            }
            offset new_start = p.start;
            if (p.policy.retention_ms >= 0) {
                for (size_t i = 0; i < p.ranges.size(); ++i) {
                    int64_t max_ts = sizes[i].second;
                    if (max_ts < 0 || max_ts >= now_ms - p.policy.retention_ms) {
                        break;  // unknown timestamps never expire
                    }
                    new_start = std::max(new_start, p.ranges[i].end);
                }
            }
            if (p.policy.retention_bytes >= 0) {
                uint64_t total = p.pending_bytes;
                for (const auto& [bytes, ts] : sizes) {
                    total += bytes;
                }
                for (size_t i = 0; i < p.ranges.size(); ++i) {
                    if (total <= static_cast<uint64_t>(p.policy.retention_bytes)) {
                        break;
                    }
                    total -= sizes[i].first;
                    new_start = std::max(new_start, p.ranges[i].end);
                }
            }
            if (new_start > p.start) {
                note(trim(p.stream, new_start));
            }
        }
        // 2. Mark this node's objects whose every range is below its stream's
        //    start offset (a stream-set object waits for all its streams).
        std::vector<object_id> dead;
        {
            const std::string prefix = own_object_prefix();
            std::lock_guard lock(_mutex);
            for (const auto& [id, meta] : _object_meta) {
                if (meta.state != object_state::committed || !meta.key.starts_with(prefix)) {
                    continue;
                }
                bool below = true;
                for (const auto& range : meta.ranges) {
                    auto st = _streams.find(range.stream);
                    if (st == _streams.end() || !st->second.known_in_metadata ||
                        range.end > st->second.record.start_offset) {
                        below = false;
                        break;
                    }
                }
                if (below) {
                    dead.push_back(id);
                }
            }
        }
        for (object_id id : dead) {
            note(mark_for_deletion(id));
        }
    }
    note(run_deletion_once());
    return first_error;
}

status stream_store::run_deletion_once() {
    std::lock_guard retention_lock(_retention_mutex);
    struct due {
        object_id id;
        std::string key;
        metadata::revision_t mod_revision = 0;
    };
    std::vector<due> doomed;
    {
        const std::string prefix = own_object_prefix();
        const auto now = std::chrono::steady_clock::now();
        std::lock_guard lock(_mutex);
        for (const auto& [id, meta] : _object_meta) {
            if (meta.state == object_state::marked_for_deletion && meta.key.starts_with(prefix) &&
                now - meta.marked_since >= _options.deletion_grace) {
                doomed.push_back(due{id, meta.key, meta.mod_revision});
            }
        }
    }
    for (const auto& d : doomed) {
        // Object first, record second: a crash in between leaves a marked
        // record whose deletion is simply repeated.
        FLOE_TRY(_objects->remove(d.key));
        _block_cache.erase_object(d.id);
        const std::string key = metadata::object_key(d.id);
        metadata::txn_request txn;
        txn.compares.push_back(
            metadata::compare::mod_revision_is(key, metadata::compare_op::equal, d.mod_revision));
        txn.success.push_back(metadata::op::remove(key));
        auto response = _meta->txn(txn);
        if (!response) {
            return response.error_value();
        }
        if (!response->succeeded) {
            FLOE_TRY(reload_object(d.id));
            continue;
        }
        std::lock_guard lock(_mutex);
        _object_meta.erase(d.id);
        _indexes.erase(d.id);
        ++_stats.objects_deleted;
    }
    return ok();
}

// ---- observers --------------------------------------------------------------

std::optional<stream_store::stream_info> stream_store::info(stream_id stream) const {
    std::lock_guard lock(_mutex);
    auto it = _streams.find(stream);
    if (it == _streams.end()) {
        return std::nullopt;
    }
    const stream_state& st = it->second;
    return stream_info{st.record, st.high_watermark, st.next_offset, st.open, st.fenced};
}

stream_store::stats stream_store::statistics() const {
    std::lock_guard lock(_mutex);
    stats s = _stats;
    s.pending_bytes = _pending_bytes;
    return s;
}

}  // namespace floe::stream
