// The oauth2 backend through the HTTP transport seam's fake and a fake clock: the grants
// (client_credentials, token_exchange, the device_code grant's refresh), the token cache and
// when a token is due, discovery kept in P.secret, the order of durable writes around a
// refresh-token rotation (marker and room before sending, rotated token before returning),
// invalid_grant and the adoption of a newer stored token, the published ID token, where the
// client secret comes from, and make_oauth2_backend's configuration checks. No secret is
// ever printed: values that hold one are compared through helpers that show true or false.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <simdjson.h>

#include <unistd.h>

#include <catch2/catch.hpp>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "fake_transport.h"
#include "form_body.h"
#include "refresher/backends/oauth2_backend.h"
#include "refresher/config.h"
#include "refresher/config_probe.h"
#include "refresher/oauth/oauth_urls.h"
#include "refresher/oauth/pkce.h"
#include "refresher/oauth2/jwt.h"
#include "refresher/oauth2/oauth2_account.h"
#include "refresher/oauth2/oauth2_state.h"
#include "shared/paths.h"
#include "shared/secure_file.h"
#include "test_support.h"

using namespace ckh;
using namespace ckh::test;

namespace {

constexpr std::int64_t kNow = 1795300000;
const std::string kClientSecret = "CANARY-client-secret-5e6f7a8b9c";
const std::string kRefresh = "CANARY-refresh-old-1111aaaa2222";
const std::string kNewRefresh = "CANARY-refresh-new-3333bbbb4444";
const std::string kNewerRefresh = "CANARY-refresh-newer-5555cccc6666";
const std::string kAccess = "CANARY-access-1-77778888";
const std::string kAccess2 = "CANARY-access-2-9999aaaa";
const std::string kSubject = "CANARY-subject-jwt-ddddeeeeffff";
const std::string kTokenEndpoint = "https://idp.test/oauth2/token";
const std::string kIssuer = "https://idp.test/realms/corp";

std::string make_jwt(std::int64_t exp) {
  return base64url(R"({"alg":"RS256","typ":"JWT"})") + "." +
         base64url(R"({"sub":"user-1","exp":)" + std::to_string(exp) + "}") + "." +
         base64url("signature");
}

// A token endpoint's answer; empty or negative pieces are left out.
std::string token_body(const std::string& access, int expires_in = 3600,
                       const std::string& refresh = "", const std::string& id_token = "") {
  std::string body = R"({"token_type":"Bearer","access_token":")" + access + "\"";
  if (expires_in >= 0) body += ",\"expires_in\":" + std::to_string(expires_in);
  if (!refresh.empty()) body += R"(,"refresh_token":")" + refresh + "\"";
  if (!id_token.empty()) body += R"(,"id_token":")" + id_token + "\"";
  return body + "}";
}

std::string discovery_doc() {
  return R"({"issuer":")" + kIssuer + R"(","token_endpoint":")" + kIssuer +
         R"(/protocol/openid-connect/token","device_authorization_endpoint":")" + kIssuer +
         R"(/protocol/openid-connect/auth/device","revocation_endpoint":")" + kIssuer +
         R"(/protocol/openid-connect/revoke"})";
}
const std::string kDiscoveredToken = kIssuer + "/protocol/openid-connect/token";

std::string path_of(const std::string& url) {
  const auto scheme = url.find("://");
  const auto slash = url.find('/', scheme + 3);
  return slash == std::string::npos ? "/" : url.substr(slash);
}

struct Harness {
  std::shared_ptr<FakeTransport> transport = std::make_shared<FakeTransport>();
  FakeClock clock{kNow};
  Oauth2Settings settings;
  std::string state;                   // P.secret between fetches
  std::vector<std::string> events;     // "persist", "reserve", "send <path>", in order
  std::vector<std::string> persisted;  // every P.secret written, in order
  bool forced = false;
  std::chrono::seconds refresh_before_expiry{600};
  std::function<Result<std::string>()> reload;
  std::function<Result<void>(const std::string&)> persist_check;  // may refuse a write
  std::function<Result<void>(std::size_t)> reserve_check;
  std::vector<std::size_t> reserved;

  // A confidential client_credentials client with its secret in a variable.
  Harness() {
    settings.token_endpoint = kTokenEndpoint;
    settings.client_id = "gateway";
    settings.client_auth = ClientAuthMethod::client_secret_post;
    settings.client_secret_env = "GW_CLIENT_SECRET";
    settings.grant = Oauth2Grant::client_credentials;
    transport->handler = [this](const HttpRequest& request) -> Result<HttpResponse> {
      events.push_back("send " + path_of(request.url));
      if (transport->script.empty()) return fail(ErrorClass::transient, "script exhausted");
      auto next = std::move(transport->script.front());
      transport->script.pop_front();
      return next;
    };
  }
  // A public client of the device_code grant, logged in: its refresh token is kRefresh and
  // its access token has expired.
  void logged_in_device_client() {
    settings.grant = Oauth2Grant::device_code;
    settings.client_auth = ClientAuthMethod::none;
    settings.client_secret_env.clear();
    settings.device_authorization_endpoint = "https://idp.test/oauth2/device";
    settings.scope = "openid offline_access";
    settings.resource = {"https://gw.test/"};
    Oauth2State s;
    s.refresh_token = kRefresh;
    s.access_token = kAccess;
    s.expires_at = kNow - 10;
    s.obtained_at = kNow - 3610;
    s.settings_fp = fingerprint();
    state = serialize_oauth2_state(s);
  }

  Oauth2Backend backend() const {
    return Oauth2Backend(settings, transport, "work", lookup_fake_env);
  }
  std::string fingerprint() const { return backend().settings_fingerprint(); }

  Result<FetchResult> fetch() {
    Oauth2Backend b = backend();
    FetchContext context{clock, state};
    context.forced = forced;
    context.refresh_before_expiry = refresh_before_expiry;
    context.persist_secret = [this](const std::string& text) -> Result<void> {
      events.push_back("persist");
      if (persist_check) {
        if (auto ok = persist_check(text); !ok) return ok;
      }
      persisted.push_back(text);
      state = text;
      return {};
    };
    context.reserve_secret = [this](std::size_t bytes) -> Result<void> {
      events.push_back("reserve");
      reserved.push_back(bytes);
      if (reserve_check) return reserve_check(bytes);
      return {};
    };
    if (reload) context.reload_secret = reload;
    auto result = b.fetch(context);
    // Everything is persisted through persist_secret: nothing is left for the caller.
    if (result) CHECK_FALSE(result->new_secret_state);
    return result;
  }
  Oauth2State stored() const {
    auto parsed = parse_oauth2_state(state);
    REQUIRE(parsed);
    return *parsed;
  }
  void set_stored(const Oauth2State& s) { state = serialize_oauth2_state(s); }
  int sends() const { return transport->calls(); }
  const HttpRequest& request(std::size_t i) const { return transport->requests.at(i); }
};

void check_no_secret(const Error& error) {
  CHECK(no_canary(error.message));
  CHECK(error.message.find('\n') == std::string::npos);
}

}  // namespace

// --- client_credentials ----------------------------------------------------------------------

TEST_CASE("oauth2 fetch: client_credentials request and expiry from expires_in", "[oauth2]") {
  FakeEnv env{{"GW_CLIENT_SECRET", kClientSecret}};
  Harness h;
  h.settings.scope = "api.read api.write";
  h.settings.audience = {"https://gw.test"};
  h.settings.resource = {"https://r1.test/", "https://r2.test/"};
  h.transport->respond(200, token_body(kAccess, 3600));
  auto result = h.fetch();
  REQUIRE(result);
  CHECK(same(result->credential, kAccess));
  CHECK(result->expires_at == std::optional<std::int64_t>(kNow + 3600));
  CHECK(result->source == "oauth2 client_credentials idp.test");
  CHECK(no_canary(result->source));

  REQUIRE(h.sends() == 1);
  const HttpRequest& request = h.request(0);
  CHECK(request.method == "POST");
  CHECK(request.url == kTokenEndpoint);
  CHECK(field_names(request.body) == std::vector<std::string>{"grant_type", "scope", "audience",
                                                              "resource", "resource", "client_id",
                                                              "client_secret"});
  CHECK(field_values(request.body, "grant_type") == std::vector<std::string>{"client_credentials"});
  CHECK(field_values(request.body, "scope") == std::vector<std::string>{"api.read api.write"});
  CHECK(field_values(request.body, "audience") == std::vector<std::string>{"https://gw.test"});
  CHECK(field_values(request.body, "resource") ==
        std::vector<std::string>{"https://r1.test/", "https://r2.test/"});
  CHECK(has_field(request.body, "client_secret", kClientSecret));
  // Nothing to rotate: no marker, no reservation; the token is saved after the answer.
  CHECK(h.events == std::vector<std::string>{"send /oauth2/token", "persist"});

  const Oauth2State stored = h.stored();
  CHECK(same(stored.access_token, kAccess));
  CHECK(stored.refresh_token.empty());
  CHECK(stored.expires_at == std::optional<std::int64_t>(kNow + 3600));
  CHECK(stored.obtained_at == std::optional<std::int64_t>(kNow));
  CHECK_FALSE(stored.pending_refresh_since);
  CHECK(stored.settings_fp == h.fingerprint());
}

