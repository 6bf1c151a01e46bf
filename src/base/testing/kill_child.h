// Test support for crash tests: run a child program, collect what it prints
// on stdout, and SIGKILL it after a given time.
//
//   auto run = run_and_kill({"/path/to/child", "arg"}, std::chrono::milliseconds(120));
//   // run.output: everything the child wrote before it died
//   // run.killed: true when SIGKILL (not the child's own exit) ended it
//
// Header-only; for tests, never linked into Floe itself.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

namespace floe::testing {

struct killed_run {
    std::string output;
    bool killed = false;  // ended by our SIGKILL
    int wait_status = 0;  // as returned by waitpid
};

inline killed_run run_and_kill(const std::vector<std::string>& argv,
                               std::chrono::milliseconds run_for) {
    killed_run run;
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        return run;
    }
    pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(fds[1], 1);
        std::vector<char*> args;
        for (const auto& a : argv) {
            args.push_back(const_cast<char*>(a.c_str()));
        }
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    ::close(fds[1]);
    char buffer[65536];
    auto deadline = std::chrono::steady_clock::now() + run_for;
    bool sent_kill = false;
    for (;;) {
        auto now = std::chrono::steady_clock::now();
        if (!sent_kill && now >= deadline) {
            ::kill(pid, SIGKILL);
            sent_kill = true;
        }
        int wait_ms = -1;
        if (!sent_kill) {
            wait_ms =
                static_cast<int>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count()) +
                1;
        }
        pollfd p{fds[0], POLLIN, 0};
        if (::poll(&p, 1, wait_ms) <= 0) {
            continue;
        }
        ssize_t n = ::read(fds[0], buffer, sizeof(buffer));
        if (n <= 0) {
            break;  // EOF: the child is gone
        }
        run.output.append(buffer, static_cast<size_t>(n));
    }
    ::close(fds[0]);
    ::waitpid(pid, &run.wait_status, 0);
    run.killed = WIFSIGNALED(run.wait_status) && WTERMSIG(run.wait_status) == SIGKILL;
    return run;
}

}  // namespace floe::testing
