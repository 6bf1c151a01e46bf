#include "objstore/s3_store.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <random>
#include <thread>

#include "objstore/s3_xml.h"
#include "objstore/sigv4.h"

namespace floe::objstore {

using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct s3_store::http_request {
    std::string method;
    std::string key;  // empty: the bucket itself
    std::vector<std::pair<std::string, std::string>> query;
    std::vector<std::pair<std::string, std::string>> headers;  // extra, signed
    byte_span body;
    std::string content_type;
    // A 200 whose body is an <Error> document is a failure (S3 reports some
    // CompleteMultipartUpload failures that way).
    bool error_in_ok_body = false;
    // Larger responses are an error: error documents, listings and other
    // metadata responses are small, so a misbehaving server cannot make a
    // request buffer without bound. Object GETs raise it.
    uint64_t max_body = 16u << 20;
    std::string what;  // for messages: "GET key"
};

struct s3_store::http_response {
    long status = 0;
    byte_vector body;
    std::map<std::string, std::string> headers;  // lower-case names
    uint32_t attempts = 0;
};

namespace {

std::once_flag curl_init_once;

struct transfer {
    byte_vector body;
    uint64_t max_body = UINT64_MAX;
    bool overflow = false;
    std::map<std::string, std::string> headers;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<transfer*>(user);
    size_t n = size * count;
    if (t->body.size() + n > t->max_body) {
        t->overflow = true;
        return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
    }
    t->body.insert(t->body.end(), data, data + n);
    return n;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<transfer*>(user);
    size_t n = size * count;
    std::string_view line(data, n);
    if (line.starts_with("HTTP/")) {
        t->headers.clear();  // a new response (after 100 Continue or a redirect)
        return n;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
        return n;
    }
    std::string name(line.substr(0, colon));
    for (char& c : name) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
    }
    while (!value.empty() &&
           (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
        value.remove_suffix(1);
    }
    t->headers[name] = std::string(value);
    return n;
}

bool retryable_curl_error(CURLcode code) {
    switch (code) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_WEIRD_SERVER_REPLY:
            return true;
        default:
            return false;
    }
}

bool retryable_status(long status) {
    return status >= 500 || status == 408 || status == 429;
}

std::string describe_error_body(const byte_vector& body) {
    std::string_view text(reinterpret_cast<const char*>(body.data()), body.size());
    auto code = xml::first_text(text, "Code");
    auto message = xml::first_text(text, "Message");
    std::string out;
    if (code) {
        out += *code;
    }
    if (message) {
        out += out.empty() ? "" : ": ";
        out += *message;
    }
    return out;
}

std::string body_text(const byte_vector& body) {
    return std::string(reinterpret_cast<const char*>(body.data()), body.size());
}

milliseconds backoff_delay(const s3_config& config, uint32_t attempt) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    uint64_t cap = static_cast<uint64_t>(config.backoff_max.count());
    uint64_t delay = static_cast<uint64_t>(config.backoff_base.count());
    for (uint32_t i = 1; i < attempt && delay < cap; ++i) {
        delay *= 2;
    }
    delay = std::min(delay, cap);
    std::uniform_int_distribution<uint64_t> jitter(delay / 2, delay);
    return milliseconds(static_cast<int64_t>(jitter(rng)));
}

const char* getenv_nonempty(const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr && *value != '\0' ? value : nullptr;
}

}  // namespace

result<s3_config> s3_config::from_environment(std::string bucket) {
    s3_config config;
    config.bucket = std::move(bucket);
    const char* access = getenv_nonempty("AWS_ACCESS_KEY_ID");
    const char* secret = getenv_nonempty("AWS_SECRET_ACCESS_KEY");
    if (access == nullptr || secret == nullptr) {
        return error(errc::invalid_argument,
                     "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set");
    }
    config.access_key = access;
    config.secret_key = secret;
    if (const char* token = getenv_nonempty("AWS_SESSION_TOKEN")) {
        config.session_token = token;
    }
    if (const char* region = getenv_nonempty("AWS_REGION")) {
        config.region = region;
    } else if (const char* default_region = getenv_nonempty("AWS_DEFAULT_REGION")) {
        config.region = default_region;
    }
    const char* endpoint = getenv_nonempty("AWS_ENDPOINT_URL_S3");
    if (endpoint == nullptr) {
        endpoint = getenv_nonempty("AWS_ENDPOINT_URL");
    }
    if (endpoint != nullptr) {
        config.endpoint = endpoint;
        while (!config.endpoint.empty() && config.endpoint.back() == '/') {
            config.endpoint.pop_back();
        }
        config.path_style = true;
    } else {
        config.endpoint = "https://s3." + config.region + ".amazonaws.com";
        config.path_style = false;
    }
    FLOE_TRY(config.validate());
    return config;
}

