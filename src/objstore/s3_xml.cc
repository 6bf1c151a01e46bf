#include "objstore/s3_xml.h"

#include <cstdint>
#include <cstdlib>

namespace floe::objstore::xml {

namespace {

// Index of the '<' of the next start tag `name` at or after `from`, with
// *self_closing and *content_start set; npos if none.
size_t find_start_tag(std::string_view doc, std::string_view name, size_t from, bool* self_closing,
                      size_t* content_start) {
    while (true) {
        size_t lt = doc.find('<', from);
        if (lt == std::string_view::npos || lt + 1 + name.size() > doc.size()) {
            return std::string_view::npos;
        }
        from = lt + 1;
        if (doc.substr(lt + 1, name.size()) != name) {
            continue;
        }
        size_t after = lt + 1 + name.size();
        if (after >= doc.size()) {
            return std::string_view::npos;
        }
        char c = doc[after];
        if (c != '>' && c != '/' && c != ' ' && c != '\t' && c != '\r' && c != '\n') {
            continue;  // a longer name such as <KeyMarker> when looking for <Key>
        }
        size_t gt = doc.find('>', after);
        if (gt == std::string_view::npos) {
            return std::string_view::npos;
        }
        *self_closing = doc[gt - 1] == '/';
        *content_start = gt + 1;
        return lt;
    }
}

void append_utf8(std::string& out, uint32_t code) {
    if (code < 0x80) {
        out += static_cast<char>(code);
    } else if (code < 0x800) {
        out += static_cast<char>(0xc0 | (code >> 6));
        out += static_cast<char>(0x80 | (code & 0x3f));
    } else if (code < 0x10000) {
        out += static_cast<char>(0xe0 | (code >> 12));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (code & 0x3f));
    } else {
        out += static_cast<char>(0xf0 | (code >> 18));
        out += static_cast<char>(0x80 | ((code >> 12) & 0x3f));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (code & 0x3f));
    }
}

}  // namespace

std::vector<std::string_view> elements(std::string_view doc, std::string_view name) {
    std::vector<std::string_view> out;
    std::string closing = "</" + std::string(name) + ">";
    size_t from = 0;
    while (true) {
        bool self_closing = false;
        size_t content_start = 0;
        size_t lt = find_start_tag(doc, name, from, &self_closing, &content_start);
        if (lt == std::string_view::npos) {
            return out;
        }
        if (self_closing) {
            out.emplace_back();
            from = content_start;
            continue;
        }
        size_t end = doc.find(closing, content_start);
        if (end == std::string_view::npos) {
            return out;  // truncated document: keep what was complete
        }
        out.push_back(doc.substr(content_start, end - content_start));
        from = end + closing.size();
    }
}

std::optional<std::string> first_text(std::string_view doc, std::string_view name) {
    auto found = elements(doc, name);
    if (found.empty()) {
        return std::nullopt;
    }
    return decode(found.front());
}

std::string decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    size_t i = 0;
    while (i < text.size()) {
        if (text.substr(i, 9) == "<![CDATA[") {
            size_t end = text.find("]]>", i + 9);
            if (end == std::string_view::npos) {
                out += text.substr(i);
                break;
            }
            out += text.substr(i + 9, end - i - 9);
            i = end + 3;
            continue;
        }
        if (text[i] != '&') {
            out += text[i++];
            continue;
        }
        size_t semi = text.find(';', i);
        if (semi == std::string_view::npos || semi - i > 10) {
            out += text[i++];
            continue;
        }
        std::string_view entity = text.substr(i + 1, semi - i - 1);
        if (entity == "amp") {
            out += '&';
        } else if (entity == "lt") {
            out += '<';
        } else if (entity == "gt") {
            out += '>';
        } else if (entity == "quot") {
            out += '"';
        } else if (entity == "apos") {
            out += '\'';
        } else if (entity.size() > 1 && entity[0] == '#') {
            std::string digits(entity.substr(1));
            int base = 10;
            if (!digits.empty() && (digits[0] == 'x' || digits[0] == 'X')) {
                base = 16;
                digits.erase(0, 1);
            }
            char* end = nullptr;
            unsigned long code = std::strtoul(digits.c_str(), &end, base);
            if (digits.empty() || end == nullptr || *end != '\0' || code > 0x10ffff) {
                out += text.substr(i, semi - i + 1);
            } else {
                append_utf8(out, static_cast<uint32_t>(code));
            }
        } else {
            out += text.substr(i, semi - i + 1);
        }
        i = semi + 1;
    }
    return out;
}

std::string escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&apos;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

}  // namespace floe::objstore::xml
