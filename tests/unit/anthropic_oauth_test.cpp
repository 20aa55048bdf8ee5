// The anthropic-oauth backend through the HTTP transport seam's fake: the JSON refresh grant,
// the order of durable writes (in-flight marker before sending, rotated token before use),
// expiry from expires_in, every error class of ../shared/ANTHROPIC_OAUTH.md "Responses",
// the claude-code sink (adopt a newer family, write ours, keep other keys), the config
// section, and that no token ever appears in a message.
#include <simdjson.h>

#include <catch2/catch.hpp>

#include "fake_transport.h"
#include "refresher/backends/anthropic_oauth_backend.h"
#include "refresher/config.h"
#include "refresher/oauth/token_client.h"
#include "refresher/sinks/claude_code_store.h"
#include "shared/secure_file.h"
#include "test_support.h"

using namespace ckh;
using namespace ckh::test;

namespace {

constexpr std::int64_t kNow = 1795300000;
const std::string kOldRefresh = "sk-ant-ort01-OLD-refresh-CANARY-1111";
const std::string kOldAccess = "sk-ant-oat01-OLD-access-CANARY-2222";
const std::string kNewRefresh = "sk-ant-ort01-NEW-refresh-CANARY-3333";
const std::string kNewAccess = "sk-ant-oat01-NEW-access-CANARY-4444";

OAuthSecret logged_in(std::int64_t expires_at) {
  OAuthSecret secret;
  secret.refresh_token = kOldRefresh;
  secret.access_token = kOldAccess;
  secret.expires_at = expires_at;
  secret.scopes = {"user:inference", "user:profile"};
  secret.account_email = "user@example.com";
  return secret;
}

std::string grant_body(const std::string& access, const std::string& refresh, int expires_in) {
  return "{\"token_type\":\"Bearer\",\"access_token\":\"" + access + "\",\"refresh_token\":\"" +
         refresh + "\",\"expires_in\":" + std::to_string(expires_in) +
         ",\"scope\":\"user:inference user:profile\",\"account\":{\"uuid\":\"u-1\","
         "\"email_address\":\"user@example.com\"},\"organization\":{\"uuid\":\"o-1\"}}";
}

struct Harness {
  std::shared_ptr<FakeTransport> transport = std::make_shared<FakeTransport>();
  FakeClock clock{kNow};
  AnthropicOAuthBackend backend{AnthropicOAuthSettings{}, transport, "work", lookup_fake_env};
  std::vector<std::string> persisted;  // every P.secret written, in order

  Result<FetchResult> fetch(const OAuthSecret& secret, bool forced = false, bool sink = false) {
    FetchContext context{clock, serialize_oauth_secret(secret)};
    context.forced = forced;
    context.refresh_before_expiry = kAnthropicRefreshBeforeExpiry;
    context.sink_claude_code = sink;
    context.persist_secret = [this](const std::string& text) -> Result<void> {
      persisted.push_back(text);
      return {};
    };
    return backend.fetch(context);
  }
  OAuthSecret last_persisted() const {
    REQUIRE(!persisted.empty());
    auto parsed = parse_oauth_secret(persisted.back());
    REQUIRE(parsed);
    return *parsed;
  }
};

void check_no_token(const std::string& text) {
  for (const auto* token : {&kOldRefresh, &kOldAccess, &kNewRefresh, &kNewAccess}) {
    CHECK(text.find(*token) == std::string::npos);
  }
  CHECK(text.find("CANARY") == std::string::npos);
}

}  // namespace

