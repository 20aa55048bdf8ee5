#include "refresher/oauth2/oauth2_account.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <vector>

#include "refresher/backends/oauth2_backend.h"
#include "refresher/clock.h"
#include "refresher/login_publish.h"
#include "refresher/oauth2/client_assertion.h"
#include "refresher/oauth2/device_login.h"
#include "refresher/profile_lock.h"
#include "refresher/secret_store.h"
#include "shared/text.h"
#include "shared/time_text.h"

namespace ckh {
namespace {

constexpr std::size_t kMaxClientSecretBytes = 4096;

Result<const Oauth2Backend*> oauth2_backend(const ProfileConfig& profile) {
  const auto* backend = dynamic_cast<const Oauth2Backend*>(profile.backend.get());
  if (backend == nullptr) {
    return fail(ErrorClass::usage, "profile '" + profile.name + "' has backend = \"" +
                                       profile.backend_name + "\", not \"oauth2\"");
  }
  return backend;
}

// The state saved now (empty when none): a login keeps its client secret and endpoints.
Result<Oauth2State> current_state(const ProfileConfig& profile, const ProfilePaths& paths) {
  auto loaded = load_secret_state(profile, paths);
  if (!loaded) return std::unexpected(loaded.error());
  if (loaded->state.empty()) return Oauth2State{};
  auto parsed = parse_oauth2_state(loaded->state);
  if (!parsed) return Oauth2State{};  // unreadable: the login replaces it
  return parsed;
}

Result<std::string> read_client_secret(int fd) {
  if (::isatty(fd) == 1) {
    // Typed at a terminal it would be echoed and stay in the scrollback.
    return fail(ErrorClass::usage,
                "--client-secret-stdin reads from a pipe or file, not a terminal: printf '%s\\n' "
                "\"$SECRET\" | claude-key-refresher login --profile P --client-secret-stdin");
  }
  std::string text;
  char buffer[512];
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return fail(ErrorClass::io, "cannot read the client secret from standard input");
    if (got == 0) break;
    text.append(buffer, static_cast<std::size_t>(got));
    if (text.size() > kMaxClientSecretBytes) {
      return fail(ErrorClass::usage, "the client secret on standard input is too long");
    }
    if (text.find('\n') != std::string::npos) break;
  }
  const std::string secret(trim(text.substr(0, text.find('\n'))));
  if (secret.empty() || !is_printable_token(secret)) {
    return fail(ErrorClass::usage,
                "expected the client secret on standard input: one line, no spaces");
  }
  return secret;
}

// Revokes the refresh token at the IdP (RFC 7009), so that a copy of it anywhere else stops
// working too; says how that went, for the logout's closing line.
std::string revoke_refresh_token(const Oauth2Backend& backend, Oauth2State& state) {
  const std::string not_revoked = "; not revoked at the IdP (";
  RealClock clock;
  auto endpoints = backend.endpoints(state, clock.unix_seconds());
  if (!endpoints) {
    return not_revoked + redact(endpoints.error().message, state.refresh_token) +
           "): it ends when it expires";
  }
  if (endpoints->revocation_endpoint.empty()) {
    return not_revoked + "it names no revocation_endpoint; set one in " + backend.section() +
           " if it has one): it ends when it expires";
  }
  std::unique_ptr<SigningKey> key;
  auto client = backend.client_authentication(state, key);
  if (client) client->assertion_audience = endpoints->token_endpoint;
  Result<HttpRequest> request =
      client ? token_form_request(
                   backend.settings(), *client, endpoints->revocation_endpoint,
                   {{"token", state.refresh_token}, {"token_type_hint", "refresh_token"}},
                   clock.unix_seconds())
             : Result<HttpRequest>(std::unexpected(client.error()));
  Result<HttpResponse> response = request ? backend.transport().send(*request)
                                          : Result<HttpResponse>(std::unexpected(request.error()));
  if (response && response->status == 200) return "; the refresh token was revoked at the IdP";
  return "; the IdP did not confirm revoking the refresh token (" +
         (response ? "it answered " + to_decimal(static_cast<std::int64_t>(response->status))
                   : redact(response.error().message, state.refresh_token)) +
         "): it ends when it expires";
}

}  // namespace

