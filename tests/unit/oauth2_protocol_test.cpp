// The oauth2 backend's protocol pieces, as pure functions or through the HTTP transport seam's
// fake: P.secret of an oauth2 profile (oauth2/oauth2_state.h), the token endpoint's requests,
// answers and RFC 6749 §5.2 errors (oauth2/token_endpoint.h), discovery (OIDC Discovery and
// RFC 8414, oauth2/discovery.h) and the device authorization grant with a fake clock
// (RFC 8628, oauth2/device_login.h). No secret is ever printed: values that hold one are
// compared through helpers that show only true or false.
#include <simdjson.h>

#include <catch2/catch.hpp>
#include <cctype>
#include <cstdio>
#include <string>
#include <vector>

#include "fake_transport.h"
#include "form_body.h"
#include "refresher/oauth/oauth_urls.h"
#include "refresher/oauth/pkce.h"
#include "refresher/oauth2/client_assertion.h"
#include "refresher/oauth2/device_login.h"
#include "refresher/oauth2/discovery.h"
#include "refresher/oauth2/jwt.h"
#include "refresher/oauth2/oauth2_state.h"
#include "refresher/oauth2/token_endpoint.h"
#include "test_support.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

using namespace ckh;
using namespace ckh::test;

namespace {

constexpr std::int64_t kNow = 1795300000;
const std::string kClientSecret = "CANARY-client-secret-7f3a9c1e5b";
const std::string kRefresh = "CANARY-refresh-token-0a1b2c3d4e5f";
const std::string kDeviceCode = "CANARY-device-code-9z8y7x6w5v";
const std::string kSubject = "CANARY-subject-token-aa11bb22cc33";
const std::string kSection = "[profile.work.oauth2]";

bool one_line_text(const std::string& text) {
  return text.find('\n') == std::string::npos && text.find('\r') == std::string::npos;
}

// RFC 4648 §4 decoding, for checking Authorization: Basic.
std::optional<std::string> base64_decode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      const char c = text[i + j];
      if (c == '=' && i + 4 == text.size() && j >= 2) {
        v[j] = 0;
        ++pad;
      } else {
        if (pad > 0) return std::nullopt;
        v[j] = value(c);
        if (v[j] < 0) return std::nullopt;
      }
    }
    const unsigned triple =
        (unsigned(v[0]) << 18) | (unsigned(v[1]) << 12) | (unsigned(v[2]) << 6) | unsigned(v[3]);
    out += static_cast<char>((triple >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((triple >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(triple & 0xff);
  }
  return out;
}

// The fields of a form body, decoded, in order.

// An unsigned JWT with this payload (jwt_expiry never verifies).
std::string make_jwt(const std::string& payload) {
  return base64url(R"({"alg":"RS256","typ":"JWT"})") + "." + base64url(payload) + "." +
         base64url("signature");
}

Oauth2Settings settings_for(ClientAuthMethod method) {
  Oauth2Settings settings;
  settings.token_endpoint = "https://idp.test/oauth2/token";
  settings.client_id = "gateway";
  settings.client_auth = method;
  return settings;
}

ClientAuthentication client_of(ClientAuthMethod method, std::string id = "gateway",
                               std::string secret = kClientSecret) {
  ClientAuthentication client;
  client.method = method;
  client.client_id = std::move(id);
  if (method == ClientAuthMethod::client_secret_basic ||
      method == ClientAuthMethod::client_secret_post) {
    client.secret = std::move(secret);
  }
  return client;
}

std::string ec_pem() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  REQUIRE(key != nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  REQUIRE(PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) == 1);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(length));
  BIO_free(bio);
  EVP_PKEY_free(key);
  return pem;
}

// A full state: every field set.
Oauth2State full_state() {
  Oauth2State state;
  state.refresh_token = kRefresh;
  state.access_token = "CANARY-access-token-1234567890";
  state.id_token = make_jwt(R"({"exp":1795303600})");
  state.expires_at = kNow + 3600;
  state.obtained_at = kNow;
  state.scope = "openid offline_access api://gw/.default";
  state.pending_refresh_since = kNow - 5;
  state.client_secret = kClientSecret;
  state.settings_fp = "0123456789ab";
  state.discovered.issuer = "https://idp.test/realms/corp";
  state.discovered.token_endpoint = "https://idp.test/realms/corp/protocol/openid-connect/token";
  state.discovered.device_authorization_endpoint =
      "https://idp.test/realms/corp/protocol/openid-connect/auth/device";
  state.discovered.revocation_endpoint =
      "https://idp.test/realms/corp/protocol/openid-connect/revoke";
  state.discovered.expires_at = kNow + 86400;
  return state;
}

bool same_state(const Oauth2State& a, const Oauth2State& b) {
  return a.refresh_token == b.refresh_token && a.access_token == b.access_token &&
         a.id_token == b.id_token && a.expires_at == b.expires_at &&
         a.obtained_at == b.obtained_at && a.scope == b.scope &&
         a.pending_refresh_since == b.pending_refresh_since && a.client_secret == b.client_secret &&
         a.settings_fp == b.settings_fp && a.discovered.issuer == b.discovered.issuer &&
         a.discovered.token_endpoint == b.discovered.token_endpoint &&
         a.discovered.device_authorization_endpoint == b.discovered.device_authorization_endpoint &&
         a.discovered.revocation_endpoint == b.discovered.revocation_endpoint &&
         a.discovered.expires_at == b.discovered.expires_at;
}

// Replaces the value of one "key: value" line of a serialized state.
std::string with_line(const std::string& text, const std::string& key, const std::string& value) {
  const std::string prefix = "\n" + key + ": ";
  const auto at = text.find(prefix);
  REQUIRE(at != std::string::npos);
  const auto start = at + prefix.size();
  const auto end = text.find('\n', start);
  return text.substr(0, start) + value + text.substr(end);
}

}  // namespace

// --- P.secret ------------------------------------------------------------------------------

TEST_CASE("oauth2 state: a full state round-trips, an empty one too", "[oauth2]") {
  const Oauth2State state = full_state();
  const std::string text = serialize_oauth2_state(state);
  CHECK(text.starts_with("claude-key-helper-oauth2 v1\nrefresh_token: "));
  CHECK(text.ends_with("\nend\n"));
  auto parsed = parse_oauth2_state(text);
  REQUIRE(parsed);
  CHECK(same_state(*parsed, state));
  CHECK(same(serialize_oauth2_state(*parsed), text));

  const std::string empty = serialize_oauth2_state(Oauth2State{});
  CHECK(contains(empty, "\nexpires_at: none\n"));
  CHECK(contains(empty, "\npending_refresh_since: none\n"));
  CHECK(contains(empty, "\ndiscovery_expires_at: none\n"));
  auto parsed_empty = parse_oauth2_state(empty);
  REQUIRE(parsed_empty);
  CHECK(same_state(*parsed_empty, Oauth2State{}));
}

