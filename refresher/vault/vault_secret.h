// P.secret of a `vault` profile: the Vault token the refresher holds (refresher-only state,
// never read by the helper) and what it learned about the mount. Line format of
// shared/kv_lines.h:
//
//   claude-key-helper-vault v2
//   token: hvs.CAES...               (empty: none yet)
//   token_expires_at: 1795300000     (none: the token does not expire)
//   token_ttl: 1200                  (seconds granted at the last login or renewal)
//   renewable: yes
//   auth: approle                    (how it was obtained: token, approle or kubernetes;
//                                    empty with no token yet)
//   kv_version: 2                    (0: not detected yet)
//   kv_version_of: https://vault.example:8200 - secret
//                                    (address, namespace or "-", mount: what kv_version was
//                                    detected for; a changed config detects again)
//   unwrapped_secret_id: 5a2c...     (AppRole with a wrapped secret_id: what the wrapping
//   unwrapped_from: 3f2a9c01d4e5      token held, and that token's fingerprint, kept until a
//                                    login with it succeeds: a wrapping token works once, so
//                                    a login that failed after the unwrap must not need it)
//   end
//
// Guarantees: parse accepts exactly what serialize writes (ErrorClass::corrupt otherwise,
// no content in the message). Callers: backends/vault_backend.cpp, the fuzzer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "shared/error.h"

namespace ckh {

struct VaultSecret {
  std::string token;
  std::optional<std::int64_t> token_expires_at;
  std::int64_t token_ttl = 0;
  bool renewable = false;
  std::string auth;  // token | approle | kubernetes
  int kv_version = 0;
  std::string kv_version_of;        // "<address> <namespace or -> <mount>"; empty with kv_version 0
  std::string unwrapped_secret_id;  // empty: none pending
  std::string unwrapped_from;       // token_fingerprint of the wrapping token
};

Result<VaultSecret> parse_vault_secret(std::string_view text);
std::string serialize_vault_secret(const VaultSecret& secret);

}  // namespace ckh
