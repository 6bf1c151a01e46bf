// The little XML the S3 backend reads and writes: S3 responses are flat,
// well-formed documents, and Floe needs only a few elements from them (Key,
// Size, IsTruncated, NextContinuationToken, UploadId, Code, Message). This is
// a scanner for those, not a general parser: it finds <name>text</name> (or
// <name attr="...">, or <name/>) occurrences, assumes an element does not
// nest inside another of the same name (true of every S3 response Floe
// reads), and decodes the five predefined entities, numeric character
// references and CDATA sections.
//
// All functions are pure and thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace floe::objstore::xml {

// Raw (undecoded) inner text of every `name` element in document order.
std::vector<std::string_view> elements(std::string_view document, std::string_view name);
// Decoded text of the first `name` element, if any.
std::optional<std::string> first_text(std::string_view document, std::string_view name);
// Entity-decodes text; malformed references are kept literally.
std::string decode(std::string_view text);
// Escapes & < > " ' for element text.
std::string escape(std::string_view text);

}  // namespace floe::objstore::xml
