// The one JSON writer of the refresher: every JSON text it produces (status --json,
// check-config --json, request bodies, Claude Code's credential store) is built as a Json
// value (nlohmann::ordered_json: members keep the order they were added in) and turned
// into text by json_text. Reading JSON stays simdjson's job.
// Guarantees:
// - json_text never throws and always returns one valid JSON text in valid UTF-8, compact
//   (no white space). Any string or key holding bytes that are not valid UTF-8 (a backend's
//   stderr, a file name) has each invalid sequence replaced by U+FFFD; control characters,
//   quotes and backslashes are escaped.
// - json_string is json_text of one string: a quoted JSON string literal.
// Building a Json value does not throw either as long as a value is used as what it was
// made (j["k"] = ... on an object or null, push_back on an array or null).
// Usage:
//   Json body = Json::object();
//   body["SecretId"] = settings.secret_id;          // std::string, string_view, const char*
//   body["count"] = 3;                               // integers, bool, double
//   body["expires_at"] = nullptr;                    // null
//   body["problems"] = Json::array();                // then body["problems"].push_back(text)
//   std::string text = json_text(body);              // {"SecretId":"…","count":3,…}
// Callers: refresher/ (status, check-config, oauth, backends, sinks).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace ckh {

using Json = nlohmann::ordered_json;

// Compact JSON text of `value`; valid UTF-8 whatever bytes its strings hold.
std::string json_text(const Json& value);

// A JSON string literal for `text` (quotes included); invalid UTF-8 becomes U+FFFD.
std::string json_string(std::string_view text);

}  // namespace ckh
