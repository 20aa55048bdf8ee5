// The aws-secretsmanager backend and the credential chain through the HTTP transport seam's
// fake, with bodies shaped like the documented fixtures (tests/fakes/aws_fixtures/): the
// signed GetSecretValue request, the chain's order (environment, shared files with
// credential_process, container, IMDSv2), caching until shortly before Expiration, JSON key
// selection, SecretBinary refused, every error class, clock skew, and no secret in messages.
#include <catch2/catch.hpp>

#include "fake_transport.h"
#include "refresher/aws/aws_credentials.h"
#include "refresher/aws/aws_ini.h"
#include "refresher/aws/aws_responses.h"
#include "refresher/aws/sigv4.h"
#include "refresher/backends/aws_secretsmanager_backend.h"
#include "refresher/config.h"
#include "test_support.h"

using namespace ckh;
using namespace ckh::test;

namespace {

constexpr std::int64_t kNow = 1440938160;  // 2015-08-30T12:36:00Z, the SigV4 suite's time
const std::string kSecretKey = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

std::string secret_body(const std::string& secret_string) {
  return "{\"ARN\":\"arn:aws:secretsmanager:us-east-1:123456789012:secret:MyTestDatabaseSecret-"
         "a1b2c3\","
         "\"CreatedDate\":1.523477145713E9,\"Name\":\"MyTestDatabaseSecret\",\"SecretString\":" +
         secret_string +
         ",\"VersionId\":\"EXAMPLE1-90ab-cdef-fedc-ba987SECRET1\",\"VersionStages\":["
         "\"AWSPREVIOUS\"]}";
}

struct Harness {
  std::shared_ptr<FakeTransport> transport = std::make_shared<FakeTransport>();
  FakeClock clock{kNow};
  AwsSecretsManagerSettings settings;
  std::unique_ptr<AwsSecretsManagerBackend> backend;
  Harness() { settings.secret_id = "MyTestDatabaseSecret"; }
  Result<FetchResult> fetch() {
    if (!backend) {
      backend =
          std::make_unique<AwsSecretsManagerBackend>(settings, transport, "aws", lookup_fake_env);
    }
    FetchContext context{clock, ""};
    return backend->fetch(context);
  }
};

void no_secret(const std::string& message) {
  CHECK(message.find(kSecretKey) == std::string::npos);
  CHECK(message.find("CANARY") == std::string::npos);
  CHECK(message.find('\n') == std::string::npos);
}

}  // namespace

TEST_CASE("aws: GetSecretValue is a signed awsJson1_1 POST to the regional endpoint", "[aws]") {
  FakeEnv env{{"AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"},
              {"AWS_SECRET_ACCESS_KEY", kSecretKey},
              {"AWS_REGION", "us-east-1"}};
  Harness h;
  h.settings.version_stage = "AWSPREVIOUS";
  h.transport->respond(200, secret_body("\"sk-ant-api03-CANARY\""));
  auto result = h.fetch();
  REQUIRE(result);
  CHECK(result->credential == "sk-ant-api03-CANARY");
  CHECK(result->expires_at == kNow + 3600);
  const HttpRequest& request = h.transport->last_request();
  CHECK(request.method == "POST");
  CHECK(request.url == "https://secretsmanager.us-east-1.amazonaws.com/");
  CHECK(request.body == "{\"SecretId\":\"MyTestDatabaseSecret\",\"VersionStage\":\"AWSPREVIOUS\"}");
  CHECK(request_header(request, "content-type") == "application/x-amz-json-1.1");
  CHECK(request_header(request, "x-amz-target") == "secretsmanager.GetSecretValue");
  CHECK(request_header(request, "x-amz-date") == "20150830T123600Z");
  // The documented signed request (aws_fixtures signed-get-secret-value.json, made with
  // @smithy/signature-v4) for exactly this body, time and key.
  CHECK_THAT(request_header(request, "authorization"),
             Catch::StartsWith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/"
                               "secretsmanager/aws4_request, SignedHeaders=content-type;host;"
                               "x-amz-date;x-amz-target, Signature="));
  CHECK(request_header(request, "x-amz-security-token").empty());
}

