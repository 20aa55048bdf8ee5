// The two token requests of ../shared/ANTHROPIC_OAUTH.md ("Token requests"): the
// authorization-code exchange of a login and the refresh-token grant. JSON bodies
// (Content-Type: application/json), the configured User-Agent, Claude Code's Accept header,
// bounded time and size (through the HTTP transport seam).
// Guarantees: a TokenGrant only for a 200 answer that parses; otherwise an Error classified
// by token_response.h (invalid_grant carries code "invalid_grant"); messages never contain
// a token, code or verifier (the request body's secrets are redacted from anything the
// server echoes). Callers: backends/anthropic_oauth_backend.cpp, oauth/login.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "refresher/http/transport.h"
#include "refresher/oauth/anthropic_oauth_settings.h"
#include "refresher/oauth/token_response.h"

namespace ckh {

struct CodeExchange {
  std::string code;
  std::string redirect_uri;  // identical to the one in the authorize request
  std::string verifier;
  std::string state;
  std::optional<std::int64_t> expires_in;  // only with the user:inference scope alone
};

std::string code_grant_body(const AnthropicOAuthSettings& settings, const CodeExchange& exchange);
std::string refresh_grant_body(const AnthropicOAuthSettings& settings,
                               std::string_view refresh_token);

Result<TokenGrant> exchange_code(HttpTransport& transport, const AnthropicOAuthSettings& settings,
                                 const CodeExchange& exchange, std::int64_t now);
// salvaged (optional): set to the refresh token of a 200 answer that is otherwise unusable
// (no access token or expires_in), so that the caller keeps the rotated token.
Result<TokenGrant> refresh_tokens(HttpTransport& transport, const AnthropicOAuthSettings& settings,
                                  std::string_view refresh_token, std::int64_t now,
                                  std::string* salvaged = nullptr);

}  // namespace ckh