TEST_CASE("P.secret of an oauth profile: every line has its documented name", "[anthropic-oauth]") {
  OAuthSecret secret;
  secret.refresh_token = "sk-ant-ort01-R";
  secret.access_token = "sk-ant-oat01-A";
  secret.expires_at = kNow;
  secret.scopes = {"user:inference", "user:profile"};
  secret.store_refresh_token_fp = "0123456789ab";
  const std::string text = serialize_oauth_secret(secret);
  CHECK(text ==
        "claude-key-helper-oauth v1\n"
        "refresh_token: sk-ant-ort01-R\n"
        "access_token: sk-ant-oat01-A\n"
        "expires_at: 1795300000\n"
        "scopes: user:inference user:profile\n"
        "subscription_type: \n"
        "rate_limit_tier: \n"
        "account_email: \n"
        "refresh_token_expires_at: none\n"
        "owns_claude_code_store: no\n"
        "pending_refresh_since: none\n"
        "store_refresh_token_fp: 0123456789ab\n"
        "end\n");
  // Files of the builds that wrote the last line without its name keep their tokens.
  std::string unnamed = text;
  unnamed.replace(unnamed.find("store_refresh_token_fp: "), 24, ": ");
  auto legacy = parse_oauth_secret(unnamed);
  REQUIRE(legacy);
  CHECK(legacy->refresh_token == "sk-ant-ort01-R");
  CHECK(legacy->store_refresh_token_fp == "0123456789ab");
  std::string twice = unnamed;
  twice.replace(twice.find("pending_refresh_since: "), 23, ": ");
  CHECK_FALSE(parse_oauth_secret(twice));
}

TEST_CASE("anthropic-oauth: refresh sends the JSON grant and rotates durably before use",
          "[anthropic-oauth]") {
  Harness h;
  h.transport->handler = [&](const HttpRequest& request) -> Result<HttpResponse> {
    // By the time the request leaves, P.secret says a refresh is in flight.
    REQUIRE(h.persisted.size() == 1);
    auto in_flight = parse_oauth_secret(h.persisted.front());
    REQUIRE(in_flight);
    CHECK(in_flight->pending_refresh_since == kNow);
    CHECK(in_flight->refresh_token == kOldRefresh);
    CHECK(request.method == "POST");
    CHECK(request.url == kAnthropicTokenUrl);
    CHECK(request_header(request, "content-type") == "application/json");
    CHECK(request_header(request, "user-agent") == kAnthropicUserAgent);
    CHECK(request_header(request, "accept") == "application/json, text/plain, */*");
    simdjson::dom::parser parser;
    simdjson::dom::element body;
    REQUIRE(parser.parse(request.body).get(body) == simdjson::SUCCESS);
    CHECK(std::string_view(body["grant_type"]) == "refresh_token");
    CHECK(std::string_view(body["refresh_token"]) == kOldRefresh);
    CHECK(std::string_view(body["client_id"]) == kAnthropicClientId);
    return http_response(200, grant_body(kNewAccess, kNewRefresh, 28800));
  };
  auto result = h.fetch(logged_in(kNow + 600));  // 10 min left < 60 min: due
  REQUIRE(result);
  CHECK(h.transport->calls() == 1);
  CHECK(result->credential == kNewAccess);
  CHECK(result->expires_at == kNow + 28800);  // from expires_in, never built in
  CHECK(result->source == "anthropic-oauth user@example.com");
  CHECK_FALSE(result->new_secret_state);  // already persisted through persist_secret
  REQUIRE(h.persisted.size() == 2);
  const OAuthSecret saved = h.last_persisted();
  CHECK(saved.refresh_token == kNewRefresh);
  CHECK(saved.access_token == kNewAccess);
  CHECK(saved.expires_at == kNow + 28800);
  CHECK_FALSE(saved.pending_refresh_since);
}

TEST_CASE("anthropic-oauth: a token with more than refresh_before_expiry left is used as is",
          "[anthropic-oauth]") {
  Harness h;
  auto result = h.fetch(logged_in(kNow + 7200));
  REQUIRE(result);
  CHECK(h.transport->calls() == 0);
  CHECK(result->credential == kOldAccess);
  CHECK(result->expires_at == kNow + 7200);
}

