#include "wal/wal.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "base/crc32c.h"

namespace floe {

namespace fmt = wal_format;

namespace {

// Records up to this length (payloads up to 32 KiB) are checksummed by reading
// their bytes in the group buffer (hot after the copy; ~0.1 us per KiB with
// SSE4.2); longer ones combine CRCs computed earlier (crc32c_combine costs
// ~1 us whatever the length, and two per record made it the writer's largest
// cost for small records).
constexpr size_t k_direct_crc_limit = 32 * 1024 + fmt::k_record_header_size;

// Largest group the writer thread writes and syncs itself (see writer_loop).
constexpr size_t k_inline_max_records = 4;

}  // namespace

struct wal::pending_append {
    fmt::record_header fields;  // position filled in when the group is formed
    uint32_t payload_crc = 0;   // only when length > k_direct_crc_limit
    byte_vector payload;
    append_callback done;
    std::chrono::steady_clock::time_point enqueued;
};

struct wal::group_job {
    uint64_t start = 0;
    uint64_t padded = 0;
    aligned_buffer buffer;
    std::vector<std::pair<append_callback, wal_position>> completions;
    bool done = false;
    status outcome;
};

struct wal::trim_request {
    uint64_t position = 0;
    bool done = false;
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
    _writer = std::thread([this] { writer_loop(); });
    for (size_t i = 0; i < _options.max_in_flight; ++i) {
        _io_threads.emplace_back([this] { io_loop(); });
    }
}

wal::~wal() {
    (void)close();
}

void wal::append(stream_id stream, epoch stream_epoch, offset base_offset, uint32_t record_count,
                 byte_span payload, append_callback done) {
    uint64_t length = fmt::k_record_header_size + payload.size();
    if (payload.size() > fmt::k_max_payload ||
        fmt::round_up(fmt::k_group_header_size + length) > _capacity) {
        done(error(errc::too_large, "WAL record of " + std::to_string(length) + " bytes"));
        return;
    }
    pending_append item;
    item.fields.length = static_cast<uint32_t>(length);
    item.fields.stream = stream;
    item.fields.stream_epoch = stream_epoch;
    item.fields.base_offset = base_offset;
    item.fields.record_count = record_count;
    if (length > k_direct_crc_limit) {
        // On the caller's thread, so producers share the checksum work.
        item.payload_crc = crc32c_extend(0, payload.data(), payload.size());
    }
    item.payload.assign(payload.begin(), payload.end());
    item.done = std::move(done);

    std::unique_lock lock(_mutex);
    auto admissible = [&] {
        return _closing || _failed || _queued_bytes == 0 ||
               _queued_bytes + length <= _options.max_queued_bytes;
    };
    if (!admissible() && !_caller_wake.wait_for(lock, _options.append_timeout, admissible)) {
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
    // Wake the writer for a first append, or when a group_delay wait can end
    // early because a full group is queued. (Notified after unlocking, so the
    // writer does not wake only to block on the mutex we still hold.)
    bool wake = _queue.size() == 1 || (_queued_bytes >= _options.max_group_bytes &&
                                       _queued_bytes - length < _options.max_group_bytes);
    lock.unlock();
    if (wake) {
        _writer_wake.notify_one();
    }
}

status wal::trim(uint64_t position) {
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
    trim_request request;
    request.position = position;
    _trims.push_back(&request);
    _writer_wake.notify_one();
    _caller_wake.wait(lock, [&] { return request.done; });
    return request.outcome;
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
        _writer_wake.notify_all();
        _caller_wake.notify_all();
    }
    _caller_wake.wait(lock, [&] { return _stopped; });
    lock.unlock();
    std::call_once(_join_once, [this] {
        _writer.join();
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

std::unique_ptr<wal::group_job> wal::build_group(std::vector<pending_append>& items, uint64_t start,
                                                 uint64_t padded) {
    auto job = std::make_unique<group_job>();
    job->start = start;
    job->padded = padded;
    // Every byte below the data length is written below; only the padding is
    // zeroed. Buffers of the usual size are reused (writer thread only), so a
    // group costs neither an allocation nor page faults nor a full memset.
    if (padded > _buffer_size) {
        job->buffer = aligned_buffer(padded, aligned_buffer::uninitialized);
    } else if (!_spare_buffers.empty()) {
        job->buffer = std::move(_spare_buffers.back());
        _spare_buffers.pop_back();
    } else {
        job->buffer = aligned_buffer(_buffer_size, aligned_buffer::uninitialized);
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
        std::memcpy(out + fmt::k_record_header_size, item.payload.data(), item.payload.size());
        if (item.fields.length <= k_direct_crc_limit) {
            uint32_t record_crc =
                crc32c_extend(header_crc, out + fmt::k_record_header_size, item.payload.size());
            fmt::patch_crc(out, record_crc);
            body_crc = crc32c_extend(body_crc, out, item.fields.length);
        } else {
            uint32_t record_crc = crc32c_combine(header_crc, item.payload_crc, item.payload.size());
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
    return job;
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
    return _file->sync();
}

void wal::recycle(group_job& job) {
    if (job.buffer.size() == _buffer_size && _spare_buffers.size() <= _options.max_in_flight) {
        _spare_buffers.push_back(std::move(job.buffer));
    }
}

status wal::write_header(const fmt::header& h) {
    auto block = fmt::encode_header(h);
    aligned_buffer aligned(block.size());
    std::memcpy(aligned.data(), block.data(), block.size());
    FLOE_TRY(_file->write((h.sequence % fmt::k_header_copies) * fmt::k_block_size,
                          {aligned.data(), aligned.size()}));
    return _file->sync();
}

void wal::writer_loop() {
    std::unique_lock lock(_mutex);
    for (;;) {
        bool progressed = false;
        // 1. Release finished groups, strictly in WAL order.
        while (!_in_flight.empty() && _in_flight.front()->done) {
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
            recycle(*job);
            job.reset();
            lock.lock();
            progressed = true;
        }
        // 2. Trims: one header write covers every request queued so far.
        if (!_trims.empty()) {
            std::deque<trim_request*> requests;
            requests.swap(_trims);
            status outcome;
            if (_failed) {
                outcome = stopped_error(_failed);
            } else {
                uint64_t position = 0;
                for (auto* r : requests) {
                    position = std::max(position, r->position);
                }
                position = std::max(position, _header.trim_position);
                while (!_groups.empty() && _groups.front().second <= position) {
                    _groups.pop_front();
                }
                fmt::header next = _header;
                next.sequence += 1;
                next.trim_position = position;
                next.scan_start =
                    _groups.empty() ? position : std::min(_groups.front().first, position);
                lock.unlock();
                outcome = write_header(next);
                lock.lock();
                if (outcome) {
                    _header = next;
                } else if (!_failed) {
                    _failed = outcome.error_value();
                }
            }
            for (auto* r : requests) {
                r->outcome = outcome;
                r->done = true;
            }
            _caller_wake.notify_all();
            progressed = true;
        }
        // 3. Fail-stop: everything still queued fails, in order.
        if (_failed && !_queue.empty()) {
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
            progressed = true;
        }
        // 4. Form and dispatch groups while I/O slots and ring space allow.
        std::optional<std::chrono::steady_clock::time_point> wake_at;
        while (!_failed && !_queue.empty() && _in_flight.size() < _options.max_in_flight) {
            if (_options.group_delay.count() > 0 && !_closing &&
                _queued_bytes + fmt::k_group_header_size < _options.max_group_bytes) {
                auto due = _queue.front().enqueued + _options.group_delay;
                if (std::chrono::steady_clock::now() < due) {
                    wake_at = due;
                    break;
                }
            }
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
            if (items.empty()) {
                break;  // ring full: wait for trim()
            }
            _caller_wake.notify_all();
            uint64_t padded = fmt::round_up(data);
            uint64_t start = _end;
            _end += padded;
            _groups.emplace_back(start, start + padded);
            // Light load (nothing else in flight, nothing left queued, and a
            // group of at most k_inline_max_records): write and sync this
            // group on the writer thread itself, saving two thread hand-offs
            // (writer -> I/O thread -> writer), which on a small machine cost
            // about half a sync. Appends arriving meanwhile wait for it and
            // form the next group. Under more load groups go to the I/O
            // threads, so up to max_in_flight syncs overlap (doing every group
            // inline would allow only one sync at a time).
            bool inline_io = _in_flight.empty() && _queue.empty() && _trims.empty() &&
                             items.size() <= k_inline_max_records;
            lock.unlock();
            auto job = build_group(items, start, padded);
            if (inline_io) {
                group_job* raw = job.get();
                lock.lock();
                _in_flight.push_back(std::move(job));
                lock.unlock();
                status outcome = write_group(*raw);
                lock.lock();
                raw->outcome = std::move(outcome);
                raw->done = true;
                progressed = true;
                break;  // release it (step 1) before forming the next group
            }
            lock.lock();
            _io_queue.push_back(job.get());
            _in_flight.push_back(std::move(job));
            lock.unlock();
            _io_wake.notify_one();
            lock.lock();
            progressed = true;
        }
        if (progressed) {
            continue;
        }
        // 5. Stop once closing and nothing is left that can make progress.
        if (_closing && _in_flight.empty() && _trims.empty()) {
            if (!_queue.empty()) {
                // The ring is full and nobody can trim any more: fail the rest.
                std::deque<pending_append> doomed;
                doomed.swap(_queue);
                _queued_bytes = 0;
                lock.unlock();
                for (auto& item : doomed) {
                    item.done(error(errc::too_large, "WAL closed while its ring was full"));
                }
                lock.lock();
            }
            _stopped = true;
            _io_wake.notify_all();
            _caller_wake.notify_all();
            return;
        }
        if (wake_at) {
            _writer_wake.wait_until(lock, *wake_at);
        } else {
            _writer_wake.wait(lock);
        }
    }
}

void wal::io_loop() {
    std::unique_lock lock(_mutex);
    for (;;) {
        _io_wake.wait(lock, [&] { return _stopped || !_io_queue.empty(); });
        if (_io_queue.empty()) {
            return;  // stopped
        }
        group_job* job = _io_queue.front();
        _io_queue.pop_front();
        bool skip = _failed.has_value();
        lock.unlock();
        status outcome;
        if (skip) {
            outcome = error(errc::io, "not written: the WAL had already failed");
        } else {
            outcome = write_group(*job);
        }
        lock.lock();
        job->outcome = std::move(outcome);
        job->done = true;
        lock.unlock();
        _writer_wake.notify_one();
        lock.lock();
    }
}

}  // namespace floe
