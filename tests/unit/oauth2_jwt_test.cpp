// JWT reading (base64url_decode, jwt_expiry) and RFC 7523 client assertions: keys made here
// with OpenSSL, loaded from PEM, signatures verified with OpenSSL against the public key.
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <simdjson.h>

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "refresher/oauth/pkce.h"
#include "refresher/oauth2/client_assertion.h"
#include "refresher/oauth2/jwt.h"

using namespace ckh;

namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

Pkey make_rsa(unsigned bits) {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(bits)));
  REQUIRE(key);
  return key;
}
Pkey make_ec(const char* curve) {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
  REQUIRE(key);
  return key;
}
Pkey make_ed25519() {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  REQUIRE(key);
  return key;
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  REQUIRE(length > 0);
  return std::string(data, static_cast<std::size_t>(length));
}

std::string pkcs8_pem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1);
  return bio_text(bio.get());
}
std::string traditional_pem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_PrivateKey_traditional(bio.get(), key, nullptr, nullptr, 0, nullptr,
                                               nullptr) == 1);
  return bio_text(bio.get());
}
std::string encrypted_pkcs8_pem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  char pass[] = "correct horse";
  REQUIRE(PEM_write_bio_PKCS8PrivateKey(bio.get(), key, EVP_aes_256_cbc(), pass,
                                        static_cast<int>(sizeof pass - 1), nullptr, nullptr) == 1);
  return bio_text(bio.get());
}
std::string encrypted_traditional_pem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  unsigned char pass[] = "correct horse";
  REQUIRE(PEM_write_bio_PrivateKey_traditional(bio.get(), key, EVP_aes_256_cbc(), pass,
                                               static_cast<int>(sizeof pass - 1), nullptr,
                                               nullptr) == 1);
  return bio_text(bio.get());
}
// The public half only, through its PEM: verification never sees the private key.
Pkey public_key(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_PUBKEY(bio.get(), key) == 1);
  Pkey pub(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  REQUIRE(pub);
  return pub;
}

// JOSE R||S back to DER.
std::string jose_to_der(const std::string& raw) {
  REQUIRE(raw.size() % 2 == 0);
  const std::size_t half = raw.size() / 2;
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  ECDSA_SIG* sig = ECDSA_SIG_new();
  REQUIRE(sig != nullptr);
  BIGNUM* r = BN_bin2bn(bytes, static_cast<int>(half), nullptr);
  BIGNUM* s = BN_bin2bn(bytes + half, static_cast<int>(half), nullptr);
  REQUIRE(ECDSA_SIG_set0(sig, r, s) == 1);
  unsigned char* der = nullptr;
  const int length = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  REQUIRE(length > 0);
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(length));
  OPENSSL_free(der);
  return out;
}

struct Parts {
  std::string header, payload, signature;  // decoded
  std::string signing_input;
};

Parts split(const std::string& token) {
  const auto first = token.find('.');
  REQUIRE(first != std::string::npos);
  const auto second = token.find('.', first + 1);
  REQUIRE(second != std::string::npos);
  REQUIRE(token.find('.', second + 1) == std::string::npos);
  Parts parts;
  auto header = base64url_decode(token.substr(0, first));
  auto payload = base64url_decode(token.substr(first + 1, second - first - 1));
  auto signature = base64url_decode(token.substr(second + 1));
  REQUIRE(header);
  REQUIRE(payload);
  REQUIRE(signature);
  parts.header = *header;
  parts.payload = *payload;
  parts.signature = *signature;
  parts.signing_input = token.substr(0, second);
  return parts;
}

bool verify(EVP_PKEY* pub, std::string_view alg, const Parts& parts) {
  const EVP_MD* md = nullptr;
  if (alg.ends_with("256")) md = EVP_sha256();
  if (alg.ends_with("384")) md = EVP_sha384();
  if (alg.ends_with("512")) md = EVP_sha512();
  std::string signature = parts.signature;
  if (alg.starts_with("ES")) signature = jose_to_der(signature);
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, pub) != 1) return false;
  if (alg.starts_with("PS")) {
    // Exactly the digest's length of salt: OpenSSL checks it instead of auto-detecting.
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, EVP_MD_get_size(md)) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1) {
      return false;
    }
  } else if (alg.starts_with("RS")) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) return false;
  }
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(),
                          reinterpret_cast<const unsigned char*>(parts.signing_input.data()),
                          parts.signing_input.size()) == 1;
}

