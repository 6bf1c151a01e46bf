#include "stream/object.h"

#include <algorithm>
#include <string>

#include "base/crc32c.h"

namespace floe::stream {

namespace layout = object_layout;

namespace {

std::string where(object_id id, uint64_t position) {
    return "object " + std::to_string(id.value()) + " at byte " + std::to_string(position);
}

uint64_t read_u64_at(byte_span bytes, size_t at) {
    byte_reader reader(bytes.subspan(at, 8));
    return reader.read_uint64();
}
uint32_t read_u32_at(byte_span bytes, size_t at) {
    byte_reader reader(bytes.subspan(at, 4));
    return reader.read_uint32();
}

}  // namespace

object_builder::object_builder(object_id id, size_t block_size)
    : _id(id), _block_size(block_size) {}

status object_builder::add(stream_id stream, const entry& e) {
    if (e.record_count < 1) {
        return error(errc::invalid_argument,
                     "entry record count " + std::to_string(e.record_count) + " < 1");
    }
    if (e.payload.size() > UINT32_MAX) {
        return error(errc::invalid_argument, "entry payload larger than 4 GiB");
    }
    if (_last_stream) {
        if (stream < *_last_stream) {
            return error(errc::invalid_argument, "stream " + std::to_string(stream.value()) +
                                                     " added after stream " +
                                                     std::to_string(_last_stream->value()));
        }
        if (stream == *_last_stream && e.base_offset != _last_end) {
            return error(errc::invalid_argument,
                         "stream " + std::to_string(stream.value()) + " entry at offset " +
                             std::to_string(e.base_offset.value()) + " does not follow offset " +
                             std::to_string(_last_end.value()));
        }
    }
    bool new_stream = !_last_stream || stream != *_last_stream;
    if (_open_entries > 0 && (new_stream || _data.size() - _open_start >= _block_size)) {
        close_block();
    }
    if (_open_entries == 0) {
        _open = block_index{};
        _open.stream = stream;
        _open.start_offset = e.base_offset;
        _open.min_timestamp = e.max_timestamp;
        _open.max_timestamp = e.max_timestamp;
        _open_start = _data.size();
    }
    basic_byte_writer<page_aligned_bytes> writer(_data);
    writer.write_int64(e.base_offset.value());
    writer.write_int32(e.record_count);
    writer.write_uint32(static_cast<uint32_t>(e.payload.size()));
    writer.write_int64(e.max_timestamp);
    writer.write_bytes(e.payload);
    _open.end_offset = e.end_offset();
    _open.min_timestamp = std::min(_open.min_timestamp, e.max_timestamp);
    _open.max_timestamp = std::max(_open.max_timestamp, e.max_timestamp);
    ++_open_entries;
    _last_stream = stream;
    _last_end = e.end_offset();
    return {};
}

void object_builder::reserve(size_t entries, size_t payload_bytes) {
    // A block holds at least one entry, so the index has at most `entries`
    // rows.
    _data.reserve(_data.size() + payload_bytes +
                  entries * (layout::kEntryHeaderSize + layout::kIndexEntrySize) +
                  layout::kFooterSize);
}

void object_builder::adopt_buffer(page_aligned_bytes buffer) {
    if (!empty()) {
        abort_with("object_builder::adopt_buffer on a builder holding entries");
    }
    _data = std::move(buffer);
    _data.clear();
}

void object_builder::close_block() {
    _open.position = _open_start;
    _open.size = static_cast<uint32_t>(_data.size() - _open_start);
    _open.crc = crc32c_extend(0, _data.data() + _open_start, _open.size);
    _open.entry_count = _open_entries;
    _blocks.push_back(_open);
    _open_entries = 0;
}

page_aligned_bytes object_builder::finish() {
    if (_open_entries > 0) {
        close_block();
    }
    page_aligned_bytes out = std::move(_data);
    basic_byte_writer<page_aligned_bytes> writer(out);
    uint64_t index_position = out.size();
    for (const block_index& b : _blocks) {
        writer.write_uint64(b.stream.value());
        writer.write_int64(b.start_offset.value());
        writer.write_int64(b.end_offset.value());
        writer.write_uint64(b.position);
        writer.write_uint32(b.size);
        writer.write_uint32(b.crc);
        writer.write_int64(b.min_timestamp);
        writer.write_int64(b.max_timestamp);
        writer.write_uint32(b.entry_count);
        writer.write_uint32(0);
    }
    uint64_t index_length = out.size() - index_position;
    uint32_t index_crc = crc32c_extend(0, out.data() + index_position, index_length);
    size_t footer_start = out.size();
    writer.write_uint64(index_position);
    writer.write_uint64(index_length);
    writer.write_uint32(index_crc);
    writer.write_uint32(static_cast<uint32_t>(_blocks.size()));
    writer.write_uint64(_id.value());
    writer.write_uint16(layout::kObjectFormatVersion);
    writer.write_uint16(0);
    writer.write_uint32(crc32c_extend(0, out.data() + footer_start, layout::kFooterCrc));
    writer.write_uint64(layout::kMagic);
    _data.clear();
    _blocks.clear();
    _last_stream.reset();
    return out;
}

result<object_footer> parse_footer(byte_span tail, uint64_t object_size) {
    if (tail.size() != layout::kFooterSize || object_size < layout::kFooterSize) {
        return error(errc::corrupt, "object of " + std::to_string(object_size) +
                                        " bytes is too small to hold a footer");
    }
    uint64_t footer_position = object_size - layout::kFooterSize;
    uint64_t magic = read_u64_at(tail, layout::kFooterMagic);
    object_id id(read_u64_at(tail, layout::kFooterObjectId));
    if (magic != layout::kMagic) {
        return error(errc::corrupt, "not a Floe object: bad footer magic at byte " +
                                        std::to_string(footer_position + layout::kFooterMagic));
    }
    uint32_t footer_crc = read_u32_at(tail, layout::kFooterCrc);
    if (footer_crc != crc32c_extend(0, tail.data(), layout::kFooterCrc)) {
        return error(errc::corrupt, "footer checksum mismatch in " + where(id, footer_position));
    }
    byte_reader version_reader(tail.subspan(layout::kFooterVersion, 2));
    uint16_t version = version_reader.read_uint16();
    if (version != layout::kObjectFormatVersion) {
        return error(errc::unsupported, "object " + std::to_string(id.value()) +
                                            " has format version " + std::to_string(version) +
                                            ", this build reads version " +
                                            std::to_string(layout::kObjectFormatVersion));
    }
    object_footer footer;
    footer.id = id;
    footer.index_position = read_u64_at(tail, layout::kFooterIndexPosition);
    footer.index_length = read_u64_at(tail, layout::kFooterIndexLength);
    footer.index_crc = read_u32_at(tail, layout::kFooterIndexCrc);
    footer.block_count = read_u32_at(tail, layout::kFooterBlockCount);
    if (footer.index_position > footer_position ||
        footer.index_length != footer_position - footer.index_position ||
        footer.index_length != uint64_t{footer.block_count} * layout::kIndexEntrySize) {
        return error(errc::corrupt, "index bounds inconsistent with the object size in " +
                                        where(id, footer_position));
    }
    return footer;
}

result<std::vector<block_index>> parse_index(byte_span index, const object_footer& footer) {
    if (index.size() != footer.index_length) {
        return error(errc::corrupt, "index of " + std::to_string(index.size()) +
                                        " bytes, footer says " +
                                        std::to_string(footer.index_length) + " in " +
                                        where(footer.id, footer.index_position));
    }
    if (crc32c(index) != footer.index_crc) {
        return error(errc::corrupt,
                     "index checksum mismatch in " + where(footer.id, footer.index_position));
    }
    std::vector<block_index> blocks;
    blocks.reserve(footer.block_count);
    byte_reader reader(index);
    uint64_t expected_position = 0;
    for (uint32_t i = 0; i < footer.block_count; ++i) {
        uint64_t entry_position = footer.index_position + uint64_t{i} * layout::kIndexEntrySize;
        block_index b;
        b.stream = stream_id(reader.read_uint64());
        b.start_offset = offset(reader.read_int64());
        b.end_offset = offset(reader.read_int64());
        b.position = reader.read_uint64();
        b.size = reader.read_uint32();
        b.crc = reader.read_uint32();
        b.min_timestamp = reader.read_int64();
        b.max_timestamp = reader.read_int64();
        b.entry_count = reader.read_uint32();
        reader.skip(4);
        if (b.position != expected_position || b.end_offset <= b.start_offset ||
            b.entry_count == 0 || b.size < b.entry_count * layout::kEntryHeaderSize) {
            return error(errc::corrupt, "index entry " + std::to_string(i) +
                                            " is inconsistent in " +
                                            where(footer.id, entry_position));
        }
        if (!blocks.empty()) {
            const block_index& prev = blocks.back();
            if (b.stream < prev.stream ||
                (b.stream == prev.stream && b.start_offset != prev.end_offset)) {
                return error(errc::corrupt, "index entry " + std::to_string(i) +
                                                " is out of order in " +
                                                where(footer.id, entry_position));
            }
        }
        expected_position += b.size;
        blocks.push_back(b);
    }
    if (expected_position != footer.index_position) {
        return error(errc::corrupt, "data blocks end at byte " + std::to_string(expected_position) +
                                        " but the index starts at " +
                                        where(footer.id, footer.index_position));
    }
    return blocks;
}

result<std::vector<stored_entry>> parse_block(byte_span block, const block_index& index,
                                              object_id id) {
    if (block.size() != index.size) {
        return error(errc::corrupt, "block of " + std::to_string(block.size()) +
                                        " bytes, index says " + std::to_string(index.size) +
                                        " in " + where(id, index.position));
    }
    if (crc32c(block) != index.crc) {
        return error(errc::corrupt, "block checksum mismatch in " + where(id, index.position));
    }
    std::vector<stored_entry> entries;
    entries.reserve(index.entry_count);
    byte_reader reader(block);
    offset next = index.start_offset;
    for (uint32_t i = 0; i < index.entry_count; ++i) {
        uint64_t entry_position = index.position + reader.position();
        stored_entry e;
        e.base_offset = offset(reader.read_int64());
        e.record_count = reader.read_int32();
        uint32_t length = reader.read_uint32();
        e.max_timestamp = reader.read_int64();
        e.payload = reader.read_span(length);
        if (!reader.ok() || e.record_count < 1 || e.base_offset != next ||
            e.end_offset() > index.end_offset) {
            return error(errc::corrupt, "entry " + std::to_string(i) + " of stream " +
                                            std::to_string(index.stream.value()) +
                                            " is inconsistent in " + where(id, entry_position));
        }
        next = e.end_offset();
        entries.push_back(e);
    }
    if (!reader.at_end() || next != index.end_offset) {
        return error(errc::corrupt, "block entries do not cover offsets [" +
                                        std::to_string(index.start_offset.value()) + ", " +
                                        std::to_string(index.end_offset.value()) + ") in " +
                                        where(id, index.position));
    }
    return entries;
}

result<object_view> parse_object(byte_span object) {
    if (object.size() < layout::kFooterSize) {
        return error(errc::corrupt, "object of " + std::to_string(object.size()) +
                                        " bytes is too small to hold a footer");
    }
    auto footer = parse_footer(object.last(layout::kFooterSize), object.size());
    if (!footer) {
        return footer.error_value();
    }
    auto blocks =
        parse_index(object.subspan(footer->index_position, footer->index_length), *footer);
    if (!blocks) {
        return blocks.error_value();
    }
    return object_view{*footer, std::move(blocks).value()};
}

std::vector<block_index>::const_iterator find_block(const std::vector<block_index>& blocks,
                                                    stream_id stream, offset target) {
    auto it = std::partition_point(blocks.begin(), blocks.end(), [&](const block_index& b) {
        return b.stream < stream || (b.stream == stream && b.end_offset <= target);
    });
    if (it == blocks.end() || it->stream != stream) {
        return blocks.end();
    }
    return it;
}

}  // namespace floe::stream