TEST_CASE("anthropic-oauth: a forced refresh goes to the server even with a fresh token",
          "[anthropic-oauth]") {
  Harness h;
  h.transport->respond(200, grant_body(kNewAccess, kNewRefresh, 3600));
  auto result = h.fetch(logged_in(kNow + 7200), /*forced=*/true);
  REQUIRE(result);
  CHECK(h.transport->calls() == 1);
  CHECK(result->credential == kNewAccess);
}

TEST_CASE("anthropic-oauth: an answer without refresh_token keeps the one we have",
          "[anthropic-oauth]") {
  Harness h;
  h.transport->respond(200, "{\"access_token\":\"" + kNewAccess + "\",\"expires_in\":100}");
  auto result = h.fetch(logged_in(kNow));
  REQUIRE(result);
  CHECK(h.last_persisted().refresh_token == kOldRefresh);
  CHECK(h.last_persisted().expires_at == kNow + 100);
}

TEST_CASE("anthropic-oauth: invalid_grant is permanent and says to log in", "[anthropic-oauth]") {
  Harness h;
  h.transport->respond(400,
                       "{\"error\":\"invalid_grant\",\"error_description\":\"Refresh token not "
                       "found or invalid: " +
                           kOldRefresh + "\"}");
  auto result = h.fetch(logged_in(kNow));
  REQUIRE_FALSE(result);
  CHECK(result.error().kind == ErrorClass::permanent);
  CHECK(result.error().code == "invalid_grant");
  CHECK_THAT(result.error().message, Catch::Contains("claude-key-refresher login --profile work"));
  CHECK_THAT(result.error().message, Catch::Contains("invalid_grant"));
  check_no_token(result.error().message);  // the echoed token is redacted
  CHECK_FALSE(h.last_persisted().pending_refresh_since);
}

TEST_CASE("anthropic-oauth: a refused token after an interrupted refresh names that cause",
          "[anthropic-oauth]") {
  Harness h;
  OAuthSecret secret = logged_in(kNow);
  secret.pending_refresh_since = kNow - 50;  // the last run died with a request in flight
  h.transport->respond(400,
                       "{\"error\":\"invalid_grant\",\"error_description\":\"Refresh token "
                       "not found or invalid\"}");
  auto result = h.fetch(secret);
  REQUIRE_FALSE(result);
  CHECK(result.error().kind == ErrorClass::permanent);
  CHECK_THAT(result.error().message, Catch::Contains("interrupted refresh"));
  CHECK_THAT(result.error().message,
             Catch::Contains("between the token server's answer and saving it"));
  CHECK_THAT(result.error().message, Catch::Contains("login --profile work"));
  // The cause stays recorded, so later attempts say the same.
  CHECK(h.last_persisted().pending_refresh_since == kNow - 50);
}

TEST_CASE("anthropic-oauth: an interrupted refresh that the server never saw just succeeds",
          "[anthropic-oauth]") {
  Harness h;
  OAuthSecret secret = logged_in(kNow);
  secret.pending_refresh_since = kNow - 50;
  h.transport->respond(200, grant_body(kNewAccess, kNewRefresh, 28800));
  auto result = h.fetch(secret);
  REQUIRE(result);
  CHECK_FALSE(h.last_persisted().pending_refresh_since);
}

TEST_CASE("anthropic-oauth: 429 honours Retry-After and clears the in-flight marker",
          "[anthropic-oauth]") {
  Harness h;
  h.transport->respond(429,
                       "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\","
                       "\"message\":\"Rate limited\"}}",
                       {{"retry-after", "120"}});
  auto result = h.fetch(logged_in(kNow));
  REQUIRE_FALSE(result);
  CHECK(result.error().kind == ErrorClass::transient);
  CHECK(result.error().retry_after_s == 120);
  CHECK_THAT(result.error().message, Catch::Contains("429"));
  CHECK_FALSE(h.last_persisted().pending_refresh_since);
}

