#include "refresher/oauth/account.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "refresher/backends/anthropic_oauth_backend.h"
#include "refresher/clock.h"
#include "refresher/login_publish.h"
#include "refresher/profile_lock.h"
#include "refresher/refresh.h"
#include "refresher/secret_store.h"
#include "refresher/sinks/claude_code_lock.h"
#include "refresher/sinks/claude_code_store.h"
#include "refresher/sinks/keychain.h"
#include "shared/secure_file.h"
#include "shared/status_record.h"
#include "shared/text.h"
#include "shared/time_text.h"

namespace ckh {
namespace {

constexpr std::chrono::milliseconds kLockWait{15'000};

Result<const AnthropicOAuthBackend*> oauth_backend(const ProfileConfig& profile) {
  const auto* backend = dynamic_cast<const AnthropicOAuthBackend*>(profile.backend.get());
  if (backend == nullptr) {
    return fail(ErrorClass::usage, "profile '" + profile.name + "' has backend = \"" +
                                       profile.backend_name +
                                       "\"; login and logout are for backend = "
                                       "\"anthropic-oauth\" profiles");
  }
  return backend;
}

// The old P.secret's owns flag survives a new login: the user chose the sink before.
bool previously_owned(const ProfileConfig& profile, const ProfilePaths& paths) {
  auto text = load_secret_state(profile, paths);
  if (!text || text->state.empty()) return false;
  auto secret = parse_oauth_secret(text->state);
  return secret && secret->owns_claude_code_store;
}

// Saves a new family and publishes it through a normal refresh.
Result<std::string> save_and_publish(const ProfileConfig& profile, const ProfilePaths& paths,
                                     const OAuthSecret& secret) {
  auto saved = save_login_and_publish(profile, paths, serialize_oauth_secret(secret));
  if (!saved) return std::unexpected(saved.error());
  std::string text = "profile '" + profile.name + "': logged in";
  if (!secret.account_email.empty()) text += " as " + one_line(secret.account_email, 120);
  text += "; access token valid until " + rfc3339_utc(secret.expires_at);
  if (profile.has_sink("claude-code") || secret.owns_claude_code_store) {
    text += "; Claude Code's credential store is kept current";
  }
  return text + where_login_went(paths, *saved);
}

}  // namespace

Result<std::string> login_profile(const ProfileConfig& profile, const ProfilePaths& paths,
                                  const LoginOptions& options) {
  auto backend = oauth_backend(profile);
  if (!backend) return std::unexpected(backend.error());
  auto login = run_login((*backend)->settings(), (*backend)->transport(), options);
  if (!login) return std::unexpected(login.error());
  OAuthSecret secret;
  secret.scopes = login->requested_scopes;
  secret = apply_token_grant(std::move(secret), login->grant,
                             static_cast<std::int64_t>(std::time(nullptr)));
  if (secret.refresh_token.empty()) {
    return fail(ErrorClass::permanent,
                "the token server's answer to the login has no refresh_token; nothing was saved");
  }
  secret.owns_claude_code_store = previously_owned(profile, paths);
  if (profile.has_sink("claude-code") || secret.owns_claude_code_store) {
    // The family in Claude Code's store now is older than this login: remember it as seen,
    // so the sink replaces it instead of adopting it (its expiry may well be later).
    if (auto store = claude_code_store_paths((*backend)->env())) {
      if (auto stored = read_claude_code_store(store->credentials_file); stored && *stored) {
        if (!(*stored)->refresh_token.empty()) {
          secret.store_refresh_token_fp = token_fingerprint((*stored)->refresh_token);
        }
      }
    }
  }
  return save_and_publish(profile, paths, secret);
}

Result<std::string> import_claude_code(const ProfileConfig& profile, const ProfilePaths& paths) {
  auto backend = oauth_backend(profile);
  if (!backend) return std::unexpected(backend.error());
  auto store = claude_code_store_paths((*backend)->env());
  if (!store) return std::unexpected(store.error());
  OAuthSecret secret;
  {
    auto lock = ClaudeCodeLock::acquire(store->lock_dir, kLockWait);
    if (!lock) return std::unexpected(lock.error());
    auto stored = read_claude_code_store(store->credentials_file);
    if (!stored) return std::unexpected(stored.error());
    if (!*stored || (*stored)->access_token.empty() || (*stored)->refresh_token.empty() ||
        (*stored)->expires_at_ms <= 0) {
      return fail(ErrorClass::not_found, "Claude Code's store " + store->credentials_file +
                                             " holds no subscription login; log in with "
                                             "claude-key-refresher login --profile " +
                                             profile.name + " instead");
    }
    const ClaudeAiOauth& entry = **stored;
    if (!is_printable_token(entry.access_token) || !is_printable_token(entry.refresh_token)) {
      return fail(ErrorClass::corrupt, "Claude Code's store " + store->credentials_file +
                                           " holds malformed tokens; log in instead");
    }
    secret.access_token = entry.access_token;
    secret.refresh_token = entry.refresh_token;
    secret.expires_at = entry.expires_at_ms / 1000;
    secret.scopes = entry.scopes;
    secret.subscription_type = entry.subscription_type.value_or("");
    secret.rate_limit_tier = entry.rate_limit_tier.value_or("");
    if (entry.refresh_token_expires_at_ms) {
      secret.refresh_token_expires_at = *entry.refresh_token_expires_at_ms / 1000;
    }
    secret.owns_claude_code_store = true;
  }
  auto published = save_and_publish(profile, paths, secret);
  if (!published) return published;
  return *published + " (imported from " + store->credentials_file +
         "; this profile is now its only writer)";
}

Result<std::string> logout_profile(const ProfileConfig& profile, const ProfilePaths& paths,
                                   bool claude_code) {
  auto backend = oauth_backend(profile);
  if (!backend) return std::unexpected(backend.error());
  // What was really there and is gone now: the user reads this to know where they stand.
  auto saved = remove_saved_login(profile, paths);
  if (!saved) return std::unexpected(saved.error());
  std::vector<std::string> removed = std::move(*saved);
  std::string left_alone;
  auto store = claude_code_store_paths((*backend)->env());
  if (claude_code) {
    if (!store) return std::unexpected(store.error());
    auto lock = ClaudeCodeLock::acquire(store->lock_dir, kLockWait);
    if (!lock) return std::unexpected(lock.error());
    auto entry = remove_claude_code_entry(store->credentials_file);
    if (!entry) return std::unexpected(entry.error());
    if (*entry) removed.push_back("Claude Code's login in " + store->credentials_file);
    if (kKeychainStore) {
      // The Keychain copy too (Claude Code reads it first), keeping its other entries.
      const auto user = (*backend)->env()("USER").value_or("");
      const std::string service = keychain_service_name((*backend)->env());
      auto item = keychain_read(user, service);
      if (!item) return std::unexpected(item.error());
      if (*item) {
        auto rendered = render_without_claude_code_entry(**item);
        if (!rendered) return std::unexpected(rendered.error());
        if (auto saved = keychain_write(user, service, *rendered); !saved)
          return std::unexpected(saved.error());
        removed.push_back("Claude Code's login in the Keychain item " + service);
      }
    }
  } else if (store) {
    // Not asked to touch it; say it is still there, so that "logged out" is not misread.
    if (auto stored = read_claude_code_store(store->credentials_file);
        stored && *stored && !(*stored)->refresh_token.empty()) {
      left_alone = "; Claude Code's own login in " + store->credentials_file +
                   " was left alone (add --claude-code to remove it too)";
    }
  }
  const std::string nothing =
      "no saved tokens" +
      (claude_code ? std::string(" and no login in Claude Code's store") : std::string()) +
      " (already logged out)";
  return logout_text(profile.name, removed, nothing, left_alone);
}

}  // namespace ckh
