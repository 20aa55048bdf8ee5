// Parsing what an OAuth token endpoint answers (../shared/ANTHROPIC_OAUTH.md "Responses"),
// and classifying its failures. Pure functions of the bytes received (fuzzed:
// tests/fuzz/fuzz_token_response.cpp).
// Guarantees: parse_token_grant accepts only a JSON object with a non-empty printable
// access_token and a positive integer expires_in (and, when present, a printable
// refresh_token); anything else is a transient error (a garbled answer may be a proxy or an
// outage page) whose message never quotes the body. classify_token_failure maps an HTTP
// status and body to an Error (code "http_status": the server answered and did not act on
// the request): 400 invalid_grant -> permanent with code "invalid_grant";
// other 400 and 401/403/404 -> permanent, with the server's error text; 429 -> transient
// with retry_after_s; 5xx and the rest -> transient. Messages are one line and contain
// only the server's error type and description, cut short.
// Callers: oauth/token_client.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/error.h"

namespace ckh {

struct TokenGrant {
  std::string access_token;
  std::optional<std::string> refresh_token;  // absent: keep the one we have
  std::int64_t expires_in = 0;               // seconds
  std::vector<std::string> scopes;           // empty: not stated
  std::string account_email;
  std::string account_uuid;
  std::string organization_uuid;
  std::optional<std::int64_t> refresh_token_expires_in;
};

Result<TokenGrant> parse_token_grant(std::string_view body);

// The refresh_token of a body parse_token_grant refused (a 200 answer without a usable
// access token or expires_in): the server may have rotated, and the new token must not be
// lost. None when there is no printable refresh_token.
std::optional<std::string> salvage_refresh_token(std::string_view body);

struct TokenErrorBody {
  std::string error;        // "invalid_grant", "invalid_request_error", ...
  std::string description;  // cut to one short line
};
// {"error": "...", "error_description": "..."} or {"type":"error","error":{"type","message"}}
std::optional<TokenErrorBody> parse_token_error(std::string_view body);

// "the <server> <host> answered <status> (<error>: <description>)", or with the first words of
// a page that is not JSON (an edge's HTML): one line, never the whole body.
std::string describe_token_failure(long status, std::string_view body, std::string_view host,
                                   std::string_view server);

// host names the server in messages; retry_after is the Retry-After header, if any.
Error classify_token_failure(long status, std::string_view body, std::string_view host,
                             const std::optional<std::string>& retry_after, std::int64_t now);

}  // namespace ckh
