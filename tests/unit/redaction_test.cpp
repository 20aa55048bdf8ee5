// Redaction (shared/text.h redact) where it used to leave part of a secret: a secret cut at
// a truncation point, split by white space or line breaks, and an error body from a server
// that echoes the request (refresher/http/transport.h scrub_request_echo, applied by
// CurlTransport, so that the OAuth token client's quoted error text holds no piece of the
// refresh token it sent).
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <string_view>

#include "fake_transport.h"
#include "refresher/http/curl_transport.h"
#include "refresher/http/transport.h"
#include "refresher/oauth/token_client.h"
#include "shared/text.h"
#include "test_support.h"
#include "tls_test_server.h"

using ckh::one_line;
using ckh::redact;

namespace {

const std::string kSecret = "sk-ant-ort01-Zq8vN3kLp0aR7tYw2XcB5mHd9GfJ4sUe";

// The longest piece of secret (a substring of it) that text still holds.
std::size_t longest_piece(std::string_view text, std::string_view secret) {
  std::size_t best = 0;
  for (std::size_t start = 0; start < secret.size(); ++start) {
    for (std::size_t length = best + 1; start + length <= secret.size(); ++length) {
      if (text.find(secret.substr(start, length)) == std::string_view::npos) break;
      best = length;
    }
  }
  return best;
}

// Secret pieces this short are as likely to be chance (the redactor keeps them, see text.h).
constexpr std::size_t kChance = 3;

}  // namespace

TEST_CASE("redaction: a secret cut at the truncation point leaves nothing of it", "[redaction]") {
  // one_line cuts (with "...") seven characters into the secret, then the message is redacted
  // (as the token response's error_text and the status line do): seven characters remained.
  const std::string message = "the server said: invalid refresh token " + kSecret + " (expired)";
  const std::size_t at = message.find(kSecret);
  for (const std::size_t keep : {4, 7, 11, 12, 20}) {
    // A cut as a tool makes it (one_line itself now goes back to the word boundary, below).
    const std::string cut = message.substr(0, at + keep) + "...";
    REQUIRE(cut.ends_with("..."));
    const std::string shown = redact(cut, kSecret);
    INFO(shown);
    CHECK(longest_piece(shown, kSecret) <= kChance);
    CHECK(shown.find("[redacted]...") != std::string::npos);
    CHECK(shown.starts_with("the server said: invalid refresh token "));
  }
  // The cut inside a longer message: "...": what follows stays.
  const std::string quoted =
      "token server answered 400 (" + message.substr(0, at + 6) + "...); login";
  const std::string shown = redact(quoted, kSecret);
  INFO(shown);
  CHECK(longest_piece(shown, kSecret) <= kChance);
  CHECK(shown.ends_with("[redacted]...); login"));
  // one_line cuts at the word boundary before the secret: nothing of it to redact.
  CHECK(one_line(message, at + 12) == "the server said: invalid refresh token...");
  // A text that starts with the tail of a secret (cut at its beginning).
  const std::string tail = kSecret.substr(kSecret.size() - 9) + " was rejected";
  CHECK(redact(tail, kSecret) == "[redacted] was rejected");
}

TEST_CASE("redaction: a secret split by white space or line breaks is found whole", "[redaction]") {
  SECTION("wrapped across lines by a tool") {
    const std::string text = "error: token " + kSecret.substr(0, 10) + "\n" +
                             kSecret.substr(10, 10) + "\r\n" + kSecret.substr(20) + " rejected";
    const std::string shown = redact(text, kSecret);
    INFO(shown);
    CHECK(longest_piece(shown, kSecret) <= kChance);
    CHECK(shown == "error: token [redacted] rejected");
  }
  SECTION("folded to one line, then cut") {
    const std::string text = "token: " + kSecret.substr(0, 8) + "\n  " + kSecret.substr(8);
    const std::string shown = redact(one_line(text, 200), kSecret);
    CHECK(shown == "token: [redacted]");
  }
  SECTION("a piece of it split by a space") {
    const std::string text = "saw " + kSecret.substr(5, 7) + " " + kSecret.substr(12, 9) + " end";
    const std::string shown = redact(text, kSecret);
    INFO(shown);
    CHECK(longest_piece(shown, kSecret) <= kChance);
    CHECK(shown == "saw [redacted] end");
  }
  SECTION("JSON's escaped slash") {
    const std::string secret = "abc/def+ghi/jkl=mno";
    CHECK(redact(R"({"detail":"abc\/def+ghi\/jkl=mno"})", secret) == R"({"detail":"[redacted]"})");
  }
  SECTION("ordinary words stay") {
    CHECK(redact("error: token rejected by upstream", kSecret) ==
          "error: token rejected by upstream");
    CHECK(redact("status 401\nretry later", "sk-ant-x") == "status 401\nretry later");
  }
}

