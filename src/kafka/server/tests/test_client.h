// Test support: a blocking Kafka-framing client over a loopback TCP socket,
// and the request/response layouts the server tests use.
//
// Every receive waits at most `timeout` (SO_RCVTIMEO), so a server bug makes
// a test fail instead of hang.
//
// Threading: one client per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/bytes.h"

namespace floe::kafka::testing {

struct received_response {
    int32_t correlation_id = 0;
    byte_vector body;  // after the response header
};

class test_client {
public:
    // Connects to 127.0.0.1:port; nullptr (with errno) on failure.
    static std::unique_ptr<test_client> connect(
        uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(30));
    ~test_client();
    test_client(const test_client&) = delete;
    test_client& operator=(const test_client&) = delete;

    // Raw bytes; false when the peer is gone.
    bool send_bytes(byte_span bytes);
    // One framed request: size, header (at the version the key/version needs,
    // or `header_version` when given), body.
    bool send_request(int16_t api_key, int16_t api_version, int32_t correlation_id, byte_span body,
                      int16_t header_version = -1);
    static byte_vector frame_request(int16_t api_key, int16_t api_version, int32_t correlation_id,
                                     byte_span body, int16_t header_version = -1);

    // Reads one response whose header has `header_version` (0 or 1);
    // nullopt on end of input, error or timeout.
    std::optional<received_response> read_response(int16_t header_version);
    // True when the server closed the connection (end of input or reset)
    // within the receive timeout; bytes received meanwhile are discarded.
    bool wait_closed();

    int fd() const { return _fd; }

private:
    explicit test_client(int fd) : _fd(fd) {}
    bool read_exact(uint8_t* out, size_t length);

    int _fd;
};

// Raises RLIMIT_NOFILE to at least `wanted`; false when the hard limit is lower.
bool raise_open_file_limit(uint64_t wanted);

}  // namespace floe::kafka::testing