status s3_config::validate() const {
    auto bad = [](std::string what) { return error(errc::invalid_argument, std::move(what)); };
    if (!endpoint.starts_with("http://") && !endpoint.starts_with("https://")) {
        return bad("S3 endpoint must start with http:// or https://: " + endpoint);
    }
    size_t host_start = endpoint.find("://") + 3;
    if (endpoint.find('/', host_start) != std::string::npos || host_start == endpoint.size()) {
        return bad("S3 endpoint must be scheme://host[:port] without a path: " + endpoint);
    }
    if (bucket.empty() || bucket.size() > 63 ||
        bucket.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-") != std::string::npos) {
        return bad("invalid S3 bucket name: " + bucket);
    }
    if (region.empty()) {
        return bad("S3 region is empty");
    }
    if (max_attempts == 0) {
        return bad("S3 max_attempts must be at least 1");
    }
    if (multipart_part_size == 0 || multipart_threshold < multipart_part_size) {
        return bad("S3 multipart_threshold must be >= multipart_part_size > 0");
    }
    if (list_page_size == 0 || list_page_size > 1000) {
        return bad("S3 list_page_size must be in 1..1000");
    }
    return ok();
}

s3_store::s3_store(s3_config config) : _config(std::move(config)) {}

result<std::unique_ptr<s3_store>> s3_store::open(s3_config config) {
    FLOE_TRY(config.validate());
    std::call_once(curl_init_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    std::unique_ptr<s3_store> store(new s3_store(std::move(config)));
    const std::string& endpoint = store->_config.endpoint;
    size_t sep = endpoint.find("://");
    store->_scheme = endpoint.substr(0, sep);
    store->_host = endpoint.substr(sep + 3);
    // curl omits a default port from Host; so must the signed host header.
    if (store->_scheme == "http" && store->_host.ends_with(":80")) {
        store->_host.resize(store->_host.size() - 3);
    } else if (store->_scheme == "https" && store->_host.ends_with(":443")) {
        store->_host.resize(store->_host.size() - 4);
    }
    for (const std::string& entry : store->_config.resolve) {
        curl_slist* next = curl_slist_append(store->_resolve, entry.c_str());
        if (next == nullptr) {
            return error(errc::io, "out of memory building the curl resolve list");
        }
        store->_resolve = next;
    }
    return store;
}

s3_store::~s3_store() {
    for (CURL* handle : _idle_handles) {
        curl_easy_cleanup(handle);
    }
    curl_slist_free_all(_resolve);
}

CURL* s3_store::acquire_handle() {
    {
        std::lock_guard lock(_mutex);
        if (!_idle_handles.empty()) {
            CURL* handle = _idle_handles.back();
            _idle_handles.pop_back();
            return handle;
        }
    }
    CURL* handle = curl_easy_init();
    if (handle == nullptr) {
        abort_with("curl_easy_init failed");
    }
    return handle;
}

void s3_store::release_handle(CURL* handle) {
    std::lock_guard lock(_mutex);
    _idle_handles.push_back(handle);
}

result<s3_store::http_response> s3_store::attempt(CURL* handle, const http_request& request,
                                                  const std::string& payload_sha256,
                                                  milliseconds timeout) {
    // Where the request goes and what is signed.
    std::string host = _config.path_style ? _host : _config.bucket + "." + _host;
    std::string path = "/";
    if (_config.path_style) {
        path += _config.bucket;
        if (!request.key.empty()) {
            path += '/';
        }
    }
    path += sigv4::uri_encode(request.key, false);

    sigv4::request signing;
    signing.method = request.method;
    signing.canonical_uri = path;
    signing.query = request.query;
    signing.payload_sha256 = payload_sha256;
    std::string amz_date = sigv4::amz_date_now();
    signing.headers = request.headers;
    signing.headers.emplace_back("host", host);
    signing.headers.emplace_back("x-amz-content-sha256", signing.payload_sha256);
    signing.headers.emplace_back("x-amz-date", amz_date);
    if (!_config.session_token.empty()) {
        signing.headers.emplace_back("x-amz-security-token", _config.session_token);
    }
    sigv4::signing_context context{_config.access_key, _config.secret_key, _config.region, "s3",
                                   amz_date};
    std::string authorization = sigv4::authorization(context, signing);

    std::string url = _scheme + "://" + host + path;
    std::string query = sigv4::canonical_query(request.query);
    if (!query.empty()) {
        url += '?';
        url += query;
    }

    curl_slist* headers = nullptr;
    auto add_header = [&](const std::string& line) {
        curl_slist* next = curl_slist_append(headers, line.c_str());
        if (next == nullptr) {
            abort_with("out of memory building curl headers");
        }
        headers = next;
    };
    for (const auto& [name, value] : signing.headers) {
        add_header(name + ": " + value);
    }
    add_header("Authorization: " + authorization);
    add_header("Expect:");  // no 100-continue round trip
    if (!request.body.empty() || request.method == "PUT" || request.method == "POST") {
        add_header("Content-Type: " + (request.content_type.empty()
                                           ? std::string("application/octet-stream")
                                           : request.content_type));
    }

    transfer state;
    state.max_body = request.max_body;
    curl_easy_reset(handle);
    curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::min(_config.connect_timeout, timeout).count()));
    curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &state);
    curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(handle, CURLOPT_HEADERDATA, &state);
    if (_resolve != nullptr) {
        curl_easy_setopt(handle, CURLOPT_RESOLVE, _resolve);
    }
    if (request.method == "GET") {
        curl_easy_setopt(handle, CURLOPT_HTTPGET, 1L);
    } else if (request.method == "HEAD") {
        curl_easy_setopt(handle, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, request.method.c_str());
        if (request.method != "DELETE") {
            curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE,
                             static_cast<curl_off_t>(request.body.size()));
            curl_easy_setopt(handle, CURLOPT_POSTFIELDS,
                             request.body.empty() ? static_cast<const void*>("")
                                                  : static_cast<const void*>(request.body.data()));
        }
    }

    CURLcode code = curl_easy_perform(handle);
    curl_slist_free_all(headers);
    // The handle must not keep pointers into this frame.
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, nullptr);

    if (code != CURLE_OK) {
        if (state.overflow) {
            return error(errc::too_large, request.what + ": response larger than " +
                                              std::to_string(request.max_body) + " bytes");
        }
        return error(retryable_curl_error(code) ? errc::io : errc::unsupported,
                     request.what + ": " + curl_easy_strerror(code));
    }
    http_response response;
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &response.status);
    response.body = std::move(state.body);
    response.headers = std::move(state.headers);
    return response;
}

