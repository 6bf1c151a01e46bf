#include "wal/nfs_file.h"

#include <fcntl.h>
#include <nfsc/libnfs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>
#include <utility>

namespace floe {
namespace {

constexpr size_t k_alignment = 4096;

bool aligned(uint64_t v) {
    return v % k_alignment == 0;
}

std::string libnfs_message(nfs_context* context, int rc) {
    const char* text = context != nullptr ? nfs_get_error(context) : nullptr;
    std::string reason = std::strerror(rc < 0 ? -rc : EIO);
    if (text == nullptr || *text == '\0') {
        return reason;
    }
    return std::string(text) + " (" + reason + ")";
}

// Contexts on which a call failed are never destroyed. After a failed or
// timed-out call, libnfs 4.0's synchronous API can leave requests queued
// whose completion data lived in the (returned) caller's stack frame;
// nfs_destroy_context() completes them, writing into whatever that stack
// memory holds now -- it smashed the destroying thread's own frames when an
// NFS server died under load. A tainted context is kept (leaked) instead:
// at most a few per server failure, each a socket and some memory.
std::mutex& taint_mutex() {
    static std::mutex m;
    return m;
}
std::set<nfs_context*>& tainted_contexts() {
    static auto* contexts = new std::set<nfs_context*>();  // never destroyed
    return *contexts;
}

void taint(nfs_context* context) {
    std::lock_guard lock(taint_mutex());
    tainted_contexts().insert(context);
}

error nfs_error(const std::string& what, const std::string& url, nfs_context* context, int rc) {
    taint(context);
    return error(errc::io, "nfs " + what + " " + url + ": " + libnfs_message(context, rc));
}

struct url_deleter {
    void operator()(nfs_url* url) const { nfs_destroy_url(url); }
};

struct context_deleter {
    void operator()(nfs_context* context) const {
        {
            std::lock_guard lock(taint_mutex());
            if (tainted_contexts().count(context) != 0) {
                return;  // kept: see taint()
            }
        }
        nfs_destroy_context(context);
    }
};

using context_ptr = std::unique_ptr<nfs_context, context_deleter>;

// A context with the timeout set, reconnect off, and the export of `url`
// mounted. `file` receives the file part of the URL when `full`.
result<context_ptr> mount_context(const std::string& url, std::chrono::seconds timeout, bool full,
                                  std::string* file) {
    context_ptr context(nfs_init_context());
    if (!context) {
        return error(errc::io, "nfs init_context " + url + ": out of memory");
    }
    int seconds = static_cast<int>(std::max<int64_t>(1, timeout.count()));
    nfs_set_timeout(context.get(), seconds * 1000);
    nfs_set_autoreconnect(context.get(), 0);
    std::unique_ptr<nfs_url, url_deleter> parsed(
        full ? nfs_parse_url_full(context.get(), url.c_str())
             : nfs_parse_url_dir(context.get(), url.c_str()));
    if (!parsed) {
        return error(errc::invalid_argument,
                     "nfs parse_url " + url + ": " + libnfs_message(context.get(), -EINVAL));
    }
    // URL arguments (e.g. autoreconnect=) are applied by the parser; ours win.
    nfs_set_timeout(context.get(), seconds * 1000);
    nfs_set_autoreconnect(context.get(), 0);
    int rc = nfs_mount(context.get(), parsed->server, parsed->path);
    if (rc != 0) {
        return nfs_error("mount", url, context.get(), rc);
    }
    if (file != nullptr && parsed->file != nullptr) {
        *file = parsed->file;
    }
    return context;
}

}  // namespace

struct nfs_file::connection {
    context_ptr context;
    nfsfh* handle = nullptr;