TEST_CASE("oauth2 state: malformed states are refused as corrupt, without their content",
          "[oauth2]") {
  const std::string good = serialize_oauth2_state(full_state());
  REQUIRE(parse_oauth2_state(good));
  std::vector<std::pair<std::string, std::string>> bad = {
      {"bad expires_at", with_line(good, "expires_at", "soon")},
      {"bad obtained_at", with_line(good, "obtained_at", "12x")},
      {"bad pending time", with_line(good, "pending_refresh_since", "")},
      {"bad discovery time", with_line(good, "discovery_expires_at", "1.5")},
      {"time not in the writer's spelling", with_line(good, "expires_at", "01795303600")},
      {"time with a sign", with_line(good, "obtained_at", "+1795300000")},
      {"negative time", with_line(good, "pending_refresh_since", "-1")},
      {"time past 9999", with_line(good, "expires_at", "253402300800")},
      {"time at the end of int64", with_line(good, "obtained_at", "9223372036854775807")},
      {"time at the start of int64",
       with_line(good, "discovery_expires_at", "-9223372036854775808")},
      {"token with a space", with_line(good, "access_token", "CANARY-abc def")},
      {"refresh token with a tab", with_line(good, "refresh_token", "CANARY\tx")},
      {"client secret with a space", with_line(good, "client_secret", "CANARY a")},
      {"id token with DEL", with_line(good, "id_token", std::string("CANARY\x7f"))},
      {"settings_fp with a space", with_line(good, "settings_fp", "ab cd")},
      {"newline in an endpoint",
       with_line(good, "token_endpoint", "https://idp.test/token\nissuer: https://evil")},
      {"tab in an endpoint", with_line(good, "revocation_endpoint", "https://idp.test/\trevoke")},
      {"control byte in scope", with_line(good, "scope", std::string("openid\x01"))},
      {"CR in the issuer", with_line(good, "issuer", "https://idp.test\r")},
      {"missing key",
       [&] {
         std::string text = good;
         const auto at = text.find("scope: ");
         text.erase(at, text.find('\n', at) + 1 - at);
         return text;
       }()},
      {"keys out of order",
       [&] {
         std::string text = good;
         const auto a = text.find("access_token: ");
         const auto a_end = text.find('\n', a) + 1;
         const std::string line = text.substr(a, a_end - a);
         text.erase(a, a_end - a);
         text.insert(text.find("end\n"), line);
         return text;
       }()},
      {"no end line", good.substr(0, good.size() - 4)},
      {"bytes after end", good + "x\n"},
      {"another version", "claude-key-helper-oauth2 v2" + good.substr(good.find('\n'))},
      {"another magic", "claude-key-helper-oauth v1" + good.substr(good.find('\n'))},
      {"empty", ""},
  };
  for (const auto& [what, text] : bad) {
    INFO(what);
    auto parsed = parse_oauth2_state(text);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().kind == ErrorClass::corrupt);
    CHECK(no_canary(parsed.error().message));
    CHECK(one_line_text(parsed.error().message));
  }
}

TEST_CASE("oauth2 state: what would break a line is not written", "[oauth2]") {
  Oauth2State state = full_state();
  state.scope = "openid\nrefresh_token: injected";
  state.discovered.token_endpoint = "https://idp.test/token\nend";
  const std::string text = serialize_oauth2_state(state);
  auto parsed = parse_oauth2_state(text);
  REQUIRE(parsed);
  CHECK(parsed->scope.empty());
  CHECK(parsed->discovered.token_endpoint.empty());
  CHECK(same(parsed->refresh_token, kRefresh));
}

TEST_CASE("oauth2 state: is_saved_oauth2_rotation truth table", "[oauth2]") {
  Oauth2State in_flight = full_state();
  in_flight.pending_refresh_since = kNow;
  Oauth2State idle = in_flight;
  idle.pending_refresh_since.reset();
  Oauth2State rotated = idle;
  rotated.refresh_token = "CANARY-rotated-refresh";
  rotated.access_token = "CANARY-rotated-access";
  Oauth2State new_access_only = idle;
  new_access_only.access_token = "CANARY-new-access";
  Oauth2State new_refresh_only = idle;
  new_refresh_only.refresh_token = "CANARY-new-refresh";
  Oauth2State rotated_still_pending = rotated;
  rotated_still_pending.pending_refresh_since = kNow;

  const auto s = [](const Oauth2State& state) { return serialize_oauth2_state(state); };
  // current in flight, candidate done with other tokens: the rotation to keep.
  CHECK(is_saved_oauth2_rotation(s(in_flight), s(rotated)));
  CHECK(is_saved_oauth2_rotation(s(in_flight), s(new_access_only)));
  CHECK(is_saved_oauth2_rotation(s(in_flight), s(new_refresh_only)));
  // Same tokens (an HTTP error cleared the marker): nothing to adopt.
  CHECK_FALSE(is_saved_oauth2_rotation(s(in_flight), s(idle)));
  // Nothing in flight in current.
  CHECK_FALSE(is_saved_oauth2_rotation(s(idle), s(rotated)));
  // The candidate still records a refresh in flight (it is the marker's own save).
  CHECK_FALSE(is_saved_oauth2_rotation(s(in_flight), s(rotated_still_pending)));
  CHECK_FALSE(is_saved_oauth2_rotation(s(in_flight), s(in_flight)));
  // Unreadable on either side.
  CHECK_FALSE(is_saved_oauth2_rotation("garbage", s(rotated)));
  CHECK_FALSE(is_saved_oauth2_rotation(s(in_flight), "garbage"));
  CHECK_FALSE(is_saved_oauth2_rotation(s(in_flight), s(rotated).substr(0, 40)));
  CHECK_FALSE(is_saved_oauth2_rotation("", ""));
}

// --- token endpoint: requests ---------------------------------------------------------------

TEST_CASE("token endpoint: form_encode escapes everything outside the unreserved set", "[oauth2]") {
  CHECK(form_encode({}) == "");
  CHECK(form_encode({{"grant_type", "client_credentials"}}) == "grant_type=client_credentials");
  CHECK(form_encode({{"scope", "openid offline_access"}, {"a", "b"}}) ==
        "scope=openid%20offline_access&a=b");
  CHECK(form_encode({{"x", "a&b=c+d/e?f#g%h"}}) == "x=a%26b%3Dc%2Bd%2Fe%3Ff%23g%25h");
  CHECK(form_encode({{"k y", "\xc3\xa9\n"}}) == "k%20y=%C3%A9%0A");
  CHECK(form_encode({{"resource", "https://r.example/api"}, {"resource", ""}}) ==
        "resource=https%3A%2F%2Fr.example%2Fapi&resource=");
  CHECK(form_encode({{"u", "AZaz09-._~"}}) == "u=AZaz09-._~");
  // What form_encode writes, a form decoder reads back.
  const FormFields fields = {{"a", " +%&=;"}, {"b", "\x01\x7f\xff"}};
  const auto decoded = form_fields(form_encode(fields));
  REQUIRE(decoded.size() == 2);
  CHECK(decoded[0] == fields[0]);
  CHECK(decoded[1] == fields[1]);
}

