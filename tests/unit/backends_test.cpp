// refresher/backends: the static and command backends, fetched for real (files, processes).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "refresher/backends/command_backend.h"
#include "refresher/backends/static_backend.h"
#include "refresher/config.h"
#include "test_support.h"

namespace {

using namespace std::chrono_literals;
using ckh::CommandBackend;
using ckh::CommandSettings;
using ckh::ErrorClass;
using ckh::FakeClock;
using ckh::StaticBackend;
using ckh::test::fake_env;
using ckh::test::lookup_fake_env;
using ckh::test::ScopedSetenv;
using ckh::test::TempDir;

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

ckh::Result<ckh::FetchResult> fetch(ckh::Backend& backend, std::int64_t now = 1'700'000'000) {
  FakeClock clock(now);
  return backend.fetch(ckh::FetchContext{clock, ""});
}
ckh::Result<ckh::FetchResult> fetch(ckh::Backend&& backend) {
  return fetch(backend);
}

CommandBackend command(std::vector<std::string> argv, std::chrono::milliseconds timeout = 10s) {
  CommandSettings settings;
  settings.argv = std::move(argv);
  settings.timeout = timeout;
  settings.kill_grace = 500ms;
  return CommandBackend(std::move(settings), nullptr);
}

CommandBackend shell(const std::string& script, std::chrono::milliseconds timeout = 10s) {
  return command({"/bin/sh", "-c", script}, timeout);
}

}  // namespace

// --- static

TEST_CASE("static: env set", "[backends][static]") {
  fake_env() = {{"MY_KEY", "sk-ant-abc123"}};
  auto backend = StaticBackend::from_env("MY_KEY", lookup_fake_env);
  auto result = fetch(*backend);
  REQUIRE(result.has_value());
  CHECK(result->credential == "sk-ant-abc123");
  CHECK(result->source == "env MY_KEY");
  CHECK_FALSE(result->expires_at.has_value());
  CHECK_FALSE(result->new_secret_state.has_value());
  CHECK(backend->secret_env_names() == std::vector<std::string>{"MY_KEY"});
  CHECK_FALSE(backend->expected_lifetime().has_value());
  CHECK(std::string(backend->name()) == "static");
  fake_env().clear();
}

TEST_CASE("static: env read at fetch time, not at construction", "[backends][static]") {
  fake_env().clear();
  auto backend = StaticBackend::from_env("MY_KEY", lookup_fake_env);
  fake_env() = {{"MY_KEY", "later-value"}};
  auto result = fetch(*backend);
  REQUIRE(result.has_value());
  CHECK(result->credential == "later-value");
  fake_env().clear();
}

TEST_CASE("static: env unset is permanent and says where to set it", "[backends][static]") {
  fake_env().clear();
  auto backend = StaticBackend::from_env("ANTHROPIC_API_KEY", lookup_fake_env);
  auto result = fetch(*backend);
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().kind == ErrorClass::permanent);
  CHECK(result.error().message.starts_with(
      "environment variable ANTHROPIC_API_KEY is not set in the refresher's environment; "));
}

TEST_CASE("static: env empty is permanent", "[backends][static]") {
  fake_env() = {{"MY_KEY", ""}};
  auto result = fetch(*StaticBackend::from_env("MY_KEY", lookup_fake_env));
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().kind == ErrorClass::permanent);
  CHECK(contains(result.error().message, "MY_KEY is empty"));
  fake_env().clear();
}

TEST_CASE("static: an invalid value is permanent and never quoted", "[backends][static]") {
  for (const std::string value : {"sk-ant with-space", "sk-ant\x01zz", "sk-\xc3\xa9t\xc3\xa9"}) {
    fake_env() = {{"MY_KEY", value}};
    auto result = fetch(*StaticBackend::from_env("MY_KEY", lookup_fake_env));
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().kind == ErrorClass::permanent);
    CHECK(contains(result.error().message, "MY_KEY"));
    CHECK_FALSE(contains(result.error().message, "sk-"));
  }
  fake_env().clear();
}

