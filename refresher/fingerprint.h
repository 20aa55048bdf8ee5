// Short, stable, non-reversible names for things in messages, state files and tests; never
// the thing itself.
// - token_fingerprint: the first 12 hex digits of a secret's SHA-256 (a token, a wrapping
//   token). Only for high-entropy secrets: a guessable one could be found from its hash.
// - keyed_fingerprint: "k1-" + 24 hex digits of HMAC-SHA256(key, data), for inputs that may
//   hold guessable secrets (an environment variable's value): without the key, nothing can
//   be tried against it (permanent_stop.h keeps the key). "k1" versions the construction.
// - source_settings_fingerprint: names a profile's source settings (Backend::
//   source_settings(), which never hold a secret, and secret_store = "keyring"): 16 hex
//   digits of SHA-256, carried by
//   P.cred (shared/record.h) so that a record from other settings is due at once.
// Callers: the anthropic-oauth backend and account commands, the vault backend,
// permanent_stop.cpp, refresh.cpp and schedule.cpp.
#pragma once

#include <string>
#include <string_view>

namespace ckh {

struct ProfileConfig;

std::string token_fingerprint(std::string_view token);

std::string keyed_fingerprint(std::string_view key, std::string_view data);

std::string source_settings_fingerprint(std::string_view backend_name, std::string_view settings);
// The same for a profile as configured now.
std::string source_settings_fingerprint(const ProfileConfig& profile);

}  // namespace ckh
