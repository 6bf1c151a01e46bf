#include "objstore/tests/fault_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>
#include <random>

#include "base/result.h"

namespace floe::objstore::testing {

namespace {

bool send_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) {
                continue;
            }
            return false;
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
}

std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

// Rewrites an HTTP head (request or response, ending "\r\n\r\n"): drops any
// Connection header and adds "Connection: close" after the first line.
std::string with_connection_close(const std::string& head) {
    size_t first_end = head.find("\r\n");
    std::string out = head.substr(0, first_end + 2) + "Connection: close\r\n";
    size_t pos = first_end + 2;
    while (pos < head.size()) {
        size_t end = head.find("\r\n", pos);
        if (end == std::string::npos) {
            break;
        }
        std::string line = head.substr(pos, end - pos + 2);
        if (!lower(line).starts_with("connection:")) {
            out += line;
        }
        pos = end + 2;
    }
    return out;
}

std::string error_response(int status, std::string_view reason, std::string_view code) {
    std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" +
                       std::string(code) +
                       "</Code><Message>injected by fault_proxy</Message></Error>";
    return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
           "\r\nContent-Type: application/xml\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\nConnection: close\r\n\r\n" + body;
}

}  // namespace

fault_proxy::fault_proxy(uint16_t upstream_port) : _upstream_port(upstream_port) {
    _listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(_listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(addr);
    if (_listen_fd < 0 ||
        ::bind(_listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(_listen_fd, 128) != 0 ||
        ::getsockname(_listen_fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
        abort_with(std::string("fault_proxy cannot listen: ") + std::strerror(errno));
    }
    _port = ntohs(addr.sin_port);
    _policy = [](const std::string&) { return fault::none; };
    _acceptor = std::thread([this] { accept_loop(); });
}

fault_proxy::~fault_proxy() {
    _stop = true;
    _acceptor.join();
    std::list<std::thread> workers;
    {
        std::lock_guard lock(_mutex);
        for (int fd : _open_fds) {
            ::shutdown(fd, SHUT_RDWR);
        }
        workers.swap(_workers);
    }
    for (auto& worker : workers) {
        worker.join();
    }
    ::close(_listen_fd);
}

void fault_proxy::set_policy(policy chosen) {
    std::lock_guard lock(_mutex);
    _policy = std::move(chosen);
}

fault_proxy::policy fault_proxy::random(uint64_t seed, double rate, std::vector<fault> kinds) {
    auto state = std::make_shared<std::pair<std::mutex, std::mt19937_64>>();
    state->second.seed(seed);
    return [state, rate, kinds](const std::string&) {
        std::lock_guard lock(state->first);
        if (std::uniform_real_distribution<double>(0, 1)(state->second) >= rate) {
            return fault::none;
        }
        return kinds[std::uniform_int_distribution<size_t>(0, kinds.size() - 1)(state->second)];
    };
}

bool fault_proxy::sleep_unless_stopped(std::chrono::milliseconds duration) {
    auto end = std::chrono::steady_clock::now() + duration;
    while (std::chrono::steady_clock::now() < end) {
        if (_stop) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return !_stop;
}

void fault_proxy::accept_loop() {
    while (!_stop) {
        pollfd waiting{_listen_fd, POLLIN, 0};
        if (::poll(&waiting, 1, 50) <= 0) {
            continue;
        }
        int client = ::accept4(_listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) {
            continue;
        }
        std::lock_guard lock(_mutex);
        _open_fds.insert(client);
        _workers.emplace_back([this, client] { serve(client); });
    }
}

void fault_proxy::serve(int client) {
    // Read the head, then the body by Content-Length.
    std::string data;
    char buffer[65536];
    size_t head_end = std::string::npos;
    while (head_end == std::string::npos && data.size() < (1u << 20)) {
        ssize_t n = ::recv(client, buffer, sizeof(buffer), 0);
        if (n <= 0) {
            break;
        }
        data.append(buffer, static_cast<size_t>(n));
        head_end = data.find("\r\n\r\n");
    }
    if (head_end != std::string::npos) {
        std::string head = data.substr(0, head_end + 4);
        std::string body = data.substr(head_end + 4);
        size_t content_length = 0;
        std::string lowered = lower(head);
        size_t at = lowered.find("\r\ncontent-length:");
        if (at != std::string::npos) {
            content_length = std::strtoull(lowered.c_str() + at + 17, nullptr, 10);
        }
        std::string request_line = head.substr(0, head.find("\r\n"));
        fault kind;
        {
            std::lock_guard lock(_mutex);
            kind = _policy(request_line);
        }
        ++_requests;
        if (kind != fault::none) {
            ++_faults;
        }
        // reset_mid_request stops reading halfway through the body.
        size_t wanted = kind == fault::reset_mid_request ? content_length / 2 : content_length;
        bool complete = true;
        while (body.size() < wanted) {
            ssize_t n = ::recv(client, buffer, sizeof(buffer), 0);
            if (n <= 0) {
                complete = false;
                break;
            }
            body.append(buffer, static_cast<size_t>(n));
        }
        if (complete) {
            relay(client, head, body, request_line, kind);
        }
    }
    std::lock_guard lock(_mutex);
    _open_fds.erase(client);
    ::close(client);
}

void fault_proxy::relay(int client, const std::string& head, const std::string& body,
                        const std::string& request_line, fault kind) {
    switch (kind) {
        case fault::slow_down_503:
            send_all(client, error_response(503, "Slow Down", "SlowDown"));
            return;
        case fault::internal_500:
            send_all(client, error_response(500, "Internal Server Error", "InternalError"));
            return;
        case fault::forbidden_403:
            send_all(client, error_response(403, "Forbidden", "AccessDenied"));
            return;
        case fault::reset:
        case fault::reset_mid_request: {
            linger option{1, 0};
            ::setsockopt(client, SOL_SOCKET, SO_LINGER, &option, sizeof(option));
            return;  // serve() closes: RST
        }
        case fault::black_hole:
            while (!_stop) {
                pollfd waiting{client, POLLIN, 0};
                if (::poll(&waiting, 1, 50) > 0) {
                    char byte;
                    if (::recv(client, &byte, 1, 0) <= 0) {
                        return;  // the client gave up
                    }
                }
            }
            return;
        case fault::delay:
            if (!sleep_unless_stopped(std::chrono::milliseconds(_delay_ms.load()))) {
                return;
            }
            break;
        default:
            break;
    }

    int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(_upstream_port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (upstream < 0 ||
        ::connect(upstream, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        if (upstream >= 0) {
            ::close(upstream);
        }
        send_all(client, error_response(502, "Bad Gateway", "ProxyUpstreamDown"));
        return;
    }
    {
        std::lock_guard lock(_mutex);
        _open_fds.insert(upstream);
    }
    std::string response;
    if (send_all(upstream, with_connection_close(head)) && send_all(upstream, body)) {
        char buffer[65536];
        while (true) {
            ssize_t n = ::recv(upstream, buffer, sizeof(buffer), 0);
            if (n <= 0) {
                break;
            }
            response.append(buffer, static_cast<size_t>(n));
        }
    }
    {
        std::lock_guard lock(_mutex);
        _open_fds.erase(upstream);
    }
    ::close(upstream);
    (void)request_line;

    size_t head_end = response.find("\r\n\r\n");
    if (head_end == std::string::npos) {
        return;  // upstream sent nothing usable: the client sees a closed connection
    }
    response =
        with_connection_close(response.substr(0, head_end + 4)) + response.substr(head_end + 4);
    if (kind == fault::reset_mid_response) {
        send_all(client, std::string_view(response).substr(0, response.size() / 2));
        linger option{1, 0};
        ::setsockopt(client, SOL_SOCKET, SO_LINGER, &option, sizeof(option));
        return;
    }
    if (kind == fault::slow_response) {
        std::string_view rest = response;
        while (!rest.empty()) {
            size_t chunk = std::min<size_t>(rest.size(), 64 << 10);
            if (!send_all(client, rest.substr(0, chunk)) ||
                !sleep_unless_stopped(std::chrono::milliseconds(5))) {
                return;
            }
            rest.remove_prefix(chunk);
        }
        return;
    }
    send_all(client, response);
}

}  // namespace floe::objstore::testing