TEST_CASE("aws: a JSON key of SecretString, SecretBinary refused, endpoint overrides", "[aws]") {
  FakeEnv env{{"AWS_ACCESS_KEY_ID", "AKID"},
              {"AWS_SECRET_ACCESS_KEY", kSecretKey},
              {"AWS_DEFAULT_REGION", "eu-west-1"},
              {"AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:4566"},
              {"AWS_SESSION_TOKEN", "CANARY-session"}};
  Harness h;
  h.settings.key = "api_key";
  h.transport->respond(200,
                       secret_body("\"{\\\"user\\\":\\\"x\\\",\\\"api_key\\\":\\\"sk-json\\\"}\""));
  auto result = h.fetch();
  REQUIRE(result);
  CHECK(result->credential == "sk-json");
  CHECK(h.transport->last_request().url == "http://127.0.0.1:4566/");
  CHECK(request_header(h.transport->last_request(), "x-amz-security-token") == "CANARY-session");
  CHECK_THAT(request_header(h.transport->last_request(), "authorization"),
             Catch::Contains("/eu-west-1/secretsmanager/"));

  Harness missing;
  missing.settings.key = "nope";
  missing.transport->respond(200, secret_body("\"{\\\"user\\\":\\\"CANARY\\\"}\""));
  auto no_key = missing.fetch();
  REQUIRE_FALSE(no_key);
  CHECK(no_key.error().kind == ErrorClass::permanent);
  CHECK_THAT(no_key.error().message, Catch::Contains("no key 'nope' (keys: user)"));
  no_secret(no_key.error().message);

  Harness binary;
  binary.transport->respond(200, "{\"Name\":\"b\",\"SecretBinary\":\"AAEC\"}");
  auto refused = binary.fetch();
  REQUIRE_FALSE(refused);
  CHECK(refused.error().kind == ErrorClass::permanent);
  CHECK_THAT(refused.error().message, Catch::Contains("SecretBinary"));
}

TEST_CASE("aws: documented errors map to permanent or transient with clear messages", "[aws]") {
  FakeEnv env{{"AWS_ACCESS_KEY_ID", "AKID"},
              {"AWS_SECRET_ACCESS_KEY", kSecretKey},
              {"AWS_REGION", "us-east-1"}};
  struct Case {
    long status;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    ErrorClass kind;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {400,
       "{\"__type\":\"ResourceNotFoundException\",\"Message\":\"Secrets Manager can't find the "
       "specified secret.\"}",
       {},
       ErrorClass::permanent,
       "check secret_id and region"},
      {400,
       "{\"__type\":\"AccessDeniedException\",\"Message\":\"denied\"}",
       {},
       ErrorClass::permanent,
       "secretsmanager:GetSecretValue"},
      {400,
       "{\"__type\":\"DecryptionFailure\",\"Message\":\"kms\"}",
       {},
       ErrorClass::permanent,
       "kms:Decrypt"},
      {400,
       "{\"__type\":\"com.amazonaws.secretsmanager#InvalidParameterException:http://"
       "x\",\"Message\":\"bad\"}",
       {},
       ErrorClass::permanent,
       "InvalidParameterException"},
      {400,
       "{\"__type\":\"ThrottlingException\",\"Message\":\"Rate exceeded\"}",
       {},
       ErrorClass::transient,
       "Rate exceeded"},
      {500,
       "{\"__type\":\"InternalServiceError\"}",
       {},
       ErrorClass::transient,
       "InternalServiceError"},
      {503, "<html>unavailable</html>", {}, ErrorClass::transient, "HTTP 503"},
      {400,
       "{\"message\":\"x\"}",
       {{"x-amzn-errortype", "AccessDeniedException:http://internal"}},
       ErrorClass::permanent,
       "GetSecretValue"},
      {400,
       "{\"__type\":\"UnrecognizedClientException\",\"message\":\"The security token included in "
       "the request is invalid.\"}",
       {},
       ErrorClass::permanent,
       "not accepted"},
      {403,
       "{\"__type\":\"SignatureDoesNotMatch\",\"message\":\"The request signature we "
       "calculated does not match the signature you provided.\"}",
       {},
       ErrorClass::permanent,
       "not accepted"},
      {400,
       "{\"__type\":\"InvalidSignatureException\",\"message\":\"Signature expired: "
       "20150830T123600Z is now earlier than 20150830T124100Z\"}",
       {{"date", "Sun, 30 Aug 2015 12:46:00 GMT"}},
       ErrorClass::transient,
       "clock is 600 s behind AWS"},
  };
  for (const auto& c : cases) {
    Harness h;
    h.transport->respond(c.status, c.body, c.headers);
    auto result = h.fetch();
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == c.kind);
    CHECK_THAT(result.error().message, Catch::Contains(c.expect));
    no_secret(result.error().message);
  }
}

