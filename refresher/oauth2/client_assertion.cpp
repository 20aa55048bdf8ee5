#include "refresher/oauth2/client_assertion.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <array>
#include <exception>
#include <vector>

#include "refresher/json_writer.h"
#include "refresher/oauth/pkce.h"
#include "refresher/oauth2/jwt.h"
#include "shared/text.h"

namespace ckh {
namespace {

constexpr std::size_t kMaxPemBytes = 1024 * 1024;
constexpr int kMinRsaBits = 2048;
constexpr std::int64_t kMaxLifetime = 24 * 3600;
constexpr std::size_t kJtiBytes = 32;
constexpr const char* kPemHint =
    "expected an unencrypted PEM private key (\"BEGIN PRIVATE KEY\", \"BEGIN RSA PRIVATE KEY\" "
    "or \"BEGIN EC PRIVATE KEY\")";

enum class KeyKind { rsa, ec_p256, ec_p384, ed25519, other };

struct AlgInfo {
  std::string_view name;
  KeyKind kind;  // rsa, ec_p256, ec_p384, ed25519
  bool pss;
  const EVP_MD* (*digest)();  // nullptr for EdDSA
  std::size_t ec_half;        // bytes of R (and of S) in the JOSE form; 0 unless ES*
};

const EVP_MD* no_digest() {
  return nullptr;
}

constexpr std::array<AlgInfo, 9> kAlgs{{
    {"RS256", KeyKind::rsa, false, &EVP_sha256, 0},
    {"RS384", KeyKind::rsa, false, &EVP_sha384, 0},
    {"RS512", KeyKind::rsa, false, &EVP_sha512, 0},
    {"PS256", KeyKind::rsa, true, &EVP_sha256, 0},
    {"PS384", KeyKind::rsa, true, &EVP_sha384, 0},
    {"PS512", KeyKind::rsa, true, &EVP_sha512, 0},
    {"ES256", KeyKind::ec_p256, false, &EVP_sha256, 32},
    {"ES384", KeyKind::ec_p384, false, &EVP_sha384, 48},
    {"EdDSA", KeyKind::ed25519, false, &no_digest, 0},
}};

const AlgInfo* find_alg(std::string_view name) {
  for (const auto& info : kAlgs) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

// Keeps OpenSSL's per-thread error queue as it was before this call: whatever the loading
// or signing left there is dropped, nothing of the caller's is lost.
class ErrorMark {
 public:
  ErrorMark() { ERR_set_mark(); }
  ~ErrorMark() { ERR_pop_to_mark(); }
  ErrorMark(const ErrorMark&) = delete;
  ErrorMark& operator=(const ErrorMark&) = delete;
};

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* sig) const { ECDSA_SIG_free(sig); }
};

// OpenSSL asks for a passphrase only for an encrypted key: refuse instead of prompting on
// a terminal (the default), and remember that it asked.
int refuse_passphrase(char*, int, int, void* asked) {
  *static_cast<bool*>(asked) = true;
  return -1;
}

bool looks_encrypted(std::string_view pem) {
  return pem.find("BEGIN ENCRYPTED PRIVATE KEY") != std::string_view::npos ||
         pem.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos;
}

Error encrypted_key_error() {
  return Error{ErrorClass::config,
               "the private key is encrypted; this program cannot ask for a passphrase: "
               "decrypt it into a file only you can read (openssl pkey -in KEY -out "
               "PLAIN.pem) and point the configuration at that file"};
}

KeyKind kind_of(EVP_PKEY* key, std::string& name) {
  if (EVP_PKEY_is_a(key, "RSA")) {
    name = "RSA " + to_decimal(EVP_PKEY_get_bits(key)) + "-bit";
    return KeyKind::rsa;
  }
  if (EVP_PKEY_is_a(key, "ED25519")) {
    name = "Ed25519";
    return KeyKind::ed25519;
  }
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[80] = {};
    std::size_t length = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof group, &length) != 1) {
      name = "EC (explicit curve parameters)";
      return KeyKind::other;
    }
    int nid = OBJ_sn2nid(group);
    if (nid == NID_undef) nid = EC_curve_nist2nid(group);
    if (nid == NID_X9_62_prime256v1) {
      name = "EC P-256";
      return KeyKind::ec_p256;
    }
    if (nid == NID_secp384r1) {
      name = "EC P-384";
      return KeyKind::ec_p384;
    }
    name = "EC " + one_line(group, 40);
    return KeyKind::other;
  }
  const char* type = EVP_PKEY_get0_type_name(key);
  name = type != nullptr ? one_line(type, 40) : std::string("unknown");
  return KeyKind::other;
}

