#include "objstore/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <ctime>

#include "base/result.h"

namespace floe::objstore::sigv4 {

namespace {

using digest = std::array<uint8_t, 32>;

digest hmac_sha256(byte_span key, std::string_view data) {
    digest out{};
    unsigned int length = 0;
    if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(),
             &length) == nullptr ||
        length != out.size()) {
        abort_with("HMAC-SHA256 failed");
    }
    return out;
}

byte_span as_bytes(std::string_view text) {
    return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

// Trims surrounding spaces and collapses inner runs of spaces to one.
std::string trim_value(std::string_view value) {
    std::string out;
    bool pending_space = false;
    for (char c : value) {
        if (c == ' ' || c == '\t') {
            pending_space = !out.empty();
            continue;
        }
        if (pending_space) {
            out += ' ';
            pending_space = false;
        }
        out += c;
    }
    return out;
}

std::vector<std::pair<std::string, std::string>> sorted_headers(const request& req) {
    std::vector<std::pair<std::string, std::string>> out;
    out.reserve(req.headers.size());
    for (const auto& [name, value] : req.headers) {
        out.emplace_back(lower(name), trim_value(value));
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string scope(const signing_context& ctx) {
    std::string out(ctx.amz_date.substr(0, 8));
    out += '/';
    out += ctx.region;
    out += '/';
    out += ctx.service;
    out += "/aws4_request";
    return out;
}

}  // namespace

std::string hex(byte_span data) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(data.size() * 2);
    for (uint8_t b : data) {
        out += digits[b >> 4];
        out += digits[b & 0xf];
    }
    return out;
}

std::string sha256_hex(byte_span data) {
    digest out{};
    SHA256(data.data(), data.size(), out.data());
    return hex(out);
}

std::string sha256_hex(std::string_view data) {
    return sha256_hex(as_bytes(data));
}

std::string uri_encode(std::string_view text, bool encode_slash) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~' ||
            (c == '/' && !encode_slash)) {
            out += c;
        } else {
            out += '%';
            out += digits[u >> 4];
            out += digits[u & 0xf];
        }
    }
    return out;
}

std::string canonical_query(const std::vector<std::pair<std::string, std::string>>& query) {
    std::vector<std::pair<std::string, std::string>> encoded;
    encoded.reserve(query.size());
    for (const auto& [name, value] : query) {
        encoded.emplace_back(uri_encode(name, true), uri_encode(value, true));
    }
    std::sort(encoded.begin(), encoded.end());
    std::string out;
    for (const auto& [name, value] : encoded) {
        if (!out.empty()) {
            out += '&';
        }
        out += name;
        out += '=';
        out += value;
    }
    return out;
}

std::string signed_headers(const request& req) {
    std::string out;
    for (const auto& header : sorted_headers(req)) {
        if (!out.empty()) {
            out += ';';
        }
        out += header.first;
    }
    return out;
}

std::string canonical_request(const request& req) {
    std::string out = req.method;
    out += '\n';
    out += req.canonical_uri.empty() ? "/" : req.canonical_uri;
    out += '\n';
    out += canonical_query(req.query);
    out += '\n';
    for (const auto& [name, value] : sorted_headers(req)) {
        out += name;
        out += ':';
        out += value;
        out += '\n';
    }
    out += '\n';
    out += signed_headers(req);
    out += '\n';
    out += req.payload_sha256;
    return out;
}

std::string string_to_sign(const signing_context& ctx, std::string_view canonical) {
    std::string out = "AWS4-HMAC-SHA256\n";
    out += ctx.amz_date;
    out += '\n';
    out += scope(ctx);
    out += '\n';
    out += sha256_hex(canonical);
    return out;
}

std::string signature(const signing_context& ctx, std::string_view to_sign) {
    std::string secret = "AWS4";
    secret += ctx.secret_key;
    digest key = hmac_sha256(as_bytes(secret), ctx.amz_date.substr(0, 8));
    key = hmac_sha256(key, ctx.region);
    key = hmac_sha256(key, ctx.service);
    key = hmac_sha256(key, "aws4_request");
    return hex(hmac_sha256(key, to_sign));
}

std::string authorization(const signing_context& ctx, const request& req) {
    std::string out = "AWS4-HMAC-SHA256 Credential=";
    out += ctx.access_key;
    out += '/';
    out += scope(ctx);
    out += ",SignedHeaders=";
    out += signed_headers(req);
    out += ",Signature=";
    out += signature(ctx, string_to_sign(ctx, canonical_request(req)));
    return out;
}

std::string amz_date_now() {
    std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char buffer[17];
    std::strftime(buffer, sizeof(buffer), "%Y%m%dT%H%M%SZ", &utc);
    return buffer;
}

}  // namespace floe::objstore::sigv4