TEST_CASE("anthropic-oauth: 5xx is transient; no answer at all keeps the in-flight marker",
          "[anthropic-oauth]") {
  Harness h;
  h.transport->respond(503, "upstream unavailable");
  auto five = h.fetch(logged_in(kNow));
  REQUIRE_FALSE(five);
  CHECK(five.error().kind == ErrorClass::transient);
  CHECK_FALSE(h.last_persisted().pending_refresh_since);

  Harness n;
  n.transport->fail_with(ErrorClass::transient, "timed out talking to platform.claude.com");
  auto none = n.fetch(logged_in(kNow));
  REQUIRE_FALSE(none);
  CHECK(none.error().kind == ErrorClass::transient);
  CHECK(n.last_persisted().pending_refresh_since == kNow);  // the server may have rotated
}

TEST_CASE("anthropic-oauth: a profile's token_url, client_id and user_agent reach the request",
          "[anthropic-oauth]") {
  AnthropicOAuthSettings settings;
  settings.token_url = "https://gateway.example/v1/oauth/token";
  settings.client_id = "custom-client";
  settings.user_agent = "corp-proxy-allowed/1.0";
  auto transport = std::make_shared<FakeTransport>();
  AnthropicOAuthBackend backend{settings, transport, "work", lookup_fake_env};
  FakeClock clock{kNow};
  FetchContext context{clock, serialize_oauth_secret(logged_in(kNow))};
  context.refresh_before_expiry = kAnthropicRefreshBeforeExpiry;
  context.persist_secret = [](const std::string&) -> Result<void> { return {}; };
  transport->respond(200, grant_body(kNewAccess, kNewRefresh, 28800));
  REQUIRE(backend.fetch(context));
  const HttpRequest& request = transport->last_request();
  CHECK(request.url == "https://gateway.example/v1/oauth/token");
  CHECK(request_header(request, "user-agent") == "corp-proxy-allowed/1.0");
  simdjson::dom::parser parser;
  simdjson::dom::element body;
  REQUIRE(parser.parse(request.body).get(body) == simdjson::SUCCESS);
  CHECK(std::string_view(body["client_id"]) == "custom-client");
}

TEST_CASE("anthropic-oauth: 403/404 from the edge are reported with their text",
          "[anthropic-oauth]") {
  Harness h;
  h.transport->respond(403, "<html><body>Forbidden by edge policy</body></html>");
  auto result = h.fetch(logged_in(kNow));
  REQUIRE_FALSE(result);
  CHECK(result.error().kind == ErrorClass::permanent);
  CHECK_THAT(result.error().message, Catch::Contains("403"));
  CHECK_THAT(result.error().message, Catch::Contains("Forbidden by edge policy"));
  CHECK_THAT(result.error().message, Catch::Contains("user_agent"));

  Harness moved;
  moved.transport->respond(404,
                           "{\"type\":\"error\",\"error\":{\"type\":\"not_found_error\","
                           "\"message\":\"Not found\"}}");
  auto not_found = moved.fetch(logged_in(kNow));
  REQUIRE_FALSE(not_found);
  CHECK(not_found.error().kind == ErrorClass::permanent);
  CHECK_THAT(not_found.error().message, Catch::Contains("404"));
  CHECK_THAT(not_found.error().message, Catch::Contains("Not found"));
  CHECK_THAT(not_found.error().message, Catch::Contains("token_url"));
}

TEST_CASE("anthropic-oauth: garbage and malformed answers are transient and quote nothing",
          "[anthropic-oauth]") {
  for (const std::string& body :
       {std::string("<html>proxy error</html>"), std::string("{\"access_token\":\"\"}"),
        "{\"access_token\":\"" + kNewAccess + "\"}",
        "{\"access_token\":\"" + kNewAccess + "\",\"expires_in\":-5}",
        std::string("{\"access_token\":\"has space\",\"expires_in\":5}"),
        std::string(200000, '{')}) {
    Harness h;
    h.transport->respond(200, body);
    auto result = h.fetch(logged_in(kNow));
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == ErrorClass::transient);
    check_no_token(result.error().message);
  }
}

