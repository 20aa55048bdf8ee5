// OAuth client authentication with a signed JWT: RFC 7523 section 2.2 client assertions,
// "private_key_jwt" as OpenID Connect Core 1.0 section 9 defines it.
// Guarantees:
// - SigningKey owns one OpenSSL private key (EVP_PKEY), is move-only, keeps no copy of the
//   PEM text or key bytes, and frees the key when destroyed. from_pem accepts PKCS#8
//   ("BEGIN PRIVATE KEY") and traditional ("BEGIN RSA PRIVATE KEY", "BEGIN EC PRIVATE KEY")
//   PEM; it never prompts for a passphrase: an encrypted key is refused (ErrorClass::config).
//   alg is the JWS algorithm (RFC 7518): empty picks it from the key (RSA -> RS256,
//   EC P-256 -> ES256, EC P-384 -> ES384, Ed25519 -> EdDSA); an explicit alg must fit the
//   key (RS256/384/512 and PS256/384/512: RSA of at least 2048 bits; ES256: P-256;
//   ES384: P-384; EdDSA: Ed25519). Every refusal is ErrorClass::config, one line, says what
//   to do, and never holds key material.
// - sign_client_assertion returns header.payload.signature (JWS compact) with header
//   {"alg","typ":"JWT"[,"kid"]} and claims iss = sub = client_id, aud = audience,
//   jti = 32 random bytes (base64url), iat = nbf = now, exp = now + lifetime_s.
//   RSxxx: RSASSA-PKCS1-v1_5; PSxxx: RSASSA-PSS, MGF1 and salt length of the same SHA-2;
//   ESxxx: the JOSE R||S form (RFC 7518 section 3.4), EdDSA: RFC 8037. Invalid arguments are
//   ErrorClass::config, signing failures ErrorClass::io. No exceptions; thread-safe (a key
//   may sign from several threads at once).
// Callers: the oauth2 token client (client_assertion / client_assertion_type parameters).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "shared/error.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept out of this header

namespace ckh {

class SigningKey {
 public:
  static Result<SigningKey> from_pem(std::string_view pem, std::string_view alg);

  SigningKey(SigningKey&&) noexcept = default;
  SigningKey& operator=(SigningKey&&) noexcept = default;
  SigningKey(const SigningKey&) = delete;
  SigningKey& operator=(const SigningKey&) = delete;
  ~SigningKey() = default;

  // The JWS "alg" this key signs with: RS256 ... EdDSA.
  const std::string& alg() const { return alg_; }

 private:
  struct Free {
    void operator()(evp_pkey_st* key) const;
  };
  SigningKey(std::unique_ptr<evp_pkey_st, Free> key, std::string alg);
  friend Result<std::string> sign_client_assertion(const SigningKey&, std::string_view,
                                                   std::string_view, std::string_view, std::int64_t,
                                                   std::int64_t);

  std::unique_ptr<evp_pkey_st, Free> key_;
  std::string alg_;
};

Result<std::string> sign_client_assertion(const SigningKey& key, std::string_view key_id,
                                          std::string_view client_id, std::string_view audience,
                                          std::int64_t now, std::int64_t lifetime_s = 60);

}  // namespace ckh