std::string string_member(simdjson::dom::object object, const char* key) {
  std::string_view value;
  REQUIRE(object[key].get(value) == simdjson::SUCCESS);
  return std::string(value);
}
std::int64_t integer_member(simdjson::dom::object object, const char* key) {
  std::int64_t value = 0;
  REQUIRE(object[key].get(value) == simdjson::SUCCESS);
  return value;
}

std::string make_token(std::string_view header, std::string_view payload,
                       std::string_view signature = "sig") {
  return base64url(header) + "." + base64url(payload) + "." + base64url(signature);
}

// No error message may carry any piece of the PEM text.
void check_no_pem_text(const std::string& message, const std::string& pem) {
  CHECK(message.find("-----") == std::string::npos);
  CHECK(message.find('\n') == std::string::npos);
  std::string leaked;
  std::size_t start = 0;
  while (start < pem.size() && leaked.empty()) {
    auto end = pem.find('\n', start);
    if (end == std::string::npos) end = pem.size();
    const std::string line = pem.substr(start, end - start);
    if (line.size() >= 16 && line.find("-----") == std::string::npos) {
      for (std::size_t i = 0; i + 16 <= line.size() && leaked.empty(); i += 8) {
        if (message.find(line.substr(i, 16)) != std::string::npos) leaked = line.substr(i, 16);
      }
    }
    start = end + 1;
  }
  CHECK(leaked == "");
}

Error load_error(const std::string& pem, std::string_view alg) {
  auto key = SigningKey::from_pem(pem, alg);
  REQUIRE_FALSE(key);
  check_no_pem_text(key.error().message, pem);
  return key.error();
}

}  // namespace

TEST_CASE("oauth2: base64url_decode round-trips base64url for every length 0..64", "[oauth2]") {
  for (std::size_t length = 0; length <= 64; ++length) {
    std::string bytes;
    for (std::size_t i = 0; i < length; ++i) {
      bytes += static_cast<char>((i * 151 + length * 7 + 0xf0) & 0xff);
    }
    const std::string text = base64url(bytes);
    auto decoded = base64url_decode(text);
    REQUIRE(decoded);
    CHECK(*decoded == bytes);
    // The same with '=' padding.
    std::string padded = text;
    while (padded.size() % 4 != 0) padded += '=';
    auto from_padded = base64url_decode(padded);
    REQUIRE(from_padded);
    CHECK(*from_padded == bytes);
    // All 0xff bytes exercise '-' and '_'.
    const std::string ones(length, '\xff');
    CHECK(base64url_decode(base64url(ones)) == ones);
  }
}

TEST_CASE("oauth2: base64url_decode refuses other alphabets, bad padding and lengths", "[oauth2]") {
  CHECK(base64url_decode("") == std::string());
  CHECK(base64url_decode("Zm9v") == "foo");
  CHECK(base64url_decode("-_-_") == "\xfb\xff\xbf");
  CHECK_FALSE(base64url_decode("+/+/"));  // standard base64's alphabet
  CHECK_FALSE(base64url_decode("Zm9v+"));
  CHECK_FALSE(base64url_decode("Zm 9v"));
  CHECK_FALSE(base64url_decode("Zm9v\n"));
  CHECK_FALSE(base64url_decode(std::string_view("Zm\0v", 4)));
  CHECK_FALSE(base64url_decode("Zm9v."));
  CHECK_FALSE(base64url_decode("Z"));  // length % 4 == 1
  CHECK_FALSE(base64url_decode("Zm9vZ"));
  CHECK_FALSE(base64url_decode("Z==="));
  CHECK_FALSE(base64url_decode("===="));
  CHECK_FALSE(base64url_decode("="));
  CHECK_FALSE(base64url_decode("Zg="));     // incomplete padding
  CHECK_FALSE(base64url_decode("Zg==="));   // excess padding
  CHECK_FALSE(base64url_decode("Zm9v=="));  // padding where none belongs
  CHECK_FALSE(base64url_decode("Zg==Zg=="));
  CHECK_FALSE(base64url_decode("Zh"));  // non-canonical: unused bits set
  CHECK_FALSE(base64url_decode("Zm9"));
  CHECK(base64url_decode("Zm8") == "fo");
  CHECK_FALSE(base64url_decode("\xc3\xa9\xc3\xa9"));
}