TEST_CASE("static: a 0600 file is read and its trailing newline trimmed", "[backends][static]") {
  TempDir dir;
  const auto path = dir.write("key", "sk-ant-from-file\n", 0600);
  auto backend = StaticBackend::from_file(path);
  auto result = fetch(*backend);
  REQUIRE(result.has_value());
  CHECK(result->credential == "sk-ant-from-file");
  CHECK(result->source == "file " + path);
  CHECK_FALSE(result->expires_at.has_value());
  CHECK(backend->secret_env_names().empty());
}

TEST_CASE("static: a file readable by others is refused", "[backends][static]") {
  TempDir dir;
  const auto path = dir.write("key", "sk-ant-secret-value\n", 0644);
  auto result = fetch(*StaticBackend::from_file(path));
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().kind == ErrorClass::permanent);
  CHECK(contains(result.error().message, path));
  CHECK_FALSE(contains(result.error().message, "sk-ant-secret-value"));
}

TEST_CASE("static: a symlink to a 0600 file is refused", "[backends][static]") {
  TempDir dir;
  const auto target = dir.write("key", "sk-ant-secret-value\n", 0600);
  const auto link = dir.file("link");
  REQUIRE(::symlink(target.c_str(), link.c_str()) == 0);
  auto result = fetch(*StaticBackend::from_file(link));
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().kind == ErrorClass::permanent);
  CHECK(contains(result.error().message, "symbolic link"));
}

TEST_CASE("static: a missing, empty or invalid file is permanent", "[backends][static]") {
  TempDir dir;
  SECTION("missing") {
    auto result = fetch(*StaticBackend::from_file(dir.file("nope")));
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().kind == ErrorClass::permanent);
    CHECK(contains(result.error().message, "does not exist"));
  }
  SECTION("empty") {
    auto result = fetch(*StaticBackend::from_file(dir.write("key", "\n\n", 0600)));
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().kind == ErrorClass::permanent);
    CHECK(contains(result.error().message, "is empty"));
  }
  SECTION("two lines") {
    auto result = fetch(*StaticBackend::from_file(dir.write("key", "sk-one\nsk-two\n", 0600)));
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().kind == ErrorClass::permanent);
    CHECK_FALSE(contains(result.error().message, "sk-one"));
  }
}

// --- command

TEST_CASE("command: stdout, trimmed, is the credential", "[backends][command]") {
  auto backend = shell("printf '  \\n tok-123.abc \\n\\n'");
  auto result = fetch(backend);
  REQUIRE(result.has_value());
  CHECK(result->credential == "tok-123.abc");
  CHECK(result->source == "command /bin/sh");
  CHECK_FALSE(result->expires_at.has_value());
  CHECK_FALSE(backend.expected_lifetime().has_value());
  CHECK(backend.secret_env_names().empty());
}

TEST_CASE("command: a bare name is looked up in PATH", "[backends][command]") {
  auto backend = command({"echo", "tok-from-path"});
  auto result = fetch(backend);
  REQUIRE(result.has_value());
  CHECK(result->credential == "tok-from-path");
  CHECK(result->source == "command echo");
}

TEST_CASE("command: ttl sets the expiry from the clock", "[backends][command]") {
  CommandSettings settings;
  settings.argv = {"/bin/echo", "tok"};
  settings.ttl = 3600s;
  CommandBackend backend(settings, nullptr);
  CHECK(backend.expected_lifetime() == std::optional<std::chrono::seconds>(3600s));
  auto result = fetch(backend, 1000);
  REQUIRE(result.has_value());
  CHECK(result->expires_at == std::optional<std::int64_t>(4600));
}

