// SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104) over bytes in memory, with no library.
// Why our own: the refresher's every start names the profile's source settings by a hash
// (fingerprint.h), and a hash through OpenSSL 3 costs loading libcrypto and its default
// provider (about 8M instructions), most of a `once` that has nothing to do. OpenSSL stays
// the one implementation for signing (JWT, SigV4, PKCE), which run only with the network
// stack loaded (lazy/). Checked against the FIPS and RFC 4231 vectors and against OpenSSL
// over random inputs (tests/unit/sha256_test.cpp).
// Callers: fingerprint.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace ckh {

using Sha256Digest = std::array<unsigned char, 32>;

Sha256Digest sha256(std::string_view data);
Sha256Digest hmac_sha256(std::string_view key, std::string_view data);

// Incremental form, for HMAC's two passes.
class Sha256 {
 public:
  Sha256();
  void update(std::string_view data);
  Sha256Digest finish();  // the object is spent afterwards

 private:
  void compress(const unsigned char* block);
  std::array<std::uint32_t, 8> state_;
  std::array<unsigned char, 64> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t length_ = 0;  // bytes so far
};

}  // namespace ckh
