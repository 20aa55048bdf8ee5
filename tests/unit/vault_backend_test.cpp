// The vault backend through the HTTP transport seam's fake, with bodies shaped like the
// documented fixtures (tests/fakes/vault_fixtures/): requests and headers, KV v1/v2 and
// detection, token auth with lookup-self, AppRole login, renewal at half-life, re-login
// when expired or refused, wrapped secret_id, Kubernetes, every error class, and that no
// token or secret value ever appears in a message.
#include <catch2/catch.hpp>

#include "fake_transport.h"
#include "refresher/backends/vault_backend.h"
#include "refresher/config.h"
#include "refresher/vault/vault_response.h"
#include "test_support.h"

using namespace ckh;
using namespace ckh::test;

namespace {

constexpr std::int64_t kNow = 1795300000;
const std::string kToken = "hvs.CANARY-operator-token";
const std::string kKey = "sk-ant-api03-CANARY-vault-key";

std::string kv2_body(const std::string& data_json, int version = 2,
                     const std::string& deletion = "", bool destroyed = false) {
  return "{\"request_id\":\"r\",\"lease_id\":\"\",\"renewable\":false,\"lease_duration\":0,"
         "\"data\":{\"data\":" +
         data_json +
         ",\"metadata\":{\"created_time\":\"2018-03-22T02:24:06Z\","
         "\"custom_metadata\":null,\"deletion_time\":\"" +
         deletion + "\",\"destroyed\":" + (destroyed ? "true" : "false") +
         ",\"version\":" + std::to_string(version) +
         "}},\"wrap_info\":null,\"warnings\":null,\"auth\":null}";
}
std::string auth_body(const std::string& token, int ttl, bool renewable = true) {
  return "{\"auth\":{\"renewable\":" + std::string(renewable ? "true" : "false") +
         ",\"lease_duration\":" + std::to_string(ttl) +
         ",\"metadata\":null,\"token_policies\":[\"default\"],\"accessor\":\"a\",\"client_token\":"
         "\"" +
         token +
         "\"},\"warnings\":null,\"wrap_info\":null,\"data\":null,\"lease_duration\":0,"
         "\"renewable\":false,\"lease_id\":\"\"}";
}
std::string lookup_body(int ttl, bool renewable) {
  return "{\"data\":{\"accessor\":\"x\",\"ttl\":" + std::to_string(ttl) +
         ",\"renewable\":" + (renewable ? "true" : "false") + ",\"policies\":[\"default\"]}}";
}

struct Harness {
  std::shared_ptr<FakeTransport> transport = std::make_shared<FakeTransport>();
  FakeClock clock{kNow};
  VaultSettings settings;
  std::string state;  // P.secret between fetches
  // Short, so the half-life rule is what the tests below see (a long one renews sooner).
  std::chrono::seconds refresh_interval{10};

  Harness() {
    settings.address = "https://vault.test:8200";
    settings.path = "claude/api";
    settings.field = "api_key";
    settings.kv_version = 2;
  }
  Result<FetchResult> fetch() {
    VaultBackend backend(settings, transport, "ent", lookup_fake_env);
    FetchContext context{clock, state};
    context.refresh_interval = refresh_interval;
    context.persist_secret = [this](const std::string& text) -> Result<void> {
      state = text;
      return {};
    };
    auto result = backend.fetch(context);
    if (result && result->new_secret_state) state = *result->new_secret_state;
    return result;
  }
  std::vector<std::string> paths() const {
    std::vector<std::string> out;
    for (const auto& r : transport->requests) {
      out.push_back(r.method + " " + r.url.substr(std::string("https://vault.test:8200").size()));
    }
    return out;
  }
};

// An AppRole profile whose secret_id file holds a wrapping token, and what unwrapping it gives.
void use_wrapped_approle(Harness& h, const TempDir& dir) {
  h.settings.auth = "approle";
  h.settings.secret_id_wrapped = true;
  h.settings.role_id_file = dir.write("role_id", "r\n", 0644);
  h.settings.secret_id_file = dir.write("secret_id", "hvs.CANARY-wrapping\n", 0600);
}
const std::string kUnwrapped =
    "{\"data\":{\"secret_id\":\"CANARY-real-secret-id\",\"secret_id_accessor\":\"a\"}}";

void no_secret(const std::string& message) {
  CHECK(message.find("CANARY") == std::string::npos);
  CHECK(message.find('\n') == std::string::npos);
}

}  // namespace