TEST_CASE("anthropic-oauth: not logged in, or an unreadable P.secret, says to log in",
          "[anthropic-oauth]") {
  Harness h;
  FetchContext context{h.clock, ""};
  auto result = h.backend.fetch(context);
  REQUIRE_FALSE(result);
  CHECK(result.error().kind == ErrorClass::permanent);
  CHECK_THAT(result.error().message, Catch::Contains("login --profile work"));
  FetchContext garbled{h.clock, "not a secret file\n"};
  auto bad = h.backend.fetch(garbled);
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.error().message, Catch::Contains("login --profile work"));
  CHECK(h.transport->calls() == 0);
}

TEST_CASE("anthropic-oauth: the claude-code sink writes our family and keeps other keys",
          "[anthropic-oauth]") {
  TempDir dir;
  FakeEnv env{{"CLAUDE_CONFIG_DIR", dir.file("claude")}, {"HOME", dir.path()}};
  ::mkdir(dir.file("claude").c_str(), 0700);
  const std::string store = dir.file("claude/.credentials.json");
  write_file(store,
             "{\"mcpOAuth\":{\"x\":1},\"claudeAiOauth\":{\"accessToken\":\"" + kOldAccess +
                 "\",\"refreshToken\":\"" + kOldRefresh +
                 "\",\"expiresAt\":" + std::to_string((kNow + 600) * 1000) +
                 ",\"scopes\":[\"user:inference\"],\"subscriptionType\":\"max\","
                 "\"rateLimitTier\":\"default_claude_max_20x\",\"future\":true}}",
             0644);
  Harness h;
  h.transport->respond(200, grant_body(kNewAccess, kNewRefresh, 28800));
  auto result = h.fetch(logged_in(kNow + 600), false, /*sink=*/true);
  REQUIRE(result);
  auto stored = read_claude_code_store(store);
  REQUIRE(stored);
  REQUIRE(*stored);
  CHECK((*stored)->access_token == kNewAccess);
  CHECK((*stored)->refresh_token == kNewRefresh);
  CHECK((*stored)->expires_at_ms == (kNow + 28800) * 1000);
  CHECK((*stored)->subscription_type == "max");
  CHECK((*stored)->rate_limit_tier == "default_claude_max_20x");
  std::ifstream in(store);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK_THAT(text, Catch::Contains("\"mcpOAuth\":{\"x\":1}"));
  CHECK_THAT(text, Catch::Contains("\"future\":true"));
  struct stat st {};
  REQUIRE(::stat(store.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(::access((dir.file("claude") + ".lock").c_str(), F_OK) != 0);  // lock released
}

TEST_CASE("anthropic-oauth: a newer family in Claude Code's store is adopted, not refreshed",
          "[anthropic-oauth]") {
  TempDir dir;
  FakeEnv env{{"CLAUDE_CONFIG_DIR", dir.file("claude")}, {"HOME", dir.path()}};
  ::mkdir(dir.file("claude").c_str(), 0700);
  ClaudeAiOauth theirs;
  theirs.access_token = kNewAccess;
  theirs.refresh_token = kNewRefresh;
  theirs.expires_at_ms = (kNow + 20000) * 1000;
  theirs.scopes = {"user:inference"};
  REQUIRE(write_claude_code_store(dir.file("claude/.credentials.json"), theirs));
  Harness h;
  auto result = h.fetch(logged_in(kNow + 60), false, /*sink=*/true);  // ours is due
  REQUIRE(result);
  CHECK(h.transport->calls() == 0);
  CHECK(result->credential == kNewAccess);
  CHECK(h.last_persisted().refresh_token == kNewRefresh);
}

TEST_CASE("anthropic-oauth: invalid_grant with a newer family in the store adopts it",
          "[anthropic-oauth]") {
  TempDir dir;
  FakeEnv env{{"CLAUDE_CONFIG_DIR", dir.file("claude")}, {"HOME", dir.path()}};
  ::mkdir(dir.file("claude").c_str(), 0700);
  const std::string store = dir.file("claude/.credentials.json");
  Harness h;
  // Another writer rotates while our request is in flight.
  h.transport->handler = [&](const HttpRequest&) -> Result<HttpResponse> {
    ClaudeAiOauth theirs;
    theirs.access_token = kNewAccess;
    theirs.refresh_token = kNewRefresh;
    theirs.expires_at_ms = (kNow + 28800) * 1000;
    theirs.scopes = {"user:inference"};
    REQUIRE(write_claude_code_store(store, theirs));
    return http_response(400,
                         "{\"error\":\"invalid_grant\",\"error_description\":\"Refresh "
                         "token not found or invalid\"}");
  };
  auto result = h.fetch(logged_in(kNow + 60), false, /*sink=*/true);
  REQUIRE(result);
  CHECK(h.transport->calls() == 1);
  CHECK(result->credential == kNewAccess);
  CHECK(h.last_persisted().refresh_token == kNewRefresh);
}

TEST_CASE("anthropic-oauth: the login's code exchange body", "[anthropic-oauth]") {
  AnthropicOAuthSettings settings;
  const std::string body =
      code_grant_body(settings, CodeExchange{"the-code", "http://localhost:5555/callback",
                                             "the-verifier", "the-state", std::nullopt});
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.parse(body).get(doc) == simdjson::SUCCESS);
  CHECK(std::string_view(doc["grant_type"]) == "authorization_code");
  CHECK(std::string_view(doc["code"]) == "the-code");
  CHECK(std::string_view(doc["redirect_uri"]) == "http://localhost:5555/callback");
  CHECK(std::string_view(doc["client_id"]) == kAnthropicClientId);
  CHECK(std::string_view(doc["code_verifier"]) == "the-verifier");
  CHECK(std::string_view(doc["state"]) == "the-state");
  CHECK(doc["expires_in"].error() == simdjson::NO_SUCH_FIELD);
}

TEST_CASE("anthropic-oauth: config defaults, sinks and URL rules", "[anthropic-oauth]") {
  FakeEnv env{{"HOME", "/home/u"}};
  auto ok = parse_config(
      "[profile.max]\nbackend = \"anthropic-oauth\"\nsinks = [\"claude-code\"]\n"
      "[profile.max.anthropic-oauth]\nuser_agent = \"claude-cli/2.1\"\ntimeout = \"20s\"\n",
      "config.toml", lookup_fake_env);
  REQUIRE(ok);
  const ProfileConfig& profile = ok->profiles.at("max");
  CHECK(profile.refresh_before_expiry == std::chrono::seconds(3600));
  CHECK(profile.has_sink("claude-code"));
  auto set =
      parse_config("[profile.max]\nbackend = \"anthropic-oauth\"\nrefresh_before_expiry = \"2h\"\n",
                   "config.toml", lookup_fake_env);
  REQUIRE(set);
  CHECK(set->profiles.at("max").refresh_before_expiry == std::chrono::seconds(7200));

  auto wrong_sink = parse_config(
      "[profile.k]\nbackend = \"static\"\nsinks = [\"claude-code\"]\n[profile.k.static]\n"
      "env = \"K\"\n",
      "config.toml", lookup_fake_env);
  REQUIRE_FALSE(wrong_sink);
  CHECK_THAT(wrong_sink.error().front().to_string(), Catch::Contains("anthropic-oauth"));
  auto http = parse_config(
      "[profile.max]\nbackend = \"anthropic-oauth\"\n[profile.max.anthropic-oauth]\n"
      "token_url = \"http://example.com/token\"\n",
      "config.toml", lookup_fake_env);
  REQUIRE_FALSE(http);
  CHECK_THAT(http.error().front().to_string(), Catch::Contains("https://"));
  auto loopback = parse_config(
      "[profile.max]\nbackend = \"anthropic-oauth\"\n[profile.max.anthropic-oauth]\n"
      "token_url = \"http://127.0.0.1:8080/v1/oauth/token\"\n",
      "config.toml", lookup_fake_env);
  CHECK(loopback);
}
