#include "wal/recovery.h"

#include <string>

#include "base/crc32c.h"

namespace floe {

namespace fmt = wal_format;

result<fmt::header> read_wal_header(wal_file& file) {
    if (file.size() < fmt::k_data_offset + fmt::k_block_size) {
        return error(errc::corrupt, "WAL file too small for a header and one block");
    }
    byte_vector block(fmt::k_block_size);
    std::optional<fmt::header> best;
    std::string problems;
    size_t never_written = 0;
    for (uint64_t copy = 0; copy < fmt::k_header_copies; ++copy) {
        FLOE_TRY(file.read(copy * fmt::k_block_size, block));
        auto h = fmt::decode_header(block);
        if (!h) {
            if (h.error_value().code == errc::not_found) {
                ++never_written;
            } else if (h.error_value().code == errc::unsupported) {
                return h.error_value();
            }
            problems += " copy " + std::to_string(copy) + ": " + h.error_value().message + ";";
            continue;
        }
        if (h->sequence % fmt::k_header_copies != copy) {
            problems += " copy " + std::to_string(copy) + ": sequence in the wrong slot;";
            continue;
        }
        if (!best || h->sequence > best->sequence) {
            best = *h;
        }
    }
    if (best) {
        if (fmt::k_data_offset + best->capacity > file.size()) {
            return error(errc::corrupt, "WAL header capacity exceeds the file size");
        }
        return *best;
    }
    if (never_written == fmt::k_header_copies) {
        return error(errc::not_found, "WAL file has never been initialised");
    }
    return error(errc::corrupt, "no valid WAL header:" + problems);
}

status read_logical(wal_file& file, uint64_t capacity, uint64_t position, std::span<uint8_t> out) {
    if (out.size() > capacity) {
        return error(errc::invalid_argument, "read longer than the WAL ring");
    }
    uint64_t in_ring = position % capacity;
    size_t first = static_cast<size_t>(std::min<uint64_t>(out.size(), capacity - in_ring));
    FLOE_TRY(file.read(fmt::k_data_offset + in_ring, out.first(first)));
    if (first < out.size()) {
        FLOE_TRY(file.read(fmt::k_data_offset, out.subspan(first)));
    }
    return ok();
}

result<wal_scan_result> scan_wal(wal_file& file, const wal_record_visitor& visit) {
    auto header = read_wal_header(file);
    if (!header) {
        return header.error_value();
    }
    wal_scan_result out;
    out.header = *header;
    const fmt::header& h = out.header;
    uint64_t position = h.scan_start;
    uint64_t previous_generation = 0;
    byte_vector block(fmt::k_block_size);
    byte_vector group;
    auto at = [](uint64_t p) { return " at WAL position " + std::to_string(p); };
    for (;;) {
        uint64_t used = position - h.scan_start;
        if (used + fmt::k_block_size > h.capacity) {
            out.tail_reason = "ring full";
            break;
        }
        FLOE_TRY(read_logical(file, h.capacity, position, block));
        auto g = fmt::decode_group_header(block);
        if (!g) {
            bool zero = std::all_of(block.begin(), block.end(), [](uint8_t b) { return b == 0; });
            out.tail_reason = zero ? "zero block" : "no group header";
            break;
        }
        const auto& f = g->fields;
        if (f.position != position) {
            out.tail_reason = "stale group from position " + std::to_string(f.position);
            break;
        }
        if (f.generation < previous_generation) {
            out.tail_reason = "group of an older writer generation";
            break;
        }
        uint64_t padded = fmt::round_up(f.data_length);
        if (f.data_length < fmt::k_group_header_size || padded > h.capacity - used) {
            out.tail_reason = "group length out of range";
            break;
        }
        group.resize(padded);
        FLOE_TRY(read_logical(file, h.capacity, position, group));
        if (g->crc !=
            crc32c_extend(0, group.data() + fmt::k_crc_start, f.data_length - fmt::k_crc_start)) {
            out.tail_reason = "group CRC mismatch (torn or corrupt)";
            break;
        }
        // From here on the group is intact, so anything odd is a real inconsistency.
        if (f.generation > h.generation || f.writer_epoch > h.owner_epoch) {
            return error(errc::corrupt, "group newer than the WAL header" + at(position));
        }
        byte_span body(group.data(), f.data_length);
        size_t cursor = fmt::k_group_header_size;
        for (uint32_t i = 0; i < f.record_count; ++i) {
            auto rec = fmt::decode_record(body.subspan(cursor), position + cursor);
            if (!rec) {
                return error(errc::corrupt, "inconsistent group" + at(position) + ": " +
                                                rec.error_value().message);
            }
            if (rec->fields.position >= h.trim_position) {
                FLOE_TRY(visit(*rec));
            }
            cursor += rec->fields.length;
        }
        if (cursor != f.data_length) {
            return error(errc::corrupt, "group length does not match its records" + at(position));
        }
        out.groups.emplace_back(position, position + padded);
        previous_generation = f.generation;
        position += padded;
    }
    if (position < h.trim_position) {
        // Acknowledged data above the trim point is missing: bit rot or
        // tampering below the tail, not a crash (a crash only loses groups
        // that were never acknowledged).
        return error(errc::corrupt, "WAL ends (" + out.tail_reason + ")" + at(position) +
                                        ", below its trim position " +
                                        std::to_string(h.trim_position));
    }
    out.tail = position;
    return out;
}

result<wal_recovery> recover(wal_file& file) {
    wal_recovery out;
    auto scanned = scan_wal(file, [&](const fmt::record_view& v) {
        wal_record rec;
        rec.stream = v.fields.stream;
        rec.stream_epoch = v.fields.stream_epoch;
        rec.base_offset = v.fields.base_offset;
        rec.record_count = v.fields.record_count;
        rec.where = {v.fields.position, v.fields.length};
        rec.payload.assign(v.payload.begin(), v.payload.end());
        out.records.push_back(std::move(rec));
        return ok();
    });
    if (!scanned) {
        return scanned.error_value();
    }
    out.scan = std::move(*scanned);
    return out;
}

result<wal_record> read_wal_record(wal_file& file, uint64_t capacity, wal_position where) {
    if (where.length < fmt::k_record_header_size || where.length > capacity) {
        return error(errc::invalid_argument, "bad record length");
    }
    byte_vector bytes(where.length);
    FLOE_TRY(read_logical(file, capacity, where.position, bytes));
    auto v = fmt::decode_record(bytes, where.position);
    if (!v) {
        return v.error_value();
    }
    if (v->fields.length != where.length) {
        return error(errc::corrupt,
                     "record length differs from the requested one at WAL "
                     "position " +
                         std::to_string(where.position));
    }
    wal_record rec;
    rec.stream = v->fields.stream;
    rec.stream_epoch = v->fields.stream_epoch;
    rec.base_offset = v->fields.base_offset;
    rec.record_count = v->fields.record_count;
    rec.where = where;
    rec.payload.assign(v->payload.begin(), v->payload.end());
    return rec;
}

}  // namespace floe