result<s3_store::http_response> s3_store::execute(const http_request& request) {
    auto start = clock_type::now();
    auto deadline = start + _config.retry_deadline;
    std::string last_failure;
    uint32_t attempt_number = 0;
    // Hashed once: retries of a 16 MiB part do not rehash it.
    const std::string payload_sha256 = request.body.empty()
                                           ? std::string(sigv4::empty_payload_sha256)
                                           : sigv4::sha256_hex(request.body);
    CURL* handle = acquire_handle();
    while (true) {
        ++attempt_number;
        auto now = clock_type::now();
        auto left = std::chrono::duration_cast<milliseconds>(deadline - now);
        milliseconds timeout = std::max(milliseconds(1), std::min(_config.request_timeout, left));
        auto outcome = attempt(handle, request, payload_sha256, timeout);
        bool retry = false;
        if (!outcome) {
            const error& failure = outcome.error_value();
            if (failure.code != errc::io) {  // not a transient transport failure
                release_handle(handle);
                return error(errc::io, failure.message);
            }
            last_failure = failure.message;
            retry = true;
        } else if (retryable_status(outcome->status)) {
            last_failure = request.what + ": HTTP " + std::to_string(outcome->status) + " " +
                           describe_error_body(outcome->body);
            retry = true;
        } else if (request.error_in_ok_body && outcome->status == 200 &&
                   body_text(outcome->body).find("<Error>") != std::string::npos) {
            last_failure =
                request.what + ": error in a 200 response: " + describe_error_body(outcome->body);
            retry = true;
        }
        if (!retry) {
            release_handle(handle);
            outcome->attempts = attempt_number;
            return outcome;
        }
        milliseconds wait = backoff_delay(_config, attempt_number);
        if (attempt_number >= _config.max_attempts || clock_type::now() + wait >= deadline) {
            // A handle whose last transfer failed may hold a broken connection.
            curl_easy_cleanup(handle);
            auto elapsed = std::chrono::duration_cast<milliseconds>(clock_type::now() - start);
            return error(errc::io, last_failure + " (gave up after " +
                                       std::to_string(attempt_number) + " attempts, " +
                                       std::to_string(elapsed.count()) + " ms)");
        }
        std::this_thread::sleep_for(wait);
    }
}