const char* default_alg(KeyKind kind) {
  switch (kind) {
    case KeyKind::rsa:
      return "RS256";
    case KeyKind::ec_p256:
      return "ES256";
    case KeyKind::ec_p384:
      return "ES384";
    case KeyKind::ed25519:
      return "EdDSA";
    case KeyKind::other:
      break;
  }
  return nullptr;
}

// ECDSA's DER signature (SEQUENCE of INTEGER r, s) as JOSE's R||S, each left-padded to
// `half` bytes.
std::optional<std::string> der_to_jose(const std::string& der, std::size_t half) {
  const auto* cursor = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(
      d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(der.size())));
  if (!sig) return std::nullopt;
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string out(2 * half, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(out.data());
  const int n = static_cast<int>(half);
  if (r == nullptr || s == nullptr || BN_bn2binpad(r, bytes, n) != n ||
      BN_bn2binpad(s, bytes + half, n) != n) {
    return std::nullopt;
  }
  return out;
}

Result<std::string> sign_bytes(EVP_PKEY* key, const AlgInfo& alg, std::string_view input) {
  const auto signing_failed = [&](const char* what) {
    return fail(ErrorClass::io, "signing the client assertion with " + std::string(alg.name) +
                                    " failed (OpenSSL " + what + ")");
  };
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx) return signing_failed("EVP_MD_CTX_new");
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (EVP_DigestSignInit(ctx.get(), &pctx, alg.digest(), nullptr, key) != 1) {
    return signing_failed("EVP_DigestSignInit");
  }
  if (alg.kind == KeyKind::rsa) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, alg.pss ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING) !=
        1) {
      return signing_failed("EVP_PKEY_CTX_set_rsa_padding");
    }
    if (alg.pss && (EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
                    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, alg.digest()) != 1)) {
      return signing_failed("RSA-PSS parameters");
    }
  }
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  std::size_t length = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &length, data, input.size()) != 1 || length == 0) {
    return signing_failed("EVP_DigestSign");
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length, data,
                     input.size()) != 1) {
    return signing_failed("EVP_DigestSign");
  }
  signature.resize(length);
  if (alg.ec_half == 0) return signature;
  auto jose = der_to_jose(signature, alg.ec_half);
  if (!jose) return signing_failed("ECDSA signature conversion");
  return std::move(*jose);
}

}  // namespace

void SigningKey::Free::operator()(evp_pkey_st* key) const {
  EVP_PKEY_free(key);
}

SigningKey::SigningKey(std::unique_ptr<evp_pkey_st, Free> key, std::string alg)
    : key_(std::move(key)), alg_(std::move(alg)) {}

