#include "objstore/local_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>

namespace floe::objstore {

namespace {

constexpr std::string_view dir_suffix = ".d";
constexpr std::string_view object_suffix = ".o";
constexpr std::string_view temp_marker = ".floe-tmp";

error os_error(std::string_view what, const std::string& path, int err) {
    return error(errc::io, std::string(what) + " " + path + ": " + std::strerror(err));
}

bool ends_with(std::string_view text, std::string_view suffix) {
    return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

std::string parent_of(const std::string& path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

// Objects are written with O_DIRECT (see put()): offsets, lengths and memory
// aligned to this, which covers the logical block size of common devices.
constexpr size_t k_direct_alignment = 4096;
// Unaligned sources are copied through a bounce buffer of this size.
constexpr size_t k_bounce_bytes = 1 << 20;

struct free_deleter {
    void operator()(uint8_t* p) const { std::free(p); }
};

// One bounce buffer per uploading thread, allocated on first use.
uint8_t* bounce_buffer() {
    thread_local std::unique_ptr<uint8_t, free_deleter> buffer(
        static_cast<uint8_t*>(std::aligned_alloc(k_direct_alignment, k_bounce_bytes)));
    return buffer.get();
}

// pwrite of all of [p, p + n) at `at`; errno-style result (0 or the error).
int pwrite_all(int fd, const uint8_t* p, size_t n, uint64_t at) {
    while (n > 0) {
        ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(at));
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno;
        }
        if (w == 0) {
            return EIO;
        }
        p += w;
        n -= static_cast<size_t>(w);
        at += static_cast<uint64_t>(w);
    }
    return 0;
}

// Writes `data` to a file opened with O_DIRECT: whole aligned blocks straight
// from `data` when it is aligned, else through the bounce buffer; the last
// partial block padded with zeros, then the file cut to the exact size.
int write_direct(int fd, byte_span data) {
    const size_t whole = data.size() / k_direct_alignment * k_direct_alignment;
    const bool aligned = reinterpret_cast<uintptr_t>(data.data()) % k_direct_alignment == 0;
    uint8_t* bounce = nullptr;
    if (!aligned || whole < data.size()) {
        bounce = bounce_buffer();
        if (bounce == nullptr) {
            return ENOMEM;
        }
    }
    size_t done = 0;
    if (aligned && whole > 0) {
        if (int err = pwrite_all(fd, data.data(), whole, 0)) {
            return err;
        }
        done = whole;
    }
    while (done < whole) {
        size_t n = std::min(k_bounce_bytes, whole - done);
        std::memcpy(bounce, data.data() + done, n);
        if (int err = pwrite_all(fd, bounce, n, done)) {
            return err;
        }
        done += n;
    }
    if (size_t tail = data.size() - whole; tail > 0) {
        std::memcpy(bounce, data.data() + whole, tail);
        std::memset(bounce + tail, 0, k_direct_alignment - tail);
        if (int err = pwrite_all(fd, bounce, k_direct_alignment, whole)) {
            return err;
        }
        if (::ftruncate(fd, static_cast<off_t>(data.size())) != 0) {
            return errno;
        }
    }
    return 0;
}

int write_buffered(int fd, byte_span data) {
    return pwrite_all(fd, data.data(), data.size(), 0);
}

class fd_guard {
public:
    explicit fd_guard(int fd) : _fd(fd) {}
    ~fd_guard() {
        if (_fd >= 0) {
            ::close(_fd);
        }
    }
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    int get() const { return _fd; }
    int release() { return std::exchange(_fd, -1); }

private:
    int _fd;
};

status fsync_directory(const std::string& path) {
    fd_guard fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0) {
        return os_error("open directory", path, errno);
    }
    if (::fsync(fd.get()) != 0) {
        return os_error("fsync directory", path, errno);
    }
    return ok();
}

status make_directories(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            return error(errc::io, "not a directory: " + path);
        }
        return ok();
    }
    std::string parent = parent_of(path);
    if (parent != path && !parent.empty()) {
        FLOE_TRY(make_directories(parent));
    }
    if (::mkdir(path.c_str(), 0755) != 0) {
        if (errno == EEXIST) {
            return ok();  // a concurrent put created it (and synced its parent)
        }
        return os_error("mkdir", path, errno);
    }
    return fsync_directory(parent);
}