TEST_CASE("command: a non-zero exit is transient and never leaks the output",
          "[backends][command]") {
  const std::string canary = "sk-CANARY-0123456789abcdef";
  auto backend = shell("echo " + canary + "; echo \"oops: token " + canary + " rejected, partial " +
                       canary.substr(0, 14) + "\" >&2; exit 3");
  auto result = fetch(backend);
  REQUIRE_FALSE(result.has_value());
  INFO(result.error().message);
  CHECK(result.error().kind == ErrorClass::transient);
  CHECK(contains(result.error().message, "exited with status 3"));
  CHECK(contains(result.error().message, "stderr: oops: token [redacted] rejected"));
  CHECK_FALSE(contains(result.error().message, "CANARY"));
  CHECK_FALSE(contains(result.error().message, "\n"));
}

TEST_CASE("command: a credential wrapped across stderr lines or cut by the excerpt never shows",
          "[backends][command]") {
  const std::string canary = "sk-CANARY-Zq8vN3kLp0aR7tYw2XcB";
  SECTION("wrapped") {
    // stderr holds the credential in three lines: no piece of it is 12 bytes long.
    auto backend = shell("echo " + canary + "; printf 'bad token %s\\n%s\\n%s end\\n' " +
                         canary.substr(0, 10) + " " + canary.substr(10, 10) + " " +
                         canary.substr(20) + " >&2; exit 1");
    auto result = fetch(backend);
    REQUIRE_FALSE(result.has_value());
    INFO(result.error().message);
    CHECK(contains(result.error().message, "stderr: bad token [redacted] end"));
    for (std::size_t i = 0; i + 4 <= canary.size(); ++i) {
      CHECK_FALSE(contains(result.error().message, canary.substr(i, 4)));
    }
  }
  SECTION("cut at the excerpt's end") {
    // The excerpt is 200 bytes: the credential starts 193 bytes in, so the cut falls in it.
    auto backend =
        shell("echo " + canary + "; printf '%0193d" + canary + " tail\\n' 0 >&2; exit 1");
    auto result = fetch(backend);
    REQUIRE_FALSE(result.has_value());
    INFO(result.error().message);
    for (std::size_t i = 0; i + 4 <= canary.size(); ++i) {
      CHECK_FALSE(contains(result.error().message, canary.substr(i, 4)));
    }
  }
}

TEST_CASE("command: a multi-word stdout is redacted word by word from stderr",
          "[backends][command]") {
  auto backend = shell(
      "echo 'Bearer sk-CANARY-abcdefgh'; echo 'saw sk-CANARY-abcdefgh' >&2; "
      "exit 1");
  auto result = fetch(backend);
  REQUIRE_FALSE(result.has_value());
  CHECK_FALSE(contains(result.error().message, "CANARY"));
  CHECK(contains(result.error().message, "saw [redacted]"));
}

TEST_CASE("command: death by a signal is transient", "[backends][command]") {
  auto result = fetch(shell("echo dying >&2; kill -9 $$"));
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().kind == ErrorClass::transient);
  CHECK(contains(result.error().message, "killed by signal 9"));
  CHECK(contains(result.error().message, "stderr: dying"));
}

TEST_CASE("command: a timeout is transient and bounded", "[backends][command]") {
  auto backend = command({"sleep", "30"}, 1s);
  const auto start = std::chrono::steady_clock::now();
  auto result = fetch(backend);
  const auto took = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().kind == ErrorClass::transient);
  CHECK(contains(result.error().message, "did not finish within 1s"));
  CHECK(took >= 1s);
  CHECK(took < 4s);
}

TEST_CASE("command: output over max_output is a permanent error", "[backends][command]") {
  CommandSettings settings;
  settings.argv = {"yes", "sk-secret-repeated"};
  settings.max_output = 1000;
  settings.kill_grace = 500ms;
  CommandBackend backend(settings, nullptr);
  const auto start = std::chrono::steady_clock::now();
  auto result = fetch(backend);
  REQUIRE_FALSE(result.has_value());
  CHECK(std::chrono::steady_clock::now() - start < 3s);
  CHECK(result.error().kind == ErrorClass::permanent);
  CHECK(contains(result.error().message, "more than 1000 bytes"));
  CHECK_FALSE(contains(result.error().message, "sk-secret"));
}

