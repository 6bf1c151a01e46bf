#include "kafka/protocol/compression.h"

#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <memory>
#include <string>

namespace floe::kafka {
namespace {

error corrupt(std::string_view codec, std::string_view what) {
    return error(errc::corrupt, std::string(codec) + ": " + std::string(what));
}

error too_large(std::string_view codec, size_t max_output) {
    return error(errc::too_large, std::string(codec) + ": decompressed size exceeds the limit of " +
                                      std::to_string(max_output) + " bytes");
}

// Output buffer for incremental decoders: grows geometrically, never beyond
// max_output + 1 bytes (the extra byte is how an overrun is detected without
// a second pass).
class bounded_output {
public:
    explicit bounded_output(size_t max_output, size_t size_hint)
        : _max(max_output),
          _cap(max_output == std::numeric_limits<size_t>::max() ? max_output : max_output + 1) {
        _out.resize(std::min(_cap, std::max<size_t>(size_hint, 256)));
    }
    // Free space after the written bytes, growing the buffer if it is full.
    // Empty only when the overrun byte has already been written.
    std::span<uint8_t> space() {
        if (_used == _out.size() && _out.size() < _cap) {
            size_t grown = _out.size() > _cap / 2 ? _cap : _out.size() * 2;
            _out.resize(grown);
        }
        return std::span<uint8_t>(_out).subspan(_used);
    }
    void commit(size_t n) { _used += n; }
    bool overrun() const { return _used > _max; }
    size_t used() const { return _used; }
    byte_vector finish() && {
        _out.resize(_used);
        return std::move(_out);
    }

private:
    size_t _max;
    size_t _cap;
    size_t _used = 0;
    byte_vector _out;
};

// Initial output guess: a typical ratio, never large enough to matter.
size_t initial_hint(size_t input_size, size_t max_output) {
    size_t guess =
        input_size > (std::numeric_limits<size_t>::max() / 4) ? input_size : input_size * 4;
    return std::min({guess, max_output, size_t{1} << 20});
}

// ---- gzip -----------------------------------------------------------------

result<byte_vector> gzip_compress(byte_span input) {
    z_stream z{};
    // 15 window bits + 16: gzip wrapper; level 6 is Java's Deflater default.
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
        return error(errc::io, "gzip: deflateInit2 failed");
    }
    std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, deflateEnd);
    if (input.size() > std::numeric_limits<uInt>::max() / 2) {
        return error(errc::too_large, "gzip: input larger than 2 GiB");
    }
    byte_vector out(deflateBound(&z, static_cast<uLong>(input.size())) + 32);
    z.next_in = const_cast<Bytef*>(input.data());
    z.avail_in = static_cast<uInt>(input.size());
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
        return error(errc::io, "gzip: deflate did not finish");
    }
    out.resize(z.total_out);
    return out;
}

result<byte_vector> gzip_decompress(byte_span input, size_t max_output) {
    if (input.size() > std::numeric_limits<uInt>::max()) {
        return error(errc::too_large, "gzip: input larger than 4 GiB");
    }
    z_stream z{};
    if (inflateInit2(&z, 15 + 16) != Z_OK) {  // gzip wrapper only, as GZIPInputStream
        return error(errc::io, "gzip: inflateInit2 failed");
    }
    std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, inflateEnd);
    bounded_output out(max_output, initial_hint(input.size(), max_output));
    z.next_in = const_cast<Bytef*>(input.data());
    z.avail_in = static_cast<uInt>(input.size());
    for (;;) {
        std::span<uint8_t> space = out.space();
        if (space.empty()) {
            return too_large("gzip", max_output);
        }
        size_t chunk = std::min<size_t>(space.size(), std::numeric_limits<uInt>::max());
        z.next_out = space.data();
        z.avail_out = static_cast<uInt>(chunk);
        int rc = inflate(&z, Z_NO_FLUSH);
        out.commit(chunk - z.avail_out);
        if (out.overrun()) {
            return too_large("gzip", max_output);
        }
        if (rc == Z_STREAM_END) {
            if (z.avail_in == 0) {
                break;
            }
            // Another gzip member follows (GZIPInputStream reads them too).
            if (inflateReset(&z) != Z_OK) {
                return corrupt("gzip", "cannot reset for the next member");
            }
            continue;
        }
        if (rc == Z_BUF_ERROR && z.avail_in == 0) {
            return corrupt("gzip", "input truncated");
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            return corrupt("gzip", z.msg != nullptr ? z.msg : "inflate failed");
        }
    }
    return std::move(out).finish();
}

// ---- snappy ---------------------------------------------------------------

bool has_xerial_header(byte_span input) {
    return input.size() >= sizeof(xerial_snappy_magic) &&
           std::memcmp(input.data(), xerial_snappy_magic, sizeof(xerial_snappy_magic)) == 0;
}

// A snappy element of n bytes yields at most 64/3 n bytes (a 3-byte copy of
// 64 bytes is the densest), so a declared length beyond this is a lie.
constexpr size_t kSnappyMaxExpansion = 22;