TEST_CASE("oauth2 fetch: expiry from the JWT exp, else 5 minutes", "[oauth2]") {
  FakeEnv env{{"GW_CLIENT_SECRET", kClientSecret}};
  SECTION("JWT exp when expires_in is absent") {
    Harness h;
    h.transport->respond(200, token_body(make_jwt(kNow + 1234), -1));
    auto result = h.fetch();
    REQUIRE(result);
    CHECK(result->expires_at == std::optional<std::int64_t>(kNow + 1234));
  }
  SECTION("expires_in wins over the JWT exp") {
    Harness h;
    h.transport->respond(200, token_body(make_jwt(kNow + 1234), 600));
    auto result = h.fetch();
    REQUIRE(result);
    CHECK(result->expires_at == std::optional<std::int64_t>(kNow + 600));
  }
  SECTION("neither: 300 s") {
    Harness h;
    h.transport->respond(200, token_body(kAccess, -1));
    auto result = h.fetch();
    REQUIRE(result);
    CHECK(result->expires_at == std::optional<std::int64_t>(kNow + 300));
  }
}

TEST_CASE("oauth2 fetch: a token with life left is used again unless forced", "[oauth2]") {
  FakeEnv env{{"GW_CLIENT_SECRET", kClientSecret}};
  Harness h;
  h.transport->respond(200, token_body(kAccess, 3600));
  REQUIRE(h.fetch());
  h.clock.advance(std::chrono::seconds(600));
  auto again = h.fetch();
  REQUIRE(again);
  CHECK(h.sends() == 1);
  CHECK(same(again->credential, kAccess));
  CHECK(again->expires_at == std::optional<std::int64_t>(kNow + 3600));
  CHECK(h.persisted.size() == 1);  // nothing changed, nothing written

  h.forced = true;
  h.transport->respond(200, token_body(kAccess2, 3600));
  auto forced = h.fetch();
  REQUIRE(forced);
  CHECK(h.sends() == 2);
  CHECK(same(forced->credential, kAccess2));
  CHECK(forced->expires_at == std::optional<std::int64_t>(kNow + 600 + 3600));

  // Within refresh_before_expiry of its end: asked anew.
  h.forced = false;
  h.clock.advance(std::chrono::seconds(3600 - 599));
  h.transport->respond(200, token_body(kAccess, 3600));
  REQUIRE(h.fetch());
  CHECK(h.sends() == 3);
}

TEST_CASE("oauth2 fetch: a short-lived token is renewed at half its life", "[oauth2]") {
  FakeEnv env{{"GW_CLIENT_SECRET", kClientSecret}};
  Harness h;
  h.transport->respond(200, token_body(kAccess, 60));
  REQUIRE(h.fetch());
  h.clock.advance(std::chrono::seconds(10));
  REQUIRE(h.fetch());
  CHECK(h.sends() == 1);
  h.clock.advance(std::chrono::seconds(19));
  REQUIRE(h.fetch());
  CHECK(h.sends() == 1);
  h.clock.advance(std::chrono::seconds(1));  // 30 s: half of its 60
  h.transport->respond(200, token_body(kAccess2, 60));
  auto renewed = h.fetch();
  REQUIRE(renewed);
  CHECK(h.sends() == 2);
  CHECK(same(renewed->credential, kAccess2));
}

TEST_CASE("oauth2 fetch: a token obtained under other settings is not used again", "[oauth2]") {
  FakeEnv env{{"GW_CLIENT_SECRET", kClientSecret}};
  Harness h;
  h.settings.scope = "api.read";
  h.transport->respond(200, token_body(kAccess, 3600));
  REQUIRE(h.fetch());
  const std::string first_fp = h.stored().settings_fp;

  // What does not change the token (the timeout) keeps it.
  h.settings.timeout = std::chrono::milliseconds(5000);
  REQUIRE(h.fetch());
  CHECK(h.sends() == 1);

  h.settings.scope = "api.read api.admin";
  h.transport->respond(200, token_body(kAccess2, 3600));
  auto result = h.fetch();
  REQUIRE(result);
  CHECK(h.sends() == 2);
  CHECK(same(result->credential, kAccess2));
  CHECK(h.stored().settings_fp != first_fp);

  for (auto change : std::vector<std::function<void(Oauth2Settings&)>>{
           [](Oauth2Settings& s) { s.audience = {"https://other.test"}; },
           [](Oauth2Settings& s) { s.resource = {"https://r.test/"}; },
           [](Oauth2Settings& s) { s.client_id = "other-client"; },
           [](Oauth2Settings& s) { s.token_endpoint = "https://idp2.test/token"; },
           [](Oauth2Settings& s) { s.publish = PublishedToken::access_token; },
       }) {
    const int before = h.sends();
    const std::string fp = h.fingerprint();
    change(h.settings);
    if (h.fingerprint() == fp) continue;  // the same settings (publish was already this)
    h.transport->respond(200, token_body(kAccess, 3600));
    REQUIRE(h.fetch());
    CHECK(h.sends() == before + 1);
  }
}

TEST_CASE("oauth2 fetch: errors of the token endpoint reach the caller without secrets",
          "[oauth2]") {
  FakeEnv env{{"GW_CLIENT_SECRET", kClientSecret}};
  Harness h;
  h.transport->respond(401, R"({"error":"invalid_client","error_description":"secret )" +
                                kClientSecret + R"( unknown"})");
  auto refused = h.fetch();
  REQUIRE_FALSE(refused);
  CHECK(refused.error().kind == ErrorClass::config);
  CHECK(contains(refused.error().message, "[profile.work.oauth2]"));
  check_no_secret(refused.error());

  h.transport->respond(503, "", {{"retry-after", "45"}});
  auto busy = h.fetch();
  REQUIRE_FALSE(busy);
  CHECK(busy.error().kind == ErrorClass::transient);
  CHECK(busy.error().retry_after_s == std::optional<std::int64_t>(45));

  h.transport->respond(200, "<html>proxy</html>");
  auto garbled = h.fetch();
  REQUIRE_FALSE(garbled);
  CHECK(garbled.error().kind == ErrorClass::transient);
}

// --- discovery through the backend ---------------------------------------------------------

TEST_CASE("oauth2 fetch: discovered endpoints are kept in P.secret until they expire", "[oauth2]") {
  FakeEnv env{{"GW_CLIENT_SECRET", kClientSecret}};
  Harness h;
  h.settings.token_endpoint.clear();
  h.settings.issuer = kIssuer;
  h.transport->respond(200, discovery_doc(), {{"cache-control", "max-age=3600"}})
      .respond(200, token_body(kAccess, 600));
  REQUIRE(h.fetch());
  REQUIRE(h.sends() == 2);
  CHECK(h.request(0).url == kIssuer + "/.well-known/openid-configuration");
  CHECK(h.request(1).url == kDiscoveredToken);
  Oauth2State stored = h.stored();
  CHECK(stored.discovered.issuer == kIssuer);
  CHECK(stored.discovered.token_endpoint == kDiscoveredToken);
  CHECK(stored.discovered.revocation_endpoint == kIssuer + "/protocol/openid-connect/revoke");
  CHECK(stored.discovered.expires_at == std::optional<std::int64_t>(kNow + 3600));

  // Before it expires: no discovery.
  h.forced = true;
  h.clock.advance(std::chrono::seconds(1800));
  h.transport->respond(200, token_body(kAccess2, 600));
  REQUIRE(h.fetch());
  CHECK(h.sends() == 3);
  CHECK(h.request(2).url == kDiscoveredToken);

  // Expired: discovered again.
  h.clock.advance(std::chrono::seconds(1800));
  h.transport->respond(200, discovery_doc()).respond(200, token_body(kAccess, 600));
  REQUIRE(h.fetch());
  CHECK(h.sends() == 5);
  CHECK(path_of(h.request(3).url) == "/realms/corp/.well-known/openid-configuration");
  CHECK(h.stored().discovered.expires_at == std::optional<std::int64_t>(kNow + 3600 + 86400));

  // Expired and discovery fails transiently: the stale copy is used, and discovery is tried
  // again only after a pause (5 min), not at every refresh.
  h.clock.advance(std::chrono::seconds(86400));
  h.transport->respond(503, "").respond(200, token_body(kAccess2, 600));
  auto stale = h.fetch();
  REQUIRE(stale);
  CHECK(h.sends() == 7);
  CHECK(h.request(6).url == kDiscoveredToken);
  const std::int64_t paused_until = kNow + 3600 + 86400 + 300;
  CHECK(h.stored().discovered.expires_at == std::optional<std::int64_t>(paused_until));

  // A config failure (the issuer has no document any more) is not papered over.
  h.clock.advance(std::chrono::seconds(301));
  h.transport->respond(404, "").respond(404, "");
  auto gone = h.fetch();
  REQUIRE_FALSE(gone);
  CHECK(gone.error().kind == ErrorClass::config);
  CHECK(contains(gone.error().message, kIssuer));
}

TEST_CASE("oauth2 fetch: a failed first discovery fails the fetch", "[oauth2]") {
  FakeEnv env{{"GW_CLIENT_SECRET", kClientSecret}};
  Harness h;
  h.settings.token_endpoint.clear();
  h.settings.issuer = kIssuer;
  h.transport->respond(502, "");
  auto result = h.fetch();
  REQUIRE_FALSE(result);
  CHECK(result.error().kind == ErrorClass::transient);
  CHECK(h.sends() == 1);
  // Nothing was learnt: no empty state is saved (no P.secret, no keyring item).
  CHECK(h.persisted.empty());
}

