// Issue 12, the organization credential helper: what the helper prints for --format json
// (exact bytes), the profile's `headers` setting, and where the system-wide config is found
// and when it is trusted (refresher/config_location.h).
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <string>

#include "helper/output_format.h"
#include "refresher/config.h"
#include "refresher/config_location.h"
#include "test_support.h"

using namespace ckh;
using ckh::test::FakeEnv;
using ckh::test::lookup_fake_env;
using ckh::test::TempDir;

namespace {

CredentialRecord record_with(std::vector<std::pair<std::string, std::string>> headers) {
  CredentialRecord r;
  r.generation = 3;
  r.credential = "sk-test-\"quoted\\back";
  r.headers = std::move(headers);
  return r;
}

std::string all_problems(std::string_view text) {
  auto parsed = parse_config(text, "cfg.toml", lookup_fake_env);
  if (parsed) return {};
  std::string all;
  for (const auto& problem : parsed.error()) all += problem.to_string() + "\n";
  return all;
}

}  // namespace

TEST_CASE("org helper: --format token prints the bare credential and a newline") {
  CHECK(credential_output(record_with({{"X-Org", "acme"}}), OutputFormat::token) ==
        "sk-test-\"quoted\\back\n");
}

TEST_CASE("org helper: --format json prints exactly the token and the headers") {
  CHECK(credential_output(record_with({}), OutputFormat::json) ==
        "{\"token\":\"sk-test-\\\"quoted\\\\back\",\"headers\":{}}\n");
  CHECK(credential_output(record_with({{"X-Org", "acme corp"}, {"X-Team", "a\"b"}}),
                          OutputFormat::json) ==
        "{\"token\":\"sk-test-\\\"quoted\\\\back\",\"headers\":{\"X-Org\":\"acme corp\","
        "\"X-Team\":\"a\\\"b\"}}\n");
}

TEST_CASE("org helper: a profile's headers are read in order and published with it") {
  FakeEnv env({});
  auto config = parse_config(
      "[profile.gw]\nbackend = \"static\"\nheaders = { \"X-Team\" = \"b\", \"X-Org\" = \"a b\" "
      "}\n[profile.gw.static]\nenv = \"K\"\n",
      "cfg.toml", lookup_fake_env);
  REQUIRE(config);
  const auto& headers = config->profiles.at("gw").headers;
  REQUIRE(headers.size() == 2);
  CHECK(headers[0] == std::pair<std::string, std::string>{"X-Org", "a b"});
  CHECK(headers[1] == std::pair<std::string, std::string>{"X-Team", "b"});
}

TEST_CASE("org helper: bad headers are config problems that say what is expected") {
  const std::string base = "[profile.gw]\nbackend = \"static\"\n[profile.gw.static]\nenv = \"K\"\n";
  const auto with = [&](std::string_view line) {
    std::string text = base;
    text.insert(text.find("[profile.gw.static]"), std::string(line) + "\n");
    return all_problems(text);
  };
  CHECK(with("headers = \"X-Org: a\"").find("a table of strings") != std::string::npos);
  CHECK(with("headers = { \"X Org\" = \"a\" }").find("is not an HTTP header name") !=
        std::string::npos);
  CHECK(with("headers = { \"Authorization\" = \"Bearer x\" }")
            .find("carries the credential itself") != std::string::npos);
  CHECK(with("headers = { \"x-api-key\" = \"x\" }").find("carries the credential itself") !=
        std::string::npos);
  CHECK(with("headers = { \"X-Org\" = \"a\", \"x-org\" = \"b\" }").find("listed twice") !=
        std::string::npos);
  CHECK(with("headers = { \"X-Org\" = \"line\\nbreak\" }").find("is not a header value") !=
        std::string::npos);
  CHECK(with("headers = { \"X-Org\" = 3 }").find("a table of strings") != std::string::npos);
  std::string many = "headers = {";
  for (int i = 0; i < 17; ++i)
    many += (i ? ", " : " ") + std::string("X-") + std::to_string(i) + " = \"v\"";
  many += " }";
  CHECK(with(many).find("at most 16") != std::string::npos);
  CHECK(with("headers = {}").empty());
}

TEST_CASE("org helper: system-wide config candidates follow XDG_CONFIG_DIRS, then /etc") {
  {
    FakeEnv env({});
    CHECK(system_config_candidates(lookup_fake_env) ==
          std::vector<std::string>{"/etc/xdg/claude-key-helper/config.toml",
                                   "/etc/claude-key-helper/config.toml"});
  }
  FakeEnv env({{"XDG_CONFIG_DIRS", "/opt/conf/:relative::/etc"}});
  CHECK(system_config_candidates(lookup_fake_env) ==
        std::vector<std::string>{"/opt/conf/claude-key-helper/config.toml",
                                 "/etc/claude-key-helper/config.toml"});
  CHECK(is_system_config("/opt/conf/claude-key-helper/config.toml", lookup_fake_env));
  CHECK_FALSE(is_system_config("/home/u/.config/claude-key-helper/config.toml", lookup_fake_env));
}

TEST_CASE("org helper: the user's own config wins; the system-wide one only without it") {
  TempDir dir;
  const std::string system_dir = dir / "xdg";
  for (const char* sub : {"xdg", "xdg/claude-key-helper", "home", "home/claude-key-helper"}) {
    REQUIRE(::mkdir((dir / sub).c_str(), 0755) == 0);
  }
  dir.write("xdg/claude-key-helper/config.toml", "[profile.a]\n", 0644);
  const std::string home_config = dir / "home/claude-key-helper/config.toml";
  test::ScopedSetenv config_home("XDG_CONFIG_HOME", (dir / "home").c_str());
  test::ScopedSetenv named("CLAUDE_KEY_HELPER_CONFIG", nullptr);
  FakeEnv env({{"XDG_CONFIG_DIRS", system_dir}});
  CHECK(find_config_path("", lookup_fake_env) == system_dir + "/claude-key-helper/config.toml");
  dir.write("home/claude-key-helper/config.toml", "[profile.b]\n", 0600);
  CHECK(find_config_path("", lookup_fake_env) == home_config);
  CHECK(find_config_path("/named.toml", lookup_fake_env) == "/named.toml");
}

TEST_CASE("org helper: a system-wide config below a dir others can write is refused") {
  // TempDir lives below /tmp (sticky, world-writable): fine for a user's file, not for the
  // administrator's config every user's refresher would run.
  TempDir dir;
  REQUIRE(::mkdir((dir / "etc").c_str(), 0755) == 0);
  dir.write("etc/config.toml", "[profile.a]\n", 0644);
  const std::string path = dir / "etc/config.toml";
  const auto checked = check_system_config(path);
  REQUIRE_FALSE(checked);
  CHECK(checked.error().kind == ErrorClass::unsafe);
  CHECK(checked.error().message.find("refusing the system-wide config " + path) == 0);
  CHECK(checked.error().message.find("chmod go-w") != std::string::npos);
  // The machine's own /etc passes the rule (root's, 0755 up to /).
  struct stat etc {};
  if (::stat("/etc", &etc) == 0 && etc.st_uid == 0 && (etc.st_mode & 022) == 0) {
    CHECK(check_system_config("/etc/hostname"));
  }
}