TEST_CASE("command: output that is not one token is permanent and not quoted",
          "[backends][command]") {
  SECTION("two words") {
    auto result = fetch(shell("echo 'sk-first sk-second'"));
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().kind == ErrorClass::permanent);
    CHECK(contains(result.error().message,
                   "printed something that is not a single printable token (18 bytes)"));
    CHECK_FALSE(contains(result.error().message, "sk-"));
  }
  SECTION("nothing") {
    auto result = fetch(command({"/bin/true"}));
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().kind == ErrorClass::permanent);
    CHECK(contains(result.error().message, "printed nothing"));
  }
}

TEST_CASE("command: a command that cannot run is permanent", "[backends][command]") {
  SECTION("absolute path that does not exist") {
    auto result = fetch(command({"/nonexistent/ckh-get-key"}));
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().kind == ErrorClass::permanent);
    CHECK(contains(result.error().message, "/nonexistent/ckh-get-key"));
  }
  SECTION("name not in PATH") {
    auto result = fetch(command({"ckh-no-such-command-anywhere"}));
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().kind == ErrorClass::permanent);
    CHECK(contains(result.error().message, "ckh-no-such-command-anywhere was not found in PATH"));
  }
  SECTION("not executable") {
    TempDir dir;
    const auto path = dir.write("script", "#!/bin/sh\necho tok\n", 0644);
    auto result = fetch(command({path}));
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().kind == ErrorClass::permanent);
    CHECK(contains(result.error().message, "Permission denied"));
  }
}

TEST_CASE("command: the child's environment lacks every secret variable", "[backends][command]") {
  ScopedSetenv well_known("ANTHROPIC_API_KEY", "sk-ant-parent-secret");
  ScopedSetenv auth_token("ANTHROPIC_AUTH_TOKEN", "parent-auth-token");
  ScopedSetenv oauth_token("CLAUDE_CODE_OAUTH_TOKEN", "sk-ant-oat01-parent");
  ScopedSetenv vault_token("VAULT_TOKEN", "hvs.parent");
  ScopedSetenv aws_secret("AWS_SECRET_ACCESS_KEY", "parent-aws-secret");
  ScopedSetenv aws_session("AWS_SESSION_TOKEN", "parent-aws-session");
  ScopedSetenv other_profile("CKH_TEST_TEAM_KEY", "team-secret");
  ScopedSetenv visible("CKH_TEST_VISIBLE", "yes");
  // The static profile's variable must be scrubbed from the command profile's child.
  auto config = ckh::parse_config(R"(
[profile.team]
backend = "static"
static = { env = "CKH_TEST_TEAM_KEY" }
[profile.gateway]
backend = "command"
command = { argv = ["/bin/sh", "-c", "env | cut -d= -f1 | tr '\n' ','"] }
)",
                                  "cfg.toml", ckh::process_env);
  REQUIRE(config.has_value());
  auto result = fetch(*config->profiles.at("gateway").backend);
  REQUIRE(result.has_value());
  const std::string names = "," + result->credential;  // the child's variable names
  INFO(names);
  CHECK(contains(names, ",CKH_TEST_VISIBLE,"));
  CHECK_FALSE(contains(names, ",ANTHROPIC_API_KEY,"));
  CHECK_FALSE(contains(names, ",ANTHROPIC_AUTH_TOKEN,"));
  CHECK_FALSE(contains(names, ",CKH_TEST_TEAM_KEY,"));
  for (const char* name : {",CLAUDE_CODE_OAUTH_TOKEN,", ",VAULT_TOKEN,", ",AWS_SECRET_ACCESS_KEY,",
                           ",AWS_SESSION_TOKEN,"}) {
    CHECK_FALSE(contains(names, name));
  }
}
