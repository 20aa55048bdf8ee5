// libFuzzer target for the status record (shared/status_record.h), read by `status` and by
// the helper to explain a failure. Properties (a violation is __builtin_trap):
// 1. parse_status never crashes, leaks or trips a sanitizer.
// 2. A refusal is ErrorClass::corrupt with a one-line message.
// 3. Round trip: serialize_status(parsed) parses again to an identical record, except that
//    last_error comes back as one_line(last_error, kMaxStatusMessageBytes): the writer
//    normalises messages (documented: one line, at most 300 bytes), so a hand-edited file
//    with tabs, double spaces or a longer message is the only thing that changes. The
//    serialised form is a fixed point (serialize(parse(serialize(x))) == serialize(x)).
// 4. The writer's side: any StatusRecord (any counters, times, class, message, tokens)
//    serialises to text that parse_status accepts and returns unchanged (message normalised
//    as above, a token that is not a valid one written as "none"): the refresher never
//    writes a status file it cannot read back. Version 1 files still parse.
// 5. `status --json` over anything a status record, a credential record's metadata or a
//    backend's message can hold (arbitrary bytes, times, classes): the output is one valid
//    JSON document (simdjson) in valid UTF-8 whose exit_code is the worst profile's; the
//    text form never crashes or trips a sanitizer.
#include <fuzzer/FuzzedDataProvider.h>
#include <simdjson.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "refresher/status_report.h"
#include "shared/error.h"
#include "shared/status_record.h"
#include "shared/text.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

// stopped_for and boot_id: the writer writes a token that is not valid as "none".
std::string written_token(const std::string& token) {
  return ckh::valid_status_token(token) ? token : std::string();
}

bool same_except_message(const ckh::StatusRecord& a, const ckh::StatusRecord& b) {
  return a.updated_at == b.updated_at && a.last_attempt_at == b.last_attempt_at &&
         a.last_success_at == b.last_success_at &&
         a.consecutive_failures == b.consecutive_failures && a.error_class == b.error_class &&
         a.backoff_until == b.backoff_until && a.last_forced_at == b.last_forced_at &&
         a.last_generation == b.last_generation && a.retry_after_until == b.retry_after_until &&
         written_token(a.stopped_for) == b.stopped_for && written_token(a.boot_id) == b.boot_id &&
         a.boot_ms == b.boot_ms;
}

void check_round_trip(const ckh::StatusRecord& status) {
  const std::string text = ckh::serialize_status(status);
  auto again = ckh::parse_status(text);
  CKH_FUZZ_CHECK_SHOW(again, "parse_status refuses what serialize_status wrote", "serialized",
                      text);
  CKH_FUZZ_CHECK_SHOW(same_except_message(status, *again),
                      "a field changed in serialize_status -> parse_status", "serialized", text);
  CKH_FUZZ_CHECK(again->last_error == ckh::one_line(status.last_error, ckh::kMaxStatusMessageBytes),
                 "last_error did not come back as one_line(last_error, 300)");
  CKH_FUZZ_CHECK(text.size() <= ckh::kMaxStatusBytes,
                 "serialize_status wrote more than the reader's size cap");
  CKH_FUZZ_CHECK(ckh::serialize_status(*again) == text,
                 "serialize_status output is not a fixed point");
}

void text_direction(std::string_view text) {
  auto status = ckh::parse_status(text);
  if (!status) {
    CKH_FUZZ_CHECK(status.error().kind == ckh::ErrorClass::corrupt,
                   "a refused status is not ErrorClass::corrupt");
    CKH_FUZZ_CHECK(status.error().message.find('\n') == std::string::npos,
                   "a refusal message spans lines");
    return;
  }
  CKH_FUZZ_CHECK(status->last_error.find('\n') == std::string::npos,
                 "parse_status accepted a multi-line last_error");
  check_round_trip(*status);
}

std::optional<std::int64_t> maybe_time(FuzzedDataProvider& input) {
  if (input.ConsumeBool()) return std::nullopt;
  return input.ConsumeIntegral<std::int64_t>();
}

