#include "objstore/tests/moto_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

namespace floe::objstore::testing {

namespace {

std::string log_tail(const std::string& path) {
    std::ifstream in(path);
    std::stringstream all;
    all << in.rdbuf();
    std::string text = all.str();
    return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
}

// True once something accepts an HTTP request on 127.0.0.1:port and answers.
bool answers_http(uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool answered = false;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
        timeval timeout{2, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
        const char request[] = "GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
        if (::send(fd, request, sizeof(request) - 1, MSG_NOSIGNAL) > 0) {
            char buffer[16];
            answered =
                ::recv(fd, buffer, sizeof(buffer), 0) > 0 && std::string_view(buffer, 5) == "HTTP/";
        }
    }
    ::close(fd);
    return answered;
}

}  // namespace

std::string unique_bucket_name() {
    static std::atomic<int> counter{0};
    return "floe-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
}

result<moto_server*> moto_server::instance() {
    static std::mutex mutex;
    static std::unique_ptr<moto_server> server;
    static std::string failure;
    std::lock_guard lock(mutex);
    if (server) {
        return server.get();
    }
    if (!failure.empty()) {
        return error(errc::io, failure);
    }
    std::unique_ptr<moto_server> candidate(new moto_server());
    status started = candidate->start();
    if (!started) {
        failure = started.error_value().message;
        return error(errc::io, failure);
    }
    server = std::move(candidate);
    return server.get();
}

status moto_server::start() {
    std::string binary;
    if (const char* configured = std::getenv("FLOE_MOTO_SERVER")) {
        binary = configured;
    } else if (const char* source = std::getenv("FLOE_SOURCE_DIR")) {
        binary = std::string(source) + "/.deps/venv/bin/moto_server";
    } else {
        return error(errc::io,
                     "neither FLOE_MOTO_SERVER nor FLOE_SOURCE_DIR is set; run "
                     "through ctest or set FLOE_MOTO_SERVER to moto_server");
    }
    if (::access(binary.c_str(), X_OK) != 0) {
        return error(errc::io, "S3 test server not runnable at " + binary + " (" +
                                   std::strerror(errno) +
                                   "); run scripts/install-deps.sh to create .deps/venv");
    }
    // moto can take a few seconds to import; a port taken between free_port()
    // and its bind makes it exit, so try a few ports.
    for (int tries = 0; tries < 3; ++tries) {
        _port = floe::testing::free_loopback_port();
        _log_path =
            "/tmp/floe-moto-" + std::to_string(::getpid()) + "-" + std::to_string(_port) + ".log";
        pid_t parent = ::getpid();
        std::string port = std::to_string(_port);  // no allocation after fork
        pid_t pid = ::fork();
        if (pid < 0) {
            return error(errc::io, std::string("fork: ") + std::strerror(errno));
        }
        if (pid == 0) {
            ::setpgid(0, 0);
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (::getppid() != parent) {
                ::_exit(1);
            }
            int log = ::open(_log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (log >= 0) {
                ::dup2(log, 1);
                ::dup2(log, 2);
            }
            ::execl(binary.c_str(), binary.c_str(), "-H", "127.0.0.1", "-p", port.c_str(),
                    static_cast<char*>(nullptr));
            ::_exit(127);
        }
        _pid = pid;
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (std::chrono::steady_clock::now() < deadline) {
            int wstatus = 0;
            if (::waitpid(_pid, &wstatus, WNOHANG) == _pid) {
                _pid = -1;
                break;  // exited: try another port, or report
            }
            if (answers_http(_port)) {
                return ok();
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        if (_pid > 0) {
            stop();
            return error(errc::io,
                         "moto_server did not answer on 127.0.0.1:" + std::to_string(_port) +
                             " within 60 s; its log:\n" + log_tail(_log_path));
        }
    }
    return error(errc::io, "moto_server exited at start three times; last log (" + _log_path +
                               "):\n" + log_tail(_log_path));
}

void moto_server::stop() {
    if (_pid <= 0) {
        return;
    }
    ::kill(-_pid, SIGTERM);
    ::kill(_pid, SIGTERM);
    for (int i = 0; i < 50; ++i) {
        if (::waitpid(_pid, nullptr, WNOHANG) == _pid) {
            _pid = -1;
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::kill(-_pid, SIGKILL);
    ::kill(_pid, SIGKILL);
    ::waitpid(_pid, nullptr, 0);
    _pid = -1;
}

moto_server::~moto_server() {
    stop();
    if (!_log_path.empty()) {
        ::unlink(_log_path.c_str());
    }
}

}  // namespace floe::objstore::testing
