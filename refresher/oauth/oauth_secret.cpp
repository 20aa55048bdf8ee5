#include "refresher/oauth/oauth_secret.h"

#include <array>

#include "shared/kv_lines.h"
#include "shared/text.h"

namespace ckh {
namespace {

constexpr std::string_view kMagic = "claude-key-helper-oauth";
constexpr unsigned kVersion = 1;
constexpr std::array<std::string_view, 11> kKeys = {"refresh_token",
                                                    "access_token",
                                                    "expires_at",
                                                    "scopes",
                                                    "subscription_type",
                                                    "rate_limit_tier",
                                                    "account_email",
                                                    "refresh_token_expires_at",
                                                    "owns_claude_code_store",
                                                    "pending_refresh_since",
                                                    "store_refresh_token_fp"};

// Builds of 2026-11 wrote the last key without its name (": <fp>"): such a file reads as if
// the name were there, so those profiles keep their tokens.
constexpr std::string_view kUnnamedLastKey = "\n: ";

// Values that end up in one line of the file: no spaces in tokens, nothing that breaks
// the line format elsewhere.
bool one_line_value(std::string_view value) {
  for (const char c : value) {
    if (c == '\n' || c == '\r' || c == '\0') return false;
  }
  return true;
}

}  // namespace

std::string join_scopes(const std::vector<std::string>& scopes) {
  std::string out;
  for (const auto& scope : scopes) {
    if (scope.empty()) continue;
    if (!out.empty()) out += ' ';
    out += scope;
  }
  return out;
}

std::vector<std::string> split_scopes(std::string_view text) {
  std::vector<std::string> scopes;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    std::size_t end = i;
    while (end < text.size() && text[end] != ' ') ++end;
    if (end > i) scopes.emplace_back(text.substr(i, end - i));
    i = end;
  }
  return scopes;
}

Result<OAuthSecret> parse_oauth_secret(std::string_view text) {
  auto lines = parse_kv_lines(text, kMagic, kVersion, kKeys);
  if (!lines) {
    const auto unnamed = text.find(kUnnamedLastKey);
    if (unnamed == std::string_view::npos) return std::unexpected(lines.error());
    const std::string named = std::string(text.substr(0, unnamed + 1)) + std::string(kKeys.back()) +
                              std::string(text.substr(unnamed + 1));
    if (named.find(kUnnamedLastKey) != std::string::npos) return std::unexpected(lines.error());
    return parse_oauth_secret(named);
  }
  const auto& l = *lines;
  OAuthSecret secret;
  secret.refresh_token = std::string(l[0].value);
  secret.access_token = std::string(l[1].value);
  if (secret.refresh_token.empty() || !is_printable_token(secret.refresh_token) ||
      secret.access_token.empty() || !is_printable_token(secret.access_token)) {
    return fail(ErrorClass::corrupt, "has a missing or malformed token");
  }
  const auto expires_at = parse_i64(l[2].value);
  const auto refresh_expires = parse_optional_time(l[7].value);
  const auto pending = parse_optional_time(l[9].value);
  if (!expires_at || !refresh_expires || !pending) {
    return fail(ErrorClass::corrupt, "has a malformed number or time");
  }
  secret.expires_at = *expires_at;
  secret.refresh_token_expires_at = *refresh_expires;
  secret.pending_refresh_since = *pending;
  secret.scopes = split_scopes(l[3].value);
  secret.subscription_type = std::string(l[4].value);
  secret.rate_limit_tier = std::string(l[5].value);
  secret.account_email = std::string(l[6].value);
  secret.store_refresh_token_fp = std::string(l[10].value);
  if (!secret.store_refresh_token_fp.empty() &&
      !is_printable_token(secret.store_refresh_token_fp)) {
    return fail(ErrorClass::corrupt, "has a malformed store fingerprint");
  }
  if (l[8].value == "yes") {
    secret.owns_claude_code_store = true;
  } else if (l[8].value != "no") {
    return fail(ErrorClass::corrupt, "has owns_claude_code_store other than yes or no");
  }
  return secret;
}

std::string serialize_oauth_secret(const OAuthSecret& secret) {
  const std::string expires_at = to_decimal(secret.expires_at);
  const std::string scopes = join_scopes(secret.scopes);
  const std::string refresh_expires = format_optional_time(secret.refresh_token_expires_at);
  const std::string pending = format_optional_time(secret.pending_refresh_since);
  auto clean = [](const std::string& value) {
    return one_line_value(value) ? value : one_line(value, 256);
  };
  const std::string subscription = clean(secret.subscription_type);
  const std::string tier = clean(secret.rate_limit_tier);
  const std::string email = clean(secret.account_email);
  const std::array<KvLine, 11> lines = {
      KvLine{kKeys[0], secret.refresh_token},
      KvLine{kKeys[1], secret.access_token},
      KvLine{kKeys[2], expires_at},
      KvLine{kKeys[3], scopes},
      KvLine{kKeys[4], subscription},
      KvLine{kKeys[5], tier},
      KvLine{kKeys[6], email},
      KvLine{kKeys[7], refresh_expires},
      KvLine{kKeys[8], secret.owns_claude_code_store ? "yes" : "no"},
      KvLine{kKeys[9], pending},
      KvLine{kKeys[10], secret.store_refresh_token_fp}};
  return write_kv_lines(kMagic, kVersion, lines);
}

bool is_saved_rotation(std::string_view current, std::string_view candidate) {
  const auto before = parse_oauth_secret(current);
  if (!before || !before->pending_refresh_since) return false;
  const auto after = parse_oauth_secret(candidate);
  if (!after || after->pending_refresh_since) return false;
  return after->refresh_token != before->refresh_token ||
         after->access_token != before->access_token;
}

}  // namespace ckh
