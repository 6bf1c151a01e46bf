#include "kafka/broker/handlers/fetch_encoding.h"

#include "base/result.h"

namespace floe::kafka {

namespace {

constexpr int16_t k_first_flexible = 12;

// Collects framing bytes and record segments in order.
class segments {
public:
    byte_vector& framing() { return _framing; }
    void add(const shared_buffer& buffer) {
        flush();
        _out.push_back(buffer);
    }
    std::vector<shared_buffer> take() {
        flush();
        return std::move(_out);
    }

private:
    void flush() {
        if (!_framing.empty()) {
            _out.push_back(shared_buffer::adopt(std::move(_framing)));
            _framing = byte_vector();
        }
    }
    byte_vector _framing;
    std::vector<shared_buffer> _out;
};

// Appends `message` encoded with its last list (or bytes) empty, minus the
// empty list's count and, for flexible versions, minus the empty tagged
// section after it.
template <typename Message>
void encode_head(const Message& message, int16_t version, byte_vector& out) {
    size_t before = out.size();
    byte_writer w(out);
    message.encode(w, version);
    const bool flexible = version >= k_first_flexible;
    // Non-flexible: an int32 0 count/length at the end. Flexible: a uvarint
    // 1 (count 0 + 1) and then the tagged section, which must be empty.
    const size_t tail = flexible ? 2 : 4;
    if (out.size() - before < tail) {
        abort_with("fetch encoding: message shorter than its own empty list");
    }
    if (flexible) {
        if (out[out.size() - 2] != 0x01 || out[out.size() - 1] != 0x00) {
            abort_with("fetch encoding: unexpected tagged fields after a list");
        }
    } else {
        for (size_t i = out.size() - 4; i < out.size(); ++i) {
            if (out[i] != 0) {
                abort_with("fetch encoding: unexpected trailing bytes after a list");
            }
        }
    }
    out.resize(out.size() - tail);
}

void write_count(byte_vector& out, size_t count, int16_t version) {
    byte_writer w(out);
    if (version >= k_first_flexible) {
        w.write_uvarint(count + 1);
    } else {
        w.write_int32(static_cast<int32_t>(count));
    }
}

void write_tagged_end(byte_vector& out, int16_t version) {
    if (version >= k_first_flexible) {
        out.push_back(0x00);
    }
}

}  // namespace

response encode_fetch_response(const fetch_response& skeleton,
                               const std::vector<std::vector<std::vector<shared_buffer>>>& records,
                               int16_t version) {
    segments out;
    fetch_response top = skeleton;
    top.responses.clear();
    encode_head(top, version, out.framing());
    write_count(out.framing(), skeleton.responses.size(), version);
    for (size_t t = 0; t < skeleton.responses.size(); ++t) {
        fetch_response::fetchable_topic_response topic = skeleton.responses[t];
        topic.partitions.clear();
        encode_head(topic, version, out.framing());
        write_count(out.framing(), skeleton.responses[t].partitions.size(), version);
        for (size_t p = 0; p < skeleton.responses[t].partitions.size(); ++p) {
            const auto& partition = skeleton.responses[t].partitions[p];
            if (!partition.records || !partition.records->empty()) {
                abort_with("fetch encoding: skeleton records must be empty, not null");
            }
            encode_head(partition, version, out.framing());
            size_t bytes = 0;
            for (const auto& s : records[t][p]) {
                bytes += s.size();
            }
            write_count(out.framing(), bytes, version);
            for (const auto& s : records[t][p]) {
                out.add(s);
            }
            write_tagged_end(out.framing(), version);
        }
        write_tagged_end(out.framing(), version);
    }
    write_tagged_end(out.framing(), version);
    response r;
    r.body = out.take();
    return r;
}

}  // namespace floe::kafka
