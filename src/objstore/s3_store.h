// s3_store: an object_store over the S3 REST API (Amazon S3 or any
// S3-compatible server), using libcurl for HTTP and Floe's own SigV4 signer
// (sigv4.h).
//
// Requests: PutObject (or CreateMultipartUpload / UploadPart /
// CompleteMultipartUpload above multipart_threshold, with
// AbortMultipartUpload when any step fails), GetObject with Range,
// HeadObject, DeleteObject, ListObjectsV2 (every page, by continuation
// token). Path-style (http://host/bucket/key) and virtual-hosted-style
// (http://bucket.host/key) addressing.
//
// Retries: a request is retried on connection failures, timeouts, resets,
// HTTP 5xx (including 503 SlowDown), 408 and 429, never on other 4xx. The
// wait before attempt n+1 is "equal jitter" exponential backoff:
// d = min(backoff_max, backoff_base * 2^(n-1)), wait uniform in [d/2, d].
// Attempts stop at max_attempts or when the next wait would pass
// retry_deadline (measured from the request's first attempt; each attempt's
// timeout is also cut to fit). A request that runs out fails with errc::io.
// put/get therefore take at most about retry_deadline per HTTP request
// (a multipart put makes 2 + parts requests).
//
// Thread-safety: all methods may be called concurrently. Idle curl handles
// (and so their kept-alive connections) sit in a pool guarded by a mutex;
// a request takes one for its whole duration.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "objstore/object_store.h"

typedef void CURL;
struct curl_slist;

namespace floe::objstore {

struct s3_config {
    // Scheme, host and optional port: "https://s3.us-east-1.amazonaws.com",
    // "http://127.0.0.1:9000". No path.
    std::string endpoint;
    std::string region = "us-east-1";
    std::string bucket;
    std::string access_key;
    std::string secret_key;
    std::string session_token;  // empty unless temporary credentials
    // true: http://endpoint/bucket/key; false: http://bucket.endpoint/key.
    bool path_style = false;
    // Extra name resolutions, curl's CURLOPT_RESOLVE format "host:port:address";
    // lets a test reach "bucket.localhost:PORT" on 127.0.0.1.
    std::vector<std::string> resolve;

    std::chrono::milliseconds connect_timeout{3'000};
    std::chrono::milliseconds request_timeout{60'000};  // one attempt, end to end
    uint32_t max_attempts = 8;                          // per request, first one included
    std::chrono::milliseconds backoff_base{100};
    std::chrono::milliseconds backoff_max{5'000};
    std::chrono::milliseconds retry_deadline{120'000};  // per request, all attempts

    uint64_t multipart_threshold = 64ull << 20;  // bytes; larger puts go multipart
    uint64_t multipart_part_size = 16ull << 20;  // bytes; S3 needs >= 5 MiB but the last
    uint32_t list_page_size = 1000;              // ListObjectsV2 max-keys (1..1000)

    // Reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
    // AWS_REGION (else AWS_DEFAULT_REGION, else us-east-1), AWS_ENDPOINT_URL_S3
    // (else AWS_ENDPOINT_URL, else https://s3.<region>.amazonaws.com). A custom
    // endpoint selects path-style addressing (what S3-compatible servers
    // expect); AWS itself gets virtual-hosted style. Missing credentials are
    // errc::invalid_argument.
    static result<s3_config> from_environment(std::string bucket);

    status validate() const;
};

class s3_store final : public object_store {
public:
    static result<std::unique_ptr<s3_store>> open(s3_config config);
    ~s3_store() override;
    s3_store(const s3_store&) = delete;
    s3_store& operator=(const s3_store&) = delete;

    status put(std::string_view key, byte_span data) override;
    result<byte_vector> get(std::string_view key) override;
    result<byte_vector> get_range(std::string_view key, uint64_t offset, uint64_t length) override;
    result<object_info> head(std::string_view key) override;
    status remove(std::string_view key) override;
    result<std::vector<object_info>> list(std::string_view prefix) override;

    // Creates the bucket; ok if this account already owns it. For tests and
    // first-time setup; brokers expect the bucket to exist.
    status create_bucket();

    struct pending_upload {
        std::string key;
        std::string upload_id;
    };
    // Multipart uploads begun and neither completed nor aborted (every page);
    // garbage collection aborts old ones.
    result<std::vector<pending_upload>> list_multipart_uploads(std::string_view prefix);
    status abort_multipart_upload(std::string_view key, std::string_view upload_id);

    const s3_config& config() const { return _config; }

private:
    struct http_request;
    struct http_response;

    explicit s3_store(s3_config config);
    result<http_response> execute(const http_request& request);
    result<http_response> attempt(CURL* handle, const http_request& request,
                                  const std::string& payload_sha256,
                                  std::chrono::milliseconds timeout);
    status put_multipart(std::string_view key, byte_span data);
    CURL* acquire_handle();
    void release_handle(CURL* handle);

    const s3_config _config;
    std::string _scheme;
    std::string _host;  // host[:port] as in the endpoint, no bucket
    curl_slist* _resolve = nullptr;

    std::mutex _mutex;
    std::vector<CURL*> _idle_handles;  // guarded by _mutex
};

}  // namespace floe::objstore
