#include "shared/record.h"

#include <array>
#include <optional>
#include <span>

#include "shared/kv_lines.h"
#include "shared/secure_file.h"
#include "shared/text.h"

namespace ckh {

namespace {

constexpr std::array<std::string_view, 8> kRecordKeys = {
    "generation", "backend",    "source",     "source_fingerprint",
    "headers",    "fetched_at", "expires_at", "credential"};
// Version 2: the same without headers.
constexpr std::array<std::string_view, 7> kRecordKeysV2 = {
    "generation", "backend",    "source",    "source_fingerprint",
    "fetched_at", "expires_at", "credential"};
// Version 1: the same without source_fingerprint.
constexpr std::array<std::string_view, 6> kRecordKeysV1 = {
    "generation", "backend", "source", "fetched_at", "expires_at", "credential"};
constexpr std::size_t kMaxFingerprintBytes = 64;

bool valid_fingerprint(std::string_view value) {
  return !value.empty() && value.size() <= kMaxFingerprintBytes && value != "none" &&
         is_printable_token(value);
}

constexpr std::string_view kHexDigits = "0123456789ABCDEF";

bool is_tchar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string encode_headers(const std::vector<std::pair<std::string, std::string>>& headers) {
  if (headers.empty()) return "none";
  std::string out;
  for (const auto& [name, value] : headers) {
    if (!out.empty()) out += ' ';
    out += name;
    out += ':';
    for (const char c : value) {
      const auto byte = static_cast<unsigned char>(c);
      if (byte <= 0x20 || byte >= 0x7f || c == '%') {
        out += '%';
        out += kHexDigits[byte >> 4];
        out += kHexDigits[byte & 0xf];
      } else {
        out += c;
      }
    }
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The inverse of encode_headers; none when anything in it is not what that writes.
std::optional<std::vector<std::pair<std::string, std::string>>> decode_headers(
    std::string_view text) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (text == "none") return headers;
  while (!text.empty()) {
    const auto space = text.find(' ');
    const std::string_view item = text.substr(0, space);
    text = space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
    if (space != std::string_view::npos && text.empty()) return std::nullopt;  // trailing space
    const auto colon = item.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    std::string value;
    for (std::size_t i = colon + 1; i < item.size(); ++i) {
      if (item[i] != '%') {
        value += item[i];
        continue;
      }
      if (i + 2 >= item.size()) return std::nullopt;
      const int high = hex_value(item[i + 1]), low = hex_value(item[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      value += static_cast<char>(high * 16 + low);
      i += 2;
    }
    std::string name(item.substr(0, colon));
    if (!valid_header_name(name) || !valid_header_value(value) || headers.size() == kMaxHeaders) {
      return std::nullopt;
    }
    headers.emplace_back(std::move(name), std::move(value));
  }
  return headers.empty() ? std::nullopt : std::optional(std::move(headers));
}

}  // namespace

bool valid_header_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxHeaderNameBytes) return false;
  for (const char c : name) {
    if (!is_tchar(c)) return false;
  }
  return true;
}

bool valid_header_value(std::string_view value) {
  if (value.size() > kMaxHeaderValueBytes) return false;
  if (!value.empty() && (value.front() == ' ' || value.back() == ' ')) return false;
  for (const char c : value) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

Result<void> validate_credential(std::string_view credential) {
  if (credential.empty()) return fail(ErrorClass::permanent, "the credential is empty");
  if (credential.size() > kMaxCredentialBytes) {
    return fail(ErrorClass::permanent, "the credential is longer than 16384 bytes (" +
                                           to_decimal(credential.size()) + ")");
  }
  if (!is_printable_token(credential)) {
    return fail(ErrorClass::permanent,
                "the credential holds white space, control or non-ASCII bytes (it must be one "
                "printable ASCII token: it is sent as an HTTP header)");
  }
  return {};
}

Result<CredentialRecord> parse_record(std::string_view text) {
  auto lines = parse_kv_lines(text, kRecordMagic, kRecordVersion, kRecordKeys);
  if (!lines) {
    // What a refresher before version 3 published (and this one without headers) stays
    // readable.
    const auto older = [&](unsigned version, std::span<const std::string_view> keys) {
      if (!text.starts_with(std::string(kRecordMagic) + " v" + to_decimal(version) + "\n")) {
        return false;
      }
      lines = parse_kv_lines(text, kRecordMagic, version, keys);
      return true;
    };
    if (!older(2, kRecordKeysV2)) older(1, kRecordKeysV1);
    if (!lines) return std::unexpected(lines.error());
  }
  const auto& l = *lines;
  // Version 2 has a source_fingerprint line after source, version 3 a headers line after it.
  const std::size_t shift = l.size() - kRecordKeysV1.size();
  CredentialRecord record;
  auto generation = parse_u64(l[0].value);
  if (!generation || *generation == 0)
    return fail(ErrorClass::corrupt, "has a malformed generation");
  record.generation = *generation;
  record.backend = std::string(l[1].value);
  record.source = std::string(l[2].value);
  if (shift >= 1 && l[3].value != "none") {
    if (!valid_fingerprint(l[3].value))
      return fail(ErrorClass::corrupt, "has a malformed source_fingerprint");
    record.source_fingerprint = std::string(l[3].value);
  }
  if (shift == 2) {
    auto headers = decode_headers(l[4].value);
    if (!headers) return fail(ErrorClass::corrupt, "has malformed headers");
    record.headers = std::move(*headers);
  }
  auto fetched_at = parse_i64(l[3 + shift].value);
  if (!fetched_at) return fail(ErrorClass::corrupt, "has a malformed fetched_at");
  record.fetched_at = *fetched_at;
  auto expires_at = parse_optional_time(l[4 + shift].value);
  if (!expires_at) return fail(ErrorClass::corrupt, "has a malformed expires_at");
  record.expires_at = *expires_at;
  if (auto valid = validate_credential(l[5 + shift].value); !valid) {
    return fail(ErrorClass::corrupt, "holds an invalid credential");
  }
  record.credential = std::string(l[5 + shift].value);
  return record;
}

Result<std::optional<CredentialRecord>> read_record_file(const std::string& path) {
  auto text = read_private_file(path, kMaxRecordBytes);
  if (!text) {
    if (text.error().kind == ErrorClass::not_found) return std::optional<CredentialRecord>{};
    return std::unexpected(text.error());
  }
  auto record = parse_record(*text);
  if (!record) return fail(record.error().kind, path + " " + record.error().message);
  return std::optional<CredentialRecord>{std::move(*record)};
}

std::string serialize_record(const CredentialRecord& record) {
  const std::string generation = to_decimal(record.generation);
  const std::string fetched_at = to_decimal(record.fetched_at);
  const std::string expires_at = format_optional_time(record.expires_at);
  const std::string fingerprint = valid_fingerprint(record.source_fingerprint)
                                      ? record.source_fingerprint
                                      : std::string("none");
  const std::string headers = encode_headers(record.headers);
  const std::array<KvLine, 8> lines = {
      KvLine{kRecordKeys[0], generation},    KvLine{kRecordKeys[1], record.backend},
      KvLine{kRecordKeys[2], record.source}, KvLine{kRecordKeys[3], fingerprint},
      KvLine{kRecordKeys[4], headers},       KvLine{kRecordKeys[5], fetched_at},
      KvLine{kRecordKeys[6], expires_at},    KvLine{kRecordKeys[7], record.credential}};
  if (!record.headers.empty()) return write_kv_lines(kRecordMagic, kRecordVersion, lines);
  // Without headers: version 2, which every helper since source_fingerprint reads.
  const std::array<KvLine, 7> v2 = {lines[0], lines[1], lines[2], lines[3],
                                    lines[5], lines[6], lines[7]};
  return write_kv_lines(kRecordMagic, 2, v2);
}

}  // namespace ckh