TEST_CASE("oauth2 fetch: an explicit token_endpoint skips discovery", "[oauth2]") {
  FakeEnv env{{"GW_CLIENT_SECRET", kClientSecret}};
  Harness h;
  h.settings.issuer = kIssuer;  // set too, for the device flow's endpoint say
  h.transport->respond(200, token_body(kAccess, 600));
  REQUIRE(h.fetch());
  REQUIRE(h.sends() == 1);
  CHECK(h.request(0).url == kTokenEndpoint);
}

// --- device_code: the refresh ----------------------------------------------------------------

TEST_CASE("oauth2 refresh: not logged in", "[oauth2]") {
  Harness h;
  h.logged_in_device_client();
  h.state.clear();
  auto result = h.fetch();
  REQUIRE_FALSE(result);
  CHECK(result.error().kind == ErrorClass::permanent);
  CHECK(result.error().code == "not_logged_in");
  CHECK(contains(result.error().message, "login --profile work"));
  CHECK(h.sends() == 0);

  // A state without a refresh token (a stored client secret only) is not logged in either.
  Oauth2State secret_only;
  secret_only.client_secret = kClientSecret;
  h.set_stored(secret_only);
  auto again = h.fetch();
  REQUIRE_FALSE(again);
  CHECK(again.error().code == "not_logged_in");
  CHECK(h.sends() == 0);
}

TEST_CASE("oauth2 refresh: an unreadable P.secret is permanent", "[oauth2]") {
  Harness h;
  h.logged_in_device_client();
  h.state = "claude-key-helper-oauth2 v1\nrefresh_token: CANARY x\n";
  auto result = h.fetch();
  REQUIRE_FALSE(result);
  CHECK(result.error().kind == ErrorClass::permanent);
  CHECK(contains(result.error().message, "login --profile work"));
  check_no_secret(result.error());
  CHECK(h.sends() == 0);
}

TEST_CASE("oauth2 refresh: marker and room before sending, rotated token saved before returning",
          "[oauth2]") {
  Harness h;
  h.logged_in_device_client();
  h.transport->respond(200, token_body(kAccess2, 3600, kNewRefresh));
  auto result = h.fetch();
  REQUIRE(result);
  CHECK(same(result->credential, kAccess2));
  CHECK(result->expires_at == std::optional<std::int64_t>(kNow + 3600));
  CHECK(h.events ==
        std::vector<std::string>{"persist", "reserve", "send /oauth2/token", "persist"});

  REQUIRE(h.persisted.size() == 2);
  auto marker = parse_oauth2_state(h.persisted[0]);
  REQUIRE(marker);
  CHECK(marker->pending_refresh_since == std::optional<std::int64_t>(kNow));
  CHECK(same(marker->refresh_token, kRefresh));
  REQUIRE(h.reserved.size() == 1);
  CHECK(h.reserved[0] >= h.persisted[0].size());

  const Oauth2State after = h.stored();
  CHECK(same(after.refresh_token, kNewRefresh));
  CHECK(same(after.access_token, kAccess2));
  CHECK_FALSE(after.pending_refresh_since);
  CHECK(after.obtained_at == std::optional<std::int64_t>(kNow));
  // The temp-copy judge agrees that this save follows the marker's.
  CHECK(h.backend().adopts_secret(h.persisted[0], h.persisted[1]));
  CHECK_FALSE(h.backend().adopts_secret(h.persisted[1], h.persisted[0]));

  const HttpRequest& request = h.request(0);
  CHECK(request.url == kTokenEndpoint);
  // scope as configured (RFC 6749 §6; Entra ID's v2 endpoint wants it on a refresh too).
  CHECK(field_names(request.body) ==
        std::vector<std::string>{"grant_type", "refresh_token", "scope", "resource", "client_id"});
  CHECK(field_values(request.body, "grant_type") == std::vector<std::string>{"refresh_token"});
  CHECK(has_field(request.body, "refresh_token", kRefresh));
  CHECK(field_values(request.body, "client_id") == std::vector<std::string>{"gateway"});
}

TEST_CASE("oauth2 refresh: an answer without a refresh token keeps the one held", "[oauth2]") {
  Harness h;
  h.logged_in_device_client();
  h.transport->respond(200, token_body(kAccess2, 3600));
  REQUIRE(h.fetch());
  CHECK(same(h.stored().refresh_token, kRefresh));
  CHECK_FALSE(h.stored().pending_refresh_since);
}

TEST_CASE("oauth2 refresh: a usable token is not refreshed unless forced", "[oauth2]") {
  Harness h;
  h.logged_in_device_client();
  Oauth2State s = h.stored();
  s.expires_at = kNow + 3600;
  s.obtained_at = kNow;
  h.set_stored(s);
  auto cached = h.fetch();
  REQUIRE(cached);
  CHECK(same(cached->credential, kAccess));
  CHECK(h.events.empty());
  h.forced = true;
  h.transport->respond(200, token_body(kAccess2, 3600, kNewRefresh));
  auto forced = h.fetch();
  REQUIRE(forced);
  CHECK(same(forced->credential, kAccess2));
  CHECK(h.sends() == 1);
}

TEST_CASE("oauth2 refresh: a 200 that cannot be used but rotated keeps the new refresh token",
          "[oauth2]") {
  Harness h;
  h.logged_in_device_client();
  h.transport->respond(200, R"({"access_token":"","refresh_token":")" + kNewRefresh + R"("})");
  auto result = h.fetch();
  REQUIRE_FALSE(result);
  CHECK(result.error().kind == ErrorClass::transient);
  CHECK(contains(result.error().message, "saved"));
  check_no_secret(result.error());
  const Oauth2State after = h.stored();
  CHECK(same(after.refresh_token, kNewRefresh));
  CHECK_FALSE(after.pending_refresh_since);
  // Saved before fetch returned, through persist_secret.
  CHECK(h.events ==
        std::vector<std::string>{"persist", "reserve", "send /oauth2/token", "persist"});
}

TEST_CASE("oauth2 refresh: invalid_grant adopts a newer stored refresh token", "[oauth2]") {
  SECTION("and uses it") {
    Harness h;
    h.logged_in_device_client();
    Oauth2State newer = h.stored();
    newer.refresh_token = kNewerRefresh;
    newer.obtained_at = kNow + 1;  // obtained after ours: only such a state is adopted
    const std::string newer_text = serialize_oauth2_state(newer);
    // Another writer (a login) saved it after our marker.
    h.reload = [&]() -> Result<std::string> {
      h.state = newer_text;
      return newer_text;
    };
    h.transport->respond(400, R"({"error":"invalid_grant"})")
        .respond(200, token_body(kAccess2, 3600, kNewRefresh));
    auto result = h.fetch();
    REQUIRE(result);
    CHECK(same(result->credential, kAccess2));
    REQUIRE(h.sends() == 2);
    CHECK(has_field(h.request(0).body, "refresh_token", kRefresh));
    CHECK(has_field(h.request(1).body, "refresh_token", kNewerRefresh));
    const Oauth2State after = h.stored();
    CHECK(same(after.refresh_token, kNewRefresh));
    CHECK_FALSE(after.pending_refresh_since);
    // The second request was announced too: marker and room before it.
    CHECK(h.events == std::vector<std::string>{"persist", "reserve", "send /oauth2/token",
                                               "persist", "reserve", "send /oauth2/token",
                                               "persist"});
    auto second_marker = parse_oauth2_state(h.persisted[1]);
    REQUIRE(second_marker);
    CHECK(same(second_marker->refresh_token, kNewerRefresh));
    CHECK(second_marker->pending_refresh_since == std::optional<std::int64_t>(kNow));
  }
  SECTION("and its access token, when that one still lives") {
    Harness h;
    h.logged_in_device_client();
    Oauth2State newer = h.stored();
    newer.refresh_token = kNewerRefresh;
    newer.obtained_at = kNow + 1;  // obtained after ours: only such a state is adopted
    newer.access_token = kAccess2;
    newer.expires_at = kNow + 3600;
    newer.obtained_at = kNow - 10;
    const std::string newer_text = serialize_oauth2_state(newer);
    // Another writer (a login) saved it after our marker.
    h.reload = [&]() -> Result<std::string> {
      h.state = newer_text;
      return newer_text;
    };
    h.transport->respond(400, R"({"error":"invalid_grant"})");
    auto result = h.fetch();
    REQUIRE(result);
    CHECK(same(result->credential, kAccess2));
    CHECK(result->expires_at == std::optional<std::int64_t>(kNow + 3600));
    CHECK(h.sends() == 1);
    CHECK(same(h.state, newer_text));
  }
  SECTION("the second refusal is final, and says to log in") {
    Harness h;
    h.logged_in_device_client();
    Oauth2State newer = h.stored();
    newer.refresh_token = kNewerRefresh;
    newer.obtained_at = kNow + 1;  // obtained after ours: only such a state is adopted
    const std::string newer_text = serialize_oauth2_state(newer);
    int reloads = 0;
    h.reload = [&]() -> Result<std::string> {
      ++reloads;
      return newer_text;
    };
    h.transport->respond(400, R"({"error":"invalid_grant"})")
        .respond(400, R"({"error":"invalid_grant"})");
    auto result = h.fetch();
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == ErrorClass::permanent);
    CHECK(contains(result.error().message, "login --profile work"));
    CHECK(h.sends() == 2);
    CHECK(reloads == 1);
    CHECK(same(h.stored().refresh_token, kNewerRefresh));
    CHECK_FALSE(h.stored().pending_refresh_since);
  }
}

