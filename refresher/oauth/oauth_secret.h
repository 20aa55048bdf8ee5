// P.secret of an `anthropic-oauth` profile: the token family the refresher owns. Written
// only by the refresher (under P.lock, durably, before anything that depends on it is
// published); never read by the helper. Line format of shared/kv_lines.h:
//
//   claude-key-helper-oauth v1
//   refresh_token: sk-ant-ort01-...
//   access_token: sk-ant-oat01-...
//   expires_at: 1795363200          (unix seconds, from the server's expires_in)
//   scopes: user:inference user:profile
//   subscription_type: max          (empty: unknown)
//   rate_limit_tier: default_claude_max_20x
//   account_email: user@example.com
//   refresh_token_expires_at: none
//   owns_claude_code_store: yes     (import-claude-code took the family over: the sink is on)
//   pending_refresh_since: none     (a refresh request was sent at this time and its answer
//                                    is not saved yet: set before sending, cleared after)
//   store_refresh_token_fp: 3f2a...  (fingerprint of the refresh token last seen in, or
//                                    written to, Claude Code's store; empty: none yet)
//   end
//
// Guarantees: parse_oauth_secret accepts exactly what serialize_oauth_secret writes and
// refuses the rest (ErrorClass::corrupt, no content in the message); tokens are printable
// ASCII without spaces. Callers: backends/anthropic_oauth_backend.cpp, oauth/account.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "refresher/fingerprint.h"
#include "shared/error.h"

namespace ckh {

struct OAuthSecret {
  std::string refresh_token;
  std::string access_token;
  std::int64_t expires_at = 0;
  std::vector<std::string> scopes;
  std::string subscription_type;
  std::string rate_limit_tier;
  std::string account_email;
  std::optional<std::int64_t> refresh_token_expires_at;
  bool owns_claude_code_store = false;
  std::optional<std::int64_t> pending_refresh_since;
  // Which family Claude Code's store held when we last looked: a different token there
  // that is not this one was written by someone else after us (adopt it); this one is
  // ours, superseded (overwrite it).
  std::string store_refresh_token_fp;
};

Result<OAuthSecret> parse_oauth_secret(std::string_view text);
std::string serialize_oauth_secret(const OAuthSecret& secret);

// Whether `candidate` (a whole temp copy of P.secret that a refresh did not get to rename)
// is the state the refresh in flight in `current` (P.secret) led to: current parses and
// records a refresh in flight (pending_refresh_since), candidate parses fully, has nothing
// in flight, and holds other tokens than current (the server's rotated answer, or a newer
// login). Anything else is not: a copy of the in-flight marker itself, of an answer that
// rotated nothing (429, 5xx), or unreadable text is left to be deleted.
bool is_saved_rotation(std::string_view current, std::string_view candidate);

std::string join_scopes(const std::vector<std::string>& scopes);
std::vector<std::string> split_scopes(std::string_view text);

}  // namespace ckh
