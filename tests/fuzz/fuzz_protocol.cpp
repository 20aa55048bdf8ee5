// libFuzzer target for the helper <-> refresher protocol (shared/refresh_protocol.h): the
// daemon parses requests from any local process of the user, the helper parses replies.
// Properties (a violation is __builtin_trap):
// 1. parse_request and parse_reply never crash, leak or trip a sanitizer.
// 2. Round trip of a request: format_request(parsed) is one line of at most
//    kMaxProtocolLine bytes plus '\n', and parses back to the identical request.
// 3. Round trip of a reply: format_reply(parsed) is one such line and parses back to the
//    identical reply, except that a failure message comes back as
//    one_line(message, kMaxStatusMessageBytes) (the writer's documented normalisation).
// 4. The writer's side: any RefreshRequest, and any RefreshReply built from the bytes,
//    formats to a line that parses back unchanged: the daemon's answers and the helper's
//    requests are always understood by the other side.
#include <fuzzer/FuzzedDataProvider.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "shared/error.h"
#include "shared/refresh_protocol.h"
#include "shared/status_record.h"
#include "shared/text.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

void check_line(const std::string& line) {
  CKH_FUZZ_CHECK(!line.empty() && line.back() == '\n',
                 "a formatted protocol line does not end in a newline");
  CKH_FUZZ_CHECK(line.find('\n') == line.size() - 1,
                 "a formatted protocol line holds a newline inside");
  CKH_FUZZ_CHECK(line.size() <= ckh::kMaxProtocolLine + 1,
                 "a formatted protocol line is longer than kMaxProtocolLine");
}

void check_request(const ckh::RefreshRequest& request) {
  const std::string line = ckh::format_request(request);
  check_line(line);
  auto again = ckh::parse_request(line);
  CKH_FUZZ_CHECK_SHOW(again, "parse_request refuses what format_request wrote", "formatted", line);
  CKH_FUZZ_CHECK(again->reason == request.reason &&
                     again->seen_generation == request.seen_generation &&
                     again->need_until == request.need_until,
                 "a field changed in format_request -> parse_request");
  CKH_FUZZ_CHECK(ckh::format_request(*again) == line, "format_request output is not a fixed point");
}

void check_reply(const ckh::RefreshReply& reply) {
  const std::string line = ckh::format_reply(reply);
  check_line(line);
  auto again = ckh::parse_reply(line);
  CKH_FUZZ_CHECK_SHOW(again, "parse_reply refuses what format_reply wrote", "formatted", line);
  CKH_FUZZ_CHECK(again->ok == reply.ok, "ok/failed changed in format_reply -> parse_reply");
  if (reply.ok) {
    CKH_FUZZ_CHECK(again->generation == reply.generation,
                   "the generation changed in format_reply -> parse_reply");
  } else {
    CKH_FUZZ_CHECK(again->error_class == reply.error_class,
                   "the error class changed in format_reply -> parse_reply");
    CKH_FUZZ_CHECK(again->message == ckh::one_line(reply.message, ckh::kMaxStatusMessageBytes),
                   "the message did not come back as one_line(message, 300)");
  }
  CKH_FUZZ_CHECK(ckh::format_reply(*again) == line, "format_reply output is not a fixed point");
}

void text_direction(std::string_view text) {
  if (auto request = ckh::parse_request(text)) check_request(*request);
  if (auto reply = ckh::parse_reply(text)) check_reply(*reply);
  if (auto reason = ckh::parse_refresh_reason(text)) {
    CKH_FUZZ_CHECK(std::string_view(ckh::refresh_reason_name(*reason)) == text,
                   "refresh_reason_name does not invert parse_refresh_reason");
  }
}

void writer_direction(const std::uint8_t* data, std::size_t size) {
  static constexpr std::array<ckh::RefreshReason, 5> kReasons = {
      ckh::RefreshReason::due, ckh::RefreshReason::expiring, ckh::RefreshReason::suspected_401,
      ckh::RefreshReason::rejected, ckh::RefreshReason::forced};
  static constexpr std::array<ckh::ErrorClass, 8> kClasses = {
      ckh::ErrorClass::transient, ckh::ErrorClass::permanent, ckh::ErrorClass::config,
      ckh::ErrorClass::not_found, ckh::ErrorClass::unsafe,    ckh::ErrorClass::corrupt,
      ckh::ErrorClass::usage,     ckh::ErrorClass::io};
  FuzzedDataProvider input(data, size);
  ckh::RefreshRequest request;
  request.reason = input.PickValueInArray(kReasons);
  request.seen_generation = input.ConsumeIntegral<std::uint64_t>();
  request.need_until = input.ConsumeIntegral<std::int64_t>();
  check_request(request);

  ckh::RefreshReply reply;
  reply.ok = input.ConsumeBool();
  if (reply.ok) {
    reply.generation = input.ConsumeIntegral<std::uint64_t>();
  } else {
    reply.error_class = input.PickValueInArray(kClasses);
    reply.message = input.ConsumeRemainingBytesAsString();
  }
  check_reply(reply);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  text_direction(std::string_view(reinterpret_cast<const char*>(data), size));
  writer_direction(data, size);
  return 0;
}
