#include "kafka/server/tests/test_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>

#include "kafka/protocol/generated/api_registry.h"
#include "kafka/protocol/generated/request_header.h"

namespace floe::kafka::testing {

std::unique_ptr<test_client> test_client::connect(uint16_t port,
                                                  std::chrono::milliseconds timeout) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return nullptr;
    }
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        int saved = errno;
        ::close(fd);
        errno = saved;
        return nullptr;
    }
    return std::unique_ptr<test_client>(new test_client(fd));
}

test_client::~test_client() {
    ::close(_fd);
}

bool test_client::send_bytes(byte_span bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
        ssize_t n = ::send(_fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        sent += static_cast<size_t>(n);
    }
    return true;
}

byte_vector test_client::frame_request(int16_t api_key, int16_t api_version, int32_t correlation_id,
                                       byte_span body, int16_t header_version) {
    if (header_version < 0) {
        header_version = request_header_version(api_key, api_version);
    }
    request_header header;
    header.request_api_key = api_key;
    header.request_api_version = api_version;
    header.correlation_id = correlation_id;
    header.client_id = "floe-test";
    byte_vector out;
    byte_writer writer(out);
    writer.write_int32(0);
    header.encode(writer, header_version);
    writer.write_bytes(body);
    writer.patch_int32(0, static_cast<int32_t>(out.size() - 4));
    return out;
}

bool test_client::send_request(int16_t api_key, int16_t api_version, int32_t correlation_id,
                               byte_span body, int16_t header_version) {
    auto frame = frame_request(api_key, api_version, correlation_id, body, header_version);
    return send_bytes(frame);
}

bool test_client::read_exact(uint8_t* out, size_t length) {
    size_t got = 0;
    while (got < length) {
        ssize_t n = ::recv(_fd, out + got, length - got, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        got += static_cast<size_t>(n);
    }
    return true;
}

std::optional<received_response> test_client::read_response(int16_t header_version) {
    uint8_t prefix[4];
    if (!read_exact(prefix, 4)) {
        return std::nullopt;
    }
    byte_reader size_reader(byte_span(prefix, 4));
    int32_t size = size_reader.read_int32();
    if (size < 4 || size > (256 << 20)) {
        return std::nullopt;
    }
    byte_vector frame(static_cast<size_t>(size));
    if (!read_exact(frame.data(), frame.size())) {
        return std::nullopt;
    }
    byte_reader reader(frame);
    received_response out;
    out.correlation_id = reader.read_int32();
    if (header_version >= 1) {
        uint32_t tagged = reader.read_uvarint32();
        if (tagged != 0) {
            return std::nullopt;
        }
    }
    if (!reader.ok()) {
        return std::nullopt;
    }
    byte_span rest = reader.read_span(reader.remaining());
    out.body.assign(rest.begin(), rest.end());
    return out;
}

bool test_client::wait_closed() {
    uint8_t sink[4096];
    for (;;) {  // bounded by the receive timeout of each recv
        ssize_t n = ::recv(_fd, sink, sizeof(sink), 0);
        if (n == 0) {
            return true;
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == ECONNRESET || errno == EPIPE;
        }
    }
}

bool raise_open_file_limit(uint64_t wanted) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
        return false;
    }
    if (limit.rlim_cur >= wanted) {
        return true;
    }
    limit.rlim_cur = wanted;
    if (limit.rlim_max < wanted) {
        limit.rlim_max = wanted;  // only a privileged process may raise the hard limit
    }
    return ::setrlimit(RLIMIT_NOFILE, &limit) == 0;
}

}  // namespace floe::kafka::testing