status s3_store::put(std::string_view key, byte_span data) {
    FLOE_TRY(validate_key(key));
    if (data.size() > _config.multipart_threshold) {
        return put_multipart(key, data);
    }
    http_request request;
    request.method = "PUT";
    request.key = std::string(key);
    request.body = data;
    request.what = "PUT " + request.key;
    auto response = execute(request);
    FLOE_TRY(response);
    if (response->status != 200) {
        return error(errc::io, request.what + ": HTTP " + std::to_string(response->status) + " " +
                                   describe_error_body(response->body));
    }
    return ok();
}

status s3_store::put_multipart(std::string_view key, byte_span data) {
    http_request create;
    create.method = "POST";
    create.key = std::string(key);
    create.query = {{"uploads", ""}};
    create.what = "CreateMultipartUpload " + create.key;
    auto created = execute(create);
    FLOE_TRY(created);
    std::string_view created_text(reinterpret_cast<const char*>(created->body.data()),
                                  created->body.size());
    auto upload_id = xml::first_text(created_text, "UploadId");
    if (created->status != 200 || !upload_id || upload_id->empty()) {
        return error(errc::io, create.what + ": HTTP " + std::to_string(created->status) + " " +
                                   describe_error_body(created->body));
    }

    auto abort_and_fail = [&](error failure) -> status {
        status aborted = abort_multipart_upload(key, *upload_id);
        if (!aborted) {
            failure.message += "; abort also failed: " + aborted.error_value().message;
        } else {
            failure.message += " (upload aborted)";
        }
        return failure;
    };

    std::string complete_body = "<CompleteMultipartUpload>";
    uint64_t part_size = _config.multipart_part_size;
    uint32_t part_number = 0;
    for (uint64_t offset = 0; offset < data.size(); offset += part_size) {
        ++part_number;
        http_request part;
        part.method = "PUT";
        part.key = std::string(key);
        part.query = {{"partNumber", std::to_string(part_number)}, {"uploadId", *upload_id}};
        part.body = data.subspan(offset, std::min<uint64_t>(part_size, data.size() - offset));
        part.what = "UploadPart " + part.key + " #" + std::to_string(part_number);
        auto uploaded = execute(part);
        if (!uploaded) {
            return abort_and_fail(uploaded.error_value());
        }
        auto etag = uploaded->headers.find("etag");
        if (uploaded->status != 200 || etag == uploaded->headers.end()) {
            return abort_and_fail(error(errc::io, part.what + ": HTTP " +
                                                      std::to_string(uploaded->status) + " " +
                                                      describe_error_body(uploaded->body)));
        }
        complete_body += "<Part><PartNumber>" + std::to_string(part_number) +
                         "</PartNumber><ETag>" + xml::escape(etag->second) + "</ETag></Part>";
    }
    complete_body += "</CompleteMultipartUpload>";

    http_request complete;
    complete.method = "POST";
    complete.key = std::string(key);
    complete.query = {{"uploadId", *upload_id}};
    complete.body =
        byte_span(reinterpret_cast<const uint8_t*>(complete_body.data()), complete_body.size());
    complete.content_type = "application/xml";
    complete.error_in_ok_body = true;
    complete.what = "CompleteMultipartUpload " + complete.key;
    auto completed = execute(complete);
    if (!completed) {
        return abort_and_fail(completed.error_value());
    }
    if (completed->status == 200) {
        return ok();
    }
    // A retried Complete whose first attempt succeeded (the response was lost)
    // finds the upload gone: the object is there if it has the right size.
    if (completed->status == 404 && completed->attempts > 1) {
        auto info = head(key);
        if (info && info->size == data.size()) {
            return ok();
        }
    }
    return abort_and_fail(error(errc::io, complete.what + ": HTTP " +
                                              std::to_string(completed->status) + " " +
                                              describe_error_body(completed->body)));
}

status s3_store::abort_multipart_upload(std::string_view key, std::string_view upload_id) {
    http_request request;
    request.method = "DELETE";
    request.key = std::string(key);
    request.query = {{"uploadId", std::string(upload_id)}};
    request.what = "AbortMultipartUpload " + request.key;
    auto response = execute(request);
    FLOE_TRY(response);
    if (response->status != 204 && response->status != 200 && response->status != 404) {
        return error(errc::io, request.what + ": HTTP " + std::to_string(response->status) + " " +
                                   describe_error_body(response->body));
    }
    return ok();
}