TEST_CASE("aws: shared files, credential_process, and the profile's region", "[aws]") {
  TempDir dir;
  dir.write("credentials",
            "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = " + kSecretKey + "\n",
            0600);
  const std::string script =
      dir.write("process.sh",
                "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", "
                "\"SecretAccessKey\": \"s\", "
                "\"SessionToken\": \"t\", \"Expiration\": \"2015-08-30T13:36:00Z\"}'\n",
                0700);
  dir.write("config",
            "[default]\nregion = ap-south-1\n\n[profile work]\nregion = eu-central-1\n"
            "credential_process = \"" +
                script + "\" --profile work\n  ; comment\n",
            0600);
  FakeEnv env{{"HOME", dir.path()},
              {"AWS_SHARED_CREDENTIALS_FILE", dir.file("credentials")},
              {"AWS_CONFIG_FILE", dir.file("config")}};
  Harness h;
  h.transport->respond(200, secret_body("\"k1\""));
  auto first = h.fetch();
  REQUIRE(first);
  CHECK_THAT(first->source, Catch::Contains("profile default"));
  CHECK_THAT(request_header(h.transport->last_request(), "authorization"),
             Catch::Contains("AKIDFILE/20150830/ap-south-1/"));

  Harness work;
  work.settings.aws_profile = "work";
  work.transport->respond(200, secret_body("\"k2\"")).respond(200, secret_body("\"k3\""));
  auto second = work.fetch();
  REQUIRE(second);
  CHECK_THAT(second->source, Catch::Contains("credential_process"));
  CHECK_THAT(request_header(work.transport->last_request(), "authorization"),
             Catch::Contains("AKIDPROC/20150830/eu-central-1/"));
  CHECK(request_header(work.transport->last_request(), "x-amz-security-token") == "t");
  REQUIRE(
      work.fetch());  // cached: expires in 1 h, no second run needed (the process would work too)

  Harness unknown;
  unknown.settings.aws_profile = "nope";
  auto result = unknown.fetch();
  REQUIRE_FALSE(result);
  CHECK(result.error().kind == ErrorClass::config);
}

TEST_CASE("aws: container credentials, then IMDSv2; temporary keys cached until 5 min before",
          "[aws]") {
  TempDir dir;
  const std::string token_file = dir.write("token", "CANARY-container-token\n", 0600);
  {
    FakeEnv env{{"HOME", dir.path()},
                {"AWS_REGION", "us-east-1"},
                {"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9999/creds"},
                {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file}};
    Harness h;
    h.transport
        ->respond(200,
                  "{\"AccessKeyId\":\"ASIACONT\",\"SecretAccessKey\":\"s\",\"Token\":\"t\","
                  "\"Expiration\":\"2015-08-30T12:46:00Z\"}")
        .respond(200, secret_body("\"k\""))
        .respond(200, secret_body("\"k\""));
    REQUIRE(h.fetch());
    CHECK(h.transport->requests[0].url == "http://127.0.0.1:9999/creds");
    CHECK(request_header(h.transport->requests[0], "authorization") == "CANARY-container-token");
    h.clock.advance(std::chrono::seconds(60));  // 9 min left: still cached
    REQUIRE(h.fetch());
    CHECK(h.transport->calls() == 3);
    h.clock.advance(std::chrono::seconds(300));  // 4 min left: fetched again
    h.transport
        ->respond(200,
                  "{\"AccessKeyId\":\"ASIACONT2\",\"SecretAccessKey\":\"s\",\"Token\":\"t\","
                  "\"Expiration\":\"2015-08-30T13:46:00Z\"}")
        .respond(200, secret_body("\"k\""));
    REQUIRE(h.fetch());
    CHECK(h.transport->requests[3].url == "http://127.0.0.1:9999/creds");

    FakeEnv bad{{"HOME", dir.path()},
                {"AWS_REGION", "us-east-1"},
                {"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://192.168.1.1/endpoint"}};
    Harness refused;
    auto result = refused.fetch();
    REQUIRE_FALSE(result);
    CHECK_THAT(result.error().message, Catch::Contains("not allowed"));
  }
  FakeEnv env{{"HOME", dir.path()},
              {"AWS_REGION", "us-east-1"},
              {"AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:8111/"}};
  Harness h;
  h.transport->respond(200, "CANARY-imds-session")
      .respond(200, "my-role\n")
      .respond(200,
               "{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"2015-08-30T12:00:00Z\",\n  "
               "\"Type\" : \"AWS-HMAC\",\n"
               "  \"AccessKeyId\" : \"ASIAIMDS\",\n  \"SecretAccessKey\" : \"s\",\n  \"Token\" : "
               "\"t\",\n"
               "  \"Expiration\" : \"2015-08-30T18:00:00Z\"\n}")
      .respond(200, secret_body("\"k\""));
  auto result = h.fetch();
  REQUIRE(result);
  CHECK(h.transport->requests[0].method == "PUT");
  CHECK(h.transport->requests[0].url == "http://127.0.0.1:8111/latest/api/token");
  CHECK(request_header(h.transport->requests[0], "x-aws-ec2-metadata-token-ttl-seconds") ==
        "21600");
  CHECK(h.transport->requests[1].url ==
        "http://127.0.0.1:8111/latest/meta-data/iam/security-credentials/");
  CHECK(request_header(h.transport->requests[1], "x-aws-ec2-metadata-token") ==
        "CANARY-imds-session");
  CHECK(h.transport->requests[2].url ==
        "http://127.0.0.1:8111/latest/meta-data/iam/security-credentials/my-role");
  CHECK_THAT(result->source, Catch::Contains("EC2 instance role my-role"));

  FakeEnv disabled{
      {"HOME", dir.path()}, {"AWS_REGION", "us-east-1"}, {"AWS_EC2_METADATA_DISABLED", "true"}};
  Harness none;
  auto no_creds = none.fetch();
  REQUIRE_FALSE(no_creds);
  CHECK(no_creds.error().kind == ErrorClass::config);
  CHECK_THAT(no_creds.error().message, Catch::Contains("AWS_EC2_METADATA_DISABLED"));
  CHECK(none.transport->calls() == 0);
}