TEST_CASE("vault: token auth reads a KV v2 field with Vault's headers", "[vault]") {
  FakeEnv env{{"VAULT_TOKEN", kToken}, {"HOME", "/nonexistent"}};
  Harness h;
  h.settings.namespace_ = "team-a";
  h.transport->respond(200, lookup_body(0, false))
      .respond(200, kv2_body("{\"api_key\":\"" + kKey + "\",\"other\":\"x\"}"));
  auto result = h.fetch();
  REQUIRE(result);
  CHECK(result->credential == kKey);
  CHECK(result->expires_at == kNow + 3600);  // no lease: the profile's ttl
  CHECK(h.paths() == std::vector<std::string>{"GET /v1/auth/token/lookup-self",
                                              "GET /v1/secret/data/claude/api"});
  for (const auto& request : h.transport->requests) {
    CHECK(request_header(request, "x-vault-token") == kToken);
    CHECK(request_header(request, "x-vault-namespace") == "team-a");
    CHECK(request_header(request, "x-vault-request") == "true");
  }
  CHECK(result->source.find("CANARY") == std::string::npos);
}

TEST_CASE("vault: the KV version is detected from the mount once and remembered", "[vault]") {
  FakeEnv env{{"VAULT_TOKEN", kToken}};
  Harness h;
  h.settings.kv_version = 0;
  h.settings.mount = "kv";
  h.transport->respond(200, lookup_body(0, false))
      .respond(200, "{\"data\":{\"type\":\"kv\",\"options\":{\"version\":\"1\"},\"path\":\"kv/\"}}")
      .respond(200, "{\"auth\":null,\"data\":{\"api_key\":\"" + kKey +
                        "\",\"ttl\":\"1h\"},\"lease_duration\":3600,\"lease_id\":\"\","
                        "\"renewable\":false}");
  auto first = h.fetch();
  REQUIRE(first);
  CHECK(first->expires_at == kNow + 3600);  // from the KV v1 lease_duration
  CHECK(h.paths()[1] == "GET /v1/sys/internal/ui/mounts/kv");
  CHECK(h.paths()[2] == "GET /v1/kv/claude/api");
  h.transport->respond(200, "{\"data\":{\"api_key\":\"" + kKey + "\"},\"lease_duration\":60}");
  auto second = h.fetch();
  REQUIRE(second);
  CHECK(second->expires_at == kNow + 60);
  CHECK(h.transport->calls() == 4);  // no second lookup-self, no second mount lookup

  // The profile now names another mount: what was detected for "kv" does not apply.
  h.settings.mount = "kv2";
  h.transport
      ->respond(200,
                "{\"data\":{\"type\":\"kv\",\"options\":{\"version\":\"2\"},\"path\":\"kv2/\"}}")
      .respond(200, kv2_body("{\"api_key\":\"" + kKey + "\"}"));
  REQUIRE(h.fetch());
  CHECK(h.paths()[4] == "GET /v1/sys/internal/ui/mounts/kv2");
  CHECK(h.paths()[5] == "GET /v1/kv2/data/claude/api");
  CHECK(h.state.find("kv_version_of: https://vault.test:8200 - kv2\n") != std::string::npos);
}

TEST_CASE("vault: a fixed KV v2 version is asked for", "[vault]") {
  FakeEnv env{{"VAULT_TOKEN", kToken}};
  Harness h;
  h.settings.version = 3;
  h.transport->respond(200, lookup_body(0, false))
      .respond(200, kv2_body("{\"api_key\":\"" + kKey + "\"}", 3));
  REQUIRE(h.fetch());
  CHECK(h.paths()[1] == "GET /v1/secret/data/claude/api?version=3");
}

TEST_CASE("vault: distinct permanent errors name mount, path and field, never a value", "[vault]") {
  FakeEnv env{{"VAULT_TOKEN", kToken}};
  struct Case {
    long status;
    std::string body;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {200, kv2_body("{\"other\":\"" + kKey + "\"}"), "has no field 'api_key' (fields: other)"},
      {200, kv2_body("{\"api_key\":42}"), "is not a string"},
      {404, kv2_body("null", 4, "2023-12-06T17:20:38Z"),
       "field 'api_key' of secret/claude/api: version 4 is deleted"},
      {404, kv2_body("null", 5, "", true),
       "field 'api_key' of secret/claude/api: version 5 is destroyed"},
      {404, "{\"errors\":[]}", "no secret at secret/claude/api"},
      {403, "{\"errors\":[\"permission denied\"]}", "permission denied"},
      {400, "{\"errors\":[\"bad request\"]}", "bad request"},
  };
  for (const auto& c : cases) {
    Harness h;
    h.transport->respond(200, lookup_body(0, false)).respond(c.status, c.body);
    auto result = h.fetch();
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == ErrorClass::permanent);
    CHECK_THAT(result.error().message, Catch::Contains(c.expect));
    no_secret(result.error().message);
  }
  Harness denied;
  denied.transport->respond(200, lookup_body(0, false))
      .respond(403, "{\"errors\":[\"permission denied\"]}");
  auto result = denied.fetch();
  REQUIRE_FALSE(result);
  CHECK_THAT(result.error().message, Catch::Contains("needs read on secret/data/claude/api"));
}

