// The `anthropic-oauth` backend: a Claude Pro/Max subscription's OAuth token family
// (../shared/ANTHROPIC_OAUTH.md), logged in with `claude-key-refresher login` (or adopted
// from Claude Code with `import-claude-code`), refreshed with the JSON refresh-token grant.
//   [profile.P]
//   backend = "anthropic-oauth"
//   sinks = ["claude-code"]          # optional: keep Claude Code's own store current
//   [profile.P.anthropic-oauth]      # every key optional, defaults from the facts document
//   token_url, authorize_url, manual_redirect_uri, client_id, scopes, user_agent, timeout
// Guarantees (fetch, called under P.lock):
// - The family lives in P.secret (oauth/oauth_secret.h). Before a refresh request is sent,
//   P.secret durably records that one is in flight and the room for the answer is reserved
//   (FetchContext::reserve_secret; a full disk: not sent, "could not save: ..."); the
//   rotated refresh token is durable in P.secret before the new access token is published,
//   written to Claude Code's store or used. A save that still fails is retried and never
//   drops the rotated token (refresher/state_writer.h); a complete copy left in a temp file
//   by a killed or failed save is adopted by the next refresh (adopts_secret,
//   is_saved_rotation). A refresh whose answer was lost (the process died between the
//   server's answer and writing it) is named as such when the spent token is refused.
// - With the claude-code sink (configured, or switched on by import-claude-code) the whole
//   fetch holds Claude Code's own lock, re-reads its store first and adopts a newer token
//   family found there instead of refreshing again, and leaves the store holding exactly
//   what P.secret holds — so one writer rotates, and every Claude Code session reads.
// - expiry = now + expires_in from the server, never a built-in lifetime; a token with more
//   than refresh_before_expiry left (default 60 min for this backend) is used as it is
//   unless the refresh is forced.
// - Errors: invalid_grant -> re-read the stores and adopt a newer family if one is there,
//   else permanent, saying to run `claude-key-refresher login --profile P`; 429 honours
//   Retry-After; 5xx and network errors are transient; 403/404 from the edge are reported
//   with the server's text. No token, code or verifier in any message.
// Callers: registry.cpp (config), tests with a fake HttpTransport.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "refresher/backend.h"
#include "refresher/backends/registry.h"
#include "refresher/http/transport.h"
#include "refresher/oauth/anthropic_oauth_settings.h"
#include "refresher/oauth/oauth_secret.h"
#include "refresher/oauth/token_response.h"

namespace ckh {

inline constexpr std::chrono::seconds kAnthropicRefreshBeforeExpiry{3600};

class AnthropicOAuthBackend final : public Backend {
 public:
  AnthropicOAuthBackend(AnthropicOAuthSettings settings, std::shared_ptr<HttpTransport> transport,
                        std::string profile, EnvLookup env)
      : settings_(std::move(settings)),
        transport_(std::move(transport)),
        profile_(std::move(profile)),
        env_(env) {}

  const char* name() const override { return "anthropic-oauth"; }
  std::optional<std::chrono::seconds> expected_lifetime() const override { return std::nullopt; }
  std::optional<std::chrono::seconds> default_refresh_before_expiry() const override {
    return kAnthropicRefreshBeforeExpiry;
  }
  Result<FetchResult> fetch(const FetchContext& context) override;
  bool adopts_secret(std::string_view current, std::string_view candidate) const override;
  // The token endpoint and client id (the token family itself is P.secret, never a setting).
  std::string source_settings() const override {
    std::string out;
    append_setting(out, "token_url", settings_.token_url);
    append_setting(out, "client_id", settings_.client_id);
    return out;
  }
  void probe(Prober& prober) const override;  // backend_probes.cpp

  const AnthropicOAuthSettings& settings() const { return settings_; }
  HttpTransport& transport() const { return *transport_; }
  EnvLookup env() const { return env_; }

 private:
  AnthropicOAuthSettings settings_;
  std::shared_ptr<HttpTransport> transport_;
  std::string profile_;
  EnvLookup env_;
};

std::unique_ptr<Backend> make_anthropic_oauth_backend(ConfigSection& section,
                                                      const BackendContext& context);

// The secret state after a successful token answer (login or refresh): tokens, expiry from
// expires_in, scopes when stated, the account; no refresh in flight.
OAuthSecret apply_token_grant(OAuthSecret secret, const TokenGrant& grant, std::int64_t now);

// "run: claude-key-refresher login --profile P"
std::string login_hint(std::string_view profile);

}  // namespace ckh