TEST_CASE("redaction: an error body that echoes the request loses the echo", "[redaction]") {
  ckh::HttpRequest request;
  request.method = "POST";
  request.url = "https://example.test/v1/oauth/token?code=abcdefgh12345678";
  request.headers = {{"Content-Type", "application/json"},
                     {"X-Amz-Security-Token", "IQoJb3JpZ2luX2VjEJr-session-token-value"}};
  request.body = "{\"grant_type\":\"refresh_token\",\"refresh_token\":\"" + kSecret +
                 "\",\"client_id\":\"9d1c250a-e61b-44d9-88ed-5944d1962f5e\"}";
  const auto secrets = ckh::request_secrets(request);
  const auto listed = [&](std::string_view value) {
    return std::find(secrets.begin(), secrets.end(), value) != secrets.end();
  };
  CHECK(listed(kSecret));
  CHECK(listed("IQoJb3JpZ2luX2VjEJr-session-token-value"));
  CHECK(listed("abcdefgh12345678"));
  CHECK_FALSE(listed("application/json"));
  CHECK_FALSE(listed("refresh_token"));  // a public field's value
  CHECK_FALSE(listed("9d1c250a-e61b-44d9-88ed-5944d1962f5e"));

  ckh::HttpResponse response;
  response.status = 400;
  response.body = "{\"error\":\"invalid_grant\",\"error_description\":\"refresh token " + kSecret +
                  " unknown; request was " + request.body +
                  "\",\"canonical\":\"x-amz-security-token:IQoJb3JpZ2luX2VjEJr-session-token-"
                  "value\\n\"}";
  ckh::scrub_request_echo(response, request);
  INFO(response.body);
  CHECK(longest_piece(response.body, kSecret) <= kChance);
  CHECK(response.body.find("session-token-value") == std::string::npos);
  CHECK(response.body.starts_with("{\"error\":\"invalid_grant\""));  // still classifiable

  ckh::HttpResponse ok;
  ok.status = 200;
  ok.body = "{\"refresh_token\":\"" + kSecret + "\"}";  // data, not an error: untouched
  ckh::scrub_request_echo(ok, request);
  CHECK(ok.body == "{\"refresh_token\":\"" + kSecret + "\"}");
}

TEST_CASE("redaction: the token client never quotes the refresh token a server echoed",
          "[redaction][http]") {
  ckh::test::ScopedSetenv no_proxy("no_proxy", "*");
  ckh::test::ScopedSetenv no_proxy_upper("NO_PROXY", "*");
  // The description is long enough that the client cuts it (at 160 bytes) inside the token.
  std::string description =
      "The provided authorization grant is invalid, expired or revoked; refresh token was ";
  description.resize(150, 'x');
  description += ' ';
  description += kSecret + " (unknown)";
  ckh::test::ScriptedHttpServer server({ckh::test::answer(ckh::test::http_reply(
      "400 Bad Request",
      "{\"error\":\"invalid_grant\",\"error_description\":\"" + description + "\"}",
      {"Content-Type: application/json"}))});
  ckh::CurlTransport transport;
  ckh::AnthropicOAuthSettings settings;
  settings.token_url = server.origin() + "/v1/oauth/token";
  settings.timeout = std::chrono::seconds(20);
  auto result = ckh::refresh_tokens(transport, settings, kSecret, 1'700'000'000, nullptr);
  server.finish();
  REQUIRE_FALSE(result.has_value());
  INFO(result.error().message);
  CHECK(result.error().code == "invalid_grant");
  CHECK(longest_piece(result.error().message, kSecret) <= kChance);
}
