#include "wal/tests/nfs_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <string>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "wal/nfs_file.h"

namespace floe::wal_test {

namespace {

bool accepts_tcp(uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool connected = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    return connected;
}

std::string find_binary(const char* variable, const std::vector<std::string>& candidates) {
    if (const char* configured = std::getenv(variable)) {
        return configured;
    }
    for (const auto& candidate : candidates) {
        if (::access(candidate.c_str(), X_OK) == 0) {
            return candidate;
        }
    }
    return candidates.front();
}

// Runs `argv` to completion; returns its exit status or -1.
int run(const std::vector<std::string>& argv) {
    std::vector<char*> args;
    for (const auto& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    int wstatus = 0;
    if (::waitpid(pid, &wstatus, 0) != pid || !WIFEXITED(wstatus)) {
        return -1;
    }
    return WEXITSTATUS(wstatus);
}

status ensure_rpcbind() {
    if (accepts_tcp(111)) {
        return ok();
    }
    std::string binary = find_binary("FLOE_RPCBIND", {"/usr/sbin/rpcbind", "/sbin/rpcbind"});
    int rc = run({binary, "-w"});
    if (rc != 0) {
        return error(errc::io, "rpcbind (" + binary + " -w) exited with " + std::to_string(rc) +
                                   "; install it with scripts/install-deps.sh");
    }
    for (int i = 0; i < 50; ++i) {
        if (accepts_tcp(111)) {
            return ok();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return error(errc::io, "rpcbind started but nothing answers on 127.0.0.1:111");
}

}  // namespace

result<nfs_server*> nfs_server::instance() {
    static std::mutex mutex;
    static std::unique_ptr<nfs_server> server;
    static std::string failure;
    std::lock_guard lock(mutex);
    if (server) {
        return server.get();
    }
    if (!failure.empty()) {
        return error(errc::io, failure);
    }
    std::unique_ptr<nfs_server> candidate(new nfs_server());
    status started = candidate->prepare();
    if (started) {
        started = candidate->start();
    }
    if (!started) {
        failure = started.error_value().message;
        return error(errc::io, failure);
    }
    server = std::move(candidate);
    return server.get();
}

status nfs_server::prepare() {
    FLOE_TRY(ensure_rpcbind());
    char pattern[] = "/tmp/floe-nfs-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) {
        return error(errc::io, std::string("mkdtemp: ") + std::strerror(errno));
    }
    _dir = pattern;
    _export_dir = _dir + "/export";
    _log_path = _dir + "/ganesha.log";
    std::error_code ec;
    std::filesystem::create_directories(_export_dir, ec);
    std::filesystem::create_directories(_dir + "/recovery", ec);
    if (ec) {
        return error(errc::io, "create " + _export_dir + ": " + ec.message());
    }
    _nfs_port = floe::testing::free_loopback_port();
    do {
        _mount_port = floe::testing::free_loopback_port();
    } while (_mount_port == _nfs_port);
    return write_config();
}

status nfs_server::write_config() const {
    std::ofstream config(_dir + "/ganesha.conf");
    config << "NFS_CORE_PARAM {\n"
           << "    NFS_Port = " << _nfs_port << ";\n"
           << "    MNT_Port = " << _mount_port << ";\n"
           << "    Bind_addr = 127.0.0.1;\n"
           << "    Enable_NLM = false;\n"
           << "    Enable_RQUOTA = false;\n"
           << "    Protocols = 3, 4;\n"
           << "}\n"
           << "NFSV4 {\n"
           << "    Graceless = true;\n"
           << "    RecoveryBackend = fs;\n"
           << "    RecoveryRoot = \"" << _dir << "/recovery\";\n"
           << "}\n"
           << "EXPORT {\n"
           << "    Export_Id = 1;\n"
           << "    Path = \"" << _export_dir << "\";\n"
           << "    Pseudo = \"/floe\";\n"
           << "    Access_Type = RW;\n"
           << "    Squash = No_Root_Squash;\n"
           << "    Protocols = 3, 4;\n"
           << "    Transports = TCP;\n"
           << "    SecType = sys;\n"
           << "    FSAL { Name = VFS; }\n"
           << "}\n";
    config.close();
    if (!config) {
        return error(errc::io, "cannot write " + _dir + "/ganesha.conf");
    }
    return ok();
}

// Held while a ganesha starts: concurrent starts in several test processes
// (ctest -j) race on the rpcbind registration ("Cannot register NFS V3 on UDP")
// and the loser exits.
class start_lock {
public:
    start_lock()
        : _fd(::open("/tmp/floe-nfs-ganesha-start.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0666)) {
        if (_fd >= 0) {
            ::flock(_fd, LOCK_EX);
        }
    }
    ~start_lock() {
        if (_fd >= 0) {
            ::close(_fd);
        }
    }
    start_lock(const start_lock&) = delete;
    start_lock& operator=(const start_lock&) = delete;

private:
    int _fd;
};

status nfs_server::start() {
    if (_pid > 0) {
        return ok();
    }
    start_lock lock;
    status started = ok();
    for (int tries = 0; tries < 3; ++tries) {
        bool exited = false;
        started = start_once(exited);
        if (started || !exited) {
            return started;  // up, or ran but never served: no point retrying
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return started;
}

status nfs_server::start_once(bool& exited) {
    std::string binary =
        find_binary("FLOE_GANESHA", {"/usr/bin/ganesha.nfsd", "/usr/sbin/ganesha.nfsd"});
    if (::access(binary.c_str(), X_OK) != 0) {
        return error(errc::io, "NFS test server not runnable at " + binary + " (" +
                                   std::strerror(errno) +
                                   "); run scripts/install-deps.sh (nfs-ganesha, nfs-ganesha-vfs)");
    }
    std::vector<std::string> argv = {binary, "-F",       "-f", _dir + "/ganesha.conf",
                                     "-L",   _log_path,  "-p", _dir + "/ganesha.pid",
                                     "-N",   "NIV_EVENT"};
    std::vector<char*> args;
    for (auto& a : argv) {
        args.push_back(a.data());
    }
    args.push_back(nullptr);
    pid_t parent = ::getpid();
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
        int null = ::open("/dev/null", O_RDWR);
        if (null >= 0) {
            ::dup2(null, 0);
        }
        int log = ::open((_dir + "/ganesha.stderr").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (log >= 0) {
            ::dup2(log, 1);
            ::dup2(log, 2);
        }
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    _pid = pid;
    std::string last_error;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
        int wstatus = 0;
        if (::waitpid(_pid, &wstatus, WNOHANG) == _pid) {
            _pid = -1;
            exited = true;
            return error(errc::io, "ganesha.nfsd exited at start (status " +
                                       std::to_string(wstatus) + "); its log:\n" + log_tail());
        }
        if (accepts_tcp(_mount_port) && accepts_tcp(_nfs_port)) {
            auto probe = probe_nfs_export(export_url(), std::chrono::seconds(2));
            if (probe) {
                return ok();
            }
            last_error = probe.error_value().message;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    stop();
    return error(errc::io, "ganesha.nfsd did not serve " + export_url() + " within 30 s (" +
                               last_error + "); its log:\n" + log_tail());
}

void nfs_server::kill_server() {
    if (_pid <= 0) {
        return;
    }
    ::kill(_pid, SIGCONT);
    ::kill(-_pid, SIGKILL);
    ::kill(_pid, SIGKILL);
    ::waitpid(_pid, nullptr, 0);
    _pid = -1;
}

void nfs_server::freeze() {
    if (_pid <= 0) {
        return;
    }
    ::kill(_pid, SIGSTOP);
    // SIGSTOP takes effect asynchronously: wait (bounded) until every thread
    // of the server is stopped, so that no request is answered after freeze()
    // returns.
    auto task_dir = std::filesystem::path("/proc") / std::to_string(_pid) / "task";
    for (int attempt = 0; attempt < 500; ++attempt) {
        bool all_stopped = true;
        std::error_code ec;
        for (const auto& task : std::filesystem::directory_iterator(task_dir, ec)) {
            std::ifstream stat(task.path() / "stat");
            std::string line;
            std::getline(stat, line);
            auto close_paren = line.rfind(')');
            char state = close_paren != std::string::npos && close_paren + 2 < line.size()
                             ? line[close_paren + 2]
                             : '?';
            if (state != 'T' && state != 't') {
                all_stopped = false;
                break;
            }
        }
        if (all_stopped && !ec) {
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
}

void nfs_server::thaw() {
    if (_pid > 0) {
        ::kill(_pid, SIGCONT);
    }
}

void nfs_server::stop() {
    if (_pid <= 0) {
        return;
    }
    ::kill(_pid, SIGCONT);
    ::kill(_pid, SIGTERM);
    for (int i = 0; i < 50; ++i) {
        if (::waitpid(_pid, nullptr, WNOHANG) == _pid) {
            _pid = -1;
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    kill_server();
}

nfs_server::~nfs_server() {
    stop();
    if (!_dir.empty() && std::getenv("FLOE_KEEP_NFS_DIR") == nullptr) {
        std::error_code ignored;
        std::filesystem::remove_all(_dir, ignored);
    }
}

std::string nfs_server::url(const std::string& name) const {
    return "nfs://127.0.0.1" + _export_dir + "/" + name + "?nfsport=" + std::to_string(_nfs_port) +
           "&mountport=" + std::to_string(_mount_port) + "&version=3";
}

std::string nfs_server::export_url() const {
    return "nfs://127.0.0.1" + _export_dir + "?nfsport=" + std::to_string(_nfs_port) +
           "&mountport=" + std::to_string(_mount_port) + "&version=3";
}

std::string nfs_server::log_tail() const {
    std::stringstream all;
    for (const char* name : {"/ganesha.log", "/ganesha.stderr"}) {
        std::ifstream in(_dir + name);
        all << in.rdbuf();
    }
    std::string text = all.str();
    return text.size() > 3000 ? text.substr(text.size() - 3000) : text;
}

}  // namespace floe::wal_test
