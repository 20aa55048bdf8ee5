// PKCE (RFC 7636): the Appendix B vector, read from tests/data/pkce/rfc7636.json (a copy
// of ../shared/testdata/pkce), the verifier rules, base64url and fresh logins.
#include <simdjson.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <set>
#include <sstream>

#include "refresher/oauth/pkce.h"

using namespace ckh;

namespace {
std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}
}  // namespace

TEST_CASE("pkce: RFC 7636 Appendix B vector", "[pkce]") {
  const std::string text = read_text(std::string(CKH_TEST_DATA) + "/pkce/rfc7636.json");
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.parse(text).get(doc) == simdjson::SUCCESS);
  std::string octets;
  simdjson::dom::array array;
  REQUIRE(doc["code_verifier_octets"].get(array) == simdjson::SUCCESS);
  for (auto value : array) {
    int64_t byte = 0;
    REQUIRE(value.get(byte) == simdjson::SUCCESS);
    octets += static_cast<char>(byte);
  }
  REQUIRE(octets.size() == 32);
  std::string_view verifier, challenge, challenge_param, verifier_param;
  REQUIRE(doc["code_verifier"].get(verifier) == simdjson::SUCCESS);
  REQUIRE(doc["code_challenge"].get(challenge) == simdjson::SUCCESS);
  REQUIRE(doc["authorization_request_params"].get(challenge_param) == simdjson::SUCCESS);
  REQUIRE(doc["token_request_param"].get(verifier_param) == simdjson::SUCCESS);

  CHECK(base64url(octets) == verifier);  // the verifier from the 32 octets
  CHECK(valid_code_verifier(verifier));
  CHECK(pkce_challenge(verifier) == challenge);  // S256
  CHECK("code_challenge=" + pkce_challenge(verifier) + "&code_challenge_method=S256" ==
        challenge_param);
  CHECK("code_verifier=" + base64url(octets) == verifier_param);
}

TEST_CASE("pkce: verifier length and character rules", "[pkce]") {
  CHECK_FALSE(valid_code_verifier(std::string(42, 'a')));
  CHECK(valid_code_verifier(std::string(43, 'a')));
  CHECK(valid_code_verifier(std::string(128, '~')));
  CHECK_FALSE(valid_code_verifier(std::string(129, 'a')));
  CHECK_FALSE(valid_code_verifier(std::string(42, 'a') + "+"));
  CHECK_FALSE(valid_code_verifier(std::string(42, 'a') + "/"));
  CHECK_FALSE(valid_code_verifier(std::string(42, 'a') + "="));
  CHECK(valid_code_verifier(std::string(40, 'a') + "-._"));
}

TEST_CASE("pkce: base64url has no padding and uses - and _", "[pkce]") {
  CHECK(base64url("") == "");
  CHECK(base64url("f") == "Zg");
  CHECK(base64url("fo") == "Zm8");
  CHECK(base64url("foo") == "Zm9v");
  CHECK(base64url("\xfb\xff\xbf") == "-_-_");
  for (const char c : pkce_challenge("x")) CHECK((c != '=' && c != '+' && c != '/'));
}

TEST_CASE("pkce: a new login has a 43-character verifier, its challenge, and a separate state",
          "[pkce]") {
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i) {
    auto login = new_pkce_login();
    REQUIRE(login);
    CHECK(login->verifier.size() == 43);
    CHECK(valid_code_verifier(login->verifier));
    CHECK(login->challenge == pkce_challenge(login->verifier));
    CHECK(login->state.size() == 43);
    CHECK(login->state != login->verifier);
    CHECK(seen.insert(login->verifier).second);
    CHECK(seen.insert(login->state).second);
  }
}