// Decodes one raw snappy block, appending to `out`, which may hold at most
// max_output bytes in total.
status snappy_block(byte_span block, byte_vector& out, size_t max_output) {
    size_t length = 0;
    const char* data = reinterpret_cast<const char*>(block.data());
    if (!snappy::GetUncompressedLength(data, block.size(), &length)) {
        return corrupt("snappy", "bad block length header");
    }
    // The length is declared by the input: check it against the bound before
    // allocating, and let the decoder verify the data produce exactly it.
    if (length > max_output - out.size()) {
        return too_large("snappy", max_output);
    }
    if (length / kSnappyMaxExpansion > block.size()) {
        return corrupt("snappy", "declared length impossible for the block size");
    }
    size_t start = out.size();
    out.resize(start + length);
    if (!snappy::RawUncompress(data, block.size(), reinterpret_cast<char*>(out.data() + start))) {
        return corrupt("snappy", "invalid compressed block");
    }
    return {};
}

result<byte_vector> snappy_decompress(byte_span input, size_t max_output) {
    byte_vector out;
    if (!has_xerial_header(input)) {
        FLOE_TRY(snappy_block(input, out, max_output));
        return out;
    }
    byte_reader reader(input);
    if (input.size() < xerial_snappy_header_size) {
        return corrupt("snappy", "xerial header truncated");
    }
    reader.skip(sizeof(xerial_snappy_magic));
    // Version and minimum compatible version: snappy-java writes 1 and 1;
    // readers (snappy-java, librdkafka) do not reject other values.
    (void)reader.read_int32();
    (void)reader.read_int32();
    while (!reader.at_end()) {
        int32_t length = reader.read_int32();
        if (!reader.ok()) {
            return corrupt("snappy", "xerial chunk length truncated");
        }
        if (length < 0) {
            return corrupt("snappy", "negative xerial chunk length");
        }
        byte_span block = reader.read_span(static_cast<size_t>(length));
        if (!reader.ok()) {
            return corrupt("snappy", "xerial chunk truncated");
        }
        FLOE_TRY(snappy_block(block, out, max_output));
    }
    return out;
}

result<byte_vector> snappy_compress(byte_span input) {
    // Constructed from the magic rather than appended to an empty vector
    // (GCC 12 -Wstringop-overflow misfires on the latter).
    byte_vector out(std::begin(xerial_snappy_magic), std::end(xerial_snappy_magic));
    byte_writer writer(out);
    writer.write_int32(1);  // version
    writer.write_int32(1);  // minimum compatible version
    for (size_t pos = 0; pos < input.size(); pos += xerial_snappy_chunk_size) {
        size_t n = std::min(xerial_snappy_chunk_size, input.size() - pos);
        size_t length_at = out.size();
        writer.write_int32(0);
        out.resize(length_at + 4 + snappy::MaxCompressedLength(n));
        size_t written = 0;
        snappy::RawCompress(reinterpret_cast<const char*>(input.data() + pos), n,
                            reinterpret_cast<char*>(out.data() + length_at + 4), &written);
        out.resize(length_at + 4 + written);
        writer.patch_int32(length_at, static_cast<int32_t>(written));
    }
    return out;
}

// ---- lz4 ------------------------------------------------------------------

result<byte_vector> lz4_compress(byte_span input) {
    LZ4F_preferences_t prefs{};
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    prefs.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
    prefs.frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum;
    prefs.compressionLevel = 0;
    byte_vector out(LZ4F_compressFrameBound(input.size(), &prefs));
    size_t n = LZ4F_compressFrame(out.data(), out.size(), input.data(), input.size(), &prefs);
    if (LZ4F_isError(n)) {
        return error(errc::io, std::string("lz4: ") + LZ4F_getErrorName(n));
    }
    out.resize(n);
    return out;
}

// Decoder contexts are expensive to create (they allocate block and window
// buffers), so each thread keeps one per codec and resets it per call.
LZ4F_dctx* thread_lz4_dctx() {
    struct holder {
        LZ4F_dctx* dctx = nullptr;
        holder() {
            if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION))) {
                dctx = nullptr;
            }
        }
        ~holder() {
            if (dctx != nullptr) {
                LZ4F_freeDecompressionContext(dctx);
            }
        }
    };
    thread_local holder h;
    if (h.dctx != nullptr) {
        LZ4F_resetDecompressionContext(h.dctx);
    }
    return h.dctx;
}

result<byte_vector> lz4_decompress(byte_span input, size_t max_output) {
    LZ4F_dctx* dctx = thread_lz4_dctx();
    if (dctx == nullptr) {
        return error(errc::io, "lz4: cannot create a decompression context");
    }
    bounded_output out(max_output, initial_hint(input.size(), max_output));
    size_t pos = 0;
    size_t hint = 1;  // non-zero while a frame is in progress
    if (input.empty()) {
        return corrupt("lz4", "empty input");
    }
    while (pos < input.size() || hint != 0) {
        std::span<uint8_t> space = out.space();
        if (space.empty()) {
            return too_large("lz4", max_output);
        }
        size_t dst_size = space.size();
        size_t src_size = input.size() - pos;
        hint =
            LZ4F_decompress(dctx, space.data(), &dst_size, input.data() + pos, &src_size, nullptr);
        if (LZ4F_isError(hint)) {
            return corrupt("lz4", LZ4F_getErrorName(hint));
        }
        pos += src_size;
        out.commit(dst_size);
        if (out.overrun()) {
            return too_large("lz4", max_output);
        }
        if (hint != 0 && dst_size == 0 && src_size == 0) {
            return corrupt("lz4", "input truncated");
        }
    }
    return std::move(out).finish();
}

