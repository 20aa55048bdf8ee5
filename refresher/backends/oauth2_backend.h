// The `oauth2` backend: an access token (or ID token) from any standards OAuth 2.0 / OpenID
// Connect identity provider, for an LLM gateway that accepts the IdP's tokens.
//   [profile.P]
//   backend = "oauth2"
//   [profile.P.oauth2]
//   issuer = "https://idp.example.com/realms/corp"  # discovery (OIDC, then RFC 8414)
//   token_endpoint, device_authorization_endpoint, revocation_endpoint  # instead of issuer
//   client_id = "claude-gateway"                     # required
//   client_auth = "client_secret_basic"              # | client_secret_post | private_key_jwt
//                                                    # | none (default: by what is configured)
//   client_secret_file = "~/.config/x/secret"        # 0600; or client_secret_env = "NAME";
//                                                    # else stored by login --client-secret-stdin
//   private_key_file = "~/.config/x/key.pem"         # private_key_jwt (0600), key_id, signing_alg
//   grant = "client_credentials"                     # | device_code | token_exchange
//   scope = "openid offline_access"                  # string or list
//   audience = "..." ; resource = "https://gateway.example/"   # string or list (RFC 8707)
//   publish = "access_token"                         # | id_token
//   subject_token_file = "/var/run/secrets/tokens/gateway"     # token_exchange (RFC 8693)
//   subject_token_type, requested_token_type         # token_exchange, optional
//   ca_cert = "/etc/ssl/corp-ca.pem" ; ca_path ; tls_skip_verify = false
//   timeout = "30s" ; discovery_ttl = "24h"
// Guarantees (fetch, under P.lock):
// - a token with more than refresh_before_expiry left, obtained under the same settings, is
//   used again unless the refresh is forced; otherwise client_credentials and token_exchange
//   ask anew (the subject token file re-read each time) and device_code uses its refresh
//   token;
// - refresh-token rotation: before the request, P.secret durably records that one is in
//   flight and room for the answer is reserved; the rotated token is durable before the new
//   access token is published (as for anthropic-oauth); invalid_grant re-reads the stored
//   state and adopts a newer refresh token found there, else is a permanent error that says
//   to run `claude-key-refresher login --profile P`;
// - expiry from expires_in, else the token's JWT exp, else 5 minutes (said in the log);
// - discovered endpoints are kept in P.secret until the document's own expiry; a stale copy
//   is used while discovery fails transiently;
// - secrets (client secret, private key, refresh token, subject token) are read from their
//   files, variable or the secret store at fetch time and never appear in argv, messages or
//   logs; errors follow oauth2/token_endpoint.h (RFC 6749 §5.2).
// Callers: registry.cpp (config), oauth/account.cpp (login, logout), tests with a fake
// HttpTransport.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "refresher/backend.h"
#include "refresher/backends/registry.h"
#include "refresher/http/transport.h"
#include "refresher/oauth2/oauth2_settings.h"
#include "refresher/oauth2/oauth2_state.h"
#include "refresher/oauth2/token_endpoint.h"

namespace ckh {

class SigningKey;

// Without expires_in or a JWT exp, a token is taken to live this long.
inline constexpr std::chrono::seconds kOauth2AssumedLifetime{300};

class Oauth2Backend final : public Backend {
 public:
  Oauth2Backend(Oauth2Settings settings, std::shared_ptr<HttpTransport> transport,
                std::string profile, EnvLookup env)
      : settings_(std::move(settings)),
        transport_(std::move(transport)),
        profile_(std::move(profile)),
        env_(env) {}

  const char* name() const override { return "oauth2"; }
  std::optional<std::chrono::seconds> expected_lifetime() const override { return std::nullopt; }
  Result<FetchResult> fetch(const FetchContext& context) override;
  bool adopts_secret(std::string_view current, std::string_view candidate) const override {
    return is_saved_oauth2_rotation(current, candidate);
  }
  std::vector<std::string> secret_env_names() const override;
  std::string source_settings() const override;
  SourceState source_state() const override;
  void probe(Prober& prober) const override;  // backend_probes.cpp

  const Oauth2Settings& settings() const { return settings_; }
  HttpTransport& transport() const { return *transport_; }
  const std::string& profile() const { return profile_; }
  // "[profile.P.oauth2]", for messages.
  std::string section() const { return "[profile." + profile_ + ".oauth2]"; }

  // The endpoints to use now: the configured ones, else the discovered ones in `state`
  // (fetched again when missing or expired; a stale copy is kept while discovery fails
  // transiently, and looked for again only after a pause). need_device: the device
  // authorization endpoint too (a login). Updates state.discovered.
  Result<Oauth2Endpoints> endpoints(Oauth2State& state, std::int64_t now,
                                    bool need_device = false) const;
  // The client's authentication for one request: its secret (file, variable, or the
  // stored one in `state`) or its private key, read now. `key` receives the loaded key.
  Result<ClientAuthentication> client_authentication(const Oauth2State& state,
                                                     std::unique_ptr<SigningKey>& key) const;
  // The settings fingerprint stored with tokens (Oauth2State::settings_fp).
  std::string settings_fingerprint() const;

 private:
  Oauth2Settings settings_;
  std::shared_ptr<HttpTransport> transport_;
  std::string profile_;
  EnvLookup env_;
};

std::unique_ptr<Backend> make_oauth2_backend(ConfigSection& section, const BackendContext& context);

// The state after a successful token answer: tokens (a refresh token only when one came,
// else the one held), the expiry of the published token, scope; nothing in flight. An
// id_token profile without any id_token is an error.
Result<Oauth2State> apply_oauth2_tokens(Oauth2State state, const Oauth2TokenResponse& tokens,
                                        PublishedToken publish, std::int64_t now,
                                        bool* assumed_lifetime = nullptr);

}  // namespace ckh