TEST_CASE("vault: 5xx, 429, sealed and garbage are transient with Vault's text", "[vault]") {
  FakeEnv env{{"VAULT_TOKEN", kToken}};
  struct Case {
    long status;
    std::string body;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {503, "{\"errors\":[\"Vault is sealed\"]}", "Vault is sealed"},
      {500, "{\"errors\":[\"internal error\"]}", "internal error"},
      {429, "{\"errors\":[\"rate limit quota exceeded\"]}", "rate limit"},
      {200, "<html>proxy</html>", "not a JSON object"},
  };
  for (const auto& c : cases) {
    Harness h;
    h.transport->respond(200, lookup_body(0, false)).respond(c.status, c.body);
    auto result = h.fetch();
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == ErrorClass::transient);
    CHECK_THAT(result.error().message, Catch::Contains(c.expect));
  }
  Harness down;
  down.transport->fail_with(ErrorClass::transient, "connection refused");
  auto result = down.fetch();
  REQUIRE_FALSE(result);
  CHECK(result.error().kind == ErrorClass::transient);
  CHECK_THAT(result.error().message, Catch::Contains("vault.test"));
}

TEST_CASE("vault: AppRole logs in, renews at half-life, logs in again when expired", "[vault]") {
  TempDir dir;
  const std::string role = dir.write("role_id", "role-123\n", 0644);
  const std::string secret_id = dir.write("secret_id", "CANARY-secret-id\n", 0600);
  FakeEnv env{{"HOME", dir.path()}};
  Harness h;
  h.settings.auth = "approle";
  h.settings.role_id_file = role;
  h.settings.secret_id_file = secret_id;
  h.transport->respond(200, auth_body("hvs.CANARY-approle-1", 100))
      .respond(200, kv2_body("{\"api_key\":\"" + kKey + "\"}"));
  REQUIRE(h.fetch());
  CHECK(h.paths()[0] == "POST /v1/auth/approle/login");
  CHECK(h.transport->requests[0].body ==
        "{\"role_id\":\"role-123\",\"secret_id\":\"CANARY-secret-id\"}");
  CHECK(request_header(h.transport->requests[0], "x-vault-token").empty());
  CHECK(request_header(h.transport->requests[1], "x-vault-token") == "hvs.CANARY-approle-1");

  h.clock.advance(std::chrono::seconds(30));  // 70 of 100 s left: no renewal yet
  h.transport->respond(200, kv2_body("{\"api_key\":\"" + kKey + "\"}"));
  REQUIRE(h.fetch());
  CHECK(h.transport->calls() == 3);

  h.clock.advance(std::chrono::seconds(30));  // 40 s left < half: renew-self first
  h.transport->respond(200, auth_body("hvs.CANARY-approle-1", 100))
      .respond(200, kv2_body("{\"api_key\":\"" + kKey + "\"}"));
  REQUIRE(h.fetch());
  CHECK(h.paths()[3] == "POST /v1/auth/token/renew-self");

  h.clock.advance(std::chrono::seconds(200));  // expired: a new login
  h.transport->respond(200, auth_body("hvs.CANARY-approle-2", 100))
      .respond(200, kv2_body("{\"api_key\":\"" + kKey + "\"}"));
  REQUIRE(h.fetch());
  CHECK(h.paths()[5] == "POST /v1/auth/approle/login");
  CHECK(request_header(h.transport->requests[6], "x-vault-token") == "hvs.CANARY-approle-2");
}

