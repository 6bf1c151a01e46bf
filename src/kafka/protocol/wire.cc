#include "kafka/protocol/wire.h"

#include <limits>

namespace floe::kafka::wire {
namespace {

constexpr int64_t null_length = -1;

// Reads a length prefix: -1 for null, otherwise a length that fits in the
// remaining input. `wide` selects int32 (bytes, arrays) over int16 (strings)
// in non-flexible versions. On failure the reader has an error and -1 returns.
int64_t read_length(byte_reader& reader, bool flexible, bool wide, bool nullable,
                    std::string_view what) {
    int64_t length = 0;
    if (flexible) {
        length = static_cast<int64_t>(reader.read_uvarint32()) - 1;
    } else if (wide) {
        length = reader.read_int32();
    } else {
        length = reader.read_int16();
    }
    if (!reader.ok()) {
        return null_length;
    }
    if (length < null_length) {
        reader.fail(errc::corrupt, "negative " + std::string(what) + " length " +
                                       std::to_string(length) + " before offset " +
                                       std::to_string(reader.position()));
        return null_length;
    }
    if (length == null_length) {
        if (!nullable) {
            reader.fail(errc::corrupt, "null " + std::string(what) + " before offset " +
                                           std::to_string(reader.position()) +
                                           " where the version does not allow one");
        }
        return null_length;
    }
    if (static_cast<uint64_t>(length) > reader.remaining()) {
        reader.fail(errc::truncated, std::string(what) + " length " + std::to_string(length) +
                                         " exceeds the " + std::to_string(reader.remaining()) +
                                         " remaining bytes");
        return null_length;
    }
    return length;
}

void write_length(byte_writer& writer, size_t length, bool flexible, bool wide) {
    if (flexible) {
        writer.write_uvarint(static_cast<uint64_t>(length) + 1);
        return;
    }
    if (wide) {
        if (length > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
            abort_with("kafka wire: length exceeds INT32_MAX");
        }
        writer.write_int32(static_cast<int32_t>(length));
        return;
    }
    if (length > static_cast<size_t>(std::numeric_limits<int16_t>::max())) {
        abort_with("kafka wire: string longer than 32767 bytes in a non-flexible version");
    }
    writer.write_int16(static_cast<int16_t>(length));
}

void write_null(byte_writer& writer, bool flexible, bool wide) {
    if (flexible) {
        writer.write_uvarint(0);
    } else if (wide) {
        writer.write_int32(-1);
    } else {
        writer.write_int16(-1);
    }
}

}  // namespace

bool check_version(byte_reader& reader, std::string_view message, int16_t version,
                   int16_t min_version, int16_t max_version) {
    if (version < min_version || version > max_version) {
        reader.fail(errc::unsupported,
                    std::string(message) + " version " + std::to_string(version) + " is outside " +
                        std::to_string(min_version) + ".." + std::to_string(max_version));
        return false;
    }
    return true;
}

void read_string(byte_reader& reader, std::string& out, bool flexible) {
    int64_t length = read_length(reader, flexible, false, false, "string");
    out.clear();
    if (length > 0) {
        byte_span data = reader.read_span(static_cast<size_t>(length));
        out.assign(data.begin(), data.end());
    }
}

void read_string(byte_reader& reader, std::optional<std::string>& out, bool flexible,
                 bool nullable) {
    int64_t length = read_length(reader, flexible, false, nullable, "string");
    if (length < 0) {
        out.reset();
        return;
    }
    byte_span data = reader.read_span(static_cast<size_t>(length));
    out.emplace(data.begin(), data.end());
}

void read_bytes(byte_reader& reader, byte_vector& out, bool flexible) {
    int64_t length = read_length(reader, flexible, true, false, "bytes");
    out.clear();
    if (length > 0) {
        byte_span data = reader.read_span(static_cast<size_t>(length));
        out.assign(data.begin(), data.end());
    }
}

void read_bytes(byte_reader& reader, std::optional<byte_vector>& out, bool flexible,
                bool nullable) {
    int64_t length = read_length(reader, flexible, true, nullable, "bytes");
    if (length < 0) {
        out.reset();
        return;
    }
    byte_span data = reader.read_span(static_cast<size_t>(length));
    out.emplace(data.begin(), data.end());
}

void read_uuid(byte_reader& reader, uuid& out) {
    byte_span data = reader.read_span(out.bytes.size());
    if (data.size() == out.bytes.size()) {
        std::memcpy(out.bytes.data(), data.data(), data.size());
    } else {
        out = uuid{};
    }
}

int64_t read_array_length(byte_reader& reader, bool flexible, bool nullable) {
    return read_length(reader, flexible, true, nullable, "array");
}

uint32_t read_tag_count(byte_reader& reader) {
    uint32_t count = reader.read_uvarint32();
    // Each tagged field takes at least two bytes (tag and size).
    if (reader.ok() && count > reader.remaining() / 2) {
        reader.fail(errc::truncated, "tagged field count " + std::to_string(count) +
                                         " exceeds the remaining " +
                                         std::to_string(reader.remaining()) + " bytes");
        return 0;
    }
    return count;
}

bool read_tag(byte_reader& reader, int64_t& previous_tag, uint32_t& tag, byte_span& data) {
    tag = reader.read_uvarint32();
    uint32_t size = reader.read_uvarint32();
    if (!reader.ok()) {
        return false;
    }
    if (static_cast<int64_t>(tag) <= previous_tag) {
        reader.fail(errc::corrupt, "tagged field " + std::to_string(tag) + " follows tag " +
                                       std::to_string(previous_tag) +
                                       "; tags must be strictly ascending");
        return false;
    }
    previous_tag = tag;
    data = reader.read_span(size);
    return reader.ok();
}

void finish_tagged_field(byte_reader& reader, const byte_reader& field, uint32_t tag) {
    if (!field.ok()) {
        reader.fail(errc::corrupt,
                    "tagged field " + std::to_string(tag) + ": " + field.failure().message);
    } else if (!field.at_end()) {
        reader.fail(errc::corrupt, "tagged field " + std::to_string(tag) + " has " +
                                       std::to_string(field.remaining()) +
                                       " bytes beyond its value");
    }
}

void read_unknown_tagged_fields(byte_reader& reader, std::vector<tagged_field>& unknown) {
    const uint32_t count = read_tag_count(reader);
    int64_t previous_tag = -1;
    for (uint32_t i = 0; i < count; ++i) {
        uint32_t tag = 0;
        byte_span data;
        if (!read_tag(reader, previous_tag, tag, data)) {
            return;
        }
        keep_unknown_tagged_field(unknown, tag, data);
    }
}

void keep_unknown_tagged_field(std::vector<tagged_field>& unknown, uint32_t tag, byte_span data) {
    unknown.push_back(tagged_field{tag, byte_vector(data.begin(), data.end())});
}

void write_string(byte_writer& writer, std::string_view value, bool flexible) {
    write_length(writer, value.size(), flexible, false);
    writer.write_bytes(value);
}

void write_string(byte_writer& writer, const std::optional<std::string>& value, bool flexible,
                  bool nullable) {
    if (value) {
        write_string(writer, std::string_view(*value), flexible);
    } else if (nullable) {
        write_null(writer, flexible, false);
    } else {
        write_length(writer, 0, flexible, false);
    }
}

void write_bytes(byte_writer& writer, byte_span value, bool flexible) {
    write_length(writer, value.size(), flexible, true);
    writer.write_bytes(value);
}

void write_bytes(byte_writer& writer, const std::optional<byte_vector>& value, bool flexible,
                 bool nullable) {
    if (value) {
        write_bytes(writer, byte_span(*value), flexible);
    } else if (nullable) {
        write_null(writer, flexible, true);
    } else {
        write_length(writer, 0, flexible, true);
    }
}

void write_uuid(byte_writer& writer, const uuid& value) {
    writer.write_bytes(byte_span(value.bytes));
}

void write_array_length(byte_writer& writer, size_t count, bool flexible) {
    write_length(writer, count, flexible, true);
}

void write_null_array(byte_writer& writer, bool flexible, bool nullable) {
    if (nullable) {
        write_null(writer, flexible, true);
    } else {
        write_length(writer, 0, flexible, true);
    }
}

void write_tagged_field(byte_writer& writer, uint32_t tag, byte_span data) {
    writer.write_uvarint(tag);
    writer.write_uvarint(data.size());
    writer.write_bytes(data);
}

void write_unknown_tags_before(byte_writer& writer, const std::vector<tagged_field>& unknown,
                               size_t& next, uint64_t limit) {
    while (next < unknown.size() && unknown[next].tag < limit) {
        write_tagged_field(writer, unknown[next].tag, byte_span(unknown[next].data));
        ++next;
    }
}

void write_unknown_tagged_fields(byte_writer& writer, const std::vector<tagged_field>& unknown) {
    writer.write_uvarint(unknown.size());
    for (const tagged_field& field : unknown) {
        write_tagged_field(writer, field.tag, byte_span(field.data));
    }
}

void require_version(std::string_view message, int16_t version, int16_t min_version,
                     int16_t max_version) {
    if (version < min_version || version > max_version) {
        abort_with("encoding " + std::string(message) + " at version " + std::to_string(version) +
                   ", outside " + std::to_string(min_version) + ".." + std::to_string(max_version));
    }
}

}  // namespace floe::kafka::wire
