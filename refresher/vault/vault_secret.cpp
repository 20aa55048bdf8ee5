#include "refresher/vault/vault_secret.h"

#include <array>

#include "shared/kv_lines.h"
#include "shared/text.h"

namespace ckh {
namespace {

constexpr std::string_view kMagic = "claude-key-helper-vault";
constexpr unsigned kVersion = 2;  // v2: kv_version_of
constexpr std::array<std::string_view, 9> kKeys = {
    "token",      "token_expires_at", "token_ttl",           "renewable",     "auth",
    "kv_version", "kv_version_of",    "unwrapped_secret_id", "unwrapped_from"};

}  // namespace

Result<VaultSecret> parse_vault_secret(std::string_view text) {
  auto lines = parse_kv_lines(text, kMagic, kVersion, kKeys);
  if (!lines) return std::unexpected(lines.error());
  const auto& l = *lines;
  VaultSecret secret;
  secret.token = std::string(l[0].value);
  if (!secret.token.empty() && !is_printable_token(secret.token)) {
    return fail(ErrorClass::corrupt, "has a missing or malformed token");
  }
  const auto expires = parse_optional_time(l[1].value);
  const auto ttl = parse_i64(l[2].value);
  const auto version = parse_u64(l[5].value);
  if (!expires || !ttl || *ttl < 0 || !version || *version > 2) {
    return fail(ErrorClass::corrupt, "has a malformed number or time");
  }
  secret.token_expires_at = *expires;
  secret.token_ttl = *ttl;
  secret.kv_version = static_cast<int>(*version);
  if (l[3].value == "yes") {
    secret.renewable = true;
  } else if (l[3].value != "no") {
    return fail(ErrorClass::corrupt, "has renewable other than yes or no");
  }
  const bool no_token_yet = secret.token.empty() && l[4].value.empty();
  if (!no_token_yet && l[4].value != "token" && l[4].value != "approle" &&
      l[4].value != "kubernetes") {
    return fail(ErrorClass::corrupt, "has an unknown auth method");
  }
  secret.auth = std::string(l[4].value);
  secret.kv_version_of = std::string(l[6].value);
  secret.unwrapped_secret_id = std::string(l[7].value);
  secret.unwrapped_from = std::string(l[8].value);
  if ((!secret.unwrapped_secret_id.empty() && !is_printable_token(secret.unwrapped_secret_id)) ||
      secret.unwrapped_secret_id.empty() != secret.unwrapped_from.empty()) {
    return fail(ErrorClass::corrupt, "has a malformed unwrapped secret_id");
  }
  return secret;
}

std::string serialize_vault_secret(const VaultSecret& secret) {
  const std::string expires = format_optional_time(secret.token_expires_at);
  const std::string ttl = to_decimal(secret.token_ttl);
  const std::string version = to_decimal(secret.kv_version);
  const std::array<KvLine, 9> lines = {KvLine{kKeys[0], secret.token},
                                       KvLine{kKeys[1], expires},
                                       KvLine{kKeys[2], ttl},
                                       KvLine{kKeys[3], secret.renewable ? "yes" : "no"},
                                       KvLine{kKeys[4], secret.auth},
                                       KvLine{kKeys[5], version},
                                       KvLine{kKeys[6], secret.kv_version_of},
                                       KvLine{kKeys[7], secret.unwrapped_secret_id},
                                       KvLine{kKeys[8], secret.unwrapped_from}};
  return write_kv_lines(kMagic, kVersion, lines);
}

}  // namespace ckh