Result<std::string> login_oauth2_profile(const ProfileConfig& profile, const ProfilePaths& paths,
                                         const Oauth2LoginOptions& options) {
  auto backend = oauth2_backend(profile);
  if (!backend) return std::unexpected(backend.error());
  const Oauth2Settings& settings = (*backend)->settings();
  const bool secret_method = settings.client_auth == ClientAuthMethod::client_secret_basic ||
                             settings.client_auth == ClientAuthMethod::client_secret_post;
  if (options.client_secret_stdin && (!secret_method || !settings.client_secret_file.empty() ||
                                      !settings.client_secret_env.empty())) {
    return fail(ErrorClass::usage,
                "--client-secret-stdin is for a profile whose client_auth is client_secret_basic "
                "or client_secret_post and that sets neither client_secret_file nor "
                "client_secret_env");
  }
  if (settings.grant != Oauth2Grant::device_code && !options.client_secret_stdin) {
    return fail(ErrorClass::usage,
                "profile '" + profile.name + "' uses grant = \"" + grant_name(settings.grant) +
                    "\": there is no one to log in (the refresher gets tokens by itself); "
                    "to store its client secret: login --client-secret-stdin");
  }
  auto state = current_state(profile, paths);
  if (!state) return std::unexpected(state.error());
  if (options.client_secret_stdin) {
    auto secret = read_client_secret(options.input_fd);
    if (!secret) return std::unexpected(secret.error());
    state->client_secret = std::move(*secret);
  }
  std::string summary = "profile '" + profile.name + "': ";
  if (settings.grant == Oauth2Grant::device_code) {
    RealClock clock;
    const std::int64_t now = clock.unix_seconds();
    auto endpoints = (*backend)->endpoints(*state, now, /*need_device=*/true);
    if (!endpoints) return std::unexpected(endpoints.error());
    if (endpoints->device_authorization_endpoint.empty()) {
      return fail(ErrorClass::config, "the IdP names no device_authorization_endpoint: set it in " +
                                          (*backend)->section() +
                                          ", or enable the device flow for the IdP");
    }
    std::unique_ptr<SigningKey> key;
    auto client = (*backend)->client_authentication(*state, key);
    if (!client) return std::unexpected(client.error());
    client->assertion_audience = endpoints->token_endpoint;
    DeviceLoginOptions device_options;
    device_options.open_browser = options.open_browser;
    device_options.timeout = options.timeout;
    auto tokens = run_device_login(
        (*backend)->transport(), settings, *client, endpoints->device_authorization_endpoint,
        endpoints->token_endpoint, clock, device_options, (*backend)->section());
    if (!tokens) return std::unexpected(tokens.error());
    if (!tokens->refresh_token) {
      return fail(ErrorClass::permanent,
                  "the IdP issued no refresh token, so the login would end when the access "
                  "token expires: add offline_access to scope in " +
                      (*backend)->section() +
                      " (or allow refresh tokens for the client at the IdP); nothing was saved");
    }
    auto next =
        apply_oauth2_tokens(std::move(*state), *tokens, settings.publish, clock.unix_seconds());
    if (!next) return std::unexpected(next.error());
    state = std::move(*next);
    state->refresh_token = *tokens->refresh_token;
    state->settings_fp = (*backend)->settings_fingerprint();
    summary += "logged in";
    if (state->expires_at) summary += "; token valid until " + rfc3339_utc(*state->expires_at);
  } else {
    // The next refresh obtains a token with the stored secret.
    state->access_token.clear();
    state->id_token.clear();
    state->expires_at.reset();
    state->obtained_at.reset();
    summary += "client secret stored";
  }
  auto saved = save_login_and_publish(profile, paths, serialize_oauth2_state(*state));
  if (!saved) return std::unexpected(saved.error());
  return summary + "; published" + where_login_went(paths, *saved);
}

Result<std::string> logout_oauth2_profile(const ProfileConfig& profile, const ProfilePaths& paths) {
  auto backend = oauth2_backend(profile);
  if (!backend) return std::unexpected(backend.error());
  std::string revoked;
  auto removed = remove_saved_login(profile, paths, [&] {
    if (auto state = current_state(profile, paths); state && !state->refresh_token.empty()) {
      revoked = revoke_refresh_token(**backend, *state);
    }
  });
  if (!removed) return std::unexpected(removed.error());
  return logout_text(profile.name, *removed, "no saved tokens (already logged out)", revoked);
}

}  // namespace ckh
