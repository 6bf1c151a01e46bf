// posix_file: O_DIRECT where the file system allows it, buffered + fdatasync
// where it does not (tmpfs), preallocation, aligned writes, unaligned reads.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "wal/file.h"
#include "wal/tests/test_util.h"

namespace floe {
namespace {

void exercise(const std::filesystem::path& dir) {
    std::filesystem::create_directories(dir);
    auto path = (dir / ("wal-file-test-" + std::to_string(::getpid()))).string();
    std::filesystem::remove(path);
    {
        auto file = posix_file::open(path, 64 * 1024);
        ASSERT_TRUE(file.has_value()) << file.error_value().to_string();
        EXPECT_EQ((*file)->size(), 64u * 1024);
        EXPECT_EQ(std::filesystem::file_size(path), 64u * 1024);
        aligned_buffer block(8192);
        auto payload = wal_test::make_payload(1, 2, 8192);
        std::copy(payload.begin(), payload.end(), block.data());
        ASSERT_TRUE((*file)->write(4096, {block.data(), block.size()}).has_value());
        // An unaligned source buffer is accepted (bounced when O_DIRECT).
        ASSERT_TRUE((*file)->write(16384, {payload.data() + 0, 4096}).has_value());
        ASSERT_TRUE((*file)->sync().has_value());
        EXPECT_EQ((*file)->write(100, {block.data(), 4096}).error_value().code,
                  errc::invalid_argument);
        EXPECT_EQ((*file)->write(64 * 1024, {block.data(), 4096}).error_value().code,
                  errc::invalid_argument);
        byte_vector out(1000);
        ASSERT_TRUE((*file)->read(4096 + 77, out).has_value());  // unaligned read
        EXPECT_TRUE(std::equal(out.begin(), out.end(), payload.begin() + 77));
        EXPECT_EQ((*file)->read(64 * 1024 - 10, out).error_value().code, errc::truncated);
    }
    auto again = posix_file::open(path, 0, {.create = false});
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ((*again)->size(), 64u * 1024);
    std::filesystem::remove(path);
    EXPECT_EQ(posix_file::open(path, 0, {.create = false}).error_value().code, errc::not_found);
}

TEST(WalFile, DirectIoOnADiskFileSystem) {
    auto dir = std::filesystem::temp_directory_path();
    exercise(dir);
    auto probe = posix_file::open((dir / "wal-file-probe").string(), 4096);
    ASSERT_TRUE(probe.has_value());
    std::printf("%s: %s\n", dir.c_str(), (*probe)->mode().c_str());
    std::filesystem::remove(dir / "wal-file-probe");
}

TEST(WalFile, BufferedModeWorksAndTmpfsIsHandled) {
    auto dir = std::filesystem::temp_directory_path();
    auto path = (dir / ("wal-file-buffered-" + std::to_string(::getpid()))).string();
    auto file = posix_file::open(path, 8192, {.direct = false});
    ASSERT_TRUE(file.has_value());
    EXPECT_FALSE((*file)->direct());
    EXPECT_EQ((*file)->mode(), "buffered+fdatasync");
    auto payload = wal_test::make_payload(3, 4, 4096);
    ASSERT_TRUE((*file)->write(4096, payload).has_value());
    ASSERT_TRUE((*file)->sync().has_value());
    byte_vector out(4096);
    ASSERT_TRUE((*file)->read(4096, out).has_value());
    EXPECT_EQ(out, payload);
    std::filesystem::remove(path);
    // tmpfs refuses O_DIRECT before Linux 6.6 (EINVAL): posix_file must then
    // fall back and say so; newer kernels accept it.
    if (std::filesystem::exists("/dev/shm")) {
        exercise("/dev/shm");
        auto probe = posix_file::open("/dev/shm/wal-file-probe", 4096);
        ASSERT_TRUE(probe.has_value());
        EXPECT_TRUE((*probe)->direct() || (*probe)->mode().find("refused") != std::string::npos)
            << (*probe)->mode();
        std::printf("/dev/shm: %s\n", (*probe)->mode().c_str());
        std::filesystem::remove("/dev/shm/wal-file-probe");
    }
}

}  // namespace
}  // namespace floe
