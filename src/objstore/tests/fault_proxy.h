// Test harness: a TCP proxy on 127.0.0.1 between the S3 client and the S3
// server that injects faults per HTTP request, chosen by a policy the test
// sets: 503 SlowDown, 500 InternalError, 403, a connection reset while the
// request body is still arriving or before any response, a reset halfway through the response, a
// delay before forwarding, a response trickled slowly, or no response at all.
//
// Each client connection carries one request: the proxy forwards it with
// "Connection: close", relays the server's response with "Connection: close"
// added, and closes. (The client simply reconnects for its next request.)
//
// Thread-safety: set_policy and the counters may be used from any thread
// while requests flow; one thread per connection, all joined by the
// destructor.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace floe::objstore::testing {

enum class fault : uint8_t {
    none,
    slow_down_503,
    internal_500,
    forbidden_403,
    reset,               // read the request, then RST without answering
    reset_mid_request,   // read the head and half the body, then RST
    reset_mid_response,  // forward, relay half the response, then RST
    delay,               // wait delay() before forwarding
    slow_response,       // relay the response in small chunks with pauses
    black_hole,          // never answer; keep the connection open
};

class fault_proxy {
public:
    // Decides the fault for one request, given its request line
    // ("PUT /bucket/key?partNumber=2&uploadId=... HTTP/1.1").
    using policy = std::function<fault(const std::string& request_line)>;

    explicit fault_proxy(uint16_t upstream_port);
    ~fault_proxy();
    fault_proxy(const fault_proxy&) = delete;
    fault_proxy& operator=(const fault_proxy&) = delete;

    uint16_t port() const { return _port; }
    std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(_port); }

    void set_policy(policy chosen);
    void set_delay(std::chrono::milliseconds delay) { _delay_ms = delay.count(); }

    uint64_t requests() const { return _requests; }
    uint64_t faults() const { return _faults; }

    // Each request fails with probability `rate`, with a kind drawn uniformly
    // from `kinds`; deterministic for a seed and request order.
    static policy random(uint64_t seed, double rate, std::vector<fault> kinds);

private:
    void accept_loop();
    void serve(int client);
    void relay(int client, const std::string& head, const std::string& body,
               const std::string& request_line, fault kind);
    bool sleep_unless_stopped(std::chrono::milliseconds duration);

    uint16_t _upstream_port;
    uint16_t _port = 0;
    int _listen_fd = -1;
    std::atomic<bool> _stop{false};
    std::atomic<int64_t> _delay_ms{1000};
    std::atomic<uint64_t> _requests{0};
    std::atomic<uint64_t> _faults{0};

    std::mutex _mutex;
    policy _policy;                   // guarded by _mutex
    std::list<std::thread> _workers;  // guarded by _mutex
    std::set<int> _open_fds;          // guarded by _mutex
    std::thread _acceptor;
};

}  // namespace floe::objstore::testing
