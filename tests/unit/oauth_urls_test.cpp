// The text handling of an OAuth login (refresher/oauth/oauth_urls.h): percent-encoding, query
// values, the authorize URL, what a user pastes and the loopback listener's request line.
#include <catch2/catch.hpp>

#include "refresher/oauth/oauth_urls.h"

using namespace ckh;

TEST_CASE("percent_encode keeps unreserved characters and escapes the rest as upper-case hex") {
  CHECK(percent_encode("AZaz09-._~") == "AZaz09-._~");
  CHECK(percent_encode("a b&c=d/e?f#g") == "a%20b%26c%3Dd%2Fe%3Ff%23g");
  CHECK(percent_encode(std::string("\x00\xff", 2)) == "%00%FF");
  CHECK(percent_encode("http://localhost:1234/callback") ==
        "http%3A%2F%2Flocalhost%3A1234%2Fcallback");
}

TEST_CASE("percent_decode undoes escapes, turns '+' into a space and keeps malformed escapes") {
  CHECK(percent_decode("a%20b%2b%2F") == "a b+/");
  CHECK(percent_decode("a+b") == "a b");
  CHECK(percent_decode("100%") == "100%");
  CHECK(percent_decode("%4") == "%4");
  CHECK(percent_decode("%zz%41") == "%zzA");
  CHECK(percent_decode(percent_encode("any \x01 bytes \xfe")) == "any \x01 bytes \xfe");
}

TEST_CASE("query_value finds a decoded value by its decoded name") {
  const std::string query = "code=abc%2Bdef&state=s%20t&empty=&flag&na%6De=x";
  CHECK(query_value(query, "code") == "abc+def");
  CHECK(query_value(query, "state") == "s t");
  CHECK(query_value(query, "empty") == "");
  CHECK(query_value(query, "flag") == "");
  CHECK(query_value(query, "name") == "x");
  CHECK_FALSE(query_value(query, "missing"));
  CHECK_FALSE(query_value("", "code"));
  CHECK(query_value("code=1&code=2", "code") == "1");  // the first one wins
}

TEST_CASE("authorize_url carries every parameter of the facts document, encoded") {
  AnthropicOAuthSettings settings;
  settings.authorize_url = "https://claude.test/oauth/authorize";
  settings.client_id = "client-1";
  const std::string url = authorize_url(settings, "http://localhost:4321/callback",
                                        {"user:profile", "user:inference"}, "CHALLENGE", "STATE");
  CHECK(url ==
        "https://claude.test/oauth/authorize?code=true&client_id=client-1&response_type=code"
        "&redirect_uri=http%3A%2F%2Flocalhost%3A4321%2Fcallback"
        "&scope=user%3Aprofile%20user%3Ainference&code_challenge=CHALLENGE"
        "&code_challenge_method=S256&state=STATE");
  settings.authorize_url = "https://claude.test/authorize?tenant=x";
  CHECK(authorize_url(settings, "r", {"s"}, "c", "t")
            .starts_with("https://claude.test/authorize?tenant=x&code=true&"));
}

TEST_CASE("parse_pasted_code takes code#state or a URL with code and state") {
  auto plain = parse_pasted_code("  abc123#st-4 \n");
  REQUIRE(plain);
  CHECK(plain->code == "abc123");
  CHECK(plain->state == "st-4");

  auto url = parse_pasted_code(
      "https://platform.claude.com/oauth/code/callback?code=c%2Bd&state=xyz#fragment");
  REQUIRE(url);
  CHECK(url->code == "c+d");
  CHECK(url->state == "xyz");

  CHECK_FALSE(parse_pasted_code(""));
  CHECK_FALSE(parse_pasted_code("no-hash-here"));
  CHECK_FALSE(parse_pasted_code("#state-only"));
  CHECK_FALSE(parse_pasted_code("code-only#"));
  CHECK_FALSE(parse_pasted_code("has space#state"));
  CHECK_FALSE(parse_pasted_code("https://x/cb?code=abc"));  // no state
  CHECK_FALSE(parse_pasted_code("https://x/cb?code=&state=s"));
}

TEST_CASE("parse_callback_request_line accepts only GET and splits path from query") {
  auto request = parse_callback_request_line("GET /callback?code=abc&state=xyz HTTP/1.1");
  REQUIRE(request);
  CHECK(request->path == "/callback");
  CHECK(request->query == "code=abc&state=xyz");

  auto bare = parse_callback_request_line("GET /favicon.ico HTTP/1.1");
  REQUIRE(bare);
  CHECK(bare->path == "/favicon.ico");
  CHECK(bare->query.empty());

  auto two_marks = parse_callback_request_line("GET /callback?a=1?b=2 HTTP/1.0");
  REQUIRE(two_marks);
  CHECK(two_marks->path == "/callback");
  CHECK(two_marks->query == "a=1?b=2");

  CHECK_FALSE(parse_callback_request_line("POST /callback?code=a&state=b HTTP/1.1"));
  CHECK_FALSE(parse_callback_request_line("get /callback HTTP/1.1"));
  CHECK_FALSE(parse_callback_request_line("GET /callback"));
  CHECK_FALSE(parse_callback_request_line("GET  HTTP/1.1"));
  CHECK_FALSE(parse_callback_request_line("GET /a b HTTP/1.1"));
  CHECK_FALSE(parse_callback_request_line(""));
  CHECK_FALSE(parse_callback_request_line("GARBAGE"));
}
