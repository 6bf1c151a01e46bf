#include "wal/wal.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

#include "base/crc32c.h"
#include "base/thread_name.h"

namespace floe {

namespace fmt = wal_format;

namespace {

// Records up to this length (payloads up to 8 KiB) are checksummed by reading
// their bytes in the group buffer on the I/O thread (twice: record CRC, then
// group CRC; ~0.05 us per KiB each with SSE4.2). Longer ones have their
// payload CRC computed by append() on the caller's thread, and the I/O thread
// only combines CRCs (crc32c_combine, ~35 ns per set bit of the length): the
// I/O thread's time per group is what queued appends wait for.
constexpr size_t k_direct_crc_limit = 8 * 1024 + fmt::k_record_header_size;

}  // namespace

struct wal::pending_append {
    fmt::record_header fields;  // position filled in when the group is formed
    uint32_t payload_crc = 0;   // only when length > k_direct_crc_limit
    // The payload is prefix[0, prefix_size) followed by `owned` (copying
    // append) or `shared` (zero-copy append).
    std::array<uint8_t, k_max_prefix> prefix{};
    uint8_t prefix_size = 0;
    byte_vector owned;
    shared_buffer shared;
    append_callback done;
    std::chrono::steady_clock::time_point enqueued;
};

struct wal::group_job {
    uint64_t start = 0;
    uint64_t padded = 0;
    aligned_buffer buffer;
    std::vector<std::pair<append_callback, wal_position>> completions;
    // Set when its write returned ok: the number of writes completed by
    // then (1, 2, ...); a sync that starts after it makes the group durable.
    uint64_t write_seq = 0;
    bool done = false;  // durable, or failed (outcome)
    status outcome;
};

namespace {

error stopped_error(const std::optional<error>& failed) {
    if (failed) {
        return error(errc::io, "WAL stopped after an I/O error: " + failed->message);
    }
    return error(errc::io, "WAL is closed");
}

}  // namespace

result<std::unique_ptr<wal>> wal::open(std::shared_ptr<wal_file> file, wal_options options) {
    if (options.max_in_flight == 0) {
        return error(errc::invalid_argument, "max_in_flight must be at least 1");
    }
    auto existing = read_wal_header(*file);
    fmt::header h;
    wal_scan_result scan;
    if (existing) {
        h = *existing;
        if (options.capacity != 0 && options.capacity != h.capacity) {
            return error(errc::invalid_argument, "WAL capacity is " + std::to_string(h.capacity) +
                                                     ", not " + std::to_string(options.capacity));
        }
        if (options.owner_epoch < h.owner_epoch) {
            return error(errc::conflict,
                         "WAL is owned by epoch " + std::to_string(h.owner_epoch.value()) +
                             "; refusing epoch " + std::to_string(options.owner_epoch.value()));
        }
        auto scanned = scan_wal(*file, [](const fmt::record_view&) { return ok(); });
        if (!scanned) {
            return scanned.error_value();
        }
        scan = std::move(*scanned);
    } else if (existing.error_value().code == errc::not_found) {
        if (options.capacity == 0 || options.capacity % fmt::k_block_size != 0 ||
            fmt::k_data_offset + options.capacity > file->size()) {
            return error(errc::invalid_argument,
                         "WAL capacity must be a non-zero multiple of 4096 that fits the file");
        }
        h.capacity = options.capacity;
        // A reused file may hold an older WAL's data: zero the first block so
        // a scan of this one stops there.
        aligned_buffer zero(fmt::k_block_size);
        FLOE_TRY(file->write(fmt::k_data_offset, {zero.data(), zero.size()}));
        scan.header = h;
    } else {
        return existing.error_value();
    }
    h.sequence += 1;
    h.owner = options.owner;
    h.owner_epoch = options.owner_epoch;
    h.generation += 1;
    scan.header = h;
    auto block = fmt::encode_header(h);
    aligned_buffer aligned(block.size());
    std::memcpy(aligned.data(), block.data(), block.size());
    FLOE_TRY(file->write((h.sequence % fmt::k_header_copies) * fmt::k_block_size,
                         {aligned.data(), aligned.size()}));
    FLOE_TRY(file->sync());
    return std::unique_ptr<wal>(new wal(std::move(file), options, h, std::move(scan)));
}

wal::wal(std::shared_ptr<wal_file> file, wal_options options, fmt::header header,
         wal_scan_result scan)
    : _file(std::move(file)),
      _options(options),
      _capacity(header.capacity),
      _start_position(scan.tail),
      _header(header),
      _end(scan.tail),
      _durable_end(scan.tail),
      _groups(scan.groups.begin(), scan.groups.end()),
      _buffer_size(std::min<uint64_t>(fmt::round_up(options.max_group_bytes), 16 << 20)) {
    for (size_t i = 0; i < _options.max_in_flight; ++i) {
        _io_threads.emplace_back([this] {
            set_thread_name("wal-io");
            io_loop();
        });
    }
}

wal::~wal() {
    (void)close();
}

void wal::append(stream_id stream, epoch stream_epoch, offset base_offset, uint32_t record_count,
                 byte_span payload, append_callback done) {
    pending_append item;
    if (!prepare(item, stream, stream_epoch, base_offset, record_count, {}, payload, done)) {
        return;
    }
    item.owned.assign(payload.begin(), payload.end());
    item.done = std::move(done);
    enqueue(std::move(item));
}

void wal::append(stream_id stream, epoch stream_epoch, offset base_offset, uint32_t record_count,
                 byte_span prefix, shared_buffer body, append_callback done) {
    if (prefix.size() > k_max_prefix) {
        abort_with("wal::append: prefix longer than k_max_prefix");
    }
    pending_append item;
    if (!prepare(item, stream, stream_epoch, base_offset, record_count, prefix, body.span(),
                 done)) {
        return;
    }
    std::memcpy(item.prefix.data(), prefix.data(), prefix.size());
    item.prefix_size = static_cast<uint8_t>(prefix.size());
    item.shared = std::move(body);
    item.done = std::move(done);
    enqueue(std::move(item));
}

bool wal::prepare(pending_append& item, stream_id stream, epoch stream_epoch, offset base_offset,
                  uint32_t record_count, byte_span prefix, byte_span body, append_callback& done) {
    size_t payload_size = prefix.size() + body.size();
    uint64_t length = fmt::k_record_header_size + payload_size;
    if (payload_size > fmt::k_max_payload ||
        fmt::round_up(fmt::k_group_header_size + length) > _capacity) {
        done(error(errc::too_large, "WAL record of " + std::to_string(length) + " bytes"));
        return false;
    }
    item.fields.length = static_cast<uint32_t>(length);
    item.fields.stream = stream;
    item.fields.stream_epoch = stream_epoch;
    item.fields.base_offset = base_offset;
    item.fields.record_count = record_count;
    if (length > k_direct_crc_limit) {
        // On the caller's thread, so producers share the checksum work.
        item.payload_crc =
            crc32c_extend(crc32c_extend(0, prefix.data(), prefix.size()), body.data(), body.size());
    }
    return true;
}

void wal::enqueue(pending_append item) {
    uint64_t length = item.fields.length;
    std::unique_lock lock(_mutex);
    auto admissible = [&] {
        return _closing || _failed || _queued_bytes == 0 ||
               _queued_bytes + length <= _options.max_queued_bytes;
    };
    bool admitted = admissible();
    if (!admitted) {
        ++_blocked_callers;
        admitted = _caller_wake.wait_for(lock, _options.append_timeout, admissible);
        --_blocked_callers;
    }
    if (!admitted) {
        lock.unlock();
        item.done(error(errc::too_large, "WAL append queue full (ring full or writer behind)"));
        return;
    }
    if (_closing || _failed) {
        auto err = stopped_error(_failed);
        lock.unlock();
        item.done(err);
        return;
    }
    item.enqueued = std::chrono::steady_clock::now();
    _queued_bytes += length;
    _queue.push_back(std::move(item));
    // Wake an idle I/O thread for a first append, or when a group_delay wait
    // can end early because a full group is queued; busy threads take the
    // queue when they finish. (Notified after unlocking, so the thread does
    // not wake only to block on the mutex we still hold.)
    bool wake =
        _idle_io > 0 && (_queue.size() == 1 || (_queued_bytes >= _options.max_group_bytes &&
                                                _queued_bytes - length < _options.max_group_bytes));
    lock.unlock();
    if (wake) {
        _io_wake.notify_one();
    }
}

status wal::trim(uint64_t position) {
    // One trim at a time: header copies alternate by sequence number.
    std::lock_guard trim_lock(_trim_mutex);
    std::unique_lock lock(_mutex);
    if (_failed || _stopped) {
        return stopped_error(_failed);
    }
    if (position > _durable_end) {
        return error(errc::invalid_argument, "trim position " + std::to_string(position) +
                                                 " beyond the durable end " +
                                                 std::to_string(_durable_end));
    }
    if (position <= _header.trim_position) {
        return ok();
    }
    while (!_groups.empty() && _groups.front().second <= position) {
        _groups.pop_front();
    }
    fmt::header next = _header;
    next.sequence += 1;
    next.trim_position = position;
    next.scan_start = _groups.empty() ? position : std::min(_groups.front().first, position);
    lock.unlock();
    status outcome = write_header(next);
    lock.lock();
    if (outcome) {
        _header = next;
        lock.unlock();
        _io_wake.notify_all();  // ring space freed
        return outcome;
    }
    if (!_failed) {
        _failed = outcome.error_value();
        _write_failed.store(true, std::memory_order_release);
    }
    // Queued appends fail now unless a group in flight will do it.
    release_ready(lock);
    return outcome;
}

result<wal_record> wal::read(wal_position where) {
    {
        std::lock_guard lock(_mutex);
        if (where.position < _header.trim_position ||
            where.position + where.length > _durable_end) {
            return error(errc::not_found, "WAL position " + std::to_string(where.position) +
                                              " is not in the live, durable range");
        }
    }
    return read_wal_record(*_file, _capacity, where);
}

status wal::close() {
    std::unique_lock lock(_mutex);
    if (!_closing) {
        _closing = true;
        _io_wake.notify_all();
        _caller_wake.notify_all();
    }
    // Every accepted append completes: written, or failed after an error.
    _caller_wake.wait(lock, [&] {
        return _stopped ||
               (_in_flight.empty() && !_releasing && (_queue.empty() || _failed || !can_form()));
    });
    if (!_stopped && !_queue.empty()) {
        // Nothing in flight and the ring is full: nobody can trim any more.
        std::deque<pending_append> doomed;
        doomed.swap(_queue);
        _queued_bytes = 0;
        _releasing = true;
        lock.unlock();
        for (auto& item : doomed) {
            item.done(error(errc::too_large, "WAL closed while its ring was full"));
        }
        lock.lock();
        _releasing = false;
    }
    _stopped = true;
    _io_wake.notify_all();
    _caller_wake.notify_all();
    lock.unlock();
    std::call_once(_join_once, [this] {
        for (auto& t : _io_threads) {
            t.join();
        }
    });
    lock.lock();
    if (_failed) {
        return stopped_error(_failed);
    }
    return ok();
}

uint64_t wal::durable_end() const {
    std::lock_guard lock(_mutex);
    return _durable_end;
}

uint64_t wal::trim_position() const {
    std::lock_guard lock(_mutex);
    return _header.trim_position;
}

fmt::header wal::header() const {
    std::lock_guard lock(_mutex);
    return _header;
}

wal::stats wal::statistics() const {
    std::lock_guard lock(_mutex);
    return _stats;
}

void wal::build_group(group_job& job_ref, std::vector<pending_append>& items, uint64_t start,
                      uint64_t padded) {
    group_job* job = &job_ref;
    job->start = start;
    job->padded = padded;
    // Every byte below the data length is written below; only the padding is
    // zeroed. Buffers of the usual size are reused (the pool is guarded by _mutex), so a
    // group costs neither an allocation nor page faults nor a full memset.
    if (padded > _buffer_size) {
        job->buffer = aligned_buffer(padded, aligned_buffer::uninitialized);
    } else {
        {
            std::lock_guard lock(_mutex);
            if (!_spare_buffers.empty()) {
                job->buffer = std::move(_spare_buffers.back());
                _spare_buffers.pop_back();
            }
        }
        if (job->buffer.size() == 0) {
            job->buffer = aligned_buffer(_buffer_size, aligned_buffer::uninitialized);
        }
    }
    uint8_t* base = job->buffer.data();
    size_t cursor = fmt::k_group_header_size;
    // The group CRC covers [8, data_length). Small records are checksummed
    // from the buffer (record CRC, then the whole record into the group CRC);
    // large ones reuse the payload CRC computed by append() and crc32c_combine,
    // so their payload is read only once.
    uint32_t body_crc = 0;  // CRC of the bytes from k_group_header_size to cursor
    job->completions.reserve(items.size());
    for (auto& item : items) {
        item.fields.position = start + cursor;
        uint8_t* out = base + cursor;
        uint32_t header_crc = fmt::encode_record_header(item.fields, out);
        uint8_t* payload_out = out + fmt::k_record_header_size;
        size_t payload_size = item.fields.length - fmt::k_record_header_size;
        std::memcpy(payload_out, item.prefix.data(), item.prefix_size);
        byte_span body = item.shared.empty() ? byte_span(item.owned) : item.shared.span();
        if (!body.empty()) {
            std::memcpy(payload_out + item.prefix_size, body.data(), body.size());
        }
        item.owned = byte_vector();
        item.shared = shared_buffer();
        if (item.fields.length <= k_direct_crc_limit) {
            uint32_t record_crc = crc32c_extend(header_crc, payload_out, payload_size);
            fmt::patch_crc(out, record_crc);
            body_crc = crc32c_extend(body_crc, out, item.fields.length);
        } else {
            uint32_t record_crc = crc32c_combine(header_crc, item.payload_crc, payload_size);
            fmt::patch_crc(out, record_crc);
            body_crc = crc32c_extend(body_crc, out, fmt::k_crc_start);
            body_crc = crc32c_combine(body_crc, record_crc, item.fields.length - fmt::k_crc_start);
        }
        job->completions.emplace_back(std::move(item.done),
                                      wal_position{item.fields.position, item.fields.length});
        cursor += item.fields.length;
    }
    std::memset(base + cursor, 0, static_cast<size_t>(padded - cursor));
    fmt::group_header g;
    g.data_length = static_cast<uint32_t>(cursor);
    g.record_count = static_cast<uint32_t>(items.size());
    g.position = start;
    g.generation = _header.generation;
    g.writer_epoch = _header.owner_epoch;
    fmt::encode_group_header(g, 0, base);
    uint32_t crc =
        crc32c_extend(0, base + fmt::k_crc_start, fmt::k_group_header_size - fmt::k_crc_start);
    crc = crc32c_combine(crc, body_crc, cursor - fmt::k_group_header_size);
    fmt::patch_crc(base, crc);
}

status wal::write_group(const group_job& job) {
    uint64_t in_ring = job.start % _capacity;
    uint64_t first = std::min(job.padded, _capacity - in_ring);
    FLOE_TRY(_file->write(fmt::k_data_offset + in_ring,
                          {job.buffer.data(), static_cast<size_t>(first)}));
    if (first < job.padded) {
        FLOE_TRY(_file->write(fmt::k_data_offset, {job.buffer.data() + first,
                                                   static_cast<size_t>(job.padded - first)}));
    }
    return ok();
}

void wal::sync_written(std::unique_lock<std::mutex>& lock) {
    // _mutex held; _syncing set by the caller. One sync covers every group
    // whose write returned before it started, so the leader syncs again
    // while groups written during its last sync are waiting.
    while (!_failed && _writes_completed > _synced_seq) {
        uint64_t target = _writes_completed;
        lock.unlock();
        status outcome = _file->sync();
        lock.lock();
        if (!outcome) {
            _failed = outcome.error_value();
            _write_failed.store(true, std::memory_order_release);
            release_ready(lock);  // fails what this sync was to cover
            break;
        }
        _synced_seq = target;
        for (auto& job : _in_flight) {
            if (job->write_seq != 0 && job->write_seq <= target) {
                job->done = true;
            }
        }
        release_ready(lock);
    }
    _syncing = false;
}

void wal::recycle(group_job& job) {
    // Called with _mutex held.
    if (job.buffer.size() == _buffer_size && _spare_buffers.size() <= _options.max_in_flight) {
        _spare_buffers.push_back(std::move(job.buffer));
    }
    job.buffer = aligned_buffer();
}

status wal::write_header(const fmt::header& h) {
    auto block = fmt::encode_header(h);
    aligned_buffer aligned(block.size());
    std::memcpy(aligned.data(), block.data(), block.size());
    FLOE_TRY(_file->write((h.sequence % fmt::k_header_copies) * fmt::k_block_size,
                          {aligned.data(), aligned.size()}));
    return _file->sync();
}

bool wal::can_form() const {
    if (_queue.empty()) {
        return false;
    }
    uint64_t free_space = _capacity - (_end - _header.scan_start);
    return fmt::round_up(fmt::k_group_header_size + _queue.front().fields.length) <= free_space;
}

void wal::release_ready(std::unique_lock<std::mutex>& lock) {
    if (_releasing) {
        return;  // the thread releasing now will see our group too
    }
    _releasing = true;
    for (;;) {
        // After a failure, groups written but never covered by a sync fail
        // too (their write may or may not be durable).
        if (!_in_flight.empty() &&
            (_in_flight.front()->done || (_failed && _in_flight.front()->write_seq != 0))) {
            std::unique_ptr<group_job> job = std::move(_in_flight.front());
            _in_flight.pop_front();
            if (!job->outcome && !_failed) {
                _failed = job->outcome.error_value();
            }
            bool good = !_failed;
            if (good) {
                _durable_end = job->start + job->padded;
                _stats.groups += 1;
                _stats.records += job->completions.size();
                _stats.bytes += job->padded;
            }
            std::optional<error> failure = _failed;
            lock.unlock();
            for (auto& [done, where] : job->completions) {
                if (good) {
                    done(where);
                } else {
                    done(stopped_error(failure));
                }
            }
            lock.lock();
            continue;
        }
        // Fail-stop: once nothing is in flight, everything still queued fails,
        // in order, after the groups before it.
        if (_failed && _in_flight.empty() && !_queue.empty()) {
            std::deque<pending_append> doomed;
            doomed.swap(_queue);
            _queued_bytes = 0;
            auto err = stopped_error(_failed);
            _caller_wake.notify_all();
            lock.unlock();
            for (auto& item : doomed) {
                item.done(err);
            }
            lock.lock();
            continue;
        }
        break;
    }
    _releasing = false;
    if (_closing || _failed) {
        _caller_wake.notify_all();
    }
}

void wal::io_loop() {
    std::unique_lock lock(_mutex);
    for (;;) {
        if (_stopped) {
            return;
        }
        if (_failed || !can_form()) {
            ++_idle_io;
            _io_wake.wait(lock);
            --_idle_io;
            continue;
        }
        if (_options.group_delay.count() > 0 && !_closing &&
            _queued_bytes + fmt::k_group_header_size < _options.max_group_bytes) {
            auto due = _queue.front().enqueued + _options.group_delay;
            if (std::chrono::steady_clock::now() < due) {
                ++_idle_io;
                _io_wake.wait_until(lock, due);
                --_idle_io;
                continue;
            }
        }
        // Form a group from the front of the queue: its place in the ring and
        // in WAL order are fixed here, under the lock.
        uint64_t free_space = _capacity - (_end - _header.scan_start);
        std::vector<pending_append> items;
        uint64_t data = fmt::k_group_header_size;
        while (!_queue.empty()) {
            uint64_t next = data + _queue.front().fields.length;
            uint64_t padded = fmt::round_up(next);
            if (padded > free_space || (!items.empty() && padded > _options.max_group_bytes)) {
                break;
            }
            data = next;
            _queued_bytes -= _queue.front().fields.length;
            items.push_back(std::move(_queue.front()));
            _queue.pop_front();
        }
        uint64_t padded = fmt::round_up(data);
        uint64_t start = _end;
        _end += padded;
        _groups.emplace_back(start, start + padded);
        auto placeholder = std::make_unique<group_job>();
        group_job* job = placeholder.get();
        _in_flight.push_back(std::move(placeholder));
        bool wake_callers = _blocked_callers > 0;
        bool more = !_queue.empty() && _idle_io > 0;
        lock.unlock();
        if (wake_callers) {
            _caller_wake.notify_all();
        }
        if (more) {
            _io_wake.notify_one();  // another thread takes the rest meanwhile
        }
        build_group(*job, items, start, padded);
        status outcome = _write_failed.load(std::memory_order_acquire)
                             ? status(error(errc::io, "not written: the WAL had already failed"))
                             : write_group(*job);
        lock.lock();
        recycle(*job);  // the buffer is not needed once written
        if (!outcome) {
            job->outcome = std::move(outcome);
            job->done = true;
            if (!_failed) {
                _failed = job->outcome.error_value();
                _write_failed.store(true, std::memory_order_release);
            }
            release_ready(lock);
            continue;
        }
        job->write_seq = ++_writes_completed;
        if (_failed) {
            release_ready(lock);  // never synced now: fails in WAL order
            continue;
        }
        if (_syncing) {
            // The running sync started before this write returned: its
            // leader syncs again when it ends. Meanwhile, form the next group.
            continue;
        }
        _syncing = true;
        sync_written(lock);
    }
}

}  // namespace floe
