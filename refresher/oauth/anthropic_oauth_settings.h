// The settings of an `anthropic-oauth` profile ([profile.P.anthropic-oauth]), with the
// defaults of ../shared/ANTHROPIC_OAUTH.md ("Endpoints and client"). Every value is
// configurable because the facts document records them moving (token host, edge filtering
// by User-Agent). Callers: backends/anthropic_oauth_backend.cpp, oauth/login.cpp,
// oauth/token_client.cpp.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace ckh {

inline constexpr const char* kAnthropicClientId = "9d1c250a-e61b-44d9-88ed-5944d1962f5e";
inline constexpr const char* kAnthropicTokenUrl = "https://platform.claude.com/v1/oauth/token";
inline constexpr const char* kAnthropicAuthorizeUrl = "https://claude.com/cai/oauth/authorize";
inline constexpr const char* kAnthropicManualRedirectUri =
    "https://platform.claude.com/oauth/code/callback";
// Matches what Claude Code's own HTTP client sends (see the facts document, "Headers").
inline constexpr const char* kAnthropicUserAgent = "axios/1.8.4";
inline constexpr const char* kAnthropicInferenceScope = "user:inference";

inline std::vector<std::string> anthropic_full_scopes() {
  return {"org:create_api_key",        "user:profile",     "user:inference",
          "user:sessions:claude_code", "user:mcp_servers", "user:file_upload"};
}

struct AnthropicOAuthSettings {
  std::string token_url = kAnthropicTokenUrl;
  std::string authorize_url = kAnthropicAuthorizeUrl;
  std::string manual_redirect_uri = kAnthropicManualRedirectUri;
  std::string client_id = kAnthropicClientId;
  std::vector<std::string> scopes = anthropic_full_scopes();
  std::string user_agent = kAnthropicUserAgent;
  std::chrono::milliseconds timeout{30'000};  // one token request, all included
};

}  // namespace ckh
