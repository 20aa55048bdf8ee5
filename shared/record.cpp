#include "shared/record.h"

#include <array>

#include "shared/kv_lines.h"
#include "shared/secure_file.h"
#include "shared/text.h"

namespace ckh {

namespace {

constexpr std::array<std::string_view, 7> kRecordKeys = {
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

}  // namespace

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
    // What a refresher before version 2 published stays readable.
    auto old = parse_kv_lines(text, kRecordMagic, 1, kRecordKeysV1);
    if (!old) {
      const bool says_v1 = text.starts_with(std::string(kRecordMagic) + " v1\n");
      return std::unexpected(says_v1 ? old.error() : lines.error());
    }
    lines = std::move(old);
  }
  const auto& l = *lines;
  // Version 2 has one line more, after source.
  const std::size_t shift = l.size() == kRecordKeys.size() ? 1 : 0;
  CredentialRecord record;
  auto generation = parse_u64(l[0].value);
  if (!generation || *generation == 0)
    return fail(ErrorClass::corrupt, "has a malformed generation");
  record.generation = *generation;
  record.backend = std::string(l[1].value);
  record.source = std::string(l[2].value);
  if (shift == 1 && l[3].value != "none") {
    if (!valid_fingerprint(l[3].value))
      return fail(ErrorClass::corrupt, "has a malformed source_fingerprint");
    record.source_fingerprint = std::string(l[3].value);
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
  const std::array<KvLine, 7> lines = {
      KvLine{kRecordKeys[0], generation},       KvLine{kRecordKeys[1], record.backend},
      KvLine{kRecordKeys[2], record.source},    KvLine{kRecordKeys[3], fingerprint},
      KvLine{kRecordKeys[4], fetched_at},       KvLine{kRecordKeys[5], expires_at},
      KvLine{kRecordKeys[6], record.credential}};
  return write_kv_lines(kRecordMagic, kRecordVersion, lines);
}

}  // namespace ckh