TEST_CASE("token endpoint: client_secret_basic follows RFC 6749 §2.3.1", "[oauth2]") {
  const Oauth2Settings settings = settings_for(ClientAuthMethod::client_secret_basic);
  SECTION("the RFC's own example") {
    auto request = token_form_request(
        settings, client_of(ClientAuthMethod::client_secret_basic, "s6BhdRkqt3", "gX1fBat3bV"),
        settings.token_endpoint, {{"grant_type", "client_credentials"}}, kNow);
    REQUIRE(request);
    CHECK(request_header(*request, "authorization") == "Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW");
    CHECK(request->body == "grant_type=client_credentials");
  }
  SECTION("id and secret are form-urlencoded before base64") {
    const std::string id = "a:b";
    const std::string secret = "p@ss w+rd/=";
    auto request =
        token_form_request(settings, client_of(ClientAuthMethod::client_secret_basic, id, secret),
                           settings.token_endpoint, {{"grant_type", "x"}}, kNow);
    REQUIRE(request);
    const std::string header = request_header(*request, "authorization");
    REQUIRE(header.starts_with("Basic "));
    const auto decoded = base64_decode(header.substr(6));
    REQUIRE(decoded);
    // The first ':' separates: the one inside the id is encoded.
    const auto colon = decoded->find(':');
    REQUIRE(colon != std::string::npos);
    const std::string encoded_id = decoded->substr(0, colon);
    const std::string encoded_secret = decoded->substr(colon + 1);
    CHECK(encoded_id == "a%3Ab");
    // Only unreserved characters and %XX (or '+' for a space) on the wire.
    for (const char c : encoded_id + encoded_secret) {
      const bool allowed = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ||
                           c == '_' || c == '~' || c == '%' || c == '+';
      CHECK(allowed);
    }
    CHECK(same(percent_decode(encoded_id), id));
    CHECK(same(percent_decode(encoded_secret), secret));
    // The secret is not in the body.
    CHECK(field_names(request->body) == std::vector<std::string>{"grant_type"});
  }
  SECTION("padding of every length") {
    for (const std::string secret : {"s", "se", "sec", "secr"}) {
      auto request = token_form_request(
          settings, client_of(ClientAuthMethod::client_secret_basic, "c", secret),
          settings.token_endpoint, {}, kNow);
      REQUIRE(request);
      const auto decoded = base64_decode(request_header(*request, "authorization").substr(6));
      REQUIRE(decoded);
      CHECK(same(*decoded, "c:" + secret));
    }
  }
}

