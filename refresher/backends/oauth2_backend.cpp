#include "refresher/backends/oauth2_backend.h"

#include <fmt/format.h>

#include <array>

#include "refresher/backends/setting_readers.h"
#include "refresher/fingerprint.h"
#include "refresher/http/curl_transport.h"
#include "refresher/log.h"
#include "refresher/oauth2/client_assertion.h"
#include "refresher/oauth2/discovery.h"
#include "refresher/oauth2/jwt.h"
#include "shared/secure_file.h"
#include "shared/text.h"
#include "shared/time_text.h"

namespace ckh {
namespace {

// After a discovery that failed while an older document is at hand.
constexpr std::int64_t kDiscoveryRetryPause = 300;

std::string login_command(std::string_view profile) {
  return "run: claude-key-refresher login --profile " + std::string(profile);
}

bool same_issuer(std::string_view a, std::string_view b) {
  while (a.ends_with('/')) a.remove_suffix(1);
  while (b.ends_with('/')) b.remove_suffix(1);
  return a == b;
}

// One fetch: the steps below read as the contract in the header says.
class Oauth2Refresh {
 public:
  Oauth2Refresh(const Oauth2Backend& backend, const FetchContext& context)
      : backend_(backend), context_(context), settings_(backend.settings()) {}

  Result<FetchResult> run();

 private:
  Result<void> persist() {
    const std::string text = serialize_oauth2_state(state_);
    if (text == saved_text_) return {};
    // Nothing worth keeping yet (a first fetch that failed before any answer): no P.secret,
    // no keyring item.
    if (saved_text_.empty() && text == serialize_oauth2_state(Oauth2State{})) return {};
    if (context_.persist_secret) {
      if (auto saved = context_.persist_secret(text); !saved) return saved;
    } else {
      unsaved_ = text;  // tests without a store: handed back through new_secret_state
    }
    saved_text_ = text;
    return {};
  }
  Result<void> obtain(const Oauth2Endpoints& endpoints, const ClientAuthentication& client);
  Result<void> refresh(const Oauth2Endpoints& endpoints, const ClientAuthentication& client,
                       bool second_try);
  Result<void> take(const Oauth2TokenResponse& tokens);
  bool cached_token_usable() const;
  FetchResult result() const;

