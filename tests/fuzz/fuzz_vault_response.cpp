// libFuzzer target for what Vault answers (refresher/vault/vault_response.h) and for the
// vault profile's P.secret (refresher/vault/vault_secret.h). Properties (a violation is
// __builtin_trap):
// 1. No parser crashes, leaks or trips a sanitizer on any bytes.
// 2. vault_error_text is one line of at most 200 bytes.
// 3. An accepted auth has a printable client_token; an accepted KV read with a value came
//    from a string field; messages never quote the body.
// 3a. Every lease or TTL accepted (auth and KV lease_duration, lookup-self's ttl) is in
//    0..kMaxVaultLeaseSeconds (issue 10 item 17: a KV read with lease_duration -6 was taken).
// 4. P.secret: a refusal is ErrorClass::corrupt with a one-line message; an accepted text
//    serialises to a text that reads back to the same values (a fixed point).
#include <cstddef>
#include <cstdint>
#include <string>

#include "refresher/vault/vault_response.h"
#include "refresher/vault/vault_secret.h"
#include "shared/text.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);

  const std::string errors = ckh::vault_error_text(body);
  CKH_FUZZ_CHECK(errors.find('\n') == std::string::npos && errors.size() <= 203,
                 "vault_error_text is not one short line");
  if (auto auth = ckh::parse_vault_auth(body)) {
    CKH_FUZZ_CHECK(!auth->client_token.empty() && ckh::is_printable_token(auth->client_token),
                   "accepted an unusable client_token");
    CKH_FUZZ_CHECK(auth->lease_duration >= 0 && auth->lease_duration <= ckh::kMaxVaultLeaseSeconds,
                   "auth lease_duration out of 0..ten years");
  } else {
    CKH_FUZZ_CHECK(auth.error().message.find('\n') == std::string::npos, "multi-line message");
  }
  // The documented fixtures' field is "foo"; both KV versions read every body.
  for (const int kv_version : {1, 2}) {
    if (auto read = ckh::parse_kv_read(body, kv_version, "foo")) {
      CKH_FUZZ_CHECK(!(read->value && read->field_not_string), "a value that is not a string");
      CKH_FUZZ_CHECK(
          read->lease_duration >= 0 && read->lease_duration <= ckh::kMaxVaultLeaseSeconds,
          "KV lease_duration out of 0..ten years");
      CKH_FUZZ_CHECK(read->fields.size() <= 32, "too many field names kept");
    } else {
      CKH_FUZZ_CHECK(read.error().message.find('\n') == std::string::npos, "multi-line message");
    }
  }
  if (auto version = ckh::parse_mount_kv_version(body)) {
    CKH_FUZZ_CHECK(*version == 1 || *version == 2, "a KV version other than 1 or 2");
  }
  (void)ckh::parse_unwrapped_secret_id(body);
  if (auto info = ckh::parse_token_lookup(body)) {
    CKH_FUZZ_CHECK(info->ttl >= 0 && info->ttl <= ckh::kMaxVaultLeaseSeconds,
                   "lookup-self ttl out of 0..ten years");
  } else {
    CKH_FUZZ_CHECK(info.error().message.find('\n') == std::string::npos, "multi-line message");
  }

  if (auto secret = ckh::parse_vault_secret(body)) {
    // Numbers may be written differently ("0897" reads as 897): the serialised form must
    // read back to the same values and be a fixed point.
    const std::string written = ckh::serialize_vault_secret(*secret);
    auto again = ckh::parse_vault_secret(written);
    CKH_FUZZ_CHECK_SHOW(again && again->token == secret->token &&
                            again->token_expires_at == secret->token_expires_at &&
                            again->token_ttl == secret->token_ttl &&
                            again->renewable == secret->renewable && again->auth == secret->auth &&
                            again->kv_version == secret->kv_version &&
                            ckh::serialize_vault_secret(*again) == written,
                        "P.secret does not round-trip", "written", written);
  } else {
    CKH_FUZZ_CHECK(secret.error().kind == ckh::ErrorClass::corrupt, "refusal is not corrupt");
    CKH_FUZZ_CHECK(secret.error().message.find('\n') == std::string::npos, "multi-line message");
  }
  return 0;
}
