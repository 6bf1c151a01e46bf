// Kafka record-batch compression codecs: gzip, snappy, lz4, zstd.
//
// Contract:
// - compress() emits what Kafka's Java producer and brokers emit, so every
//   Kafka client can read it: gzip members (zlib), xerial-framed snappy
//   (32 KiB chunks), LZ4 frames (64 KiB independent blocks, no checksums
//   beyond the header's, as Kafka's KafkaLZ4BlockOutputStream), zstd frames.
// - decompress() never produces, and never allocates for output, more than
//   `max_output` bytes: it decodes incrementally and returns errc::too_large
//   as soon as the output would exceed the bound. Sizes declared inside the
//   input are never trusted for allocation beyond that bound. Corrupt or
//   truncated input is errc::corrupt; an unknown codec is errc::unsupported.
// - Concatenated gzip members / lz4 frames / zstd frames are decoded as one
//   stream (each codec's own streaming readers do the same).
// - snappy input may be raw snappy or xerial-framed (magic "\x82SNAPPY\0",
//   two big-endian int32 versions, then [int32 length, raw snappy block]*).
// - zstd decoding accepts windows up to 2^max(23, ceil(log2(max_output)))
//   bytes (capped at zstd's default limit of 2^27), so decoder memory stays
//   bounded while frames from streaming compressors at any level up to 19 work.
//
// Threading: callable from any thread. Each thread caches one lz4 and one
// zstd decoder context (reset per call); a zstd context may keep its last
// window buffer (at most the window limit above) until reused or shrunk.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"

namespace floe::kafka {

// Values are Kafka's record batch attribute bits 0-2.
enum class compression_codec : uint8_t { none = 0, gzip = 1, snappy = 2, lz4 = 3, zstd = 4 };

std::string_view codec_name(compression_codec codec);
// Maps attribute bits 0-2 to a codec; nullopt for 5, 6, 7.
std::optional<compression_codec> codec_from_attributes(int16_t attributes);

result<byte_vector> compress(compression_codec codec, byte_span input);
result<byte_vector> decompress(compression_codec codec, byte_span input, size_t max_output);

// The xerial snappy stream header: magic, version 1, minimum compatible version 1.
inline constexpr uint8_t xerial_snappy_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
inline constexpr size_t xerial_snappy_header_size = 16;
// Uncompressed bytes per xerial chunk (snappy-java's default block size).
inline constexpr size_t xerial_snappy_chunk_size = 32 * 1024;

}  // namespace floe::kafka
