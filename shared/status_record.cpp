#include "shared/status_record.h"

#include <array>
#include <span>
#include <utility>

#include "shared/kv_lines.h"
#include "shared/secure_file.h"
#include "shared/text.h"

namespace ckh {

namespace {

constexpr std::array<std::string_view, 16> kStatusKeys = {
    "updated_at",      "last_attempt_at",   "last_success_at",  "consecutive_failures",
    "error_class",     "last_error",        "backoff_until",    "last_forced_at",
    "last_generation", "retry_after_until", "stopped_for",      "boot_id",
    "boot_ms",         "last_rejected_at",  "caller_shortfall", "secret_store_problem"};
constexpr std::size_t kVersion1Keys = 9;   // v1: the first nine, nothing after them
constexpr std::size_t kVersion2Keys = 13;  // v2: up to boot_ms
constexpr std::size_t kVersion3Keys = 15;  // v3: up to caller_shortfall
constexpr std::size_t kMaxTokenBytes = 64;

constexpr std::array<ErrorClass, 8> kAllClasses = {
    ErrorClass::transient, ErrorClass::permanent, ErrorClass::config, ErrorClass::not_found,
    ErrorClass::unsafe,    ErrorClass::corrupt,   ErrorClass::usage,  ErrorClass::io};

}  // namespace

bool valid_status_token(std::string_view value) {
  return !value.empty() && value.size() <= kMaxTokenBytes && value != "none" &&
         is_printable_token(value);
}

std::optional<ErrorClass> error_class_from_name(std::string_view name) {
  for (ErrorClass kind : kAllClasses) {
    if (name == error_class_name(kind)) return kind;
  }
  return std::nullopt;
}

Result<StatusRecord> parse_status(std::string_view text) {
  auto lines = parse_kv_lines(text, kStatusMagic, kStatusVersion, kStatusKeys);
  if (!lines) {
    // A file of an older version keeps its counters (last_generation above all).
    for (const auto& [version, keys] : {std::pair{3u, kVersion3Keys}, std::pair{2u, kVersion2Keys},
                                        std::pair{1u, kVersion1Keys}}) {
      if (!text.starts_with(std::string(kStatusMagic) + " v" + to_decimal(version) + "\n"))
        continue;
      auto old = parse_kv_lines(text, kStatusMagic, version,
                                std::span<const std::string_view>(kStatusKeys.data(), keys));
      if (!old) return std::unexpected(old.error());
      lines = std::move(old);
    }
    if (!lines) return std::unexpected(lines.error());
  }
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
  if (l.size() >= kVersion2Keys) {
    auto retry_after = parse_optional_time(l[9].value);
    auto boot_ms = parse_optional_time(l[12].value);
    if (!retry_after || !boot_ms)
      return fail(ErrorClass::corrupt, "has a malformed number or time");
    status.retry_after_until = *retry_after;
    status.boot_ms = *boot_ms;
    for (auto [value, field] :
         {std::pair{l[10].value, &status.stopped_for}, std::pair{l[11].value, &status.boot_id}}) {
      if (value == "none") continue;
      if (!valid_status_token(value)) return fail(ErrorClass::corrupt, "has a malformed token");
      *field = std::string(value);
    }
  }
  if (l.size() >= kVersion3Keys) {
    auto rejected = parse_optional_time(l[13].value);
    if (!rejected) return fail(ErrorClass::corrupt, "has a malformed number or time");
    status.last_rejected_at = *rejected;
    status.caller_shortfall = std::string(l[14].value);
  }
  if (l.size() == kStatusKeys.size()) status.secret_store_problem = std::string(l[15].value);
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
  const std::string retry_after = format_optional_time(status.retry_after_until);
  const std::string stopped_for =
      valid_status_token(status.stopped_for) ? status.stopped_for : std::string("none");
  const std::string boot_id =
      valid_status_token(status.boot_id) ? status.boot_id : std::string("none");
  const std::string boot_ms = format_optional_time(status.boot_ms);
  const std::string last_rejected = format_optional_time(status.last_rejected_at);
  const std::string shortfall = one_line(status.caller_shortfall, kMaxStatusMessageBytes);
  const std::string store_problem = one_line(status.secret_store_problem, kMaxStatusMessageBytes);
  const std::array<KvLine, 16> lines = {
      KvLine{kStatusKeys[0], updated_at},    KvLine{kStatusKeys[1], last_attempt},
      KvLine{kStatusKeys[2], last_success},  KvLine{kStatusKeys[3], failures},
      KvLine{kStatusKeys[4], error_class},   KvLine{kStatusKeys[5], last_error},
      KvLine{kStatusKeys[6], backoff_until}, KvLine{kStatusKeys[7], last_forced},
      KvLine{kStatusKeys[8], generation},    KvLine{kStatusKeys[9], retry_after},
      KvLine{kStatusKeys[10], stopped_for},  KvLine{kStatusKeys[11], boot_id},
      KvLine{kStatusKeys[12], boot_ms},      KvLine{kStatusKeys[13], last_rejected},
      KvLine{kStatusKeys[14], shortfall},    KvLine{kStatusKeys[15], store_problem}};
  return write_kv_lines(kStatusMagic, kStatusVersion, lines);
}

}  // namespace ckh