TEST_CASE("oauth2 refresh: invalid_grant with nothing newer is permanent", "[oauth2]") {
  SECTION("the store holds the refused token") {
    Harness h;
    h.logged_in_device_client();
    h.reload = [&]() -> Result<std::string> { return h.state; };
    h.transport->respond(400, R"({"error":"invalid_grant","error_description":"Token )" + kRefresh +
                                  R"( is not active"})");
    auto result = h.fetch();
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == ErrorClass::permanent);
    CHECK(result.error().code == "invalid_grant");
    CHECK(contains(result.error().message, "claude-key-refresher login --profile work"));
    CHECK_FALSE(contains(result.error().message, "interrupted"));
    check_no_secret(result.error());
    CHECK(h.sends() == 1);
    CHECK_FALSE(h.stored().pending_refresh_since);
    CHECK(same(h.stored().refresh_token, kRefresh));
  }
  SECTION("the store cannot be read, or is empty, or garbage") {
    for (int variant = 0; variant < 3; ++variant) {
      Harness h;
      h.logged_in_device_client();
      h.reload = [variant]() -> Result<std::string> {
        if (variant == 0) return fail(ErrorClass::io, "cannot read");
        if (variant == 1) return std::string();
        return std::string("garbage");
      };
      h.transport->respond(400, R"({"error":"invalid_grant"})");
      auto result = h.fetch();
      REQUIRE_FALSE(result);
      CHECK(result.error().kind == ErrorClass::permanent);
      CHECK(h.sends() == 1);
    }
  }
  SECTION("no reload in this context") {
    Harness h;
    h.logged_in_device_client();
    h.transport->respond(400, R"({"error":"invalid_grant"})");
    auto result = h.fetch();
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == ErrorClass::permanent);
    CHECK(contains(result.error().message, "login --profile work"));
  }
}

TEST_CASE("oauth2 refresh: invalid_grant after an interrupted refresh says so", "[oauth2]") {
  Harness h;
  h.logged_in_device_client();
  Oauth2State s = h.stored();
  s.pending_refresh_since = kNow - 120;
  h.set_stored(s);
  h.transport->respond(400, R"({"error":"invalid_grant"})");
  auto result = h.fetch();
  REQUIRE_FALSE(result);
  CHECK(result.error().kind == ErrorClass::permanent);
  CHECK(contains(result.error().message, "interrupted refresh"));
  CHECK(contains(result.error().message, "login --profile work"));
  check_no_secret(result.error());
  // The record of the interrupted refresh stays, so that every later attempt says the same.
  CHECK(h.stored().pending_refresh_since == std::optional<std::int64_t>(kNow - 120));
}

TEST_CASE("oauth2 refresh: the marker stays when no answer came, and goes when one did",
          "[oauth2]") {
  SECTION("network error") {
    Harness h;
    h.logged_in_device_client();
    h.transport->fail_with(ErrorClass::transient, "connection reset");
    auto result = h.fetch();
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == ErrorClass::transient);
    CHECK(h.stored().pending_refresh_since == std::optional<std::int64_t>(kNow));
    CHECK(same(h.stored().refresh_token, kRefresh));
  }
  SECTION("HTTP 500") {
    Harness h;
    h.logged_in_device_client();
    h.transport->respond(500, "");
    auto result = h.fetch();
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == ErrorClass::transient);
    CHECK_FALSE(h.stored().pending_refresh_since);
  }
  SECTION("HTTP 500 after an earlier interrupted refresh keeps that record") {
    Harness h;
    h.logged_in_device_client();
    Oauth2State s = h.stored();
    s.pending_refresh_since = kNow - 300;
    h.set_stored(s);
    h.transport->respond(500, "");
    REQUIRE_FALSE(h.fetch());
    CHECK(h.stored().pending_refresh_since == std::optional<std::int64_t>(kNow - 300));
  }
  SECTION("a proxy's 502 or 504 without an OAuth body: the IdP behind it may have acted") {
    for (const long status : {502L, 504L}) {
      Harness h;
      h.logged_in_device_client();
      h.transport->respond(status, "<html>Bad Gateway</html>");
      REQUIRE_FALSE(h.fetch());
      CHECK(h.stored().pending_refresh_since == std::optional<std::int64_t>(kNow));
    }
  }
  SECTION("a 200 without a usable body or refresh token: it may have rotated") {
    Harness h;
    h.logged_in_device_client();
    h.transport->respond(200, "{}");
    REQUIRE_FALSE(h.fetch());
    CHECK(h.stored().pending_refresh_since == std::optional<std::int64_t>(kNow));
  }
}

TEST_CASE("oauth2 refresh: nothing is sent when the marker or the room cannot be saved",
          "[oauth2]") {
  SECTION("the marker") {
    Harness h;
    h.logged_in_device_client();
    const std::string before = h.state;
    h.persist_check = [](const std::string&) -> Result<void> {
      return fail(ErrorClass::io, "disk full");
    };
    auto result = h.fetch();
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == ErrorClass::transient);
    CHECK(contains(result.error().message, "not sent"));
    CHECK(h.sends() == 0);
    CHECK(same(h.state, before));
  }
  SECTION("the room") {
    Harness h;
    h.logged_in_device_client();
    h.reserve_check = [](std::size_t) -> Result<void> {
      return fail(ErrorClass::io, "no space left");
    };
    auto result = h.fetch();
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == ErrorClass::transient);
    CHECK(contains(result.error().message, "not sent"));
    CHECK(h.sends() == 0);
    CHECK(same(h.stored().refresh_token, kRefresh));
    // Nothing went out: no marker that would blame a later refusal on this refresh.
    CHECK_FALSE(h.stored().pending_refresh_since);
  }
}

// --- publish = "id_token" ------------------------------------------------------------------

TEST_CASE("oauth2 fetch: publish id_token", "[oauth2]") {
  SECTION("the ID token is published with its own exp") {
    Harness h;
    h.logged_in_device_client();
    h.settings.publish = PublishedToken::id_token;
    Oauth2State s = h.stored();
    s.settings_fp = h.fingerprint();
    h.set_stored(s);
    const std::string id_token = make_jwt(kNow + 1200);
    h.transport->respond(200, token_body(kAccess2, 3600, kNewRefresh, id_token));
    auto result = h.fetch();
    REQUIRE(result);
    CHECK(same(result->credential, id_token));
    CHECK(result->expires_at == std::optional<std::int64_t>(kNow + 1200));
    CHECK(same(h.stored().id_token, id_token));

    // A refresh answer without an ID token: the one held, while it lives.
    h.forced = true;
    h.clock.advance(std::chrono::seconds(100));
    h.transport->respond(200, token_body(kAccess, 3600, kNewerRefresh));
    auto kept = h.fetch();
    REQUIRE(kept);
    CHECK(same(kept->credential, id_token));
    CHECK(kept->expires_at == std::optional<std::int64_t>(kNow + 1200));
    CHECK(same(h.stored().refresh_token, kNewerRefresh));

    // Once it expired, a refresh without one is permanent: log in again, or publish the
    // access token.
    h.clock.advance(std::chrono::seconds(1200));
    h.transport->respond(200, token_body(kAccess2, 3600));
    auto expired = h.fetch();
    REQUIRE_FALSE(expired);
    CHECK(expired.error().kind == ErrorClass::permanent);
    CHECK(contains(expired.error().message, "id_token"));
  }
  SECTION("client_credentials without any ID token: a config error") {
    FakeEnv env{{"GW_CLIENT_SECRET", kClientSecret}};
    Harness h;
    h.settings.publish = PublishedToken::id_token;
    h.transport->respond(200, token_body(kAccess, 3600));
    auto result = h.fetch();
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == ErrorClass::config);
  }
  SECTION("a token that is no JWT: a config error") {
    FakeEnv env{{"GW_CLIENT_SECRET", kClientSecret}};
    Harness h;
    h.settings.publish = PublishedToken::id_token;
    h.transport->respond(200, token_body(kAccess, 3600, "", "opaque-id-token"));
    auto result = h.fetch();
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == ErrorClass::config);
  }
}