Result<SigningKey> SigningKey::from_pem(std::string_view pem, std::string_view alg) {
  const AlgInfo* wanted = nullptr;
  if (!alg.empty()) {
    wanted = find_alg(alg);
    if (wanted == nullptr) {
      return fail(ErrorClass::config,
                  "the client assertion alg \"" + one_line(alg, 40) +
                      "\" is not supported; use RS256, RS384, RS512, PS256, PS384, PS512, "
                      "ES256, ES384 or EdDSA, or leave it empty to pick it from the key");
    }
  }
  if (pem.size() > kMaxPemBytes) {
    return fail(ErrorClass::config, "the private key is larger than 1 MiB; " +
                                        std::string(kPemHint) + ", check the key file");
  }
  if (looks_encrypted(pem)) return std::unexpected(encrypted_key_error());

  ErrorMark mark;
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return fail(ErrorClass::io, "reading the private key failed (OpenSSL BIO_new_mem_buf)");
  bool asked_passphrase = false;
  std::unique_ptr<evp_pkey_st, Free> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, &refuse_passphrase, &asked_passphrase));
  if (asked_passphrase) return std::unexpected(encrypted_key_error());
  if (!key) {
    return fail(ErrorClass::config, "the private key could not be read; " + std::string(kPemHint) +
                                        ", check the key file");
  }

  std::string key_name;
  const KeyKind kind = kind_of(key.get(), key_name);
  if (wanted == nullptr) {
    const char* picked = default_alg(kind);
    if (picked == nullptr) {
      return fail(ErrorClass::config,
                  "the private key is " + key_name +
                      ", which client assertions do not support; use an RSA (2048 bits or "
                      "more), EC P-256, EC P-384 or Ed25519 key");
    }
    wanted = find_alg(picked);
  } else if (wanted->kind != kind) {
    return fail(ErrorClass::config, "the private key is " + key_name +
                                        ", which cannot sign with alg " +
                                        std::string(wanted->name) +
                                        "; set an alg that fits the key, or leave it empty to "
                                        "pick it from the key");
  }
  if (kind == KeyKind::rsa && EVP_PKEY_get_bits(key.get()) < kMinRsaBits) {
    return fail(ErrorClass::config, "the private key is " + key_name + ", too short for " +
                                        std::string(wanted->name) +
                                        "; use an RSA key of at least 2048 bits");
  }
  return SigningKey(std::move(key), std::string(wanted->name));
}

Result<std::string> sign_client_assertion(const SigningKey& key, std::string_view key_id,
                                          std::string_view client_id, std::string_view audience,
                                          std::int64_t now, std::int64_t lifetime_s) {
  const AlgInfo* alg = find_alg(key.alg_);
  if (!key.key_ || alg == nullptr) {
    return fail(ErrorClass::config, "the client assertion has no signing key; load one first");
  }
  if (client_id.empty()) {
    return fail(ErrorClass::config, "the client assertion needs a client_id; set client_id");
  }
  if (audience.empty()) {
    return fail(
        ErrorClass::config,
        "the client assertion needs an audience (the token endpoint URL); set token_endpoint "
        "or issuer");
  }
  if (lifetime_s <= 0 || lifetime_s > kMaxLifetime) {
    return fail(ErrorClass::config,
                "the client assertion lifetime must be 1 to 86400 seconds; fix the setting");
  }
  if (now < 0 || now > kMaxJwtTime - lifetime_s) {
    return fail(ErrorClass::config, "the clock is outside 1970..9999; fix the system clock");
  }
  auto jti = random_base64url(kJtiBytes);
  if (!jti) return std::unexpected(jti.error());

  std::string signing_input;
  try {
    Json header = Json::object();
    header["alg"] = key.alg_;
    header["typ"] = "JWT";
    if (!key_id.empty()) header["kid"] = std::string(key_id);
    Json claims = Json::object();
    claims["iss"] = std::string(client_id);
    claims["sub"] = std::string(client_id);
    claims["aud"] = std::string(audience);
    claims["jti"] = *jti;
    claims["iat"] = now;
    claims["nbf"] = now;
    claims["exp"] = now + lifetime_s;
    signing_input = base64url(json_text(header)) + "." + base64url(json_text(claims));
  } catch (const std::exception&) {
    return fail(ErrorClass::io, "building the client assertion failed (out of memory?)");
  }

  ErrorMark mark;
  auto signature = sign_bytes(key.key_.get(), *alg, signing_input);
  if (!signature) return std::unexpected(signature.error());
  signing_input += '.';
  signing_input += base64url(*signature);
  return signing_input;
}

}  // namespace ckh