TEST_CASE("oauth2: jwt_expiry reads exp from a well-formed token only", "[oauth2]") {
  const std::string header = R"({"alg":"RS256","typ":"JWT"})";
  CHECK(jwt_expiry(make_token(header, R"({"sub":"x","exp":1700000000})")) == 1700000000);
  CHECK(jwt_expiry(make_token(header, R"({"exp":1700000000.0})")) == 1700000000);
  CHECK(jwt_expiry(make_token(header, R"({"exp":1.7e9})")) == 1700000000);
  CHECK(jwt_expiry(make_token(header, R"({"exp":0})")) == 0);
  CHECK(jwt_expiry(make_token(header, R"({"exp":253402300799})")) == 253402300799);
  CHECK(jwt_expiry(make_token(header, R"({"exp":1700000000})", "")) == 1700000000);
  // The parts padded: still base64url.
  std::string padded = base64url(header);
  while (padded.size() % 4 != 0) padded += '=';
  CHECK(jwt_expiry(padded + "." + base64url(R"({"exp":5})") + ".c2ln") == 5);

  CHECK_FALSE(jwt_expiry(make_token(header, R"({"sub":"x"})")));  // no exp
  CHECK_FALSE(jwt_expiry(make_token(header, R"({"exp":253402300800})")));
  CHECK_FALSE(jwt_expiry(make_token(header, R"({"exp":-1})")));
  CHECK_FALSE(jwt_expiry(make_token(header, R"({"exp":1700000000.5})")));
  CHECK_FALSE(jwt_expiry(make_token(header, R"({"exp":1e300})")));
  CHECK_FALSE(jwt_expiry(make_token(header, R"({"exp":18446744073709551615})")));
  CHECK_FALSE(jwt_expiry(make_token(header, R"({"exp":"1700000000"})")));
  CHECK_FALSE(jwt_expiry(make_token(header, R"({"exp":null})")));
  CHECK_FALSE(jwt_expiry(make_token(header, R"({"exp":true})")));
  CHECK_FALSE(jwt_expiry(make_token(header, R"([1700000000])")));  // not an object
  CHECK_FALSE(jwt_expiry(make_token(header, "1700000000")));
  CHECK_FALSE(jwt_expiry(make_token(header, R"({"exp":1700000000)")));  // truncated JSON
  CHECK_FALSE(jwt_expiry(make_token("[]", R"({"exp":1700000000})")));   // header not an object
  CHECK_FALSE(jwt_expiry(make_token("", R"({"exp":1700000000})")));
  CHECK_FALSE(jwt_expiry(make_token(header, R"({"exp":1700000000})", "") + "."));  // 4 parts
  CHECK_FALSE(jwt_expiry(make_token(header, R"({"exp":1700000000})") + ".c2ln"));
  CHECK_FALSE(jwt_expiry(base64url(header) + "." + base64url(R"({"exp":1700000000})")));  // 2
  CHECK_FALSE(jwt_expiry(base64url(header) + ".." + base64url(R"({"exp":1700000000})")));
  CHECK_FALSE(jwt_expiry(""));
  CHECK_FALSE(jwt_expiry(".."));
  CHECK_FALSE(jwt_expiry("garbage"));
  CHECK_FALSE(jwt_expiry("a.b.c"));
  CHECK_FALSE(jwt_expiry(std::string("\x00\xff.\x80.\x01", 7)));
  CHECK_FALSE(jwt_expiry(make_token(header, R"({"exp":1700000000})", "x") + "+"));
  // Standard base64 ('+' and '/') is not base64url.
  CHECK_FALSE(jwt_expiry("eyJhbGciOiJub25lIn0.eyJleHAiOjE3MDAwMDAwMDAsIng+IjoxfQ.c2ln"));

  // Bounded: a payload past 64 KiB gives nothing, even with a valid exp.
  const std::string filler(kMaxJwtBytes, 'a');
  CHECK_FALSE(jwt_expiry(make_token(header, R"({"exp":1700000000,"pad":")" + filler + R"("})")));
  const std::string fits(kMaxJwtBytes / 2, 'a');
  CHECK(jwt_expiry(make_token(header, R"({"exp":1700000000,"pad":")" + fits + R"("})")) ==
        1700000000);
  // Deep nesting is refused by the parser, not a crash.
  CHECK_FALSE(jwt_expiry(make_token(header, std::string(5000, '[') + std::string(5000, ']'))));
}