TEST_CASE("oauth2 refresh: an answer that cannot be published keeps the whole state", "[oauth2]") {
  // publish = "id_token", the held ID token expired, and the IdP answers without one.
  Harness h;
  h.logged_in_device_client();
  h.settings.publish = PublishedToken::id_token;
  h.settings.client_auth = ClientAuthMethod::client_secret_post;  // secret from the store
  h.settings.token_endpoint.clear();
  h.settings.device_authorization_endpoint.clear();
  h.settings.issuer = kIssuer;
  Oauth2State s = h.stored();
  s.settings_fp = h.fingerprint();
  s.id_token = make_jwt(kNow - 5);
  s.client_secret = kClientSecret;
  s.discovered.issuer = kIssuer;
  s.discovered.token_endpoint = kDiscoveredToken;
  s.discovered.expires_at = kNow + 3600;
  s.scope = "openid offline_access";
  h.set_stored(s);

  SECTION("the answer rotated the refresh token") {
    h.transport->respond(200, token_body(kAccess2, 3600, kNewRefresh));
    auto result = h.fetch();
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == ErrorClass::permanent);
    const Oauth2State after = h.stored();
    CHECK(same(after.refresh_token, kNewRefresh));
    CHECK_FALSE(after.pending_refresh_since);
    CHECK(same(after.client_secret, kClientSecret));
    CHECK(after.discovered.token_endpoint == kDiscoveredToken);
    CHECK(after.discovered.expires_at == std::optional<std::int64_t>(kNow + 3600));
    CHECK(after.scope == "openid offline_access");
  }
  SECTION("the answer did not rotate") {
    h.transport->respond(200, token_body(kAccess2, 3600));
    auto result = h.fetch();
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == ErrorClass::permanent);
    const Oauth2State after = h.stored();
    CHECK(same(after.refresh_token, kRefresh));
    CHECK(same(after.client_secret, kClientSecret));
    CHECK(after.discovered.token_endpoint == kDiscoveredToken);
  }
  SECTION("the next fetch still has its refresh token and secret") {
    h.transport->respond(200, token_body(kAccess2, 3600));
    REQUIRE_FALSE(h.fetch());
    h.transport->respond(200, token_body(kAccess2, 3600, "", make_jwt(kNow + 900)));
    auto result = h.fetch();
    REQUIRE(result);
    CHECK(result->expires_at == std::optional<std::int64_t>(kNow + 900));
    REQUIRE(h.sends() == 2);
    CHECK(has_field(h.request(1).body, "refresh_token", kRefresh));
    CHECK(has_field(h.request(1).body, "client_secret", kClientSecret));
  }
}

TEST_CASE("oauth2 fetch: client_credentials that cannot be published keep the stored secret",
          "[oauth2]") {
  Harness h;
  h.settings.client_secret_env.clear();  // the secret from the store
  h.settings.publish = PublishedToken::id_token;
  Oauth2State s;
  s.client_secret = kClientSecret;
  h.set_stored(s);
  h.transport->respond(200, token_body(kAccess, 3600));
  REQUIRE_FALSE(h.fetch());
  CHECK(same(h.stored().client_secret, kClientSecret));
}

// --- token_exchange ------------------------------------------------------------------------

TEST_CASE("oauth2 fetch: token_exchange reads the subject token on every exchange", "[oauth2]") {
  FakeEnv env{{"GW_CLIENT_SECRET", kClientSecret}};
  TempDir dir;
  Harness h;
  h.settings.grant = Oauth2Grant::token_exchange;
  h.settings.subject_token_file = dir.write("token", kSubject + "\n", 0644);
  h.settings.requested_token_type = "urn:ietf:params:oauth:token-type:access_token";
  h.settings.audience = {"gateway-api"};
  h.transport->respond(200, token_body(kAccess, 600));
  auto result = h.fetch();
  REQUIRE(result);
  CHECK(same(result->credential, kAccess));
  REQUIRE(h.sends() == 1);
  const std::string& body = h.request(0).body;
  CHECK(field_names(body) == std::vector<std::string>{"grant_type", "subject_token",
                                                      "subject_token_type", "requested_token_type",
                                                      "audience", "client_id", "client_secret"});
  CHECK(field_values(body, "grant_type") ==
        std::vector<std::string>{"urn:ietf:params:oauth:grant-type:token-exchange"});
  CHECK(has_field(body, "subject_token", kSubject));
  CHECK(field_values(body, "subject_token_type") ==
        std::vector<std::string>{"urn:ietf:params:oauth:token-type:jwt"});

  // Rotated by its issuer: the next exchange sends what the file holds then.
  const std::string rotated = "CANARY-subject-jwt-rotated-0000";
  dir.write("token", rotated, 0644);
  h.forced = true;
  h.transport->respond(200, token_body(kAccess2, 600));
  REQUIRE(h.fetch());
  REQUIRE(h.sends() == 2);
  CHECK(has_field(h.request(1).body, "subject_token", rotated));

  // The subject token file is what a permanent failure was for.
  const SourceState source = h.backend().source_state();
  CHECK(source.files == std::vector<std::string>{h.settings.subject_token_file});
}

TEST_CASE("oauth2 fetch: token_exchange without a usable subject token", "[oauth2]") {
  FakeEnv env{{"GW_CLIENT_SECRET", kClientSecret}};
  TempDir dir;
  for (const std::string& content : {std::string("<missing>"), std::string(""), std::string("  \n"),
                                     std::string("two tokens")}) {
    INFO(content.size());
    Harness h;
    h.settings.grant = Oauth2Grant::token_exchange;
    if (content == "<missing>") {
      h.settings.subject_token_file = dir.file("absent");
    } else {
      h.settings.subject_token_file = dir.write("token", content, 0644);
    }
    auto result = h.fetch();
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == ErrorClass::config);
    CHECK(contains(result.error().message, "subject_token_file"));
    CHECK(h.sends() == 0);
  }
}

TEST_CASE("oauth2 fetch: a refused subject token says which file, never the token", "[oauth2]") {
  FakeEnv env{{"GW_CLIENT_SECRET", kClientSecret}};
  TempDir dir;
  Harness h;
  h.settings.grant = Oauth2Grant::token_exchange;
  h.settings.subject_token_file = dir.write("token", kSubject, 0644);
  h.transport->respond(400, R"({"error":"invalid_grant","error_description":"subject_token )" +
                                kSubject + R"( expired"})");
  auto result = h.fetch();
  REQUIRE_FALSE(result);
  CHECK(result.error().kind == ErrorClass::permanent);
  CHECK(contains(result.error().message, h.settings.subject_token_file));
  check_no_secret(result.error());
}

// --- the client's secret -----------------------------------------------------------------

TEST_CASE("oauth2 fetch: the client secret from a file, a variable or the store", "[oauth2]") {
  TempDir dir;
  SECTION("a private file, sent in Basic") {
    FakeEnv env{};
    Harness h;
    h.settings.client_auth = ClientAuthMethod::client_secret_basic;
    h.settings.client_secret_env.clear();
    h.settings.client_secret_file = dir.write("secret", kClientSecret + "\n", 0600);
    h.transport->respond(200, token_body(kAccess, 600));
    REQUIRE(h.fetch());
    const std::string header = request_header(h.request(0), "authorization");
    CHECK(header.starts_with("Basic "));
    CHECK(no_canary(header));  // encoded, not in the clear
    CHECK_FALSE(contains(h.request(0).body, "client_secret"));
    CHECK(h.backend().source_state().files ==
          std::vector<std::string>{h.settings.client_secret_file});
  }
  SECTION("a file others can read is refused") {
    FakeEnv env{};
    Harness h;
    h.settings.client_secret_env.clear();
    h.settings.client_secret_file = dir.write("secret", kClientSecret, 0644);
    auto result = h.fetch();
    REQUIRE_FALSE(result);
    CHECK(result.error().kind != ErrorClass::transient);
    CHECK(h.sends() == 0);
    check_no_secret(result.error());
  }
  SECTION("a missing file is a config error") {
    FakeEnv env{};
    Harness h;
    h.settings.client_secret_env.clear();
    h.settings.client_secret_file = dir.file("absent");
    auto result = h.fetch();
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == ErrorClass::config);
    CHECK(contains(result.error().message, "client_secret_file"));
  }
  SECTION("a variable") {
    FakeEnv env{{"GW_CLIENT_SECRET", kClientSecret}};
    Harness h;
    h.transport->respond(200, token_body(kAccess, 600));
    REQUIRE(h.fetch());
    CHECK(has_field(h.request(0).body, "client_secret", kClientSecret));
    CHECK(h.backend().secret_env_names() == std::vector<std::string>{"GW_CLIENT_SECRET"});
    const SourceState source = h.backend().source_state();
    REQUIRE(source.env.size() == 1);
    CHECK(source.env[0].first == "GW_CLIENT_SECRET");
  }
  SECTION("an unset or unusable variable is a config error naming it") {
    for (const std::string& value : {std::string(""), std::string("two words")}) {
      FakeEnv env{{"GW_CLIENT_SECRET", value}};
      Harness h;
      auto result = h.fetch();
      REQUIRE_FALSE(result);
      CHECK(result.error().kind == ErrorClass::config);
      CHECK(contains(result.error().message, "GW_CLIENT_SECRET"));
      CHECK(h.sends() == 0);
    }
    FakeEnv env{};
    Harness h;
    REQUIRE_FALSE(h.fetch());
  }
  SECTION("the store (login --client-secret-stdin)") {
    FakeEnv env{};
    Harness h;
    h.settings.client_secret_env.clear();
    Oauth2State s;
    s.client_secret = kClientSecret;
    h.set_stored(s);
    h.transport->respond(200, token_body(kAccess, 600));
    REQUIRE(h.fetch());
    CHECK(has_field(h.request(0).body, "client_secret", kClientSecret));
    CHECK(same(h.stored().client_secret, kClientSecret));  // kept with the tokens
    CHECK(h.backend().secret_env_names().empty());
  }
  SECTION("none: a config error that says how to store it") {
    FakeEnv env{};
    Harness h;
    h.settings.client_secret_env.clear();
    auto result = h.fetch();
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == ErrorClass::config);
    CHECK(contains(result.error().message, "--client-secret-stdin"));
    CHECK(contains(result.error().message, "login --profile work"));
    CHECK(h.sends() == 0);
  }
}

