// refresher/lazy/: the libraries a refresh over the network needs load on demand, and the
// forwarders reach the library's own functions (the rest of the suite uses them throughout:
// every curl, OpenSSL, simdjson and libsecret call of the refresher goes through them).
#include "refresher/lazy/lazy_library.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <simdjson.h>

#include <catch2/catch.hpp>
#include <string>

TEST_CASE("lazy libraries: the network stack loads, and forwarders reach the library", "[lazy]") {
  REQUIRE(ckh::ensure_network_stack());
  CHECK(ckh::loaded(ckh::LazyLibrary::curl));
  CHECK(ckh::loaded(ckh::LazyLibrary::crypto));
  CHECK(ckh::loaded(ckh::LazyLibrary::simdjson));
  // libcurl's own answer through the forwarder.
  CHECK(std::string(curl_easy_strerror(CURLE_OK)) == "No error");
  // simdjson's parser, which reaches the library through get_active_implementation().
  simdjson::dom::parser parser;
  simdjson::dom::element element;
  REQUIRE(parser.parse(std::string_view(R"({"a": [1, 2.5, "x"]})")).get(element) ==
          simdjson::SUCCESS);
  CHECK(element["a"].at(2).get_string().value() == "x");
  CHECK_FALSE(simdjson::validate_utf8("\xff\xfe", 2));
  CHECK(simdjson::validate_utf8("caf\xc3\xa9", 5));
  // A libcrypto function through its forwarder.
  char buffer[4] = {'a', 'b', 'c', 'd'};
  OPENSSL_cleanse(buffer, sizeof buffer);
  CHECK(std::string(buffer, 4) == std::string(4, '\0'));
}

TEST_CASE("lazy libraries: the keyring's library loads on demand", "[lazy]") {
#ifdef __APPLE__
  SUCCEED("macOS uses the Keychain through /usr/bin/security");
#else
  REQUIRE(ckh::ensure_loaded(ckh::LazyLibrary::secret));
  CHECK(ckh::loaded(ckh::LazyLibrary::secret));
#endif
}