TEST_CASE("token endpoint: client_secret_post and none put the client in the body", "[oauth2]") {
  SECTION("client_secret_post") {
    const Oauth2Settings settings = settings_for(ClientAuthMethod::client_secret_post);
    auto request =
        token_form_request(settings, client_of(ClientAuthMethod::client_secret_post, "id w/ +"),
                           settings.token_endpoint, {{"grant_type", "client_credentials"}}, kNow);
    REQUIRE(request);
    CHECK(request->method == "POST");
    CHECK(request->url == settings.token_endpoint);
    CHECK(request_header(*request, "authorization").empty());
    CHECK(request_header(*request, "content-type") == "application/x-www-form-urlencoded");
    CHECK(request_header(*request, "accept") == "application/json");
    CHECK(field_names(request->body) ==
          std::vector<std::string>{"grant_type", "client_id", "client_secret"});
    CHECK(field_values(request->body, "client_id") == std::vector<std::string>{"id w/ +"});
    CHECK(has_field(request->body, "client_secret", kClientSecret));
  }
  SECTION("none") {
    Oauth2Settings settings = settings_for(ClientAuthMethod::none);
    settings.timeout = std::chrono::milliseconds(45'000);
    settings.tls.ca_file = "/etc/corp-ca.pem";
    auto request = token_form_request(settings, client_of(ClientAuthMethod::none),
                                      "https://idp.test/device", {{"scope", "openid"}}, kNow);
    REQUIRE(request);
    CHECK(request->url == "https://idp.test/device");
    CHECK(request_header(*request, "authorization").empty());
    CHECK(request->body == "scope=openid&client_id=gateway");
    CHECK(request->timeout == std::chrono::milliseconds(45'000));
    CHECK(request->connect_timeout == std::chrono::milliseconds(10'000));
    CHECK(request->tls.ca_file == "/etc/corp-ca.pem");
  }
}

TEST_CASE("token endpoint: private_key_jwt sends a fresh assertion for the endpoint", "[oauth2]") {
  const Oauth2Settings settings = settings_for(ClientAuthMethod::private_key_jwt);
  auto key = SigningKey::from_pem(ec_pem(), "");
  REQUIRE(key);
  ClientAuthentication client = client_of(ClientAuthMethod::private_key_jwt);
  client.key = &*key;
  client.key_id = "kid-1";
  auto request = token_form_request(settings, client, settings.token_endpoint,
                                    {{"grant_type", "client_credentials"}}, kNow);
  REQUIRE(request);
  CHECK(request_header(*request, "authorization").empty());
  CHECK(field_names(request->body) == std::vector<std::string>{"grant_type", "client_id",
                                                               "client_assertion_type",
                                                               "client_assertion"});
  CHECK(field_values(request->body, "client_assertion_type") ==
        std::vector<std::string>{"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"});
  const auto assertion = field_values(request->body, "client_assertion");
  REQUIRE(assertion.size() == 1);
  const std::string& jwt = assertion.front();
  const auto dot1 = jwt.find('.');
  const auto dot2 = jwt.find('.', dot1 + 1);
  REQUIRE(dot2 != std::string::npos);
  const auto header = base64url_decode(jwt.substr(0, dot1));
  const auto payload = base64url_decode(jwt.substr(dot1 + 1, dot2 - dot1 - 1));
  REQUIRE(header);
  REQUIRE(payload);
  simdjson::dom::parser parser;
  simdjson::dom::element h;
  REQUIRE(parser.parse(*header).get(h) == simdjson::SUCCESS);
  CHECK(std::string(std::string_view(h["alg"])) == "ES256");
  CHECK(std::string(std::string_view(h["kid"])) == "kid-1");
  simdjson::dom::parser parser2;
  simdjson::dom::element p;
  REQUIRE(parser2.parse(*payload).get(p) == simdjson::SUCCESS);
  CHECK(std::string(std::string_view(p["aud"])) == settings.token_endpoint);
  CHECK(std::string(std::string_view(p["iss"])) == "gateway");
  CHECK(std::string(std::string_view(p["sub"])) == "gateway");
  CHECK(std::int64_t(p["iat"]) == kNow);
  CHECK(std::int64_t(p["exp"]) == kNow + 60);
  CHECK_FALSE(std::string(std::string_view(p["jti"])).empty());

  // Two requests: two different jti.
  auto again = token_form_request(settings, client, settings.token_endpoint, {}, kNow);
  REQUIRE(again);
  CHECK(field_values(again->body, "client_assertion") != assertion);

  // Without a key: a config error, nothing to send.
  auto keyless = token_form_request(settings, client_of(ClientAuthMethod::private_key_jwt),
                                    settings.token_endpoint, {}, kNow);
  REQUIRE_FALSE(keyless);
  CHECK(keyless.error().kind == ErrorClass::config);
}

// --- token endpoint: answers -----------------------------------------------------------------

TEST_CASE("token endpoint: expires_in in every shape servers send", "[oauth2]") {
  const auto with = [](const std::string& expires) {
    return parse_oauth2_token_response(R"({"access_token":"at-1","token_type":"Bearer")" +
                                       (expires.empty() ? "" : ",\"expires_in\":" + expires) + "}");
  };
  struct Case {
    std::string json;
    std::optional<std::int64_t> expect;  // none: absent
  };
  for (const Case& c : std::vector<Case>{{"3600", 3600},
                                         {"3600.0", 3600},
                                         {"\"3600\"", 3600},
                                         {"", std::nullopt},
                                         {"null", std::nullopt},
                                         {"1", 1},
                                         {"315360000", 315360000},
                                         {"3.6e3", 3600}}) {
    INFO(c.json);
    auto parsed = with(c.json);
    REQUIRE(parsed);
    CHECK(parsed->expires_in == c.expect);
    CHECK(parsed->access_token == "at-1");
    CHECK(parsed->token_type == "Bearer");
  }
  for (const std::string bad : {"0", "-1", "-3600", "\"-5\"", "\"0\"", "315360001", "1e12",
                                "9223372036854775807", "18446744073709551615", "1e300", "3600.5",
                                "\"abc\"", "\" 3600\"", "\"3600s\"", "true", "[3600]", "{}"}) {
    INFO(bad);
    auto parsed = with(bad);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().kind == ErrorClass::transient);
    CHECK(contains(parsed.error().message, "expires_in"));
  }
}

TEST_CASE("token endpoint: refresh_token, id_token and access_token must be usable", "[oauth2]") {
  auto ok = parse_oauth2_token_response(
      R"({"access_token":"at","refresh_token":"rt","id_token":"h.p.s","scope":"openid api",)"
      R"("issued_token_type":"urn:ietf:params:oauth:token-type:access_token"})");
  REQUIRE(ok);
  CHECK(ok->refresh_token == std::optional<std::string>("rt"));
  CHECK(ok->id_token == std::optional<std::string>("h.p.s"));
  CHECK(ok->scope == "openid api");
  CHECK(ok->issued_token_type == "urn:ietf:params:oauth:token-type:access_token");
  CHECK_FALSE(ok->expires_in);

  auto nulls =
      parse_oauth2_token_response(R"({"access_token":"at","refresh_token":null,"id_token":null})");
  REQUIRE(nulls);
  CHECK_FALSE(nulls->refresh_token);
  CHECK_FALSE(nulls->id_token);

  for (const std::string bad : {
           R"({"access_token":"at","refresh_token":123})",
           R"({"access_token":"at","refresh_token":""})",
           R"({"access_token":"at","refresh_token":"a b"})",
           R"({"access_token":"at","refresh_token":["CANARY-x"]})",
           R"({"access_token":"at","id_token":{}})",
           R"({"access_token":"at","id_token":false})",
           R"({"access_token":"at","id_token":"x\ny"})",
           R"({"token_type":"Bearer","expires_in":3600})",
           R"({"access_token":""})",
           R"({"access_token":5})",
           R"({"access_token":null})",
           R"({"access_token":"CANARY with space"})",
           R"(["access_token","at"])",
           "<html><body>CANARY proxy page</body></html>",
           "",
           R"({"access_token":"at")",
       }) {
    INFO(bad.size());
    auto parsed = parse_oauth2_token_response(bad);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().kind == ErrorClass::transient);
    CHECK(no_canary(parsed.error().message));
    CHECK(one_line_text(parsed.error().message));
  }
}

TEST_CASE("token endpoint: errors are classified as RFC 6749 §5.2 says", "[oauth2]") {
  const auto body = [](const std::string& error) {
    return R"({"error":")" + error + R"(","error_description":"the IdP's words"})";
  };
  struct Case {
    long status;
    std::string body;
    ErrorClass kind;
    std::string code;
    std::string hint;
  };
  const std::vector<Case> cases = {
      {401, body("invalid_client"), ErrorClass::config, "invalid_client", "check client_id"},
      {400, body("invalid_client"), ErrorClass::config, "invalid_client", "check client_id"},
      {400, body("unauthorized_client"), ErrorClass::config, "unauthorized_client",
       "does not allow this grant"},
      {400, body("unsupported_grant_type"), ErrorClass::config, "unsupported_grant_type",
       "does not allow this grant"},
      {400, body("invalid_scope"), ErrorClass::config, "invalid_scope", "check scope"},
      {400, body("invalid_target"), ErrorClass::config, "invalid_target", "check resource"},
      {400, body("invalid_request"), ErrorClass::config, "invalid_request",
       "check the grant's settings"},
      {400, body("invalid_grant"), ErrorClass::permanent, "invalid_grant", "invalid_grant"},
      {403, body("access_denied"), ErrorClass::permanent, "access_denied", "access_denied"},
      {400, body("authorization_pending"), ErrorClass::permanent, "authorization_pending", ""},
      {400, body("slow_down"), ErrorClass::permanent, "slow_down", ""},
      {400, body("expired_token"), ErrorClass::permanent, "expired_token", ""},
      {400, body("temporarily_unavailable"), ErrorClass::transient, "http_status", ""},
      {400, body("server_error"), ErrorClass::transient, "http_status", ""},
      {500, body("server_error"), ErrorClass::transient, "http_status", ""},
      {500, "", ErrorClass::transient, "http_status", ""},
      {502, "<html>Bad gateway</html>", ErrorClass::transient, "gateway_error", ""},
      {401, "", ErrorClass::config, "invalid_client", "check client_id"},
      {401, "Unauthorized", ErrorClass::config, "invalid_client", "check client_id"},
      {403, "<html><head><title>403 Forbidden</title></head><body>blocked</body></html>",
       ErrorClass::permanent, "http_status", "403 Forbidden"},
      {404, "", ErrorClass::permanent, "http_status", "check token_endpoint"},
  };
  for (const Case& c : cases) {
    INFO(c.status << " " << c.body);
    const Error error =
        classify_oauth2_failure(c.status, c.body, "idp.test", std::nullopt, kNow, kSection);
    CHECK(error.kind == c.kind);
    CHECK(error.code == c.code);
    CHECK(contains(error.message, "idp.test"));
    CHECK(contains(error.message, std::to_string(c.status)));
    if (!c.hint.empty()) CHECK(contains(error.message, c.hint));
    if (c.kind == ErrorClass::config) CHECK(contains(error.message, kSection));
    CHECK(one_line_text(error.message));
    CHECK_FALSE(error.retry_after_s);
  }
}

TEST_CASE("token endpoint: 429 and 503 carry Retry-After, other statuses do not", "[oauth2]") {
  const Error limited =
      classify_oauth2_failure(429, R"({"error":"slow_down"})", "idp.test", "30", kNow, kSection);
  CHECK(limited.kind == ErrorClass::transient);
  CHECK(limited.retry_after_s == std::optional<std::int64_t>(30));
  CHECK(contains(limited.message, "rate limited"));

  const Error unavailable = classify_oauth2_failure(503, "", "idp.test", "120", kNow, kSection);
  CHECK(unavailable.kind == ErrorClass::transient);
  CHECK(unavailable.retry_after_s == std::optional<std::int64_t>(120));

  const Error plain_429 =
      classify_oauth2_failure(429, "", "idp.test", std::nullopt, kNow, kSection);
  CHECK(plain_429.kind == ErrorClass::transient);
  CHECK_FALSE(plain_429.retry_after_s);

  const Error internal = classify_oauth2_failure(500, "", "idp.test", "60", kNow, kSection);
  CHECK(internal.kind == ErrorClass::transient);
  CHECK_FALSE(internal.retry_after_s);

  const Error date =
      classify_oauth2_failure(503, "", "idp.test", "Wed, 21 Oct 2026 07:28:00 GMT", kNow, kSection);
  CHECK(date.kind == ErrorClass::transient);
}

TEST_CASE("token endpoint: no message holds a secret the server echoes", "[oauth2]") {
  const std::string long_pad(150, 'x');
  struct Case {
    std::string what;
    ClientAuthMethod method;
    FormFields form;
    std::string secret;  // echoed by the server
  };
  const std::vector<Case> cases = {
      {"client secret, basic",
       ClientAuthMethod::client_secret_basic,
       {{"grant_type", "client_credentials"}},
       kClientSecret},
      {"client secret, post",
       ClientAuthMethod::client_secret_post,
       {{"grant_type", "client_credentials"}},
       kClientSecret},
      {"refresh token",
       ClientAuthMethod::none,
       {{"grant_type", "refresh_token"}, {"refresh_token", kRefresh}},
       kRefresh},
      {"device code",
       ClientAuthMethod::none,
       {{"grant_type", kDeviceCodeGrant}, {"device_code", kDeviceCode}},
       kDeviceCode},
      {"subject token",
       ClientAuthMethod::client_secret_basic,
       {{"grant_type", kTokenExchangeGrant}, {"subject_token", kSubject}},
       kSubject},
  };
  for (const Case& c : cases) {
    const std::vector<std::pair<long, std::string>> answers = {
        {400, R"({"error":"invalid_grant","error_description":"bad token )" + c.secret +
                  R"( for this client"})"},
        {401, R"({"error":"invalid_client","error_description":")" + c.secret + R"("})"},
        {400,
         R"({"error":"invalid_request","error_description":")" + long_pad + c.secret + R"("})"},
        {403, "<html><body>refused " + c.secret + "</body></html>"},
        {404, "not found: " + c.secret},
        {429, R"({"error":"slow_down","error_description":")" + c.secret + R"("})"},
    };
    for (const auto& [status, answer] : answers) {
      INFO(c.what << " " << status);
      FakeTransport transport;
      transport.respond(status, answer);
      Oauth2Settings settings = settings_for(c.method);
      auto result = request_tokens(transport, settings, client_of(c.method),
                                   settings.token_endpoint, c.form, kNow, kSection);
      REQUIRE_FALSE(result);
      CHECK(no_canary(result.error().message));
      CHECK(one_line_text(result.error().message));
      CHECK(contains(result.error().message, "idp.test"));
    }
    INFO(c.what << " transport error");
    FakeTransport broken;
    broken.fail_with(ErrorClass::transient, "connection reset after sending " + c.secret);
    Oauth2Settings settings = settings_for(c.method);
    auto result = request_tokens(broken, settings, client_of(c.method), settings.token_endpoint,
                                 c.form, kNow, kSection);
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == ErrorClass::transient);
    CHECK(no_canary(result.error().message));
  }
}

