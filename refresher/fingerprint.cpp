#include "refresher/fingerprint.h"

#include "refresher/config.h"
#include "refresher/sha256.h"

namespace ckh {

namespace {

// The first `count` bytes of the digest in lower-case hex.
std::string hex(const Sha256Digest& bytes, std::size_t count) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(count * 2);
  for (std::size_t i = 0; i < count; ++i) {
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 0xf];
  }
  return out;
}

}  // namespace

std::string token_fingerprint(std::string_view token) {
  return hex(sha256(token), 6);
}

std::string keyed_fingerprint(std::string_view key, std::string_view data) {
  return "k1-" + hex(hmac_sha256(key, data), 12);
}

std::string source_settings_fingerprint(std::string_view backend_name, std::string_view settings) {
  std::string text = "ckh-source-settings 1\nbackend ";
  text.append(backend_name).append("\n").append(settings);
  return hex(sha256(text), 8);
}

std::string source_settings_fingerprint(const ProfileConfig& profile) {
  std::string settings = profile.backend ? profile.backend->source_settings() : std::string();
  // Where the secret state lives is part of the source: a changed secret_store makes the
  // profile due at once, and that refresh moves the state (secret_store.h). Said only for
  // the keyring, so that file profiles keep the fingerprint they always had.
  if (profile.secret_store == SecretStore::keyring)
    append_setting(settings, "secret_store", "keyring");
  return source_settings_fingerprint(
      profile.backend ? profile.backend->name() : std::string_view(profile.backend_name), settings);
}

}  // namespace ckh