    ~connection() {
        bool tainted = false;
        {
            std::lock_guard lock(taint_mutex());
            tainted = tainted_contexts().count(context.get()) != 0;
        }
        if (handle != nullptr && !tainted) {
            nfs_close(context.get(), handle);  // NFSv3: frees the handle, no RPC
        }
    }
};

status probe_nfs_export(const std::string& url, std::chrono::seconds timeout) {
    auto context = mount_context(url, timeout, false, nullptr);
    if (!context) {
        return context.error_value();
    }
    return ok();
}

nfs_file::nfs_file(std::string url, nfs_file_options options)
    : _url(std::move(url)), _options(options) {
    if (_options.connections == 0) {
        abort_with("nfs_file: connections must be at least 1");
    }
}

nfs_file::~nfs_file() = default;

result<std::unique_ptr<nfs_file>> nfs_file::open(const std::string& url, uint64_t size,
                                                 nfs_file_options options) {
    if (!aligned(size)) {
        return error(errc::invalid_argument,
                     "WAL file size " + std::to_string(size) + " is not a multiple of 4096");
    }
    std::string file_path;
    auto context = mount_context(url, options.rpc_timeout, true, &file_path);
    if (!context) {
        return context.error_value();
    }
    nfs_context* nfs = context->get();
    std::unique_ptr<nfs_file> file(new nfs_file(url, options));
    auto c = std::make_unique<connection>();
    c->context = std::move(*context);
    const int sync_flag = options.stable_writes ? O_SYNC : 0;

    nfs_stat_64 st{};
    int rc = nfs_stat64(nfs, file_path.c_str(), &st);
    bool exists = rc == 0;
    if (rc != 0 && rc != -ENOENT) {
        return nfs_error("stat", url, nfs, rc);
    }
    if (!exists && !options.create) {
        return error(errc::not_found, "nfs open " + url + ": no such file");
    }
    if (!exists && size == 0) {
        return error(errc::invalid_argument, "nfs open " + url + ": a new WAL file needs a size");
    }
    if (exists) {
        rc = nfs_open(nfs, file_path.c_str(), O_RDWR | sync_flag, &c->handle);
        if (rc != 0) {
            return nfs_error("open", url, nfs, rc);
        }
        if (size != 0 && st.nfs_size < size) {
            return error(errc::invalid_argument, url + " is smaller than the requested size");
        }
        file->_size = st.nfs_size;
    } else {
        rc = nfs_create(nfs, file_path.c_str(), O_RDWR | O_EXCL | sync_flag, 0644, &c->handle);
        if (rc != 0) {
            return nfs_error("create", url, nfs, rc);
        }
        if (options.zero_fill) {
            byte_vector zeros(std::min<uint64_t>(size, 1 << 20));
            for (uint64_t at = 0; at < size;) {
                uint64_t n = std::min<uint64_t>(zeros.size(), size - at);
                rc = nfs_pwrite(nfs, c->handle, at, n, zeros.data());
                if (rc <= 0) {
                    return nfs_error("zero-fill", url, nfs, rc < 0 ? rc : -EIO);
                }
                at += static_cast<uint64_t>(rc);
            }
        }
        // SETATTR is stable on the server when it returns (RFC 1813).
        rc = nfs_ftruncate(nfs, c->handle, size);
        if (rc != 0) {
            return nfs_error("set size", url, nfs, rc);
        }
        if (!options.stable_writes) {
            rc = nfs_fsync(nfs, c->handle);
            if (rc != 0) {
                return nfs_error("commit", url, nfs, rc);
            }
        }
        file->_size = size;
    }
    file->_open_connections = 1;
    file->_idle.push_back(std::move(c));
    return file;
}

result<std::unique_ptr<nfs_file::connection>> nfs_file::acquire() {
    {
        std::unique_lock lock(_mutex);
        _idle_wake.wait(lock,
                        [&] { return !_idle.empty() || _open_connections < _options.connections; });
        if (!_idle.empty()) {
            auto c = std::move(_idle.back());
            _idle.pop_back();
            return c;
        }
        ++_open_connections;  // reserve a slot, connect outside the lock
    }
    std::string file_path;
    auto context = mount_context(_url, _options.rpc_timeout, true, &file_path);
    auto c = std::make_unique<connection>();
    int rc = 0;
    if (context) {
        c->context = std::move(*context);
        rc = nfs_open(c->context.get(), file_path.c_str(),
                      O_RDWR | (_options.stable_writes ? O_SYNC : 0), &c->handle);
    }
    if (!context || rc != 0) {
        {
            std::lock_guard lock(_mutex);
            --_open_connections;
        }
        _idle_wake.notify_one();
        if (!context) {
            return context.error_value();
        }
        return nfs_error("open", _url, c->context.get(), rc);
    }
    return c;
}

void nfs_file::release(std::unique_ptr<connection> c, bool healthy) {
    {
        std::lock_guard lock(_mutex);
        if (healthy) {
            _idle.push_back(std::move(c));
        } else {
            --_open_connections;
        }
    }
    _idle_wake.notify_one();
    // A failed connection `c` (if still owned) is destroyed here, outside the lock.
}

template <typename Operation>
status nfs_file::with_connection(Operation&& operation) {
    auto c = acquire();
    if (!c) {
        return c.error_value();
    }
    status outcome = operation(**c);
    // errc::io means libnfs failed: its context may be dead or desynchronised.
    bool healthy = outcome.has_value() || outcome.error_value().code != errc::io;
    release(std::move(*c), healthy);
    return outcome;
}

status nfs_file::write(uint64_t offset, byte_span data) {
    if (!aligned(offset) || !aligned(data.size())) {
        return error(errc::invalid_argument, "unaligned WAL write at " + std::to_string(offset));
    }
    if (offset + data.size() > _size) {
        return error(errc::invalid_argument, "WAL write past the end of " + _url);
    }
    return with_connection([&](connection& c) -> status {
        size_t done = 0;
        while (done < data.size()) {
            int rc = nfs_pwrite(c.context.get(), c.handle, offset + done, data.size() - done,
                                data.data() + done);
            if (rc <= 0) {
                return nfs_error("pwrite", _url, c.context.get(), rc < 0 ? rc : -EIO);
            }
            done += static_cast<size_t>(rc);
        }
        return ok();
    });
}

status nfs_file::read(uint64_t offset, std::span<uint8_t> out) {
    if (offset + out.size() > _size) {
        return error(errc::truncated, "read past the end of " + _url);
    }
    return with_connection([&](connection& c) -> status {
        size_t done = 0;
        while (done < out.size()) {
            int rc = nfs_pread(c.context.get(), c.handle, offset + done, out.size() - done,
                               out.data() + done);
            if (rc < 0) {
                return nfs_error("pread", _url, c.context.get(), rc);
            }
            if (rc == 0) {
                return error(errc::truncated, "short read from " + _url);
            }
            done += static_cast<size_t>(rc);
        }
        return ok();
    });
}

status nfs_file::sync() {
    if (_options.stable_writes) {
        return ok();  // every write that returned ok was a FILE_SYNC write
    }
    return with_connection([&](connection& c) -> status {
        int rc = nfs_fsync(c.context.get(), c.handle);
        if (rc != 0) {
            return nfs_error("commit", _url, c.context.get(), rc);
        }
        return ok();
    });
}

}  // namespace floe