TEST_CASE("token endpoint: request_tokens sends the form and salvages a rotated token",
          "[oauth2]") {
  FakeTransport transport;
  const Oauth2Settings settings = settings_for(ClientAuthMethod::none);
  transport.respond(200, R"({"access_token":"at-9","expires_in":60,"refresh_token":"rt-9"})");
  auto ok =
      request_tokens(transport, settings, client_of(ClientAuthMethod::none),
                     settings.token_endpoint, {{"grant_type", "refresh_token"}}, kNow, kSection);
  REQUIRE(ok);
  CHECK(ok->access_token == "at-9");
  CHECK(ok->refresh_token == std::optional<std::string>("rt-9"));
  CHECK(transport.last_request().url == settings.token_endpoint);
  CHECK(transport.last_request().body == "grant_type=refresh_token&client_id=gateway");

  transport.respond(200, R"({"access_token":"","refresh_token":"rt-salvage"})");
  std::string salvaged;
  auto broken = request_tokens(transport, settings, client_of(ClientAuthMethod::none),
                               settings.token_endpoint, {{"grant_type", "refresh_token"}}, kNow,
                               kSection, &salvaged);
  REQUIRE_FALSE(broken);
  CHECK(broken.error().kind == ErrorClass::transient);
  CHECK(salvaged == "rt-salvage");
  CHECK(no_canary(broken.error().message));

  // An error answer's refresh_token is never taken.
  transport.respond(400, R"({"error":"invalid_grant","refresh_token":"rt-nope"})");
  std::string none;
  REQUIRE_FALSE(request_tokens(transport, settings, client_of(ClientAuthMethod::none),
                               settings.token_endpoint, {}, kNow, kSection, &none));
  CHECK(none.empty());
}

// --- discovery -----------------------------------------------------------------------------

TEST_CASE("discovery: where the documents are", "[oauth2]") {
  CHECK(openid_configuration_url("https://idp.test") ==
        "https://idp.test/.well-known/openid-configuration");
  CHECK(openid_configuration_url("https://idp.test/") ==
        "https://idp.test/.well-known/openid-configuration");
  CHECK(openid_configuration_url("https://idp.test/realms/corp") ==
        "https://idp.test/realms/corp/.well-known/openid-configuration");
  CHECK(openid_configuration_url("https://idp.test/realms/corp/") ==
        "https://idp.test/realms/corp/.well-known/openid-configuration");
  // RFC 8414 §3.1: inserted between the host and the path.
  CHECK(authorization_server_metadata_url("https://example.com/issuer1") ==
        "https://example.com/.well-known/oauth-authorization-server/issuer1");
  CHECK(authorization_server_metadata_url("https://example.com/issuer1/") ==
        "https://example.com/.well-known/oauth-authorization-server/issuer1");
  CHECK(authorization_server_metadata_url("https://example.com") ==
        "https://example.com/.well-known/oauth-authorization-server");
  CHECK(authorization_server_metadata_url("https://example.com/") ==
        "https://example.com/.well-known/oauth-authorization-server");
  CHECK(authorization_server_metadata_url("https://example.com:8443/a/b") ==
        "https://example.com:8443/.well-known/oauth-authorization-server/a/b");
  CHECK(authorization_server_metadata_url("http://127.0.0.1:9000/t/x/") ==
        "http://127.0.0.1:9000/.well-known/oauth-authorization-server/t/x");
}