// ---- zstd -----------------------------------------------------------------

result<byte_vector> zstd_compress(byte_span input) {
    byte_vector out(ZSTD_compressBound(input.size()));
    size_t n =
        ZSTD_compress(out.data(), out.size(), input.data(), input.size(), ZSTD_CLEVEL_DEFAULT);
    if (ZSTD_isError(n)) {
        return error(errc::io, std::string("zstd: ") + ZSTD_getErrorName(n));
    }
    out.resize(n);
    return out;
}

int zstd_window_log_max(size_t max_output) {
    int log = max_output <= 1 ? 0 : static_cast<int>(std::bit_width(max_output - 1));
    return std::clamp(log, 23, 27);
}

ZSTD_DCtx* thread_zstd_dctx() {
    thread_local std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(),
                                                                         ZSTD_freeDCtx);
    if (dctx) {
        ZSTD_DCtx_reset(dctx.get(), ZSTD_reset_session_and_parameters);
    }
    return dctx.get();
}

result<byte_vector> zstd_decompress(byte_span input, size_t max_output) {
    ZSTD_DCtx* dctx = thread_zstd_dctx();
    if (dctx == nullptr) {
        return error(errc::io, "zstd: cannot create a decompression context");
    }
    if (ZSTD_isError(
            ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, zstd_window_log_max(max_output)))) {
        return error(errc::io, "zstd: cannot set the window limit");
    }
    if (input.empty()) {
        return corrupt("zstd", "empty input");
    }
    bounded_output out(max_output, initial_hint(input.size(), max_output));
    ZSTD_inBuffer in{input.data(), input.size(), 0};
    size_t hint = 1;
    while (in.pos < in.size || hint != 0) {
        std::span<uint8_t> space = out.space();
        if (space.empty()) {
            return too_large("zstd", max_output);
        }
        ZSTD_outBuffer dst{space.data(), space.size(), 0};
        size_t before = in.pos;
        hint = ZSTD_decompressStream(dctx, &dst, &in);
        if (ZSTD_isError(hint)) {
            return corrupt("zstd", ZSTD_getErrorName(hint));
        }
        out.commit(dst.pos);
        if (out.overrun()) {
            return too_large("zstd", max_output);
        }
        // All input consumed, output not full, yet the frame is not finished.
        if (hint != 0 && in.pos == in.size && dst.pos < dst.size) {
            return corrupt("zstd", "input truncated");
        }
        if (hint != 0 && in.pos == before && dst.pos == 0) {
            return corrupt("zstd", "decoder made no progress");
        }
    }
    return std::move(out).finish();
}

}  // namespace

std::string_view codec_name(compression_codec codec) {
    switch (codec) {
        case compression_codec::none:
            return "none";
        case compression_codec::gzip:
            return "gzip";
        case compression_codec::snappy:
            return "snappy";
        case compression_codec::lz4:
            return "lz4";
        case compression_codec::zstd:
            return "zstd";
    }
    return "unknown";
}

std::optional<compression_codec> codec_from_attributes(int16_t attributes) {
    int bits = attributes & 0x7;
    if (bits > static_cast<int>(compression_codec::zstd)) {
        return std::nullopt;
    }
    return static_cast<compression_codec>(bits);
}

result<byte_vector> compress(compression_codec codec, byte_span input) {
    switch (codec) {
        case compression_codec::none:
            return byte_vector(input.begin(), input.end());
        case compression_codec::gzip:
            return gzip_compress(input);
        case compression_codec::snappy:
            return snappy_compress(input);
        case compression_codec::lz4:
            return lz4_compress(input);
        case compression_codec::zstd:
            return zstd_compress(input);
    }
    return error(errc::unsupported,
                 "unknown compression codec " + std::to_string(static_cast<int>(codec)));
}

result<byte_vector> decompress(compression_codec codec, byte_span input, size_t max_output) {
    switch (codec) {
        case compression_codec::none:
            if (input.size() > max_output) {
                return too_large("none", max_output);
            }
            return byte_vector(input.begin(), input.end());
        case compression_codec::gzip:
            return gzip_decompress(input, max_output);
        case compression_codec::snappy:
            return snappy_decompress(input, max_output);
        case compression_codec::lz4:
            return lz4_decompress(input, max_output);
        case compression_codec::zstd:
            return zstd_decompress(input, max_output);
    }
    return error(errc::unsupported,
                 "unknown compression codec " + std::to_string(static_cast<int>(codec)));
}

}  // namespace floe::kafka