TEST_CASE("vault: a refused renewal or a 403 on read leads to one fresh login", "[vault]") {
  TempDir dir;
  FakeEnv env{{"HOME", dir.path()}};
  Harness h;
  h.settings.auth = "approle";
  h.settings.role_id_file = dir.write("role_id", "r\n", 0644);
  h.settings.secret_id_file = dir.write("secret_id", "s\n", 0600);
  h.transport->respond(200, auth_body("hvs.one", 100))
      .respond(403, "{\"errors\":[\"permission denied\"]}")  // revoked behind our back
      .respond(200, auth_body("hvs.two", 100))
      .respond(200, kv2_body("{\"api_key\":\"" + kKey + "\"}"));
  REQUIRE(h.fetch());
  CHECK(h.paths()[2] == "POST /v1/auth/approle/login");

  h.clock.advance(std::chrono::seconds(60));
  h.transport->respond(400, "{\"errors\":[\"lease is not renewable\"]}")
      .respond(200, auth_body("hvs.three", 100))
      .respond(200, kv2_body("{\"api_key\":\"" + kKey + "\"}"));
  REQUIRE(h.fetch());
  CHECK(h.paths()[4] == "POST /v1/auth/token/renew-self");
  CHECK(h.paths()[5] == "POST /v1/auth/approle/login");
}

TEST_CASE("vault: a response-wrapped secret_id is unwrapped before the login", "[vault]") {
  TempDir dir;
  FakeEnv env{{"HOME", dir.path()}};
  Harness h;
  use_wrapped_approle(h, dir);
  h.transport->respond(200, kUnwrapped)
      .respond(200, auth_body("hvs.t", 100))
      .respond(200, kv2_body("{\"api_key\":\"" + kKey + "\"}"));
  REQUIRE(h.fetch());
  CHECK(h.paths()[0] == "POST /v1/sys/wrapping/unwrap");
  CHECK(request_header(h.transport->requests[0], "x-vault-token") == "hvs.CANARY-wrapping");
  CHECK(h.transport->requests[1].body ==
        "{\"role_id\":\"r\",\"secret_id\":\"CANARY-real-secret-id\"}");

  Harness used;
  used.settings = h.settings;
  used.transport->respond(400, "{\"errors\":[\"wrapping token is not valid or does not exist\"]}");
  auto result = used.fetch();
  REQUIRE_FALSE(result);
  CHECK_THAT(result.error().message, Catch::Contains("a wrapping token works once"));
  no_secret(result.error().message);
}

TEST_CASE("vault: a login that fails after the unwrap keeps the secret_id for the retry",
          "[vault]") {
  TempDir dir;
  FakeEnv env{{"HOME", dir.path()}};
  Harness h;
  use_wrapped_approle(h, dir);
  h.transport->respond(200, kUnwrapped).respond(500, "{\"errors\":[\"internal error\"]}");
  auto failed = h.fetch();
  REQUIRE_FALSE(failed);
  CHECK(failed.error().kind == ErrorClass::transient);
  no_secret(failed.error().message);
  CHECK(h.state.find("unwrapped_secret_id: CANARY-real-secret-id\n") != std::string::npos);

  // The wrapping token is spent now; the retry logs in with the kept secret_id, no unwrap.
  h.transport->respond(200, auth_body("hvs.t", 100))
      .respond(200, kv2_body("{\"api_key\":\"" + kKey + "\"}"));
  REQUIRE(h.fetch());
  REQUIRE(h.transport->calls() == 4);
  CHECK(h.paths()[2] == "POST /v1/auth/approle/login");
  CHECK(h.transport->requests[2].body ==
        "{\"role_id\":\"r\",\"secret_id\":\"CANARY-real-secret-id\"}");
  CHECK(h.state.find("CANARY-real-secret-id") == std::string::npos);  // forgotten after login

  // A new wrapping token in the file is unwrapped, not matched to the old secret_id.
  dir.write("secret_id", "hvs.CANARY-wrapping-2\n", 0600);
  h.state.clear();
  h.transport
      ->respond(200, "{\"data\":{\"secret_id\":\"CANARY-second-id\",\"secret_id_accessor\":\"a\"}}")
      .respond(200, auth_body("hvs.t2", 100))
      .respond(200, kv2_body("{\"api_key\":\"" + kKey + "\"}"));
  auto third = h.fetch();
  INFO((third ? std::string("ok") : third.error().message));
  REQUIRE(third);
  CHECK(h.paths()[4] == "POST /v1/sys/wrapping/unwrap");
}

