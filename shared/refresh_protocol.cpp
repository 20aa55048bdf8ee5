#include "shared/refresh_protocol.h"

#include <array>

#include "shared/status_record.h"
#include "shared/text.h"

namespace ckh {

namespace {

constexpr std::array<std::pair<RefreshReason, std::string_view>, 5> kReasons = {{
    {RefreshReason::due, "due"},
    {RefreshReason::expiring, "expiring"},
    {RefreshReason::suspected_401, "suspected-401"},
    {RefreshReason::rejected, "rejected"},
    {RefreshReason::forced, "forced"},
}};

std::string_view strip_newline(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  return line;
}

// Takes "name=value" off the front of rest (space separated).
bool take_field(std::string_view& rest, std::string_view name, std::string_view& value) {
  const auto space = rest.find(' ');
  std::string_view field = rest.substr(0, space);
  rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
  if (field.size() <= name.size() || field.substr(0, name.size()) != name ||
      field[name.size()] != '=') {
    return false;
  }
  value = field.substr(name.size() + 1);
  return true;
}

}  // namespace

const char* refresh_reason_name(RefreshReason reason) {
  for (const auto& [value, name] : kReasons) {
    if (value == reason) return name.data();
  }
  return "due";
}

Result<RefreshReason> parse_refresh_reason(std::string_view name) {
  for (const auto& [value, known] : kReasons) {
    if (known == name) return value;
  }
  return fail(ErrorClass::usage,
              "unknown refresh reason (expected due, expiring, suspected-401, rejected or forced)");
}

std::string format_request(const RefreshRequest& request) {
  std::string line = "refresh reason=";
  line += refresh_reason_name(request.reason);
  line += " seen=" + to_decimal(request.seen_generation);
  line += " need_until=" + to_decimal(request.need_until);
  line += '\n';
  return line;
}

Result<RefreshRequest> parse_request(std::string_view line) {
  line = strip_newline(line);
  if (line.size() > kMaxProtocolLine) return fail(ErrorClass::usage, "request too long");
  constexpr std::string_view kVerb = "refresh ";
  if (line.substr(0, kVerb.size()) != kVerb) return fail(ErrorClass::usage, "unknown request");
  std::string_view rest = line.substr(kVerb.size());
  std::string_view reason_text, seen_text, need_text;
  if (!take_field(rest, "reason", reason_text) || !take_field(rest, "seen", seen_text) ||
      !take_field(rest, "need_until", need_text) || !rest.empty()) {
    return fail(ErrorClass::usage, "malformed refresh request");
  }
  auto reason = parse_refresh_reason(reason_text);
  if (!reason) return std::unexpected(reason.error());
  auto seen = parse_u64(seen_text);
  auto need_until = parse_i64(need_text);
  if (!seen || !need_until) return fail(ErrorClass::usage, "malformed number in refresh request");
  return RefreshRequest{*reason, *seen, *need_until};
}

std::string format_reply(const RefreshReply& reply) {
  if (reply.ok) return "ok " + to_decimal(reply.generation) + "\n";
  return std::string("failed ") + error_class_name(reply.error_class) + " " +
         one_line(reply.message, kMaxStatusMessageBytes) + "\n";
}

Result<RefreshReply> parse_reply(std::string_view line) {
  line = strip_newline(line);
  if (line.size() > kMaxProtocolLine) return fail(ErrorClass::corrupt, "reply too long");
  RefreshReply reply;
  if (line.substr(0, 3) == "ok ") {
    auto generation = parse_u64(line.substr(3));
    if (!generation) return fail(ErrorClass::corrupt, "malformed reply");
    reply.ok = true;
    reply.generation = *generation;
    return reply;
  }
  constexpr std::string_view kFailed = "failed ";
  if (line.substr(0, kFailed.size()) != kFailed)
    return fail(ErrorClass::corrupt, "malformed reply");
  std::string_view rest = line.substr(kFailed.size());
  const auto space = rest.find(' ');
  auto kind = error_class_from_name(rest.substr(0, space));
  if (!kind) return fail(ErrorClass::corrupt, "malformed reply");
  reply.error_class = *kind;
  reply.message =
      space == std::string_view::npos ? std::string() : std::string(rest.substr(space + 1));
  return reply;
}

}  // namespace ckh