  const Oauth2Backend& backend_;
  const FetchContext& context_;
  const Oauth2Settings& settings_;
  Oauth2State state_;
  std::string saved_text_;  // what the store holds now
  std::int64_t now_ = 0;
  std::optional<std::string> unsaved_;
};

// As the schedule judges a record (schedule.h next_due): renew with refresh_before_expiry
// left, or at half the life of a token that lives shorter than twice that.
bool Oauth2Refresh::cached_token_usable() const {
  const std::string& token =
      settings_.publish == PublishedToken::id_token ? state_.id_token : state_.access_token;
  if (token.empty() || state_.settings_fp != backend_.settings_fingerprint() ||
      !state_.expires_at) {
    return false;
  }
  std::int64_t renew_with = context_.refresh_before_expiry.count();
  if (state_.obtained_at && *state_.obtained_at <= now_) {
    renew_with = std::min(renew_with, (*state_.expires_at - *state_.obtained_at) / 2);
  }
  return *state_.expires_at - now_ > renew_with;
}

Result<void> Oauth2Refresh::take(const Oauth2TokenResponse& tokens) {
  bool assumed = false;
  // A copy: when the answer cannot be used, state_ must still hold everything (the refresh
  // token, the stored client secret, the discovered endpoints) for the save that follows.
  auto next = apply_oauth2_tokens(state_, tokens, settings_.publish, now_, &assumed);
  if (!next) return std::unexpected(next.error());
  state_ = std::move(*next);
  state_.settings_fp = backend_.settings_fingerprint();
  if (assumed) {
    log_line(LogLevel::warning, backend_.profile(),
             "the token endpoint stated no expires_in and the token is not a JWT: taken to live " +
                 to_decimal(static_cast<std::int64_t>(kOauth2AssumedLifetime.count())) + " s");
  }
  return {};
}

Result<void> Oauth2Refresh::obtain(const Oauth2Endpoints& endpoints,
                                   const ClientAuthentication& client) {
  FormFields form;
  if (settings_.grant == Oauth2Grant::client_credentials) {
    form.emplace_back("grant_type", "client_credentials");
  } else {
    // A Kubernetes projected token or a CI job's OIDC token: rotated by its issuer, so read
    // on every exchange.
    auto subject = read_public_file(settings_.subject_token_file);
    if (!subject) {
      Error error = subject.error();
      error.message = "subject_token_file: " + error.message;
      return std::unexpected(error);
    }
    if (subject->empty() || !is_printable_token(*subject)) {
      return fail(ErrorClass::config, "subject_token_file " + settings_.subject_token_file +
                                          " is empty or not one token");
    }
    form.emplace_back("grant_type", kTokenExchangeGrant);
    form.emplace_back("subject_token", *subject);
    form.emplace_back("subject_token_type", settings_.subject_token_type);
    if (!settings_.requested_token_type.empty()) {
      form.emplace_back("requested_token_type", settings_.requested_token_type);
    }
  }
  if (!settings_.scope.empty()) form.emplace_back("scope", settings_.scope);
  for (const auto& audience : settings_.audience) form.emplace_back("audience", audience);
  for (const auto& resource : settings_.resource) form.emplace_back("resource", resource);
  auto tokens = request_tokens(backend_.transport(), settings_, client, endpoints.token_endpoint,
                               std::move(form), now_, backend_.section());
  if (!tokens) {
    Error error = tokens.error();
    if (error.code == "invalid_grant" && settings_.grant == Oauth2Grant::token_exchange) {
      error.message += "; the IdP refused the subject token of subject_token_file (" +
                       settings_.subject_token_file + "): expired, or not trusted for this client";
    }
    return std::unexpected(error);
  }
  return take(*tokens);
}

// A save that failed before the request went out: nothing was spent.
Error not_sent(Error error) {
  error.kind = ErrorClass::transient;
  error.message += "; the refresh was not sent, the refresh token is unchanged";
  return error;
}

// A save of the IdP's answer that failed even after the writer's retries (it kept the state
// in a temp file or in memory and said where).
Error answer_not_saved(Error error) {
  error.kind = ErrorClass::transient;
  error.message += "; the rotated refresh token is kept and saved at the next refresh";
  return error;
}

Result<void> Oauth2Refresh::refresh(const Oauth2Endpoints& endpoints,
                                    const ClientAuthentication& client, bool second_try) {
  const std::optional<std::int64_t> in_flight_before = state_.pending_refresh_since;
  const std::string presented = state_.refresh_token;
  // Durable BEFORE sending: if we die after the IdP rotated, the next run knows why the old
  // refresh token is refused.
  state_.pending_refresh_since = now_;
  if (auto saved = persist(); !saved) return std::unexpected(not_sent(saved.error()));
  if (context_.reserve_secret) {
    // Room for the answer: a new refresh, access and id token of the sizes held now, doubled.
    const std::size_t room = serialize_oauth2_state(state_).size() * 2 + 4096;
    if (auto reserved = context_.reserve_secret(room); !reserved) {
      // Nothing went out: the marker must not blame a later refusal on this refresh.
      state_.pending_refresh_since = in_flight_before;
      (void)persist();
      return std::unexpected(not_sent(reserved.error()));
    }
  }
  // scope: the same as granted (RFC 6749 §6 allows it; Entra ID's v2 endpoint wants it).
  FormFields form{{"grant_type", "refresh_token"}, {"refresh_token", presented}};
  if (!settings_.scope.empty()) form.emplace_back("scope", settings_.scope);
  for (const auto& resource : settings_.resource) form.emplace_back("resource", resource);
  std::string salvaged;
  auto tokens = request_tokens(backend_.transport(), settings_, client, endpoints.token_endpoint,
                               std::move(form), now_, backend_.section(), &salvaged);
  if (!tokens && !salvaged.empty() && salvaged != presented) {
    // A 200 answer we cannot use that rotated the refresh token: keep the new one.
    state_.refresh_token = salvaged;
    state_.pending_refresh_since.reset();
    if (auto saved = persist(); !saved) return std::unexpected(answer_not_saved(saved.error()));
    Error error = tokens.error();
    error.message += "; its new refresh token was saved, the next refresh uses it";
    return std::unexpected(error);
  }
  if (tokens) {
    if (auto taken = take(*tokens); !taken) {
      // The IdP answered and may have rotated: keep whatever refresh token came.
      if (tokens->refresh_token) state_.refresh_token = *tokens->refresh_token;
      state_.pending_refresh_since.reset();
      if (auto saved = persist(); !saved) return std::unexpected(answer_not_saved(saved.error()));
      return taken;
    }
    if (auto saved = persist(); !saved) return std::unexpected(answer_not_saved(saved.error()));
    return {};
  }
  const Error& error = tokens.error();
  if (error.code == "invalid_grant") {
    // Someone else may have saved a newer token family (a login meanwhile): adopt it.
    if (!second_try && context_.reload_secret) {
      if (auto stored = context_.reload_secret(); stored && !stored->empty()) {
        // Only a state obtained after ours: never go back to an older (spent) token.
        if (auto newer = parse_oauth2_state(*stored);
            newer && !newer->refresh_token.empty() && newer->refresh_token != presented &&
            newer->obtained_at &&
            (!state_.obtained_at || *newer->obtained_at > *state_.obtained_at)) {
          log_line(LogLevel::info, backend_.profile(),
                   "refused refresh token; the store holds a newer one (token " +
                       token_fingerprint(newer->refresh_token) + "): adopted it");
          state_ = std::move(*newer);
          saved_text_ = *stored;
          if (cached_token_usable()) return {};
          return refresh(endpoints, client, true);
        }
      }
    }
    state_.pending_refresh_since = in_flight_before;
    (void)persist();
    Error out = error;
    out.kind = ErrorClass::permanent;
    if (in_flight_before) {
      out.message =
          "interrupted refresh: the refresher stopped between the IdP's answer and "
          "saving it (sent " +
          rfc3339_utc(*in_flight_before) + "); the spent refresh token is refused; " +
          login_command(backend_.profile());
    } else {
      out.message = "the IdP login is no longer valid; " + login_command(backend_.profile()) +
                    " (" + error.message + ")";
    }
    return std::unexpected(out);
  }
  // The IdP answered (an HTTP error): it did not rotate, nothing is in flight any more. No
  // answer at all (network, timeout), or a proxy's 502/504 (the IdP may have acted): the
  // marker stays.
  if (!error.code.empty() && error.code != "gateway_error") {
    state_.pending_refresh_since = in_flight_before;
    (void)persist();
  }
  return std::unexpected(error);
}

FetchResult Oauth2Refresh::result() const {
  FetchResult out;
  out.credential =
      settings_.publish == PublishedToken::id_token ? state_.id_token : state_.access_token;
  out.expires_at = state_.expires_at;
  const std::string& where = settings_.issuer.empty() ? settings_.token_endpoint : settings_.issuer;
  out.source = std::string("oauth2 ") + grant_name(settings_.grant) + " " + url_host(where);
  out.new_secret_state = unsaved_;
  return out;
}

Result<FetchResult> Oauth2Refresh::run() {
  now_ = context_.clock.unix_seconds();
  saved_text_ = context_.secret_state;
  if (!context_.secret_state.empty()) {
    auto parsed = parse_oauth2_state(context_.secret_state);
    if (!parsed) {
      return fail(ErrorClass::permanent, "the saved oauth2 state is unreadable (" +
                                             parsed.error().message + "); " +
                                             login_command(backend_.profile()));
    }
    state_ = std::move(*parsed);
  }
  if (state_.settings_fp != backend_.settings_fingerprint()) {
    // Tokens obtained under other settings (another scope, audience, client) are not used
    // again; a refresh token is still tried: the IdP judges it.
    state_.access_token.clear();
    state_.id_token.clear();
    state_.expires_at.reset();
    state_.obtained_at.reset();
  }
  if (!context_.forced && cached_token_usable()) return result();
  if (settings_.grant == Oauth2Grant::device_code && state_.refresh_token.empty()) {
    Error error{ErrorClass::permanent,
                "not logged in to the identity provider; " + login_command(backend_.profile())};
    error.code = "not_logged_in";
    return std::unexpected(error);
  }
  auto endpoints = backend_.endpoints(state_, now_);
  if (!endpoints) {
    (void)persist();
    return std::unexpected(endpoints.error());
  }
  std::unique_ptr<SigningKey> key;
  auto client = backend_.client_authentication(state_, key);
  if (!client) return std::unexpected(client.error());
  auto done = settings_.grant == Oauth2Grant::device_code ? refresh(*endpoints, *client, false)
                                                          : obtain(*endpoints, *client);
  if (!done) {
    (void)persist();  // a freshly discovered document is worth keeping
    return std::unexpected(done.error());
  }
  if (auto saved = persist(); !saved) return std::unexpected(saved.error());
  return result();
}

}  // namespace

Result<Oauth2State> apply_oauth2_tokens(Oauth2State state, const Oauth2TokenResponse& tokens,
                                        PublishedToken publish, std::int64_t now,
                                        bool* assumed_lifetime) {
  state.access_token = tokens.access_token;
  if (tokens.refresh_token) state.refresh_token = *tokens.refresh_token;
  if (tokens.id_token) {
    state.id_token = *tokens.id_token;
  } else if (publish == PublishedToken::access_token) {
    state.id_token.clear();
  }
  if (!tokens.scope.empty()) state.scope = tokens.scope;
  state.pending_refresh_since.reset();
  if (assumed_lifetime != nullptr) *assumed_lifetime = false;
  if (publish == PublishedToken::id_token) {
    // An OIDC refresh may omit the ID token (Core §12.2): the one held is published while
    // it lives, with its own obtained_at (its half-life does not restart).
    if (tokens.id_token) state.obtained_at = now;
    const auto exp = state.id_token.empty() ? std::nullopt : jwt_expiry(state.id_token);
    if (!exp) {
      return fail(ErrorClass::config,
                  "publish = \"id_token\" but the IdP sent no ID token: add openid to scope, or "
                  "publish the access_token");
    }
    if (*exp <= now) {
      return fail(ErrorClass::permanent,
                  "publish = \"id_token\" but the IdP sends no new ID token on refresh and the "
                  "one held has expired: publish the access_token, or log in again");
    }
    state.expires_at = *exp;
    return state;
  }
  state.obtained_at = now;
  if (tokens.expires_in) {
    state.expires_at = now + *tokens.expires_in;
  } else if (const auto exp = jwt_expiry(tokens.access_token)) {
    if (*exp <= now) {
      return fail(ErrorClass::transient,
                  "the IdP's access token has no expires_in and its exp has already passed: "
                  "check this machine's clock (NTP)");
    }
    state.expires_at = *exp;
  } else {
    state.expires_at = now + kOauth2AssumedLifetime.count();
    if (assumed_lifetime != nullptr) *assumed_lifetime = true;
  }
  return state;
}

Result<FetchResult> Oauth2Backend::fetch(const FetchContext& context) {
  return Oauth2Refresh(*this, context).run();
}

Result<Oauth2Endpoints> Oauth2Backend::endpoints(Oauth2State& state, std::int64_t now,
                                                 bool need_device) const {
  Oauth2Endpoints out;
  const bool explicit_enough = !settings_.token_endpoint.empty() &&
                               (!need_device || !settings_.device_authorization_endpoint.empty());
  if (!settings_.issuer.empty() && !explicit_enough) {
    Oauth2Endpoints& cached = state.discovered;
    const bool have =
        !cached.token_endpoint.empty() && same_issuer(cached.issuer, settings_.issuer);
    if (!have || !cached.expires_at || *cached.expires_at <= now) {
      auto found = discover_endpoints(*transport_, settings_, now, section());
      if (found) {
        cached = *found;
      } else if (have && found.error().kind == ErrorClass::transient) {
        log_line(LogLevel::warning, profile_,
                 "discovery failed, using the endpoints found before: " + found.error().message);
        // Not again at every refresh (each would wait out the timeout first): after a pause,
        // or the server's Retry-After.
        cached.expires_at =
            now + std::max<std::int64_t>(found.error().retry_after_s.value_or(0),
                                         std::min<std::int64_t>(kDiscoveryRetryPause,
                                                                settings_.discovery_ttl.count()));
      } else {
        return std::unexpected(found.error());
      }
    }
    out = cached;
  }
  if (!settings_.token_endpoint.empty()) out.token_endpoint = settings_.token_endpoint;
  if (!settings_.device_authorization_endpoint.empty()) {
    out.device_authorization_endpoint = settings_.device_authorization_endpoint;
  }
  if (!settings_.revocation_endpoint.empty())
    out.revocation_endpoint = settings_.revocation_endpoint;
  return out;
}

Result<ClientAuthentication> Oauth2Backend::client_authentication(
    const Oauth2State& state, std::unique_ptr<SigningKey>& key) const {
  ClientAuthentication client;
  client.method = settings_.client_auth;
  client.client_id = settings_.client_id;
  client.key_id = settings_.key_id;
  if (client.method == ClientAuthMethod::client_secret_basic ||
      client.method == ClientAuthMethod::client_secret_post) {
    if (!settings_.client_secret_file.empty()) {
      auto secret = read_secret_file(settings_.client_secret_file, "client_secret_file");
      if (!secret) return std::unexpected(secret.error());
      client.secret = std::move(*secret);
    } else if (!settings_.client_secret_env.empty()) {
      auto value = env_nonempty(env_, settings_.client_secret_env.c_str());
      if (!value || !is_printable_token(*value)) {
        return fail(ErrorClass::config, "client_secret_env: " + settings_.client_secret_env +
                                            " is not set, or not one token");
      }
      client.secret = std::move(*value);
    } else if (!state.client_secret.empty()) {
      client.secret = state.client_secret;
    } else {
      return fail(ErrorClass::config,
                  "no client secret: set client_secret_file or client_secret_env in " + section() +
                      ", or store it: claude-key-refresher login --profile " + profile_ +
                      " --client-secret-stdin");
    }
  } else if (client.method == ClientAuthMethod::private_key_jwt) {
    auto pem = read_private_file(settings_.private_key_file, kMaxSmallFileBytes);
    if (!pem) {
      Error error = pem.error();
      error.message = "private_key_file: " + error.message;
      if (error.kind == ErrorClass::not_found) error.kind = ErrorClass::config;
      return std::unexpected(error);
    }
    auto loaded = SigningKey::from_pem(*pem, settings_.signing_alg);
    if (!loaded) {
      Error error = loaded.error();
      error.message = "private_key_file " + settings_.private_key_file + ": " + error.message;
      return std::unexpected(error);
    }
    key = std::make_unique<SigningKey>(std::move(*loaded));
    client.key = key.get();
  }
  return client;
}

std::string Oauth2Backend::settings_fingerprint() const {
  return token_fingerprint(source_settings());
}

std::vector<std::string> Oauth2Backend::secret_env_names() const {
  if (settings_.client_secret_env.empty()) return {};
  return {settings_.client_secret_env};
}

std::string Oauth2Backend::source_settings() const {
  const Oauth2Settings& s = settings_;
  std::string out;
  append_setting(out, "issuer", s.issuer);
  append_setting(out, "token_endpoint", s.token_endpoint);
  append_setting(out, "device_authorization_endpoint", s.device_authorization_endpoint);
  append_setting(out, "client_id", s.client_id);
  append_setting(out, "client_auth", client_auth_name(s.client_auth));
  append_setting(out, "client_secret_file", s.client_secret_file);
  append_setting(out, "client_secret_env", s.client_secret_env);
  append_setting(out, "private_key_file", s.private_key_file);
  append_setting(out, "key_id", s.key_id);
  append_setting(out, "signing_alg", s.signing_alg);
  append_setting(out, "grant", grant_name(s.grant));
  append_setting(out, "scope", s.scope);
  for (const auto& a : s.audience) append_setting(out, "audience", a);
  for (const auto& r : s.resource) append_setting(out, "resource", r);
  append_setting(out, "publish",
                 s.publish == PublishedToken::id_token ? "id_token" : "access_token");
  append_setting(out, "subject_token_file", s.subject_token_file);
  append_setting(out, "subject_token_type", s.subject_token_type);
  append_setting(out, "requested_token_type", s.requested_token_type);
  return out;
}

SourceState Oauth2Backend::source_state() const {
  SourceState state;
  for (const std::string* file : {&settings_.client_secret_file, &settings_.private_key_file,
                                  &settings_.subject_token_file}) {
    if (!file->empty()) state.files.push_back(*file);
  }
  if (!settings_.client_secret_env.empty()) {
    state.env.emplace_back(settings_.client_secret_env,
                           env_(settings_.client_secret_env.c_str()).value_or(""));
  }
  return state;
}

}  // namespace ckh

