// libFuzzer target for the rest of an OAuth login's and profile's outside input:
// P.secret of an anthropic-oauth profile (refresher/oauth/oauth_secret.h), and what reaches
// the login from the user or the browser (refresher/oauth/oauth_urls.h: a pasted line, the
// callback's query). Properties (a violation is __builtin_trap):
// 1. Nothing crashes, leaks or trips a sanitizer.
// 2. P.secret: a refusal is ErrorClass::corrupt with a one-line message; an accepted text
//    serialises back to exactly itself (the format has one spelling) and parses again to
//    the same values.
// 3. parse_pasted_code returns printable, space-free, non-empty code and state, or nothing.
// 4. percent_decode(percent_encode(x)) == x for any bytes; percent_encode's output holds
//    only unreserved characters and '%'.
// 5. parse_callback_request_line (the loopback listener's request line) accepts only a line
//    that starts "GET ", and then path + ('?' + query when there is one) is exactly the target
//    between the first and the last space, which holds no space.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "refresher/oauth/oauth_secret.h"
#include "refresher/oauth/oauth_urls.h"
#include "shared/text.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

bool same(const ckh::OAuthSecret& a, const ckh::OAuthSecret& b) {
  return a.refresh_token == b.refresh_token && a.access_token == b.access_token &&
         a.expires_at == b.expires_at && a.scopes == b.scopes &&
         a.subscription_type == b.subscription_type && a.rate_limit_tier == b.rate_limit_tier &&
         a.account_email == b.account_email &&
         a.refresh_token_expires_at == b.refresh_token_expires_at &&
         a.owns_claude_code_store == b.owns_claude_code_store &&
         a.pending_refresh_since == b.pending_refresh_since &&
         a.store_refresh_token_fp == b.store_refresh_token_fp;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  auto secret = ckh::parse_oauth_secret(text);
  if (secret) {
    const std::string written = ckh::serialize_oauth_secret(*secret);
    auto again = ckh::parse_oauth_secret(written);
    CKH_FUZZ_CHECK_SHOW(again && same(*secret, *again),
                        "serialize_oauth_secret -> parse_oauth_secret changed a value", "written",
                        written);
    CKH_FUZZ_CHECK(ckh::serialize_oauth_secret(*again) == written,
                   "serialize_oauth_secret is not a fixed point");
  } else {
    CKH_FUZZ_CHECK(secret.error().kind == ckh::ErrorClass::corrupt,
                   "a refused P.secret is not ErrorClass::corrupt");
    CKH_FUZZ_CHECK(secret.error().message.find('\n') == std::string::npos,
                   "a refusal message spans lines");
  }

  if (auto pasted = ckh::parse_pasted_code(text)) {
    CKH_FUZZ_CHECK(!pasted->code.empty() && ckh::is_printable_token(pasted->code),
                   "a pasted code is empty or unprintable");
    CKH_FUZZ_CHECK(!pasted->state.empty() && ckh::is_printable_token(pasted->state),
                   "a pasted state is empty or unprintable");
  }
  if (auto request = ckh::parse_callback_request_line(text)) {
    CKH_FUZZ_CHECK(text.starts_with("GET "), "accepted a request line that is not a GET");
    const auto first = text.find(' ');
    const auto last = text.rfind(' ');
    const std::string_view target = text.substr(first + 1, last - first - 1);
    const bool has_query = target.find('?') != std::string_view::npos;
    CKH_FUZZ_CHECK(request->path + (has_query ? "?" + request->query : "") == target,
                   "path and query do not rebuild the request target");
    CKH_FUZZ_CHECK(request->path.find('?') == std::string::npos, "the path holds a '?'");
    CKH_FUZZ_CHECK(target.find(' ') == std::string_view::npos, "the target holds a space");
  }
  (void)ckh::query_value(text, "code");
  (void)ckh::query_value(text, "state");

  const std::string encoded = ckh::percent_encode(text);
  for (const char c : encoded) {
    const bool allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~' ||
                         c == '%';
    CKH_FUZZ_CHECK(allowed, "percent_encode left a reserved character");
  }
  CKH_FUZZ_CHECK(ckh::percent_decode(encoded) == text, "percent_decode(percent_encode(x)) != x");
  return 0;
}