// Deletes every temp file under `dir`, recursively.
status remove_temp_files(const std::string& dir) {
    DIR* handle = ::opendir(dir.c_str());
    if (handle == nullptr) {
        return os_error("opendir", dir, errno);
    }
    status outcome = ok();
    bool removed = false;
    while (dirent* entry = ::readdir(handle)) {
        std::string_view name = entry->d_name;
        if (name == "." || name == "..") {
            continue;
        }
        std::string path = dir + "/" + std::string(name);
        if (name.find(temp_marker) != std::string_view::npos) {
            if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
                outcome = os_error("unlink temp file", path, errno);
                break;
            }
            removed = true;
        } else if (ends_with(name, dir_suffix)) {
            struct stat st {};
            if (::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
                outcome = remove_temp_files(path);
                if (!outcome) {
                    break;
                }
            }
        }
    }
    ::closedir(handle);
    if (outcome && removed) {
        return fsync_directory(dir);
    }
    return outcome;
}

// Appends the objects under `dir` (whose keys start with `base`) that match
// `prefix`.
status walk(const std::string& dir, const std::string& base, std::string_view prefix,
            std::vector<object_info>& out) {
    DIR* handle = ::opendir(dir.c_str());
    if (handle == nullptr) {
        if (errno == ENOENT || errno == ENOTDIR) {
            return ok();
        }
        return os_error("opendir", dir, errno);
    }
    status outcome = ok();
    while (dirent* entry = ::readdir(handle)) {
        std::string_view name = entry->d_name;
        if (name.find(temp_marker) != std::string_view::npos) {
            continue;
        }
        bool is_dir = ends_with(name, dir_suffix);
        bool is_object = ends_with(name, object_suffix);
        if (!is_dir && !is_object) {
            continue;
        }
        std::string_view segment = name.substr(0, name.size() - 2);
        if (segment.empty() || segment == "." || segment == "..") {
            continue;
        }
        std::string key = base + std::string(segment);
        std::string path = dir + "/" + std::string(name);
        if (is_dir) {
            key += '/';
            // Descend only where keys can match the prefix.
            if (!key.starts_with(prefix) && !prefix.starts_with(key)) {
                continue;
            }
            outcome = walk(path, key, prefix, out);
            if (!outcome) {
                break;
            }
            continue;
        }
        if (!key.starts_with(prefix)) {
            continue;
        }
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) {
            if (errno == ENOENT) {
                continue;  // removed concurrently
            }
            outcome = os_error("stat", path, errno);
            break;
        }
        if (S_ISREG(st.st_mode)) {
            out.push_back(object_info{std::move(key), static_cast<uint64_t>(st.st_size)});
        }
    }
    ::closedir(handle);
    return outcome;
}

}  // namespace

result<std::unique_ptr<local_store>> local_store::open(std::string root) {
    if (root.empty()) {
        return error(errc::invalid_argument, "local object store root is empty");
    }
    while (root.size() > 1 && root.back() == '/') {
        root.pop_back();
    }
    FLOE_TRY(make_directories(root));
    FLOE_TRY(remove_temp_files(root));
    return std::unique_ptr<local_store>(new local_store(std::move(root)));
}

std::string local_store::path_of(std::string_view key) const {
    std::string path = _root;
    size_t start = 0;
    while (true) {
        size_t slash = key.find('/', start);
        path += '/';
        if (slash == std::string_view::npos) {
            path += key.substr(start);
            path += object_suffix;
            return path;
        }
        path += key.substr(start, slash - start);
        path += dir_suffix;
        start = slash + 1;
    }
}