result<byte_vector> s3_store::get(std::string_view key) {
    FLOE_TRY(validate_key(key));
    http_request request;
    request.method = "GET";
    request.key = std::string(key);
    request.max_body = UINT64_MAX;  // the object itself
    request.what = "GET " + request.key;
    auto response = execute(request);
    FLOE_TRY(response);
    if (response->status == 404) {
        return error(errc::not_found, "no object " + request.key);
    }
    if (response->status != 200) {
        return error(errc::io, request.what + ": HTTP " + std::to_string(response->status) + " " +
                                   describe_error_body(response->body));
    }
    return std::move(response->body);
}

result<byte_vector> s3_store::get_range(std::string_view key, uint64_t offset, uint64_t length) {
    FLOE_TRY(validate_key(key));
    if (length == 0) {
        FLOE_TRY(head(key));
        return byte_vector{};
    }
    uint64_t last = length > UINT64_MAX - offset ? UINT64_MAX - 1 : offset + length - 1;
    http_request request;
    request.method = "GET";
    request.key = std::string(key);
    request.headers = {{"range", "bytes=" + std::to_string(offset) + "-" + std::to_string(last)}};
    request.max_body = length + (64u << 10);  // room for an error document
    request.what =
        "GET " + request.key + " range " + std::to_string(offset) + "+" + std::to_string(length);
    auto response = execute(request);
    if (!response && response.error_value().code == errc::io &&
        response.error_value().message.find("response larger") != std::string::npos) {
        // A server that ignored Range on a large object: fetch whole, cut.
        request.headers.clear();
        request.max_body = UINT64_MAX;
        response = execute(request);
    }
    FLOE_TRY(response);
    if (response->status == 404) {
        return error(errc::not_found, "no object " + request.key);
    }
    if (response->status == 416) {
        return byte_vector{};  // the range starts at or past the end
    }
    if (response->status == 206) {
        if (response->body.size() > length) {
            response->body.resize(length);
        }
        return std::move(response->body);
    }
    if (response->status == 200) {  // Range ignored: the whole object
        byte_vector& whole = response->body;
        if (offset >= whole.size()) {
            return byte_vector{};
        }
        uint64_t end = std::min<uint64_t>(whole.size(), offset + std::min(length, whole.size()));
        return byte_vector(whole.begin() + static_cast<std::ptrdiff_t>(offset),
                           whole.begin() + static_cast<std::ptrdiff_t>(end));
    }
    return error(errc::io, request.what + ": HTTP " + std::to_string(response->status) + " " +
                               describe_error_body(response->body));
}

result<object_info> s3_store::head(std::string_view key) {
    FLOE_TRY(validate_key(key));
    http_request request;
    request.method = "HEAD";
    request.key = std::string(key);
    request.what = "HEAD " + request.key;
    auto response = execute(request);
    FLOE_TRY(response);
    if (response->status == 404) {
        return error(errc::not_found, "no object " + request.key);
    }
    auto length = response->headers.find("content-length");
    if (response->status != 200 || length == response->headers.end()) {
        return error(errc::io, request.what + ": HTTP " + std::to_string(response->status));
    }
    char* end = nullptr;
    uint64_t size = std::strtoull(length->second.c_str(), &end, 10);
    if (end == length->second.c_str() || *end != '\0') {
        return error(errc::corrupt, request.what + ": bad Content-Length " + length->second);
    }
    return object_info{request.key, size};
}

status s3_store::remove(std::string_view key) {
    FLOE_TRY(validate_key(key));
    http_request request;
    request.method = "DELETE";
    request.key = std::string(key);
    request.what = "DELETE " + request.key;
    auto response = execute(request);
    FLOE_TRY(response);
    if (response->status != 204 && response->status != 200 && response->status != 404) {
        return error(errc::io, request.what + ": HTTP " + std::to_string(response->status) + " " +
                                   describe_error_body(response->body));
    }
    return ok();
}