TEST_CASE("oauth2: client assertions sign and verify for every key type", "[oauth2]") {
  struct Case {
    const char* alg;        // what from_pem("") or an explicit alg gives
    const char* requested;  // "" = picked from the key
    Pkey key;
    std::size_t signature_bytes;
  };
  std::vector<Case> cases;
  cases.push_back({"RS256", "", make_rsa(2048), 256});
  cases.push_back({"PS256", "PS256", make_rsa(2048), 256});
  cases.push_back({"ES256", "", make_ec("P-256"), 64});
  cases.push_back({"ES384", "", make_ec("P-384"), 96});
  cases.push_back({"EdDSA", "", make_ed25519(), 64});

  for (auto& c : cases) {
    for (const bool traditional : {false, true}) {
      if (traditional && std::string_view(c.alg) == "EdDSA") continue;  // PKCS#8 only
      DYNAMIC_SECTION(c.alg << (traditional ? " traditional PEM" : " PKCS#8 PEM")) {
        const std::string pem = traditional ? traditional_pem(c.key.get()) : pkcs8_pem(c.key.get());
        if (traditional) {
          CHECK(pem.find(std::string_view(c.alg).starts_with("ES")
                             ? "BEGIN EC PRIVATE KEY"
                             : "BEGIN RSA PRIVATE KEY") != std::string::npos);
        } else {
          CHECK(pem.find("BEGIN PRIVATE KEY") != std::string::npos);
        }
        auto key = SigningKey::from_pem(pem, c.requested);
        REQUIRE(key);
        CHECK(key->alg() == c.alg);
        const Pkey pub = public_key(c.key.get());

        const std::int64_t now = 1700000000;
        auto token = sign_client_assertion(*key, "key-1", "client \"42\"",
                                           "https://auth.example.com/oauth/token", now);
        REQUIRE(token);
        const Parts parts = split(*token);
        CHECK(parts.signature.size() == c.signature_bytes);
        CHECK(verify(pub.get(), c.alg, parts));
        Parts tampered = parts;
        tampered.signing_input.back() ^= 1;
        CHECK_FALSE(verify(pub.get(), c.alg, tampered));

        simdjson::dom::parser header_parser, payload_parser;
        simdjson::dom::object header, payload;
        REQUIRE(header_parser.parse(parts.header).get(header) == simdjson::SUCCESS);
        REQUIRE(payload_parser.parse(parts.payload).get(payload) == simdjson::SUCCESS);
        CHECK(string_member(header, "alg") == c.alg);
        CHECK(string_member(header, "typ") == "JWT");
        CHECK(string_member(header, "kid") == "key-1");
        CHECK(header.size() == 3);
        CHECK(string_member(payload, "iss") == "client \"42\"");
        CHECK(string_member(payload, "sub") == "client \"42\"");
        CHECK(string_member(payload, "aud") == "https://auth.example.com/oauth/token");
        const std::string jti = string_member(payload, "jti");
        CHECK(jti.size() == 43);
        CHECK(base64url_decode(jti).value_or("").size() == 32);
        CHECK(integer_member(payload, "iat") == now);
        CHECK(integer_member(payload, "nbf") == now);
        CHECK(integer_member(payload, "exp") == now + 60);
        CHECK(integer_member(payload, "exp") - integer_member(payload, "iat") == 60);
        CHECK(payload.size() == 7);
        CHECK(jwt_expiry(*token) == now + 60);

        // Without a key id: no "kid"; a fresh jti every time.
        auto second = sign_client_assertion(*key, "", "client \"42\"",
                                            "https://auth.example.com/oauth/token", now, 300);
        REQUIRE(second);
        const Parts second_parts = split(*second);
        CHECK(verify(pub.get(), c.alg, second_parts));
        simdjson::dom::parser second_header_parser, second_payload_parser;
        simdjson::dom::object second_header, second_payload;
        REQUIRE(second_header_parser.parse(second_parts.header).get(second_header) ==
                simdjson::SUCCESS);
        REQUIRE(second_payload_parser.parse(second_parts.payload).get(second_payload) ==
                simdjson::SUCCESS);
        simdjson::dom::element kid;
        CHECK(second_header["kid"].get(kid) == simdjson::NO_SUCH_FIELD);
        CHECK(second_header.size() == 2);
        CHECK(string_member(second_payload, "jti") != jti);
        CHECK(string_member(second_payload, "jti").size() == 43);
        CHECK(integer_member(second_payload, "exp") == now + 300);

        // A moved key still signs; the moved-from one refuses instead of crashing.
        SigningKey moved = std::move(*key);
        CHECK(sign_client_assertion(moved, "", "c", "https://a.example", now));
        auto from_empty = sign_client_assertion(*key, "", "c", "https://a.example", now);  // NOLINT
        REQUIRE_FALSE(from_empty);
        CHECK(from_empty.error().kind == ErrorClass::config);
      }
    }
  }
}