status local_store::put(std::string_view key, byte_span data) {
    FLOE_TRY(validate_key(key));
    std::string final_path = path_of(key);
    std::string dir = parent_of(final_path);
    FLOE_TRY(make_directories(dir));

    thread_local std::mt19937_64 rng{std::random_device{}()};
    char suffix[48];
    std::snprintf(suffix, sizeof(suffix), "%s-%016llx-%llu", temp_marker.data(),
                  static_cast<unsigned long long>(rng()),
                  static_cast<unsigned long long>(_temp_counter.fetch_add(1)));
    std::string temp_path = final_path + suffix;

    // O_DIRECT: an object is written once and read back rarely (the block
    // cache holds what is read), so copying it into the page cache only to
    // flush it at once doubled the upload's CPU and pushed megabytes of
    // writeback ahead of the WAL's syncs. A file system that refuses O_DIRECT
    // (EINVAL at open or at the first write) gets buffered writes from then on.
    const int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
    bool direct = _direct.load(std::memory_order_relaxed);
    int opened = ::open(temp_path.c_str(), flags | (direct ? O_DIRECT : 0), 0644);
    if (opened < 0 && direct && errno == EINVAL) {
        _direct.store(false, std::memory_order_relaxed);
        direct = false;
        opened = ::open(temp_path.c_str(), flags, 0644);
    }
    fd_guard fd(opened);
    if (fd.get() < 0) {
        return os_error("create", temp_path, errno);
    }
    auto fail = [&](std::string_view what, int err) -> status {
        error e = os_error(what, temp_path, err);
        ::close(fd.release());
        ::unlink(temp_path.c_str());
        return e;
    };
    int write_err = direct ? write_direct(fd.get(), data) : write_buffered(fd.get(), data);
    if (write_err == EINVAL && direct) {
        // Alignment the file system does not accept: rewrite buffered.
        _direct.store(false, std::memory_order_relaxed);
        int flags_now = ::fcntl(fd.get(), F_GETFL);
        if (flags_now < 0 || ::fcntl(fd.get(), F_SETFL, flags_now & ~O_DIRECT) != 0 ||
            ::ftruncate(fd.get(), 0) != 0) {
            return fail("write", errno);
        }
        write_err = write_buffered(fd.get(), data);
    }
    if (write_err != 0) {
        return fail("write", write_err);
    }
    if (::fdatasync(fd.get()) != 0) {
        return fail("fdatasync", errno);
    }
    if (::close(fd.release()) != 0) {
        int err = errno;
        ::unlink(temp_path.c_str());
        return os_error("close", temp_path, err);
    }
    if (::rename(temp_path.c_str(), final_path.c_str()) != 0) {
        int err = errno;
        ::unlink(temp_path.c_str());
        return os_error("rename", final_path, err);
    }
    return fsync_directory(dir);
}

result<byte_vector> local_store::read_range(std::string_view key, uint64_t offset, uint64_t length,
                                            bool whole) {
    FLOE_TRY(validate_key(key));
    std::string path = path_of(key);
    fd_guard fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            return error(errc::not_found, "no object " + std::string(key));
        }
        return os_error("open", path, errno);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        return os_error("fstat", path, errno);
    }
    if (!S_ISREG(st.st_mode)) {
        return error(errc::not_found, "no object " + std::string(key));
    }
    auto size = static_cast<uint64_t>(st.st_size);
    if (whole) {
        offset = 0;
        length = size;
    }
    if (offset >= size) {
        return byte_vector{};
    }
    length = std::min(length, size - offset);
    byte_vector out(length);
    uint64_t done = 0;
    while (done < length) {
        ssize_t n =
            ::pread(fd.get(), out.data() + done, length - done, static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return os_error("pread", path, errno);
        }
        if (n == 0) {
            return error(errc::io, "object file shrank while reading: " + path);
        }
        done += static_cast<uint64_t>(n);
    }
    return out;
}

result<byte_vector> local_store::get(std::string_view key) {
    return read_range(key, 0, 0, true);
}

result<byte_vector> local_store::get_range(std::string_view key, uint64_t offset, uint64_t length) {
    return read_range(key, offset, length, false);
}

result<object_info> local_store::head(std::string_view key) {
    FLOE_TRY(validate_key(key));
    std::string path = path_of(key);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            return error(errc::not_found, "no object " + std::string(key));
        }
        return os_error("stat", path, errno);
    }
    if (!S_ISREG(st.st_mode)) {
        return error(errc::not_found, "no object " + std::string(key));
    }
    return object_info{std::string(key), static_cast<uint64_t>(st.st_size)};
}

status local_store::remove(std::string_view key) {
    FLOE_TRY(validate_key(key));
    std::string path = path_of(key);
    if (::unlink(path.c_str()) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            return ok();
        }
        return os_error("unlink", path, errno);
    }
    return fsync_directory(parent_of(path));
}

result<std::vector<object_info>> local_store::list(std::string_view prefix) {
    FLOE_TRY(validate_prefix(prefix));
    // Start at the deepest directory the prefix names completely.
    std::string dir = _root;
    std::string base;
    size_t last_slash = prefix.rfind('/');
    if (last_slash != std::string_view::npos) {
        std::string_view dirs = prefix.substr(0, last_slash);
        size_t start = 0;
        while (start <= dirs.size()) {
            size_t slash = dirs.find('/', start);
            if (slash == std::string_view::npos) {
                slash = dirs.size();
            }
            dir += '/';
            dir += dirs.substr(start, slash - start);
            dir += dir_suffix;
            start = slash + 1;
        }
        base = std::string(prefix.substr(0, last_slash + 1));
    }
    std::vector<object_info> out;
    FLOE_TRY(walk(dir, base, prefix, out));
    std::sort(out.begin(), out.end(),
              [](const object_info& a, const object_info& b) { return a.key < b.key; });
    return out;
}

}  // namespace floe::objstore