namespace ckh {
namespace {

template <class Enum, std::size_t N>
bool read_choice(ConfigSection& section, std::string_view key,
                 const std::array<std::pair<std::string_view, Enum>, N>& choices, Enum& into,
                 bool& present) {
  present = section.has(key);
  std::string expected;
  for (const auto& [name, value] : choices) {
    (void)value;
    // Appended piece by piece: g++ 12 at -O3 warns (-Wrestrict, a false positive) on
    // "\"" + std::string(name) + "\"" here.
    if (!expected.empty()) expected.append(", ");
    expected.append("\"").append(name).append("\"");
  }
  auto text = section.get_string(key, "one of " + expected);
  if (!text) return !present;
  for (const auto& [name, value] : choices) {
    if (*text == name) {
      into = value;
      return true;
    }
  }
  section.problem_at(key, "expected one of " + expected);
  return false;
}

}  // namespace

std::unique_ptr<Backend> make_oauth2_backend(ConfigSection& section,
                                             const BackendContext& context) {
  Oauth2Settings s;
  bool ok = true;
  const EnvLookup env = context.env;
  take_endpoint_url(section, "issuer", s.issuer, ok);
  take_endpoint_url(section, "token_endpoint", s.token_endpoint, ok);
  take_endpoint_url(section, "device_authorization_endpoint", s.device_authorization_endpoint, ok);
  take_endpoint_url(section, "revocation_endpoint", s.revocation_endpoint, ok);
  take_client_id(section, "the client id registered at the IdP", s.client_id, ok);
  if (!section.has("client_id")) {
    section.problem(
        "missing 'client_id'; expected client_id = \"...\" (the client registered at the IdP)");
    ok = false;
  }
  if (auto file = read_path(section, "client_secret_file", env, ok)) s.client_secret_file = *file;
  if (auto name = section.get_string("client_secret_env",
                                     "the name of a variable holding the client secret")) {
    if (name->empty() || name->find_first_of("= \t\n") != std::string::npos) {
      section.problem_at("client_secret_env",
                         "expected a variable name, e.g. \"IDP_CLIENT_SECRET\"");
      ok = false;
    }
    s.client_secret_env = *name;
  } else if (section.has("client_secret_env")) {
    ok = false;
  }
  if (auto file = read_path(section, "private_key_file", env, ok)) s.private_key_file = *file;
  if (auto kid = section.get_string("key_id", "the key's id (kid) registered at the IdP")) {
    s.key_id = *kid;
  } else if (section.has("key_id")) {
    ok = false;
  }
  if (auto alg = section.get_string("signing_alg", "RS256, PS256, ES256, ES384 or EdDSA")) {
    s.signing_alg = *alg;
  } else if (section.has("signing_alg")) {
    ok = false;
  }
  // By what is configured unless stated: a key signs, a secret is sent in Basic, else public.
  s.client_auth = !s.private_key_file.empty() ? ClientAuthMethod::private_key_jwt
                  : (!s.client_secret_file.empty() || !s.client_secret_env.empty())
                      ? ClientAuthMethod::client_secret_basic
                      : ClientAuthMethod::none;
  bool present = false;
  ok &= read_choice(section, "client_auth",
                    std::array<std::pair<std::string_view, ClientAuthMethod>, 4>{
                        {{"client_secret_basic", ClientAuthMethod::client_secret_basic},
                         {"client_secret_post", ClientAuthMethod::client_secret_post},
                         {"private_key_jwt", ClientAuthMethod::private_key_jwt},
                         {"none", ClientAuthMethod::none}}},
                    s.client_auth, present);
  bool grant_present = false;
  ok &= read_choice(section, "grant",
                    std::array<std::pair<std::string_view, Oauth2Grant>, 3>{
                        {{"client_credentials", Oauth2Grant::client_credentials},
                         {"device_code", Oauth2Grant::device_code},
                         {"token_exchange", Oauth2Grant::token_exchange}}},
                    s.grant, grant_present);
  bool publish_present = false;
  ok &= read_choice(
      section, "publish",
      std::array<std::pair<std::string_view, PublishedToken>, 2>{
          {{"access_token", PublishedToken::access_token}, {"id_token", PublishedToken::id_token}}},
      s.publish, publish_present);
  auto take_strings = [&](std::string_view key, std::vector<std::string>& into) {
    if (auto values = section.get_strings(key, "a string or a list of strings")) {
      for (const auto& value : *values) {
        if (value.empty() || value.find_first_of("\r\n") != std::string::npos) {
          section.problem_at(key, "expected non-empty one-line values");
          ok = false;
        }
      }
      into = *values;
    } else if (section.has(key)) {
      ok = false;
    }
  };
  std::vector<std::string> scopes;
  take_strings("scope", scopes);
  for (const auto& scope : scopes) {
    if (!s.scope.empty()) s.scope += ' ';
    s.scope += scope;
  }
  take_strings("audience", s.audience);
  take_strings("resource", s.resource);
  if (auto file = read_path(section, "subject_token_file", env, ok)) s.subject_token_file = *file;
  if (auto type = section.get_string("subject_token_type", "a token type URI")) {
    s.subject_token_type = *type;
  } else if (section.has("subject_token_type")) {
    ok = false;
  }
  if (auto type = section.get_string("requested_token_type", "a token type URI")) {
    s.requested_token_type = *type;
  } else if (section.has("requested_token_type")) {
    ok = false;
  }
  if (auto ca = read_path(section, "ca_cert", env, ok)) s.tls.ca_file = *ca;
  if (auto ca = read_path(section, "ca_path", env, ok)) s.tls.ca_path = *ca;
  if (section.has("tls_skip_verify")) {
    if (auto skip = section.get_bool("tls_skip_verify")) {
      s.tls.insecure_skip_verify = *skip;
    } else {
      ok = false;
    }
  }
  ok &= section.take_duration("timeout", std::chrono::milliseconds(1000),
                              std::chrono::milliseconds(300'000), s.timeout);
  ok &= section.take_duration_seconds("discovery_ttl", std::chrono::seconds(60),
                                      std::chrono::seconds(7LL * 24 * 3600), s.discovery_ttl);
  if (!ok) return nullptr;

  // What the settings need together, said once each.
  if (s.issuer.empty() && s.token_endpoint.empty()) {
    section.problem("needs issuer (discovery) or token_endpoint");
    ok = false;
  }
  if (s.grant == Oauth2Grant::device_code && s.issuer.empty() &&
      s.device_authorization_endpoint.empty()) {
    section.problem("grant = \"device_code\" needs issuer or device_authorization_endpoint");
    ok = false;
  }
  if (s.grant == Oauth2Grant::token_exchange && s.subject_token_file.empty()) {
    section.problem("grant = \"token_exchange\" needs subject_token_file");
    ok = false;
  }
  if (s.grant != Oauth2Grant::token_exchange &&
      (!s.subject_token_file.empty() || section.has("subject_token_type") ||
       section.has("requested_token_type"))) {
    section.problem(
        "subject_token_file, subject_token_type and requested_token_type are for "
        "grant = \"token_exchange\"");
    ok = false;
  }
  if (s.grant == Oauth2Grant::client_credentials && s.client_auth == ClientAuthMethod::none) {
    section.problem(
        "grant = \"client_credentials\" needs a confidential client: set "
        "client_secret_file, client_secret_env or private_key_file (or client_auth, "
        "with the secret stored by login --client-secret-stdin)");
    ok = false;
  }
  if (s.publish == PublishedToken::id_token && s.grant != Oauth2Grant::device_code) {
    section.problem(
        "publish = \"id_token\" is for grant = \"device_code\" (a person's login); "
        "machine grants get no ID token");
    ok = false;
  }
  if (s.client_auth == ClientAuthMethod::private_key_jwt && s.private_key_file.empty()) {
    section.problem("client_auth = \"private_key_jwt\" needs private_key_file");
    ok = false;
  }
  if (s.client_auth != ClientAuthMethod::private_key_jwt &&
      (!s.private_key_file.empty() || !s.key_id.empty() || !s.signing_alg.empty())) {
    section.problem(
        "private_key_file, key_id and signing_alg are for client_auth = "
        "\"private_key_jwt\"");
    ok = false;
  }
  if (!s.client_secret_file.empty() && !s.client_secret_env.empty()) {
    section.problem("set client_secret_file or client_secret_env, not both");
    ok = false;
  }
  const bool secret_method = s.client_auth == ClientAuthMethod::client_secret_basic ||
                             s.client_auth == ClientAuthMethod::client_secret_post;
  if (!secret_method && (!s.client_secret_file.empty() || !s.client_secret_env.empty())) {
    section.problem(
        "client_secret_file and client_secret_env are for client_auth = "
        "\"client_secret_basic\" or \"client_secret_post\"");
    ok = false;
  }
  if (!ok) return nullptr;
  return std::make_unique<Oauth2Backend>(std::move(s), std::make_shared<CurlTransport>(),
                                         std::string(context.profile), env);
}

}  // namespace ckh
