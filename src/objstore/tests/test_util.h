// Helpers shared by the objstore tests: deterministic payloads and
// temporary directories. Single-threaded use per object.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "base/bytes.h"

namespace floe::objstore::testing {

inline byte_vector payload(size_t size, uint64_t seed) {
    byte_vector out(size);
    std::mt19937_64 rng(seed);
    for (size_t i = 0; i < size; i += 8) {
        uint64_t word = rng();
        for (size_t j = 0; j < 8 && i + j < size; ++j) {
            out[i + j] = static_cast<uint8_t>(word >> (8 * j));
        }
    }
    return out;
}

inline byte_span as_span(std::string_view text) {
    return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

// A fresh directory under the system temp dir, removed with its contents.
class temp_dir {
public:
    temp_dir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "floe-objstore-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            std::abort();
        }
        _path = pattern;
    }
    ~temp_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(_path, ignored);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const std::string& path() const { return _path; }

private:
    std::string _path;
};

}  // namespace floe::objstore::testing
