// Reading JWTs without trusting them: base64url decoding (RFC 4648 section 5) and the
// expiry of a JWS compact token (RFC 7515 section 7.1, RFC 7519 section 4.1.4).
// Guarantees:
// - base64url_decode accepts only the URL-safe alphabet [A-Za-z0-9-_], optionally followed
//   by the '=' padding that makes the length a multiple of 4; it refuses any other byte,
//   misplaced or excess '=', impossible lengths (length % 4 == 1) and non-canonical text
//   (unused low bits of the last character not zero). It never reads past `text`.
// - jwt_expiry NEVER verifies a signature: its answer is only a hint of when a token
//   expires, for a token server that omitted expires_in. It answers only for exactly three
//   dot-separated base64url parts whose header and payload are JSON objects and whose
//   payload's "exp" is an integer (or an integral number such as 1.7e9) within
//   0..253402300799 (9999-12-31T23:59:59Z); inputs over 64 KiB get nothing. Safe for any
//   bytes; no exceptions; thread-safe.
// Callers: oauth2 token handling (expiry fallback), client_assertion tests, the fuzzer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ckh {

std::optional<std::string> base64url_decode(std::string_view text);

// The largest token jwt_expiry reads.
inline constexpr std::size_t kMaxJwtBytes = 64 * 1024;
// 9999-12-31T23:59:59Z: the largest exp jwt_expiry accepts.
inline constexpr std::int64_t kMaxJwtTime = 253402300799;

std::optional<std::int64_t> jwt_expiry(std::string_view token);

}  // namespace ckh
