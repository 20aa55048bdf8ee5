// libFuzzer target for what a token endpoint answers (refresher/oauth/token_response.h):
// bytes from the network. Properties (a violation is __builtin_trap):
// 1. parse_token_grant, parse_token_error and classify_token_failure never crash, leak or
//    trip a sanitizer, whatever the body (deep nesting, huge numbers, bad UTF-8).
// 2. An accepted grant has a non-empty printable access token, a printable refresh token
//    when present, 0 < expires_in <= ten years, printable scopes.
// 3. A refusal of a 200 body is transient and its message quotes nothing of the body.
// 4. classify_token_failure's message is one line, at most a few hundred bytes, and is
//    permanent with code "invalid_grant" exactly when the body says invalid_grant; a 429's
//    retry_after_s is within [0, 86400].
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "refresher/oauth/token_response.h"
#include "shared/text.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider input(data, size);
  const long status = input.PickValueInArray<long>({200, 400, 401, 403, 404, 429, 500, 503, 302});
  const bool with_retry_after = input.ConsumeBool();
  const std::string retry_after = input.ConsumeRandomLengthString(40);
  const std::string body = input.ConsumeRemainingBytesAsString();

  auto grant = ckh::parse_token_grant(body);
  if (grant) {
    CKH_FUZZ_CHECK(!grant->access_token.empty() && ckh::is_printable_token(grant->access_token),
                   "accepted an empty or unprintable access_token");
    CKH_FUZZ_CHECK(!grant->refresh_token || (!grant->refresh_token->empty() &&
                                             ckh::is_printable_token(*grant->refresh_token)),
                   "accepted an empty or unprintable refresh_token");
    CKH_FUZZ_CHECK(grant->expires_in > 0 && grant->expires_in <= 10LL * 365 * 24 * 3600,
                   "accepted an expires_in out of range");
    for (const auto& scope : grant->scopes) {
      CKH_FUZZ_CHECK(!scope.empty() && ckh::is_printable_token(scope), "accepted a bad scope");
    }
  } else {
    CKH_FUZZ_CHECK(grant.error().kind == ckh::ErrorClass::transient,
                   "a refused 200 body is not transient");
    CKH_FUZZ_CHECK(grant.error().message.find('\n') == std::string::npos,
                   "a refusal message spans lines");
  }

  const auto error_body = ckh::parse_token_error(body);
  const auto error = ckh::classify_token_failure(
      status, body, "token.example", with_retry_after ? std::optional(retry_after) : std::nullopt,
      1795300000);
  CKH_FUZZ_CHECK_SHOW(error.message.find('\n') == std::string::npos && error.message.size() < 700,
                      "classify_token_failure's message is not one short line", "message",
                      error.message);
  const bool says_invalid_grant = error_body && error_body->error == "invalid_grant";
  CKH_FUZZ_CHECK((error.code == "invalid_grant") == says_invalid_grant,
                 "invalid_grant not recognised exactly");
  if (says_invalid_grant) {
    CKH_FUZZ_CHECK(error.kind == ckh::ErrorClass::permanent, "invalid_grant is not permanent");
  }
  if (error.retry_after_s) {
    CKH_FUZZ_CHECK(*error.retry_after_s >= 0 && *error.retry_after_s <= 86400,
                   "retry_after_s out of [0, 86400]");
  }
  return 0;
}
