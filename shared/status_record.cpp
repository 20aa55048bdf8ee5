#include "shared/status_record.h"

#include <array>

#include "shared/kv_lines.h"
#include "shared/secure_file.h"
#include "shared/text.h"

namespace ckh {

namespace {

constexpr std::array<std::string_view, 9> kStatusKeys = {
    "updated_at", "last_attempt_at", "last_success_at", "consecutive_failures", "error_class",
    "last_error", "backoff_until",   "last_forced_at",  "last_generation"};

constexpr std::array<ErrorClass, 8> kAllClasses = {
    ErrorClass::transient, ErrorClass::permanent, ErrorClass::config, ErrorClass::not_found,
    ErrorClass::unsafe,    ErrorClass::corrupt,   ErrorClass::usage,  ErrorClass::io};

}  // namespace

std::optional<ErrorClass> error_class_from_name(std::string_view name) {
  for (ErrorClass kind : kAllClasses) {
    if (name == error_class_name(kind)) return kind;
  }
  return std::nullopt;
}

Result<StatusRecord> parse_status(std::string_view text) {
  auto lines = parse_kv_lines(text, kStatusMagic, kStatusVersion, kStatusKeys);
  if (!lines) return std::unexpected(lines.error());
  const auto& l = *lines;
  StatusRecord status;
  auto updated_at = parse_i64(l[0].value);
  auto failures = parse_u64(l[3].value);
  auto generation = parse_u64(l[8].value);
  auto last_attempt = parse_optional_time(l[1].value);
  auto last_success = parse_optional_time(l[2].value);
  auto backoff_until = parse_optional_time(l[6].value);
  auto last_forced = parse_optional_time(l[7].value);
  if (!updated_at || !failures || !generation || !last_attempt || !last_success || !backoff_until ||
      !last_forced) {
    return fail(ErrorClass::corrupt, "has a malformed number or time");
  }
  status.last_attempt_at = *last_attempt;
  status.last_success_at = *last_success;
  status.backoff_until = *backoff_until;
  status.last_forced_at = *last_forced;
  status.updated_at = *updated_at;
  status.consecutive_failures = *failures;
  status.last_generation = *generation;
  if (l[4].value != "none") {
    status.error_class = error_class_from_name(l[4].value);
    if (!status.error_class) return fail(ErrorClass::corrupt, "has an unknown error class");
  }
  status.last_error = std::string(l[5].value);
  return status;
}

StatusRecord read_status_or_default(const std::string& path) {
  auto text = read_private_file(path, kMaxStatusBytes);
  if (!text) return {};
  auto status = parse_status(*text);
  return status ? *status : StatusRecord{};
}

std::string serialize_status(const StatusRecord& status) {
  const std::string updated_at = to_decimal(status.updated_at);
  const std::string last_attempt = format_optional_time(status.last_attempt_at);
  const std::string last_success = format_optional_time(status.last_success_at);
  const std::string failures = to_decimal(status.consecutive_failures);
  const std::string error_class =
      status.error_class ? error_class_name(*status.error_class) : "none";
  const std::string last_error = one_line(status.last_error, kMaxStatusMessageBytes);
  const std::string backoff_until = format_optional_time(status.backoff_until);
  const std::string last_forced = format_optional_time(status.last_forced_at);
  const std::string generation = to_decimal(status.last_generation);
  const std::array<KvLine, 9> lines = {
      KvLine{kStatusKeys[0], updated_at},    KvLine{kStatusKeys[1], last_attempt},
      KvLine{kStatusKeys[2], last_success},  KvLine{kStatusKeys[3], failures},
      KvLine{kStatusKeys[4], error_class},   KvLine{kStatusKeys[5], last_error},
      KvLine{kStatusKeys[6], backoff_until}, KvLine{kStatusKeys[7], last_forced},
      KvLine{kStatusKeys[8], generation}};
  return write_kv_lines(kStatusMagic, kStatusVersion, lines);
}

}  // namespace ckh
