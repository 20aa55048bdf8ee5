// A short, stable, non-reversible name for a secret (a token, a wrapping token) in messages,
// state files and tests: the first 12 hex digits of its SHA-256. Never the secret itself.
// Callers: the anthropic-oauth backend and account commands, the vault backend.
#pragma once

#include <string>
#include <string_view>

namespace ckh {

std::string token_fingerprint(std::string_view token);

}  // namespace ckh