TEST_CASE("aws: AWS_ENDPOINT_URL, a proxy path is what is signed, version_id is sent", "[aws]") {
  FakeEnv env{{"AWS_ACCESS_KEY_ID", "AKID"},
              {"AWS_SECRET_ACCESS_KEY", kSecretKey},
              {"AWS_REGION", "us-east-1"},
              {"AWS_ENDPOINT_URL", "https://proxy.test:8443/aws/sm/"}};
  Harness h;
  h.settings.version_id = "EXAMPLE1-90ab-cdef-fedc-ba987SECRET1";
  h.transport->respond(200, secret_body("\"k\""));
  REQUIRE(h.fetch());
  const HttpRequest& sent = h.transport->last_request();
  CHECK(sent.url == "https://proxy.test:8443/aws/sm/");
  CHECK(sent.body ==
        "{\"SecretId\":\"MyTestDatabaseSecret\",\"VersionId\":\"EXAMPLE1-90ab-cdef-fedc-"
        "ba987SECRET1\"}");
  // The Authorization is SigV4 over the path that was sent, not over "/".
  SigV4Request expected;
  expected.method = "POST";
  expected.path = "/aws/sm/";
  expected.headers = {{"Host", "proxy.test:8443"},
                      {"Content-Type", "application/x-amz-json-1.1"},
                      {"X-Amz-Target", "secretsmanager.GetSecretValue"}};
  expected.body = sent.body;
  SigV4Params params;
  params.region = "us-east-1";
  params.service = "secretsmanager";
  params.amz_date = sigv4_amz_date(kNow);
  const SigV4Result want = sigv4_sign(expected, params, AwsCredentials{"AKID", kSecretKey, ""});
  CHECK(request_header(sent, "authorization") == want.authorization);

  // The service's own variable wins over the general one.
  FakeEnv both{{"AWS_ACCESS_KEY_ID", "AKID"},
               {"AWS_SECRET_ACCESS_KEY", kSecretKey},
               {"AWS_REGION", "us-east-1"},
               {"AWS_ENDPOINT_URL", "https://general.test"},
               {"AWS_ENDPOINT_URL_SECRETS_MANAGER", "https://sm.test"}};
  Harness specific;
  specific.transport->respond(200, secret_body("\"k\""));
  REQUIRE(specific.fetch());
  CHECK(specific.transport->last_request().url == "https://sm.test/");
}