TEST_CASE("vault: Kubernetes auth sends the role and the service-account JWT", "[vault]") {
  TempDir dir;
  FakeEnv env{{"HOME", dir.path()}};
  Harness h;
  h.settings.auth = "kubernetes";
  h.settings.kubernetes_role = "claude";
  h.settings.kubernetes_jwt_file = dir.write("token", "eyJhbGciOi.CANARY.jwt\n", 0644);
  h.transport->respond(200, auth_body("hvs.k", 3600))
      .respond(200, kv2_body("{\"api_key\":\"" + kKey + "\"}"));
  REQUIRE(h.fetch());
  CHECK(h.paths()[0] == "POST /v1/auth/kubernetes/login");
  CHECK(h.transport->requests[0].body == "{\"role\":\"claude\",\"jwt\":\"eyJhbGciOi.CANARY.jwt\"}");
}

TEST_CASE("vault: token auth renews a renewable token at half-life and says so when expired",
          "[vault]") {
  TempDir dir;
  dir.write(".vault-token", kToken + "\n", 0600);
  FakeEnv env{{"HOME", dir.path()}};  // no VAULT_TOKEN: ~/.vault-token like the CLI
  Harness h;
  h.transport->respond(200, lookup_body(100, true))
      .respond(200, kv2_body("{\"api_key\":\"" + kKey + "\"}"));
  REQUIRE(h.fetch());
  h.clock.advance(std::chrono::seconds(60));
  h.transport->respond(200, auth_body(kToken, 100))
      .respond(200, kv2_body("{\"api_key\":\"" + kKey + "\"}"));
  REQUIRE(h.fetch());
  CHECK(h.paths()[2] == "POST /v1/auth/token/renew-self");
  h.clock.advance(std::chrono::seconds(200));
  auto result = h.fetch();
  REQUIRE_FALSE(result);
  CHECK(result.error().kind == ErrorClass::permanent);
  CHECK_THAT(result.error().message, Catch::Contains("vault login"));
}

TEST_CASE("vault: a token that would not outlast refresh_interval is renewed at once", "[vault]") {
  TempDir dir;
  dir.write(".vault-token", kToken + "\n", 0600);
  FakeEnv env{{"HOME", dir.path()}};
  Harness h;
  h.refresh_interval = std::chrono::seconds(900);  // the next run may be 15 min away
  h.transport->respond(200, lookup_body(1200, true))
      .respond(200, kv2_body("{\"api_key\":\"" + kKey + "\"}"));
  REQUIRE(h.fetch());
  CHECK(h.transport->calls() == 2);  // 1200 s left: no renewal

  h.clock.advance(std::chrono::seconds(400));  // 800 s left: more than half, yet < 900 + 10
  h.transport->respond(200, auth_body(kToken, 1200))
      .respond(200, kv2_body("{\"api_key\":\"" + kKey + "\"}"));
  REQUIRE(h.fetch());
  REQUIRE(h.transport->calls() == 4);
  CHECK(h.paths()[2] == "POST /v1/auth/token/renew-self");

  h.clock.advance(std::chrono::seconds(200));  // renewed 200 s ago: 1000 s left, no renewal
  h.transport->respond(200, kv2_body("{\"api_key\":\"" + kKey + "\"}"));
  REQUIRE(h.fetch());
  CHECK(h.transport->calls() == 5);
}

TEST_CASE("vault: config defaults from VAULT_* and the problems it reports", "[vault]") {
  FakeEnv env{{"VAULT_ADDR", "https://vault.env:8200/"},
              {"VAULT_NAMESPACE", "ns1"},
              {"VAULT_CACERT", "/etc/ssl/vault-ca.pem"},
              {"HOME", "/home/u"}};
  auto ok = parse_config(
      "[profile.v]\nbackend = \"vault\"\n[profile.v.vault]\npath = \"a/b\"\nfield = \"k\"\n",
      "config.toml", lookup_fake_env);
  REQUIRE(ok);
  const auto* backend = dynamic_cast<const VaultBackend*>(ok->profiles.at("v").backend.get());
  REQUIRE(backend != nullptr);
  CHECK(backend->settings().address == "https://vault.env:8200");
  CHECK(backend->settings().namespace_ == "ns1");
  CHECK(backend->settings().tls.ca_file == "/etc/ssl/vault-ca.pem");
  CHECK_FALSE(backend->settings().tls.insecure_skip_verify);
  CHECK(backend->secret_env_names() == std::vector<std::string>{"VAULT_TOKEN"});

  auto bad = parse_config(
      "[profile.v]\nbackend = \"vault\"\n[profile.v.vault]\nauth = \"approle\"\n"
      "tls_skip_verify = \"yes\"\nkv_version = 3\n",
      "config.toml", lookup_fake_env);
  REQUIRE_FALSE(bad);
  std::string all;
  for (const auto& p : bad.error()) all += p.to_string() + "\n";
  CHECK_THAT(all, Catch::Contains("missing 'path'"));
  CHECK_THAT(all, Catch::Contains("missing 'field'"));
  CHECK_THAT(all, Catch::Contains("role_id_file and secret_id_file"));
  CHECK_THAT(all, Catch::Contains("expected true or false"));
  CHECK_THAT(all, Catch::Contains("kv_version"));
}

