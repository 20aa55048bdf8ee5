#include "refresher/oauth2/device_authorization.h"

#include <simdjson.h>

#include <algorithm>

#include "refresher/json_fields.h"
#include "shared/text.h"

namespace ckh {
namespace {

constexpr std::int64_t kMaxInterval = 60;  // a server asking for more is waited on at 60 s
constexpr std::int64_t kMaxCodeLifetime = 3600;

// A URI we show and may open: http(s), printable, one line.
bool showable_uri(std::string_view uri) {
  return (uri.starts_with("https://") || uri.starts_with("http://")) && uri.size() < 2048 &&
         is_printable_token(uri);
}

}  // namespace

Result<DeviceAuthorization> parse_device_authorization(std::string_view body) {
  simdjson::dom::parser parser;
  const auto parsed = parse_json_object(parser, body);
  if (!parsed) {
    return fail(ErrorClass::transient,
                "the device authorization endpoint's answer is not a JSON object");
  }
  const simdjson::dom::object object = *parsed;
  DeviceAuthorization out;
  const auto device_code = string_field(object, "device_code");
  const auto user_code = string_field(object, "user_code");
  // Google calls it verification_url.
  auto uri = string_field(object, "verification_uri");
  if (!uri) uri = string_field(object, "verification_url");
  if (!device_code || device_code->empty() || !is_printable_token(*device_code) || !user_code ||
      user_code->empty() || user_code->size() > 64 || !is_printable_token(*user_code) || !uri ||
      !showable_uri(*uri)) {
    return fail(ErrorClass::transient,
                "the device authorization endpoint's answer lacks a usable device_code, "
                "user_code or verification_uri");
  }
  out.device_code = std::string(*device_code);
  out.user_code = std::string(*user_code);
  out.verification_uri = std::string(*uri);
  if (const auto complete = string_field(object, "verification_uri_complete");
      complete && showable_uri(*complete)) {
    out.verification_uri_complete = std::string(*complete);
  }
  const auto expires_in = integer_or_decimal_field(object, "expires_in");
  if (!expires_in || *expires_in <= 0) {
    return fail(ErrorClass::transient,
                "the device authorization endpoint's answer has no usable expires_in");
  }
  out.expires_in = std::min(*expires_in, kMaxCodeLifetime);
  if (const auto interval = integer_or_decimal_field(object, "interval");
      interval && *interval > 0) {
    out.interval = std::min(*interval, kMaxInterval);
  }
  return out;
}

}  // namespace ckh
