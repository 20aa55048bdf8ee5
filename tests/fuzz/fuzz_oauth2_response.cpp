// libFuzzer target for what an OAuth 2.0 / OpenID Connect identity provider sends the oauth2
// backend (refresher/oauth2/): bytes from the network, and the P.secret it keeps. The first
// byte picks the parser. Properties (a violation is __builtin_trap):
// 1. no parser crashes, leaks or trips a sanitizer, whatever the bytes (deep nesting, huge
//    numbers, bad UTF-8);
// 2. parse_oauth2_token_response accepts only a non-empty printable access token, printable
//    refresh and id tokens when present, 0 < expires_in <= ten years; a refusal is transient
//    and one line; classify_oauth2_failure's message is one short line, invalid_grant is
//    permanent with its code exactly when the body says so, retry_after_s within a day;
// 3. parse_discovery_document accepts only a document for the issuer asked for (a trailing
//    '/' aside) whose token endpoint is https:// or loopback http://;
// 4. parse_device_authorization accepts only printable codes, an http(s) verification URI,
//    1 <= interval <= 60 and 1 <= expires_in <= 3600;
// 5. jwt_expiry is within [0, year 9999]; cache_control_max_age is never negative;
// 6. parse_oauth2_state accepts exactly what serialize_oauth2_state writes: a state it
//    accepts serializes back to the same bytes.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "refresher/http/transport.h"
#include "refresher/oauth/token_response.h"
#include "refresher/oauth2/device_authorization.h"
#include "refresher/oauth2/discovery.h"
#include "refresher/oauth2/jwt.h"
#include "refresher/oauth2/oauth2_state.h"
#include "refresher/oauth2/token_endpoint.h"
#include "shared/text.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

bool printable_or_absent(const std::optional<std::string>& token) {
  return !token || (!token->empty() && ckh::is_printable_token(*token));
}

std::string_view without_slash(std::string_view text) {
  while (text.ends_with('/')) text.remove_suffix(1);
  return text;
}

void token_response(FuzzedDataProvider& input) {
  const long status = input.PickValueInArray<long>({200, 400, 401, 403, 404, 429, 500, 503, 302});
  const bool with_retry_after = input.ConsumeBool();
  const std::string retry_after = input.ConsumeRandomLengthString(40);
  const std::string body = input.ConsumeRemainingBytesAsString();
  auto tokens = ckh::parse_oauth2_token_response(body);
  if (tokens) {
    CKH_FUZZ_CHECK(!tokens->access_token.empty() && ckh::is_printable_token(tokens->access_token),
                   "accepted an empty or unprintable access_token");
    CKH_FUZZ_CHECK(printable_or_absent(tokens->refresh_token), "accepted a bad refresh_token");
    CKH_FUZZ_CHECK(printable_or_absent(tokens->id_token), "accepted a bad id_token");
    CKH_FUZZ_CHECK(!tokens->expires_in ||
                       (*tokens->expires_in > 0 && *tokens->expires_in <= 10LL * 365 * 24 * 3600),
                   "accepted an expires_in out of range");
  } else {
    CKH_FUZZ_CHECK(tokens.error().kind == ckh::ErrorClass::transient,
                   "a refused 200 body is not transient");
    CKH_FUZZ_CHECK(tokens.error().message.find('\n') == std::string::npos,
                   "a refusal message spans lines");
  }
  const auto error = ckh::classify_oauth2_failure(
      status, body, "idp.example", with_retry_after ? std::optional(retry_after) : std::nullopt,
      1795300000, "[profile.p.oauth2]");
  CKH_FUZZ_CHECK_SHOW(error.message.find('\n') == std::string::npos && error.message.size() < 900,
                      "classify_oauth2_failure's message is not one short line", "message",
                      error.message);
  const auto error_body = ckh::parse_token_error(body);
  const bool says_invalid_grant = error_body && error_body->error == "invalid_grant";
  CKH_FUZZ_CHECK((error.code == "invalid_grant") == says_invalid_grant,
                 "invalid_grant not recognised exactly");
  if (says_invalid_grant) {
    CKH_FUZZ_CHECK(error.kind == ckh::ErrorClass::permanent, "invalid_grant is not permanent");
  }
  if (error.retry_after_s) {
    CKH_FUZZ_CHECK(*error.retry_after_s >= 0 && *error.retry_after_s <= 86400,
                   "retry_after_s out of range");
  }
}

void discovery(FuzzedDataProvider& input) {
  const std::string issuer = input.ConsumeRandomLengthString(80);
  const std::string body = input.ConsumeRemainingBytesAsString();
  auto endpoints = ckh::parse_discovery_document(body, issuer);
  if (endpoints) {
    CKH_FUZZ_CHECK(without_slash(endpoints->issuer) == without_slash(issuer),
                   "accepted a document of another issuer");
    CKH_FUZZ_CHECK(ckh::is_allowed_endpoint_url(endpoints->token_endpoint),
                   "accepted a token endpoint that is not https or loopback");
    for (const auto* url :
         {&endpoints->device_authorization_endpoint, &endpoints->revocation_endpoint}) {
      CKH_FUZZ_CHECK(url->empty() || ckh::is_allowed_endpoint_url(*url),
                     "accepted an endpoint that is not https or loopback");
    }
  } else {
    CKH_FUZZ_CHECK(endpoints.error().message.find('\n') == std::string::npos,
                   "a discovery refusal spans lines");
  }
  if (const auto age = ckh::cache_control_max_age(body)) {
    CKH_FUZZ_CHECK(*age >= 0, "a negative max-age");
  }
}

void device(FuzzedDataProvider& input) {
  const std::string body = input.ConsumeRemainingBytesAsString();
  auto device = ckh::parse_device_authorization(body);
  if (!device) return;
  CKH_FUZZ_CHECK(!device->device_code.empty() && ckh::is_printable_token(device->device_code),
                 "accepted a bad device_code");
  CKH_FUZZ_CHECK(!device->user_code.empty() && device->user_code.size() <= 64 &&
                     ckh::is_printable_token(device->user_code),
                 "accepted a bad user_code");
  CKH_FUZZ_CHECK(device->verification_uri.starts_with("http") &&
                     ckh::is_printable_token(device->verification_uri),
                 "accepted a bad verification_uri");
  CKH_FUZZ_CHECK(device->interval >= 1 && device->interval <= 60, "interval out of range");
  CKH_FUZZ_CHECK(device->expires_in >= 1 && device->expires_in <= 3600, "expires_in out of range");
}

void jwt(FuzzedDataProvider& input) {
  const std::string token = input.ConsumeRemainingBytesAsString();
  if (const auto exp = ckh::jwt_expiry(token)) {
    CKH_FUZZ_CHECK(*exp >= 0 && *exp <= ckh::kMaxJwtTime, "exp out of range");
  }
  (void)ckh::base64url_decode(token);
}

void state(FuzzedDataProvider& input) {
  const std::string text = input.ConsumeRemainingBytesAsString();
  auto parsed = ckh::parse_oauth2_state(text);
  if (!parsed) return;
  CKH_FUZZ_CHECK(ckh::serialize_oauth2_state(*parsed) == text,
                 "an accepted state does not serialize back to the same bytes");
  (void)ckh::is_saved_oauth2_rotation(text, text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider input(data, size);
  switch (input.ConsumeIntegralInRange<int>(0, 4)) {
    case 0:
      token_response(input);
      break;
    case 1:
      discovery(input);
      break;
    case 2:
      device(input);
      break;
    case 3:
      jwt(input);
      break;
    default:
      state(input);
      break;
  }
  return 0;
}