// Issue 10 item 17: the fuzzer's finding, a KV read with "lease_duration": -6, was taken as
// a lease. A lease or TTL must be a whole number of seconds in 0..ten years; anything else
// is a malformed answer (transient: the last good key is kept), named by field, no value.
TEST_CASE("vault: a negative, fractional or absurd lease is refused as malformed", "[vault]") {
  const std::string finding =
      R"({"auth": null, "data": {"fn": "bar", "ttl": "1h"}, "lease_duration": -6, )"
      R"("lease_id": "", "renee": false})";
  for (const int kv : {1, 2}) {
    auto read = parse_kv_read(finding, kv, "foo");
    REQUIRE_FALSE(read);
    CHECK(read.error().kind == ErrorClass::transient);
    CHECK(read.error().message ==
          "Vault's answer to the secret read has a negative lease_duration");
  }
  const std::string ten_years = std::to_string(kMaxVaultLeaseSeconds);
  const std::string over = std::to_string(kMaxVaultLeaseSeconds + 1);
  struct Case {
    std::string lease;
    std::string expect;  // empty: accepted
  };
  const std::vector<Case> cases = {
      {"0", ""},
      {"3600", ""},
      {"3600.0", ""},
      {"null", ""},
      {ten_years, ""},
      {"-1", "negative"},
      {"-0.5", "negative"},
      {"-6.0", "negative"},
      {over, "more than ten years"},
      {"9223372036854775807", "more than ten years"},
      {"18446744073709551615", "more than ten years"},
      {"1e300", "more than ten years"},
      {"0.5", "not a whole number of seconds"},
      {"\"1h\"", "not a number of seconds"},
      {"true", "not a number of seconds"},
      {"{}", "not a number of seconds"},
  };
  for (const auto& c : cases) {
    INFO("lease_duration " << c.lease);
    const std::string v1 = "{\"lease_duration\":" + c.lease + ",\"data\":{\"foo\":\"v\"}}";
    const std::string auth = "{\"auth\":{\"client_token\":\"hvs.x\",\"lease_duration\":" + c.lease +
                             ",\"renewable\":true}}";
    const std::string lookup = "{\"data\":{\"ttl\":" + c.lease + ",\"renewable\":true}}";
    auto read = parse_kv_read(v1, 1, "foo");
    auto login = parse_vault_auth(auth);
    auto info = parse_token_lookup(lookup);
    if (c.expect.empty()) {
      REQUIRE(read);
      REQUIRE(login);
      REQUIRE(info);
      CHECK(read->lease_duration >= 0);
      CHECK(read->lease_duration == login->lease_duration);
      CHECK(read->lease_duration == info->ttl);
      CHECK(read->value == "v");
    } else {
      REQUIRE_FALSE(read);
      REQUIRE_FALSE(login);
      REQUIRE_FALSE(info);
      for (const Error* error : {&read.error(), &login.error(), &info.error()}) {
        CHECK(error->kind == ErrorClass::transient);
        CHECK(error->message.find('\n') == std::string::npos);
      }
      for (const Error* error : {&read.error(), &login.error(), &info.error()}) {
        CHECK_THAT(error->message, Catch::Contains(c.expect));
      }
      CHECK_THAT(read.error().message, Catch::Contains("lease_duration"));
      CHECK_THAT(login.error().message, Catch::Contains("lease_duration"));
      CHECK_THAT(info.error().message, Catch::Contains("a ttl") || Catch::Contains("negative ttl"));
    }
  }

  // Through the backend: the read fails as transient, naming the field and the path.
  FakeEnv env{{"VAULT_TOKEN", kToken}};
  Harness h;
  h.settings.kv_version = 1;
  h.transport->respond(200, lookup_body(0, false))
      .respond(200, "{\"lease_duration\":-6,\"data\":{\"api_key\":\"" + kKey + "\"}}");
  auto result = h.fetch();
  REQUIRE_FALSE(result);
  CHECK(result.error().kind == ErrorClass::transient);
  CHECK_THAT(result.error().message, Catch::Contains("negative lease_duration"));
  no_secret(result.error().message);
}