TEST_CASE("oauth2: every RSA alg signs with its own padding and digest", "[oauth2]") {
  Pkey rsa = make_rsa(2048);
  const std::string pem = pkcs8_pem(rsa.get());
  const Pkey pub = public_key(rsa.get());
  for (const char* alg : {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}) {
    DYNAMIC_SECTION(alg) {
      auto key = SigningKey::from_pem(pem, alg);
      REQUIRE(key);
      CHECK(key->alg() == alg);
      auto token = sign_client_assertion(*key, "k", "client", "https://a.example/token", 1000);
      REQUIRE(token);
      const Parts parts = split(*token);
      CHECK(verify(pub.get(), alg, parts));
      // The other padding of the same digest does not verify.
      std::string other(alg);
      other[0] = other[0] == 'R' ? 'P' : 'R';
      CHECK_FALSE(verify(pub.get(), other, parts));
    }
  }
}

TEST_CASE("oauth2: a key refuses an alg that does not fit it", "[oauth2]") {
  Pkey rsa = make_rsa(2048);
  Pkey p256 = make_ec("P-256");
  Pkey p384 = make_ec("P-384");
  Pkey ed = make_ed25519();
  struct Mismatch {
    EVP_PKEY* key;
    const char* alg;
    const char* key_name;
  };
  for (const auto& m :
       {Mismatch{rsa.get(), "ES256", "RSA 2048-bit"}, Mismatch{rsa.get(), "EdDSA", "RSA 2048-bit"},
        Mismatch{p256.get(), "RS256", "EC P-256"}, Mismatch{p256.get(), "ES384", "EC P-256"},
        Mismatch{p384.get(), "ES256", "EC P-384"}, Mismatch{p384.get(), "PS384", "EC P-384"},
        Mismatch{ed.get(), "ES256", "Ed25519"}, Mismatch{ed.get(), "RS256", "Ed25519"}}) {
    const Error error = load_error(pkcs8_pem(m.key), m.alg);
    CHECK(error.kind == ErrorClass::config);
    CHECK(error.message.find(m.key_name) != std::string::npos);
    CHECK(error.message.find(m.alg) != std::string::npos);
  }
  for (const char* alg : {"HS256", "none", "ES512", "rs256", "EdDSA "}) {
    const Error error = load_error(pkcs8_pem(rsa.get()), alg);
    CHECK(error.kind == ErrorClass::config);
    CHECK(error.message.find("not supported") != std::string::npos);
  }
}

