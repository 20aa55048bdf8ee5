// Reading fields of a simdjson DOM object the way outside JSON arrives: a field of the wrong
// type is as good as absent; numbers may come as integers or integral floats (28800.0).
// Callers: the parsers of token-endpoint and discovery answers (oauth/, oauth2/).
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace ckh {

// The body as a JSON object, or none (not JSON, or not an object). The parser owns what the
// object points into: keep it alive as long as the object.
inline std::optional<simdjson::dom::object> parse_json_object(simdjson::dom::parser& parser,
                                                              std::string_view body) {
  simdjson::dom::element doc;
  simdjson::dom::object object;
  if (parser.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS ||
      doc.get(object) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  return object;
}

inline std::optional<std::string_view> string_field(simdjson::dom::object object,
                                                    std::string_view key) {
  std::string_view value;
  if (object[key].get(value) != simdjson::SUCCESS) return std::nullopt;
  return value;
}

inline std::optional<std::int64_t> integer_field(simdjson::dom::object object,
                                                 std::string_view key) {
  simdjson::dom::element element;
  if (object[key].get(element) != simdjson::SUCCESS) return std::nullopt;
  std::int64_t value = 0;
  if (element.get(value) == simdjson::SUCCESS) return value;
  double real = 0;
  if (element.get(real) == simdjson::SUCCESS && real >= 0 && real <= 9.0e15 &&
      real == static_cast<double>(static_cast<std::int64_t>(real))) {
    return static_cast<std::int64_t>(real);
  }
  return std::nullopt;
}

// An integer, an integral float, or a decimal string ("3600": Azure AD v1 sends numbers so).
inline std::optional<std::int64_t> integer_or_decimal_field(simdjson::dom::object object,
                                                            std::string_view key) {
  if (auto number = integer_field(object, key)) return number;
  std::string_view text;
  if (object[key].get(text) != simdjson::SUCCESS || text.empty() || text.size() > 18) {
    return std::nullopt;
  }
  std::int64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

}  // namespace ckh
