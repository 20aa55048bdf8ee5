#include "shared/text.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <ctime>
#include <vector>

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

std::string hex_encode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char byte : bytes) {
    out += kDigits[byte >> 4];
    out += kDigits[byte & 0xf];
  }
  return out;
}

int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
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
    std::size_t keep = max_bytes > 3 ? max_bytes - 3 : 0;
    // Never mid-word when a word boundary is near (within the last half kept): a reader
    // should not see "permane..."; a single long word (a path, a token) is cut where it must.
    // Never inside a UTF-8 sequence either.
    if (out[keep] != ' ') {
      const std::size_t space = out.rfind(' ', keep);
      if (space != std::string::npos && space >= keep / 2) keep = space;
    }
    while (keep > 0 && (static_cast<unsigned char>(out[keep]) & 0xC0) == 0x80) --keep;
    while (keep > 0 && out[keep - 1] == ' ') --keep;
    out.resize(keep);
    out += "...";
  }
  return out;
}

namespace {

// Where the first "claude-key-refresher <command>" hint starts, or npos.
std::size_t find_hint(std::string_view text) {
  static constexpr std::string_view kCommands[] = {
      "once", "status", "check-config", "login", "logout", "signal", "import-claude-code",
      "run ", "reload"};
  constexpr std::string_view kProgram = "claude-key-refresher ";
  for (std::size_t at = text.find(kProgram); at != std::string_view::npos;
       at = text.find(kProgram, at + 1)) {
    const std::string_view rest = text.substr(at + kProgram.size());
    for (const std::string_view command : kCommands) {
      if (rest.starts_with(command)) return at;
    }
  }
  return std::string_view::npos;
}

}  // namespace

std::string one_line_with_tail(std::string_view text, std::string_view tail,
                               std::size_t max_bytes) {
  if (tail.size() >= max_bytes) return one_line(std::string(text) + std::string(tail), max_bytes);
  return one_line(text, max_bytes - tail.size()) + std::string(tail);
}

std::string without_repeated_hint(std::string_view message) {
  while (true) {
    const std::size_t first = find_hint(message);
    if (first == std::string_view::npos) break;
    const std::size_t clause = message.rfind("; ");
    if (clause == std::string_view::npos || clause < first) break;
    const std::string_view before = message.substr(0, clause);
    if (find_hint(message.substr(clause)) == std::string_view::npos ||
        find_hint(before) == std::string_view::npos) {
      break;
    }
    message = before;
  }
  return std::string(message);
}

namespace {
constexpr std::string_view kRedacted = "[redacted]";
// Any piece of the secret this long is removed wherever it appears.
constexpr std::size_t kMinSecretPiece = 12;
// A shorter piece is removed where text was cut: a prefix of the secret at the end of the
// text or right before a "..." cut marker (one_line's), a suffix at the start or right after
// one. Below this length a match is as likely to be chance as a leak.
constexpr std::size_t kMinCutPiece = 4;
constexpr std::string_view kCutMarker = "...";
// Shorter secrets (test values, not credentials) are only replaced where they occur exactly.
constexpr std::size_t kMinTolerantSecret = 8;

// White space, and the backslash of JSON's optional "\/" escape.
bool is_ignored_byte(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == '\\';
}

// Text without its white space (and backslashes): a secret that a tool wrapped across lines,
// that one_line split at a space, or that a JSON encoder wrote as "a\/b" is whole again here.
std::string compact(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (!is_ignored_byte(c)) out.push_back(c);
  }
  return out;
}

void mark_all(const std::string& haystack, std::string_view needle, std::vector<char>& covered) {
  if (needle.empty()) return;
  for (std::size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1)) {
    std::fill(covered.begin() + static_cast<std::ptrdiff_t>(at),
              covered.begin() + static_cast<std::ptrdiff_t>(at + needle.size()), 1);
  }
}

// The longest prefix of secret (at least kMinCutPiece) that ends at `end` of haystack; longer
// ones than a window are found by the windows already.
void mark_prefix_before(const std::string& haystack, std::size_t end, std::string_view secret,
                        std::vector<char>& covered) {
  for (std::size_t length = std::min({end, secret.size(), kMinSecretPiece - 1});
       length >= kMinCutPiece; --length) {
    if (std::string_view(haystack).substr(end - length, length) == secret.substr(0, length)) {
      std::fill(covered.begin() + static_cast<std::ptrdiff_t>(end - length),
                covered.begin() + static_cast<std::ptrdiff_t>(end), 1);
      return;
    }
  }
}

// The longest suffix of secret (at least kMinCutPiece) that starts at `begin` of haystack.
void mark_suffix_after(const std::string& haystack, std::size_t begin, std::string_view secret,
                       std::vector<char>& covered) {
  const std::size_t room = haystack.size() - begin;
  for (std::size_t length = std::min({room, secret.size(), kMinSecretPiece - 1});
       length >= kMinCutPiece; --length) {
    if (std::string_view(haystack).substr(begin, length) == secret.substr(secret.size() - length)) {
      std::fill(covered.begin() + static_cast<std::ptrdiff_t>(begin),
                covered.begin() + static_cast<std::ptrdiff_t>(begin + length), 1);
      return;
    }
  }
}
// Polynomial hash of kMinSecretPiece bytes, mod 2^64.
constexpr std::uint64_t kHashBase = 1099511628211ULL;