void writer_direction(const std::uint8_t* data, std::size_t size) {
  static constexpr std::array<ckh::ErrorClass, 8> kClasses = {
      ckh::ErrorClass::transient, ckh::ErrorClass::permanent, ckh::ErrorClass::config,
      ckh::ErrorClass::not_found, ckh::ErrorClass::unsafe,    ckh::ErrorClass::corrupt,
      ckh::ErrorClass::usage,     ckh::ErrorClass::io};
  FuzzedDataProvider input(data, size);
  ckh::StatusRecord status;
  status.updated_at = input.ConsumeIntegral<std::int64_t>();
  status.last_attempt_at = maybe_time(input);
  status.last_success_at = maybe_time(input);
  status.consecutive_failures = input.ConsumeIntegral<std::uint64_t>();
  if (input.ConsumeBool()) status.error_class = input.PickValueInArray(kClasses);
  status.backoff_until = maybe_time(input);
  status.last_forced_at = maybe_time(input);
  status.last_generation = input.ConsumeIntegral<std::uint64_t>();
  status.retry_after_until = maybe_time(input);
  status.stopped_for = input.ConsumeRandomLengthString(80);
  status.boot_id = input.ConsumeRandomLengthString(80);
  status.boot_ms = maybe_time(input);
  status.last_error = input.ConsumeRemainingBytesAsString();  // anything: the writer normalises it
  check_round_trip(status);
}

void check_status_json(const std::vector<ckh::ProfileReport>& reports, std::int64_t now) {
  const std::string json = ckh::format_report_json(reports, now);
  CKH_FUZZ_CHECK_SHOW(simdjson::validate_utf8(json.data(), json.size()),
                      "status --json is not valid UTF-8", "json", json);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  CKH_FUZZ_CHECK_SHOW(parser.parse(simdjson::padded_string(json)).get(root) == simdjson::SUCCESS,
                      "status --json does not parse as JSON", "json", json);
  std::int64_t exit_code = -1;
  CKH_FUZZ_CHECK(root["exit_code"].get_int64().get(exit_code) == simdjson::SUCCESS &&
                     exit_code == ckh::health_exit_code(ckh::worst_health(reports, now)),
                 "status --json's exit_code is not the worst profile's");
  (void)ckh::format_report_text(reports, now);
}

void report_direction(const std::uint8_t* data, std::size_t size,
                      const std::optional<ckh::StatusRecord>& parsed) {
  static constexpr std::array<ckh::ErrorClass, 8> kClasses = {
      ckh::ErrorClass::transient, ckh::ErrorClass::permanent, ckh::ErrorClass::config,
      ckh::ErrorClass::not_found, ckh::ErrorClass::unsafe,    ckh::ErrorClass::corrupt,
      ckh::ErrorClass::usage,     ckh::ErrorClass::io};
  FuzzedDataProvider input(data, size);
  const std::int64_t now = input.ConsumeIntegral<std::int64_t>();
  std::vector<ckh::ProfileReport> reports;
  const int count = input.ConsumeIntegralInRange(1, 3);
  for (int i = 0; i < count; ++i) {
    ckh::ProfileReport r;
    r.name = input.ConsumeRandomLengthString(24);
    r.backend = input.ConsumeRandomLengthString(24);
    if (input.ConsumeBool()) {
      ckh::CredentialRecord record;
      record.generation = input.ConsumeIntegral<std::uint64_t>();
      record.source = input.ConsumeRandomLengthString(48);
      record.fetched_at = input.ConsumeIntegral<std::int64_t>();
      record.expires_at = maybe_time(input);
      r.record = std::move(record);
    } else {
      r.record_problem = input.ConsumeRandomLengthString(48);
      if (input.ConsumeBool()) r.record_problem_kind = ckh::ErrorClass::unsafe;
    }
    if (parsed && i == 0) {
      r.status = *parsed;  // what a real P.status file holds
    } else {
      r.status.last_attempt_at = maybe_time(input);
      r.status.last_success_at = maybe_time(input);
      r.status.consecutive_failures = input.ConsumeIntegral<std::uint64_t>();
      if (input.ConsumeBool()) r.status.error_class = input.PickValueInArray(kClasses);
      r.status.backoff_until = maybe_time(input);
      r.status.retry_after_until = maybe_time(input);
      r.status.last_error = input.ConsumeRandomLengthString(300);  // a backend's stderr
    }
    r.stopped = input.ConsumeBool();
    r.next_attempt = maybe_time(input);
    if (input.ConsumeBool()) r.daemon_pid = input.ConsumeIntegral<long>();
    reports.push_back(std::move(r));
  }
  check_status_json(reports, now);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  text_direction(std::string_view(reinterpret_cast<const char*>(data), size));
  writer_direction(data, size);
  auto parsed = ckh::parse_status(std::string_view(reinterpret_cast<const char*>(data), size));
  report_direction(data, size, parsed ? std::optional<ckh::StatusRecord>(*parsed) : std::nullopt);
  return 0;
}