TEST_CASE("oauth2 fetch: private_key_jwt signs for the token endpoint", "[oauth2]") {
  TempDir dir;
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  REQUIRE(key != nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  REQUIRE(PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) == 1);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  const std::string pem(data, static_cast<std::size_t>(length));
  BIO_free(bio);
  EVP_PKEY_free(key);

  FakeEnv env{};
  Harness h;
  h.settings.client_auth = ClientAuthMethod::private_key_jwt;
  h.settings.client_secret_env.clear();
  h.settings.key_id = "key-2026";
  h.settings.private_key_file = dir.write("key.pem", pem, 0600);
  h.transport->respond(200, token_body(kAccess, 600));
  REQUIRE(h.fetch());
  const std::string& body = h.request(0).body;
  CHECK(field_values(body, "client_assertion_type") ==
        std::vector<std::string>{"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"});
  const auto assertion = field_values(body, "client_assertion");
  REQUIRE(assertion.size() == 1);
  const auto dot1 = assertion[0].find('.');
  const auto dot2 = assertion[0].find('.', dot1 + 1);
  const auto payload = base64url_decode(assertion[0].substr(dot1 + 1, dot2 - dot1 - 1));
  REQUIRE(payload);
  simdjson::dom::parser parser;
  simdjson::dom::element claims;
  REQUIRE(parser.parse(*payload).get(claims) == simdjson::SUCCESS);
  CHECK(std::string(std::string_view(claims["aud"])) == kTokenEndpoint);
  CHECK(std::string(std::string_view(claims["iss"])) == "gateway");
  CHECK(std::int64_t(claims["exp"]) == kNow + 60);

  SECTION("a key others can read, or that is missing, is not used") {
    Harness bad;
    bad.settings = h.settings;
    bad.settings.private_key_file = dir.write("open.pem", pem, 0644);
    auto refused = bad.fetch();
    REQUIRE_FALSE(refused);
    CHECK(refused.error().kind != ErrorClass::transient);
    bad.settings.private_key_file = dir.file("none.pem");
    auto missing = bad.fetch();
    REQUIRE_FALSE(missing);
    CHECK(missing.error().kind == ErrorClass::config);
    CHECK(contains(missing.error().message, "private_key_file"));
    bad.settings.private_key_file = dir.write("junk.pem", "not a key", 0600);
    auto junk = bad.fetch();
    REQUIRE_FALSE(junk);
    CHECK(junk.error().kind == ErrorClass::config);
    CHECK(bad.sends() == 0);
  }
}

TEST_CASE("oauth2 backend: what it says about itself", "[oauth2]") {
  Harness h;
  const Oauth2Backend backend = h.backend();
  CHECK(std::string(backend.name()) == "oauth2");
  CHECK_FALSE(backend.expected_lifetime());
  CHECK(backend.section() == "[profile.work.oauth2]");
  const std::string settings = backend.source_settings();
  CHECK(contains(settings, "client_id=7:gateway\n"));
  CHECK(contains(settings, "token_endpoint=" + std::to_string(kTokenEndpoint.size()) + ":" +
                               kTokenEndpoint + "\n"));
  CHECK(contains(settings, "client_secret_env=16:GW_CLIENT_SECRET\n"));
  CHECK(backend.settings_fingerprint() == h.fingerprint());
  Harness other;
  other.settings.audience = {"a", "b"};
  Harness joined;
  joined.settings.audience = {"a\nb"};
  CHECK(other.fingerprint() != joined.fingerprint());
}

// --- configuration -------------------------------------------------------------------------

namespace {

std::string problems_of(const std::string& body) {
  auto config = parse_config("[profile.p]\nbackend = \"oauth2\"\n[profile.p.oauth2]\n" + body,
                             "config.toml", lookup_fake_env);
  if (config) return {};
  std::string all;
  for (const auto& problem : config.error()) all += problem.to_string() + "\n";
  return all;
}

const Oauth2Settings* settings_of(const Config& config) {
  const auto* backend = dynamic_cast<const Oauth2Backend*>(config.profiles.at("p").backend.get());
  return backend == nullptr ? nullptr : &backend->settings();
}

}  // namespace

