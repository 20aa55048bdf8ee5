// refresher/child_env: the one rule for the environment of every child the refresher starts
// (command backend, credential_process, the browser opener, the Keychain tool), checked on the
// builder itself, on the Keychain tool's environment (macOS-only code, so only its
// environment can be checked here) and on what a real credential_process child receives.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fake_transport.h"
#include "refresher/aws/aws_credentials.h"
#include "refresher/child_env.h"
#include "refresher/sinks/keychain.h"
#include "test_support.h"

using ckh::child_environment;
using ckh::ChildRole;
using ckh::test::FakeEnv;
using ckh::test::ScopedSetenv;
using ckh::test::TempDir;

namespace {

bool has(const std::vector<std::string>& environment, std::string_view entry) {
  return std::find(environment.begin(), environment.end(), entry) != environment.end();
}

bool has_name(const std::vector<std::string>& environment, std::string_view name) {
  return std::any_of(environment.begin(), environment.end(), [&](const std::string& entry) {
    return entry.starts_with(std::string(name) + "=");
  });
}

bool holds_canary(const std::vector<std::string>& environment) {
  return std::any_of(environment.begin(), environment.end(), [](const std::string& entry) {
    return entry.find("CANARY") != std::string::npos;
  });
}

// Every credential variable any backend reads, planted with a canary value.
struct Canaries {
  ScopedSetenv api_key{"ANTHROPIC_API_KEY", "sk-ant-CANARY-api-key"};
  ScopedSetenv auth_token{"ANTHROPIC_AUTH_TOKEN", "CANARY-auth-token"};
  ScopedSetenv oauth{"CLAUDE_CODE_OAUTH_TOKEN", "sk-ant-oat01-CANARY"};
  ScopedSetenv messaging{"CLAUDE_CODE_MESSAGING_TOKEN", "CANARY-messaging"};
  ScopedSetenv vault{"VAULT_TOKEN", "hvs.CANARY"};
  ScopedSetenv aws_key_id{"AWS_ACCESS_KEY_ID", "AKIACANARY"};
  ScopedSetenv aws_secret{"AWS_SECRET_ACCESS_KEY", "CANARY-aws-secret"};
  ScopedSetenv aws_session{"AWS_SESSION_TOKEN", "CANARY-aws-session"};
  ScopedSetenv aws_security{"AWS_SECURITY_TOKEN", "CANARY-aws-security"};
  ScopedSetenv aws_container{"AWS_CONTAINER_AUTHORIZATION_TOKEN", "CANARY-container"};
  ScopedSetenv visible{"CKH_CHILD_ENV_VISIBLE", "yes"};
};

constexpr std::string_view kAwsNames[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                          "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                                          "AWS_CONTAINER_AUTHORIZATION_TOKEN"};

}  // namespace

TEST_CASE("child_env: an ordinary child gets no credential variable, everything else passes",
          "[child_env]") {
  Canaries canaries;
  ScopedSetenv other_profile("CKH_CHILD_ENV_TEAM_KEY", "CANARY-team-key");
  ScopedSetenv caller_named("CKH_CHILD_ENV_CALLER_KEY", "CANARY-caller-key");
  ScopedSetenv longer_name("CKH_CHILD_ENV_TEAM_KEY_NOT", "fine");  // same prefix: stays
  const std::vector<std::string> registered{"CKH_CHILD_ENV_TEAM_KEY"};
  ckh::register_secret_env_names(registered);
  const std::vector<std::string> also{"CKH_CHILD_ENV_CALLER_KEY"};
  const auto environment = child_environment(ChildRole::ordinary, also);
  INFO(environment.size() << " entries");
  CHECK_FALSE(holds_canary(environment));
  for (const auto name : ckh::kCredentialEnvNames) CHECK_FALSE(has_name(environment, name));
  for (const auto name : kAwsNames) CHECK_FALSE(has_name(environment, name));
  CHECK_FALSE(has_name(environment, "CKH_CHILD_ENV_TEAM_KEY"));
  CHECK_FALSE(has_name(environment, "CKH_CHILD_ENV_CALLER_KEY"));
  CHECK(has(environment, "CKH_CHILD_ENV_VISIBLE=yes"));
  CHECK(has(environment, "CKH_CHILD_ENV_TEAM_KEY_NOT=fine"));
  if (const char* path = std::getenv("PATH")) CHECK(has(environment, std::string("PATH=") + path));
}

TEST_CASE("child_env: the AWS credential source keeps the AWS variables and nothing else secret",
          "[child_env]") {
  Canaries canaries;
  ScopedSetenv other_profile("CKH_CHILD_ENV_AWS_TEAM", "CANARY-team-key");
  const std::vector<std::string> registered{"CKH_CHILD_ENV_AWS_TEAM", "AWS_SECRET_ACCESS_KEY"};
  ckh::register_secret_env_names(registered);  // as an aws-secretsmanager profile declares
  const auto environment = child_environment(ChildRole::aws_credential_source);
  CHECK(has(environment, "AWS_ACCESS_KEY_ID=AKIACANARY"));
  CHECK(has(environment, "AWS_SECRET_ACCESS_KEY=CANARY-aws-secret"));
  CHECK(has(environment, "AWS_SESSION_TOKEN=CANARY-aws-session"));
  CHECK(has(environment, "AWS_SECURITY_TOKEN=CANARY-aws-security"));
  CHECK(has(environment, "AWS_CONTAINER_AUTHORIZATION_TOKEN=CANARY-container"));
  for (const auto name : ckh::kCredentialEnvNames) CHECK_FALSE(has_name(environment, name));
  CHECK_FALSE(has_name(environment, "CKH_CHILD_ENV_AWS_TEAM"));
  CHECK(has(environment, "CKH_CHILD_ENV_VISIBLE=yes"));
}

TEST_CASE("child_env: the Keychain tool (security) gets no credential variable", "[child_env]") {
  Canaries canaries;
  ScopedSetenv other_profile("CKH_CHILD_ENV_KC_TEAM", "CANARY-team-key");
  const std::vector<std::string> registered{"CKH_CHILD_ENV_KC_TEAM"};
  ckh::register_secret_env_names(registered);
  const auto environment = ckh::keychain_child_environment();
  CHECK_FALSE(holds_canary(environment));
  CHECK(has(environment, "CKH_CHILD_ENV_VISIBLE=yes"));
}

TEST_CASE("child_env: a real credential_process child holds only the AWS variables",
          "[child_env][aws]") {
  Canaries canaries;
  TempDir dir;
  const std::string dump = dir.file("environ");
  // Copies its own environment (as the kernel holds it) before answering.
  const std::string script =
      dir.write("process.sh",
                "#!/bin/sh\ntr '\\0' '\\n' </proc/$$/environ >'" + dump +
                    "'\necho '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", "
                    "\"SecretAccessKey\": \"s\"}'\n",
                0700);
  dir.write("config", "[default]\nregion = us-east-1\ncredential_process = " + script + "\n", 0600);
  // The chain reads its own variables through the lookup (no keys there, so the profile's
  // credential_process runs); the child's environment comes from the real one.
  FakeEnv env{{"HOME", dir.path()}, {"AWS_CONFIG_FILE", dir.file("config")}};
  ckh::test::FakeTransport transport;
  ckh::AwsChainInput input{ckh::test::lookup_fake_env, transport, "", std::chrono::seconds(10)};
  auto resolved = ckh::resolve_aws_credentials(input);
  REQUIRE(resolved.has_value());
  CHECK(resolved->value.credentials.access_key_id == "AKIDPROC");
  std::ifstream in(dump);
  REQUIRE(in.good());
  std::vector<std::string> environment;
  for (std::string line; std::getline(in, line);) environment.push_back(line);
  CHECK(has(environment, "CKH_CHILD_ENV_VISIBLE=yes"));
  CHECK(has(environment, "AWS_SESSION_TOKEN=CANARY-aws-session"));
  for (const auto name : ckh::kCredentialEnvNames) CHECK_FALSE(has_name(environment, name));
}
