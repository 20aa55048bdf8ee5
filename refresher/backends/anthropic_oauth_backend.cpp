#include "refresher/backends/anthropic_oauth_backend.h"

#include <fmt/format.h>

#include <optional>

#include "refresher/backends/setting_readers.h"
#include "refresher/http/curl_transport.h"
#include "refresher/log.h"
#include "refresher/oauth/token_client.h"
#include "refresher/sinks/claude_code_lock.h"
#include "refresher/sinks/claude_code_store.h"
#include "refresher/sinks/keychain.h"
#include "shared/text.h"
#include "shared/time_text.h"

namespace ckh {
namespace {

// Claude Code retries its lock for a few seconds; we wait a little longer than one of its
// refreshes could take before giving up for this round (transient).
constexpr std::chrono::milliseconds kClaudeCodeLockWait{15'000};

bool usable(const ClaudeAiOauth& oauth) {
  return !oauth.access_token.empty() && is_printable_token(oauth.access_token) &&
         !oauth.refresh_token.empty() && is_printable_token(oauth.refresh_token) &&
         oauth.expires_at_ms > 0;
}

// A family in Claude Code's store that someone else wrote after we last looked: Claude Code
// (or another refresher) rotated, or the user logged in again there. Judged by identity,
// not by time: a refresh in the same second gives the same expiry. A token there that is
// neither ours nor the one we last saw there is new. Only when we never looked (no
// fingerprint yet) does the expiry decide.
bool store_is_newer(const ClaudeAiOauth& stored, const OAuthSecret& ours) {
  if (!usable(stored) || stored.refresh_token == ours.refresh_token) return false;
  if (!ours.store_refresh_token_fp.empty()) {
    return token_fingerprint(stored.refresh_token) != ours.store_refresh_token_fp;
  }
  return stored.expires_at_ms / 1000 >= ours.expires_at;
}

void adopt(OAuthSecret& secret, const ClaudeAiOauth& stored) {
  secret.access_token = stored.access_token;
  secret.refresh_token = stored.refresh_token;
  secret.expires_at = stored.expires_at_ms / 1000;
  if (!stored.scopes.empty()) secret.scopes = stored.scopes;
  if (stored.subscription_type) secret.subscription_type = *stored.subscription_type;
  if (stored.rate_limit_tier) secret.rate_limit_tier = *stored.rate_limit_tier;
  if (stored.refresh_token_expires_at_ms) {
    secret.refresh_token_expires_at = *stored.refresh_token_expires_at_ms / 1000;
  }
  secret.pending_refresh_since.reset();  // whatever was in flight is superseded
  secret.store_refresh_token_fp = token_fingerprint(stored.refresh_token);
}

// Our family as Claude Code stores it; fields we do not know keep the store's values.
ClaudeAiOauth as_store_entry(const OAuthSecret& secret,
                             const std::optional<ClaudeAiOauth>& stored) {
  ClaudeAiOauth entry = stored.value_or(ClaudeAiOauth{});
  entry.access_token = secret.access_token;
  entry.refresh_token = secret.refresh_token;
  entry.expires_at_ms = secret.expires_at * 1000;
  entry.scopes = secret.scopes;
  if (!secret.subscription_type.empty()) entry.subscription_type = secret.subscription_type;
  if (!secret.rate_limit_tier.empty()) entry.rate_limit_tier = secret.rate_limit_tier;
  if (secret.refresh_token_expires_at) {
    entry.refresh_token_expires_at_ms = *secret.refresh_token_expires_at * 1000;
  }
  return entry;
}

bool same_family_state(const ClaudeAiOauth& stored, const OAuthSecret& secret) {
  return stored.access_token == secret.access_token &&
         stored.refresh_token == secret.refresh_token &&
         stored.expires_at_ms == secret.expires_at * 1000;
}

// Everything one fetch needs, so the steps below read as the contract says.
class Refresh {
 public:
  Refresh(const AnthropicOAuthBackend& backend, const FetchContext& context, std::string profile)
      : backend_(backend), context_(context), profile_(std::move(profile)) {}

  Result<FetchResult> run();

 private:
  Result<void> persist() {
    const std::string text = serialize_oauth_secret(secret_);
    if (context_.persist_secret) return context_.persist_secret(text);
    unsaved_ = text;  // tests without a file: handed back through new_secret_state
    return {};
  }
  Result<void> open_store();
  Result<void> adopt_from_store(std::string_view why);
  Result<void> refresh_with_server(bool second_try);
  Result<void> update_store();
  Result<void> write_store_entry();
  Error refused_error(const Error& error, const std::optional<std::int64_t>& interrupted_at) const;

  const AnthropicOAuthBackend& backend_;
  const FetchContext& context_;
  std::string profile_;
  OAuthSecret secret_;
  std::int64_t now_ = 0;
  bool sink_ = false;
  std::optional<ClaudeCodeLock> lock_;
  ClaudeCodeStorePaths store_paths_;
  std::optional<ClaudeAiOauth> stored_;
  std::optional<std::string> keychain_json_;  // macOS: the Keychain item's JSON, if any
  std::optional<Error> keychain_unreadable_;  // macOS: why it could not be read (not written then)
  bool adopted_ = false;
  std::optional<std::string> unsaved_;
};

Result<void> Refresh::open_store() {
  auto paths = claude_code_store_paths(backend_.env());
  if (!paths) return std::unexpected(paths.error());
  store_paths_ = std::move(*paths);
  auto lock = ClaudeCodeLock::acquire(store_paths_.lock_dir, kClaudeCodeLockWait);
  if (!lock) return std::unexpected(lock.error());
  lock_.emplace(std::move(*lock));
  now_ = context_.clock.unix_seconds();  // the wait for the lock may have been long
  return adopt_from_store("Claude Code's store holds a newer token family");
}

// Re-reads Claude Code's store (under its lock) and takes its family when it is newer.
Result<void> Refresh::adopt_from_store(std::string_view why) {
  auto stored = read_claude_code_store(store_paths_.credentials_file);
  if (!stored) {
    Error error = stored.error();
    error.message = "Claude Code's credential store: " + error.message +
                    "; fix or remove it (nothing was refreshed, so no token was spent)";
    return std::unexpected(error);
  }
  stored_ = std::move(*stored);
  if (kKeychainStore) {
    // On macOS the Keychain item is what Claude Code reads and writes first.
    const auto user = backend_.env()("USER");
    auto item = keychain_read(user.value_or(""), keychain_service_name(backend_.env()));
    if (!item) {
      keychain_unreadable_ = item.error();
    } else if (*item) {
      keychain_json_ = **item;
      if (auto entry = parse_claude_code_store(**item);
          entry && *entry && usable(**entry) &&
          (!stored_ || (*entry)->expires_at_ms > stored_->expires_at_ms)) {
        stored_ = std::move(*entry);
      }
    }
  }
  if (stored_ && store_is_newer(*stored_, secret_)) {
    adopt(secret_, *stored_);
    adopted_ = true;
    log_line(
        LogLevel::info, profile_,
        std::string(why) + ": adopted it (token " + token_fingerprint(secret_.refresh_token) + ")");
    return persist();
  }
  return {};
}

Error Refresh::refused_error(const Error& error,
                             const std::optional<std::int64_t>& interrupted_at) const {
  Error out = error;
  out.kind = ErrorClass::permanent;
  if (interrupted_at) {
    // Kept short: status shows at most 300 bytes and the login hint must survive.
    out.message =
        "interrupted refresh: the refresher stopped between the token server's answer "
        "and saving it (sent " +
        rfc3339_utc(*interrupted_at) + "); the spent refresh token is refused; " +
        login_hint(profile_);
  } else {
    // The advice first: status keeps 300 bytes and the server's description can be long.
    out.message = "the subscription login is no longer valid; " + login_hint(profile_) + " (" +
                  error.message + ")";
  }
  return out;
}

// A save that failed before the request went out: nothing was spent.
Error not_sent(Error error) {
  error.kind = ErrorClass::transient;
  error.message += "; the refresh was not sent, the refresh token is unchanged";
  return error;
}

// A save of the server's answer that failed even after the writer's retries; the writer
// kept the new state (temp file, memory) and said where.
Error answer_not_saved(Error error, std::string_view profile) {
  error.kind = ErrorClass::transient;
  error.message += "; if the next refresh is refused: " + login_hint(profile);
  return error;
}

Result<void> Refresh::refresh_with_server(bool second_try) {
  const std::optional<std::int64_t> in_flight_before = secret_.pending_refresh_since;
  // Durable BEFORE sending: if we die after the server rotated, the next run knows why the
  // old refresh token is refused.
  secret_.pending_refresh_since = now_;
  if (auto saved = persist(); !saved) return std::unexpected(not_sent(saved.error()));
  // And the room for the answer, so that a disk filling up meanwhile cannot lose it.
  if (context_.reserve_secret) {
    if (auto room = context_.reserve_secret(serialize_oauth_secret(secret_).size()); !room) {
      return std::unexpected(not_sent(room.error()));
    }
  }
  std::string salvaged;
  auto grant = refresh_tokens(backend_.transport(), backend_.settings(), secret_.refresh_token,
                              now_, &salvaged);
  if (!grant && !salvaged.empty() && salvaged != secret_.refresh_token) {
    // A 200 answer we cannot use, but it rotated the refresh token: keep the new one, or
    // the family is lost. The access token we hold stays published until it expires.
    secret_.refresh_token = salvaged;
    secret_.pending_refresh_since.reset();
    if (auto saved = persist(); !saved) {
      return std::unexpected(answer_not_saved(saved.error(), profile_));
    }
    Error error = grant.error();
    error.message += "; its new refresh token was saved, the next refresh uses it";
    return std::unexpected(error);
  }
  if (grant) {
    secret_ = apply_token_grant(std::move(secret_), *grant, now_);
    if (auto saved = persist(); !saved) {
      return std::unexpected(answer_not_saved(saved.error(), profile_));
    }
    return {};
  }
  const Error& error = grant.error();
  if (error.code == "invalid_grant") {
    // Another writer may have rotated the family: look before giving up.
    if (sink_ && !second_try) {
      secret_.pending_refresh_since = in_flight_before;
      if (auto adopted =
              adopt_from_store("refused refresh token; Claude Code's store holds another family");
          !adopted) {
        return adopted;
      }
      if (adopted_) {
        if (secret_.expires_at - now_ > 60) return {};
        return refresh_with_server(true);
      }
    }
    // The family is gone; keep the record of an interrupted refresh so every later
    // attempt names the same cause.
    secret_.pending_refresh_since = in_flight_before;
    (void)persist();
    return std::unexpected(refused_error(error, in_flight_before));
  }
  // The server answered (an HTTP error): it did not rotate, nothing is in flight any more.
  // No answer at all (network, timeout): it may have rotated; the marker stays.
  const bool answered = error.code == "http_status";
  if (answered) {
    secret_.pending_refresh_since = in_flight_before;
    (void)persist();
  }
  return std::unexpected(error);
}

Result<void> Refresh::update_store() {
  if (auto written = write_store_entry(); !written) return written;
  // The store holds our family now: remember which token that is (store_is_newer).
  if (const std::string ours = token_fingerprint(secret_.refresh_token);
      secret_.store_refresh_token_fp != ours) {
    secret_.store_refresh_token_fp = ours;
    return persist();
  }
  return {};
}

Result<void> Refresh::write_store_entry() {
  if (stored_ && same_family_state(*stored_, secret_)) return {};
  if (lock_ && !lock_->held()) {
    // Someone judged our lock stale and took it: writing now could overwrite a newer
    // family. P.secret is durable; the next round re-reads and writes under a fresh lock.
    return fail(ErrorClass::transient,
                "lost Claude Code's credential lock before updating its store; retrying");
  }
  auto written =
      write_claude_code_store(store_paths_.credentials_file, as_store_entry(secret_, stored_));
  if (!written) {
    Error error = written.error();
    error.message = "could not update Claude Code's credential store: " + error.message;
    if (error.kind != ErrorClass::unsafe && error.kind != ErrorClass::corrupt) {
      error.kind = ErrorClass::transient;
    }
    return std::unexpected(error);
  }
  if (kKeychainStore) {
    // Claude Code on macOS reads the Keychain item first: render our entry over the item's
    // own JSON (its other entries, such as mcpOAuth, stay), under the same lock. An item we
    // could not read is not written: rendering over nothing would drop those entries.
    if (keychain_unreadable_) {
      Error error = *keychain_unreadable_;
      error.kind = ErrorClass::transient;
      error.message = "could not read Claude Code's Keychain item, so it was not updated (" +
                      error.message + "); the credentials file was";
      return std::unexpected(error);
    }
    auto rendered =
        render_claude_code_store(keychain_json_.value_or(""), as_store_entry(secret_, stored_));
    if (!rendered) return std::unexpected(rendered.error());
    const auto user = backend_.env()("USER");
    if (auto saved =
            keychain_write(user.value_or(""), keychain_service_name(backend_.env()), *rendered);
        !saved) {
      Error error = saved.error();
      error.message = "could not update Claude Code's Keychain item: " + error.message;
      return std::unexpected(error);
    }
  }
  return {};
}

Result<FetchResult> Refresh::run() {
  now_ = context_.clock.unix_seconds();
  if (context_.secret_state.empty()) {
    Error error{ErrorClass::permanent,
                "not logged in to a Claude subscription; " + login_hint(profile_) +
                    " (or: claude-key-refresher import-claude-code --profile " + profile_ + ")"};
    error.code = "not_logged_in";
    return std::unexpected(error);
  }
  auto parsed = parse_oauth_secret(context_.secret_state);
  if (!parsed) {
    return fail(ErrorClass::permanent, "the saved subscription login is unreadable (" +
                                           parsed.error().message + "); " + login_hint(profile_));
  }
  secret_ = std::move(*parsed);
  sink_ = context_.sink_claude_code || secret_.owns_claude_code_store;
  if (sink_) {
    if (auto opened = open_store(); !opened) return std::unexpected(opened.error());
  }

  const std::int64_t left = secret_.expires_at - now_;
  const bool fresh = left > context_.refresh_before_expiry.count();
  // Forced means the published token was rejected or is unwanted; a family just adopted
  // from Claude Code is not that token.
  const bool need_server = adopted_ ? !fresh : (context_.forced || !fresh);
  if (need_server) {
    if (auto refreshed = refresh_with_server(false); !refreshed) {
      return std::unexpected(refreshed.error());
    }
  }
  if (sink_) {
    if (auto updated = update_store(); !updated) return std::unexpected(updated.error());
  }
  FetchResult result;
  result.credential = secret_.access_token;
  result.expires_at = secret_.expires_at;
  result.source = secret_.account_email.empty()
                      ? std::string("anthropic-oauth")
                      : "anthropic-oauth " + one_line(secret_.account_email, 120);
  result.new_secret_state = unsaved_;
  return result;
}

}  // namespace

std::string login_hint(std::string_view profile) {
  return "run: claude-key-refresher login --profile " + std::string(profile);
}

OAuthSecret apply_token_grant(OAuthSecret secret, const TokenGrant& grant, std::int64_t now) {
  secret.access_token = grant.access_token;
  if (grant.refresh_token) secret.refresh_token = *grant.refresh_token;
  secret.expires_at = now + grant.expires_in;
  if (!grant.scopes.empty()) secret.scopes = grant.scopes;
  if (!grant.account_email.empty()) secret.account_email = grant.account_email;
  if (grant.refresh_token_expires_in) {
    secret.refresh_token_expires_at = now + *grant.refresh_token_expires_in;
  }
  secret.pending_refresh_since.reset();
  return secret;
}

Result<FetchResult> AnthropicOAuthBackend::fetch(const FetchContext& context) {
  return Refresh(*this, context, profile_).run();
}

bool AnthropicOAuthBackend::adopts_secret(std::string_view current,
                                          std::string_view candidate) const {
  return is_saved_rotation(current, candidate);
}

std::unique_ptr<Backend> make_anthropic_oauth_backend(ConfigSection& section,
                                                      const BackendContext& context) {
  AnthropicOAuthSettings settings;
  bool ok = true;
  take_endpoint_url(section, "token_url", settings.token_url, ok);
  take_endpoint_url(section, "authorize_url", settings.authorize_url, ok);
  take_endpoint_url(section, "manual_redirect_uri", settings.manual_redirect_uri, ok);
  take_client_id(section, "the OAuth client id", settings.client_id, ok);
  if (auto scopes = section.get_string_array("scopes", "a list of OAuth scopes")) {
    for (const auto& scope : *scopes) {
      if (scope.empty() || !is_printable_token(scope)) {
        section.problem_at("scopes", "expected scopes without spaces, e.g. \"user:inference\"");
        ok = false;
      }
    }
    if (scopes->empty()) {
      section.problem_at("scopes", "expected at least one scope");
      ok = false;
    }
    settings.scopes = *scopes;
  } else if (section.has("scopes")) {
    ok = false;
  }
  if (auto agent = section.get_string("user_agent", "a User-Agent header value")) {
    if (agent->empty() || agent->find_first_of("\r\n") != std::string::npos) {
      section.problem_at("user_agent", "expected a one-line, non-empty User-Agent");
      ok = false;
    } else {
      settings.user_agent = *agent;
    }
  } else if (section.has("user_agent")) {
    ok = false;
  }
  ok &= section.take_duration("timeout", std::chrono::milliseconds(1000),
                              std::chrono::milliseconds(300'000), settings.timeout);
  if (!ok) return nullptr;
  return std::make_unique<AnthropicOAuthBackend>(std::move(settings),
                                                 std::make_shared<CurlTransport>(),
                                                 std::string(context.profile), context.env);
}

}  // namespace ckh
