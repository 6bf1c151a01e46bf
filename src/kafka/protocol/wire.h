// Primitive encodings of the Kafka protocol, shared by the generated codecs in
// src/kafka/protocol/generated/ (see tools/kafka_codegen/README.md).
//
// Wire forms (https://kafka.apache.org/protocol.html#protocol_types):
//   non-flexible  string: int16 length, -1 = null;  bytes/array: int32 length, -1 = null
//   flexible      string/bytes/array: unsigned varint (length + 1), 0 = null
//   tagged fields (flexible only): uvarint count, then per field uvarint tag,
//                 uvarint size, `size` bytes; tags strictly ascending.
//
// Decoding contract: every read_* records the first problem on the reader
// (errc::truncated when the input ends early or a declared length exceeds the
// remaining bytes, errc::corrupt for a malformed value such as a null where the
// version does not allow one) and leaves the output empty. A declared length is
// checked against the remaining input before anything is allocated, so a hostile
// length can never make a decoder allocate more than the input's size.
//
// Encoding contract: writers trust their input. A null written where the
// version does not allow one is written as the empty value; a string longer
// than 32767 bytes in a non-flexible version, or a length beyond INT32_MAX,
// is a caller bug and aborts.
//
// Threading: free functions over caller-owned readers and writers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "kafka/protocol/types.h"

namespace floe::kafka::wire {

// --- decoding ---------------------------------------------------------------

// Fails the reader with errc::unsupported when `version` is outside [min, max].
bool check_version(byte_reader& reader, std::string_view message, int16_t version,
                   int16_t min_version, int16_t max_version);

void read_string(byte_reader& reader, std::string& out, bool flexible);
// A null leaves `out` empty (nullopt); a null when !nullable is errc::corrupt.
void read_string(byte_reader& reader, std::optional<std::string>& out, bool flexible,
                 bool nullable);
void read_bytes(byte_reader& reader, byte_vector& out, bool flexible);
void read_bytes(byte_reader& reader, std::optional<byte_vector>& out, bool flexible, bool nullable);
void read_uuid(byte_reader& reader, uuid& out);

// Element count of an array, or -1 for null (allowed only when `nullable`).
// Fails (and returns -1) when the count exceeds the remaining bytes.
int64_t read_array_length(byte_reader& reader, bool flexible, bool nullable);

// Number of tagged fields that follow (at most the remaining bytes / 2).
uint32_t read_tag_count(byte_reader& reader);
// Reads one tagged field's header and borrows its payload. `previous_tag` is
// the last tag seen in this section (-1 initially); a tag not strictly greater
// fails with errc::corrupt. Returns false once the reader has failed.
bool read_tag(byte_reader& reader, int64_t& previous_tag, uint32_t& tag, byte_span& data);
// After a known tagged field was decoded from `field` (a reader over exactly its
// payload): propagates its error to `reader`, and fails with errc::corrupt when
// the field did not consume the whole payload.
void finish_tagged_field(byte_reader& reader, const byte_reader& field, uint32_t tag);

// Reads a tagged-field section into `unknown` (for structs without known
// tagged fields at the decoded version), with the checks of read_tag().
void read_unknown_tagged_fields(byte_reader& reader, std::vector<tagged_field>& unknown);
// Appends an unknown tagged field, copying its payload.
void keep_unknown_tagged_field(std::vector<tagged_field>& unknown, uint32_t tag, byte_span data);

// --- encoding ---------------------------------------------------------------

void write_string(byte_writer& writer, std::string_view value, bool flexible);
void write_string(byte_writer& writer, const std::optional<std::string>& value, bool flexible,
                  bool nullable);
void write_bytes(byte_writer& writer, byte_span value, bool flexible);
void write_bytes(byte_writer& writer, const std::optional<byte_vector>& value, bool flexible,
                 bool nullable);
void write_uuid(byte_writer& writer, const uuid& value);

void write_array_length(byte_writer& writer, size_t count, bool flexible);
// Writes a null array, or an empty one when the version does not allow null.
void write_null_array(byte_writer& writer, bool flexible, bool nullable);

// Writes one tagged field: tag, payload size, payload.
void write_tagged_field(byte_writer& writer, uint32_t tag, byte_span data);
// Writes the entries of `unknown` from index `next` onwards whose tag is below
// `limit`, advancing `next`. Used to merge preserved unknown tags (kept in
// ascending order by decode) with known tags in ascending order.
void write_unknown_tags_before(byte_writer& writer, const std::vector<tagged_field>& unknown,
                               size_t& next, uint64_t limit);
// Writes a tagged-field section holding only `unknown` (for structs without
// known tagged fields at the encoded version).
void write_unknown_tagged_fields(byte_writer& writer, const std::vector<tagged_field>& unknown);
// Aborts when `version` is outside [min, max]: encoding at an unsupported
// version is a caller bug.
void require_version(std::string_view message, int16_t version, int16_t min_version,
                     int16_t max_version);

}  // namespace floe::kafka::wire