TEST_CASE("oauth2: unusable PEM keys are config errors without key text", "[oauth2]") {
  Pkey rsa = make_rsa(2048);
  Pkey p256 = make_ec("P-256");
  for (const std::string& pem :
       {encrypted_pkcs8_pem(rsa.get()), encrypted_pkcs8_pem(p256.get()),
        encrypted_traditional_pem(rsa.get()), encrypted_traditional_pem(p256.get())}) {
    for (const char* alg : {"", "RS256", "ES256"}) {
      const Error error = load_error(pem, alg);
      CHECK(error.kind == ErrorClass::config);
      CHECK(error.message.starts_with("the private key is encrypted; "));
    }
  }

  SECTION("RSA under 2048 bits") {
    Pkey small = make_rsa(1024);
    for (const char* alg : {"", "RS256", "PS256"}) {
      const Error error = load_error(pkcs8_pem(small.get()), alg);
      CHECK(error.kind == ErrorClass::config);
      CHECK(error.message.find("RSA 1024-bit") != std::string::npos);
      CHECK(error.message.find("2048") != std::string::npos);
    }
  }
  SECTION("garbage and non-private-key PEM") {
    const std::string key_pem = pkcs8_pem(p256.get());
    std::string corrupted = key_pem;
    corrupted[corrupted.size() / 2] = corrupted[corrupted.size() / 2] == 'A' ? 'B' : 'A';
    std::string truncated = key_pem.substr(0, key_pem.size() - 40);
    Bio bio(BIO_new(BIO_s_mem()));
    REQUIRE(PEM_write_bio_PUBKEY(bio.get(), p256.get()) == 1);
    const std::string public_pem = bio_text(bio.get());
    std::string no_armor = key_pem.substr(key_pem.find('\n') + 1);
    for (const std::string& pem :
         {std::string(), std::string("garbage"), std::string("\x00\xff\x01", 3),
          std::string(
              "-----BEGIN PRIVATE KEY-----\nnot base64 at all!\n-----END PRIVATE KEY-----\n"),
          corrupted, truncated, public_pem, no_armor, std::string(2 * 1024 * 1024, 'A')}) {
      const Error error = load_error(pem, "");
      CHECK(error.kind == ErrorClass::config);
      CHECK_FALSE(error.message.empty());
    }
  }
  SECTION("unsupported key types") {
    Pkey p521 = make_ec("P-521");
    Pkey ed448(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED448"));
    REQUIRE(ed448);
    for (EVP_PKEY* key : {p521.get(), ed448.get()}) {
      const Error error = load_error(pkcs8_pem(key), "");
      CHECK(error.kind == ErrorClass::config);
      CHECK(error.message.find("do not support") != std::string::npos);
    }
  }
}

TEST_CASE("oauth2: sign_client_assertion refuses unusable arguments", "[oauth2]") {
  Pkey p256 = make_ec("P-256");
  auto key = SigningKey::from_pem(pkcs8_pem(p256.get()), "");
  REQUIRE(key);
  const auto kind = [&](std::string_view client, std::string_view audience, std::int64_t now,
                        std::int64_t lifetime) {
    auto token = sign_client_assertion(*key, "", client, audience, now, lifetime);
    return token ? std::optional<ErrorClass>() : std::optional(token.error().kind);
  };
  CHECK(kind("c", "https://a", 1000, 60) == std::nullopt);
  CHECK(kind("", "https://a", 1000, 60) == ErrorClass::config);
  CHECK(kind("c", "", 1000, 60) == ErrorClass::config);
  CHECK(kind("c", "https://a", 1000, 0) == ErrorClass::config);
  CHECK(kind("c", "https://a", 1000, -5) == ErrorClass::config);
  CHECK(kind("c", "https://a", -1, 60) == ErrorClass::config);
  CHECK(kind("c", "https://a", INT64_MAX, 60) == ErrorClass::config);
  CHECK(kind("c", "https://a", 1000, INT64_MAX) == ErrorClass::config);
}