TEST_CASE("oauth2 config: complete configurations are accepted", "[oauth2]") {
  FakeEnv env{{"HOME", "/home/u"}};
  SECTION("client_credentials with a secret file, string scope") {
    auto config = parse_config(
        "[profile.p]\nbackend = \"oauth2\"\n[profile.p.oauth2]\n"
        "issuer = \"https://idp.test/realms/corp/\"\nclient_id = \"gw\"\n"
        "client_secret_file = \"~/.config/gw/secret\"\nscope = \"api.read api.write\"\n"
        "resource = \"https://gw.test/\"\naudience = [\"a1\", \"a2\"]\ntimeout = \"20s\"\n"
        "discovery_ttl = \"1h\"\n",
        "config.toml", lookup_fake_env);
    REQUIRE(config);
    const Oauth2Settings* s = settings_of(*config);
    REQUIRE(s != nullptr);
    CHECK(s->issuer == "https://idp.test/realms/corp/");
    CHECK(s->client_id == "gw");
    CHECK(s->client_auth == ClientAuthMethod::client_secret_basic);
    CHECK(s->client_secret_file == "/home/u/.config/gw/secret");
    CHECK(s->grant == Oauth2Grant::client_credentials);
    CHECK(s->scope == "api.read api.write");
    CHECK(s->resource == std::vector<std::string>{"https://gw.test/"});
    CHECK(s->audience == std::vector<std::string>{"a1", "a2"});
    CHECK(s->publish == PublishedToken::access_token);
    CHECK(s->timeout == std::chrono::milliseconds(20'000));
    CHECK(s->discovery_ttl == std::chrono::seconds(3600));
  }
  SECTION("device_code, public client, list scope, id_token") {
    auto config = parse_config(
        "[profile.p]\nbackend = \"oauth2\"\n[profile.p.oauth2]\n"
        "issuer = \"https://login.example.com\"\nclient_id = \"cli\"\ngrant = \"device_code\"\n"
        "scope = [\"openid\", \"offline_access\"]\npublish = \"id_token\"\n"
        "resource = [\"https://r1/\", \"https://r2/\"]\n",
        "config.toml", lookup_fake_env);
    REQUIRE(config);
    const Oauth2Settings* s = settings_of(*config);
    REQUIRE(s != nullptr);
    CHECK(s->grant == Oauth2Grant::device_code);
    CHECK(s->client_auth == ClientAuthMethod::none);
    CHECK(s->scope == "openid offline_access");
    CHECK(s->publish == PublishedToken::id_token);
    CHECK(s->resource == std::vector<std::string>{"https://r1/", "https://r2/"});
  }
  SECTION("token_exchange with private_key_jwt and explicit endpoints") {
    auto config = parse_config(
        "[profile.p]\nbackend = \"oauth2\"\n[profile.p.oauth2]\n"
        "token_endpoint = \"https://idp.test/token\"\nclient_id = \"gw\"\n"
        "grant = \"token_exchange\"\nsubject_token_file = \"/var/run/secrets/tokens/gw\"\n"
        "requested_token_type = \"urn:ietf:params:oauth:token-type:access_token\"\n"
        "private_key_file = \"/etc/gw/key.pem\"\nkey_id = \"k1\"\nsigning_alg = \"ES256\"\n",
        "config.toml", lookup_fake_env);
    REQUIRE(config);
    const Oauth2Settings* s = settings_of(*config);
    REQUIRE(s != nullptr);
    CHECK(s->client_auth == ClientAuthMethod::private_key_jwt);
    CHECK(s->grant == Oauth2Grant::token_exchange);
    CHECK(s->subject_token_type == "urn:ietf:params:oauth:token-type:jwt");
    CHECK(s->key_id == "k1");
  }
  SECTION("client_secret_post with the secret stored by login, loopback http") {
    auto config = parse_config(
        "[profile.p]\nbackend = \"oauth2\"\n[profile.p.oauth2]\n"
        "issuer = \"http://127.0.0.1:8080/realms/t\"\nclient_id = \"gw\"\n"
        "client_auth = \"client_secret_post\"\n",
        "config.toml", lookup_fake_env);
    REQUIRE(config);
    CHECK(settings_of(*config)->client_auth == ClientAuthMethod::client_secret_post);
  }
  SECTION("a secret in a variable is kept from child processes") {
    auto config = parse_config(
        "[profile.p]\nbackend = \"oauth2\"\n[profile.p.oauth2]\n"
        "token_endpoint = \"https://idp.test/token\"\nclient_id = \"gw\"\n"
        "client_secret_env = \"GW_SECRET\"\n",
        "config.toml", lookup_fake_env);
    REQUIRE(config);
    CHECK(config->profiles.at("p").backend->secret_env_names() ==
          std::vector<std::string>{"GW_SECRET"});
  }
}

TEST_CASE("oauth2 config: what does not fit together is refused, each said", "[oauth2]") {
  FakeEnv env{{"HOME", "/home/u"}};
  const std::string base = "issuer = \"https://idp.test\"\n";
  const std::string secret = "client_secret_env = \"S\"\n";
  struct Case {
    std::string what;
    std::string body;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"no client_id", base + secret, "client_id"},
      {"empty client_id", base + secret + "client_id = \"\"\n", "client_id"},
      {"client_id with a space", base + secret + "client_id = \"a b\"\n", "client_id"},
      {"neither issuer nor token_endpoint", secret + "client_id = \"c\"\n",
       "issuer (discovery) or token_endpoint"},
      {"client_credentials with a public client", base + "client_id = \"c\"\n",
       "confidential client"},
      {"private_key_jwt without a key",
       base + "client_id = \"c\"\nclient_auth = \"private_key_jwt\"\n", "private_key_file"},
      {"both secret file and variable",
       base + "client_id = \"c\"\nclient_secret_env = \"S\"\nclient_secret_file = \"/s\"\n",
       "not both"},
      {"subject_token_file without token_exchange",
       base + secret + "client_id = \"c\"\nsubject_token_file = \"/t\"\n", "token_exchange"},
      {"subject_token_type without token_exchange",
       base + secret + "client_id = \"c\"\nsubject_token_type = \"x\"\n", "token_exchange"},
      {"token_exchange without subject_token_file",
       base + secret + "client_id = \"c\"\ngrant = \"token_exchange\"\n", "subject_token_file"},
      {"http issuer to a remote host",
       "issuer = \"http://idp.test\"\n" + secret + "client_id = \"c\"\n", "https://"},
      {"http token_endpoint to a remote host",
       "token_endpoint = \"http://10.0.0.1/token\"\n" + secret + "client_id = \"c\"\n", "https://"},
      {"unknown grant", base + secret + "client_id = \"c\"\ngrant = \"password\"\n",
       "\"client_credentials\", \"device_code\", \"token_exchange\""},
      {"unknown publish", base + secret + "client_id = \"c\"\npublish = \"both\"\n",
       "\"access_token\", \"id_token\""},
      {"unknown client_auth", base + secret + "client_id = \"c\"\nclient_auth = \"tls\"\n",
       "client_secret_basic"},
      {"key settings without private_key_jwt",
       base + secret + "client_id = \"c\"\nkey_id = \"k\"\n", "private_key_jwt"},
      {"a secret for a public client",
       base + secret + "client_id = \"c\"\nclient_auth = \"none\"\ngrant = \"device_code\"\n",
       "client_secret_basic"},
      {"relative secret file", base + "client_id = \"c\"\nclient_secret_file = \"secret\"\n",
       "absolute path"},
      {"empty scope", base + secret + "client_id = \"c\"\nscope = \"\"\n", "scope"},
      {"scope of the wrong type", base + secret + "client_id = \"c\"\nscope = 5\n", "scope"},
      {"timeout too short", base + secret + "client_id = \"c\"\ntimeout = \"10ms\"\n", "timeout"},
      {"an unknown key", base + secret + "client_id = \"c\"\nclient_secret = \"x\"\n",
       "client_secret"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    const std::string problems = problems_of(c.body);
    INFO(problems);
    CHECK_FALSE(problems.empty());
    CHECK(contains(problems, c.expect));
  }
  // Each case above is refused for its own reason only: the base parses.
  CHECK(problems_of(base + secret + "client_id = \"c\"\n").empty());
}

// --- login and logout ----------------------------------------------------------------------

namespace {

// A profile of this backend whose transport is the fake, its state under `dir`.
struct AccountHarness {
  std::shared_ptr<FakeTransport> transport = std::make_shared<FakeTransport>();
  Oauth2Settings settings;
  ProfileConfig profile;
  ProfilePaths paths;

  explicit AccountHarness(const TempDir& dir) : paths(profile_paths(dir.file("state"), "work")) {
    settings.token_endpoint = kTokenEndpoint;
    settings.client_id = "gateway";
    profile.name = "work";
    profile.backend_name = "oauth2";
  }
  void make() {
    profile.backend = std::make_shared<Oauth2Backend>(settings, transport, "work", lookup_fake_env);
  }
  std::optional<Oauth2State> saved() const {
    auto text = read_private_file(paths.secret, 1 << 20);
    if (!text) return std::nullopt;
    auto parsed = parse_oauth2_state(*text);
    REQUIRE(parsed);
    return *parsed;
  }
};

// A pipe whose read end holds `text`, then end of file.
struct Input {
  int fds[2] = {-1, -1};
  explicit Input(const std::string& text) {
    REQUIRE(::pipe(fds) == 0);
    REQUIRE(::write(fds[1], text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    ::close(fds[1]);
  }
  ~Input() { ::close(fds[0]); }
  Input(const Input&) = delete;
  Input& operator=(const Input&) = delete;
};

}  // namespace

TEST_CASE("oauth2 login: --client-secret-stdin stores the secret, then publishes", "[oauth2]") {
  FakeEnv env{};
  TempDir dir;
  AccountHarness a(dir);
  a.settings.client_auth = ClientAuthMethod::client_secret_basic;
  a.make();
  a.transport->respond(200, token_body(kAccess, 3600));
  Input input(kClientSecret + "\n");
  Oauth2LoginOptions options;
  options.client_secret_stdin = true;
  options.input_fd = input.fds[0];
  auto text = login_oauth2_profile(a.profile, a.paths, options);
  REQUIRE(text);
  CHECK(no_canary(*text));
  CHECK(contains(*text, "client secret stored"));
  // The publishing refresh authenticated with the stored secret.
  REQUIRE(a.transport->calls() == 1);
  const std::string header = request_header(a.transport->requests[0], "authorization");
  CHECK(header.starts_with("Basic "));
  const auto saved = a.saved();
  REQUIRE(saved);
  CHECK(same(saved->client_secret, kClientSecret));
  CHECK(same(saved->access_token, kAccess));
  CHECK(::access(a.paths.cred.c_str(), F_OK) == 0);

  // Logout: nothing to revoke (no refresh token); the state and the credential go.
  auto out = logout_oauth2_profile(a.profile, a.paths);
  REQUIRE(out);
  CHECK(contains(*out, "logged out"));
  CHECK(no_canary(*out));
  CHECK(a.transport->calls() == 1);
  CHECK(::access(a.paths.secret.c_str(), F_OK) != 0);
  CHECK(::access(a.paths.cred.c_str(), F_OK) != 0);
  auto again = logout_oauth2_profile(a.profile, a.paths);
  REQUIRE(again);
  CHECK(contains(*again, "nothing to remove"));
}

TEST_CASE("oauth2 login: what it refuses before doing anything", "[oauth2]") {
  FakeEnv env{{"GW_SECRET", kClientSecret}};
  TempDir dir;
  SECTION("--client-secret-stdin where the secret comes from a variable") {
    AccountHarness a(dir);
    a.settings.client_auth = ClientAuthMethod::client_secret_basic;
    a.settings.client_secret_env = "GW_SECRET";
    a.make();
    Oauth2LoginOptions options;
    options.client_secret_stdin = true;
    auto text = login_oauth2_profile(a.profile, a.paths, options);
    REQUIRE_FALSE(text);
    CHECK(text.error().kind == ErrorClass::usage);
  }
  SECTION("client_credentials has no one to log in") {
    AccountHarness a(dir);
    a.settings.client_auth = ClientAuthMethod::client_secret_basic;
    a.settings.client_secret_env = "GW_SECRET";
    a.make();
    auto text = login_oauth2_profile(a.profile, a.paths, Oauth2LoginOptions{});
    REQUIRE_FALSE(text);
    CHECK(text.error().kind == ErrorClass::usage);
    CHECK(contains(text.error().message, "--client-secret-stdin"));
  }
  SECTION("a secret with a space, or none") {
    for (const std::string& typed :
         {std::string("two words\n"), std::string("\n"), std::string("")}) {
      AccountHarness a(dir);
      a.settings.client_auth = ClientAuthMethod::client_secret_post;
      a.make();
      Input input(typed);
      Oauth2LoginOptions options;
      options.client_secret_stdin = true;
      options.input_fd = input.fds[0];
      auto text = login_oauth2_profile(a.profile, a.paths, options);
      REQUIRE_FALSE(text);
      CHECK(text.error().kind == ErrorClass::usage);
      CHECK(a.transport->calls() == 0);
      CHECK_FALSE(a.saved());
    }
  }
  SECTION("a profile of another backend") {
    AccountHarness a(dir);
    a.profile.backend_name = "static";
    a.profile.backend = std::make_shared<ScriptedBackend>();
    auto text = login_oauth2_profile(a.profile, a.paths, Oauth2LoginOptions{});
    REQUIRE_FALSE(text);
    CHECK(text.error().kind == ErrorClass::usage);
  }
}

TEST_CASE("oauth2 login: the device flow saves the tokens; logout revokes the refresh token",
          "[oauth2]") {
  FakeEnv env{};
  TempDir dir;
  AccountHarness a(dir);
  a.settings.grant = Oauth2Grant::device_code;
  a.settings.device_authorization_endpoint = "https://idp.test/oauth2/device";
  a.settings.revocation_endpoint = "https://idp.test/oauth2/revoke";
  a.settings.scope = "openid offline_access";
  a.make();
  // interval 1: the one poll comes after a real second.
  a.transport
      ->respond(200, R"({"device_code":"CANARY-device-code-0000111122","user_code":"ABCD-EFGH",)"
                     R"("verification_uri":"https://idp.test/activate","expires_in":600,)"
                     R"("interval":1})")
      .respond(200, token_body(kAccess, 3600, kNewRefresh));
  Oauth2LoginOptions options;
  options.open_browser = false;
  auto text = login_oauth2_profile(a.profile, a.paths, options);
  REQUIRE(text);
  CHECK(no_canary(*text));
  CHECK(contains(*text, "logged in"));
  CHECK(a.transport->calls() == 2);  // the fresh token is published as it is
  auto saved = a.saved();
  REQUIRE(saved);
  CHECK(same(saved->refresh_token, kNewRefresh));
  CHECK(same(saved->access_token, kAccess));
  CHECK(saved->settings_fp ==
        static_cast<const Oauth2Backend&>(*a.profile.backend).settings_fingerprint());
  CHECK_FALSE(saved->pending_refresh_since);

  SECTION("revoked") {
    a.transport->respond(200, "");
    auto out = logout_oauth2_profile(a.profile, a.paths);
    REQUIRE(out);
    CHECK(contains(*out, "revoked"));
    REQUIRE(a.transport->calls() == 3);
    const HttpRequest& revoke = a.transport->requests[2];
    CHECK(revoke.url == "https://idp.test/oauth2/revoke");
    CHECK(has_field(revoke.body, "token", kNewRefresh));
    CHECK(field_values(revoke.body, "token_type_hint") ==
          std::vector<std::string>{"refresh_token"});
    CHECK_FALSE(a.saved());
  }
  SECTION("the IdP did not confirm: said, not fatal, no token quoted") {
    a.transport->fail_with(ErrorClass::transient, "connection reset while sending " + kNewRefresh);
    auto out = logout_oauth2_profile(a.profile, a.paths);
    REQUIRE(out);
    CHECK(contains(*out, "did not confirm"));
    CHECK(no_canary(*out));
    CHECK_FALSE(a.saved());
  }
}

TEST_CASE("oauth2 login: an IdP that issues no refresh token saves nothing", "[oauth2]") {
  FakeEnv env{};
  TempDir dir;
  AccountHarness a(dir);
  a.settings.grant = Oauth2Grant::device_code;
  a.settings.device_authorization_endpoint = "https://idp.test/oauth2/device";
  a.make();
  a.transport
      ->respond(200, R"({"device_code":"dc-1","user_code":"ABCD-EFGH",)"
                     R"("verification_uri":"https://idp.test/activate","expires_in":600,)"
                     R"("interval":1})")
      .respond(200, token_body(kAccess, 3600));
  Oauth2LoginOptions options;
  options.open_browser = false;
  auto text = login_oauth2_profile(a.profile, a.paths, options);
  REQUIRE_FALSE(text);
  CHECK(text.error().kind == ErrorClass::permanent);
  CHECK(contains(text.error().message, "offline_access"));
  CHECK_FALSE(a.saved());
}

TEST_CASE("oauth2 fetch: extreme times in P.secret do not overflow", "[oauth2]") {
  FakeEnv env{{"GW_CLIENT_SECRET", kClientSecret}};
  const std::int64_t max = std::numeric_limits<std::int64_t>::max();
  const std::int64_t min = std::numeric_limits<std::int64_t>::min();
  for (const auto& [expires, obtained] : std::vector<std::pair<std::int64_t, std::int64_t>>{
           {max, min}, {min, kNow}, {max, kNow}, {min, min}, {max, max}}) {
    Harness h;
    Oauth2State s;
    s.access_token = kAccess;
    s.expires_at = expires;
    s.obtained_at = obtained;
    s.settings_fp = h.fingerprint();
    h.set_stored(s);
    h.transport->respond(200, token_body(kAccess2, 600));
    auto result = h.fetch();
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == ErrorClass::permanent);
    CHECK(contains(result.error().message, "unreadable"));
    CHECK(h.sends() == 0);
  }
}

TEST_CASE("oauth2 refresh: tokens of other settings are not reused, the refresh token is tried",
          "[oauth2]") {
  Harness h;
  h.logged_in_device_client();
  Oauth2State s = h.stored();
  s.expires_at = kNow + 3600;  // alive, but obtained for another scope
  s.obtained_at = kNow;
  h.set_stored(s);
  h.settings.scope = "openid offline_access api.admin";
  h.transport->respond(200, token_body(kAccess2, 3600, kNewRefresh));
  auto result = h.fetch();
  REQUIRE(result);
  CHECK(same(result->credential, kAccess2));
  CHECK(h.sends() == 1);
  CHECK(has_field(h.request(0).body, "refresh_token", kRefresh));
  CHECK(h.stored().settings_fp == h.fingerprint());
}

TEST_CASE("oauth2: apply_oauth2_tokens", "[oauth2]") {
  Oauth2State held;
  held.refresh_token = kRefresh;
  held.id_token = make_jwt(kNow + 500);
  held.scope = "openid offline_access";
  held.pending_refresh_since = kNow - 1;
  held.client_secret = kClientSecret;
  Oauth2TokenResponse tokens;
  tokens.access_token = kAccess;
  tokens.expires_in = 120;
  bool assumed = true;
  auto access = apply_oauth2_tokens(held, tokens, PublishedToken::access_token, kNow, &assumed);
  REQUIRE(access);
  CHECK_FALSE(assumed);
  CHECK(same(access->refresh_token, kRefresh));  // none came: the one held
  CHECK(access->id_token.empty());               // not the published one: not kept stale
  CHECK(access->scope == "openid offline_access");
  CHECK_FALSE(access->pending_refresh_since);
  CHECK(access->expires_at == std::optional<std::int64_t>(kNow + 120));
  CHECK(same(access->client_secret, kClientSecret));

  auto id = apply_oauth2_tokens(held, tokens, PublishedToken::id_token, kNow);
  REQUIRE(id);
  CHECK(same(id->id_token, held.id_token));
  CHECK(id->expires_at == std::optional<std::int64_t>(kNow + 500));

  tokens.expires_in.reset();
  tokens.scope = "openid";
  tokens.refresh_token = kNewRefresh;
  auto assumed_life =
      apply_oauth2_tokens(held, tokens, PublishedToken::access_token, kNow, &assumed);
  REQUIRE(assumed_life);
  CHECK(assumed);
  CHECK(assumed_life->expires_at == std::optional<std::int64_t>(kNow + 300));
  CHECK(assumed_life->scope == "openid");
  CHECK(same(assumed_life->refresh_token, kNewRefresh));

  held.id_token = make_jwt(kNow);  // expires now: not usable
  auto expired = apply_oauth2_tokens(held, tokens, PublishedToken::id_token, kNow);
  REQUIRE_FALSE(expired);
  CHECK(expired.error().kind == ErrorClass::permanent);
}

namespace {

struct RecordingProber final : Prober {
  std::vector<std::string> files, endpoints, problems;
  bool file(std::string_view what, const std::string& path, bool secret) override {
    files.push_back(std::string(what) + " " + path + (secret ? " secret" : ""));
    return true;
  }
  bool executable(std::string_view, const std::string&) override { return true; }
  bool endpoint(std::string_view what, const std::string& url, const TlsOptions&) override {
    endpoints.push_back(std::string(what) + " " + url);
    return true;
  }
  void problem(std::string message) override { problems.push_back(std::move(message)); }
};

}  // namespace

TEST_CASE("oauth2 probe: names its files, variable and endpoints, never fetches", "[oauth2]") {
  FakeEnv env{};
  Harness h;
  h.settings.issuer = kIssuer + "/";
  h.settings.grant = Oauth2Grant::token_exchange;
  h.settings.subject_token_file = "/var/run/secrets/tokens/gw";
  RecordingProber prober;
  h.backend().probe(prober);
  CHECK(prober.files == std::vector<std::string>{"subject_token_file /var/run/secrets/tokens/gw"});
  CHECK(prober.endpoints ==
        std::vector<std::string>{"issuer " + kIssuer + "/.well-known/openid-configuration",
                                 "token_endpoint " + kTokenEndpoint});
  REQUIRE(prober.problems.size() == 1);
  CHECK(contains(prober.problems[0], "GW_CLIENT_SECRET"));
  CHECK(h.sends() == 0);
}

TEST_CASE("oauth2 refresh: a rotated token that cannot be saved is not published", "[oauth2]") {
  Harness h;
  h.logged_in_device_client();
  int writes = 0;
  h.persist_check = [&writes](const std::string&) -> Result<void> {
    if (++writes == 1) return {};  // the marker
    return fail(ErrorClass::io, "disk full");
  };
  h.transport->respond(200, token_body(kAccess2, 3600, kNewRefresh));
  auto result = h.fetch();
  REQUIRE_FALSE(result);
  CHECK(result.error().kind != ErrorClass::permanent);
  check_no_secret(result.error());
  CHECK(writes >= 2);  // tried again before giving up
  // What the store holds still records the refresh in flight.
  CHECK(h.stored().pending_refresh_since == std::optional<std::int64_t>(kNow));
}