result<std::vector<object_info>> s3_store::list(std::string_view prefix) {
    FLOE_TRY(validate_prefix(prefix));
    std::vector<object_info> out;
    std::string token;
    while (true) {
        http_request request;
        request.method = "GET";
        request.query = {{"list-type", "2"}, {"max-keys", std::to_string(_config.list_page_size)}};
        if (!prefix.empty()) {
            request.query.emplace_back("prefix", std::string(prefix));
        }
        if (!token.empty()) {
            request.query.emplace_back("continuation-token", token);
        }
        request.what = "ListObjectsV2 " + std::string(prefix);
        auto response = execute(request);
        FLOE_TRY(response);
        if (response->status != 200) {
            return error(errc::io, request.what + ": HTTP " + std::to_string(response->status) +
                                       " " + describe_error_body(response->body));
        }
        std::string_view text(reinterpret_cast<const char*>(response->body.data()),
                              response->body.size());
        if (text.find("<ListBucketResult") == std::string_view::npos) {
            return error(errc::corrupt, request.what + ": not a ListBucketResult");
        }
        for (std::string_view contents : xml::elements(text, "Contents")) {
            auto key = xml::first_text(contents, "Key");
            auto size = xml::first_text(contents, "Size");
            if (!key || !size) {
                return error(errc::corrupt, request.what + ": <Contents> without Key or Size");
            }
            char* end = nullptr;
            uint64_t bytes = std::strtoull(size->c_str(), &end, 10);
            if (size->empty() || *end != '\0') {
                return error(errc::corrupt, request.what + ": bad Size " + *size);
            }
            out.push_back(object_info{std::move(*key), bytes});
        }
        auto truncated = xml::first_text(text, "IsTruncated");
        if (!truncated || *truncated != "true") {
            break;
        }
        auto next = xml::first_text(text, "NextContinuationToken");
        if (!next || next->empty() || *next == token) {
            return error(errc::corrupt, request.what + ": truncated page without a new token");
        }
        token = std::move(*next);
    }
    return out;
}

result<std::vector<s3_store::pending_upload>> s3_store::list_multipart_uploads(
    std::string_view prefix) {
    FLOE_TRY(validate_prefix(prefix));
    std::vector<pending_upload> out;
    std::string key_marker;
    std::string upload_marker;
    while (true) {
        http_request request;
        request.method = "GET";
        request.query = {{"uploads", ""}};
        if (!prefix.empty()) {
            request.query.emplace_back("prefix", std::string(prefix));
        }
        if (!key_marker.empty()) {
            request.query.emplace_back("key-marker", key_marker);
            request.query.emplace_back("upload-id-marker", upload_marker);
        }
        request.what = "ListMultipartUploads " + std::string(prefix);
        auto response = execute(request);
        FLOE_TRY(response);
        if (response->status != 200) {
            return error(errc::io, request.what + ": HTTP " + std::to_string(response->status) +
                                       " " + describe_error_body(response->body));
        }
        std::string_view text(reinterpret_cast<const char*>(response->body.data()),
                              response->body.size());
        for (std::string_view upload : xml::elements(text, "Upload")) {
            auto key = xml::first_text(upload, "Key");
            auto id = xml::first_text(upload, "UploadId");
            if (!key || !id) {
                return error(errc::corrupt, request.what + ": <Upload> without Key or UploadId");
            }
            out.push_back(pending_upload{std::move(*key), std::move(*id)});
        }
        auto truncated = xml::first_text(text, "IsTruncated");
        if (!truncated || *truncated != "true") {
            break;
        }
        auto next_key = xml::first_text(text, "NextKeyMarker");
        auto next_upload = xml::first_text(text, "NextUploadIdMarker");
        if (!next_key || (*next_key == key_marker && next_upload.value_or("") == upload_marker)) {
            return error(errc::corrupt, request.what + ": truncated page without new markers");
        }
        key_marker = std::move(*next_key);
        upload_marker = next_upload.value_or("");
    }
    return out;
}

status s3_store::create_bucket() {
    http_request request;
    request.method = "PUT";
    request.what = "CreateBucket " + _config.bucket;
    std::string body;
    if (_config.region != "us-east-1") {
        body = "<CreateBucketConfiguration><LocationConstraint>" + xml::escape(_config.region) +
               "</LocationConstraint></CreateBucketConfiguration>";
        request.body = byte_span(reinterpret_cast<const uint8_t*>(body.data()), body.size());
        request.content_type = "application/xml";
    }
    auto response = execute(request);
    FLOE_TRY(response);
    if (response->status == 200) {
        return ok();
    }
    std::string detail = describe_error_body(response->body);
    if (response->status == 409 && detail.starts_with("BucketAlreadyOwnedByYou")) {
        return ok();
    }
    return error(errc::io,
                 request.what + ": HTTP " + std::to_string(response->status) + " " + detail);
}

}  // namespace floe::objstore