TEST_CASE("discovery: a document is used only for its own issuer and safe endpoints", "[oauth2]") {
  const auto doc = [](const std::string& issuer, const std::string& token,
                      const std::string& extra = "") {
    return R"({"issuer":")" + issuer + R"(","token_endpoint":")" + token +
           R"(","authorization_endpoint":"https://idp.test/auth")" + extra + "}";
  };
  const std::string issuer = "https://idp.test/realms/corp";
  auto ok = parse_discovery_document(
      doc(issuer, "https://idp.test/realms/corp/token",
          R"(,"device_authorization_endpoint":"https://idp.test/realms/corp/device",)"
          R"("revocation_endpoint":"https://idp.test/realms/corp/revoke")"),
      issuer);
  REQUIRE(ok);
  CHECK(ok->issuer == issuer);
  CHECK(ok->token_endpoint == "https://idp.test/realms/corp/token");
  CHECK(ok->device_authorization_endpoint == "https://idp.test/realms/corp/device");
  CHECK(ok->revocation_endpoint == "https://idp.test/realms/corp/revoke");
  CHECK_FALSE(ok->expires_at);

  // A trailing '/' on either side is not a difference.
  CHECK(parse_discovery_document(doc(issuer + "/", "https://idp.test/t"), issuer));
  CHECK(parse_discovery_document(doc(issuer, "https://idp.test/t"), issuer + "/"));
  // Loopback over http is allowed (tests, a local proxy).
  CHECK(parse_discovery_document(doc("http://127.0.0.1:8080", "http://127.0.0.1:8080/token"),
                                 "http://127.0.0.1:8080"));

  struct Refusal {
    std::string what;
    std::string body;
    ErrorClass kind;
  };
  const std::vector<Refusal> refusals = {
      {"another issuer", doc("https://evil.test/realms/corp", "https://idp.test/t"),
       ErrorClass::config},
      {"a prefix of the issuer", doc("https://idp.test/realms", "https://idp.test/t"),
       ErrorClass::config},
      {"the issuer with another case", doc("https://IDP.test/realms/corp", "https://idp.test/t"),
       ErrorClass::config},
      {"no issuer", R"({"token_endpoint":"https://idp.test/t"})", ErrorClass::config},
      {"issuer not a string", R"({"issuer":1,"token_endpoint":"https://idp.test/t"})",
       ErrorClass::config},
      {"http token endpoint", doc(issuer, "http://idp.test/token"), ErrorClass::config},
      {"http token endpoint named like loopback", doc(issuer, "http://localhost.evil.test/token"),
       ErrorClass::config},
      {"no token endpoint", R"({"issuer":")" + issuer + R"("})", ErrorClass::config},
      {"token endpoint not a string", R"({"issuer":")" + issuer + R"(","token_endpoint":[]})",
       ErrorClass::config},
      {"token endpoint with a newline", doc(issuer, "https://idp.test/t\\nx"), ErrorClass::config},
      {"not JSON", "<html>login</html>", ErrorClass::transient},
      {"an array", "[]", ErrorClass::transient},
  };
  for (const Refusal& r : refusals) {
    INFO(r.what);
    auto parsed = parse_discovery_document(r.body, issuer);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().kind == r.kind);
    CHECK(contains(parsed.error().message, issuer));
    CHECK(one_line_text(parsed.error().message));
  }

  // Optional endpoints that break the rules are dropped, not fatal.
  auto dropped = parse_discovery_document(
      doc(issuer, "https://idp.test/t",
          R"(,"device_authorization_endpoint":"http://idp.test/device","revocation_endpoint":7)"),
      issuer);
  REQUIRE(dropped);
  CHECK(dropped->device_authorization_endpoint.empty());
  CHECK(dropped->revocation_endpoint.empty());
}

TEST_CASE("discovery: http:// with a loopback-looking userinfo is not loopback", "[oauth2]") {
  // http://127.0.0.1:80@evil.test/ connects to evil.test: a token endpoint in the clear.
  // is_allowed_endpoint_url (http/transport.cpp) refuses any userinfo and compares the host.
  const std::string issuer = "https://idp.test";
  for (const std::string url :
       {"http://127.0.0.1:80@evil.test/token", "http://localhost:x@evil.test/token",
        "http://localhost.evil.test/token", "https://user@idp.test/token",
        "https://idp.test/to ken", "http://127.0.0.1.evil.test/"}) {
    INFO(url);
    auto parsed = parse_discovery_document(
        R"({"issuer":"https://idp.test","token_endpoint":")" + url + R"("})", issuer);
    CHECK_FALSE(parsed);
  }
}

TEST_CASE("discovery: Cache-Control max-age", "[oauth2]") {
  CHECK(cache_control_max_age("max-age=300") == std::optional<std::int64_t>(300));
  CHECK(cache_control_max_age("public, max-age=60") == std::optional<std::int64_t>(60));
  CHECK(cache_control_max_age("Public,Max-Age=120 ") == std::optional<std::int64_t>(120));
  CHECK(cache_control_max_age("max-age=\"90\"") == std::optional<std::int64_t>(90));
  CHECK(cache_control_max_age("max-age=0") == std::optional<std::int64_t>(0));
  CHECK(cache_control_max_age("no-store, max-age=60") == std::optional<std::int64_t>(0));
  CHECK(cache_control_max_age("max-age=60, no-cache") == std::optional<std::int64_t>(0));
  CHECK_FALSE(cache_control_max_age("garbage"));
  CHECK_FALSE(cache_control_max_age(""));
  CHECK_FALSE(cache_control_max_age("max-age="));
  CHECK_FALSE(cache_control_max_age("max-age=-5"));
  CHECK_FALSE(cache_control_max_age("max-age=12abc"));
  CHECK_FALSE(cache_control_max_age("max-age=99999999999999999999999"));
  CHECK_FALSE(cache_control_max_age(",,,"));
  CHECK_FALSE(cache_control_max_age("public"));
}

namespace {

std::string discovery_doc(const std::string& issuer) {
  return R"({"issuer":")" + issuer + R"(","token_endpoint":")" + issuer +
         R"(/token","device_authorization_endpoint":")" + issuer + R"(/device"})";
}

Oauth2Settings discovery_settings(const std::string& issuer) {
  Oauth2Settings settings;
  settings.issuer = issuer;
  settings.client_id = "gateway";
  settings.timeout = std::chrono::milliseconds(5000);
  return settings;
}

}  // namespace

TEST_CASE("discovery: OIDC first, then RFC 8414, with the document's cache lifetime", "[oauth2]") {
  const std::string issuer = "https://idp.test/tenant1";
  SECTION("OpenID configuration") {
    FakeTransport transport;
    transport.respond(200, discovery_doc(issuer), {{"cache-control", "public, max-age=600"}});
    auto found = discover_endpoints(transport, discovery_settings(issuer + "/"), kNow, kSection);
    REQUIRE(found);
    REQUIRE(transport.calls() == 1);
    CHECK(transport.requests[0].method == "GET");
    CHECK(transport.requests[0].url == issuer + "/.well-known/openid-configuration");
    CHECK(request_header(transport.requests[0], "accept") == "application/json");
    CHECK(transport.requests[0].timeout == std::chrono::milliseconds(5000));
    CHECK(found->token_endpoint == issuer + "/token");
    CHECK(found->device_authorization_endpoint == issuer + "/device");
    CHECK(found->expires_at == std::optional<std::int64_t>(kNow + 600));
  }
  SECTION("404, then the RFC 8414 document") {
    FakeTransport transport;
    transport.respond(404, "").respond(200, discovery_doc(issuer));
    auto found = discover_endpoints(transport, discovery_settings(issuer), kNow, kSection);
    REQUIRE(found);
    REQUIRE(transport.calls() == 2);
    CHECK(transport.requests[1].url ==
          "https://idp.test/.well-known/oauth-authorization-server/tenant1");
    CHECK(found->expires_at == std::optional<std::int64_t>(kNow + 86400));
  }
  SECTION("neither: a config error naming the issuer") {
    FakeTransport transport;
    transport.respond(404, "").respond(404, "");
    auto found = discover_endpoints(transport, discovery_settings(issuer), kNow, kSection);
    REQUIRE_FALSE(found);
    CHECK(found.error().kind == ErrorClass::config);
    CHECK(contains(found.error().message, issuer));
    CHECK(contains(found.error().message, kSection));
    CHECK(transport.calls() == 2);
  }
  SECTION("a 5xx is transient and no fallback is tried") {
    FakeTransport transport;
    transport.respond(500, "oops");
    auto found = discover_endpoints(transport, discovery_settings(issuer), kNow, kSection);
    REQUIRE_FALSE(found);
    CHECK(found.error().kind == ErrorClass::transient);
    CHECK(transport.calls() == 1);
  }
  SECTION("404 then 503 is transient") {
    FakeTransport transport;
    transport.respond(404, "").respond(503, "");
    auto found = discover_endpoints(transport, discovery_settings(issuer), kNow, kSection);
    REQUIRE_FALSE(found);
    CHECK(found.error().kind == ErrorClass::transient);
  }
  SECTION("a network failure is transient") {
    FakeTransport transport;
    transport.fail_with(ErrorClass::transient, "could not connect");
    auto found = discover_endpoints(transport, discovery_settings(issuer), kNow, kSection);
    REQUIRE_FALSE(found);
    CHECK(found.error().kind == ErrorClass::transient);
    CHECK(contains(found.error().message, issuer));
  }
  SECTION("401 and 403 say to check the issuer; 429 and 408 are transient") {
    for (const long status : {401L, 403L}) {
      FakeTransport transport;
      transport.respond(status, "");
      auto found = discover_endpoints(transport, discovery_settings(issuer), kNow, kSection);
      REQUIRE_FALSE(found);
      CHECK(found.error().kind == ErrorClass::config);
    }
    for (const long status : {429L, 408L}) {
      FakeTransport transport;
      transport.respond(status, "");
      auto found = discover_endpoints(transport, discovery_settings(issuer), kNow, kSection);
      REQUIRE_FALSE(found);
      CHECK(found.error().kind == ErrorClass::transient);
    }
  }
  SECTION("a wrong issuer is a config error") {
    FakeTransport transport;
    transport.respond(200, discovery_doc("https://other.test"));
    auto found = discover_endpoints(transport, discovery_settings(issuer), kNow, kSection);
    REQUIRE_FALSE(found);
    CHECK(found.error().kind == ErrorClass::config);
  }
  SECTION("Cache-Control is clamped to [60 s, discovery_ttl]") {
    Oauth2Settings settings = discovery_settings(issuer);
    settings.discovery_ttl = std::chrono::seconds(3600);
    const std::vector<std::pair<std::string, std::int64_t>> cases = {
        {"max-age=5", 60}, {"max-age=0", 60}, {"max-age=1800", 1800},     {"max-age=999999", 3600},
        {"no-store", 60},  {"garbage", 3600}, {"no-cache, max-age=5", 60}};
    for (const auto& [header, ttl] : cases) {
      INFO(header);
      FakeTransport transport;
      transport.respond(200, discovery_doc(issuer), {{"Cache-Control", header}});
      auto found = discover_endpoints(transport, settings, kNow, kSection);
      REQUIRE(found);
      CHECK(found->expires_at == std::optional<std::int64_t>(kNow + ttl));
    }
  }
}