std::uint64_t window_hash(std::string_view bytes) {
  std::uint64_t h = 0;
  for (const char c : bytes) h = h * kHashBase + static_cast<unsigned char>(c);
  return h;
}

void mark_windows(const std::string& haystack, std::string_view needle,
                  std::vector<char>& covered) {
  std::vector<std::uint64_t> hashes;
  hashes.reserve(needle.size());
  for (std::size_t start = 0; start + kMinSecretPiece <= needle.size(); ++start) {
    hashes.push_back(window_hash(needle.substr(start, kMinSecretPiece)));
  }
  std::sort(hashes.begin(), hashes.end());
  // A first filter on the top bits: most positions of a text match no window.
  std::array<std::uint64_t, 64> filter{};  // 4096 bits
  for (const std::uint64_t h : hashes) filter[h >> 58] |= std::uint64_t{1} << ((h >> 52) & 63);
  std::uint64_t top = 1;  // kHashBase^(kMinSecretPiece - 1): the weight of the byte leaving
  for (std::size_t i = 1; i < kMinSecretPiece; ++i) top *= kHashBase;
  const std::string_view bytes = haystack;
  std::uint64_t h = window_hash(bytes.substr(0, kMinSecretPiece));
  for (std::size_t at = 0;; ++at) {
    if ((filter[h >> 58] >> ((h >> 52) & 63) & 1) != 0 &&
        std::binary_search(hashes.begin(), hashes.end(), h) &&
        needle.find(bytes.substr(at, kMinSecretPiece)) != std::string_view::npos) {
      std::fill(covered.begin() + static_cast<std::ptrdiff_t>(at),
                covered.begin() + static_cast<std::ptrdiff_t>(at + kMinSecretPiece), 1);
    }
    if (at + kMinSecretPiece >= bytes.size()) break;
    h = (h - static_cast<unsigned char>(bytes[at]) * top) * kHashBase +
        static_cast<unsigned char>(bytes[at + kMinSecretPiece]);
  }
}
}  // namespace

std::string redact(std::string_view text, std::string_view secret) {
  secret = trim(secret);
  if (secret.empty()) return std::string(text);
  if (secret.size() < kMinTolerantSecret) {
    // Too short to be told from ordinary text once white space is ignored ("k1" in
    // "check 1"): exact occurrences only.
    std::string out(text);
    for (std::size_t at = out.find(secret); at != std::string::npos;
         at = out.find(secret, at + kRedacted.size())) {
      out.replace(at, secret.size(), kRedacted);
    }
    return out;
  }
  const std::string needle = compact(secret);
  const std::string haystack = compact(text);
  std::vector<char> covered(haystack.size(), 0);
  mark_all(haystack, needle, covered);
  // A tool may print part of the secret (a prefix, a truncated echo): every window of
  // kMinSecretPiece bytes of it goes too. One pass over the text with a rolling hash of the
  // windows: linear in the text (a 1 MiB error body costs milliseconds, not a search per
  // window), a hash hit confirmed by looking the bytes up in the secret.
  if (needle.size() > kMinSecretPiece && haystack.size() >= kMinSecretPiece) {
    mark_windows(haystack, needle, covered);
  }
  // Where the text was cut, what is left of the secret may be shorter than a window.
  mark_suffix_after(haystack, 0, needle, covered);
  mark_prefix_before(haystack, haystack.size(), needle, covered);
  for (std::size_t at = haystack.find(kCutMarker); at != std::string::npos;
       at = haystack.find(kCutMarker, at + 1)) {
    mark_prefix_before(haystack, at, needle, covered);
    mark_suffix_after(haystack, at + kCutMarker.size(), needle, covered);
  }

  if (std::find(covered.begin(), covered.end(), 1) == covered.end()) return std::string(text);
  // Each run of covered bytes, with the white space inside it, becomes one marker; white
  // space around a run stays.
  std::string out;
  out.reserve(text.size());
  std::size_t j = 0;         // index in the compact text of text[i] when it is not ignored
  bool in_run = false;       // the last byte that is not ignored was covered
  std::string_view pending;  // ignored bytes after a covered one: dropped if the run goes on
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (is_ignored_byte(text[i])) {
      if (in_run) {
        pending = text.substr(i - pending.size(), pending.size() + 1);
      } else {
        out.push_back(text[i]);
      }
      continue;
    }
    if (covered[j++] != 0) {
      if (!in_run) out.append(kRedacted);
      in_run = true;
    } else {
      out.append(pending);
      out.push_back(text[i]);
      in_run = false;
    }
    pending = {};
  }
  out.append(pending);
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
