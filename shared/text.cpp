#include "shared/text.h"

#include <ctime>

#include "shared/error.h"

namespace ckh {

const char* error_class_name(ErrorClass kind) {
  switch (kind) {
    case ErrorClass::transient:
      return "transient";
    case ErrorClass::permanent:
      return "permanent";
    case ErrorClass::config:
      return "config";
    case ErrorClass::not_found:
      return "not_found";
    case ErrorClass::unsafe:
      return "unsafe";
    case ErrorClass::corrupt:
      return "corrupt";
    case ErrorClass::usage:
      return "usage";
    case ErrorClass::io:
      return "io";
  }
  return "io";
}

std::optional<std::uint64_t> parse_u64(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const std::uint64_t digit = static_cast<std::uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::optional<std::int64_t> parse_i64(std::string_view text) {
  const bool negative = !text.empty() && text.front() == '-';
  if (negative) text.remove_prefix(1);
  auto magnitude = parse_u64(text);
  const std::uint64_t limit = static_cast<std::uint64_t>(INT64_MAX) + (negative ? 1 : 0);
  if (!magnitude || *magnitude > limit) return std::nullopt;
  if (negative)
    return static_cast<std::int64_t>(~*magnitude + 1);  // two's complement, INT64_MIN included
  return static_cast<std::int64_t>(*magnitude);
}

namespace {
std::string digits(std::uint64_t magnitude, bool negative) {
  char buffer[24];
  char* end = buffer + sizeof buffer;
  char* p = end;
  do {
    *--p = static_cast<char>('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude != 0);
  if (negative) *--p = '-';
  return std::string(p, end);
}
}  // namespace

std::string to_decimal(std::int64_t value) {
  const bool negative = value < 0;
  return digits(
      negative ? ~static_cast<std::uint64_t>(value) + 1 : static_cast<std::uint64_t>(value),
      negative);
}

std::string to_decimal(std::uint64_t value) {
  return digits(value, false);
}

std::string one_line(std::string_view text, std::size_t max_bytes) {
  std::string out;
  out.reserve(text.size() < max_bytes ? text.size() : max_bytes);
  bool pending_space = false;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
    if (out.size() > max_bytes) break;
  }
  if (out.size() > max_bytes) {
    const std::size_t keep = max_bytes > 3 ? max_bytes - 3 : 0;
    out.resize(keep);
    out += "...";
  }
  return out;
}

namespace {
constexpr std::string_view kRedacted = "[redacted]";
constexpr std::size_t kMinSecretPiece = 12;

// Replaces every occurrence of needle; returns whether any was found.
bool replace_all(std::string& text, std::string_view needle) {
  bool found = false;
  std::size_t at = 0;
  while ((at = text.find(needle, at)) != std::string::npos) {
    text.replace(at, needle.size(), kRedacted);
    at += kRedacted.size();
    found = true;
  }
  return found;
}
}  // namespace

std::string redact(std::string_view text, std::string_view secret) {
  std::string out(text);
  secret = trim(secret);
  if (secret.empty()) return out;
  replace_all(out, secret);
  // A tool may print part of the secret (a prefix, a truncated echo): remove every window
  // of kMinSecretPiece bytes of it too. Quadratic in the secret, but secrets are short and
  // this runs only on error paths.
  if (secret.size() > kMinSecretPiece) {
    for (std::size_t start = 0; start + kMinSecretPiece <= secret.size(); ++start) {
      replace_all(out, secret.substr(start, kMinSecretPiece));
    }
  }
  return out;
}

bool is_printable_token(std::string_view text) {
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x21 || byte > 0x7e) return false;
  }
  return true;
}

std::string_view trim(std::string_view text) {
  auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

std::string format_utc(std::int64_t unix_s, const char* format) {
  char buffer[64];
  const std::time_t t = static_cast<std::time_t>(unix_s);
  struct tm parts {};
  ::gmtime_r(&t, &parts);
  const std::size_t length = std::strftime(buffer, sizeof buffer, format, &parts);
  return std::string(buffer, length);
}

}  // namespace ckh
