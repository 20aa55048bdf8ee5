#include "refresher/oauth2/jwt.h"

#include <simdjson.h>

#include <cmath>

namespace ckh {
namespace {

int base64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// The JSON object `part` (base64url) decodes to, parsed by `parser`; nothing when it is
// not one.
std::optional<simdjson::dom::object> json_object_part(simdjson::dom::parser& parser,
                                                      std::string_view part, std::string& storage) {
  if (part.empty()) return std::nullopt;
  auto decoded = base64url_decode(part);
  if (!decoded) return std::nullopt;
  storage = std::move(*decoded);
  simdjson::dom::element doc;
  simdjson::dom::object object;
  if (parser.parse(storage.data(), storage.size()).get(doc) != simdjson::SUCCESS ||
      doc.get(object) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  return object;
}

}  // namespace

std::optional<std::string> base64url_decode(std::string_view text) {
  // Padding: at most two '=' at the end, and only when they complete a multiple of 4.
  std::size_t padding = 0;
  while (padding < text.size() && padding < 3 && text[text.size() - 1 - padding] == '=') {
    ++padding;
  }
  if (padding > 0) {
    if (padding > 2 || text.size() % 4 != 0) return std::nullopt;
    text.remove_suffix(padding);
    if ((text.size() % 4) + padding != 4) return std::nullopt;  // "AAAA==" is not padding
  }
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  std::uint32_t bits = 0;
  int count = 0;
  for (const char c : text) {
    const int value = base64url_value(c);
    if (value < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<std::uint32_t>(value);
    if (++count == 4) {
      out += static_cast<char>((bits >> 16) & 0xff);
      out += static_cast<char>((bits >> 8) & 0xff);
      out += static_cast<char>(bits & 0xff);
      bits = 0;
      count = 0;
    }
  }
  if (count == 2) {  // 12 bits: one byte, 4 unused bits
    if ((bits & 0x0f) != 0) return std::nullopt;
    out += static_cast<char>((bits >> 4) & 0xff);
  } else if (count == 3) {  // 18 bits: two bytes, 2 unused bits
    if ((bits & 0x03) != 0) return std::nullopt;
    out += static_cast<char>((bits >> 10) & 0xff);
    out += static_cast<char>((bits >> 2) & 0xff);
  }
  return out;
}

std::optional<std::int64_t> jwt_expiry(std::string_view token) {
  if (token.size() > kMaxJwtBytes) return std::nullopt;
  const auto first = token.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  const auto second = token.find('.', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  if (token.find('.', second + 1) != std::string_view::npos) return std::nullopt;
  const std::string_view header = token.substr(0, first);
  const std::string_view payload = token.substr(first + 1, second - first - 1);
  const std::string_view signature = token.substr(second + 1);
  if (!base64url_decode(signature)) return std::nullopt;  // may be empty (RFC 7515 A.5)

  simdjson::dom::parser parser;
  std::string storage;
  if (!json_object_part(parser, header, storage)) return std::nullopt;
  const auto claims = json_object_part(parser, payload, storage);
  if (!claims) return std::nullopt;
  simdjson::dom::element exp;
  if ((*claims)["exp"].get(exp) != simdjson::SUCCESS) return std::nullopt;
  std::int64_t integer = 0;
  if (exp.get(integer) == simdjson::SUCCESS) {
    if (integer < 0 || integer > kMaxJwtTime) return std::nullopt;
    return integer;
  }
  double real = 0;
  if (exp.get(real) != simdjson::SUCCESS || !std::isfinite(real) || real < 0 ||
      real > static_cast<double>(kMaxJwtTime) || real != std::floor(real)) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(real);
}

}  // namespace ckh
