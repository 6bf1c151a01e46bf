#include "wal/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace floe {
namespace {

constexpr size_t k_alignment = 4096;

error io_error(const std::string& what, const std::string& path, int err) {
    return error(errc::io, what + " " + path + ": " + std::strerror(err));
}

bool aligned(uint64_t v) {
    return v % k_alignment == 0;
}

status sync_parent_directory(const std::string& path) {
    auto slash = path.find_last_of('/');
    std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
    if (dir.empty()) {
        dir = "/";
    }
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return io_error("open directory", dir, errno);
    }
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) {
        return io_error("fsync directory", dir, err);
    }
    return ok();
}

}  // namespace

aligned_buffer::aligned_buffer(size_t size, uninitialized_t) : _size(size) {
    if (size == 0) {
        return;
    }
    size_t rounded = (size + k_alignment - 1) / k_alignment * k_alignment;
    _data = static_cast<uint8_t*>(std::aligned_alloc(k_alignment, rounded));
    if (_data == nullptr) {
        abort_with("aligned_buffer: out of memory");
    }
}

aligned_buffer::aligned_buffer(size_t size) : aligned_buffer(size, uninitialized) {
    if (_data != nullptr) {
        std::memset(_data, 0, (size + k_alignment - 1) / k_alignment * k_alignment);
    }
}

aligned_buffer::~aligned_buffer() {
    std::free(_data);
}

aligned_buffer::aligned_buffer(aligned_buffer&& other) noexcept
    : _data(other._data), _size(other._size) {
    other._data = nullptr;
    other._size = 0;
}

aligned_buffer& aligned_buffer::operator=(aligned_buffer&& other) noexcept {
    if (this != &other) {
        std::free(_data);
        _data = other._data;
        _size = other._size;
        other._data = nullptr;
        other._size = 0;
    }
    return *this;
}

posix_file::posix_file(int fd, uint64_t size, bool direct, std::string path, std::string mode)
    : _fd(fd), _size(size), _direct(direct), _path(std::move(path)), _mode(std::move(mode)) {}

posix_file::~posix_file() {
    ::close(_fd);
}

result<std::unique_ptr<posix_file>> posix_file::open(const std::string& path, uint64_t size,
                                                     posix_file_options options) {
    if (!aligned(size)) {
        return error(errc::invalid_argument, "file size must be a multiple of 4096");
    }
    struct stat st {};
    bool exists = ::stat(path.c_str(), &st) == 0;
    if (!exists && !options.create) {
        return error(errc::not_found, "no WAL file at " + path);
    }
    int flags = O_RDWR | O_CLOEXEC | (exists ? 0 : O_CREAT);
    bool direct = options.direct;
    std::string mode = "O_DIRECT";
    int fd = -1;
    if (direct) {
        fd = ::open(path.c_str(), flags | O_DIRECT, 0644);
        if (fd < 0 && errno == EINVAL) {
            direct = false;
            mode = "buffered+fdatasync (O_DIRECT refused by the file system)";
            std::fprintf(stderr, "wal: %s: O_DIRECT refused, using buffered I/O + fdatasync\n",
                         path.c_str());
        } else if (fd < 0) {
            return io_error("open", path, errno);
        }
    } else {
        mode = "buffered+fdatasync";
    }
    if (fd < 0) {
        fd = ::open(path.c_str(), flags, 0644);
        if (fd < 0) {
            return io_error("open", path, errno);
        }
    }
    auto file = std::unique_ptr<posix_file>(new posix_file(fd, 0, direct, path, mode));
    if (::fstat(fd, &st) != 0) {
        return io_error("fstat", path, errno);
    }
    uint64_t current = S_ISBLK(st.st_mode) ? 0 : static_cast<uint64_t>(st.st_size);
    if (S_ISBLK(st.st_mode)) {
        off_t end = ::lseek(fd, 0, SEEK_END);
        if (end < 0) {
            return io_error("lseek", path, errno);
        }
        current = static_cast<uint64_t>(end);
    }
    if (exists) {
        file->_size = current;
        if (size != 0 && current < size) {
            return error(errc::invalid_argument, path + " is smaller than the requested size");
        }
        return file;
    }
    // New file: preallocate, optionally zero-fill, and make its existence durable.
    if (options.zero_fill) {
        aligned_buffer zeros(1 << 20);
        for (uint64_t at = 0; at < size; at += zeros.size()) {
            size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), size - at));
            ssize_t w = ::pwrite(fd, zeros.data(), n, static_cast<off_t>(at));
            if (w != static_cast<ssize_t>(n)) {
                return io_error("zero-fill", path, w < 0 ? errno : EIO);
            }
        }
    } else {
        int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(size));
        if (rc == EOPNOTSUPP || rc == EINVAL) {
            rc = ::ftruncate(fd, static_cast<off_t>(size)) == 0 ? 0 : errno;
        }
        if (rc != 0) {
            return io_error("preallocate", path, rc);
        }
    }
    file->_size = size;
    if (::fsync(fd) != 0) {
        return io_error("fsync", path, errno);
    }
    FLOE_TRY(sync_parent_directory(path));
    return file;
}

status posix_file::write(uint64_t offset, byte_span data) {
    if (!aligned(offset) || !aligned(data.size())) {
        return error(errc::invalid_argument, "unaligned WAL write at " + std::to_string(offset));
    }
    if (offset + data.size() > _size) {
        return error(errc::invalid_argument, "WAL write past the end of " + _path);
    }
    const uint8_t* source = data.data();
    aligned_buffer bounce;
    if (_direct && reinterpret_cast<uintptr_t>(source) % k_alignment != 0) {
        bounce = aligned_buffer(data.size());
        std::memcpy(bounce.data(), source, data.size());
        source = bounce.data();
    }
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n =
            ::pwrite(_fd, source + done, data.size() - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return io_error("pwrite", _path, n < 0 ? errno : EIO);
        }
        done += static_cast<size_t>(n);
    }
    return ok();
}

status posix_file::read(uint64_t offset, std::span<uint8_t> out) {
    if (offset + out.size() > _size) {
        return error(errc::truncated, "read past the end of " + _path);
    }
    uint8_t* target = out.data();
    uint64_t start = offset;
    size_t length = out.size();
    aligned_buffer bounce;
    if (_direct && (!aligned(offset) || !aligned(out.size()) ||
                    reinterpret_cast<uintptr_t>(out.data()) % k_alignment != 0)) {
        start = offset / k_alignment * k_alignment;
        uint64_t end = (offset + out.size() + k_alignment - 1) / k_alignment * k_alignment;
        length = static_cast<size_t>(end - start);
        bounce = aligned_buffer(length);
        target = bounce.data();
    }
    size_t done = 0;
    while (done < length) {
        ssize_t n = ::pread(_fd, target + done, length - done, static_cast<off_t>(start + done));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return io_error("pread", _path, errno);
        }
        if (n == 0) {
            return error(errc::truncated, "short read from " + _path);
        }
        done += static_cast<size_t>(n);
    }
    if (target != out.data()) {
        std::memcpy(out.data(), target + (offset - start), out.size());
    }
    return ok();
}

status posix_file::sync() {
    if (::fdatasync(_fd) != 0) {
        return io_error("fdatasync", _path, errno);
    }
    return ok();
}

}  // namespace floe
