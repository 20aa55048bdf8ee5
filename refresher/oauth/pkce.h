// PKCE (RFC 7636, S256) and the random values of an OAuth authorization-code login.
// Guarantees: base64url without padding ("-" and "_", never "=" "+" "/"); verifiers are
// 43 characters from 32 random bytes (OpenSSL's RAND_bytes), the state is a separate
// random value of the same size (never the verifier); pkce_challenge is
// base64url(SHA-256(ASCII(verifier))). Callers: oauth/login.cpp, tests (RFC 7636 vector).
#pragma once

#include <string>
#include <string_view>

#include "shared/error.h"

namespace ckh {

std::string base64url(std::string_view bytes);
// RFC 7636 section 4.1: 43..128 characters of [A-Za-z0-9-._~].
bool valid_code_verifier(std::string_view verifier);
std::string pkce_challenge(std::string_view verifier);
// base64url of `bytes` random bytes from a cryptographic generator.
Result<std::string> random_base64url(std::size_t bytes);

struct PkceLogin {
  std::string verifier;
  std::string challenge;
  std::string state;
};
Result<PkceLogin> new_pkce_login();

}  // namespace ckh
