// The text handling of an OAuth login: authorize URLs, percent-encoding, the query of the
// loopback callback, and what a user pastes. Pure functions of outside input (fuzzed:
// tests/fuzz/fuzz_oauth_input.cpp). Guarantees: percent_encode keeps only RFC 3986
// unreserved characters; percent_decode never fails (malformed escapes stay as they are);
// parse_pasted_code returns printable, space-free code and state or nothing;
// parse_callback_request_line accepts only "GET <target> <version>" and splits the target.
// Callers: oauth/login.cpp, tests.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "refresher/oauth/anthropic_oauth_settings.h"

namespace ckh {

std::string percent_encode(std::string_view text);
std::string percent_decode(std::string_view text);
// The value of `name` in a query string "a=1&b=2" (decoded), or none.
std::optional<std::string> query_value(std::string_view query, std::string_view name);
std::string authorize_url(const AnthropicOAuthSettings& settings, std::string_view redirect_uri,
                          const std::vector<std::string>& scopes, std::string_view challenge,
                          std::string_view state);

struct PastedCode {
  std::string code;
  std::string state;
};
// "code#state", or a URL / query holding code= and state=; none for anything else.
std::optional<PastedCode> parse_pasted_code(std::string_view line);

// What the browser asked the loopback listener for, from the request's first line
// ("GET /callback?code=...&state=... HTTP/1.1", without its CRLF): the target's path and its
// query (after the first '?', still encoded). None for any other method or shape.
struct CallbackRequest {
  std::string path;
  std::string query;
};
std::optional<CallbackRequest> parse_callback_request_line(std::string_view line);

}  // namespace ckh