// --- device authorization grant ----------------------------------------------------------

namespace {

std::string device_answer(const std::string& extra = "", int expires_in = 1800, int interval = 5) {
  return R"({"device_code":")" + kDeviceCode +
         R"(","user_code":"WDJB-MJHT","verification_uri":"https://idp.test/device",)"
         R"("verification_uri_complete":"https://idp.test/device?user_code=WDJB-MJHT",)"
         R"("expires_in":)" +
         std::to_string(expires_in) + R"(,"interval":)" + std::to_string(interval) + extra + "}";
}

const std::string kTokens =
    R"({"access_token":"at-device","expires_in":3600,"refresh_token":"rt-device","token_type":"Bearer"})";

std::string error_body(const std::string& error) {
  return R"({"error":")" + error + R"("})";
}

// A device login against a scripted IdP: the first answer is the device authorization's,
// the rest the polls'. Records when each poll came (since_boot_ms of the fake clock).
struct DeviceHarness {
  FakeClock clock{kNow};
  FakeTransport transport;
  std::vector<std::int64_t> poll_times;
  std::int64_t started = 0;
  std::string output;
  Oauth2Settings settings;
  DeviceLoginOptions options;

  DeviceHarness() {
    settings.client_id = "cli";
    settings.scope = "openid offline_access";
    settings.audience = {"https://gw.test"};
    settings.client_auth = ClientAuthMethod::none;
    options.open_browser = false;
    transport.handler = [this](const HttpRequest& request) -> Result<HttpResponse> {
      if (request.url == "https://idp.test/token") poll_times.push_back(clock.since_boot_ms());
      if (transport.script.empty()) return fail(ErrorClass::transient, "script exhausted");
      auto next = std::move(transport.script.front());
      transport.script.pop_front();
      return next;
    };
  }

  Result<Oauth2TokenResponse> run(ClientAuthentication client = client_of(ClientAuthMethod::none,
                                                                          "cli")) {
    std::FILE* out = std::tmpfile();
    REQUIRE(out != nullptr);
    options.out = out;
    started = clock.since_boot_ms();
    auto result = run_device_login(transport, settings, client, "https://idp.test/device/auth",
                                   "https://idp.test/token", clock, options, kSection);
    std::fflush(out);
    std::rewind(out);
    char buffer[4096];
    std::size_t got = 0;
    while ((got = std::fread(buffer, 1, sizeof buffer, out)) > 0) output.append(buffer, got);
    std::fclose(out);
    return result;
  }
  // The waits before each poll, in seconds.
  std::vector<std::int64_t> waits() const {
    std::vector<std::int64_t> out;
    std::int64_t last = started;
    for (const auto t : poll_times) {
      out.push_back((t - last) / 1000);
      last = t;
    }
    return out;
  }
};

}  // namespace

TEST_CASE("device login: pending, then tokens; the user sees what to open, never the device code",
          "[oauth2]") {
  DeviceHarness h;
  h.transport.respond(200, device_answer())
      .respond(400, error_body("authorization_pending"))
      .respond(400, error_body("authorization_pending"))
      .respond(200, kTokens);
  auto tokens = h.run();
  REQUIRE(tokens);
  CHECK(tokens->access_token == "at-device");
  CHECK(tokens->refresh_token == std::optional<std::string>("rt-device"));
  CHECK(h.waits() == std::vector<std::int64_t>{5, 5, 5});

  // The device authorization request: scope, audience, the client.
  REQUIRE(h.transport.calls() == 4);
  const HttpRequest& authorize = h.transport.requests[0];
  CHECK(authorize.url == "https://idp.test/device/auth");
  CHECK(authorize.method == "POST");
  CHECK(field_values(authorize.body, "scope") == std::vector<std::string>{"openid offline_access"});
  CHECK(field_values(authorize.body, "audience") == std::vector<std::string>{"https://gw.test"});
  CHECK(field_values(authorize.body, "client_id") == std::vector<std::string>{"cli"});
  // Each poll: the device code grant.
  for (int i = 1; i < 4; ++i) {
    const HttpRequest& poll = h.transport.requests[i];
    CHECK(poll.url == "https://idp.test/token");
    CHECK(field_values(poll.body, "grant_type") ==
          std::vector<std::string>{"urn:ietf:params:oauth:grant-type:device_code"});
    CHECK(has_field(poll.body, "device_code", kDeviceCode));
  }
  CHECK(contains(h.output, "https://idp.test/device "));
  CHECK(contains(h.output, "WDJB-MJHT"));
  CHECK(contains(h.output, "https://idp.test/device?user_code=WDJB-MJHT"));
  CHECK(no_canary(h.output));
}

TEST_CASE("device login: slow_down adds 5 s to the interval each time", "[oauth2]") {
  DeviceHarness h;
  h.transport.respond(200, device_answer())
      .respond(400, error_body("slow_down"))
      .respond(400, error_body("authorization_pending"))
      .respond(400, error_body("slow_down"))
      .respond(200, kTokens);
  auto tokens = h.run();
  REQUIRE(tokens);
  CHECK(h.waits() == std::vector<std::int64_t>{5, 10, 10, 15});
}

TEST_CASE("device login: a server asking for a longer interval is waited on", "[oauth2]") {
  DeviceHarness h;
  h.transport.respond(200, device_answer("", 1800, 12))
      .respond(400, error_body("authorization_pending"))
      .respond(200, kTokens);
  REQUIRE(h.run());
  CHECK(h.waits() == std::vector<std::int64_t>{12, 12});
}

