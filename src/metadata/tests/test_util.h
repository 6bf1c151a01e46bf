// Helpers shared by the metadata tests: a temporary directory and a watch
// collector. Test-only; not thread-safe except where stated.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "metadata/store.h"

namespace floe::metadata::testing {

// A fresh directory under /tmp, removed on destruction.
class temp_dir {
public:
    temp_dir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "floe-meta-XXXXXX");
        char* made = mkdtemp(pattern.data());
        if (made == nullptr) {
            ADD_FAILURE() << "mkdtemp failed";
        }
        _path = pattern;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(_path, ec);
    }
    const std::filesystem::path& path() const { return _path; }

private:
    std::filesystem::path _path;
};

// Collects watch responses; thread-safe (the callback runs on the store's
// dispatcher thread).
class watch_collector {
public:
    watch_callback callback() {
        return [this](const watch_response& response) {
            std::lock_guard lock(_mutex);
            _responses.push_back(response);
            for (const auto& e : response.events) {
                _events.push_back(e);
            }
            _changed.notify_all();
        };
    }
    // Waits until at least `n` events (or a failure) arrived; false on timeout.
    bool wait_for_events(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
        std::unique_lock lock(_mutex);
        return _changed.wait_for(lock, timeout, [&] { return _events.size() >= n || failed(); });
    }
    bool wait_for_failure(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
        std::unique_lock lock(_mutex);
        return _changed.wait_for(lock, timeout, [&] { return failed(); });
    }
    std::vector<watch_event> events() {
        std::lock_guard lock(_mutex);
        return _events;
    }
    std::vector<watch_response> responses() {
        std::lock_guard lock(_mutex);
        return _responses;
    }

private:
    bool failed() const {
        for (const auto& r : _responses) {
            if (r.failure) {
                return true;
            }
        }
        return false;
    }
    std::mutex _mutex;
    std::condition_variable _changed;
    std::vector<watch_response> _responses;
    std::vector<watch_event> _events;
};

}  // namespace floe::metadata::testing
