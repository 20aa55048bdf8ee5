// refresher/sha256.h against FIPS 180-4's and RFC 4231's vectors, and against OpenSSL over
// inputs of every length around the block and padding edges.
#include "refresher/sha256.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <catch2/catch.hpp>
#include <random>
#include <string>

namespace {

std::string hex(const ckh::Sha256Digest& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char byte : digest) {
    out += kHex[byte >> 4];
    out += kHex[byte & 0xf];
  }
  return out;
}

std::string unhex(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i + 1 < text.size(); i += 2) {
    out += static_cast<char>(std::stoi(std::string(text.substr(i, 2)), nullptr, 16));
  }
  return out;
}

}  // namespace

TEST_CASE("sha256: the FIPS 180-4 examples", "[sha256]") {
  CHECK(hex(ckh::sha256("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(hex(ckh::sha256("abc")) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(hex(ckh::sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  ckh::Sha256 million;
  const std::string chunk(1000, 'a');
  for (int i = 0; i < 1000; ++i) million.update(chunk);
  CHECK(hex(million.finish()) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("hmac_sha256: the RFC 4231 test cases", "[sha256]") {
  CHECK(hex(ckh::hmac_sha256(std::string(20, '\x0b'), "Hi There")) ==
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  CHECK(hex(ckh::hmac_sha256("Jefe", "what do ya want for nothing?")) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  CHECK(hex(ckh::hmac_sha256(std::string(20, '\xaa'), std::string(50, '\xdd'))) ==
        "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
  CHECK(hex(ckh::hmac_sha256(unhex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
                             std::string(50, '\xcd'))) ==
        "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
  // A key longer than the block is hashed first.
  CHECK(hex(ckh::hmac_sha256(std::string(131, '\xaa'),
                             "Test Using Larger Than Block-Size Key - Hash Key First")) ==
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST_CASE("sha256 and hmac_sha256 agree with OpenSSL at every length to 300 bytes", "[sha256]") {
  std::mt19937 random(20261206);
  std::uniform_int_distribution<int> byte(0, 255);
  for (std::size_t length = 0; length <= 300; ++length) {
    std::string data(length, '\0');
    for (char& c : data) c = static_cast<char>(byte(random));
    const std::string key = data.substr(0, length % 97);
    unsigned char expected[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    REQUIRE(EVP_Digest(data.data(), data.size(), expected, &size, EVP_sha256(), nullptr) == 1);
    CHECK(std::string(reinterpret_cast<char*>(expected), size) ==
          std::string(reinterpret_cast<const char*>(ckh::sha256(data).data()), 32));
    REQUIRE(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                 reinterpret_cast<const unsigned char*>(data.data()), data.size(), expected,
                 &size) != nullptr);
    CHECK(std::string(reinterpret_cast<char*>(expected), size) ==
          std::string(reinterpret_cast<const char*>(ckh::hmac_sha256(key, data).data()), 32));
    // Fed in two pieces at every split: the same digest.
    ckh::Sha256 pieces;
    pieces.update(std::string_view(data).substr(0, length / 3));
    pieces.update(std::string_view(data).substr(length / 3));
    CHECK(pieces.finish() == ckh::sha256(data));
  }
}