TEST_CASE("device login: denied, expired, and other refusals end it", "[oauth2]") {
  SECTION("access_denied") {
    DeviceHarness h;
    h.transport.respond(200, device_answer())
        .respond(400, error_body("authorization_pending"))
        .respond(400, R"({"error":"access_denied","error_description":"user said no"})");
    auto tokens = h.run();
    REQUIRE_FALSE(tokens);
    CHECK(tokens.error().kind == ErrorClass::permanent);
    CHECK(tokens.error().code == "access_denied");
    CHECK(contains(tokens.error().message, "denied"));
  }
  SECTION("expired_token") {
    DeviceHarness h;
    h.transport.respond(200, device_answer()).respond(400, error_body("expired_token"));
    auto tokens = h.run();
    REQUIRE_FALSE(tokens);
    CHECK(tokens.error().kind == ErrorClass::permanent);
    CHECK(tokens.error().code == "expired_token");
    CHECK(contains(tokens.error().message, "expired"));
    CHECK(contains(tokens.error().message, "login"));
  }
  SECTION("invalid_client: the config error as it came") {
    DeviceHarness h;
    h.transport.respond(200, device_answer()).respond(401, error_body("invalid_client"));
    auto tokens = h.run();
    REQUIRE_FALSE(tokens);
    CHECK(tokens.error().kind == ErrorClass::config);
    CHECK(h.transport.calls() == 2);
  }
  SECTION("transient failures keep polling, Retry-After is honoured") {
    DeviceHarness h;
    h.transport.respond(200, device_answer())
        .respond(503, "", {{"retry-after", "20"}})
        .fail_with(ErrorClass::transient, "connection reset")
        .respond(200, kTokens);
    auto tokens = h.run();
    REQUIRE(tokens);
    CHECK(h.waits() == std::vector<std::int64_t>{5, 25, 5});
  }
}

TEST_CASE("device login: the wait is bounded by the code's expires_in and the timeout",
          "[oauth2]") {
  SECTION("expires_in") {
    DeviceHarness h;
    h.transport.handler = [&h](const HttpRequest& request) -> Result<HttpResponse> {
      if (request.url == "https://idp.test/token") {
        h.poll_times.push_back(h.clock.since_boot_ms());
        return http_response(400, error_body("authorization_pending"));
      }
      return http_response(200, device_answer("", 12, 5));
    };
    auto tokens = h.run();
    REQUIRE_FALSE(tokens);
    CHECK(tokens.error().kind == ErrorClass::permanent);
    CHECK(tokens.error().code == "expired_token");
    CHECK(h.waits() == std::vector<std::int64_t>{5, 5});  // at 5 s and 10 s; 15 s is too late
    CHECK((h.clock.since_boot_ms() - h.started) / 1000 <= 15);
  }
  SECTION("timeout") {
    DeviceHarness h;
    h.options.timeout = std::chrono::milliseconds(7000);
    h.transport.handler = [&h](const HttpRequest& request) -> Result<HttpResponse> {
      if (request.url == "https://idp.test/token") {
        h.poll_times.push_back(h.clock.since_boot_ms());
        return fail(ErrorClass::transient, "unreachable");
      }
      return http_response(200, device_answer());
    };
    auto tokens = h.run();
    REQUIRE_FALSE(tokens);
    CHECK(tokens.error().kind == ErrorClass::permanent);
    CHECK(h.poll_times.size() == 1);
    CHECK(contains(tokens.error().message, "unreachable"));  // the last problem is said
  }
}

TEST_CASE("device login: the device authorization request's failures", "[oauth2]") {
  SECTION("an error answer is classified and says where it happened") {
    DeviceHarness h;
    h.transport.respond(400, R"({"error":"invalid_scope"})");
    auto tokens = h.run();
    REQUIRE_FALSE(tokens);
    CHECK(tokens.error().kind == ErrorClass::config);
    CHECK(contains(tokens.error().message, "device authorization"));
    CHECK(h.transport.calls() == 1);
  }
  SECTION("an echo of the client secret is not quoted") {
    DeviceHarness h;
    h.transport.respond(401, R"({"error":"invalid_client","error_description":"secret )" +
                                 kClientSecret + R"( is wrong"})");
    auto tokens = h.run(client_of(ClientAuthMethod::client_secret_basic, "cli"));
    REQUIRE_FALSE(tokens);
    CHECK(tokens.error().kind == ErrorClass::config);
    CHECK(no_canary(tokens.error().message));
  }
  SECTION("an unusable answer") {
    DeviceHarness h;
    h.transport.respond(200, R"({"user_code":"X"})");
    auto tokens = h.run();
    REQUIRE_FALSE(tokens);
    CHECK(tokens.error().kind == ErrorClass::transient);
    CHECK(h.output.empty());
  }
  SECTION("no answer") {
    DeviceHarness h;
    h.transport.fail_with(ErrorClass::transient, "timed out");
    auto tokens = h.run();
    REQUIRE_FALSE(tokens);
    CHECK(tokens.error().kind == ErrorClass::transient);
    CHECK(contains(tokens.error().message, "device authorization"));
  }
}

TEST_CASE("device login: parse_device_authorization", "[oauth2]") {
  auto ok = parse_device_authorization(device_answer());
  REQUIRE(ok);
  CHECK(same(ok->device_code, kDeviceCode));
  CHECK(ok->user_code == "WDJB-MJHT");
  CHECK(ok->verification_uri == "https://idp.test/device");
  CHECK(ok->verification_uri_complete == "https://idp.test/device?user_code=WDJB-MJHT");
  CHECK(ok->expires_in == 1800);
  CHECK(ok->interval == 5);

  // Google's spelling, no interval (5 s), no complete URI.
  auto google = parse_device_authorization(
      R"({"device_code":"dc","user_code":"GQVQ-JKEC","verification_url":"https://www.google.com/device","expires_in":1800})");
  REQUIRE(google);
  CHECK(google->verification_uri == "https://www.google.com/device");
  CHECK(google->verification_uri_complete.empty());
  CHECK(google->interval == 5);

  // Bounds: a huge interval is waited at 60 s, a long code life is cut to an hour.
  auto bounded = parse_device_authorization(
      R"({"device_code":"dc","user_code":"U","verification_uri":"https://i/d","expires_in":86400,"interval":600})");
  REQUIRE(bounded);
  CHECK(bounded->interval == 60);
  CHECK(bounded->expires_in == 3600);

  // A bad complete URI is dropped, not fatal.
  auto bad_complete = parse_device_authorization(
      R"x({"device_code":"dc","user_code":"U","verification_uri":"https://i/d","verification_uri_complete":"javascript:alert(1)","expires_in":600})x");
  REQUIRE(bad_complete);
  CHECK(bad_complete->verification_uri_complete.empty());

  for (
      const std::string bad : {
          R"({"user_code":"U","verification_uri":"https://i/d","expires_in":600})",
          R"({"device_code":"","user_code":"U","verification_uri":"https://i/d","expires_in":600})",
          R"({"device_code":"d c","user_code":"U","verification_uri":"https://i/d","expires_in":600})",
          R"({"device_code":"dc","verification_uri":"https://i/d","expires_in":600})",
          R"({"device_code":"dc","user_code":"U\u001b[2J","verification_uri":"https://i/d","expires_in":600})",
          R"({"device_code":"dc","user_code":"U","expires_in":600})",
          R"x({"device_code":"dc","user_code":"U","verification_uri":"javascript:alert(1)","expires_in":600})x",
          R"({"device_code":"dc","user_code":"U","verification_uri":"file:///etc/passwd","expires_in":600})",
          R"({"device_code":"dc","user_code":"U","verification_uri":"https://i/d x","expires_in":600})",
          R"({"device_code":"dc","user_code":"U","verification_uri":"https://i/d"})",
          R"({"device_code":"dc","user_code":"U","verification_uri":"https://i/d","expires_in":0})",
          R"({"device_code":"dc","user_code":"U","verification_uri":"https://i/d","expires_in":-1})",
          "not json",
      }) {
    INFO(bad);
    auto parsed = parse_device_authorization(bad);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().kind == ErrorClass::transient);
  }
}