TEST_CASE("aws: the relative container URI, an env token, throttled credential endpoints",
          "[aws]") {
  {
    FakeEnv env{{"AWS_REGION", "us-east-1"},
                {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc"},
                {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "CANARY-env-token"}};
    Harness h;
    h.transport
        ->respond(200,
                  "{\"AccessKeyId\":\"ASIAREL\",\"SecretAccessKey\":\"s\",\"Token\":\"t\","
                  "\"Expiration\":\"2015-08-30T18:00:00Z\"}")
        .respond(200, secret_body("\"k\""));
    REQUIRE(h.fetch());
    CHECK(h.transport->requests[0].url == "http://169.254.170.2/v2/credentials/abc");
    CHECK(request_header(h.transport->requests[0], "authorization") == "CANARY-env-token");

    Harness throttled;  // the container agent's rate limit: try again later
    throttled.transport->respond(429, "");
    auto result = throttled.fetch();
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == ErrorClass::transient);
    no_secret(result.error().message);
  }
  FakeEnv env{{"AWS_REGION", "us-east-1"},
              {"AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:8111/"}};
  Harness h;
  h.transport->respond(429, "");
  auto result = h.fetch();
  REQUIRE_FALSE(result);
  CHECK(result.error().kind == ErrorClass::transient);
}

TEST_CASE("aws: a failing credential_process is named, its output is not quoted", "[aws]") {
  TempDir dir;
  const std::string script =
      dir.write("process.sh",
                "#!/bin/sh\necho '{\"AccessKeyId\": \"AKID\", \"SecretAccessKey\": \"" +
                    kSecretKey + "\"}' >&2\nexit 3\n",
                0700);
  dir.write("config", "[default]\nregion = us-east-1\ncredential_process = " + script + "\n", 0600);
  FakeEnv env{{"HOME", dir.path()}, {"AWS_CONFIG_FILE", dir.file("config")}};
  Harness h;
  auto result = h.fetch();
  REQUIRE_FALSE(result);
  CHECK_THAT(result.error().message, Catch::Contains("credential_process of profile default"));
  CHECK_THAT(result.error().message, Catch::Contains("exit 3"));
  CHECK_THAT(result.error().message, Catch::Contains("run it by hand"));
  no_secret(result.error().message);
}

TEST_CASE("aws: ini parsing, ISO 8601, command lines", "[aws]") {
  const AwsIni ini = parse_aws_ini(
      "# top\n[default]\nregion=us-east-1 # comment\n[profile  dev ]\nregion = eu-west-1\n"
      "s3 =\n  max_concurrent_requests = 20\nbroken line\n[sso-session x]\nsso_region = a\n");
  REQUIRE(ini.config_profile("default"));
  CHECK(ini.config_profile("default")->at("region") == "us-east-1");
  REQUIRE(ini.config_profile("dev"));
  CHECK(ini.config_profile("dev")->at("region") == "eu-west-1");
  CHECK(ini.skipped_lines == 1);
  CHECK(parse_iso8601("2009-02-13T23:31:30Z") == 1234567890);
  CHECK(parse_iso8601("2009-02-13T23:31:30.123Z") == 1234567890);
  CHECK(parse_iso8601("2009-02-14T00:31:30+01:00") == 1234567890);
  CHECK_FALSE(parse_iso8601("2009-02-13"));
  CHECK_FALSE(parse_iso8601("yesterday"));
  CHECK(split_command_line("/bin/tool --a \"b c\" 'd e' f\\ g") ==
        std::vector<std::string>{"/bin/tool", "--a", "b c", "d e", "f g"});
  CHECK_FALSE(split_command_line("\"unbalanced"));
  const AwsError typed = parse_aws_error("{\"code\":\"aws.protocoltests#FooError:http://x\"}", "");
  CHECK(typed.type == "FooError");
}

TEST_CASE("aws: config keys and problems", "[aws]") {
  FakeEnv env{{"HOME", "/home/u"}};
  auto ok = parse_config(
      "[profile.a]\nbackend = \"aws-secretsmanager\"\n[profile.a.aws-secretsmanager]\n"
      "secret_id = \"prod/claude\"\nkey = \"api_key\"\nregion = \"eu-west-1\"\nttl = \"30m\"\n",
      "config.toml", lookup_fake_env);
  REQUIRE(ok);
  CHECK(ok->profiles.at("a").backend->expected_lifetime() == std::chrono::seconds(1800));
  auto bad = parse_config(
      "[profile.a]\nbackend = \"aws-secretsmanager\"\n[profile.a.aws-secretsmanager]\n"
      "version_id = \"x\"\nversion_stage = \"AWSCURRENT\"\nendpoint = \"http://example.com\"\n",
      "config.toml", lookup_fake_env);
  REQUIRE_FALSE(bad);
  std::string all;
  for (const auto& p : bad.error()) all += p.to_string() + "\n";
  CHECK_THAT(all, Catch::Contains("missing 'secret_id'"));
  CHECK_THAT(all, Catch::Contains("not both"));
  CHECK_THAT(all, Catch::Contains("https://"));
}
