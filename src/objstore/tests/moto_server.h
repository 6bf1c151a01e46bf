// Test harness: a real S3-compatible server (moto_server from the pinned test
// venv, .deps/venv) on 127.0.0.1, started once per test process on a free
// port and killed when the process exits (and, through PR_SET_PDEATHSIG, when
// the process dies without exiting cleanly).
//
// The binary is $FLOE_MOTO_SERVER, else $FLOE_SOURCE_DIR/.deps/venv/bin/
// moto_server. If it cannot be started, start() returns an error naming what
// went wrong and tests fail: they never skip.
//
// Thread-safety: instance() is safe to call from any thread; the server is
// started by the first caller.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "base/result.h"
#include "base/testing/loopback.h"

namespace floe::objstore::testing {

class moto_server {
public:
    // The process-wide server, started on first use.
    static result<moto_server*> instance();

    uint16_t port() const { return _port; }
    pid_t pid() const { return _pid; }
    std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(_port); }

    ~moto_server();

private:
    moto_server() = default;
    status start();
    void stop();

    pid_t _pid = -1;
    uint16_t _port = 0;
    std::string _log_path;
};

// A bucket name unique within this process ("floe-<pid>-<n>").
std::string unique_bucket_name();

}  // namespace floe::objstore::testing
